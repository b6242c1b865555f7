//! The ledger table read from the store (电子台账 · 挂图作战): a period checked, then a page
//! of projects from the log (`Store::ledger_page`), each laid out and graded as it stood at
//! the end of the period (`ledger::table::block`). The one way both `GET /api/ledger` and
//! `duban ledger export` get their rows, so the page and the workbook never disagree.

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;

use crate::calendar::Calendar;
use crate::grading::GradingPolicy;
use crate::ledger::table::{Period, ProjectBlock};
use crate::store::ledger::LedgerFilter;
use crate::store::{Store, StoreError};

/// Why a period cannot be shown, in words for the API's 400 and the command's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period starts on {from}, after its last day {to}: give the first day first")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("the period starts on {from}, after today ({today}): nothing is recorded for it yet")]
    Future { from: NaiveDate, today: NaiveDate },
    #[error("the period {from} to {to} cannot be placed in the zone {tz}")]
    Unplaceable {
        from: NaiveDate,
        to: NaiveDate,
        tz: Tz,
    },
}

/// The period from `from` to `to` (both included) as of `today`, checked.
pub fn period(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Result<Period, PeriodError> {
    if from > to {
        return Err(PeriodError::Reversed { from, to });
    }
    if from > today {
        return Err(PeriodError::Future { from, today });
    }
    Ok(Period::new(from, to, today))
}

/// The current month up to `today`: the page's period when none is asked for.
pub fn this_month(today: NaiveDate) -> Period {
    let first = today.with_day0(0).unwrap_or(today);
    Period::new(first, today, today)
}

/// What the table is graded by: the calendar, the thresholds (`config.grading`) and the
/// zone the days are counted in (`config.timezone`).
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub calendar: &'a Calendar,
    pub policy: &'a GradingPolicy,
    pub tz: Tz,
}

/// One page of the table.
#[derive(Debug, Default)]
pub struct Page {
    /// The projects with at least one item to show, by code.
    pub blocks: Vec<ProjectBlock>,
    /// Items left out because their days fall in a year the calendar does not hold.
    pub ungraded: Vec<String>,
    /// The last project code read, when the page was full: ask after it for the next page.
    pub next_after: Option<String>,
}

/// The projects after `after` (by code; `""` for the first page) that `filter` names, at
/// most `limit`, laid out for `period`. A project whose items all ended before the period
/// is read but not shown; it still counts towards the page, so `next_after` moves on.
pub async fn page(
    store: &Store,
    rules: Rules<'_>,
    filter: &LedgerFilter,
    period: Period,
    after: &str,
    limit: u32,
) -> Result<Page, PageError> {
    let bounds = period.bounds(rules.tz).ok_or(PeriodError::Unplaceable {
        from: period.from,
        to: period.to,
        tz: rules.tz,
    })?;
    let projects = store
        .ledger_page(filter, after, i64::from(limit), bounds)
        .await?;
    let next_after = (projects.len() == limit as usize)
        .then(|| projects.last().map(|p| p.project.code.clone()))
        .flatten();
    let mut page = Page {
        next_after,
        ..Page::default()
    };
    for project in projects {
        let (block, ungraded) = crate::ledger::table::block(
            project.project,
            &project.items,
            &project.events,
            period,
            rules.calendar,
            rules.policy,
            rules.tz,
        );
        page.ungraded.extend(ungraded);
        if !block.items.is_empty() {
            page.blocks.push(block);
        }
    }
    Ok(page)
}

/// Why a page of the table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error(transparent)]
    Period(#[from] PeriodError),
    #[error("reading the ledger: {0}")]
    Store(#[from] StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn a_period_is_checked_and_the_default_is_this_month_to_today() {
        assert_eq!(
            period(day(11, 10), day(11, 1), day(11, 25)),
            Err(PeriodError::Reversed {
                from: day(11, 10),
                to: day(11, 1)
            })
        );
        assert!(matches!(
            period(day(12, 1), day(12, 31), day(11, 25)),
            Err(PeriodError::Future { .. })
        ));
        let november = period(day(11, 1), day(11, 30), day(11, 25)).unwrap();
        assert_eq!(november.graded_on, day(11, 25), "not over: graded today");
        assert_eq!(
            this_month(day(11, 25)),
            Period::new(day(11, 1), day(11, 25), day(11, 25))
        );
    }
}
