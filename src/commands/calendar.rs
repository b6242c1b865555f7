//! `duban calendar --from --to`: one line per date, `YYYY-MM-DD workday` or `rest`.

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
        writeln!(out, "{day} {kind}")?;
    }
    Ok(())
}
