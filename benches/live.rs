//! Live-screen benchmarks (figures in BENCHMARKS.md):
//! - `charts_all`: every overview chart drawn as SVG from the figures of a board (the work
//!   done per change when every panel changed; target ≤ 20 ms);
//! - `figures/<n>`: the figures counted from a board of n items (re-grading every open item
//!   on today), as the live task does once per change;
//! - `trend_before/<n>`: the trend's 29 past days redrawn from the clocks (once a day and
//!   every ten minutes).
//!
//! Run: `cargo bench --bench live`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use chrono::DateTime;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use duban::board::{Board, record_hash};
use duban::calendar::Calendar;
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
    bytes += charts::bars::departments(&f.departments).map_or(0, |s| s.len());
    bytes += charts::bars::stages(&f.stages).map_or(0, |s| s.len());
    bytes += charts::trend::draw(&f.trend).map_or(0, |s| s.len());
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

criterion_group!(live, benches);
criterion_main!(live);
