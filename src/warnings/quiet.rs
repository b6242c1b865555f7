//! Quiet hours: when a message on a channel may go. SMS and robot messages go only inside
//! the send window (default 08:00–20:00) of a working day; outside it a message is held
//! until the window next opens (the next working day's 08:00, across weekends and
//! holidays), never dropped. Email may go at any time unless the config says otherwise.

use chrono::{DateTime, Datelike, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar::{Calendar, CalendarError};

/// The daily window in local time, `opens` ≤ t < `closes`, on working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow {
    pub opens: NaiveTime,
    pub closes: NaiveTime,
}

impl Default for SendWindow {
    fn default() -> Self {
        Self {
            opens: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            closes: NaiveTime::from_hms_opt(20, 0, 0).unwrap_or_default(),
        }
    }
}

impl SendWindow {
    /// The first instant at or after `now` inside the window: `now` itself when it is.
    pub fn next_open(
        &self,
        now: DateTime<Utc>,
        tz: Tz,
        calendar: &Calendar,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let local = now.with_timezone(&tz);
        let mut day = local.date_naive();
        if calendar.is_working_day(day)? {
            let time = local.time();
            if time >= self.opens && time < self.closes {
                return Ok(now);
            }
            if time < self.opens {
                return Ok(at_local(day, self.opens, tz));
            }
        }
        // The window of a later working day (a year ahead at most: the calendar has one).
        for _ in 0..370 {
            day = day + Days::new(1);
            if calendar.is_working_day(day)? {
                return Ok(at_local(day, self.opens, tz));
            }
        }
        Err(calendar.year_not_loaded(day.year_ce().1 as i32))
    }
}

/// `day` at `time` in `tz`, as UTC (the earlier instant should the local time be ambiguous;
/// China has no daylight saving, so it never is there).
pub fn at_local(day: chrono::NaiveDate, time: NaiveTime, tz: Tz) -> DateTime<Utc> {
    let naive = day.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => Utc.from_utc_datetime(&naive),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Calendar;
    use chrono::NaiveDate;

    fn calendar() -> Calendar {
        Calendar::load_dir(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays"),
            2,
        )
        .expect("the shipped holiday files")
    }

    fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        at_local(
            NaiveDate::from_ymd_opt(y, m, d).expect("date"),
            NaiveTime::from_hms_opt(h, min, 0).expect("time"),
            chrono_tz::Asia::Shanghai,
        )
    }

    #[test]
    fn held_until_the_window_opens_on_the_next_working_day() {
        let (window, tz, calendar) = (SendWindow::default(), chrono_tz::Asia::Shanghai, calendar());
        // Inside the window on a working day (Tuesday 2026-12-01): now.
        let now = shanghai(2026, 12, 1, 10, 0);
        assert_eq!(window.next_open(now, tz, &calendar).expect("open"), now);
        // 23:00 on a Tuesday: 08:00 on Wednesday.
        assert_eq!(
            window
                .next_open(shanghai(2026, 12, 1, 23, 0), tz, &calendar)
                .expect("open"),
            shanghai(2026, 12, 2, 8, 0)
        );
        // 06:00 on a working day: 08:00 the same day.
        assert_eq!(
            window
                .next_open(shanghai(2026, 12, 2, 6, 0), tz, &calendar)
                .expect("open"),
            shanghai(2026, 12, 2, 8, 0)
        );
        // 20:00 exactly is outside: the window closes at 20:00.
        assert_eq!(
            window
                .next_open(shanghai(2026, 12, 4, 20, 0), tz, &calendar)
                .expect("open"),
            shanghai(2026, 12, 7, 8, 0)
        );
        // The evening before the 2026 National Day holiday (1–7 October) waits past all of
        // it, to Thursday 8 October.
        assert_eq!(
            window
                .next_open(shanghai(2026, 9, 30, 21, 0), tz, &calendar)
                .expect("open"),
            shanghai(2026, 10, 8, 8, 0)
        );
        // The 调休 Saturday 10 October is a working day: its window opens.
        let saturday = shanghai(2026, 10, 10, 9, 0);
        assert_eq!(
            window.next_open(saturday, tz, &calendar).expect("open"),
            saturday
        );
    }
}
