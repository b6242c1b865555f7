//! The daemon's shared state and the one path by which grades change: new or changed records
//! from a feed, items whose next-change instant has come, and start-up's catch-up after a
//! downtime. Each grades on the board, works out its grade events (`board::grade_events`),
//! writes the store (items, pauses and the log's versions and events: one transaction on
//! SQLite; on PostgreSQL a large page's items with their log and the rest are two, see
//! `Store::write_items`), and only then updates the board, so
//! the board never shows what is not stored. One page is checked against the board at a
//! time; on PostgreSQL two may then be written at once, kept in order by their claims on
//! item ids (`crate::claims`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Notify;

use crate::board::{Assessment, Board, Graded, Trigger};
use crate::calendar::{Calendar, CalendarError};
use crate::canonical::record_hash;
use crate::claims::{Claim, Claims};
use crate::clock::Clock;
use crate::config::Config;
use crate::feeds::health::FeedHealthBook;
use crate::item::Item;
use crate::metrics::Metrics;
use crate::store::feeds::Quarantined;
use crate::store::items::{GradeUpdate, ItemRow, ItemWrite};
use crate::store::{Store, StoreError};

pub struct Shared {
    pub config: Config,
    pub calendar: Calendar,
    pub store: Store,
    pub clock: Clock,
    /// Fair when asked (`unlock_fair`): the screens walk a large board in slices, and a
    /// lock that the walker takes back at once would keep the API waiting for the whole walk.
    pub board: parking_lot::Mutex<Board>,
    /// Held while a page is checked against the board, and while grades are written, so the
    /// store and the board change in the same order: on SQLite through each write; on
    /// PostgreSQL, which can take two at once, a page's write goes on without it, apart from
    /// any other page's by their claims (`crate::claims`), and a regrade waits for such
    /// writes.
    pub writer: tokio::sync::Mutex<()>,
    /// The pages being written, with their item ids, and the writes under way.
    pub claims: Arc<Claims>,
    /// Rung when the board changed, so the grader recomputes its next wake-up.
    pub changed: Notify,
    /// Rung when the board or a feed's health changed, so the screens are recounted.
    pub live: Notify,
    /// Rung when changes were written to the ledger's log, so the warning rules read them.
    pub logged: Notify,
    /// Rung when messages were queued, so the outbox's worker claims them.
    pub outbox: Notify,
    /// The warnings' senders, built at start-up when warnings are on (the receipt hooks
    /// and `duban warnings test` use them too).
    pub senders: std::sync::OnceLock<Arc<crate::warnings::outbox::Senders>>,
    pub hub: crate::live::hub::Hub,
    /// Cancelled when the daemon stops: websocket clients are told and closed.
    pub stopping: tokio_util::sync::CancellationToken,
    /// The websocket clients' tasks (spawned by the server on upgrade, outside the daemon's
    /// own tasks): shutdown waits for them to say goodbye.
    pub ws_tasks: tokio_util::task::TaskTracker,
    pub metrics: Metrics,
    /// Each feed's health: kept by the poller and `count_ungraded`, read by the API and
    /// the screens.
    pub feed_health: FeedHealthBook,
    /// The screens' `ranking` panel as last computed (`rankings::panel`).
    pub ranking_panel: parking_lot::Mutex<Option<String>>,
}

/// What one page of records came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub stored: u64,
    pub unchanged: u64,
    pub quarantined: u64,
}

impl Shared {
    /// Replaces the screens' `ranking` panel (the live task sends it with the next frame).
    pub fn set_ranking_panel(&self, panel: String) {
        *self.ranking_panel.lock() = Some(panel);
    }

    pub fn board(&self) -> parking_lot::MutexGuard<'_, Board> {
        self.board.lock()
    }

    /// Builds the board from the store at start-up, grading every item as of now.
    pub async fn load_board(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let tz = self.config.timezone;
        // A deadline that moved since the last start is the calendar's doing when the
        // calendar changed and the zone did not (a zone moves local dates too). A store
        // from before these were kept says nothing, and is taken as changed.
        let fingerprint = self.calendar.fingerprint();
        let calendar_changed = self.store.meta("calendar").await?.as_deref() != Some(&fingerprint);
        let same_zone = self
            .store
            .meta("timezone")
            .await?
            .is_none_or(|zone| zone == tz.name());
        let record_moves = calendar_changed && same_zone;
        let today = now.with_timezone(&tz).date_naive();
        // Items whose stored grading is out of date (grade or next change): written back.
        let mut changed: Vec<Graded> = Vec::new();
        let mut unchanged: Vec<Graded> = Vec::new();
        self.store
            .for_each_project(|code, name, category| {
                self.board().names_mut().name_project(code, name, category);
            })
            .await?;
        self.store
            .for_each_item(|s| {
                let thresholds = self.config.grading.thresholds_for(&s.item.matter, &s.item.department);
                let mut board = self.board();
                match board.grade(&s.item, s.hash, thresholds, &self.calendar, tz, today) {
                    Ok(mut g) => {
                        g.entry.version = s.version;
                        // Only the calendar moves a deadline between two starts (the record
                        // is the one stored), unless an open pause moves it every day.
                        let deadline = g.entry.grading.deadline_date;
                        if record_moves
                            && g.entry.clock.paused_since.is_none()
                            && s.deadline.is_some_and(|d| d != deadline)
                        {
                            g.deadline_moved_from = s.deadline;
                        }
                        if s.grade != g.entry.grading.grade {
                            // Changed while duban was down: each change at its midnight.
                            let next_on = s.next_change.map(|t| t.with_timezone(&tz).date_naive());
                            let trigger = if calendar_changed { Trigger::Calendar } else { Trigger::Clock };
                            g.previous = Some(s.grade);
                            changed.push(g.with_events(next_on, trigger, &self.calendar, tz, now));
                        } else if s.next_change != g.next_change() || g.deadline_moved_from.is_some() {
                            // Same grade, another next change (thresholds or holidays edited):
                            // stored, so that a later downtime's walk starts from the right day.
                            changed.push(g);
                        } else {
                            unchanged.push(g);
                        }
                    }
                    Err(e) => tracing::warn!(item = %s.item.item_id, error = %e, "stored item cannot be graded"),
                }
                if unchanged.len() >= 10_000 {
                    drop(board);
                    self.board().commit(unchanged.drain(..));
                }
            })
            .await?;
        self.board().commit(unchanged);
        // Grades that changed while the daemon was down are written now, with their history.
        if !changed.is_empty() {
            tracing::info!(items = changed.len(), "stored gradings brought up to date");
        }
        let updates: Vec<GradeUpdate> = changed.iter().map(GradeUpdate::from).collect();
        self.store.regrade_items(&updates, now).await?;
        drop(updates);
        self.store.set_meta("calendar", &fingerprint).await?;
        self.store.set_meta("timezone", tz.name()).await?;
        self.board().commit(changed);
        self.changed.notify_one();
        self.logged.notify_one();
        Ok(self.board().len())
    }

    /// Counts `feed`'s records that wait for a holiday year (`FeedHealth::ungraded`), for
    /// the screens' banner and `/healthz`; the screens are recounted when it changed.
    pub async fn count_ungraded(&self, feed: &str) {
        let (n, reason) = match self.store.ungraded_count(feed).await {
            Ok(counted) => counted,
            Err(e) => {
                tracing::warn!(feed, error = %e, "cannot count the records waiting for a holiday year");
                return;
            }
        };
        if !self.feed_health.set_ungraded(feed, n, reason.clone()) {
            return;
        }
        if n > 0 {
            tracing::error!(
                feed,
                records = n,
                reason = reason.as_deref().unwrap_or(""),
                "records cannot be graded and are left out of every count until their year's holidays are loaded"
            );
        }
        self.live.notify_one();
    }

    /// Tries again the records quarantined because a date fell in a year not loaded: after
    /// an operator adds that year's holiday file and restarts, they come back. Returns how
    /// many were stored.
    pub async fn replay_ungraded(&self) -> Result<u64, StoreError> {
        let mut by_feed: BTreeMap<String, Vec<Item>> = BTreeMap::new();
        let bounds = self.config.records.as_of(self.clock.now());
        for (feed, raw) in self.store.ungraded().await? {
            if let Ok(item) = crate::item::parse_record(&raw, &bounds) {
                by_feed.entry(feed).or_default().push(item);
            }
        }
        let mut stored = 0;
        for (feed, items) in by_feed {
            stored += self.ingest(&feed, items).await?.0.stored;
        }
        Ok(stored)
    }

    /// Hashes records of `feed`, and grades and renders the store rows of those the board
    /// does not already hold: the part of an ingest that needs no writer, so that a feed can
    /// do it for a page off the async threads while the previous page is being written. A
    /// record the board holds costs its hash (a feed that sends everything every time is
    /// then cheap); `ingest_assessed` checks again under the writer's lock.
    pub fn assess(&self, feed: &str, items: Vec<Item>) -> Vec<Assessed> {
        let today = self
            .clock
            .now()
            .with_timezone(&self.config.timezone)
            .date_naive();
        let hashes: Vec<u64> = items.iter().map(record_hash).collect();
        let known: Vec<bool> = {
            let board = self.board();
            items
                .iter()
                .zip(&hashes)
                .map(|(item, &hash)| already_stored(&board, item, hash))
                .collect()
        };
        items
            .into_iter()
            .zip(hashes)
            .zip(known)
            .map(|((item, hash), known)| Assessed {
                assessment: (!known).then(|| (today, self.assess_one(feed, &item, hash, today))),
                item,
                hash,
            })
            .collect()
    }

    /// Grades one record on `today` and renders its store row.
    fn assess_one(&self, feed: &str, item: &Item, hash: u64, today: NaiveDate) -> AssessedRow {
        let thresholds = self
            .config
            .grading
            .thresholds_for(&item.matter, &item.department);
        let tz = self.config.timezone;
        Assessment::new(item, hash, thresholds, &self.calendar, tz, today).map(|a| {
            let row = self
                .store
                .item_row(item, feed, a.hash, &a.grading, a.next_change());
            (a, row)
        })
    }

    /// `assess`, then `ingest_assessed`.
    pub async fn ingest(
        &self,
        feed: &str,
        items: Vec<Item>,
    ) -> Result<(Outcome, Vec<Quarantined>), StoreError> {
        let claim = self
            .claims
            .enqueue(items.iter().map(|i| i.item_id.as_str()));
        claim.ready().await;
        let assessed = self.assess(feed, items);
        self.ingest_assessed(feed, assessed, &claim).await
    }

    /// Stores new and changed records of `feed` and puts them on the board; unchanged ones
    /// are counted and left. Items that cannot be graded (a date beyond the loaded calendar years)
    /// are returned for quarantine. The records' ids must be claimed, and the claim ready.
    pub async fn ingest_assessed(
        &self,
        feed: &str,
        records: Vec<Assessed>,
        _claim: &Claim,
    ) -> Result<(Outcome, Vec<Quarantined>), StoreError> {
        let writer = self.writer.lock().await;
        let now = self.clock.now();
        let tz = self.config.timezone;
        let today = now.with_timezone(&tz).date_naive();
        let feed_name: Arc<str> = Arc::from(feed);
        let mut outcome = Outcome::default();
        let mut quarantine = Vec::new();
        let mut graded: Vec<(Item, Graded, ItemRow, DateTime<Utc>)> = Vec::new();
        {
            let mut board = self.board();
            for record in newest_per_item(records, &mut outcome) {
                let Assessed {
                    item,
                    hash,
                    assessment,
                } = record;
                if already_stored(&board, &item, hash) {
                    outcome.unchanged += 1;
                    continue;
                }
                // Assessed on another day (a page read just before midnight), or not at all
                // (it looked stored then): graded now.
                let assessment = match assessment {
                    Some((on, assessment)) if on == today => assessment,
                    _ => self.assess_one(feed, &item, hash, today),
                };
                match assessment {
                    Ok((a, row)) => {
                        let took_effect = crate::ledger::took_effect(item.updated_at.to_utc(), now);
                        let before = board
                            .get(&item.item_id)
                            .and_then(|e| e.grading.next_change_on);
                        let trigger = Trigger::Feed {
                            feed: &feed_name,
                            took_effect,
                        };
                        let g = board.graded(&item, a).with_events(
                            before,
                            trigger,
                            &self.calendar,
                            tz,
                            now,
                        );
                        graded.push((item, g, row, took_effect));
                    }
                    Err(e) => quarantine.push(Quarantined {
                        item_id: Some(item.item_id.clone()),
                        field: String::new(),
                        reason: e.to_string(),
                        // The record was valid: its canonical form is what is kept.
                        raw: serde_json::to_string(&item).unwrap_or_default(),
                    }),
                }
            }
        }
        let writing = self.claims.writing();
        let _writer = if self.store.writes_at_once() > 1 {
            drop(writer);
            None
        } else {
            Some(writer)
        };
        let writes: Vec<ItemWrite> = graded
            .iter()
            .map(|(item, g, row, took_effect)| ItemWrite {
                item,
                row,
                version: g.entry.version,
                took_effect: *took_effect,
                events: &g.events,
            })
            .collect();
        // Items, pauses, their versions and grade events in the log, and the release of their
        // old quarantine entries, all stored before the board is updated, so the board never
        // shows what is not stored.
        self.store.write_items(&writes, feed, now).await?;
        drop(writes);
        outcome.stored = graded.len() as u64;
        outcome.quarantined = quarantine.len() as u64;
        self.metrics
            .count_grades(graded.iter().flat_map(|(_, g, _, _)| &g.events));
        if !graded.is_empty() {
            let (records, entries): (Vec<_>, Vec<_>) = graded
                .into_iter()
                .map(|(item, g, row, _)| ((item, row), g))
                .unzip();
            // Freeing a large page's records (tens of thousands of strings, ~2 ms for 5,000)
            // is left to a blocking thread: the writer goes on with the next page.
            if records.len() >= FREE_ASIDE_FROM {
                tokio::task::spawn_blocking(move || drop(records));
            }
            self.board().commit(entries);
            self.changed.notify_one();
            self.live.notify_one();
            self.logged.notify_one();
        }
        drop(writing);
        Ok((outcome, quarantine))
    }

    /// Re-grades the items whose next change has come, and writes what changed.
    pub async fn regrade_due(&self) -> Result<usize, StoreError> {
        // The grader asks after every change to the board, mostly with nothing due: that
        // answer needs neither the writer's lock nor the writes under way to end (waiting
        // for them each time kept PostgreSQL from ever writing two pages at once).
        let due_at = self.board().next_instant();
        if due_at.is_none_or(|at| at > self.clock.now()) {
            return Ok(0);
        }
        let _writer = self.writer.lock().await;
        // A page still being written may hold a due item's new record: its write ends
        // without the writer's lock.
        self.claims.writes_landed().await;
        let now = self.clock.now();
        let due = self.board().due(now, &self.calendar, self.config.timezone);
        if due.is_empty() {
            return Ok(0);
        }
        let mut graded = Vec::with_capacity(due.len());
        for result in due {
            match result {
                Ok(g) => graded.push(g),
                Err((item_id, e)) => {
                    tracing::warn!(item = %item_id, error = %e, "cannot re-grade; unscheduled");
                    self.board().unschedule(&item_id);
                }
            }
        }
        let updates: Vec<GradeUpdate> = graded.iter().map(GradeUpdate::from).collect();
        let changed = self.store.regrade_items(&updates, now).await?;
        self.metrics
            .count_grades(graded.iter().flat_map(|g| &g.events));
        self.board().commit(graded);
        self.live.notify_one();
        self.logged.notify_one();
        Ok(changed)
    }
}

/// Pages of this many stored records are freed off the writer's path.
const FREE_ASIDE_FROM: usize = 1_000;

/// A record of a feed as `Shared::assess` left it: the item, its hash, and the day it was
/// graded on with its assessment and store row, or why it cannot be graded (`None`: not
/// graded, the board held the record then).
pub struct Assessed {
    item: Item,
    hash: u64,
    assessment: Option<(NaiveDate, AssessedRow)>,
}

impl Assessed {
    pub fn item_id(&self) -> &str {
        &self.item.item_id
    }
}

/// One record graded, with its store row, or why it cannot be.
type AssessedRow = Result<(Assessment, ItemRow), CalendarError>;

/// The same record again, or an older version of one the board holds (a late file, a
/// replay): nothing to write.
fn already_stored(board: &Board, item: &Item, hash: u64) -> bool {
    board
        .get(&item.item_id)
        .is_some_and(|e| e.hash == hash || item.updated_at.timestamp() < e.updated_at)
}

/// One record per item: a page (a CSV file, a change log) may hold several versions of an item;
/// the newest `updated_at` wins, the later one on a tie. The others count as unchanged.
fn newest_per_item(items: Vec<Assessed>, outcome: &mut Outcome) -> Vec<Assessed> {
    // Which position holds each item's newest version (keys borrowed: no copies).
    let mut newest: foldhash::HashMap<&str, usize> =
        foldhash::HashMap::with_capacity_and_hasher(items.len(), Default::default());
    for (at, Assessed { item, .. }) in items.iter().enumerate() {
        newest
            .entry(item.item_id.as_str())
            .and_modify(|kept| {
                if item.updated_at >= items[*kept].item.updated_at {
                    *kept = at;
                }
            })
            .or_insert(at);
    }
    if newest.len() == items.len() {
        return items;
    }
    let mut keep = vec![false; items.len()];
    for at in newest.into_values() {
        keep[at] = true;
    }
    outcome.unchanged += (items.len() - keep.iter().filter(|k| **k).count()) as u64;
    items
        .into_iter()
        .zip(keep)
        .filter_map(|(item, keep)| keep.then_some(item))
        .collect()
}
