//! The statutory holidays of a year as 《全国年节及纪念日放假办法》 (as amended in 2024, in
//! force from 2025) fixes them, without the State Council's yearly notice: 元旦 1 day, 春节
//! 4 days from 除夕, 清明 on its solar term, 劳动节 2 days, 端午 and 中秋 1 day each, 国庆
//! 3 days, and by article 6 a holiday that falls on a Saturday or Sunday made up on the
//! working days right after it. The notice adds 调休 (working weekends that join holidays
//! into a week), which only it can say: a year graded on these dates is provisional (暂定)
//! until its file is added. Pure: a year in, festivals out.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::almanac::{LunarYear, qingming};

/// One festival of the provisional arrangement: its statutory days and the make-up days
/// after them, which together are one run of rest days from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Festival {
    pub name: &'static str,
    /// The days the law names (the lunar and solar-term ones computed).
    pub statutory: Vec<NaiveDate>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a statutory date exists")
}

fn days(from: NaiveDate, n: i64) -> Vec<NaiveDate> {
    (0..n).map(|i| from + Duration::days(i)).collect()
}

fn is_weekend(day: NaiveDate) -> bool {
    matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The festivals of `year` in date order, with their make-up days.
pub fn festivals(year: i32) -> Vec<Festival> {
    let lunar = LunarYear::of(year);
    // 除夕 of the lunar year that ends in `year` (the one before 春节 `year`).
    let spring_eve = lunar.new_year() - Duration::days(1);
    let named: [(&'static str, Vec<NaiveDate>); 7] = [
        ("元旦", vec![date(year, 1, 1)]),
        ("春节", days(spring_eve, 4)),
        ("清明节", vec![qingming(year)]),
        ("劳动节", days(date(year, 5, 1), 2)),
        ("端午节", vec![lunar.day(5, 5)]),
        ("中秋节", vec![lunar.day(8, 15)]),
        ("国庆节", days(date(year, 10, 1), 3)),
    ];
    let mut rest: Vec<NaiveDate> = named.iter().flat_map(|(_, d)| d.clone()).collect();
    let mut taken: Vec<NaiveDate> = Vec::new();
    let mut out = Vec::new();
    for (name, statutory) in named {
        // A day is lost to a festival on a weekend, or on a day an earlier festival already
        // holds (中秋 on 3 October 2028, on 1 October 2031): each statutory day is owed a
        // working day of rest, as the notices of 2001, 2009 and 2020 gave when they met.
        let lost = statutory
            .iter()
            .filter(|d| is_weekend(**d) || taken.contains(d))
            .count();
        taken.extend(&statutory);
        let mut to = *statutory.last().expect("every festival has a day");
        let mut made_up = 0;
        while made_up < lost {
            to = to.succ_opt().expect("a date after a holiday");
            if !is_weekend(to) && !rest.contains(&to) {
                rest.push(to);
                made_up += 1;
            }
        }
        out.push(Festival {
            name,
            from: statutory[0],
            to,
            statutory,
        });
    }
    out.sort_by_key(|f| f.from);
    out
}

/// `year`'s provisional arrangement in the holidays file format, for the operator to
/// correct from the notice (`duban calendar --draft`). It loads as provisional until its
/// `provisional = true` line is removed.
pub fn draft(year: i32) -> String {
    let mut out = format!(
        "# {year} public holidays: a DRAFT computed by duban from 《全国年节及纪念日放假办法》\n\
         # (2024 amendment): statutory days, the lunar and solar-term ones computed, and by\n\
         # article 6 a holiday on a Saturday or Sunday made up on the working days after it.\n\
         # It has NO 调休 (working weekends): only the State Council's notice says them.\n\
         # When the notice for {year} is out: correct `from`, `to` and `workdays` from it, set\n\
         # `source` to the notice's number, and delete the `provisional` line. Until then\n\
         # every deadline counted on this file is shown as provisional (暂定).\n\
         \n\
         year = {year}\n\
         source = \"duban calendar --draft {year}（按放假办法推算，未经国务院办公厅通知确认）\"\n\
         provisional = true\n"
    );
    for festival in festivals(year) {
        let statutory: Vec<String> = festival
            .statutory
            .iter()
            .map(|d| format!("{} {}", d.format("%m-%d"), weekday_zh(*d)))
            .collect();
        out.push_str(&format!(
            "\n# statutory: {}\n[[holidays]]\nname = \"{}\"\nfrom = {}\nto = {}\nworkdays = []\n",
            statutory.join(", "),
            festival.name,
            festival.from,
            festival.to
        ));
    }
    out
}

fn weekday_zh(day: NaiveDate) -> &'static str {
    ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
        [day.weekday().num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::tests::{d, shipped};

    fn official_rest(day: NaiveDate) -> bool {
        !chinese_holiday::chinese_holiday(chinese_holiday::Ymd::new(
            day.year() as u16,
            day.month() as u8,
            day.day() as u8,
        ))
        .is_workday()
    }

    fn festival<'a>(all: &'a [Festival], name: &str) -> &'a Festival {
        all.iter().find(|f| f.name == name).unwrap()
    }

    /// The computed festival days against every official arrangement the test data know:
    /// the `chinese_holiday` crate from 2004 and the shipped 2025 and 2026 files. 清明, 端午
    /// and 中秋 became public holidays in 2008; before 2025 除夕 was not always one, so the
    /// 春节 checked there is its first day (the eve as well from 2025).
    #[test]
    fn computed_festivals_fall_on_official_rest_days() {
        let calendar = shipped();
        for year in 2004..=2026 {
            let all = festivals(year);
            let rest = |day: NaiveDate| {
                if year >= 2025 {
                    !calendar.is_working_day(day).unwrap()
                } else {
                    official_rest(day)
                }
            };
            let spring = &festival(&all, "春节").statutory;
            let checked_spring = if year >= 2025 {
                &spring[..]
            } else {
                &spring[1..]
            };
            for day in checked_spring {
                assert!(rest(*day), "春节 {day} in {year}");
            }
            assert!(
                festival(&all, "国庆节").statutory.iter().all(|d| rest(*d)),
                "国庆 {year}"
            );
            if year >= 2008 {
                for name in ["清明节", "端午节", "中秋节"] {
                    let day = festival(&all, name).statutory[0];
                    assert!(rest(day), "{name} {day} in {year}");
                }
            }
        }
    }

    #[test]
    fn make_up_days_follow_a_holiday_on_a_weekend() {
        // 2027: 国庆 on Friday 1 to Sunday 3 October, made up on Monday 4 and Tuesday 5;
        // 元旦 on a Friday needs none; 劳动节 on Saturday and Sunday, made up on 3 and 4 May.
        let all = festivals(2027);
        let national = festival(&all, "国庆节");
        assert_eq!(
            (national.from, national.to),
            (d("2027-10-01"), d("2027-10-05"))
        );
        let new_year = festival(&all, "元旦");
        assert_eq!(
            (new_year.from, new_year.to),
            (d("2027-01-01"), d("2027-01-01"))
        );
        let labour = festival(&all, "劳动节");
        assert_eq!((labour.from, labour.to), (d("2027-05-01"), d("2027-05-04")));
        // 春节 2027: 除夕 Friday 5 February to Monday 8, two weekend days made up on 9 and 10.
        let spring = festival(&all, "春节");
        assert_eq!((spring.from, spring.to), (d("2027-02-05"), d("2027-02-10")));
        // 中秋 on a day of 国庆: 2028 (Tuesday 3 October; 1 October a Sunday) rests 1–5
        // October, 2031 (Wednesday 1 October) 1–6 October, the weekend between included.
        for (year, to) in [(2028, "2028-10-05"), (2031, "2031-10-06")] {
            let all = festivals(year);
            let national = festival(&all, "国庆节");
            assert_eq!(national.to, d(to), "{year}");
        }
    }

    #[test]
    fn the_draft_loads_as_a_provisional_year_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/holidays/2026.toml"),
            dir.path().join("2026.toml"),
        )
        .unwrap();
        std::fs::write(dir.path().join("2027.toml"), draft(2027)).unwrap();
        let calendar = crate::calendar::Calendar::load_dir(dir.path(), 0).unwrap();
        assert!(calendar.is_provisional(d("2027-03-01")));
        assert!(!calendar.is_provisional(d("2026-12-19")));
        // The 2027 notice may still arrange the last days of 2026.
        assert!(calendar.is_provisional(d("2026-12-20")));
        assert!(!calendar.is_working_day(d("2027-10-05")).unwrap());
        assert!(calendar.is_working_day(d("2027-10-06")).unwrap());
    }
}
