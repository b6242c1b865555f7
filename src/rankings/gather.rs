//! A period's report from the store: the catalogue's departments, every stored project and
//! item (read a chunk at a time, as start-up reads them), and the warnings and answers of
//! the period and the one before, fed to a `score::Tally`; the places of the period before
//! are its published edition's, when there is one. The thin I/O part of the rankings;
//! everything it decides is `score`'s.

use chrono::{DateTime, Utc};

use super::Report;
use super::period::Period;
use super::score::{Rules, Tally};
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
    // Only what can count in the period or the one before: accepted by the period's end,
    // not ended before the period before began; every item of a project with a target.
    let categories: Vec<&str> = config.project_targets.keys().map(String::as_str).collect();
    let ended_from = crate::grading::start_of_day(period.previous().from(), tz)
        .map_or(now, |t| t.with_timezone(&Utc))
        - chrono::Duration::days(1);
    let accepted_before = end_of_day(period.to(), tz).unwrap_or(now) + chrono::Duration::days(1);
    store
        .for_each_item_between(ended_from, accepted_before, &categories, |stored| {
            tally.item(&stored.item)
        })
        .await?;
    for p in [period.previous(), period] {
        let (from, to) = (
            crate::grading::start_of_day(p.from(), tz)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_default(),
            end_of_day(p.to(), tz).unwrap_or(now),
        );
        for fact in store.warned_between(from, to).await? {
            tally.warned(&fact.item_id, &fact.department, fact.at);
        }
        for fact in store.answered_between(from, to).await? {
            tally.answered(&fact.item_id, &fact.department, fact.at, fact.warned_at);
        }
    }
    let mut report = tally.finish(&config.rankings.city, now);
    // A change of place is measured against what was announced for the period before,
    // when it was published.
    if let Some(edition) = store.published(&report.previous).await?.into_iter().next() {
        match serde_json::from_str::<Report>(&edition.body) {
            Ok(previous) => report.measure_from(&previous),
            Err(e) => tracing::warn!(
                period = report.previous,
                error = %e,
                "the published report of the period before cannot be read; places are compared with it computed again"
            ),
        }
    }
    Ok(report)
}
