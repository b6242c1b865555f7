//! Warnings benchmark (a bench command: each figure is one run). See BENCHMARKS.md.
//!
//! 1. Throughput: 10,000 messages written to the outbox in one rule run, sent by the
//!    outbox's worker through the generic HTTP gateway sender to a gateway on loopback,
//!    every attempt recorded: from the run's write to the last message recorded as sent.
//! 2. Latency: a record that makes an item red is ingested, and the clock stands inside the
//!    send window; from the ingest's call to the gateway receiving the text (the grade
//!    event written, the rules run, the message written, claimed and sent), 200 times in a
//!    row: p50, p99 and the worst.
//!
//! Run: `cargo bench --bench warnings` (SQLite; with `DUBAN_TEST_PG_URL` set, PostgreSQL
//! too, in a database of its own).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to report

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use duban::clock::Clock;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::item::Item;
use duban::store::warnings::{Queued, RunWrite};
use duban::warnings::contacts::{Contact, Role};
use duban::warnings::message::Channel;
use duban::warnings::rules::RuleName;
use duban::warnings::wording::Draft;
use sqlx::Executor;
use tokio::sync::mpsc;

const MESSAGES: usize = 10_000;
const SAMPLES: usize = 200;
/// Wednesday 25 November 2026, 10:00 in Shanghai: inside the send window.
const NOW: &str = "2026-11-25T10:00:00+08:00";
const DEPARTMENT: &str = "市自然资源和规划局";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A gateway on loopback: answers every POST at once and tells the bench when each came.
async fn gateway() -> (String, Arc<AtomicU64>, mpsc::UnboundedReceiver<Instant>) {
    let count = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    let counted = count.clone();
    let router = Router::new().route(
        "/sms",
        post(move |body: String| {
            let (counted, tx) = (counted.clone(), tx.clone());
            async move {
                let n = counted.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send(Instant::now());
                let _ = body;
                axum::Json(serde_json::json!({"code": 0, "msgid": format!("gw-{n}")}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/sms"), count, rx)
}

fn config(dir: &Path, database_url: &str, gateway: &str) -> Config {
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

[warnings]
sms = "gw"
email = "mail"

[[warnings.senders]]
name = "gw"
kind = "gateway"
url = "{gateway}"
body = '{{"to": "{{mobile}}", "text": "{{text}}", "id": "{{id}}"}}'
id_pointer = "/msgid"

[[warnings.senders]]
name = "mail"
kind = "log"
channel = "email"
"#,
        root().join("config/holidays").display().to_string(),
        root().join("config/matters.csv").display().to_string(),
    );
    let path = dir.join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    Config::from_file(&TomlFile::from_text(&path, text)).unwrap()
}

fn red_record(id: &str) -> Item {
    serde_json::from_value(serde_json::json!({
        "item_id": id, "project_code": "2611-370102-04-01-123456", "project_name": "某某产业园一期",
        "project_category": "general_social", "matter": "建设工程规划许可证核发",
        "department": DEPARTMENT, "stage": 2, "status": "pending",
        "accepted_at": "2026-11-02T09:30:00+08:00", "limit_days": 5, "legal_days": 20,
        "extension_days": 0, "pauses": [], "finished_at": null,
        "updated_at": "2026-11-24T09:30:00+08:00"
    }))
    .unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn run(label: &str, database_url: &str, dir: &Path) {
    let (url, received, mut arrivals) = gateway().await;
    let config = config(dir, database_url, &url);
    let calendar = config.load_calendar().unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    let clock = Clock::Manual(duban::clock::ManualClock::new(now));
    let running = duban::app::start(config, calendar, clock).await.unwrap();
    let shared = running.shared.clone();
    let store = &shared.store;

    // 1. Throughput.
    let drafts: Vec<Draft> = (0..MESSAGES)
        .map(|n| Draft {
            dedup_key: format!("bench|sms|{n}"),
            rule: RuleName::Overdue,
            department: DEPARTMENT.into(),
            channel: Channel::Sms,
            sender: "gw".into(),
            role: "handler".into(),
            recipient: format!("经办人{n}"),
            address: format!("138{n:08}"),
            items: vec![(format!("B-{n}"), "2026-11-20".into())],
            subject: String::new(),
            text: format!("【超期预警】{DEPARTMENT}有1件审批事项已超期，最久超期3个工作日。"),
            params: vec![],
            html: None,
            markdown: None,
        })
        .collect();
    let started = Instant::now();
    store
        .write_run(&RunWrite {
            log_position: store.last_change().await.unwrap(),
            schedules: vec![],
            warned: vec![],
            messages: drafts
                .iter()
                .map(|draft| Queued {
                    draft,
                    not_before: now,
                    held: false,
                })
                .collect(),
            now,
        })
        .await
        .unwrap();
    let written = started.elapsed();
    shared.outbox.notify_one();
    let pool = store.pool();
    loop {
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE status = 'sent'")
            .fetch_one(pool)
            .await
            .unwrap();
        if sent as usize >= MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = started.elapsed();
    println!(
        "{label}: {MESSAGES} messages written to the outbox in {:.2} s, sent and recorded by {:.2} s: {:.0} messages/s ({} requests at the gateway)",
        written.as_secs_f64(),
        all.as_secs_f64(),
        MESSAGES as f64 / all.as_secs_f64(),
        received.load(Ordering::Relaxed)
    );
    while arrivals.try_recv().is_ok() {}

    // 2. Latency from a grade change to the gateway.
    store
        .replace_contacts(&[Contact {
            role: Role::Handler,
            department: DEPARTMENT.into(),
            project_code: String::new(),
            name: "张经办".into(),
            mobile: "13800000001".into(),
            email: String::new(),
        }])
        .await
        .unwrap();
    // Let the day's first run (the whole board) pass.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while arrivals.try_recv().is_ok() {}
    let mut delays = Vec::with_capacity(SAMPLES);
    for n in 0..SAMPLES {
        let began = Instant::now();
        shared
            .ingest("bench", vec![red_record(&format!("L-{n:04}"))])
            .await
            .unwrap();
        let arrived = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .expect("the text reached the gateway within 10 s")
            .unwrap();
        delays.push(arrived - began);
    }
    delays.sort();
    println!(
        "{label}: grade change → gateway, {SAMPLES} red items one after another: p50 {:.1} ms, p99 {:.1} ms, worst {:.1} ms",
        percentile(&delays, 0.5).as_secs_f64() * 1e3,
        percentile(&delays, 0.99).as_secs_f64() * 1e3,
        delays.last().unwrap().as_secs_f64() * 1e3
    );
    running.stop(Duration::from_secs(5)).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("warnings.db").display());
        run("sqlite", &url, dir.path()).await;
        if let Ok(base) = std::env::var("DUBAN_TEST_PG_URL") {
            sqlx::any::install_default_drivers();
            let admin = sqlx::AnyPool::connect(&base).await.unwrap();
            let name = format!("duban_bench_warnings_{}", std::process::id());
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
