//! Counters for `/metrics`, in the Prometheus text format: feed runs, records in, stored,
//! unchanged and quarantined per feed, grade changes, HTTP requests. Gauges (items by grade,
//! feed staleness) are read from the board and the feed health when scraped; the open
//! connections and websockets are counted as they come and go.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::grading::Grade;

#[derive(Default)]
pub struct Metrics {
    feeds: Mutex<BTreeMap<String, FeedCounters>>,
    grade_changes: [AtomicU64; 3],
    http_requests: Mutex<BTreeMap<(String, u16), u64>>,
    ws_clients: std::sync::atomic::AtomicI64,
    http_connections: std::sync::atomic::AtomicI64,
    /// Warnings by channel and what happened (queued, held, sent, retried, failed,
    /// delivered, undelivered).
    warnings: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

#[derive(Default, Clone, Copy)]
struct FeedCounters {
    runs_ok: u64,
    runs_failed: u64,
    records_in: u64,
    stored: u64,
    unchanged: u64,
    quarantined: u64,
}

impl Metrics {
    pub fn feed_run(
        &self,
        feed: &str,
        ok: bool,
        records_in: u64,
        stored: u64,
        unchanged: u64,
        quarantined: u64,
    ) {
        let mut feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner());
        let c = feeds.entry(feed.to_owned()).or_default();
        if ok {
            c.runs_ok += 1;
        } else {
            c.runs_failed += 1;
        }
        c.records_in += records_in;
        c.stored += stored;
        c.unchanged += unchanged;
        c.quarantined += quarantined;
    }

    pub fn count_grades<'a>(&self, events: impl Iterator<Item = &'a crate::ledger::GradeEvent>) {
        for event in events {
            self.grade_changes[event.to as usize].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A warning message on `channel` was queued, held, sent, retried, failed, delivered…
    pub fn count_warning(&self, channel: crate::warnings::message::Channel, event: &'static str) {
        let mut map = self.warnings.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((channel.as_str(), event)).or_default() += 1;
    }

    /// A websocket client connected (+1) or left (-1).
    pub fn ws_clients(&self, change: i64) {
        self.ws_clients.fetch_add(change, Ordering::Relaxed);
    }

    /// An HTTP connection opened (+1) or closed (-1).
    pub fn http_connections(&self, change: i64) {
        self.http_connections.fetch_add(change, Ordering::Relaxed);
    }

    /// The HTTP connections open now, websockets included.
    pub fn open_connections(&self) -> i64 {
        self.http_connections.load(Ordering::Relaxed)
    }

    pub fn http(&self, route: &str, status: u16) {
        let mut map = self.http_requests.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((route.to_owned(), status)).or_default() += 1;
    }

    /// The exposition text; `items` are open items by grade, `stale` each feed's staleness.
    pub fn render(&self, items: [u64; 3], stale: &[(String, bool)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP duban_items Pending and paused items by grade.\n# TYPE duban_items gauge"
        );
        for (g, n) in Grade::ALL.iter().zip(items) {
            let _ = writeln!(out, "duban_items{{grade=\"{}\"}} {n}", g.as_str());
        }
        let _ = writeln!(
            out,
            "# HELP duban_grade_changes_total Grade changes, by the grade reached.\n# TYPE duban_grade_changes_total counter"
        );
        for (g, n) in Grade::ALL.iter().zip(&self.grade_changes) {
            let _ = writeln!(
                out,
                "duban_grade_changes_total{{grade=\"{}\"}} {}",
                g.as_str(),
                n.load(Ordering::Relaxed)
            );
        }
        let feeds = self.feeds.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let _ = writeln!(
            out,
            "# HELP duban_feed_runs_total Feed runs by result.\n# TYPE duban_feed_runs_total counter"
        );
        for (feed, c) in &feeds {
            let _ = writeln!(
                out,
                "duban_feed_runs_total{{feed=\"{feed}\",result=\"ok\"}} {}",
                c.runs_ok
            );
            let _ = writeln!(
                out,
                "duban_feed_runs_total{{feed=\"{feed}\",result=\"failed\"}} {}",
                c.runs_failed
            );
        }
        type Series = (&'static str, &'static str, fn(&FeedCounters) -> u64);
        let series: [Series; 4] = [
            ("duban_feed_records_total", "Records received.", |c| {
                c.records_in
            }),
            (
                "duban_feed_stored_total",
                "New or changed records stored.",
                |c| c.stored,
            ),
            (
                "duban_feed_unchanged_total",
                "Records identical to the stored ones.",
                |c| c.unchanged,
            ),
            (
                "duban_feed_quarantined_total",
                "Records quarantined.",
                |c| c.quarantined,
            ),
        ];
        for (name, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (feed, c) in &feeds {
                let _ = writeln!(out, "{name}{{feed=\"{feed}\"}} {}", value(c));
            }
        }
        let _ = writeln!(
            out,
            "# HELP duban_feed_stale Whether a feed has missed too many runs.\n# TYPE duban_feed_stale gauge"
        );
        for (feed, is_stale) in stale {
            let _ = writeln!(
                out,
                "duban_feed_stale{{feed=\"{feed}\"}} {}",
                u8::from(*is_stale)
            );
        }
        let _ = writeln!(
            out,
            "# HELP duban_http_requests_total HTTP requests by route and status.\n# TYPE duban_http_requests_total counter"
        );
        for ((route, status), n) in self
            .http_requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "duban_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP duban_warnings_total Warning messages by channel and event (queued, held by the quiet hours, sent = accepted by the provider, retried, failed, delivered and undelivered by the provider's receipt).\n# TYPE duban_warnings_total counter"
        );
        for ((channel, event), n) in self
            .warnings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "duban_warnings_total{{channel=\"{channel}\",event=\"{event}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP duban_ws_clients Open websocket connections (screens and pages).\n# TYPE duban_ws_clients gauge\nduban_ws_clients {}",
            self.ws_clients.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP duban_http_connections Open HTTP connections, websockets included (at most [server] max_connections).\n# TYPE duban_http_connections gauge\nduban_http_connections {}",
            self.open_connections()
        );
        out
    }
}
