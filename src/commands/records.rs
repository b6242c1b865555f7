//! Reading JSON lines of canonical item records, shared by the commands that take them:
//! each line is parsed on its own, and one that cannot be used is answered in place by an
//! error object naming its line, the field and the problem.

use std::io::{BufRead, Write};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::Serialize;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::item::{self, Bounds, Item, RecordError};

/// The local date of `now`, checked against the calendar once: every pending item needs it,
/// so an instant outside the loaded years fails the run, not each line.
pub fn today(
    config: &Config,
    calendar: &Calendar,
    now: DateTime<FixedOffset>,
) -> anyhow::Result<NaiveDate> {
    let today = now.with_timezone(&config.timezone).date_naive();
    calendar
        .is_working_day(today)
        .with_context(|| format!("grading as of {today} (--now, or the current time)"))?;
    Ok(today)
}

/// What one run saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub graded: u64,
    pub errors: u64,
}

/// The answer for a line that cannot be used.
#[derive(Serialize)]
struct ErrorLine<'a> {
    line: u64,
    item_id: Option<&'a str>,
    /// The field at fault; `null` when the record as a whole is (not JSON, or a date beyond
    /// the loaded calendar years).
    field: Option<&'a str>,
    error: &'a str,
}

/// Writes the error object for input line `line`, with its line ending.
pub fn write_error(out: &mut impl Write, line: u64, error: &RecordError) -> std::io::Result<()> {
    let object = ErrorLine {
        line,
        item_id: error.item_id.as_deref(),
        field: (!error.field.is_empty()).then_some(error.field.as_str()),
        error: &error.problem,
    };
    serde_json::to_writer(&mut *out, &object)?;
    out.write_all(b"\n")
}

/// Calls `visit` with the 1-based line number and the parsed record of each line (a blank
/// line is a bad record, so output lines stay aligned with input lines). Lines that are not
/// UTF-8 are bad records too, not a failed run. Records are held to `bounds` (the config's
/// `[records]` as of the instant graded as of).
pub fn for_each_record(
    mut input: impl BufRead,
    bounds: &Bounds,
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
            Ok(text) => item::parse_record(text, bounds),
            Err(e) => Err(RecordError {
                field: String::new(),
                problem: format!("the line is not UTF-8 text ({e})"),
                item_id: None,
            }),
        };
        visit(line, record)?;
    }
}
