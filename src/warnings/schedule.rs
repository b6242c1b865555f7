//! Rule schedules: a cron expression (six fields, with seconds; day names, as in the
//! `cron` crate where 1 = Sunday) read in local time and filtered through the working-day
//! calendar, so "09:00 on working days" skips the 调休 rest days and works the 调休
//! Saturdays. A daemon that was down at 09:00 runs the missed instant once when it is
//! back the same day; older missed instants are not run (a week's outage does not send
//! five digests at once).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::calendar::Calendar;

#[derive(Debug, Clone)]
pub struct WorkingSchedule {
    pub cron: cron::Schedule,
    /// Only instants on working days (the default for every rule).
    pub working_days_only: bool,
    /// Only instants on the first working day of their month (the monthly report's).
    pub first_of_month: bool,
}

impl WorkingSchedule {
    pub fn parse(expression: &str, working_days_only: bool) -> Result<Self, String> {
        cron::Schedule::from_str(expression)
            .map(|cron| Self {
                cron,
                working_days_only,
                first_of_month: false,
            })
            .map_err(|e| {
                format!(
                    "{expression:?} is not a cron expression with seconds \
                     (\"0 0 9 * * *\" is 09:00 every day): {e}"
                )
            })
    }

    /// The same schedule, on the first working day of each month only.
    pub fn first_working_day_of_month(self) -> Self {
        Self {
            working_days_only: true,
            first_of_month: true,
            ..self
        }
    }

    fn admits(&self, at: DateTime<Tz>, calendar: &Calendar) -> bool {
        let day = at.date_naive();
        let working = |d: chrono::NaiveDate| calendar.is_working_day(d).unwrap_or(false);
        if self.first_of_month {
            use chrono::Datelike;
            return working(day)
                && (1..day.day()).all(|d| !working(day.with_day(d).unwrap_or(day)));
        }
        !self.working_days_only || working(day)
    }

    /// The instant to run now: the latest scheduled instant in (`after`, `now`] on the
    /// same local day as `now`, if any.
    pub fn due(
        &self,
        after: DateTime<Utc>,
        now: DateTime<Utc>,
        tz: Tz,
        calendar: &Calendar,
    ) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&tz).date_naive();
        let start = after.max(now - chrono::Duration::days(1));
        self.cron
            .after(&start.with_timezone(&tz))
            .take_while(|t| t.with_timezone(&Utc) <= now)
            // An expression firing every second would make the day 86,400 instants long.
            .take(100_000)
            .filter(|t| t.date_naive() == today && self.admits(*t, calendar))
            .last()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next scheduled instant after `after` (on a working day when so configured).
    pub fn next_after(
        &self,
        after: DateTime<Utc>,
        tz: Tz,
        calendar: &Calendar,
    ) -> Option<DateTime<Utc>> {
        self.cron
            .after(&after.with_timezone(&tz))
            .take(10_000)
            .find(|t| self.admits(*t, calendar))
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warnings::quiet::at_local;
    use chrono::{NaiveDate, NaiveTime};

    fn calendar() -> Calendar {
        Calendar::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays"),
            2,
        )
        .expect("the shipped holiday files")
    }

    fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        at_local(
            NaiveDate::from_ymd_opt(y, m, d).expect("date"),
            NaiveTime::from_hms_opt(h, 0, 0).expect("time"),
            chrono_tz::Asia::Shanghai,
        )
    }

    #[test]
    fn nine_on_working_days_skips_rest_days_and_works_the_make_up_saturday() {
        let (tz, calendar) = (chrono_tz::Asia::Shanghai, calendar());
        let nine = WorkingSchedule::parse("0 0 9 * * *", true).expect("cron");
        // From the Friday before the 2026 Spring Festival holiday (15–23 February, with the
        // 调休 Saturday 14 February worked): Saturday the 14th, then Tuesday the 24th.
        let after_friday = nine
            .next_after(local(2026, 2, 13, 10), tz, &calendar)
            .expect("next");
        assert_eq!(after_friday, local(2026, 2, 14, 9));
        assert_eq!(
            nine.next_after(after_friday, tz, &calendar).expect("next"),
            local(2026, 2, 24, 9)
        );
        // Due: at 09:30 on a working day, today's 09:00; a rest day has none.
        assert_eq!(
            nine.due(
                local(2026, 2, 13, 0),
                local(2026, 2, 24, 9) + chrono::Duration::minutes(30),
                tz,
                &calendar
            ),
            Some(local(2026, 2, 24, 9))
        );
        assert_eq!(
            nine.due(local(2026, 2, 16, 0), local(2026, 2, 16, 12), tz, &calendar),
            None
        );
        // Already run today: nothing more is due.
        assert_eq!(
            nine.due(local(2026, 2, 24, 9), local(2026, 2, 24, 15), tz, &calendar),
            None
        );
    }

    #[test]
    fn a_bad_expression_says_what_is_expected() {
        let error = WorkingSchedule::parse("9:00", true).expect_err("not cron");
        assert!(error.contains("with seconds"), "{error}");
    }
}
