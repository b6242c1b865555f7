//! A store made by the previous release opens and is migrated, on SQLite and on PostgreSQL.
//! The fixtures in `tests/fixtures/` were made by the release before sqlx's migrator and
//! the canonical record hash (commit 5862425): `duban serve` polling the 60 records of
//! `previous-release.records.jsonl` (`duban sample --count 60 --seed 16 --now
//! 2026-11-25T10:00:00+08:00`) for a few runs, into `previous-release.db`, and into a
//! PostgreSQL database dumped as plain SQL (`pg_dump --inserts --no-owner --no-privileges`)
//! into `previous-release.pg.sql`. Each test opens a copy of one with this release's code.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use serde_json::Value;
use sqlx::Row;

fn fixture(name: &str) -> std::path::PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The fixture's records, as the feed served them.
fn records() -> Vec<Value> {
    std::fs::read_to_string(fixture("previous-release.records.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every table's rows but the record hashes, as text, in a fixed order: what must survive.
/// The grade history is the previous release's `grade_history`, and after the migration the
/// ledger's grade events (`changes`), listed the same way.
async fn data(pool: &sqlx::AnyPool, migrated: bool) -> Vec<String> {
    let history = if migrated {
        (
            "(SELECT item_id, at, grade_to AS grade, grade_from AS previous, cause, seq AS id \
             FROM changes WHERE kind = 'grade') AS grade_history",
            "item_id, at, grade, COALESCE(previous,'-'), cause",
            "id",
        )
    } else {
        (
            "grade_history",
            "item_id, at, grade, COALESCE(previous,'-'), cause",
            "id",
        )
    };
    let tables = [
        (
            "items",
            "item_id, project_code, matter, department, CAST(stage AS TEXT), status, accepted_at, CAST(limit_days AS TEXT), CAST(extension_days AS TEXT), grade, deadline_date, CAST(used AS TEXT), COALESCE(next_change,'-')",
            "item_id",
        ),
        (
            "pauses",
            "item_id, CAST(seq AS TEXT), kind, from_at, COALESCE(to_at,'-')",
            "item_id, seq",
        ),
        (
            "projects",
            "project_code, project_name, category",
            "project_code",
        ),
        history,
        (
            "feed_runs",
            "feed, started_at, CAST(records_in AS TEXT), CAST(unchanged AS TEXT)",
            "id",
        ),
        ("store_meta", "key, value", "key"),
    ];
    let mut rows = Vec::new();
    for (table, columns, order) in tables {
        let columns: Vec<&str> = columns.split(", ").collect();
        let sql = format!(
            "SELECT {} AS row FROM {table} ORDER BY {order}",
            columns.join(" || '|' || ")
        );
        for row in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .unwrap()
        {
            let row: String = row.get("row");
            let name = table.rsplit(' ').next().unwrap_or(table);
            rows.push(format!("{name}: {row}"));
        }
    }
    rows
}

/// The stored record hashes by item.
async fn hashes(pool: &sqlx::AnyPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT item_id, record_hash FROM items ORDER BY item_id")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The migrations of `dialect`'s folder, by version: all must be recorded as applied.
fn migration_versions(dialect: &str) -> Vec<i64> {
    let mut versions: Vec<i64> = std::fs::read_dir(root().join("migrations").join(dialect))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name.split('_').next().unwrap().parse().unwrap())
        .collect();
    versions.sort_unstable();
    versions
}

/// Opens the previous release's store at `url` (reached by `raw` too) with this release:
/// every migration recorded by sqlx's migrator, `schema_migrations` gone, every row kept,
/// every hash recomputed under the current scheme; then a daemon on it finds the records
/// it was made from, sent again, unchanged.
async fn opens_and_is_migrated(url: &str, dialect: &str, raw: &sqlx::AnyPool) {
    let before = data(raw, false).await;
    let old_hashes = hashes(raw).await;
    assert_eq!(old_hashes.len(), 60, "the fixture's items");
    assert!(before.iter().any(|row| row.starts_with("pauses: ")));

    let store = duban::store::Store::open(url).await.unwrap();
    store.close().await;

    let applied: Vec<(i64,)> =
        sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(raw)
            .await
            .unwrap();
    let applied: Vec<i64> = applied.into_iter().map(|(v,)| v).collect();
    assert_eq!(
        applied,
        migration_versions(dialect),
        "every migration applied"
    );
    let old_table = sqlx::query("SELECT name FROM schema_migrations")
        .fetch_all(raw)
        .await;
    assert!(old_table.is_err(), "schema_migrations is dropped");
    let (scheme,): (String,) =
        sqlx::query_as("SELECT value FROM store_meta WHERE key = 'record_hash'")
            .fetch_one(raw)
            .await
            .unwrap();
    assert_eq!(scheme, duban::canonical::SCHEME);
    let mut after = data(raw, true).await;
    after.retain(|row| !row.starts_with("store_meta: record_hash|"));
    assert_eq!(after, before, "every row kept as it was");
    // Each item's record as its first version in the ledger, pauses included, readable as a
    // record.
    let versions: Vec<(String, String)> = sqlx::query_as(
        "SELECT item_id, body FROM changes WHERE kind = 'version' AND version = 1 ORDER BY item_id",
    )
    .fetch_all(raw)
    .await
    .unwrap();
    assert_eq!(versions.len(), 60);
    let paused = versions
        .iter()
        .map(|(id, body)| {
            let record: duban::item::Item =
                serde_json::from_str(body).unwrap_or_else(|e| panic!("{id}: {e}: {body}"));
            assert_eq!(&record.item_id, id);
            record.pauses.len()
        })
        .sum::<usize>();
    assert!(paused > 0, "pauses are in the versions");
    let new_hashes = hashes(raw).await;
    for ((id, old), (new_id, new)) in old_hashes.iter().zip(&new_hashes) {
        assert_eq!(id, new_id);
        assert_ne!(old, new, "{id}: the hash is recomputed");
    }

    // The same records again: each one is recognised by its recomputed hash, none stored.
    let (feed, feed_url) = FeedServer::start().await;
    feed.set(records());
    let dir = temp_dir();
    let feeds = format!(
        "[[feeds]]\nname = \"sample\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{feed_url}\"\nrecords_path = \"items\"\n"
    );
    let text = config_text(url, &feeds);
    // The day the fixture was made (its runs are dated 3 December 2026, 13:48 UTC).
    let app = spawn_app(
        load_config(dir.path(), &text),
        clock_at("2026-12-03T22:00:00+08:00").1,
    )
    .await;
    eventually(15, "a run of the feed", || async {
        !app.feed("sample").await["last_run"].is_null()
    })
    .await;
    let run = &app.feed("sample").await["last_run"];
    assert_eq!(run["records_in"], 60, "{run}");
    assert_eq!(run["unchanged"], 60, "every record recognised: {run}");
    app.stop().await;
    assert_eq!(hashes(raw).await, new_hashes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sqlite_store_of_the_previous_release_opens_and_is_migrated() {
    let dir = temp_dir();
    let path = dir.path().join("duban.db");
    std::fs::copy(fixture("previous-release.db"), &path).unwrap();
    let url = format!("sqlite://{}", path_string(&path));
    let raw = pool(&url).await;
    opens_and_is_migrated(&url, "sqlite", &raw).await;
    raw.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_store_of_the_previous_release_opens_and_is_migrated() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    // The dump is plain SQL but for psql's `\restrict` lines (pg_dump 15.14 and later), which
    // are not SQL. It sets the search path empty: loaded on a connection of its own.
    let dump: String = std::fs::read_to_string(fixture("previous-release.pg.sql"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .map(|line| format!("{line}\n"))
        .collect();
    let loader = pool(&url).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(dump))
        .execute(&loader)
        .await
        .unwrap();
    loader.close().await;
    let raw = pool(&url).await;
    opens_and_is_migrated(&url, "postgres", &raw).await;
    raw.close().await;
    drop_pg_database(&base, &name).await;
}
