//! The hub: the newest encoded state of every panel, a `seq` that grows by one with each
//! update, the last updates for clients that resume with `since`, every connected client's
//! outlet, and a latest-wins signal (a `watch` holding only the newest seq) that the
//! delivery waits on. Messages are encoded and framed once here and shared by all clients
//! (`Framed`, reference-counted), so a thousand screens cost one encoding, and a slow client
//! only ever skips ahead.

use std::collections::{BTreeMap, VecDeque};
use std::sync::RwLock;

use tokio::sync::watch;

use super::frames::Framed;
use super::outlet::Outlets;

/// Updates kept for clients that reconnect with `since`.
pub const KEPT_UPDATES: usize = 64;

/// What the live task hands over after counting and drawing.
pub struct Frame {
    /// RFC 3339 time the figures were computed.
    pub data_time: String,
    /// The `feeds` array, encoded.
    pub feeds: String,
    /// Every panel, encoded as a JSON object.
    pub panels: BTreeMap<&'static str, String>,
    /// The chart of each chart panel, served at the panel's `svg_url`.
    pub charts: BTreeMap<&'static str, Chart>,
}

/// One drawn chart, shared by every request for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// A hash of the SVG: part of the URL, so a browser caches each drawing once and a new
    /// drawing has a new URL.
    pub version: String,
    pub svg: axum::body::Bytes,
}

impl Chart {
    pub fn new(svg: String) -> Self {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: the same drawing has the same version in every run.
        let mut hasher = std::hash::DefaultHasher::new();
        svg.hash(&mut hasher);
        Self {
            version: format!("{:016x}", hasher.finish()),
            svg: axum::body::Bytes::from(svg),
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("/live/charts/{name}.svg?v={}", self.version)
    }
}

pub struct Hub {
    state: RwLock<State>,
    latest: watch::Sender<u64>,
    pub outlets: Outlets,
}

#[derive(Default)]
struct State {
    /// Starts at the Unix time in milliseconds when the hub was made and grows by one per
    /// update (at most one per 150 ms), so a `since` from an earlier run of the server is
    /// always below the first seq of this one and is answered with a snapshot.
    seq: u64,
    /// The seq of the first update published.
    first: Option<u64>,
    data_time: String,
    feeds: String,
    panels: BTreeMap<&'static str, String>,
    charts: BTreeMap<&'static str, Chart>,
    /// The snapshot of `seq`, built when the first client asks for it.
    snapshot: Option<Framed>,
    recent: VecDeque<(u64, Framed)>,
}

impl Default for Hub {
    fn default() -> Self {
        let start = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        Self {
            state: RwLock::new(State {
                seq: start,
                ..State::default()
            }),
            latest: watch::Sender::new(start),
            outlets: Outlets::default(),
        }
    }
}

impl Hub {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a new frame. Only the panels that differ from the last frame go into the
    /// update; a frame that changes nothing but the time is published only when `force`
    /// (so "数据更新于" moves while nothing else does). Returns the new seq, if published.
    pub fn publish(&self, frame: Frame, force: bool) -> Option<u64> {
        let mut state = self.write();
        let changed: Vec<(&'static str, &String)> = frame
            .panels
            .iter()
            .filter(|(name, text)| state.panels.get(*name) != Some(*text))
            .map(|(name, text)| (*name, text))
            .collect();
        // The charts are in place before any client hears of their URLs.
        state.charts = frame.charts;
        if changed.is_empty() && frame.feeds == state.feeds && !force {
            return None;
        }
        let seq = state.seq + 1;
        state.first.get_or_insert(seq);
        let update = encode(
            "update",
            seq,
            &frame.data_time,
            &frame.feeds,
            changed.into_iter(),
        );
        state.seq = seq;
        state.recent.push_back((seq, Framed::text(&update)));
        if state.recent.len() > KEPT_UPDATES {
            state.recent.pop_front();
        }
        state.data_time = frame.data_time;
        state.feeds = frame.feeds;
        state.panels = frame.panels;
        state.snapshot = None;
        drop(state);
        self.latest.send_replace(seq);
        Some(seq)
    }

    /// Writes the updates after `delivered`, in order, to every client that can take them
    /// now, and wakes the tasks of the others (see `outlet`); returns the newest seq
    /// delivered. When the updates after `delivered` are no longer all held (or at the
    /// first delivery), only the newest is written, and the clients behind catch up.
    pub async fn deliver_after(&self, delivered: u64) -> u64 {
        let updates = self.since(delivered).unwrap_or_else(|| {
            let state = self.read();
            state.recent.back().cloned().into_iter().collect()
        });
        let mut newest = delivered;
        for (seq, update) in updates {
            self.outlets.deliver(seq, update.bytes()).await;
            newest = seq;
        }
        newest
    }

    /// The newest drawing of a chart.
    pub fn chart(&self, name: &str) -> Option<Chart> {
        self.read().charts.get(name).cloned()
    }

    /// The newest seq; the delivery waits on it changing.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.latest.subscribe()
    }

    /// Whether anything was published yet.
    pub fn is_ready(&self) -> bool {
        self.read().first.is_some()
    }

    /// The snapshot of the newest state and its seq.
    pub fn snapshot(&self) -> (u64, Framed) {
        {
            let state = self.read();
            if let Some(s) = &state.snapshot {
                return (state.seq, s.clone());
            }
        }
        let mut state = self.write();
        // Another client may have built it while this one waited for the lock.
        if let Some(s) = &state.snapshot {
            return (state.seq, s.clone());
        }
        let text = Framed::text(&encode(
            "snapshot",
            state.seq,
            &state.data_time,
            &state.feeds,
            state.panels.iter().map(|(n, t)| (*n, t)),
        ));
        state.snapshot = Some(text.clone());
        (state.seq, text)
    }

    /// Whether every update after `seq` up to the newest is still held (`since` would
    /// answer), without copying them.
    pub fn holds_after(&self, seq: u64) -> bool {
        self.read().holds_after(seq)
    }

    /// The updates after `seq` up to the newest, if all of them are still held.
    pub fn since(&self, seq: u64) -> Option<Vec<(u64, Framed)>> {
        let state = self.read();
        if !state.holds_after(seq) {
            return None;
        }
        Some(
            state
                .recent
                .iter()
                .filter(|(s, _)| *s > seq)
                .cloned()
                .collect(),
        )
    }
}

impl State {
    fn holds_after(&self, seq: u64) -> bool {
        let first_held = self.recent.front().map_or(self.seq + 1, |(s, _)| *s);
        // Not from this run (before its first update, or ahead of it), or too old.
        !(self.first.is_none_or(|first| seq < first) || seq > self.seq || seq + 1 < first_held)
    }
}

fn encode<'a>(
    kind: &str,
    seq: u64,
    data_time: &str,
    feeds: &str,
    panels: impl Iterator<Item = (&'static str, &'a String)>,
) -> String {
    let mut out = format!(
        r#"{{"type":"{kind}","seq":{seq},"data_time":"{data_time}","feeds":{feeds},"panels":{{"#
    );
    for (i, (name, text)) in panels.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        out.push_str(text);
    }
    out.push_str("}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(panels: &[(&'static str, &str)]) -> Frame {
        Frame {
            data_time: "2026-11-25T20:00:00+08:00".into(),
            feeds: "[]".into(),
            panels: panels.iter().map(|(n, t)| (*n, (*t).to_owned())).collect(),
            charts: BTreeMap::new(),
        }
    }

    fn json(framed: &Framed) -> serde_json::Value {
        serde_json::from_slice(&framed.payload()).unwrap()
    }

    #[test]
    fn updates_carry_only_changed_panels_and_snapshots_everything() {
        let hub = Hub::default();
        let one = hub
            .publish(frame(&[("ring", "1"), ("trend", "2")]), false)
            .unwrap();
        assert!(
            one > 1_700_000_000_000,
            "seq starts at the start-up time in ms"
        );
        assert_eq!(
            hub.publish(frame(&[("ring", "1"), ("trend", "2")]), false),
            None,
            "nothing changed"
        );
        assert_eq!(
            hub.publish(frame(&[("ring", "3"), ("trend", "2")]), false),
            Some(one + 1)
        );
        let updates = hub.since(one).unwrap();
        assert_eq!(updates.len(), 1);
        let update = json(&updates[0].1);
        assert_eq!(update["type"], "update");
        assert_eq!(update["seq"], one + 1);
        assert_eq!(update["panels"], serde_json::json!({"ring": 3}));
        let (seq, snapshot) = hub.snapshot();
        assert_eq!(seq, one + 1);
        assert_eq!(
            json(&snapshot)["panels"],
            serde_json::json!({"ring": 3, "trend": 2})
        );
        assert_eq!(
            hub.publish(frame(&[("ring", "3"), ("trend", "2")]), true),
            Some(one + 2),
            "forced"
        );
        assert!(hub.since(one - 1).is_none(), "a seq from an earlier run");
    }

    #[test]
    fn since_returns_missed_updates_only_while_they_are_held() {
        let hub = Hub::default();
        let mut newest = 0;
        for i in 0..(KEPT_UPDATES as u64 + 10) {
            newest = hub
                .publish(frame(&[("ring", &i.to_string())]), false)
                .unwrap();
        }
        assert_eq!(hub.since(newest).unwrap().len(), 0, "up to date");
        let missed = hub.since(newest - 5).unwrap();
        assert_eq!(
            missed.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            (newest - 4..=newest).collect::<Vec<_>>()
        );
        assert!(
            hub.since(newest - KEPT_UPDATES as u64 - 1).is_none(),
            "too old: a snapshot instead"
        );
        assert!(
            hub.since(newest + 1).is_none(),
            "from another server's life"
        );
    }

    /// Two updates published during one delivery both go out, in order, to a client that
    /// is up to date, without waking its task.
    #[tokio::test]
    async fn every_update_is_delivered_in_order() {
        use tokio::io::AsyncReadExt;
        let hub = Hub::default();
        let first = hub.publish(frame(&[("ring", "1")]), false).unwrap();
        let (server, mut client) = tokio::io::duplex(1 << 16);
        let outlet = super::super::outlet::Outlet::new(server, first);
        hub.outlets.add(outlet.clone());
        assert_eq!(hub.deliver_after(0).await, first, "the first delivery");
        hub.publish(frame(&[("ring", "2")]), false).unwrap();
        hub.publish(frame(&[("ring", "3")]), false).unwrap();
        assert_eq!(hub.deliver_after(first).await, first + 2);
        assert_eq!(outlet.last(), first + 2);
        let mut got = Vec::new();
        for want in [first + 1, first + 2] {
            let mut head = [0u8; 2];
            client.read_exact(&mut head).await.unwrap();
            let mut payload = vec![0; usize::from(head[1])];
            client.read_exact(&mut payload).await.unwrap();
            let update: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(update["seq"], want);
            got.push(update["panels"]["ring"].clone());
        }
        assert_eq!(got, [2, 3]);
        let woken = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            outlet.behind.notified(),
        )
        .await;
        assert!(woken.is_err(), "the client's task was not needed");
    }
}
