//! `duban report monthly --month 2026-10 --format html|xlsx|png|json --out PATH` (and
//! `bimonthly --bimonth 2026B5`, `quarterly --quarter 2026Q3`, `yearly --year 2026`): a
//! period's rankings computed from the configured store, written as a printable page, a
//! workbook, a chart or JSON. The format defaults to the ending of `--out`.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::rankings::output::{Format, render};
use crate::rankings::{Period, gather};
use crate::store::Store;

/// Computes `period`'s report and writes it to `out`; returns the line to print.
pub async fn run(
    config: &Config,
    calendar: &Calendar,
    period: Period,
    format: Option<Format>,
    out: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    let Some(format) = format.or_else(|| Format::of(out)) else {
        bail!(
            "--out {}: say the format with --format html|xlsx|png|json, or end the file's name with one",
            out.display()
        );
    };
    let store = Store::open(&config.database_url).await.with_context(|| {
        format!(
            "opening the store {}",
            crate::store::redact(&config.database_url)
        )
    })?;
    let report = gather::report(&store, config, calendar, period, now)
        .await
        .context("reading the period's items, warnings and answers from the store")?;
    store.close().await;
    let bytes = render(&report, format, config, None)?;
    std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    let mut line = format!(
        "{} {}: {} departments ranked, {} apart, {} items counted of {} read, {} projects over target → {} ({} bytes)",
        report.title,
        if report.so_far { "(so far)" } else { "" },
        report.ranked.len(),
        report.unranked.len(),
        report.items.len(),
        report.items_read,
        report.projects_over.len(),
        out.display(),
        bytes.len()
    );
    if !report.ungraded.is_empty() {
        line.push_str(&format!(
            "; {} left out (a day they count is in a year the calendar does not hold)",
            report.ungraded.len()
        ));
    }
    Ok(line)
}
