//! Live-screen benchmarks (figures in BENCHMARKS.md):
//! - `charts_all`: every overview chart drawn as SVG from the figures of a board (the work
//!   done per change when every panel changed; target ≤ 20 ms);
//! - `figures/<n>`: the figures counted from a board of n items (re-grading every open item
//!   on today), as the live task does once per change;
//! - `trend_before/<n>`: the trend's 29 past days redrawn from the clocks (once a day and
//!   every ten minutes).
//! - `poll_to_update/2400`: from the start of a feed run that brings one new red item (the
//!   feed serves the city's 2,400 records and the red ones, on loopback) to the websocket
//!   update that shows it, read by a real client of the running daemon (target ≤ 1 s; the
//!   tests only check that the update comes, and in order).
//!
//! Run: `cargo bench --bench live`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use criterion::{BenchmarkId, Criterion, SamplingMode, criterion_group, criterion_main};
use duban::board::Board;
use duban::calendar::Calendar;
use duban::canonical::record_hash;
use duban::charts;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::live::figures::{self, Figures};
use duban::simulator::population::Population;

const NOW: &str = "2026-11-25T10:00:00+08:00";

fn setup(items: u64) -> (Config, Calendar, Board) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duban.toml");
    let file = TomlFile::read(&path)
        .expect("the shipped config")
        .with_secrets_unused();
    let config = Config::from_file(&file).expect("the shipped config");
    let calendar = config.load_calendar().expect("the shipped calendar");
    let now = DateTime::parse_from_rfc3339(NOW)
        .expect("an instant")
        .with_timezone(&config.timezone);
    let today = now.date_naive();
    let mut population =
        Population::new(&config.matters, &calendar, config.timezone, now, 7).expect("population");
    let mut board = Board::default();
    population
        .generate(items, |item| {
            let thresholds = config
                .grading
                .thresholds_for(&item.matter, &item.department);
            if let Ok(g) = board.grade(
                item,
                record_hash(item),
                thresholds,
                &calendar,
                config.timezone,
                today,
            ) {
                board.commit([g]);
            }
        })
        .expect("items within the loaded years");
    (config, calendar, board)
}

fn count(config: &Config, calendar: &Calendar, board: &Board) -> Figures {
    let today = DateTime::parse_from_rfc3339(NOW)
        .expect("an instant")
        .with_timezone(&config.timezone)
        .date_naive();
    let past = figures::trend_before(board, calendar, today);
    figures::count_all(
        board,
        calendar,
        &config.project_targets,
        &config.grading.default,
        today,
        &past,
    )
}

fn draw_all(f: &Figures) -> usize {
    let mut bytes = 0;
    bytes += charts::ring::draw(&f.ring, f.headline.overdue).map_or(0, |s| s.len());
    // Every drawing the live task makes: the wide wall's too.
    for d in charts::bars::DEPARTMENTS {
        bytes += charts::bars::departments(&f.departments, d.size).map_or(0, |s| s.len());
    }
    bytes += charts::bars::stages(&f.stages).map_or(0, |s| s.len());
    for d in charts::trend::DRAWINGS {
        bytes += charts::trend::draw(&f.trend, d.size).map_or(0, |s| s.len());
    }
    bytes += charts::projects::draw(&f.projects).map_or(0, |s| s.len());
    bytes
}

fn benches(c: &mut Criterion) {
    let (config, calendar, board) = setup(2_400);
    let f = count(&config, &calendar, &board);
    c.bench_function("charts_all", |b| {
        b.iter(|| black_box(draw_all(black_box(&f))))
    });

    let today = DateTime::parse_from_rfc3339(NOW)
        .expect("an instant")
        .with_timezone(&config.timezone)
        .date_naive();
    let mut group = c.benchmark_group("figures");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for n in [2_400u64, 100_000] {
        let (config, calendar, board) = setup(n);
        let past = figures::trend_before(&board, &calendar, today);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                black_box(figures::count_all(
                    &board,
                    &calendar,
                    &config.project_targets,
                    &config.grading.default,
                    today,
                    &past,
                ))
            })
        });
        group.bench_with_input(BenchmarkId::new("trend_before", n), &n, |b, _| {
            b.iter(|| black_box(figures::trend_before(&board, &calendar, today)))
        });
    }
    group.finish();
}

/// The running daemon of `poll_to_update`, its feed and a websocket client.
struct PollToUpdate {
    running: duban::app::Running,
    spec: duban::feeds::spec::FeedSpec,
    records: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    client: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    http: reqwest::Client,
    red: u64,
    _dir: tempfile::TempDir,
}

impl PollToUpdate {
    async fn start() -> Self {
        use axum::extract::State;
        use std::sync::{Arc, Mutex};

        let (config, calendar, _) = setup(0);
        let now = DateTime::parse_from_rfc3339(NOW).expect("an instant");
        let mut city = Vec::new();
        Population::new(
            &config.matters,
            &calendar,
            config.timezone,
            now.with_timezone(&config.timezone),
            7,
        )
        .expect("population")
        .generate(2_400, |item| {
            city.push(serde_json::to_value(item).expect("a record"))
        })
        .expect("items within the loaded years");
        let records = Arc::new(Mutex::new(city));
        let router = axum::Router::new()
            .route(
                "/items",
                // One page holds them all: the pager's next page is empty.
                axum::routing::get(
                    |State(records): State<Arc<Mutex<Vec<serde_json::Value>>>>,
                     axum::extract::Query(page): axum::extract::Query<
                        std::collections::HashMap<String, String>,
                    >| async move {
                        let items = match page.get("page").map(String::as_str) {
                            None | Some("1") => records.lock().expect("the records").clone(),
                            Some(_) => Vec::new(),
                        };
                        axum::Json(serde_json::json!({ "items": items }))
                    },
                ),
            )
            .with_state(records.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let feed = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, router).await });

        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = format!(
            r#"timezone = "Asia/Shanghai"
[calendar]
holidays_dir = {holidays:?}
[catalogue]
matters = {matters:?}
[server]
listen = "127.0.0.1:0"
[store]
database_url = "sqlite://{store}"
[[feeds]]
name = "bench"
kind = "http_json"
enabled = false
schedule = "0 0 0 1 1 *"
url = "http://{feed}/items"
records_path = "items"
pagination = {{ kind = "page", size = 5000 }}
"#,
            holidays = root.join("config/holidays").display().to_string(),
            matters = root.join("config/matters.csv").display().to_string(),
            store = dir.path().join("duban.db").display(),
        );
        let path = dir.path().join("duban.toml");
        let config = Config::from_file(&TomlFile::from_text(&path, text)).expect("the config");
        let spec = config.feeds[0].clone();
        let calendar = config.load_calendar().expect("the shipped calendar");
        let clock = duban::clock::Clock::Manual(duban::clock::ManualClock::new(now.to_utc()));
        let running = duban::app::start(config, calendar, clock)
            .await
            .expect("the daemon");
        let http = reqwest::Client::new();
        let first = duban::feeds::poller::run_once(
            &running.shared,
            &spec,
            &http,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
        assert!(first.ok, "the first run failed: {:?}", first.error);
        let (client, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", running.addr))
            .await
            .expect("the websocket");
        let mut bench = Self {
            running,
            spec,
            records,
            client,
            http,
            red: 0,
            _dir: dir,
        };
        // The city's own red count (the board's, after the first run), once the screens
        // show it.
        let summary: serde_json::Value = bench
            .http
            .get(format!("http://{}/api/summary", bench.running.addr))
            .send()
            .await
            .expect("the summary")
            .json()
            .await
            .expect("its JSON");
        let red = summary["totals"]["red"].as_u64().expect("a red count");
        bench
            .next_with(|m| m["panels"]["ring"]["red"].as_u64() == Some(red))
            .await;
        bench.red = red;
        bench
    }

    /// The next message of the client that satisfies `wanted`.
    async fn next_with(
        &mut self,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        use futures_util::StreamExt;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.client.next())
                .await
                .expect("a message within 30 s")
                .expect("the socket open")
                .expect("a message");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                if wanted(&value) {
                    return value;
                }
            }
        }
    }

    /// `rounds` times: one more red record, a feed run, and the update that shows it.
    async fn rounds(&mut self, rounds: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            let n = self.records.lock().expect("the records").len();
            let mut late = serde_json::to_value(&self.records.lock().expect("the records")[0])
                .expect("a record");
            late["item_id"] = serde_json::json!(format!("LATE-{n}"));
            late["status"] = serde_json::json!("pending");
            late["finished_at"] = serde_json::Value::Null;
            late["pauses"] = serde_json::json!([]);
            late["accepted_at"] = serde_json::json!("2026-10-09T09:30:00+08:00");
            late["updated_at"] = serde_json::json!("2026-10-09T09:30:00+08:00");
            late["limit_days"] = serde_json::json!(5);
            late["extension_days"] = serde_json::json!(0);
            self.records.lock().expect("the records").push(late);
            let expected = self.red + 1;
            let started = std::time::Instant::now();
            let run = duban::feeds::poller::run_once(
                &self.running.shared,
                &self.spec,
                &self.http,
                &tokio_util::sync::CancellationToken::new(),
            )
            .await;
            assert!(run.ok, "a run failed: {:?}", run.error);
            self.next_with(|m| m["panels"]["ring"]["red"].as_u64() == Some(expected))
                .await;
            total += started.elapsed();
            self.red = expected;
        }
        total
    }
}

fn poll_to_update(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut bench = runtime.block_on(PollToUpdate::start());
    let mut group = c.benchmark_group("poll_to_update");
    // A round takes a real run and a real paint: one per sample, twenty samples.
    group
        .sample_size(20)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("2400", |b| {
        b.iter_custom(|rounds| runtime.block_on(bench.rounds(rounds)))
    });
    group.finish();
    runtime.block_on(bench.running.stop(Duration::from_secs(10)));
}

criterion_group!(live, benches, poll_to_update);
criterion_main!(live);
