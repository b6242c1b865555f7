//! A project's government time (政府审批时间): the working days on which at least one of its
//! items was running, neither paused nor waiting for the applicant, graded like an item
//! against the target of the project's category (the city's "3211" targets).

use chrono::NaiveDate;
use serde::Serialize;

use super::clock::ClockInput;
use super::grade::{Grade, Thresholds};
use crate::calendar::{Calendar, CalendarError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProjectGrading {
    /// Working days on which at least one item ran, up to `today`.
    pub government_days: u32,
    pub target_days: u32,
    pub remaining: i64,
    pub overdue: bool,
    pub grade: Grade,
}

/// Government time of the items of one project, counted through `today`.
pub fn government_days(
    items: &[ClockInput],
    calendar: &Calendar,
    today: NaiveDate,
) -> Result<u32, CalendarError> {
    // Running spans as (after, through] date ranges: from acceptance to the first stop, from
    // each stop's end to the next, from the last stop's end to the clock's end or today.
    let mut spans: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for item in items {
        let end = item.ended_on.unwrap_or(today).min(today);
        let mut cursor = item.accepted_on;
        // An open pause stops the item from its start on, whatever today is.
        for (from, to) in item.stops_until(NaiveDate::MAX) {
            if from > cursor {
                spans.push((cursor, from.min(end)));
            }
            cursor = cursor.max(to);
        }
        spans.push((cursor, end));
    }
    spans.retain(|(after, through)| through > after);
    spans.sort_unstable();
    let mut total = 0;
    let mut current: Option<(NaiveDate, NaiveDate)> = None;
    for (after, through) in spans {
        match &mut current {
            Some((_, end)) if after <= *end => *end = (*end).max(through),
            _ => {
                if let Some((a, b)) = current.replace((after, through)) {
                    total += calendar.working_days_between(a, b)?;
                }
            }
        }
    }
    if let Some((a, b)) = current {
        total += calendar.working_days_between(a, b)?;
    }
    Ok(total)
}

/// Whether the government time of `items` through `today` counts days of a year without
/// its notice (暂定), as an item's days used would.
pub fn government_provisional(items: &[ClockInput], calendar: &Calendar, today: NaiveDate) -> bool {
    let first = items.iter().map(|i| i.accepted_on).min();
    let last = items
        .iter()
        .map(|i| i.ended_on.unwrap_or(today).min(today))
        .max();
    match (first, last) {
        (Some(first), Some(last)) => calendar.is_provisional_between(first, last.max(first)),
        _ => false,
    }
}

/// Grades a project's government time against its category's target, by the item rule:
/// red when over the target, blue while at most the blue share is used, yellow between.
pub fn grade_project(
    government_days: u32,
    target_days: u32,
    thresholds: &Thresholds,
) -> ProjectGrading {
    let overdue = government_days > target_days;
    let grade = if overdue {
        Grade::Red
    } else if thresholds.is_blue(government_days, target_days) {
        Grade::Blue
    } else {
        Grade::Yellow
    };
    ProjectGrading {
        government_days,
        target_days,
        remaining: i64::from(target_days) - i64::from(government_days),
        overdue,
        grade,
    }
}
