//! Grading: an item's clock, its three-colour grade and the next instant that grade will
//! change if nothing else happens. Pure: every function takes the calendar, the thresholds
//! and "today" (or "now") and returns values, so a daemon can keep a time-ordered index of
//! next changes and re-grade only what changed.
//!
//! - `clock`: counted days and deadlines from local dates.
//! - `grade`: the colours and the thresholds that decide them.
//! - `policy`: thresholds per matter and department.
//! - `project`: a project's government time against its category target.

pub mod clock;
pub mod grade;
pub mod policy;
pub mod project;

use chrono::{DateTime, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError};
pub use clock::{ClockInput, Stop};
pub use grade::{Grade, Thresholds};
pub use policy::{GradingPolicy, ThresholdOverride};

/// The result of grading one item on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grading {
    pub grade: Grade,
    /// The `allowed`-th counted day; while paused, as if the pause ended today.
    pub deadline_date: NaiveDate,
    pub allowed: u32,
    /// Counted days so far (up to the finish date for a finished item).
    pub used: u32,
    /// `allowed - used`: negative once more days are used than allowed.
    pub remaining: i64,
    /// Pending: today is after the deadline date. Finished: finished after it.
    pub overdue: bool,
    /// The clock is stopped by an open pause; the grade is the one of the pause's start.
    pub paused: bool,
    /// The first date on which the grade will differ if nothing else happens: the grade
    /// changes at local midnight starting it. `None` for finished, paused and red items.
    pub next_change_on: Option<NaiveDate>,
    /// Some day counted (up to the deadline, or to today or the finish if later) is in a
    /// year without its State Council notice, counted on the provisional arrangement: the
    /// deadline and the days used may change when the notice is out (暂定).
    pub provisional: bool,
}

impl Grading {
    /// The instant of the next change: local midnight of `next_change_on` in `tz`.
    pub fn next_change(&self, tz: Tz) -> Option<DateTime<Tz>> {
        self.next_change_on.and_then(|day| start_of_day(day, tz))
    }
}

/// The first instant of `day` in `tz` (the earliest, should midnight be ambiguous).
pub fn start_of_day(day: NaiveDate, tz: Tz) -> Option<DateTime<Tz>> {
    let midnight = day.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&midnight).earliest().or_else(|| {
        // A zone that skips midnight (a DST jump at 00:00) starts the day an hour later.
        tz.from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
    })
}

/// Grades an item on `today` (a local date in the configured zone).
pub fn grade(
    input: &ClockInput,
    thresholds: &Thresholds,
    calendar: &Calendar,
    today: NaiveDate,
) -> Result<Grading, CalendarError> {
    let allowed = input.allowed;
    let provisional = |deadline: NaiveDate| {
        let (from, through) = counted_span(input, deadline, today);
        calendar.is_provisional_between(from, through)
    };
    if let Some(ended) = input.ended_on {
        let used = input.used_through(calendar, ended)?;
        let deadline = input.deadline(calendar, ended)?;
        return Ok(Grading {
            grade: thresholds.grade_finished(ended, deadline, used, allowed),
            deadline_date: deadline,
            allowed,
            used,
            remaining: i64::from(allowed) - i64::from(used),
            overdue: ended > deadline,
            paused: false,
            next_change_on: None,
            provisional: provisional(deadline),
        });
    }

    let used = input.used_through(calendar, today)?;
    let deadline = input.deadline(calendar, today)?;
    let overdue = today > deadline;
    let remaining = i64::from(allowed) - i64::from(used);

    if let Some(paused_on) = input.paused_since {
        // The grade it had on the date its pause began: nothing was stopped yet that day.
        let day = paused_on.min(today);
        let used_then = input.used_through(calendar, day)?;
        let deadline_then = input.deadline(calendar, day)?;
        let grade = thresholds.grade_pending(day, deadline_then, used_then, allowed);
        // A pause recorded as starting later than today has not stopped the clock yet: the
        // grade may still change before it begins, and then freezes.
        let next_change_on = if paused_on > today {
            next_change_on(input, thresholds, calendar, today, grade, deadline_then)?
                .filter(|day| *day <= paused_on)
        } else {
            None
        };
        return Ok(Grading {
            grade,
            deadline_date: deadline,
            allowed,
            used,
            remaining,
            overdue,
            paused: true,
            next_change_on,
            provisional: provisional(deadline),
        });
    }

    let grade = thresholds.grade_pending(today, deadline, used, allowed);
    let next_change_on = next_change_on(input, thresholds, calendar, today, grade, deadline)?;
    Ok(Grading {
        grade,
        deadline_date: deadline,
        allowed,
        used,
        remaining,
        overdue,
        paused: false,
        next_change_on,
        provisional: provisional(deadline),
    })
}

/// The provisional years that grading `input` on `today` with this `deadline` counted
/// over: from acceptance to the deadline, or to today (the finish, once finished) if later.
pub fn provisional_years(
    input: &ClockInput,
    deadline: NaiveDate,
    calendar: &Calendar,
    today: NaiveDate,
) -> Vec<i32> {
    let (from, through) = counted_span(input, deadline, today);
    calendar.provisional_years_between(from, through)
}

/// The dates a grading counts over: from acceptance to the deadline, or to today (the
/// finish, once finished) if later.
fn counted_span(
    input: &ClockInput,
    deadline: NaiveDate,
    today: NaiveDate,
) -> (NaiveDate, NaiveDate) {
    (
        input.accepted_on,
        input.ended_on.unwrap_or(today).max(deadline),
    )
}

/// A change of grade: the local date it took effect on (at its midnight), and the grades
/// before and after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub on: NaiveDate,
    pub from: Grade,
    pub to: Grade,
}

/// The grade changes of an item from `grade`, whose next change was due on `next_on`,
/// through `today`, each on the date it took effect. A daemon that was down (or late) over
/// several change dates thus records each change on its own day, not all on the day it
/// noticed them. Walks from one next change to the next: a few steps, not one per day.
pub fn changes_through(
    input: &ClockInput,
    thresholds: &Thresholds,
    calendar: &Calendar,
    grade: Grade,
    next_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<Vec<Change>, CalendarError> {
    let mut changes = Vec::new();
    let (mut from, mut day) = (grade, next_on);
    while let Some(on) = day.filter(|d| *d <= today) {
        let then = self::grade(input, thresholds, calendar, on)?;
        if then.grade != from {
            changes.push(Change {
                on,
                from,
                to: then.grade,
            });
            from = then.grade;
        }
        // Each step moves forward, so the walk ends.
        day = then.next_change_on.filter(|next| *next > on);
    }
    Ok(changes)
}

/// The first date after `today` on which a running item's grade differs from `grade`: the
/// day it has used more than the blue share, or the day it turns red.
fn next_change_on(
    input: &ClockInput,
    thresholds: &Thresholds,
    calendar: &Calendar,
    today: NaiveDate,
    grade: Grade,
    deadline: NaiveDate,
) -> Result<Option<NaiveDate>, CalendarError> {
    let red_on = thresholds.first_red_day(deadline, input.allowed);
    Ok(match grade {
        Grade::Red => None,
        Grade::Yellow => Some(red_on),
        Grade::Blue => match thresholds.first_yellow_count(input.allowed) {
            Some(count) => Some(input.nth_counted_day(calendar, count, today)?.min(red_on)),
            None => Some(red_on),
        },
    })
}

#[cfg(test)]
mod tests;
