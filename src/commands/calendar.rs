//! `duban calendar --from --to`: one line per date, `YYYY-MM-DD workday` or `rest`, with
//! `provisional` after the days of a year counted without its notice; `duban calendar
//! --draft YEAR`: that year's provisional arrangement as a holidays file to correct.

use std::io::Write;

use anyhow::bail;
use chrono::NaiveDate;

use crate::calendar::Calendar;

pub fn run(
    calendar: &Calendar,
    from: NaiveDate,
    to: NaiveDate,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    // Check both ends first, so a range reaching an unloaded year prints nothing half-way.
    calendar.is_working_day(from)?;
    calendar.is_working_day(to)?;
    for day in from.iter_days().take_while(|d| *d <= to) {
        let kind = if calendar.is_working_day(day)? {
            "workday"
        } else {
            "rest"
        };
        let mark = if calendar.is_provisional(day) {
            " provisional"
        } else {
            ""
        };
        writeln!(out, "{day} {kind}{mark}")?;
    }
    Ok(())
}

/// Prints the draft of `year`'s holidays file (see `crate::statutory::draft`).
pub fn draft(year: i32, out: &mut impl Write) -> anyhow::Result<()> {
    if !(2025..=2100).contains(&year) {
        bail!(
            "--draft {year}: the provisional arrangement follows the 2024 amendment of the \
             holiday rules, in force from 2025; give a year from 2025 to 2100"
        );
    }
    out.write_all(crate::statutory::draft(year).as_bytes())?;
    Ok(())
}
