//! Live screens: the figures counted from the board (`figures`), the charts drawn from them
//! (`crate::charts`), the hub that encodes each state once and keeps the newest for every
//! client (`hub`), and the websocket that carries it to screens and pages: its wire format
//! (`frames`), each client's end (`outlet`) and the route with the client's task (`ws`).
//!
//! The live task here wakes when the board or a feed's health changes (or every 15 s for
//! the clock), waits a moment so a burst of changes becomes one update, counts, redraws
//! only the charts whose figures changed, and publishes. The `warnings` panel alone is not
//! the board's: each recount first reads today's warnings from the store (one small async
//! query), so a message sent shows on the screens within those 15 s.

pub mod figures;
pub mod frames;
pub mod hub;
pub mod outlet;
pub mod ws;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::calendar::years_text;
use crate::charts::input::{ProjectRow, TrendDay};
use crate::charts::{self, ChartError, Drawing};
use crate::ingest::Shared;
use crate::store::warnings::WarningCounts;
use figures::Figures;
use hub::{Chart, Frame};

/// Changes within this window after the first become one update (longer after a count
/// that took long: see `run`).
const COALESCE: Duration = Duration::from_millis(150);
/// With no change at all, an update still goes out this often, so the data time moves.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// The trend's past days change only when a record about the past arrives, or at midnight;
/// redrawing them costs 29 gradings per item, so after a change they are redrawn at most
/// this often, unless the board grew by a tenth (start-up, a first full load)...
const PAST_DAYS_EVERY: Duration = Duration::from_secs(60);
/// ...and then at most this often: a first load of a million records grows the board by a
/// tenth some fifty times, and redrawing each time cost more than the load's own grading.
const PAST_DAYS_GROWING_EVERY: Duration = Duration::from_secs(10);

pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut painter = Painter::default();
    let mut last_published = Instant::now();
    loop {
        let force = last_published.elapsed() >= KEEPALIVE;
        painter.answered = answered_today(&shared, &painter.answered).await;
        // The warnings panel comes from the store, not the board: read here, on the async
        // side, and handed to the counting with the rest (on a failed read the panel keeps
        // its last counts, and the error is logged).
        if let Some(counts) = warning_counts(&shared).await {
            painter.warnings = Some(counts);
        }
        let worker = shared.clone();
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let frame = painter.frame(&worker);
            (painter, frame)
        })
        .await;
        match result {
            Ok((p, Ok(frame))) => {
                painter = p;
                if shared.hub.publish(frame, force).is_some() {
                    last_published = Instant::now();
                }
            }
            Ok((p, Err(e))) => {
                painter = p;
                tracing::error!(error = %e, "the screens keep their last charts");
            }
            Err(e) => {
                tracing::error!(error = %e, "counting the live figures panicked; starting afresh");
                painter = Painter::default();
            }
        }
        // Counting a large board takes a while and holds its lock in turns with the feeds:
        // while a big load streams in, recount at most a tenth of the time (a million-item
        // board counts in about 0.1 s, so its screens still move within a second or so).
        let cooldown = (started.elapsed() * 9).clamp(COALESCE, Duration::from_secs(10));
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = shared.live.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(15)) => continue,
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(cooldown) => {}
        }
    }
}

/// Writes each new update to the clients as it is published, every one in order (an
/// update published while the last is still being written goes out right after it), so a
/// client that is up to date never needs its own task to catch up (see `outlet`).
pub async fn deliver(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut published = shared.hub.subscribe();
    let mut delivered = 0;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = published.changed() => if changed.is_err() { return },
        }
        published.borrow_and_update();
        delivered = shared.hub.deliver_after(delivered).await;
    }
}

struct PastDays {
    today: NaiveDate,
    at: Instant,
    generation: u64,
    items: usize,
    days: Vec<TrendDay>,
}

impl PastDays {
    fn stale(&self, today: NaiveDate, board: &crate::board::Board) -> bool {
        let changed = board.generation() != self.generation;
        let grew = board.len() > self.items + self.items / 10;
        self.today != today
            || (changed && self.at.elapsed() >= PAST_DAYS_EVERY)
            || (grew && (self.items == 0 || self.at.elapsed() >= PAST_DAYS_GROWING_EVERY))
    }
}

/// The projects panel walks every item's clock; a project's government days move by the
/// day, so after a change it is recounted at most this often (a first load of a million
/// records changes the board hundreds of times).
const PROJECTS_EVERY: Duration = Duration::from_secs(10);

/// Entries looked at per hold of the board's lock when counting the trend or the projects.
const SLICE: usize = 50_000;

/// Walks the board `SLICE` entries per hold of its lock (entries are only appended or
/// replaced in place, so the walk sees each slot once); returns how many it saw.
fn in_slices(
    shared: &Shared,
    mut visit: impl FnMut(&crate::board::Board, &[crate::board::Entry]),
) -> usize {
    let mut at = 0;
    loop {
        let board = shared.board();
        let end = (at + SLICE).min(board.len());
        visit(&board, &board.entries()[at.min(end)..end]);
        at = end;
        if at >= board.len() {
            return board.len();
        }
        // Whoever waits goes first (a plain unlock lets this loop take the lock back).
        parking_lot::MutexGuard::unlock_fair(board);
    }
}

/// Redraws the trend's past days a slice at a time, letting go of the board in between so
/// feeds and the API are not held up on a large board.
fn past_days(shared: &Shared, today: NaiveDate) -> PastDays {
    let mut tally = figures::TrendTally::new(today);
    // Taken before the first slice: a change made while counting is then seen as new.
    let generation = shared.board().generation();
    let items = in_slices(shared, |_, entries| tally.add(entries, &shared.calendar));
    PastDays {
        today,
        at: Instant::now(),
        generation,
        items,
        days: tally.finish(),
    }
}

/// The projects furthest into their targets: their items' clocks gathered a slice of the
/// board at a time, their government days counted without it.
fn projects(
    shared: &Shared,
    today: NaiveDate,
    open: &std::collections::HashSet<u32>,
) -> Vec<ProjectRow> {
    let mut clocks = figures::ProjectClocks::default();
    in_slices(shared, |board, entries| clocks.add(board, entries, open));
    figures::rank_projects(
        clocks,
        &shared.calendar,
        &shared.config.project_targets,
        &shared.config.grading.default,
        today,
    )
}

/// The items whose answer (回告) holds today, read from the store before each count (the
/// count runs on a blocking thread, without the store); a failed read keeps `last`.
async fn answered_today(
    shared: &Shared,
    last: &std::collections::HashSet<String>,
) -> std::collections::HashSet<String> {
    let today = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive();
    match shared.store.answers_holding(today).await {
        Ok(rows) => rows
            .into_iter()
            .filter(|(_, kind, _)| kind == crate::store::answers::AnswerKind::Answer.as_str())
            .map(|(item, _, _)| item)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the answers; the red lists keep their last 已回告 marks");
            last.clone()
        }
    }
}

/// Today's warnings (since local midnight in the daemon's zone), or `None` when the store
/// could not be read.
async fn warning_counts(shared: &Shared) -> Option<(NaiveDate, WarningCounts)> {
    let tz = shared.config.timezone;
    let today = shared.clock.now().with_timezone(&tz).date_naive();
    let midnight = crate::warnings::quiet::at_local(today, chrono::NaiveTime::MIN, tz);
    match shared.store.warning_counts_since(midnight).await {
        Ok(counts) => Some((today, counts)),
        Err(e) => {
            tracing::error!(error = %e, "the screens' warnings panel keeps its last counts");
            None
        }
    }
}

/// The `warnings` panel: each channel's messages of the day (every channel, so the panel
/// keeps its rows on a quiet day), the escalations, and the answered share (回告率) of the
/// items warned about today, `null` while none was.
fn warnings_panel(day: NaiveDate, counts: &WarningCounts) -> String {
    use crate::warnings::message::Channel;
    let channels: Vec<serde_json::Value> = [Channel::Sms, Channel::Email, Channel::Robot]
        .iter()
        .map(|channel| {
            let name = channel.as_str();
            let c = counts
                .channels
                .iter()
                .find(|c| c.channel == name)
                .cloned()
                .unwrap_or_default();
            json!({"channel": name, "sent": c.sent, "pending": c.pending, "held": c.held, "failed": c.failed})
        })
        .collect();
    #[allow(clippy::cast_precision_loss)] // counts of items, far below 2^52
    let answered_rate = (counts.warned_items > 0)
        .then(|| counts.answered_items as f64 / counts.warned_items as f64);
    json!({
        "day": day.to_string(),
        "channels": channels,
        "escalations": counts.escalations,
        "escalated_items": counts.escalated_items,
        "warned_items": counts.warned_items,
        "answered_items": counts.answered_items,
        "answered_rate": answered_rate,
    })
    .to_string()
}

/// Remembers what was drawn, so an unchanged chart is neither redrawn nor re-sent.
#[derive(Default)]
struct Painter {
    /// Today's warnings as last read from the store (see `run`), with their day.
    warnings: Option<(NaiveDate, WarningCounts)>,
    /// The items answered today (`answered_today`), marked on the red lists.
    answered: std::collections::HashSet<String>,
    past_days: Option<PastDays>,
    /// The projects panel's rows, for the day and board generation they were counted on,
    /// and when.
    projects: Option<(NaiveDate, u64, Instant, Vec<ProjectRow>)>,
    /// Per chart panel, what it was drawn from and what that made.
    drawn: HashMap<&'static str, ChartPanel>,
}

/// A chart panel as last drawn.
struct ChartPanel {
    /// The figures it was drawn from, encoded.
    from: String,
    /// The panel, encoded: the figures with the drawings' URLs.
    panel: String,
    /// Its drawings, by file name.
    charts: Vec<(&'static str, Chart)>,
}

impl Painter {
    fn frame(&mut self, shared: &Shared) -> Result<Frame, ChartError> {
        let now = shared.clock.now().with_timezone(&shared.config.timezone);
        let today = now.date_naive();
        let stale = {
            let board = shared.board();
            self.past_days
                .as_ref()
                .is_none_or(|p| p.stale(today, &board))
        };
        if stale {
            self.past_days = Some(past_days(shared, today));
        }
        let (mut figures, open, generation) = {
            let board = shared.board();
            let past = self.past_days.as_ref().map_or(&[][..], |p| &p.days);
            let (figures, open) = figures::count(&board, &shared.calendar, today, past);
            (figures, open, board.generation())
        };
        figures.headline.calendar = calendar_line(shared, today, figures.headline.provisional);
        for row in figures
            .red_list
            .iter_mut()
            .chain(figures.overdue_list.iter_mut())
        {
            row.answered = self.answered.contains(&row.item_id);
        }
        if figures.headline.ungradable > 0 {
            tracing::warn!(
                items = figures.headline.ungradable,
                "open items cannot be graded today (a holiday year not loaded); they are left out of the screens' figures"
            );
        }
        // An empty panel is recounted at the next change: the first load after starting
        // on an empty store would otherwise leave it empty for PROJECTS_EVERY.
        figures.projects = match &self.projects {
            Some((day, seen, at, rows))
                if *day == today
                    && (*seen == generation
                        || (at.elapsed() < PROJECTS_EVERY && !rows.is_empty())) =>
            {
                rows.clone()
            }
            _ => {
                let rows = projects(shared, today, &open);
                self.projects = Some((today, generation, Instant::now(), rows.clone()));
                rows
            }
        };
        let mut panels = self.panels(&figures)?;
        if let Some(ranking) = shared.ranking_panel.lock().clone() {
            panels.insert("ranking", ranking);
        }
        Ok(Frame {
            data_time: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            feeds: feeds_json(shared),
            panels,
            charts: self
                .drawn
                .values()
                .flat_map(|drawn| drawn.charts.iter().cloned())
                .collect(),
        })
    }

    fn panels(&mut self, f: &Figures) -> Result<BTreeMap<&'static str, String>, ChartError> {
        let mut panels = BTreeMap::new();
        panels.insert("headline", encode(&f.headline));
        if let Some((day, counts)) = &self.warnings {
            panels.insert("warnings", warnings_panel(*day, counts));
        }
        panels.insert("red_list", json!({ "rows": f.red_list }).to_string());
        panels.insert(
            "overdue_list",
            json!({ "rows": f.overdue_list }).to_string(),
        );
        let ring = json!({"blue": f.ring.blue, "yellow": f.ring.yellow, "red": f.ring.red, "overdue": f.headline.overdue});
        self.chart(&mut panels, "ring", ring, &charts::ring::DRAWINGS, |_| {
            charts::ring::draw(&f.ring, f.headline.overdue)
        })?;
        self.chart(
            &mut panels,
            "departments",
            json!({ "rows": f.departments }),
            &charts::bars::DEPARTMENTS,
            |size| charts::bars::departments(&f.departments, size),
        )?;
        self.chart(
            &mut panels,
            "stages",
            json!({ "rows": f.stages }),
            &charts::bars::STAGES,
            |_| charts::bars::stages(&f.stages),
        )?;
        self.chart(
            &mut panels,
            "trend",
            json!({ "days": f.trend }),
            &charts::trend::DRAWINGS,
            |size| charts::trend::draw(&f.trend, size),
        )?;
        self.chart(
            &mut panels,
            "projects",
            json!({ "rows": f.projects }),
            &charts::projects::DRAWINGS,
            |_| charts::projects::draw(&f.projects),
        )?;
        Ok(panels)
    }

    /// Adds a chart panel: its data with `svg_url` (its drawing for the 1920×1080 stage)
    /// and `svgs` (every drawing, with the box it is drawn for, for the page to choose
    /// from), the drawings made only if the data changed. The SVGs themselves are fetched
    /// from those URLs (which change with them), so the websocket's messages stay small and
    /// every client's buffers with them.
    fn chart(
        &mut self,
        panels: &mut BTreeMap<&'static str, String>,
        name: &'static str,
        data: serde_json::Value,
        drawings: &[Drawing],
        draw: impl Fn((u32, u32)) -> Result<String, ChartError>,
    ) -> Result<(), ChartError> {
        let key = data.to_string();
        let text = match self.drawn.get(name) {
            Some(drawn) if drawn.from == key => drawn.panel.clone(),
            previous => {
                let drawn: Result<Vec<(&'static str, Chart)>, ChartError> = drawings
                    .iter()
                    .map(|d| Ok((d.file, Chart::new(draw(d.size)?))))
                    .collect();
                let drawn = match drawn {
                    Ok(drawn) => drawn,
                    // One chart failing must not freeze the rest of the screen: it keeps
                    // its last drawings (or is left out) and the error is logged.
                    Err(e) => {
                        tracing::error!(error = %e, "the chart keeps its last drawing");
                        if let Some(drawn) = previous {
                            panels.insert(name, drawn.panel.clone());
                        }
                        return Ok(());
                    }
                };
                let mut panel = data;
                let svgs: Vec<serde_json::Value> = drawn
                    .iter()
                    .zip(drawings)
                    .map(|((file, chart), d)| {
                        json!({"url": chart.url(file), "width": d.size.0, "height": d.size.1})
                    })
                    .collect();
                if let Some(first) = svgs.first() {
                    panel["svg_url"] = first["url"].clone();
                }
                panel["svgs"] = serde_json::Value::Array(svgs);
                let text = panel.to_string();
                self.drawn.insert(
                    name,
                    ChartPanel {
                        from: key,
                        panel: text.clone(),
                        charts: drawn,
                    },
                );
                text
            }
        };
        panels.insert(name, text);
        Ok(())
    }
}

/// The screens' calendar banner: how many open items are graded on a provisional year and
/// why, or else that the operator should add next year's holiday file.
fn calendar_line(shared: &Shared, today: NaiveDate, provisional: u64) -> Option<String> {
    let calendar = &shared.calendar;
    if provisional > 0 {
        // The provisional years an open item can reach: this one and those after it (or, of
        // a draft for a past year, that one).
        let (_, not_official) = calendar.official_and_provisional();
        let ahead: Vec<i32> = not_official
            .iter()
            .copied()
            .filter(|y| *y >= today.year())
            .collect();
        let years = if ahead.is_empty() {
            not_official
        } else {
            ahead
        };
        return Some(format!(
            "{provisional} 件期限暂定：{} 年节假日安排未发布，按放假办法推算，未含调休",
            years_text(&years)
        ));
    }
    let missing = calendar.missing_years(today, shared.config.remind_from);
    (!missing.is_empty()).then(|| {
        format!(
            "{} 年节假日安排尚未加载，请按国务院办公厅通知添加",
            years_text(&missing)
        )
    })
}

fn encode(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

fn feeds_json(shared: &Shared) -> String {
    let tz = shared.config.timezone;
    let health = shared.feed_health.snapshot();
    let feeds: Vec<serde_json::Value> = shared
        .config
        .feeds
        .iter()
        .filter(|f| f.enabled)
        .map(|f| {
            let h = health.get(&f.name).cloned().unwrap_or_default();
            // A healthy feed's entry does not change with each poll, so polls that bring
            // nothing new publish nothing; a stale one says since when and why.
            let mut entry = if h.stale {
                json!({
                    "name": f.name,
                    "stale": true,
                    "last_success": h.last_success.map(|t| t.with_timezone(&tz).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    "last_error": h.last_error,
                })
            } else {
                json!({ "name": f.name, "stale": false })
            };
            if h.ungraded > 0 {
                entry["ungraded"] = json!(h.ungraded);
            }
            entry
        })
        .collect();
    serde_json::Value::Array(feeds).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::warnings::ChannelDay;

    #[test]
    fn the_warnings_panel_keeps_every_channel_and_has_no_rate_before_a_warning() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default();
        let quiet: serde_json::Value =
            serde_json::from_str(&warnings_panel(day, &WarningCounts::default()))
                .unwrap_or_default();
        assert_eq!(
            quiet["channels"],
            json!([
                {"channel": "sms", "sent": 0, "pending": 0, "held": 0, "failed": 0},
                {"channel": "email", "sent": 0, "pending": 0, "held": 0, "failed": 0},
                {"channel": "robot", "sent": 0, "pending": 0, "held": 0, "failed": 0},
            ])
        );
        assert_eq!(quiet["answered_rate"], serde_json::Value::Null);
        let busy = WarningCounts {
            channels: vec![ChannelDay {
                channel: "email".to_owned(),
                sent: 3,
                pending: 0,
                held: 0,
                failed: 1,
            }],
            escalations: 2,
            escalated_items: 1,
            warned_items: 4,
            answered_items: 1,
        };
        let busy: serde_json::Value =
            serde_json::from_str(&warnings_panel(day, &busy)).unwrap_or_default();
        assert_eq!(busy["day"], "2026-11-25");
        assert_eq!(busy["channels"][1]["sent"], 3);
        assert_eq!(busy["channels"][1]["failed"], 1);
        assert_eq!(busy["channels"][0]["sent"], 0);
        assert_eq!(busy["answered_rate"], 0.25);
        assert_eq!(busy["escalations"], 2);
    }
}
