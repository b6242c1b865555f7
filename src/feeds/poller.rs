//! Runs one feed on its cron schedule: fetch (with retries and backoff when the failure may
//! pass), map and validate each record (bad ones to quarantine with field and reason), hand
//! the good ones to ingest, record the run, and keep the feed's health: a feed that misses
//! `stale_after_missed_runs` runs in a row is stale. Nothing a feed sends can stop the
//! daemon or the other feeds.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::health::RunRecorded;
use super::spec::{FeedSpec, Mapping, Source};
use super::{FetchError, Page, PageRecords, folder, http_json, sql};
use crate::claims::Claim;
use crate::ingest::{Assessed, Outcome, Shared};
use crate::item::{Bounds, Item};
use crate::store::feeds::{FeedRun, Quarantined};

/// Polls `spec` until shutdown.
pub async fn run(
    shared: Arc<Shared>,
    spec: FeedSpec,
    client: reqwest::Client,
    shutdown: CancellationToken,
) {
    let tz = shared.config.timezone;
    loop {
        // The schedule is reckoned on the daemon's clock, like the runs it dates.
        let Some(next) = next_run(&spec, tz, shared.clock.now()) else {
            tracing::warn!(feed = %spec.name, "the schedule has no further runs");
            return;
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = shared.clock.sleep_until_run(next) => {}
        }
        // A run is not cut off half-way by shutdown: it finishes its writes first. It runs as
        // its own task so that a panic in it fails that run, visibly, not the feed for good.
        let run = tokio::spawn({
            let (shared, spec, client, shutdown) = (
                shared.clone(),
                spec.clone(),
                client.clone(),
                shutdown.clone(),
            );
            async move { run_once(&shared, &spec, &client, &shutdown).await }
        });
        if let Err(e) = run.await {
            tracing::error!(feed = %spec.name, error = %e, "feed run panicked");
            let failed = FeedRun {
                feed: spec.name.clone(),
                started_at: shared.clock.now(),
                finished_at: shared.clock.now(),
                error: Some(format!("the run failed inside duban: {e}")),
                ..FeedRun::default()
            };
            settle(&shared, &spec, &failed).await;
        }
    }
}

/// One run: fetch every page, with up to `retries` more attempts for failures that may pass.
pub async fn run_once(
    shared: &Arc<Shared>,
    spec: &FeedSpec,
    client: &reqwest::Client,
    shutdown: &CancellationToken,
) -> FeedRun {
    // Runs are dated on the daemon's clock, like everything they store (quarantine entries,
    // grade changes), so that the screens' "last success" and the store agree with it.
    let started_at = shared.clock.now();
    let fresh = || FeedRun {
        feed: spec.name.clone(),
        started_at,
        ..FeedRun::default()
    };
    let mut run: FeedRun;
    let mut attempt = 0;
    let result = loop {
        // Counters start again with each attempt.
        run = fresh();
        let result = fetch_all(shared, spec, client, &mut run, shutdown).await;
        match result {
            Err(e) if e.retryable && attempt < spec.retries && !shutdown.is_cancelled() => {
                attempt += 1;
                let backoff = Duration::from_secs(1 << attempt.min(5));
                tracing::warn!(feed = %spec.name, attempt, error = %e, ?backoff, "feed fetch failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break Err(e),
                    () = tokio::time::sleep(backoff) => {}
                }
            }
            other => break other,
        }
    };
    run.finished_at = shared.clock.now();
    run.ok = result.is_ok();
    run.error = result.err().map(|e| e.message);
    settle(shared, spec, &run).await;
    run
}

/// Fetches every page and ingests it, counting into `run`.
async fn fetch_all(
    shared: &Arc<Shared>,
    spec: &FeedSpec,
    client: &reqwest::Client,
    run: &mut FeedRun,
    shutdown: &CancellationToken,
) -> Result<(), FetchError> {
    let since = shared.store.since(&spec.name).await.map_err(stored_error)?;
    let mut newest: Option<Mark> = None;
    let mut pager = match &spec.source {
        Source::HttpJson(http) => Pager::Http(http_json::Pager::new(
            http,
            client,
            since.clone(),
            spec.mapping.is_identity(),
        )),
        Source::Folder(dir) => Pager::Folder(folder::Pager::new(dir, &spec.mapping)?),
        Source::Sql(query) => Pager::Sql(Some(sql::fetch(query, since.as_deref()).await?)),
    };
    // Mapping and validating a page (and parsing an HTTP page's JSON) is done off the async
    // threads, and HTTP pages are fetched one ahead: while a page is written (the database
    // works on its own thread), the next one is downloaded, parsed and mapped on another. On
    // PostgreSQL two HTTP pages are written at once (see `http_pages`).
    let mapping = Arc::new(spec.mapping.clone());
    let horizon = shared.clock.now() + chrono::Duration::days(1);
    // Plausible dates are reckoned from the run's own instant, so that every record of a run
    // is held to the same bounds, and a test's or a replay's clock is the one that counts.
    let bounds = shared.config.records.as_of(run.started_at);
    let prepared = |page: Option<Page>| {
        let (shared, mapping, name) = (shared.clone(), mapping.clone(), spec.name.clone());
        async move {
            match page {
                None => Ok(None),
                Some(page) => tokio::task::spawn_blocking(move || {
                    prepare(&shared, &mapping, &name, page, horizon, &bounds)
                })
                .await
                .map(Some)
                .map_err(|e| FetchError::fatal(format!("mapping a page failed inside duban: {e}"))),
            }
        }
    };
    if let Pager::Folder(p) = &pager {
        for passed_over in p.passed_over() {
            note(run, passed_over.clone());
        }
    }
    let mut tally = |stored: Stored| {
        let Stored {
            outcome,
            newest: mark,
            note: page_note,
        } = stored;
        if mark
            .as_ref()
            .is_some_and(|m| newest.as_ref().is_none_or(|n| m.0 > n.0))
        {
            newest = mark;
        }
        if let Some(text) = page_note {
            note(run, text);
        }
        run.records_in += outcome.stored + outcome.unchanged + outcome.quarantined;
        run.records_ok += outcome.stored + outcome.unchanged;
        run.unchanged += outcome.unchanged;
        run.quarantined += outcome.quarantined;
    };
    // Folders and SQL results: a page at a time, on this task.
    let store_now = |page: Prepared| async {
        let claim = claim_page(shared, &page);
        store_page(shared, spec, page, claim)
            .await
            .map_err(stored_error)
    };
    match &mut pager {
        Pager::Http(p) => {
            // Each page is written by a task of its own, so that two pages' work in duban
            // (the board, the rows) runs on two threads.
            let owned = Arc::new(spec.clone());
            let store = |page| {
                // In line here, in the order the pages came; written in their own tasks.
                let claim = claim_page(shared, &page);
                let (shared, spec) = (shared.clone(), owned.clone());
                let task =
                    tokio::spawn(async move { store_page(&shared, &spec, page, claim).await });
                async move {
                    match task.await {
                        Ok(stored) => stored.map_err(stored_error),
                        Err(e) => Err(FetchError::fatal(format!(
                            "writing a page failed inside duban: {e}"
                        ))),
                    }
                }
            };
            http_pages(
                p,
                &prepared,
                store,
                shared.store.writes_at_once(),
                shutdown,
                tally,
            )
            .await?
        }
        Pager::Folder(p) => loop {
            if shutdown.is_cancelled() {
                return Err(interrupted());
            }
            let Some(page) = prepared(p.next_page()?).await? else {
                break;
            };
            tally(store_now(page).await?);
            p.done()?;
        },
        Pager::Sql(rows) => {
            if let Some(page) = prepared(rows.take()).await? {
                tally(store_now(page).await?);
            }
        }
    }
    if let Some((_, stamp)) = newest {
        shared
            .store
            .set_since(&spec.name, &stamp)
            .await
            .map_err(stored_error)?;
    }
    Ok(())
}

/// The newest `updated_at` of the usable records of a page: the instant, and the text as the
/// feed wrote it (what `since` is sent back as).
type Mark = (DateTime<FixedOffset>, String);

/// What a stored page adds to its run.
struct Stored {
    outcome: Outcome,
    /// The newest `updated_at` of its usable records.
    newest: Option<Mark>,
    /// What the run says about the page.
    note: Option<String>,
}

/// Adds a note to the run (shown with it in `/api/feeds`), and to the log.
fn note(run: &mut FeedRun, text: String) {
    tracing::warn!(feed = %run.feed, note = %text, "feed run note");
    run.notes.push(text);
}

/// A page that could not be stored: the run is tried again.
fn stored_error(e: crate::store::StoreError) -> FetchError {
    FetchError::retry(e.to_string())
}

/// What a run stopped by shutdown ends with: what was stored stays stored, and `since` does
/// not move, so the next run resumes.
fn interrupted() -> FetchError {
    FetchError::fatal("interrupted by shutdown; the next run picks up from here")
}

/// A page on its way: the pager it came from, free again, and the page mapped.
type Fetching<'p, 'a> = std::pin::Pin<
    Box<
        dyn Future<
                Output = (
                    &'p mut http_json::Pager<'a>,
                    Result<Option<Prepared>, FetchError>,
                ),
            > + Send
            + 'p,
    >,
>;

/// Stores HTTP pages in the order they come: the next page is downloaded and mapped while
/// earlier ones are written, and up to `at_once` are written at a time (pages that share an
/// item still go in order: `store` puts each in line, see `crate::claims`). On an error or
/// shutdown no new page starts, the pages being written finish, and the first error is
/// returned.
async fn http_pages<'p, 'a, P, S>(
    pager: &'p mut http_json::Pager<'a>,
    prepared: &'p (impl Fn(Option<Page>) -> P + Sync),
    store: impl Fn(Prepared) -> S,
    at_once: usize,
    shutdown: &CancellationToken,
    mut tally: impl FnMut(Stored),
) -> Result<(), FetchError>
where
    P: Future<Output = Result<Option<Prepared>, FetchError>> + Send + 'p,
    S: Future<Output = Result<Stored, FetchError>>,
{
    let fetch = |pager: &'p mut http_json::Pager<'a>| -> Fetching<'p, 'a> {
        Box::pin(async move {
            let page = match pager.next_page().await {
                Ok(page) => prepared(page).await,
                Err(e) => Err(e),
            };
            (pager, page)
        })
    };
    let mut writing = futures_util::stream::FuturesOrdered::new();
    let mut fetching = Some(fetch(pager));
    let mut idle = None;
    let mut ahead: Option<Prepared> = None;
    let mut failed: Option<FetchError> = None;
    loop {
        if failed.is_none() && shutdown.is_cancelled() {
            failed = Some(interrupted());
        }
        if failed.is_none() {
            if writing.len() < at_once
                && let Some(page) = ahead.take()
            {
                writing.push_back(store(page));
            }
            if ahead.is_none()
                && let Some(pager) = idle.take()
            {
                fetching = Some(fetch(pager));
            }
        } else {
            fetching = None;
        }
        if writing.is_empty() && fetching.is_none() {
            break;
        }
        tokio::select! {
            Some(stored) = futures_util::StreamExt::next(&mut writing), if !writing.is_empty() => {
                match stored {
                    Ok(done) => tally(done),
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
            (pager, page) = async { fetching.as_mut().expect("checked").await }, if fetching.is_some() => {
                fetching = None;
                match page {
                    Ok(Some(page)) => {
                        ahead = Some(page);
                        idle = Some(pager);
                    }
                    // The last page: the pager is not needed again.
                    Ok(None) => {}
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
        }
    }
    failed.map_or(Ok(()), Err)
}

/// Where one run's pages come from.
enum Pager<'a> {
    Http(http_json::Pager<'a>),
    Folder(folder::Pager<'a>),
    Sql(Option<Page>),
}

/// A page mapped, validated and assessed: the usable records, the refused ones, the
/// newest `updated_at` among the usable, and what the run says about the page.
struct Prepared {
    items: Vec<Assessed>,
    quarantine: Vec<Quarantined>,
    newest: Option<Mark>,
    note: Option<String>,
}

/// Maps, validates and assesses a page (CPU only: run off the async threads, while the
/// previous page is written). A record stamped more than a day ahead (past `horizon`) is
/// kept but does not move `since`: one wrong clock upstream must not hide later records.
/// One stamped further ahead than `bounds` allow is refused.
fn prepare(
    shared: &Shared,
    mapping: &Mapping,
    feed: &str,
    page: Page,
    horizon: DateTime<Utc>,
    bounds: &Bounds,
) -> Prepared {
    let mut items = Vec::with_capacity(page.len());
    let mut prepared = Prepared {
        items: Vec::new(),
        quarantine: page.refused,
        newest: None,
        note: page.note,
    };
    // Whether a usable record may set `since`, and is newer than the newest so far.
    let newer = |item: &Item, newest: &Option<Mark>| {
        if item.updated_at > horizon {
            tracing::warn!(%feed, item = %item.item_id, updated_at = %item.updated_at, "updated_at is in the future; not used for since");
            return false;
        }
        newest.as_ref().is_none_or(|n| item.updated_at > n.0)
    };
    match page.records {
        PageRecords::Values(records) => {
            let updated_field = mapping
                .fields
                .get("updated_at")
                .map_or("updated_at", String::as_str);
            for record in records {
                match mapping.record_to_item(&record, bounds) {
                    Ok(item) => {
                        // `since` goes back as the feed wrote it.
                        let stamp = record.get(updated_field).and_then(Value::as_str);
                        if let Some(stamp) = stamp
                            && newer(&item, &prepared.newest)
                        {
                            prepared.newest = Some((item.updated_at, stamp.to_owned()));
                        }
                        items.push(item);
                    }
                    // The record as the feed sent it, kept only when it is refused.
                    Err(e) => prepared.quarantine.push(Quarantined {
                        raw: record.to_string(),
                        item_id: e.item_id,
                        field: e.field,
                        reason: e.problem,
                    }),
                }
            }
        }
        PageRecords::Canonical { body, records } => {
            let mut newest_record = None;
            for range in records {
                let text = &body[range];
                // A record the strict reading refuses goes the mapping's way, which also
                // takes numbers written as text, and names the field when it refuses.
                let mapped =
                    crate::item::parse_record(text, bounds).or_else(
                        |e| match serde_json::from_str::<Value>(text) {
                            Ok(record) => mapping.record_to_item(&record, bounds),
                            Err(_) => Err(e),
                        },
                    );
                match mapped {
                    Ok(item) => {
                        if newer(&item, &prepared.newest) {
                            // The text is read once the page's newest is known.
                            prepared.newest = Some((item.updated_at, String::new()));
                            newest_record = Some(text);
                        }
                        items.push(item);
                    }
                    Err(e) => prepared.quarantine.push(Quarantined {
                        raw: text.to_owned(),
                        item_id: e.item_id,
                        field: e.field,
                        reason: e.problem,
                    }),
                }
            }
            // Read as a value, as the mapping read it (a key sent twice: the last one).
            prepared.newest = prepared
                .newest
                .zip(newest_record)
                .and_then(|((at, _), text)| {
                    let record: Value = serde_json::from_str(text).ok()?;
                    Some((at, record.get("updated_at")?.as_str()?.to_owned()))
                });
        }
    }
    prepared.items = shared.assess(feed, items);
    prepared
}

/// A page's place in line to be written (see `crate::claims`), with the ids of its items and
/// of its refused records (the raw text of those without one). Held until its quarantine is
/// written too: a later page's good record for an item refused here must release the entry
/// after it is written, not before.
fn claim_page(shared: &Shared, page: &Prepared) -> Claim {
    shared.claims.enqueue(
        page.items.iter().map(Assessed::item_id).chain(
            page.quarantine
                .iter()
                .map(|q| q.item_id.as_deref().unwrap_or(&q.raw)),
        ),
    )
}

/// Ingests a prepared page once its `claim` is ready, and quarantines what cannot be used
/// (refused records, and items that cannot be graded).
async fn store_page(
    shared: &Shared,
    spec: &FeedSpec,
    page: Prepared,
    claim: Claim,
) -> Result<Stored, crate::store::StoreError> {
    let Prepared {
        items,
        mut quarantine,
        newest,
        note,
    } = page;
    claim.ready().await;
    let (mut outcome, unusable) = shared.ingest_assessed(&spec.name, items, &claim).await?;
    quarantine.extend(unusable);
    outcome.quarantined = quarantine.len() as u64;
    shared
        .store
        .quarantine(&spec.name, &quarantine, shared.clock.now())
        .await?;
    Ok(Stored {
        outcome,
        newest,
        note,
    })
}

/// Records the run and updates the feed's health and counters.
async fn settle(shared: &Shared, spec: &FeedSpec, run: &FeedRun) {
    if let Err(e) = shared.store.record_run(run).await {
        tracing::error!(feed = %spec.name, error = %e, "cannot record the feed run");
    }
    shared.metrics.feed_run(
        &spec.name,
        run.ok,
        run.records_in,
        run.records_ok - run.unchanged,
        run.unchanged,
        run.quarantined,
    );
    let health = update_health(shared, spec, run);
    // A feed turning stale or recovering is shown on the screens.
    if health.flipped() {
        shared.live.notify_one();
    }
    // Only a run that quarantined something, or that may have released what waited, can
    // change the count.
    if run.quarantined > 0 || health.ungraded > 0 {
        shared.count_ungraded(&spec.name).await;
    }
}

/// Records the run in the feed's health, and logs it.
fn update_health(shared: &Shared, spec: &FeedSpec, run: &FeedRun) -> RunRecorded {
    if run.ok {
        tracing::info!(
            feed = %spec.name, records = run.records_in, unchanged = run.unchanged,
            quarantined = run.quarantined, "feed run done"
        );
        return shared
            .feed_health
            .record_success(&spec.name, run.finished_at);
    }
    let health = shared.feed_health.record_failure(
        &spec.name,
        run.error.clone(),
        spec.stale_after_missed_runs,
    );
    if health.stale && !health.was_stale {
        tracing::error!(feed = %spec.name, failures = health.consecutive_failures, "feed is stale");
    }
    tracing::warn!(feed = %spec.name, error = run.error.as_deref().unwrap_or(""), "feed run failed");
    health
}

/// When a feed is due next after `now` (the daemon's clock): the poller's wait, and what
/// `/api/feeds` shows.
pub fn next_run(spec: &FeedSpec, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    spec.schedule
        .after(&now.with_timezone(&tz))
        .next()
        .map(|t| t.with_timezone(&Utc))
}
