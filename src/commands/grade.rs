//! `duban grade --now T [FILE|-]`: grades canonical item records, one JSON object per line
//! in and out. A line that cannot be graded becomes an error object naming its line number,
//! the field and the problem, in the same place of the output; the other lines go on, and
//! the exit code is then 2.

use std::io::{BufRead, Write};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat};
use serde::Serialize;

use crate::calendar::{Calendar, CalendarError};
use crate::config::Config;
use crate::grading::{self, ClockInput, Grade};
use crate::item::{self, Item, RecordError};

/// What one run saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub graded: u64,
    pub errors: u64,
}

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
}

/// The answer for a line that cannot be used.
#[derive(Serialize)]
pub struct ErrorLine<'a> {
    line: u64,
    item_id: Option<&'a str>,
    /// The field at fault; `null` when the record as a whole is (not JSON, or a date beyond
    /// the loaded calendar years).
    field: Option<&'a str>,
    error: &'a str,
}

impl<'a> ErrorLine<'a> {
    pub fn new(line: u64, error: &'a RecordError) -> Self {
        Self {
            line,
            item_id: error.item_id.as_deref(),
            field: (!error.field.is_empty()).then_some(error.field.as_str()),
            error: &error.problem,
        }
    }
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
    let today = now.with_timezone(&tz).date_naive();
    // Every pending item needs today's date: fail once, not once per line.
    calendar.is_working_day(today)?;
    let mut tally = Tally::default();
    for_each_record(input, |line, record| {
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
                    },
                )?;
            }
            Err(e) => {
                tally.errors += 1;
                serde_json::to_writer(&mut *out, &ErrorLine::new(line, &e))?;
            }
        }
        out.write_all(b"\n")?;
        Ok(())
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

/// Calls `visit` with the 1-based line number and the parsed record of each line (a blank
/// line is a bad record, so output lines stay aligned with input lines). Lines that are not
/// UTF-8 are bad records too, not a failed run.
pub fn for_each_record(
    mut input: impl BufRead,
    mut visit: impl FnMut(u64, Result<Item, RecordError>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(4096);
    let mut line = 0u64;
    loop {
        buffer.clear();
        if input.read_until(b'\n', &mut buffer)? == 0 {
            return Ok(());
        }
        line += 1;
        let record = match std::str::from_utf8(&buffer) {
            // A final line ending leaves nothing after it; anything else is a line to answer.
            Ok("\n" | "\r\n") if input.fill_buf()?.is_empty() => continue,
            Ok(text) => item::parse_record(text),
            Err(e) => Err(RecordError {
                field: String::new(),
                problem: format!("the line is not UTF-8 text ({e})"),
                item_id: None,
            }),
        };
        visit(line, record)?;
    }
}
