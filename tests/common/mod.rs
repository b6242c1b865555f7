//! The integration harness: a daemon on port 0 with its own store, a feed server on
//! loopback whose records and failures the test controls, and a client with one method per
//! endpoint. Shared by the tests in this folder.

#![allow(dead_code, clippy::unwrap_used)] // each test binary uses part of it; a failed unwrap is a failed test

pub mod browser;
pub mod flood;
pub mod ledger;
pub mod rankings;
pub mod sms_doubles;
pub mod smtp;
pub mod warnings;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use duban::app::{self, Running};
use duban::clock::Clock;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use serde_json::{Value, json};
use sqlx::Executor as _;

/// The suite's "now": Wednesday 25 November 2026, 10:00 in Shanghai. Every test takes its
/// instant from here (or from its own fixed instant), never from the machine's clock, so the
/// suite means the same on any day it runs; the dates in the tests are relative to it.
pub const NOW: &str = "2026-11-25T10:00:00+08:00";

/// An RFC 3339 time as UTC.
pub fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A clock that stands at `NOW` until the test moves it.
pub fn fixed_clock() -> (Arc<duban::clock::ManualClock>, Clock) {
    clock_at(NOW)
}

/// A clock that stands at `instant` until the test moves it.
pub fn clock_at(instant: &str) -> (Arc<duban::clock::ManualClock>, Clock) {
    let manual = duban::clock::ManualClock::new(at(instant));
    (manual.clone(), Clock::Manual(manual))
}

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A config for tests: the shipped calendar and catalogue, port 0, the given store and feeds.
pub fn config_text(database_url: &str, feeds: &str) -> String {
    config_text_with(&root().join("config/holidays"), database_url, feeds)
}

/// The same with another holiday folder.
pub fn config_text_with(holidays: &Path, database_url: &str, feeds: &str) -> String {
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
{feeds}
"#,
        holidays = holidays.display().to_string(),
        matters = root().join("config/matters.csv").display().to_string(),
    )
}

pub fn load_config(dir: &Path, text: &str) -> Config {
    let path = dir.join("duban.toml");
    std::fs::write(&path, text).unwrap();
    Config::from_file(&TomlFile::from_text(&path, text.to_owned())).unwrap()
}

pub struct TestApp {
    pub running: Running,
    pub base: String,
    pub client: reqwest::Client,
}

pub async fn spawn_app(config: Config, clock: Clock) -> TestApp {
    let calendar = config.load_calendar().unwrap();
    let running = app::start(config, calendar, clock).await.unwrap();
    let base = format!("http://{}", running.addr);
    TestApp {
        running,
        base,
        client: reqwest::Client::new(),
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn items(&self, query: &str) -> Value {
        self.get(&format!("/api/items?{query}")).await.1
    }

    pub async fn item(&self, id: &str) -> Value {
        self.get(&format!("/api/items/{id}")).await.1
    }

    pub async fn feed(&self, name: &str) -> Value {
        let feeds = self.get("/api/feeds").await.1;
        feeds["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .cloned()
            .unwrap()
    }

    pub async fn quarantine(&self) -> Value {
        self.get("/api/quarantine").await.1
    }

    pub async fn stop(self) {
        self.running.stop(Duration::from_secs(10)).await;
    }
}

/// Polls `check` every 100 ms until it holds, for at most `seconds`.
pub async fn eventually<F, Fut>(seconds: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {seconds} s waiting for: {what}");
}

/// An approval system on loopback: serves whatever records the test puts in, paged, or
/// fails with 500 while `failing` is set.
#[derive(Clone, Default)]
pub struct FeedServer {
    pub state: Arc<Mutex<FeedState>>,
}

#[derive(Default)]
pub struct FeedState {
    pub records: Vec<Value>,
    pub failing: bool,
    pub requests: u64,
    /// Every `since` asked for, in order.
    pub sinces: Vec<String>,
    /// When each request came.
    pub request_times: Vec<std::time::Instant>,
    /// What `/raw` sends, page by page, byte for byte (an approval system that sends broken
    /// JSON, stray bytes or GBK text); past the last, an empty page.
    pub bodies: Vec<Vec<u8>>,
}

impl FeedServer {
    pub async fn start() -> (Self, String) {
        let server = FeedServer::default();
        let router = Router::new()
            .route("/items", get(serve))
            .route("/cursor", get(serve_cursor))
            .route("/raw", get(serve_raw))
            .with_state(server.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (server, format!("http://{addr}/items"))
    }

    pub fn set(&self, records: Vec<Value>) {
        self.state.lock().unwrap().records = records;
    }

    /// The pages `/raw` sends, as they are.
    pub fn set_bodies(&self, bodies: Vec<Vec<u8>>) {
        self.state.lock().unwrap().bodies = bodies;
    }

    pub fn fail(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
    }
}

async fn serve(
    State(server): State<FeedServer>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let mut state = server.state.lock().unwrap();
    state.requests += 1;
    state.request_times.push(std::time::Instant::now());
    if state.failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "database is down").into_response();
    }
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let size: usize = q
        .get("page_size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1000);
    let since = q.get("since").cloned();
    if let Some(since) = &since {
        state.sinces.push(since.clone());
    }
    // Like most platforms: records updated at or after `since`.
    let records: Vec<Value> = state
        .records
        .iter()
        .filter(|r| {
            since
                .as_ref()
                .is_none_or(|s| r["updated_at"].as_str().unwrap_or("") >= s.as_str())
        })
        .skip((page - 1) * size)
        .take(size)
        .cloned()
        .collect();
    Json(json!({ "items": records })).into_response()
}

/// Page `page` of the bodies the test set, as they are; past the last, no records.
async fn serve_raw(
    State(server): State<FeedServer>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let mut state = server.state.lock().unwrap();
    state.requests += 1;
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let body = state
        .bodies
        .get(page.saturating_sub(1))
        .cloned()
        .unwrap_or_else(|| br#"{"items": []}"#.to_vec());
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Cursor paging, two records a page: the cursor is the offset of the next page.
async fn serve_cursor(
    State(server): State<FeedServer>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let state = server.state.lock().unwrap();
    let from: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let records: Vec<Value> = state.records.iter().skip(from).take(2).cloned().collect();
    let next = (from + 2 < state.records.len()).then(|| (from + 2).to_string());
    Json(json!({ "data": { "rows": records }, "next": next })).into_response()
}

/// An item's grade history from `/api/items/{id}` as (took effect, grade, cause).
pub fn history_of(item: &Value) -> Vec<(String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    item["history"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| (text(&e["at"]), text(&e["grade"]), text(&e["cause"])))
                .collect()
        })
        .unwrap_or_default()
}

/// The history of a record dated Monday 2 Nov 2026, 09:30 with a limit of 5 working days,
/// first seen on 25 Nov (`fixed_clock`): blue when it was accepted, yellow from the 5th
/// (3 days used), red from the 10th, each change at its midnight.
pub fn five_days_from_2_november() -> Vec<(String, String, String)> {
    [
        ("2026-11-02T01:30:00Z", "blue", "feed:main"),
        ("2026-11-04T16:00:00Z", "yellow", "clock"),
        ("2026-11-09T16:00:00Z", "red", "clock"),
    ]
    .map(|(at, grade, cause)| (at.to_owned(), grade.to_owned(), cause.to_owned()))
    .to_vec()
}

/// A canonical record, accepted on `accepted` (RFC 3339) with a limit of `limit` days.
pub fn record(id: &str, accepted: &str, limit: u32) -> Value {
    json!({
        "item_id": id, "project_code": "2611-370102-04-01-123456", "project_name": "某某产业园一期",
        "project_category": "general_social", "matter": "建设工程规划许可证核发",
        "department": "市自然资源和规划局", "stage": 2, "status": "pending",
        "accepted_at": accepted, "limit_days": limit, "legal_days": 20, "extension_days": 0,
        "pauses": [], "finished_at": null, "updated_at": accepted
    })
}

/// On the store at `database_url`: an item turns yellow exactly at local midnight, written
/// with a `clock` history row, and a paused item's pauses are kept. (Run on SQLite and on
/// PostgreSQL: the clock's re-grade and the pauses are written by dialect-specific SQL.)
pub async fn grade_changes_at_the_right_midnight(database_url: &str, dir: &Path) {
    use duban::clock::ManualClock;
    let (feed, url) = FeedServer::start().await;
    // Accepted Monday 2 Nov, 5 days: blue through 4 Nov, yellow from 5 Nov 00:00 (+08:00).
    let mut paused = record("M-2", "2026-11-02T09:30:00+08:00", 20);
    paused["pauses"] = json!([
        {"kind": "correction", "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-04T10:00:00+08:00"}
    ]);
    feed.set(vec![record("M-1", "2026-11-02T09:30:00+08:00", 5), paused]);
    let clock = ManualClock::new(at("2026-11-04T23:59:58+08:00"));
    let feeds = format!(
        "[[feeds]]\nname = \"main\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\nrecords_path = \"items\"\n"
    );
    let config = load_config(dir, &config_text(database_url, &feeds));
    let app = spawn_app(config, Clock::Manual(clock.clone())).await;
    eventually(10, "stored", || async { app.items("").await["total"] == 2 }).await;
    let item = app.item("M-1").await;
    assert_eq!(
        (item["grade"].as_str(), item["used"].as_i64()),
        (Some("blue"), Some(2))
    );
    assert_eq!(item["next_change"], "2026-11-05T00:00:00+08:00");
    let pauses = app.item("M-2").await["pauses"].clone();
    assert_eq!(pauses.as_array().map(Vec::len), Some(1), "{pauses}");

    clock.set(at("2026-11-04T23:59:59+08:00"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.items("grade=blue").await["total"], 2, "not yet");

    clock.set(at("2026-11-05T00:00:00+08:00"));
    eventually(5, "yellow at midnight, written", || async {
        app.items("grade=yellow").await["total"] == 1
            && app.item("M-1").await["history"][1]["grade"] == "yellow"
    })
    .await;
    let item = app.item("M-1").await;
    assert_eq!(item["used"], 3, "{item}");
    let history = item["history"].clone();
    assert_eq!(history[1]["cause"], "clock", "{history}");
    assert_eq!(history[1]["at"], "2026-11-04T16:00:00Z");
    assert_eq!(history[1]["previous"], "blue");

    // A new version of the paused item with its pause gone (the correction withdrawn):
    // the stored pauses are the record's.
    let mut resumed = record("M-2", "2026-11-02T09:30:00+08:00", 20);
    resumed["updated_at"] = json!("2026-11-04T12:00:00+08:00");
    feed.set(vec![
        record("M-1", "2026-11-02T09:30:00+08:00", 5),
        resumed.clone(),
    ]);
    eventually(10, "the pause gone", || async {
        app.item("M-2").await["pauses"].as_array().map(Vec::len) == Some(0)
    })
    .await;

    // Accepted Thursday 5 Nov, 5 days: yellow from 10 Nov, red from 13 Nov.
    let m3 = record("M-3", "2026-11-05T09:30:00+08:00", 5);
    feed.set(vec![
        record("M-1", "2026-11-02T09:30:00+08:00", 5),
        resumed,
        m3,
    ]);
    eventually(10, "M-3 stored", || async {
        app.items("").await["total"] == 3
    })
    .await;
    app.stop().await;

    // Down from the 5th to the 16th: at start-up each change that passed meanwhile is in the
    // history at its own midnight, not at the restart.
    clock.set(at("2026-11-16T09:00:00+08:00"));
    let config = load_config(dir, &config_text(database_url, &feeds));
    let app = spawn_app(config, Clock::Manual(clock.clone())).await;
    let clock_rows = |item: Value| -> Vec<(String, String, String)> {
        item["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["cause"] == "clock")
            .map(|h| {
                let text = |k: &str| h[k].as_str().unwrap_or_default().to_owned();
                (text("at"), text("previous"), text("grade"))
            })
            .collect()
    };
    let row = |at: &str, from: &str, to: &str| (at.to_owned(), from.to_owned(), to.to_owned());
    assert_eq!(
        clock_rows(app.item("M-3").await),
        [
            row("2026-11-09T16:00:00Z", "blue", "yellow"),
            row("2026-11-12T16:00:00Z", "yellow", "red"),
        ]
    );
    assert_eq!(
        clock_rows(app.item("M-1").await),
        [
            row("2026-11-04T16:00:00Z", "blue", "yellow"),
            row("2026-11-09T16:00:00Z", "yellow", "red"),
        ]
    );

    // Running, with the clock jumping past two changes at once (a suspended machine): both
    // are dated too. M-2, 20 days from 2 Nov: yellow from 17 Nov, red from 1 Dec.
    clock.set(at("2026-12-02T09:00:00+08:00"));
    // (The item's grade is live, from the board; its history is the store's, written by
    // the re-grade after: wait for that.)
    eventually(5, "M-2's red written", || async {
        app.item("M-2").await["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["grade"] == "red"))
    })
    .await;
    assert_eq!(
        clock_rows(app.item("M-2").await),
        [
            row("2026-11-16T16:00:00Z", "blue", "yellow"),
            row("2026-11-30T16:00:00Z", "yellow", "red"),
        ]
    );
    app.stop().await;
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("duban.db").display())
}

pub fn path_string(p: &Path) -> String {
    p.display().to_string()
}

pub fn folder(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// A holiday folder in `dir` with the shipped 2026 file alone: 2027 has no file.
pub fn holidays_of_2026_only(dir: &Path) -> PathBuf {
    let holidays = folder(dir, "holidays");
    std::fs::copy(
        root().join("config/holidays/2026.toml"),
        holidays.join("2026.toml"),
    )
    .unwrap();
    holidays
}

/// A test config's `[calendar]` line, and the same with no provisional years (a date after
/// the last file is then an error, not counted provisionally): `text.replace(CALENDAR,
/// NO_PROVISIONAL_YEARS)`.
pub const CALENDAR: &str = "[calendar]\n";
pub const NO_PROVISIONAL_YEARS: &str = "[calendar]\nprovisional_years = 0\n";

pub const SCREEN_TOKEN: &str = "screen-secret-1";
pub const VIEWER_TOKEN: &str = "viewer-secret-1";

/// A config with one feed polled every second, the `overview` screen and both tokens.
pub fn live_config(dir: &std::path::Path, feed_url: &str, extra: &str) -> Config {
    with_tokens(dir, live_config_text(dir, feed_url, extra))
}

/// The text of `live_config`, for a test to change before loading it with `with_tokens`;
/// `extra` goes in `[access]`.
pub fn live_config_text(dir: &std::path::Path, feed_url: &str, extra: &str) -> String {
    live_config_text_on(&sqlite_url(dir), feed_url, extra)
}

/// The same on the store at `database_url`.
pub fn live_config_text_on(database_url: &str, feed_url: &str, extra: &str) -> String {
    let feeds = format!(
        r#"
[[feeds]]
name = "main"
kind = "http_json"
schedule = "* * * * * *"
url = "{feed_url}"
records_path = "items"
retries = 0
stale_after_missed_runs = 2

[[screens]]
name = "overview"
title = "测试大屏"
panels = ["headline", "ring", "departments", "stages", "trend", "projects", "red_list"]
token_env = "DUBAN_SCREEN_TOKEN"

[access]
viewer_token_env = "DUBAN_VIEWER_TOKEN"
{extra}
"#
    );
    config_text(database_url, &feeds)
}

/// Loads `text` as `dir`/duban.toml, with `SCREEN_TOKEN` and `VIEWER_TOKEN` for its variables.
pub fn with_tokens(dir: &std::path::Path, text: String) -> Config {
    let path = dir.join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    let file = TomlFile::from_text(&path, text).with_env_fallback([
        ("DUBAN_SCREEN_TOKEN".to_owned(), SCREEN_TOKEN.to_owned()),
        ("DUBAN_VIEWER_TOKEN".to_owned(), VIEWER_TOKEN.to_owned()),
    ]);
    Config::from_file(&file).unwrap()
}

/// The URL of a service the test needs, from `variable`; without it the test prints
/// `SKIPPED <test>` and gets `None`, except under `CI=true`, where a missing service fails.
pub fn service_url(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{variable} is not set: under CI=true the service tests must run (see .ci/run)")
        }
        _ => {
            // Straight to the process's stderr: the test harness captures `eprintln!` of a
            // passing test, and a skip shown as a bare "ok" would read as a pass.
            use std::io::Write;
            let test = std::thread::current().name().unwrap_or("a test").to_owned();
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: {variable} is not set (set it to run this test against a real server)"
            );
            None
        }
    }
}

pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

pub async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

/// A fresh PostgreSQL database on the server of `base`: its name and URL (with the query
/// of `base`, such as `?host=/var/run/postgresql` for a Unix socket).
pub async fn fresh_pg_database(base: &str) -> (String, String) {
    let name = unique("duban_test");
    pool(base)
        .await
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let (address, query) = base.split_once('?').unwrap_or((base, ""));
    let (server, _) = address.rsplit_once('/').unwrap();
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let url = format!("{server}/{name}{query}");
    (name, url)
}

/// Drops a test's database once it passed (a failed test leaves its database to look at).
pub async fn drop_pg_database(base: &str, name: &str) {
    pool(base)
        .await
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {name} WITH (FORCE)"
        )))
        .await
        .unwrap();
}
