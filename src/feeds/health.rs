//! Each feed's health as the daemon sees it now: when it last succeeded, its failures in a
//! row and whether that makes it stale, and how many of its records wait for a holiday year.
//! The poller records each run, ingest sets the waiting counts, and the API, `/healthz`,
//! `/metrics` and the screens read copies; no caller holds the lock.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A feed's health as the daemon sees it now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FeedHealth {
    pub last_success: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub consecutive_failures: u32,
    pub stale: bool,
    /// Valid records in the quarantine that cannot be graded yet (a year whose holidays
    /// are not loaded): they are missing from every count until the year is added.
    pub ungraded: u64,
    /// Why, for one of them (it names the year and the file to add).
    pub ungraded_reason: Option<String>,
}

/// Every feed's health, by feed name. A feed that has not run yet is healthy.
#[derive(Debug, Default)]
pub struct FeedHealthBook {
    feeds: Mutex<BTreeMap<String, FeedHealth>>,
}

/// What recording a run did to a feed's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRecorded {
    pub was_stale: bool,
    pub stale: bool,
    pub consecutive_failures: u32,
    /// Records of the feed waiting for a holiday year (a run may have released them).
    pub ungraded: u64,
}

impl RunRecorded {
    /// Whether the feed turned stale or recovered: the screens show it.
    pub fn flipped(&self) -> bool {
        self.stale != self.was_stale
    }
}

impl FeedHealthBook {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, FeedHealth>> {
        self.feeds.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A run of `feed` that succeeded, finishing at `at`: its failures are forgiven. The
    /// last error stays, for the operator to read.
    pub fn record_success(&self, feed: &str, at: DateTime<Utc>) -> RunRecorded {
        let mut feeds = self.lock();
        let health = entry(&mut feeds, feed);
        let was_stale = health.stale;
        health.last_success = Some(at);
        health.consecutive_failures = 0;
        health.stale = false;
        recorded(was_stale, health)
    }

    /// A run of `feed` that failed with `error`: the feed is stale once it has failed
    /// `stale_after_missed_runs` runs in a row.
    pub fn record_failure(
        &self,
        feed: &str,
        error: Option<String>,
        stale_after_missed_runs: u32,
    ) -> RunRecorded {
        let mut feeds = self.lock();
        let health = entry(&mut feeds, feed);
        let was_stale = health.stale;
        health.last_error = error;
        health.consecutive_failures += 1;
        health.stale = health.consecutive_failures >= stale_after_missed_runs;
        recorded(was_stale, health)
    }

    /// Sets how many of `feed`'s records wait for a holiday year, and why; returns whether
    /// the count changed (the reason is kept only with a new count).
    pub fn set_ungraded(&self, feed: &str, count: u64, reason: Option<String>) -> bool {
        let mut feeds = self.lock();
        let health = entry(&mut feeds, feed);
        if health.ungraded == count {
            return false;
        }
        health.ungraded = count;
        health.ungraded_reason = reason;
        true
    }

    /// A copy of `feed`'s health (a healthy default for a feed that has not run).
    pub fn get(&self, feed: &str) -> FeedHealth {
        self.lock().get(feed).cloned().unwrap_or_default()
    }

    /// Whether `feed` is stale now.
    pub fn is_stale(&self, feed: &str) -> bool {
        self.lock().get(feed).is_some_and(|h| h.stale)
    }

    /// A copy of every feed's health that has been recorded, by name.
    pub fn snapshot(&self) -> BTreeMap<String, FeedHealth> {
        self.lock().clone()
    }
}

fn entry<'a>(feeds: &'a mut BTreeMap<String, FeedHealth>, feed: &str) -> &'a mut FeedHealth {
    feeds.entry(feed.to_owned()).or_default()
}

fn recorded(was_stale: bool, health: &FeedHealth) -> RunRecorded {
    RunRecorded {
        was_stale,
        stale: health.stale,
        consecutive_failures: health.consecutive_failures,
        ungraded: health.ungraded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 time")
            .to_utc()
    }

    #[test]
    fn a_feed_turns_stale_after_its_missed_runs_and_recovers_on_a_success() {
        let book = FeedHealthBook::default();
        assert!(!book.is_stale("a"), "a feed that has not run is healthy");
        let first = book.record_failure("a", Some("timeout".into()), 2);
        assert_eq!(
            (first.stale, first.flipped(), first.consecutive_failures),
            (false, false, 1)
        );
        let second = book.record_failure("a", Some("refused".into()), 2);
        assert!(second.stale && second.flipped());
        assert!(book.is_stale("a"));
        assert!(
            !book.record_failure("a", Some("reset".into()), 2).flipped(),
            "still stale"
        );
        let back = book.record_success("a", at("2026-11-25T10:00:00+08:00"));
        assert!(back.flipped() && !back.stale);
        let health = book.get("a");
        assert_eq!(health.consecutive_failures, 0);
        assert_eq!(health.last_success, Some(at("2026-11-25T10:00:00+08:00")));
        // The last error is kept for the operator, after the success too.
        assert_eq!(health.last_error.as_deref(), Some("reset"));
        assert!(!book.is_stale("b"), "feeds are apart");
    }

    #[test]
    fn the_ungraded_count_says_whether_it_changed() {
        let book = FeedHealthBook::default();
        assert!(
            !book.set_ungraded("a", 0, None),
            "no change from the default"
        );
        assert!(book.set_ungraded("a", 3, Some("2028 年节假日安排尚未加载".into())));
        assert!(
            !book.set_ungraded("a", 3, None),
            "the same count keeps its reason"
        );
        assert_eq!(
            book.get("a").ungraded_reason.as_deref(),
            Some("2028 年节假日安排尚未加载")
        );
        assert_eq!(
            book.record_success("a", at("2026-11-25T10:00:00+08:00"))
                .ungraded,
            3
        );
        assert_eq!(book.snapshot().len(), 1);
    }
}
