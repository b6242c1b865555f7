//! Grading benchmarks (see BENCHMARKS.md for the figures and the machine):
//! - `regrade_1m`: 1,000,000 pending items re-graded at a new instant, on one core;
//! - `deadlines_1m`: 1,000,000 deadlines computed;
//! - `vendor_sql_1m`: the same grading done the way vendors do it today, one SQL query over
//!   the same 1,000,000 rows with a calendar table, in SQLite, next to `regrade_1m_plain`
//!   (our grader on exactly those rows) for the ratio;
//! - `grade_cli_1m`: `duban grade` end to end on a 1,000,000-line file (parse, grade, write).
//!
//! Run: `cargo bench --bench grading` (add a group name to run one).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use criterion::{Criterion, criterion_group, criterion_main};
use duban::calendar::Calendar;
use duban::config::Config;
use duban::grading::{self, ClockInput, Grade, Thresholds};
use duban::simulator::population::Population;
use sqlx::{Connection, Row};

const ITEMS: u64 = 1_000_000;
const NOW: &str = "2026-11-25T10:00:00+08:00";
/// A later instant for the re-grade: the next morning, when every item may have moved.
const LATER: &str = "2026-11-26";

struct Fixture {
    config: Config,
    calendar: Calendar,
    /// Every item as pending (finished ones re-opened), with its thresholds.
    pending: Vec<(ClockInput, Thresholds)>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(NOW).expect("a valid instant")
}

fn fixture() -> Fixture {
    let file = duban::config::toml_file::TomlFile::read(&root().join("config/duban.toml"))
        .expect("the shipped config")
        .with_secrets_unused();
    let config = Config::from_file(&file).expect("the shipped config");
    let calendar = config.load_calendar().expect("the shipped calendar");
    let now = now().with_timezone(&config.timezone);
    let mut population =
        Population::new(&config.matters, &calendar, config.timezone, now, 42).expect("population");
    let mut pending = Vec::with_capacity(ITEMS as usize);
    population
        .generate(ITEMS, |item| {
            let mut input = ClockInput::from_item(item, config.timezone);
            input.ended_on = None;
            let thresholds = config
                .grading
                .thresholds_for(&item.matter, &item.department);
            pending.push((input, thresholds));
        })
        .expect("items within the loaded years");
    Fixture {
        config,
        calendar,
        pending,
    }
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date")
}

fn regrade(items: &[(ClockInput, Thresholds)], calendar: &Calendar, today: NaiveDate) -> [u32; 4] {
    let mut counts = [0u32; 4];
    for (input, thresholds) in items {
        match grading::grade(input, thresholds, calendar, today) {
            Ok(g) => counts[g.grade as usize] += 1,
            Err(_) => counts[3] += 1,
        }
    }
    counts
}

fn grading_benches(c: &mut Criterion) {
    let fixture = fixture();
    let today = day(LATER);
    let counts = regrade(&fixture.pending, &fixture.calendar, today);
    println!(
        "fixture: {} pending items: blue {}, yellow {}, red {}, beyond the calendar {}",
        fixture.pending.len(),
        counts[Grade::Blue as usize],
        counts[Grade::Yellow as usize],
        counts[Grade::Red as usize],
        counts[3]
    );

    let mut group = c.benchmark_group("grading");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("regrade_1m", |b| {
        b.iter(|| {
            regrade(
                black_box(&fixture.pending),
                &fixture.calendar,
                black_box(today),
            )
        })
    });
    group.bench_function("deadlines_1m", |b| {
        b.iter(|| {
            let mut last = today;
            for (input, _) in black_box(&fixture.pending) {
                if let Ok(deadline) = input.deadline(&fixture.calendar, today) {
                    last = last.max(deadline);
                }
            }
            last
        })
    });
    group.finish();
    vendor_sql(c, &fixture, today);
    grade_cli(c, &fixture);
}

/// The vendor way: a calendar table with a working-day flag and a running count of working
/// days (the best such schemas do; without the count, finding the n-th working day needs a
/// quadratic query), and one query that grades every row. Pauses are left out of both
/// sides, as such queries rarely handle them.
fn vendor_sql(c: &mut Criterion, fixture: &Fixture, today: NaiveDate) {
    let plain: Vec<(ClockInput, Thresholds)> = fixture
        .pending
        .iter()
        .map(|(input, _)| {
            (
                ClockInput::new(input.accepted_on, input.allowed, Vec::new(), None),
                Thresholds::default(),
            )
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("vendor.db").display()
    );
    let mut conn = runtime.block_on(async {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("SQLite opens");
        for statement in [
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = OFF",
            "CREATE TABLE work_calendar (day TEXT PRIMARY KEY, is_workday INTEGER NOT NULL, \
             seq INTEGER NOT NULL) WITHOUT ROWID",
            "CREATE INDEX work_calendar_seq ON work_calendar (seq, is_workday)",
            "CREATE TABLE items (id INTEGER PRIMARY KEY, accepted_on TEXT NOT NULL, allowed INTEGER NOT NULL)",
        ] {
            sqlx::query(statement).execute(&mut conn).await.expect("schema");
        }
        let mut tx = conn.begin().await.expect("a transaction");
        let mut date = day("2025-01-01");
        let mut seq = 0i64;
        while date <= day("2026-12-31") {
            let work = fixture.calendar.is_working_day(date).expect("loaded");
            seq += i64::from(work);
            sqlx::query("INSERT INTO work_calendar VALUES (?, ?, ?)")
                .bind(date.to_string())
                .bind(work)
                .bind(seq)
                .execute(&mut *tx)
                .await
                .expect("calendar row");
            date = date.succ_opt().expect("a next day");
        }
        for (id, (input, _)) in plain.iter().enumerate() {
            sqlx::query("INSERT INTO items VALUES (?, ?, ?)")
                .bind(id as i64)
                .bind(input.accepted_on.to_string())
                .bind(i64::from(input.allowed))
                .execute(&mut *tx)
                .await
                .expect("item row");
        }
        tx.commit().await.expect("commit");
        conn
    });
    let query = "
        WITH graded AS (
          SELECT i.allowed,
            MAX(t.seq - a.seq, 0) AS used,
            CASE WHEN i.allowed = 0 THEN i.accepted_on ELSE
              (SELECT c.day FROM work_calendar c
                WHERE c.seq = a.seq + i.allowed AND c.is_workday = 1) END AS deadline
          FROM items i
          JOIN work_calendar a ON a.day = i.accepted_on
          CROSS JOIN (SELECT seq FROM work_calendar WHERE day = ?1) t)
        SELECT CASE WHEN deadline IS NULL THEN 'beyond'
                    WHEN ?1 > deadline THEN 'red'
                    WHEN (allowed = 0 AND used = 0) OR (allowed > 0 AND used * 1.0 / allowed <= 0.5) THEN 'blue'
                    ELSE 'yellow' END AS grade,
               COUNT(*) AS n
        FROM graded GROUP BY grade ORDER BY grade";
    let today_text = today.to_string();
    let run_sql = |conn: &mut sqlx::SqliteConnection| {
        runtime.block_on(async {
            sqlx::query(query)
                .bind(&today_text)
                .fetch_all(conn)
                .await
                .expect("the vendor query runs")
                .iter()
                .map(|row| (row.get::<String, _>("grade"), row.get::<i64, _>("n")))
                .collect::<Vec<_>>()
        })
    };
    let ours = regrade(&plain, &fixture.calendar, today);
    let theirs = run_sql(&mut conn);
    println!(
        "vendor SQL grades: {theirs:?}; ours on the same rows: {ours:?} (blue, yellow, red, beyond)"
    );
    let count = |grade: &str| {
        theirs
            .iter()
            .find(|(g, _)| g == grade)
            .map_or(0, |(_, n)| *n)
    };
    let expected = [
        count("blue"),
        count("yellow"),
        count("red"),
        count("beyond"),
    ];
    assert_eq!(
        ours.map(i64::from),
        expected,
        "the vendor query and duban disagree"
    );

    let mut group = c.benchmark_group("vendor");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(30));
    group.bench_function("vendor_sql_1m", |b| b.iter(|| run_sql(&mut conn)));
    group.bench_function("regrade_1m_plain", |b| {
        b.iter(|| regrade(black_box(&plain), &fixture.calendar, today))
    });
    group.finish();
}

/// `duban grade` on a 1,000,000-line file of canonical records, output discarded.
fn grade_cli(c: &mut Criterion, fixture: &Fixture) {
    let path = sample_file(fixture);
    let mut group = c.benchmark_group("cli");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40));
    group.bench_function("grade_cli_1m", |b| {
        b.iter(|| {
            let status = Command::new(env!("CARGO_BIN_EXE_duban"))
                .args(["grade", "--now", NOW])
                .arg(&path)
                .current_dir(root())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("duban runs");
            // 2: a few sample items accepted late in 2026 have deadlines in 2027, which is
            // not loaded; they get error objects, like any line that cannot be graded.
            assert!(
                matches!(status.code(), Some(0 | 2)),
                "duban grade failed: {status}"
            );
        })
    });
    group.finish();
}

/// The 1,000,000-line file, made once per version of the crate (the generator may change
/// between versions) and written under a temporary name so an interrupted run leaves none.
fn sample_file(fixture: &Fixture) -> PathBuf {
    let name = format!("bench-items-1m-seed42-v{}.jsonl", env!("CARGO_PKG_VERSION"));
    let path = root().join("target").join(name);
    if !path.exists() {
        let partial = path.with_extension("partial");
        let file = std::fs::File::create(&partial).expect("the sample file");
        let mut out = std::io::BufWriter::new(file);
        duban::commands::sample::run(
            &fixture.config,
            &fixture.calendar,
            now(),
            ITEMS,
            42,
            &mut out,
        )
        .expect("the sample is written");
        drop(out);
        std::fs::rename(&partial, &path).expect("the sample file is renamed");
    }
    path
}

criterion_group!(benches, grading_benches);
criterion_main!(benches);
