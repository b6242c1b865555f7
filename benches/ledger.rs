//! Ledger benchmark (a bench command: each figure is one long run). See BENCHMARKS.md.
//!
//! On a store holding 1,000,000 items ingested through the daemon's own path (one record
//! version and one or more grade events each in the log):
//! 1. reading the whole change log from position 0, 10,000 changes a page;
//! 2. rebuilding every item as of a past date (the version standing then, graded as of
//!    that day);
//! 3. the store's size per item: the log's share (a version and its events) and in all;
//! 4. the monthly rankings report of October 2026 over the same store: in the process (as
//!    `/rankings` computes it), and as `duban report monthly --format json` with its peak
//!    memory (`/usr/bin/time -v`, the CLI being its own process).
//!
//! Run: `cargo bench --bench ledger` (SQLite; with `DUBAN_TEST_PG_URL` set, PostgreSQL too,
//! in a database of its own). `DUBAN_BENCH_RECORDS` sets the count;
//! `DUBAN_BENCH_ONLY=report` runs the ingest and step 4 alone.

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to report

use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use duban::clock::Clock;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::item::Item;
use duban::simulator::population::Population;
use sqlx::Executor;

fn records() -> u64 {
    std::env::var("DUBAN_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const NOW: &str = "2026-11-25T10:00:00+08:00";

fn config(dir: &Path, database_url: &str) -> Config {
    let text = format!(
        r#"timezone = "Asia/Shanghai"
[calendar]
holidays_dir = {:?}
[catalogue]
matters = {:?}
[server]
listen = "127.0.0.1:0"
[store]
database_url = {database_url:?}
"#,
        root().join("config/holidays").display().to_string(),
        root().join("config/matters.csv").display().to_string(),
    );
    let path = dir.join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    Config::from_file(&TomlFile::from_text(&path, text)).unwrap()
}

async fn run(label: &str, database_url: &str, dir: &Path) {
    let config = config(dir, database_url);
    let calendar = config.load_calendar().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap();
    let mut items: Vec<Item> = Vec::with_capacity(records() as usize);
    Population::new(
        &config.matters,
        &calendar,
        config.timezone,
        now.with_timezone(&config.timezone),
        7,
    )
    .unwrap()
    .generate(records(), |item| items.push(item.clone()))
    .unwrap();
    let clock = Clock::Manual(duban::clock::ManualClock::new(now.to_utc()));
    let running = duban::app::start(config, calendar, clock).await.unwrap();
    let shared = running.shared.clone();
    let started = Instant::now();
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let rest = items.split_off(items.len().min(5_000));
        chunks.push(std::mem::replace(&mut items, rest));
    }
    for page in chunks {
        shared.ingest("bench", page).await.unwrap();
    }
    println!(
        "{label}: {} records ingested in {:.2} s (setup)",
        records(),
        started.elapsed().as_secs_f64()
    );
    // `DUBAN_BENCH_ONLY=report`: the report alone (its setup is the ingest all the same).
    let only_report = std::env::var("DUBAN_BENCH_ONLY").is_ok_and(|v| v == "report");
    if !only_report {
        log_rebuild_and_size(label, database_url, dir, &shared).await;
    }
    report(label, dir, &shared).await;
    running.stop(std::time::Duration::from_secs(5)).await;
}

/// Steps 1 to 3.
async fn log_rebuild_and_size(
    label: &str,
    database_url: &str,
    dir: &Path,
    shared: &duban::ingest::Shared,
) {
    let store = &shared.store;

    // 1. The whole log, from 0: as /api/changes serves it (the database's JSON text,
    // passed on unparsed), then as an internal consumer reads it (parsed into `Change`s).
    let started = Instant::now();
    let (mut after, mut read) = (0, 0i64);
    loop {
        let page = store.changes_text(after, 10_000).await.unwrap();
        let Some(last) = page.last else { break };
        read += page.count;
        after = last;
    }
    let reading = started.elapsed();
    println!(
        "{label}: served {read} changes as text from position 0 in {:.2} s ({:.0} changes/s)",
        reading.as_secs_f64(),
        read as f64 / reading.as_secs_f64()
    );
    let started = Instant::now();
    let (mut after, mut read) = (0, 0usize);
    loop {
        let page = store.changes_after(after, 10_000).await.unwrap();
        if page.is_empty() {
            break;
        }
        read += page.len();
        after = page.last().unwrap().seq;
    }
    let reading = started.elapsed();
    println!(
        "{label}: parsed {read} changes from position 0 in {:.2} s ({:.0} changes/s)",
        reading.as_secs_f64(),
        read as f64 / reading.as_secs_f64()
    );

    // 2. Every item as of a past date.
    let day = NaiveDate::from_ymd_opt(2026, 10, 31).unwrap();
    let started = Instant::now();
    let (mut graded, mut without) = (0usize, 0usize);
    let tz = shared.config.timezone;
    store
        .for_each_versions(|_, versions| {
            let records: Vec<(u32, chrono::DateTime<chrono::Utc>, Item)> = versions
                .iter()
                .filter_map(|(v, at, json)| Some((*v, *at, serde_json::from_str(json).ok()?)))
                .collect();
            match duban::ledger::graded_as_of(
                records.iter().map(|(v, at, item)| (*v, *at, item)),
                day,
                &shared.calendar,
                &shared.config.grading,
                tz,
            ) {
                Some(Ok(_)) => graded += 1,
                _ => without += 1,
            }
        })
        .await
        .unwrap();
    let rebuilding = started.elapsed();
    println!(
        "{label}: rebuilt every item as of {day} in {:.2} s ({graded} graded, {without} without a record then)",
        rebuilding.as_secs_f64()
    );

    // 3. Size per item.
    let pool = store.pool();
    let (log, all): (i64, i64) = if database_url.starts_with("sqlite:") {
        let page: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(pool)
            .await
            .unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(pool)
            .await
            .unwrap();
        let all = page * pages;
        // The log's share: the store again without it.
        let copy = dir.join("without-log.db");
        pool.execute(sqlx::AssertSqlSafe(format!(
            "VACUUM INTO '{}'",
            copy.display()
        )))
        .await
        .unwrap();
        let other = sqlx::AnyPool::connect(&format!("sqlite://{}", copy.display()))
            .await
            .unwrap();
        other.execute("DROP TABLE changes").await.unwrap();
        other.execute("VACUUM").await.unwrap();
        let without: i64 = std::fs::metadata(&copy).unwrap().len() as i64;
        other.close().await;
        (all - without, all)
    } else {
        let log: i64 = sqlx::query_scalar("SELECT pg_total_relation_size('changes')")
            .fetch_one(pool)
            .await
            .unwrap();
        let all: i64 = sqlx::query_scalar("SELECT pg_database_size(current_database())")
            .fetch_one(pool)
            .await
            .unwrap();
        (log, all)
    };
    let versions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE kind = 'version'")
        .fetch_one(pool)
        .await
        .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE kind = 'grade'")
        .fetch_one(pool)
        .await
        .unwrap();
    println!(
        "{label}: {versions} versions and {events} grade events; the log {:.0} bytes an item ({:.1} MB), the store {:.0} bytes an item ({:.1} MB)",
        log as f64 / versions as f64,
        log as f64 / 1e6,
        all as f64 / versions as f64,
        all as f64 / 1e6
    );
}

/// Step 4.
async fn report(label: &str, dir: &Path, shared: &duban::ingest::Shared) {
    let store = &shared.store;
    // 4. The monthly report.
    let period = duban::rankings::Period::parse("2026-10").unwrap();
    let started = Instant::now();
    let report = duban::rankings::gather::report(
        store,
        &shared.config,
        &shared.calendar,
        period,
        chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc(),
    )
    .await
    .unwrap();
    println!(
        "{label}: the monthly report of 2026-10 in {:.2} s in the process ({} items read, {} counted, {} departments)",
        started.elapsed().as_secs_f64(),
        report.items_read,
        report.items.len(),
        report.ranked.len() + report.unranked.len()
    );
    let out = dir.join("report.json");
    let started = Instant::now();
    let output = std::process::Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_duban"))
        .args(["--config", dir.join("duban.toml").to_str().unwrap()])
        .args([
            "report",
            "monthly",
            "--month",
            "2026-10",
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--now", NOW])
        .output()
        .unwrap();
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let peak = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .unwrap_or("?");
    println!(
        "{label}: duban report monthly --format json: {:.2} s wall, peak RSS {peak} kB, {} bytes written",
        wall.as_secs_f64(),
        std::fs::metadata(&out).unwrap().len()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
        run("sqlite", &url, dir.path()).await;
        if let Ok(base) = std::env::var("DUBAN_TEST_PG_URL") {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            let name = format!("duban_bench_ledger_{}", std::process::id());
            admin
                .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            let url = match base.rsplit_once('/') {
                Some((server, _)) => format!("{server}/{name}"),
                None => base.clone(),
            };
            let pg_dir = tempfile::tempdir().unwrap();
            run("postgres", &url, pg_dir.path()).await;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE {name} WITH (FORCE)"
                )))
                .await
                .unwrap();
        }
    });
}
