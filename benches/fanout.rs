//! Websocket fan-out benchmark (a bench command, not criterion): how fast one ~2 KB update
//! reaches every connected client, and what an idle client costs the server, for duban and
//! for a Node.js `ws` broadcast server measured the same way in the same run. See
//! BENCHMARKS.md for the figures and the machine.
//!
//! Both servers run in their own process; this process is the client side for both:
//!
//! - duban: this binary re-executes itself with `DUBAN_FANOUT_ROLE=server`, which starts
//!   `app::start` (SQLite store in a temp dir, no feeds, no `[access]`), puts the
//!   simulated city's first 2,400 items (seed 7, the demo's city) on the board so the
//!   panels and the snapshot are a real board's (`DUBAN_FANOUT_ITEMS`), and a control
//!   endpoint on another loopback port, `POST /publish?n=NONCE`, that calls
//!   `hub.publish` with the board's panels plus one panel `bench` =
//!   `{"n":NONCE,"pad":"xxx…"}` (`force`), so every client gets one `update` of 2,048 bytes.
//! - Node: `benches/fanout/server.js` (the `ws` package, pinned in
//!   `benches/fanout/package.json`, installed with npm into `<target>/fanout-node` when
//!   missing): the same message shape and size, encoded once and sent to every client.
//!
//! For each peer and each client count N: wait until other processes leave the machine
//! alone, start the server, read its resident memory (VmRSS), open N websocket connections
//! (tokio-tungstenite, at most 100 handshakes in flight), wait until every client has had
//! its `hello` (and its `snapshot`, if it takes it on the socket), stay idle a few seconds, read VmRSS again (→ KiB per
//! client), then run one warm-up round and R measured rounds: 300 ms of quiet, a
//! timestamp, POST the trigger, and note for every client when the message with that
//! nonce arrived. Latency = arrival − timestamp (it includes the control request, about
//! 1 ms, for both peers). p50/p99/max are over all deliveries of all measured rounds; the
//! table also gives the p99 of the median round, the CPU time the server, this process
//! and the rest of the machine used per round (from the trigger to the last delivery),
//! and how many rounds were measured again because other processes took more than
//! 20 ms + 10 % of the round's CPU (at most five times in a row).
//!
//! Run: `ulimit -n 20000; cargo bench --bench fanout` (needs N + ~100 file descriptors in
//! this process and in the server; the bench raises its own soft limit to the hard limit
//! with `prlimit` when it can). Knobs: `DUBAN_FANOUT_CLIENTS` (default `1000,10000`),
//! `DUBAN_FANOUT_ROUNDS` (20), `DUBAN_FANOUT_PEERS` (`duban,node`), `DUBAN_FANOUT_IDLE`
//! (seconds idle before the memory reading, 3), `DUBAN_FANOUT_MESSAGE` (bytes, 2048),
//! `DUBAN_FANOUT_ITEMS` (items on duban's board, 2400; 0: an empty board),
//! `DUBAN_FANOUT_WAIT` (longest wait for a quiet machine, s, 900), `DUBAN_FANOUT_QUIET_MS`
//! (20), `DUBAN_FANOUT_SINCE` (duban's clients connect as its pages do: they have the
//! snapshot from `/live/snapshot` over HTTP and open the websocket with `since` = the current
//! seq, so the socket carries only updates, as Node's does; `0`: they take the snapshot on
//! the socket, as a client without `since` does). For diagnosis:
//! `DUBAN_FANOUT_PERF=dwarf` (`perf record` of the server during the rounds, into
//! /tmp/fanout/; any other value: no call graphs) and `DUBAN_FANOUT_VERBOSE=1` (each
//! round's figures). Without node or npm the Node peer is skipped with a note.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to report

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const ROLE_ENV: &str = "DUBAN_FANOUT_ROLE";
const PAD_ENV: &str = "DUBAN_FANOUT_PAD";
const ITEMS_ENV: &str = "DUBAN_FANOUT_ITEMS";
const DATA_TIME: &str = "2026-11-25T20:00:00+08:00";
/// Handshakes in flight at once while connecting.
const CONNECTING_AT_ONCE: usize = 100;
/// Nonces start here, so the message size does not change with the round.
const FIRST_NONCE: u64 = 1_000_000;

fn main() {
    if std::env::var(ROLE_ENV).as_deref() == Ok("server") {
        serve_duban();
    } else {
        bench();
    }
}

// ---------------------------------------------------------------------------------------
// The duban server process.

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Like tests/common/mod.rs: the shipped calendar and catalogue, port 0, no feeds, no
/// `[access]` (so no token is needed).
fn config_text(database_url: &str) -> String {
    format!(
        r#"timezone = "Asia/Shanghai"
[calendar]
holidays_dir = {holidays:?}
[catalogue]
matters = {matters:?}
[grading]
blue_max_share = 0.5
[project_targets]
general_social = 30
[server]
listen = "127.0.0.1:0"
[store]
database_url = {database_url:?}
"#,
        holidays = root().join("config/holidays").display().to_string(),
        matters = root().join("config/matters.csv").display().to_string(),
    )
}

struct Control {
    running: duban::app::Running,
    /// The board's panels and feeds as last published by the live task, verbatim, so a
    /// bench frame changes nothing but `bench` (and the live task's next frame then
    /// changes nothing either).
    panels: BTreeMap<&'static str, String>,
    /// The charts behind the panels' `svg_url`s (a frame replaces them all).
    charts: BTreeMap<&'static str, duban::live::hub::Chart>,
    feeds: String,
    pad: String,
}

fn serve_duban() {
    use duban::config::Config;
    use duban::config::toml_file::TomlFile;

    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DUBAN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let pad = "x".repeat(
        std::env::var(PAD_ENV)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(1900),
    );
    // The same runtime as `duban serve` (src/main.rs).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("duban.toml");
    let text = config_text(&format!(
        "sqlite://{}",
        dir.path().join("duban.db").display()
    ));
    std::fs::write(&path, &text).unwrap();
    let config = Config::from_file(&TomlFile::from_text(&path, text)).unwrap();
    let calendar = config.load_calendar().unwrap();
    runtime.block_on(async move {
        // The board is filled and graded as of the data's time, whatever the machine's date.
        let data_time = chrono::DateTime::parse_from_rfc3339(DATA_TIME)
            .unwrap()
            .to_utc();
        let clock = duban::clock::Clock::Manual(duban::clock::ManualClock::new(data_time));
        let running = duban::app::start(config, calendar, clock).await.unwrap();
        while !running.shared.hub.is_ready() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let items: u64 = env_or(ITEMS_ENV, 2_400);
        if items > 0 {
            let (empty, _) = running.shared.hub.snapshot();
            fill_board(&running.shared, items);
            running.shared.live.notify_one();
            let deadline = Instant::now() + Duration::from_secs(60);
            while running.shared.hub.snapshot().0 == empty && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let (seq, snapshot) = running.shared.hub.snapshot();
        let snapshot = String::from_utf8(snapshot.payload().to_vec()).unwrap();
        let top = members(&snapshot).unwrap();
        let feeds = (*top.get("feeds").unwrap()).to_owned();
        let panels: BTreeMap<&'static str, String> = top
            .get("panels")
            .and_then(|p| members(p))
            .unwrap()
            .into_iter()
            .map(|(name, text)| (&*Box::leak(name.into_boxed_str()), text.to_owned()))
            .collect();
        let charts = panels
            .keys()
            .filter_map(|name| Some((*name, running.shared.hub.chart(name)?)))
            .collect();
        let ws_port = running.addr.port();
        let control = Arc::new(Control {
            running,
            panels,
            charts,
            feeds,
            pad,
        });
        let router = axum::Router::new()
            .route("/publish", axum::routing::post(publish))
            .with_state(control.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let control_port = listener.local_addr().unwrap().port();
        println!(
            "ws={ws_port} control={control_port} snapshot={} seq={seq}",
            snapshot.len()
        );
        std::io::stdout().flush().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        // Ends when the bench closes our stdin (or dies).
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .unwrap();
        let _ = control;
    });
    std::process::exit(0);
}

/// Puts `items` items of the simulated city (seed 7, like the demo), graded as of the clock, on
/// the board, so the panels (and the snapshot every client gets) are a real board's.
fn fill_board(shared: &duban::ingest::Shared, items: u64) {
    use duban::canonical::record_hash;
    use duban::simulator::population::Population;

    let config = &shared.config;
    let now = shared.clock.now().with_timezone(&config.timezone);
    let today = now.date_naive();
    let mut population =
        Population::new(&config.matters, &shared.calendar, config.timezone, now, 7).unwrap();
    let mut board = shared.board();
    population
        .generate(items, |item| {
            let thresholds = config
                .grading
                .thresholds_for(&item.matter, &item.department);
            let graded = board.grade(
                item,
                record_hash(item),
                thresholds,
                &shared.calendar,
                config.timezone,
                today,
            );
            if let Ok(g) = graded {
                board.commit([g]);
            }
        })
        .unwrap();
}

async fn publish(
    axum::extract::State(control): axum::extract::State<Arc<Control>>,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> String {
    let n: u64 = q.get("n").and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut panels = control.panels.clone();
    panels.insert("bench", format!(r#"{{"n":{n},"pad":"{}"}}"#, control.pad));
    let frame = duban::live::hub::Frame {
        data_time: DATA_TIME.to_owned(),
        feeds: control.feeds.clone(),
        panels,
        charts: control.charts.clone(),
    };
    let seq = control.running.shared.hub.publish(frame, true);
    format!("{{\"seq\":{}}}", seq.unwrap_or(0))
}

/// The members of a JSON object, each value as its exact text (the panels are re-sent
/// byte for byte, so the hub sees them unchanged).
fn members(text: &str) -> Option<BTreeMap<String, &str>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut out = BTreeMap::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i)? {
            b'}' => return Some(out),
            b',' => i += 1,
            b'"' => {
                let end = value_end(b, i)?;
                let key: String = serde_json::from_str(&text[i..end]).ok()?;
                i = skip_ws(b, end);
                if b.get(i) != Some(&b':') {
                    return None;
                }
                let start = skip_ws(b, i + 1);
                let end = value_end(b, start)?;
                out.insert(key, &text[start..end]);
                i = end;
            }
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// Where the JSON value starting at `i` ends (exclusive).
fn value_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    loop {
        let c = *b.get(i)?;
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => {
                    in_string = false;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth == 0 => return Some(i),
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                b',' if depth == 0 => return Some(i),
                _ => {}
            }
        }
        i += 1;
    }
}

// ---------------------------------------------------------------------------------------
// The client side.

#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    Duban,
    Node,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Duban => "duban",
            Peer::Node => "node ws",
        }
    }
}

struct Server {
    child: Child,
    ws_port: u16,
    control_port: u16,
    /// The size of the snapshot every client got on connecting.
    snapshot: Option<usize>,
    /// duban's seq when it started.
    seq: Option<u64>,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// `pad` such that the update's whole text is `size` bytes.
fn pad_for(size: usize) -> usize {
    let empty = format!(
        r#"{{"type":"update","seq":1764100000000,"data_time":"{DATA_TIME}","feeds":[],"panels":{{"bench":{{"n":{FIRST_NONCE},"pad":""}}}}}}"#
    );
    size.saturating_sub(empty.len())
}

fn start_server(peer: Peer, pad: usize, node_dir: Option<&Path>) -> Server {
    let mut command = match peer {
        Peer::Duban => {
            let mut c = Command::new(std::env::current_exe().unwrap());
            c.env(ROLE_ENV, "server").env(PAD_ENV, pad.to_string());
            c
        }
        Peer::Node => {
            let dir = node_dir.unwrap();
            let mut c = Command::new("node");
            c.arg(dir.join("server.js"))
                .arg(pad.to_string())
                .current_dir(dir);
            c
        }
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
            .map(|v| v.trim().to_owned())
    };
    let (Some(ws), Some(control)) = (field("ws"), field("control")) else {
        panic!("{} did not start: {line:?}", peer.name());
    };
    Server {
        ws_port: ws.parse().unwrap(),
        control_port: control.parse().unwrap(),
        snapshot: field("snapshot").and_then(|s| s.parse().ok()),
        seq: field("seq").and_then(|s| s.parse().ok()),
        child,
    }
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time a process has used (user + system), in ms (clock ticks of 10 ms).
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    ticks as f64 * 10.0
}

/// CPU time the machine has spent, in ms: in processes (user, nice, system) and in
/// interrupts (irq, softirq), which /proc/stat counts apart.
fn machine_cpu_ms() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0) as f64 * 10.0;
    (at(0) + at(1) + at(2), at(5) + at(6))
}

/// CPU used so far (ms): the server, this process, every process, interrupts.
#[derive(Clone, Copy, Default)]
struct Cpu {
    server: f64,
    client: f64,
    processes: f64,
    irq: f64,
}

impl Cpu {
    fn now(server: u32) -> Self {
        let (processes, irq) = machine_cpu_ms();
        Cpu {
            server: cpu_ms(server),
            client: cpu_ms(std::process::id()),
            processes,
            irq,
        }
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server - before.server,
            client: self.client - before.client,
            processes: self.processes - before.processes,
            irq: self.irq - before.irq,
        }
    }

    /// What other processes used (others' builds and tests disturb the measurement). A
    /// process's own CPU time includes the interrupts handled in its time (the loopback
    /// delivers each packet in the sender's softirq), the machine's does not.
    fn others(self) -> f64 {
        self.processes + self.irq - self.server - self.client
    }
}

/// Waits (at most `DUBAN_FANOUT_WAIT` seconds, 900) until other processes use less than
/// 5 % of the machine over a second.
fn wait_for_quiet() {
    let most = Duration::from_secs(env_or("DUBAN_FANOUT_WAIT", 900));
    let started = Instant::now();
    let mut said = false;
    loop {
        let before = (machine_cpu_ms().0, cpu_ms(std::process::id()));
        std::thread::sleep(Duration::from_secs(1));
        let others = machine_cpu_ms().0 - before.0 - (cpu_ms(std::process::id()) - before.1);
        // (interrupts are left out here: nothing of ours runs)
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        if others < 0.05 * 1000.0 * cores {
            return;
        }
        if started.elapsed() > most {
            println!(
                "    the machine is still busy ({others:.0} ms of CPU a second by others); measuring anyway"
            );
            return;
        }
        if !said {
            println!(
                "    waiting for the machine to quiet down ({others:.0} ms of CPU a second by others)…"
            );
            said = true;
        }
    }
}

/// `perf record` on the server during the measured rounds, when `DUBAN_FANOUT_PERF` is set
/// (`dwarf`, `fp` or `lbr` for call graphs, anything else for none).
fn start_perf(pid: u32, name: &str) -> Option<Child> {
    let mode = std::env::var("DUBAN_FANOUT_PERF").ok()?;
    let out = format!("/tmp/fanout/perf-{name}.data");
    std::fs::create_dir_all("/tmp/fanout").ok()?;
    let mut command = Command::new("perf");
    command.args(["record", "-F", "999", "-o", &out, "-p", &pid.to_string()]);
    match mode.as_str() {
        "dwarf" => {
            command.arg("--call-graph=dwarf,8192");
        }
        "fp" | "lbr" => {
            command.arg(format!("--call-graph={mode}"));
        }
        _ => {}
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(500));
    println!("    perf recording the server into {out}");
    Some(child)
}

fn stop_perf(perf: Option<Child>) {
    if let Some(mut perf) = perf {
        let _ = Command::new("kill")
            .args(["-INT", &perf.id().to_string()])
            .status();
        let _ = perf.wait();
    }
}

/// What the client tasks note; the rounds read it.
struct Board {
    started: Instant,
    /// Clients that have had their `snapshot`.
    ready: AtomicUsize,
    /// Clients whose connection ended.
    gone: AtomicUsize,
    /// The nonce of the round under way.
    nonce: AtomicU64,
    /// Per client: nanoseconds after `started` its message of this round arrived (0: not yet).
    arrived: Vec<AtomicU64>,
    delivered: AtomicUsize,
    all_delivered: tokio::sync::Notify,
    /// The size of the last bench message seen.
    message_len: AtomicUsize,
    /// Updates without a bench panel (duban's keep-alive every 30 s), over all clients.
    other_updates: AtomicUsize,
}

impl Board {
    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }
}

const MARKER: &str = r#""bench":{"n":"#;

fn nonce_of(text: &str) -> Option<u64> {
    let at = text.find(MARKER)? + MARKER.len();
    let digits = text[at..].split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// `since`: connect as a client that already has that seq (no snapshot; a diagnostic).
async fn client(
    board: Arc<Board>,
    index: usize,
    port: u16,
    since: Option<u64>,
) -> Result<(), String> {
    let query = since.map_or(String::new(), |s| format!("?since={s}"));
    let ready_on = if since.is_some() {
        r#""type":"hello""#
    } else {
        r#""type":"snapshot""#
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(
        format!("ws://127.0.0.1:{port}/ws{query}"),
        Some(config),
        true,
    )
    .await
    .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut ready = false;
        while let Some(message) = socket.next().await {
            let at = board.now_ns();
            let Ok(message) = message else { break };
            let Message::Text(text) = message else {
                continue;
            };
            let text = text.as_str();
            if text.starts_with(r#"{"type":"update""#) {
                let nonce = nonce_of(text);
                if nonce.is_none() {
                    board.other_updates.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(n) = nonce
                    && n == board.nonce.load(Ordering::Acquire)
                    && board.arrived[index].swap(at, Ordering::AcqRel) == 0
                {
                    board.message_len.store(text.len(), Ordering::Relaxed);
                    if board.delivered.fetch_add(1, Ordering::AcqRel) + 1 == board.arrived.len() {
                        board.all_delivered.notify_one();
                    }
                }
            } else if !ready && text.contains(ready_on) {
                ready = true;
                board.ready.fetch_add(1, Ordering::AcqRel);
            }
        }
        board.gone.fetch_add(1, Ordering::AcqRel);
    });
    Ok(())
}

struct Outcome {
    peer: Peer,
    clients: usize,
    connect_s: f64,
    rss_before_kib: u64,
    rss_idle_kib: u64,
    rss_after_kib: u64,
    snapshot: Option<usize>,
    message_len: usize,
    /// All delivery latencies of the measured rounds, ms, sorted.
    latencies: Vec<f64>,
    /// Per round: the time until the last client had the message, ms.
    last: Vec<f64>,
    missing: usize,
    /// CPU used per measured round, from the trigger to the last delivery, ms.
    server_cpu_ms: f64,
    client_cpu_ms: f64,
    /// CPU used per round by other processes (others' builds disturb).
    other_cpu_ms: f64,
    /// CPU spent in interrupts per round (part of it is in the server's and the client's).
    irq_cpu_ms: f64,
    /// Rounds measured again because other processes took the CPU.
    redone: usize,
    /// The median over the rounds of each round's p99, ms.
    round_p99_median: f64,
}

impl Outcome {
    fn pct(&self, p: f64) -> f64 {
        percentile(&self.latencies, p)
    }
    fn kib_per_client(&self) -> f64 {
        (self.rss_idle_kib as f64 - self.rss_before_kib as f64) / self.clients as f64
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn measure(
    peer: Peer,
    clients: usize,
    rounds: usize,
    idle: Duration,
    pad: usize,
    node_dir: Option<&Path>,
    nonce: &mut u64,
) -> Option<Outcome> {
    let server = start_server(peer, pad, node_dir);
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before_kib = rss_kib(pid);
    let board = Arc::new(Board {
        started: Instant::now(),
        ready: AtomicUsize::new(0),
        gone: AtomicUsize::new(0),
        nonce: AtomicU64::new(0),
        arrived: (0..clients).map(|_| AtomicU64::new(0)).collect(),
        delivered: AtomicUsize::new(0),
        all_delivered: tokio::sync::Notify::new(),
        message_len: AtomicUsize::new(0),
        other_updates: AtomicUsize::new(0),
    });

    // Connect, at most CONNECTING_AT_ONCE handshakes at a time.
    let connecting = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTING_AT_ONCE));
    let mut handshakes = tokio::task::JoinSet::new();
    for index in 0..clients {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let board = board.clone();
        let port = server.ws_port;
        let since = server
            .seq
            .filter(|_| std::env::var("DUBAN_FANOUT_SINCE").map_or(true, |v| v != "0"));
        handshakes.spawn(async move {
            let result = client(board, index, port, since).await;
            drop(permit);
            result
        });
    }
    let mut failed = 0;
    let mut first_error = None;
    while let Some(result) = handshakes.join_next().await {
        if let Err(e) = result.unwrap() {
            failed += 1;
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        println!("    {failed} of {clients} connections failed; the first: {e}");
        return None;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while board.ready.load(Ordering::Acquire) < clients {
        if Instant::now() > deadline {
            println!(
                "    only {} of {clients} clients had their snapshot after 120 s",
                board.ready.load(Ordering::Acquire)
            );
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connect_s = connecting.elapsed().as_secs_f64();
    tokio::time::sleep(idle).await;
    let rss_idle_kib = rss_kib(pid);

    let http = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(clients * rounds);
    let mut last = Vec::with_capacity(rounds);
    let mut missing = 0;
    let mut round_p99 = Vec::with_capacity(rounds);
    let mut perf = None;
    let mut used = Cpu::default();
    let mut redone = 0;
    let mut tries = 0;
    let quiet_ms: f64 = env_or("DUBAN_FANOUT_QUIET_MS", 20.0);
    // The first round warms up (the control connection, the first update's allocations).
    let mut warm_up = true;
    while last.len() < rounds {
        *nonce += 1;
        for slot in &board.arrived {
            slot.store(0, Ordering::Relaxed);
        }
        board.delivered.store(0, Ordering::Release);
        board.nonce.store(*nonce, Ordering::Release);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = Cpu::now(pid);
        let sent_ns = board.now_ns();
        let response = http
            .post(format!(
                "http://127.0.0.1:{}/publish?n={}",
                server.control_port, *nonce
            ))
            .send()
            .await;
        let answered_ms = board.now_ns().saturating_sub(sent_ns) as f64 / 1e6;
        assert!(
            response.is_ok_and(|r| r.status().is_success()),
            "the trigger failed"
        );
        let everyone = tokio::time::timeout(Duration::from_secs(30), async {
            while board.delivered.load(Ordering::Acquire) < clients {
                board.all_delivered.notified().await;
            }
        })
        .await;
        let window_ms = board.now_ns().saturating_sub(sent_ns) as f64 / 1e6;
        let cpu = Cpu::now(pid).since(before);
        // Nothing may arrive for this nonce from here on.
        board.nonce.store(0, Ordering::Release);
        if warm_up {
            warm_up = false;
            perf = start_perf(pid, &format!("{}-{clients}", peer.name().replace(' ', "-")));
            continue;
        }
        // A round during which other processes took the CPU is measured again (at most
        // five times in a row).
        if cpu.others() > quiet_ms + 0.1 * window_ms && tries < 5 {
            redone += 1;
            tries += 1;
            continue;
        }
        tries = 0;
        if everyone.is_err() {
            println!(
                "    round {}: only {} of {clients} clients had the message after 30 s",
                last.len() + 1,
                board.delivered.load(Ordering::Acquire)
            );
        }
        used.server += cpu.server;
        used.client += cpu.client;
        used.processes += cpu.processes;
        used.irq += cpu.irq;
        let mut this_round = Vec::with_capacity(clients);
        for slot in &board.arrived {
            match slot.load(Ordering::Acquire) {
                0 => missing += 1,
                at => this_round.push(at.saturating_sub(sent_ns) as f64 / 1e6),
            }
        }
        this_round.sort_by(f64::total_cmp);
        if std::env::var("DUBAN_FANOUT_VERBOSE").is_ok() {
            println!(
                "    round {:2}: trigger answered {:6.2} first {:6.2} p50 {:7.2} p99 {:7.2} max {:7.2} ms; CPU server {:3.0} client {:3.0} others {:3.0} irq {:3.0} ms",
                last.len() + 1,
                answered_ms,
                this_round.first().copied().unwrap_or(f64::NAN),
                percentile(&this_round, 50.0),
                percentile(&this_round, 99.0),
                percentile(&this_round, 100.0),
                cpu.server,
                cpu.client,
                cpu.others(),
                cpu.irq
            );
        }
        last.push(percentile(&this_round, 100.0));
        round_p99.push(percentile(&this_round, 99.0));
        latencies.extend(this_round);
    }
    let per_round = |ms: f64| ms / rounds as f64;
    round_p99.sort_by(f64::total_cmp);
    stop_perf(perf);
    let rss_after_kib = rss_kib(pid);
    let other = board.other_updates.load(Ordering::Relaxed);
    if other > 0 {
        println!(
            "    besides the rounds, {:.1} other updates reached each client",
            other as f64 / clients as f64
        );
    }
    let gone = board.gone.load(Ordering::Acquire);
    if gone > 0 {
        println!("    {gone} connections ended during the measurement");
    }
    latencies.sort_by(f64::total_cmp);
    last.sort_by(f64::total_cmp);
    let outcome = Outcome {
        peer,
        clients,
        connect_s,
        rss_before_kib,
        rss_idle_kib,
        rss_after_kib,
        snapshot: server.snapshot,
        message_len: board.message_len.load(Ordering::Relaxed),
        latencies,
        last,
        missing,
        server_cpu_ms: per_round(used.server),
        client_cpu_ms: per_round(used.client),
        other_cpu_ms: per_round(used.others()),
        irq_cpu_ms: per_round(used.irq),
        redone,
        round_p99_median: percentile(&round_p99, 50.0),
    };
    drop(server);
    Some(outcome)
}

/// The soft limit on open files, raised to the hard limit (with `prlimit`, no unsafe
/// code) when `needed` is more.
fn file_limit(needed: u64) -> u64 {
    let read = || -> Option<(u64, u64)> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        let mut numbers = line
            .split_whitespace()
            .filter_map(|w| w.parse::<u64>().ok());
        Some((numbers.next()?, numbers.next().unwrap_or(u64::MAX)))
    };
    let Some((soft, hard)) = read() else {
        return needed;
    };
    if soft >= needed {
        return soft;
    }
    let _ = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    let soft = read().map_or(soft, |(s, _)| s);
    if soft < needed {
        println!(
            "note: open files limited to {soft} (hard {hard}); run `ulimit -n {needed}` (or more) before the bench"
        );
    }
    soft
}

/// The Node peer's folder under target/, with `ws` installed; None (and why) if node or
/// npm is missing or the install failed.
fn node_setup() -> Result<PathBuf, String> {
    for tool in ["node", "npm"] {
        let found = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(format!(
                "`{tool}` is not installed: the Node.js peer is skipped, duban is measured alone"
            ));
        }
    }
    // current_exe is <target>/<profile>/deps/fanout-…
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or("no target folder")?
        .to_path_buf();
    let dir = target.join("fanout-node");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for file in ["package.json", "server.js"] {
        std::fs::copy(root().join("benches/fanout").join(file), dir.join(file))
            .map_err(|e| format!("copying {file}: {e}"))?;
    }
    if !dir.join("node_modules/ws/package.json").exists() {
        println!("installing ws with npm into {}", dir.display());
        let ok = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err("npm install of ws failed: the Node.js peer is skipped".into());
        }
    }
    Ok(dir)
}

fn tool_version(tool: &str, arg: &str) -> String {
    Command::new(tool)
        .arg(arg)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn bench() {
    let clients: Vec<usize> = std::env::var("DUBAN_FANOUT_CLIENTS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let rounds: usize = env_or("DUBAN_FANOUT_ROUNDS", 20);
    let idle = Duration::from_secs(env_or("DUBAN_FANOUT_IDLE", 3));
    let size: usize = env_or("DUBAN_FANOUT_MESSAGE", 2048);
    let peers_text = std::env::var("DUBAN_FANOUT_PEERS").unwrap_or_else(|_| "duban,node".into());
    let mut peers: Vec<Peer> = peers_text
        .split(',')
        .filter_map(|p| match p.trim() {
            "duban" => Some(Peer::Duban),
            "node" => Some(Peer::Node),
            _ => None,
        })
        .collect();
    let node_dir = if peers.contains(&Peer::Node) {
        match node_setup() {
            Ok(dir) => Some(dir),
            Err(why) => {
                println!("note: {why}");
                peers.retain(|p| *p != Peer::Node);
                None
            }
        }
    } else {
        None
    };
    let most = clients.iter().copied().max().unwrap_or(0) as u64;
    let limit = file_limit(most + 100);
    let pad = pad_for(size);
    println!(
        "fan-out: clients {clients:?}, {rounds} rounds (+1 warm-up), {size}-byte update, {} items on duban's board, peers {}; node {}",
        env_or::<u64>(ITEMS_ENV, 2_400),
        peers
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", "),
        if node_dir.is_some() {
            tool_version("node", "--version")
        } else {
            "-".into()
        }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut nonce = FIRST_NONCE;
    let mut outcomes = Vec::new();
    for &n in &clients {
        if n as u64 + 100 > limit {
            println!("  {n} clients: skipped, {limit} open files allowed");
            continue;
        }
        for &peer in &peers {
            println!("  {} × {n}…", peer.name());
            wait_for_quiet();
            let outcome = runtime.block_on(measure(
                peer,
                n,
                rounds,
                idle,
                pad,
                node_dir.as_deref(),
                &mut nonce,
            ));
            if let Some(o) = outcome {
                println!(
                    "    connected in {:.1} s; p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; idle {:.1} KiB/client",
                    o.connect_s,
                    o.pct(50.0),
                    o.pct(99.0),
                    o.pct(100.0),
                    o.kib_per_client()
                );
                outcomes.push(o);
            }
            // Let the closed connections' sockets settle before the next server.
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    report(&outcomes);
}

fn report(outcomes: &[Outcome]) {
    println!();
    println!(
        "| server | clients | update bytes | p50 ms | p99 ms | max ms | p99 of the median round ms | last client, median round ms | missed | CPU a round: server / bench client / others ms (irq, in those) | rounds redone | RSS before → idle → after rounds (MiB) | idle KiB/client | snapshot bytes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} / {:.0} / {:.0} ({:.0}) | {} | {:.1} → {:.1} → {:.1} | {:.1} | {} |",
            o.peer.name(),
            o.clients,
            o.message_len,
            o.pct(50.0),
            o.pct(99.0),
            o.pct(100.0),
            o.round_p99_median,
            percentile(&o.last, 50.0),
            o.missing,
            o.server_cpu_ms,
            o.client_cpu_ms,
            o.other_cpu_ms,
            o.irq_cpu_ms,
            o.redone,
            o.rss_before_kib as f64 / 1024.0,
            o.rss_idle_kib as f64 / 1024.0,
            o.rss_after_kib as f64 / 1024.0,
            o.kib_per_client(),
            o.snapshot.map_or("-".into(), |s| s.to_string()),
        );
    }
    let find = |peer: Peer, n: usize| outcomes.iter().find(|o| o.peer == peer && o.clients == n);
    let mut ratios = Vec::new();
    for o in outcomes.iter().filter(|o| o.peer == Peer::Duban) {
        if let Some(node) = find(Peer::Node, o.clients) {
            ratios.push(format!(
                "| {} | {:.2} | {:.2} | {:.2} |",
                o.clients,
                o.pct(99.0) / node.pct(99.0),
                o.pct(50.0) / node.pct(50.0),
                o.kib_per_client() / node.kib_per_client()
            ));
        }
    }
    if !ratios.is_empty() {
        println!();
        println!(
            "| clients | p99 duban / node | p50 duban / node | idle memory per client duban / node |"
        );
        println!("|---|---|---|---|");
        for r in ratios {
            println!("{r}");
        }
    }
    println!();
    for o in outcomes.iter().filter(|o| o.peer == Peer::Duban) {
        let target = match o.clients {
            n if n >= 10_000 => Some(100.0),
            n if n >= 1_000 => Some(20.0),
            _ => None,
        };
        if let Some(t) = target {
            let p99 = o.pct(99.0);
            println!(
                "duban, {} clients: p99 {p99:.2} ms (target ≤ {t} ms: {}); idle {:.1} KiB/client (target ≤ 16: {})",
                o.clients,
                if p99 <= t { "met" } else { "NOT met" },
                o.kib_per_client(),
                if o.kib_per_client() <= 16.0 {
                    "met"
                } else {
                    "NOT met"
                },
            );
        }
    }
}
