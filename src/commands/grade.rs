//! `duban grade --now T [FILE|-]`: grades canonical item records, one JSON object per line
//! in and out. A line that cannot be graded becomes an error object naming its line number,
//! the field and the problem, in the same place of the output; the other lines go on, and
//! the exit code is then 2.

use std::io::{BufRead, Write};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat};
use serde::Serialize;

use super::records::{Tally, for_each_record, today, write_error};
use crate::calendar::{Calendar, CalendarError};
use crate::config::Config;
use crate::grading::{self, ClockInput, Grade};
use crate::item::{Item, RecordError};

#[derive(Serialize)]
struct GradedLine<'a> {
    item_id: &'a str,
    grade: Grade,
    deadline_date: NaiveDate,
    allowed: u32,
    used: u32,
    remaining: i64,
    overdue: bool,
    paused: bool,
    next_change: Option<String>,
    /// The deadline or days used depend on a year counted without its notice (暂定).
    provisional: bool,
}

/// Grades every line of `input` as of `now`, writing one output line per input line.
pub fn run(
    config: &Config,
    calendar: &Calendar,
    now: DateTime<FixedOffset>,
    input: impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<Tally> {
    let tz = config.timezone;
    let today = today(config, calendar, now)?;
    let mut tally = Tally::default();
    let bounds = config.records.as_of(now.to_utc());
    for_each_record(input, &bounds, |line, record| {
        match record.and_then(|item| grade_item(config, calendar, &item, today).map(|g| (item, g)))
        {
            Ok((item, grading)) => {
                tally.graded += 1;
                serde_json::to_writer(
                    &mut *out,
                    &GradedLine {
                        item_id: &item.item_id,
                        grade: grading.grade,
                        deadline_date: grading.deadline_date,
                        allowed: grading.allowed,
                        used: grading.used,
                        remaining: grading.remaining,
                        overdue: grading.overdue,
                        paused: grading.paused,
                        next_change: grading
                            .next_change(tz)
                            .map(|t| t.fixed_offset().to_rfc3339_opts(SecondsFormat::Secs, false)),
                        provisional: grading.provisional,
                    },
                )?;
                out.write_all(b"\n")
            }
            Err(e) => {
                tally.errors += 1;
                write_error(out, line, &e)
            }
        }
    })?;
    out.flush()?;
    Ok(tally)
}

/// Grades a validated item with the thresholds of its matter and department.
fn grade_item(
    config: &Config,
    calendar: &Calendar,
    item: &Item,
    today: NaiveDate,
) -> Result<grading::Grading, RecordError> {
    let thresholds = config
        .grading
        .thresholds_for(&item.matter, &item.department);
    let input = ClockInput::from_item(item, config.timezone);
    grading::grade(&input, &thresholds, calendar, today)
        .map_err(|e| calendar_error(item, &input, e))
}

fn calendar_error(item: &Item, input: &ClockInput, error: CalendarError) -> RecordError {
    let field = match &error {
        CalendarError::YearNotLoaded { year, .. } if *year == input.accepted_on.year() => {
            "accepted_at"
        }
        CalendarError::YearNotLoaded { year, .. }
            if input.ended_on.is_some_and(|day| day.year() == *year) =>
        {
            "finished_at"
        }
        _ => "",
    };
    RecordError {
        field: field.to_owned(),
        problem: error.to_string(),
        item_id: Some(item.item_id.clone()),
    }
}
