//! The periods a ranking covers: a month (the default, 月度通报), two months (双月考核), a
//! quarter (季度考核) or a year, each named by a key that the page, the CLI and the stored
//! reports share: `2026-10`, `2026B5` (the fifth pair of months: September and October),
//! `2026Q3`, `2026`. Pure dates; the working days inside come from the calendar.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    #[default]
    Month,
    Bimonth,
    Quarter,
    Year,
}

impl Span {
    /// Months in one period.
    fn months(self) -> u32 {
        match self {
            Span::Month => 1,
            Span::Bimonth => 2,
            Span::Quarter => 3,
            Span::Year => 12,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Span::Month => "month",
            Span::Bimonth => "bimonth",
            Span::Quarter => "quarter",
            Span::Year => "year",
        }
    }

    /// Whether a period of this span is graded 优秀 / 良好 / 合格 / 不合格 (the assessments).
    pub fn is_assessment(self) -> bool {
        matches!(self, Span::Quarter | Span::Year)
    }
}

/// One period: its span, its year and its number within the year (month 1–12, pair 1–6,
/// quarter 1–4, 1 for the year).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub span: Span,
    pub year: i32,
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a period: write a month 2026-10, two months 2026B5 (September–October), \
     a quarter 2026Q3 or a year 2026"
)]
pub struct PeriodError(pub String);

impl Period {
    pub fn new(span: Span, year: i32, index: u32) -> Option<Self> {
        let count = 12 / span.months();
        ((1..=count).contains(&index) && (1900..=9999).contains(&year)).then_some(Self {
            span,
            year,
            index,
        })
    }

    /// Reads a key: `2026-10`, `2026B5`, `2026Q3`, `2026`.
    pub fn parse(key: &str) -> Result<Self, PeriodError> {
        let key = key.trim();
        let bad = || PeriodError(key.to_owned());
        let number = |text: &str| text.parse::<u32>().map_err(|_| bad());
        let (year, span, index) = if let Some((y, m)) = key.split_once('-') {
            (y, Span::Month, number(m)?)
        } else if let Some((y, q)) = key.split_once(['Q', 'q']) {
            (y, Span::Quarter, number(q)?)
        } else if let Some((y, b)) = key.split_once(['B', 'b']) {
            (y, Span::Bimonth, number(b)?)
        } else {
            (key, Span::Year, 1)
        };
        if year.len() != 4 {
            return Err(bad());
        }
        let year = year.parse::<i32>().map_err(|_| bad())?;
        Self::new(span, year, index).ok_or_else(bad)
    }

    /// The period of `span` that holds `day`.
    pub fn containing(span: Span, day: NaiveDate) -> Self {
        Self {
            span,
            year: day.year(),
            index: (day.month() - 1) / span.months() + 1,
        }
    }

    pub fn key(&self) -> String {
        match self.span {
            Span::Month => format!("{}-{:02}", self.year, self.index),
            Span::Bimonth => format!("{}B{}", self.year, self.index),
            Span::Quarter => format!("{}Q{}", self.year, self.index),
            Span::Year => format!("{}", self.year),
        }
    }

    /// As a title says it: 2026年10月, 2026年9—10月, 2026年第三季度, 2026年度.
    pub fn title(&self) -> String {
        const QUARTERS: [&str; 4] = ["一", "二", "三", "四"];
        let first = self.first_month();
        match self.span {
            Span::Month => format!("{}年{}月", self.year, first),
            Span::Bimonth => format!("{}年{}—{}月", self.year, first, first + 1),
            Span::Quarter => format!(
                "{}年第{}季度",
                self.year,
                QUARTERS[(self.index - 1) as usize]
            ),
            Span::Year => format!("{}年度", self.year),
        }
    }

    fn first_month(&self) -> u32 {
        (self.index - 1) * self.span.months() + 1
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.first_month(), 1).unwrap_or(NaiveDate::MIN)
    }

    /// The last day.
    pub fn to(&self) -> NaiveDate {
        self.next().from().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn contains(&self, day: NaiveDate) -> bool {
        (self.from()..=self.to()).contains(&day)
    }

    /// The period of the same span just before.
    pub fn previous(&self) -> Self {
        if self.index > 1 {
            Self {
                index: self.index - 1,
                ..*self
            }
        } else {
            Self {
                year: self.year - 1,
                index: 12 / self.span.months(),
                ..*self
            }
        }
    }

    pub fn next(&self) -> Self {
        if self.index < 12 / self.span.months() {
            Self {
                index: self.index + 1,
                ..*self
            }
        } else {
            Self {
                year: self.year + 1,
                index: 1,
                ..*self
            }
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn keys_read_back_and_bound_their_days() {
        for (key, from, to, title) in [
            ("2026-10", day(2026, 10, 1), day(2026, 10, 31), "2026年10月"),
            ("2026-02", day(2026, 2, 1), day(2026, 2, 28), "2026年2月"),
            ("2026B5", day(2026, 9, 1), day(2026, 10, 31), "2026年9—10月"),
            (
                "2026Q3",
                day(2026, 7, 1),
                day(2026, 9, 30),
                "2026年第三季度",
            ),
            (
                "2026Q4",
                day(2026, 10, 1),
                day(2026, 12, 31),
                "2026年第四季度",
            ),
            ("2025", day(2025, 1, 1), day(2025, 12, 31), "2025年度"),
        ] {
            let period = Period::parse(key).expect(key);
            assert_eq!(period.key(), key);
            assert_eq!((period.from(), period.to()), (from, to), "{key}");
            assert_eq!(period.title(), title);
        }
    }

    #[test]
    fn bad_keys_are_refused_with_the_forms_that_work() {
        for key in [
            "2026-13", "2026-0", "2026Q5", "2026B7", "26-10", "october", "",
        ] {
            let err = Period::parse(key).expect_err(key);
            assert!(err.to_string().contains("2026Q3"), "{err}");
        }
    }

    #[test]
    fn previous_and_containing_cross_the_year() {
        assert_eq!(
            Period::parse("2026-01").expect("p").previous().key(),
            "2025-12"
        );
        assert_eq!(
            Period::parse("2026Q1").expect("p").previous().key(),
            "2025Q4"
        );
        assert_eq!(
            Period::parse("2026B1").expect("p").previous().key(),
            "2025B6"
        );
        assert_eq!(
            Period::containing(Span::Quarter, day(2026, 8, 15)).key(),
            "2026Q3"
        );
        assert_eq!(
            Period::containing(Span::Bimonth, day(2026, 10, 3)).key(),
            "2026B5"
        );
    }
}
