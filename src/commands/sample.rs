//! `duban sample`: writes a realistic, deterministic set of canonical item records (JSON
//! lines) as of a given instant, for trying `duban grade`, for demos and for benchmarks.

use std::io::Write;

use chrono::{DateTime, FixedOffset};

use crate::calendar::Calendar;
use crate::config::Config;
use crate::simulator::population::Population;

pub fn run(
    config: &Config,
    calendar: &Calendar,
    now: DateTime<FixedOffset>,
    count: u64,
    seed: u64,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let now = now.with_timezone(&config.timezone);
    let mut population = Population::new(&config.matters, calendar, config.timezone, now, seed)?;
    let mut result = Ok(());
    population.generate(count, |item| {
        if result.is_ok() {
            result = serde_json::to_writer(&mut *out, item)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
        }
    })?;
    result?;
    out.flush()?;
    Ok(())
}
