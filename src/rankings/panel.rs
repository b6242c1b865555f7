//! The screens' `ranking` panel: this month's ranking so far (本月截至目前), computed like
//! the report (`gather::report`) every few minutes and handed to the live screens through
//! `Shared::set_ranking_panel`. A report reads every stored item, so it is not computed
//! per change; the panel says when its figures are from. Runs only when a screen shows it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Report;
use super::period::{Period, Span};
use crate::ingest::Shared;

/// How often the panel is computed again.
pub const EVERY: Duration = Duration::from_secs(300);

/// The rows the panel shows (the rest are on `/rankings`).
pub const ROWS: usize = 12;

/// The panel's JSON for `report`.
pub fn panel(report: &Report) -> String {
    let rows: Vec<serde_json::Value> = report
        .ranked
        .iter()
        .take(ROWS)
        .map(|r| {
            json!({
                "place": r.place, "department": r.department, "score": r.score,
                "on_time_rate": r.on_time_rate, "overdue_days": r.overdue_days,
                "red_pending": r.red_pending, "change": r.change,
            })
        })
        .collect();
    json!({
        "period": report.period,
        "title": report.title,
        "so_far": report.so_far,
        "data_time": report.data_time,
        "rows": rows,
        "ranked": report.ranked.len(),
        "unranked": report.unranked.len(),
    })
    .to_string()
}

pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let now = shared.clock.now();
        let today = now.with_timezone(&shared.config.timezone).date_naive();
        let period = Period::containing(Span::Month, today);
        match super::gather::report(&shared.store, &shared.config, &shared.calendar, period, now)
            .await
        {
            Ok(report) => {
                shared.set_ranking_panel(panel(&report));
                shared.live.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, "the screens' ranking panel keeps its last figures")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(EVERY) => {}
        }
    }
}
