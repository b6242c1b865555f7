//! Ingest benchmark (a bench command: each figure is one long run, too long for criterion's
//! repetitions). See BENCHMARKS.md for the figures and the machine.
//!
//! 1. 1,000,000 canonical records (all pending) served over HTTP JSON on loopback, 5,000 a
//!    page, ingested by one feed run into SQLite: fetch, map, validate, grade, store.
//! 2. The same rows loaded by SQLite's own bulk loader (`sqlite3 … .import --csv`), into a
//!    bare table and into one with the items table's key and indexes.
//! 3. `duban serve` started on that store: time until `/healthz` answers, and its resident
//!    memory with the 1,000,000 pending items on its board.
//! 4. With `DUBAN_TEST_PG_URL` set: the same ingest into PostgreSQL, start-up and memory on
//!    that store as in 3, and `\copy` (COPY) of the same rows by `psql`, bare and indexed as
//!    in 2.
//!
//! Run: `cargo bench --bench ingest` (needs the `sqlite3` and `psql` command-line tools).

#![allow(clippy::unwrap_used)] // a benchmark that cannot set up has nothing to report

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use duban::app;
use duban::clock::Clock;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::item::{Item, Status};
use duban::simulator::population::Population;
use sqlx::Executor;
use tokio_util::sync::CancellationToken;

/// 1,000,000 unless `DUBAN_BENCH_RECORDS` says otherwise (for a quick look or a profile).
fn records() -> u64 {
    std::env::var("DUBAN_BENCH_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}
const PAGE: usize = 5_000;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn config_text(database_url: &str, feed_url: &str, listen: &str) -> String {
    format!(
        r#"timezone = "Asia/Shanghai"
[calendar]
holidays_dir = {:?}
[catalogue]
matters = {:?}
[server]
listen = "{listen}"
[store]
database_url = {database_url:?}
[[feeds]]
name = "bench"
kind = "http_json"
enabled = false
schedule = "0 0 0 1 1 *"
url = "{feed_url}"
records_path = "items"
pagination = {{ kind = "page", size = {PAGE} }}
timeout_seconds = 120
"#,
        root().join("config/holidays").display().to_string(),
        root().join("config/matters.csv").display().to_string(),
    )
}

fn load(dir: &Path, text: &str) -> Config {
    let path = dir.join("duban.toml");
    std::fs::write(&path, text).unwrap();
    Config::from_file(&TomlFile::from_text(&path, text.to_owned())).unwrap()
}

/// The instant the city is generated and graded at: the same figures on any day the bench
/// runs (the machine's date would grade items on a calendar the repository may not have).
const NOW: &str = "2026-11-25T10:00:00+08:00";

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc()
}

/// A million pending items of the simulated city, as of `NOW`.
fn items(config: &Config) -> Vec<Item> {
    let calendar = config.load_calendar().unwrap();
    let now = now().with_timezone(&config.timezone);
    let mut items = Vec::with_capacity(records() as usize);
    Population::new(&config.matters, &calendar, config.timezone, now, 42)
        .unwrap()
        .generate(records(), |item| {
            let mut item = item.clone();
            item.status = Status::Pending;
            item.finished_at = None;
            for pause in &mut item.pauses {
                pause.to = Some(pause.to.unwrap_or(pause.from));
            }
            items.push(item);
        })
        .unwrap();
    items
}

async fn page(
    State(pages): State<Arc<Vec<Bytes>>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Bytes {
    let n: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    pages
        .get(n - 1)
        .cloned()
        .unwrap_or_else(|| Bytes::from_static(b"{\"items\":[]}"))
}

async fn serve_pages(items: &[Item]) -> String {
    let pages: Vec<Bytes> = items
        .chunks(PAGE)
        .map(|chunk| {
            Bytes::from(serde_json::to_vec(&serde_json::json!({ "items": chunk })).unwrap())
        })
        .collect();
    let router = Router::new()
        .route("/items", get(page))
        .with_state(Arc::new(pages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/items")
}

/// One feed run into the store at `database_url`; returns the seconds it took.
async fn ingest(dir: &Path, database_url: &str, feed_url: &str) -> f64 {
    let config = load(dir, &config_text(database_url, feed_url, "127.0.0.1:0"));
    let spec = config.feeds[0].clone();
    let calendar = config.load_calendar().unwrap();
    let clock = Clock::Manual(duban::clock::ManualClock::new(now()));
    let running = app::start(config, calendar, clock).await.unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let run =
        duban::feeds::poller::run_once(&running.shared, &spec, &client, &CancellationToken::new())
            .await;
    let seconds = started.elapsed().as_secs_f64();
    assert!(run.ok, "the run failed: {:?}", run.error);
    assert_eq!(run.records_in, records());
    println!(
        "  stored {} records ({} quarantined: deadlines beyond the loaded calendar) in {seconds:.2} s = {:.0} records/s",
        run.records_ok,
        run.quarantined,
        records() as f64 / seconds
    );
    running.stop(Duration::from_secs(30)).await;
    seconds
}

const CSV_COLUMNS: &str = "item_id,project_code,matter,department,stage,status,accepted_at,limit_days,legal_days,extension_days,updated_at";

fn write_csv(items: &[Item], path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in items {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            i.item_id,
            i.project_code,
            i.matter,
            i.department,
            i.stage,
            i.status.as_str(),
            i.accepted_at.to_rfc3339(),
            i.limit_days,
            i.legal_days,
            i.extension_days,
            i.updated_at.to_rfc3339()
        )
        .unwrap();
    }
}

/// The CSV's table as `name`: bare, or `indexed` with as many B-trees as duban's `items`
/// table keeps up (the primary key and three secondary indexes), so that the loader is also
/// timed doing comparable index work. The CSV has no grade: where duban indexes (department,
/// grade), (project_code) and (grade, status), this table indexes department, project_code
/// and status.
fn csv_table(name: &str, indexed: bool) -> String {
    let mut sql = format!(
        "CREATE TABLE {name} ({}{});",
        CSV_COLUMNS.replace(',', " TEXT,") + " TEXT",
        if indexed {
            ", PRIMARY KEY (item_id)"
        } else {
            ""
        }
    );
    if indexed {
        for column in ["department", "project_code", "status"] {
            sql.push_str(&format!(
                " CREATE INDEX {name}_{column} ON {name} ({column});"
            ));
        }
    }
    sql
}

/// Times a bulk load of the CSV into a bare and an indexed table; `load(table)` gives the
/// command that creates and fills `table`.
fn bulk_loads(mut load: impl FnMut(&str, bool) -> Command) {
    for (table, indexed, what) in [
        ("items_bare", false, "into a bare table"),
        (
            "items_indexed",
            true,
            "into a table with items' key and indexes",
        ),
    ] {
        let seconds = timed(&mut load(table, indexed));
        println!(
            "  {what}: {} rows in {seconds:.2} s = {:.0} rows/s",
            records(),
            records() as f64 / seconds
        );
    }
}

fn timed(command: &mut Command) -> f64 {
    let started = Instant::now();
    let status = command.stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "{command:?} failed");
    started.elapsed().as_secs_f64()
}

/// Starts `duban serve` on the store and measures start-up and resident memory.
fn start_up_and_memory(runtime: &tokio::runtime::Runtime, dir: &Path, database_url: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let config = dir.join("serve.toml");
    std::fs::write(
        &config,
        config_text(database_url, "http://127.0.0.1:9/none", &listen),
    )
    .unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_duban"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("DUBAN_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{listen}/healthz");
    let seconds = loop {
        let body = runtime.block_on(async { reqwest::get(&url).await?.text().await });
        if body.is_ok_and(|b| b.contains("\"items\":")) {
            break started.elapsed().as_secs_f64();
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "duban serve did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    std::thread::sleep(Duration::from_secs(2));
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap_or("VmRSS: ?")
        .to_owned();
    println!(
        "  duban serve: /healthz answered {seconds:.2} s after start with {} items in the store; {rss}",
        records()
    );
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = load(
        dir.path(),
        &config_text("sqlite://unused.db", "http://127.0.0.1:9/", "127.0.0.1:0"),
    );
    println!("generating {} pending items…", records());
    let items = items(&config);
    let feed_url = runtime.block_on(serve_pages(&items));

    let csv = dir.path().join("items.csv");
    write_csv(&items, &csv);
    // `DUBAN_BENCH_SQLITE=0`: PostgreSQL's part alone.
    if std::env::var("DUBAN_BENCH_SQLITE").as_deref() != Ok("0") {
        sqlite_part(&runtime, dir.path(), &feed_url, &csv);
    }

    if let Ok(base) = std::env::var("DUBAN_TEST_PG_URL") {
        println!("4. HTTP JSON → duban → PostgreSQL");
        let name = format!("duban_bench_{}", std::process::id());
        let url = runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&base).await.unwrap();
            pool.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .unwrap();
            // Keep any query (`?host=/var/run/postgresql` for a Unix socket).
            let (address, query) = base
                .split_once('?')
                .map_or((base.as_str(), String::new()), |(a, q)| {
                    (a, format!("?{q}"))
                });
            let (server, _) = address.rsplit_once('/').unwrap();
            format!("{server}/{name}{query}")
        });
        runtime.block_on(ingest(dir.path(), &url, &feed_url));
        println!("   start-up and memory on PostgreSQL");
        start_up_and_memory(&runtime, dir.path(), &url);
        println!("5. psql \\copy (COPY) of the same rows");
        bulk_loads(|table, indexed| {
            let mut command = Command::new("psql");
            command.arg(&url).args([
                "-q",
                "-c",
                &csv_table(table, indexed),
                "-c",
                &format!("\\copy {table} FROM '{}' WITH (FORMAT csv)", csv.display()),
            ]);
            command
        });
        let _ = Command::new("psql")
            .arg(&base)
            .args(["-q", "-c", &format!("DROP DATABASE {name}")])
            .status();
    } else {
        println!("4–5. skipped: set DUBAN_TEST_PG_URL to measure PostgreSQL");
    }
}

/// Ingest, the bulk loader, start-up and memory on SQLite.
fn sqlite_part(runtime: &tokio::runtime::Runtime, dir: &Path, feed_url: &str, csv: &Path) {
    println!("1. HTTP JSON → duban → SQLite");
    let sqlite = format!("sqlite://{}", dir.join("duban.db").display());
    runtime.block_on(ingest(dir, &sqlite, feed_url));

    println!("2. sqlite3 .import --csv of the same rows");
    bulk_loads(|table, indexed| {
        let mut command = Command::new("sqlite3");
        command
            .arg(dir.join(format!("{table}.db")))
            .arg(format!(
                "PRAGMA journal_mode=WAL; {}",
                csv_table(table, indexed)
            ))
            .arg(format!(".import --csv {} {table}", csv.display()));
        command
    });

    println!("3. start-up and memory");
    start_up_and_memory(runtime, dir, &sqlite);
    // For profiling start-up: keep the store (DUBAN_BENCH_KEEP=path).
    if let Ok(keep) = std::env::var("DUBAN_BENCH_KEEP") {
        std::fs::copy(dir.join("duban.db"), &keep).unwrap();
        println!("  kept the store as {keep}");
    }
}
