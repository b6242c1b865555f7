//! A period's report from the store: the catalogue's departments, every stored project and
//! item (read a chunk at a time, as start-up reads them), and the warnings and answers of
//! the period and the one before, fed to a `score::Tally`. The thin I/O part of the
//! rankings; everything it decides is `score`'s.

use chrono::{DateTime, Utc};

use super::period::Period;
use super::score::{Rules, Tally};
use super::Report;
use crate::calendar::Calendar;
use crate::config::Config;
use crate::ledger::end_of_day;
use crate::store::{Store, StoreError};

/// The rules of `config`, with `calendar`.
pub fn rules<'a>(config: &'a Config, calendar: &'a Calendar) -> Rules<'a> {
    Rules {
        calendar,
        policy: &config.grading,
        tz: config.timezone,
        targets: &config.project_targets,
        weights: config.rankings.weights,
        cutoffs: config.rankings.cutoffs,
        hours: config.rankings.office_hours,
    }
}

/// Computes `period`'s report from what the store holds now (`now` is the data's time).
pub async fn report(
    store: &Store,
    config: &Config,
    calendar: &Calendar,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let tz = config.timezone;
    let mut tally = Tally::new(rules(config, calendar), period);
    for matter in &config.matters {
        tally.department(&matter.department);
    }
    store
        .for_each_project(|code, name, category| tally.project(code, name, category))
        .await?;
    store
        .for_each_item(|stored| tally.item(&stored.item, stored.hash))
        .await?;
    let previous = period.previous();
    let (from, to) = (
        crate::grading::start_of_day(previous.from(), tz)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        end_of_day(period.to(), tz).unwrap_or(now),
    );
    for fact in store.warned_between(from, to).await? {
        tally.warned(&fact.item_id, &fact.department, fact.at);
    }
    for fact in store.answered_between(from, to).await? {
        tally.answered(&fact.item_id, &fact.department, fact.at, fact.warned_at);
    }
    Ok(tally.finish(&config.rankings.city, now))
}
