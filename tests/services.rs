//! The store on PostgreSQL and the `sql` feed on MariaDB and PostgreSQL, against the real
//! servers named by `DUBAN_TEST_PG_URL`, `DUBAN_TEST_PG_SOCKET_URL` (the same server on its
//! Unix socket) and `DUBAN_TEST_MYSQL_URL` (`.ci/run` sets them).
//! Each test makes its own database or schema. Without the variables each test prints
//! `SKIPPED <test>` and returns, except under `CI=true`, where a missing service is a failure.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use serde_json::json;
use sqlx::Executor;

/// The config of a feed named `pg` polling `url` every second, with `extra` lines.
fn pg_feed(url: &str, extra: &str) -> String {
    format!(
        "[[feeds]]\nname = \"pg\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\nrecords_path = \"items\"\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_on_postgres_keeps_items_history_and_quarantine() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    let dir = temp_dir();
    let (feed, feed_url) = FeedServer::start().await;
    let mut bad = record("BAD", "2026-11-02T09:30:00+08:00", 5);
    bad["status"] = json!("办理中");
    feed.set(vec![
        record("P-1", "2026-11-02T09:30:00+08:00", 5),
        record("P-2", "2026-11-20T09:30:00+08:00", 3),
        bad,
    ]);
    let text = config_text(&url, &pg_feed(&feed_url, ""));
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    eventually(15, "two items stored", || async {
        app.items("").await["total"] == 2
    })
    .await;
    // Quarantine entries are written right after the page's items.
    eventually(10, "the bad record quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    assert_eq!(app.quarantine().await["records"][0]["field"], "status");
    let summary = app.get("/api/summary").await.1;
    assert_eq!(
        summary["totals"]["red"].as_i64().unwrap()
            + summary["totals"]["yellow"].as_i64().unwrap()
            + summary["totals"]["blue"].as_i64().unwrap(),
        2
    );
    // Unchanged on a later run; kept across a restart. (The run that stored them may not be
    // recorded yet when the quarantine shows: its feed-run row is written after it, so the
    // next recorded run is not necessarily a later one.)
    eventually(10, "a run that finds both items unchanged", || async {
        app.feed("pg").await["last_run"]["unchanged"] == 2
    })
    .await;
    app.stop().await;
    feed.fail(true);
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    assert_eq!(app.items("").await["total"], 2);
    let history = history_of(&app.item("P-1").await);
    assert_eq!(
        history,
        five_days_from_2_november()
            .into_iter()
            .map(|(at, grade, cause)| (at, grade, cause.replace("feed:main", "feed:pg")))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        app.items("project=2611-370102-04-01-123456&limit=1").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.stop().await;
    drop_pg_database(&base, &name).await;
}

/// What a large page, awkward text, changed records and an item another writer stored
/// come to on PostgreSQL. Items go in by `COPY`, on a Unix socket or over TCP through the
/// store's relay (`store::relay`): both ways are run.
async fn postgres_writes_pages_whole(base: &str) {
    let (name, url) = fresh_pg_database(base).await;
    let dir = temp_dir();
    let (feed, feed_url) = FeedServer::start().await;
    let awkward_name = "制表\t换行\n回车\r反斜杠\\N 结束\\.";
    // Written by `COPY` (the matter) and as a parameter (the project's name).
    let awkward_matter = format!("建设工程规划许可 {awkward_name}");
    // 5,100 records in one page: its items and the rest written at once on two connections,
    // each in three chunks.
    let first = |i: usize| {
        let mut r = record(
            &format!("W-{i:04}"),
            "2026-11-02T09:30:00+08:00",
            10 + (i % 7) as u32,
        );
        if i.is_multiple_of(4) {
            r["pauses"] = json!([{"kind": "correction",
                "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-05T10:00:00+08:00"}]);
        }
        if i == 7 {
            r["project_code"] = json!("2611-AWKWARD");
            r["project_name"] = json!(awkward_name);
            r["matter"] = json!(&awkward_matter);
        }
        r
    };
    feed.set((0..5100).map(first).collect());
    let text = config_text(
        &url,
        &pg_feed(
            &feed_url,
            "pagination = { kind = \"page\", size = 10000 }\n",
        ),
    );
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    eventually(30, "5,100 items stored", || async {
        app.items("").await["total"] == 5100
    })
    .await;
    let item = app.item("W-0007").await;
    assert_eq!(item["project_name"], awkward_name, "{item}");
    assert_eq!(item["matter"], json!(&awkward_matter), "{item}");
    assert_eq!(
        app.item("W-0004").await["pauses"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        app.item("W-0008").await["pauses"].as_array().unwrap().len(),
        1
    );

    // Another writer stores W-5200 behind the daemon's back: the daemon takes it for new.
    let other = pool(&url).await;
    run_all(
        &other,
        [
            "CREATE TEMPORARY TABLE t AS SELECT * FROM items WHERE item_id = 'W-0001'".into(),
            "UPDATE t SET item_id = 'W-5200', limit_days = 1".into(),
            "INSERT INTO items SELECT * FROM t".into(),
        ],
    )
    .await;
    // 5,000 records change (W-0004 gets a second pause, W-0008 loses its one); 101 new ones
    // come, W-5200 among them: 5,101 writes, split the same way.
    let second = |i: usize| {
        let mut r = first(i);
        if !(1100..1200).contains(&i) {
            r["limit_days"] = json!(30);
            r["updated_at"] = json!("2026-11-10T09:30:00+08:00");
        }
        if i == 4 {
            r["pauses"] = json!([
                {"kind": "correction", "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-05T10:00:00+08:00"},
                {"kind": "expert_review", "from": "2026-11-09T10:00:00+08:00", "to": "2026-11-12T10:00:00+08:00"}
            ]);
        }
        if i == 8 {
            r["pauses"] = json!([]);
        }
        if i == 7 {
            r["project_name"] = json!(format!("{awkward_name}（更名）"));
        }
        r
    };
    feed.set((0..=5200).map(second).collect());
    eventually(20, "the changes stored", || async {
        app.items("").await["total"] == 5201 && app.item("W-0000").await["limit_days"] == 30
    })
    .await;
    assert_eq!(app.item("W-5200").await["limit_days"], 30);
    assert_eq!(app.item("W-1099").await["limit_days"], 30);
    assert_ne!(app.item("W-1100").await["limit_days"], 30);
    assert_eq!(
        app.item("W-0008").await["pauses"].as_array().unwrap().len(),
        0
    );
    let paused = app.item("W-0004").await;
    assert_eq!(paused["pauses"].as_array().unwrap().len(), 2, "{paused}");
    assert_eq!(paused["pauses"][1]["kind"], "expert_review");
    let item = app.item("W-0007").await;
    assert_eq!(
        item["project_name"],
        format!("{awkward_name}（更名）"),
        "{item}"
    );
    assert_eq!(item["matter"], json!(&awkward_matter), "{item}");
    // The run that stored the changes is the first to read all 5,201 records; its row is
    // written after its items show, and the runs after it find everything unchanged.
    let changing_run = "SELECT quarantined, unchanged FROM feed_runs \
                        WHERE feed = 'pg' AND records_in = 5201 ORDER BY id LIMIT 1";
    eventually(10, "the changing run recorded", || async {
        sqlx::query(changing_run)
            .fetch_optional(&other)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    let run: (i64, i64) = sqlx::query_as(changing_run)
        .fetch_one(&other)
        .await
        .unwrap();
    assert_eq!(
        run,
        (0, 100),
        "(quarantined, unchanged) of the changing run"
    );
    app.stop().await;
    // Everything stays across a restart.
    feed.fail(true);
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    assert_eq!(app.items("").await["total"], 5201);
    assert_eq!(
        app.item("W-0004").await["pauses"].as_array().unwrap().len(),
        2
    );
    app.stop().await;
    other.close().await;
    drop_pg_database(base, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_over_tcp_writes_pages_whole() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    postgres_writes_pages_whole(&base).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_on_a_unix_socket_writes_pages_whole() {
    let Some(base) = service_url("DUBAN_TEST_PG_SOCKET_URL") else {
        return;
    };
    postgres_writes_pages_whole(&base).await;
}

/// PostgreSQL writes two pages at once: an item on both is written as the later one has it,
/// and a record refused on one page and good on the next leaves no quarantine entry.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_writes_two_pages_at_once_in_their_order() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    let dir = temp_dir();
    let (feed, feed_url) = FeedServer::start().await;
    let accepted = "2026-11-02T09:30:00+08:00";
    let version = |id: &str, limit: u32, updated: &str| {
        let mut r = record(id, accepted, limit);
        r["updated_at"] = json!(updated);
        r
    };
    // Eight pages of 500. X on pages 1, 2 and 8, changed each time; Y refused on page 1
    // (an unknown status word) and good on page 2; Z good on page 3 and refused on page 4.
    let mut records: Vec<serde_json::Value> = (0..4000)
        .map(|i| record(&format!("Q-{i:04}"), accepted, 10))
        .collect();
    records[10] = version("X", 5, "2026-11-02T10:00:00+08:00");
    records[510] = version("X", 6, "2026-11-02T11:00:00+08:00");
    records[3510] = version("X", 30, "2026-11-02T12:00:00+08:00");
    records[20] = record("Y", accepted, 5);
    records[20]["status"] = json!("办理中");
    records[520] = record("Y", accepted, 7);
    records[1030] = record("Z", accepted, 8);
    records[1530] = record("Z", accepted, 9);
    records[1530]["stage"] = json!(9);
    feed.set(records);
    let text = config_text(
        &url,
        &pg_feed(
            &feed_url,
            "pagination = { kind = \"page\", size = 500 }\nsince_param = \"since\"\n",
        ),
    );
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    // 3,993 others, X, Y and Z; later runs ask only for what changed since the newest (X).
    eventually(30, "the first run stored", || async {
        app.items("").await["total"] == 3996
            && app.feed("pg").await["last_run"]["records_in"] == 4000
    })
    .await;
    let x = app.item("X").await;
    assert_eq!(x["limit_days"], 30, "{x}");
    assert_eq!(app.item("Y").await["limit_days"], 7);
    assert_eq!(app.item("Z").await["limit_days"], 8);
    let quarantine = app.quarantine().await;
    assert_eq!(quarantine["total"], 1, "{quarantine}");
    assert_eq!(quarantine["records"][0]["item_id"], "Z", "{quarantine}");
    assert_eq!(quarantine["records"][0]["field"], "stage", "{quarantine}");
    // One history row for X's first grade, and one more for each grade it changed to.
    let history = x["history"].as_array().unwrap();
    assert!(history[0]["previous"].is_null(), "{x}");
    for pair in history.windows(2) {
        assert_eq!(pair[1]["previous"], pair[0]["grade"], "{x}");
        assert_ne!(pair[1]["grade"], pair[0]["grade"], "{x}");
    }
    assert_eq!(history.last().unwrap()["grade"], x["grade"], "{x}");
    app.stop().await;
    drop_pg_database(&base, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grade_changes_at_the_right_midnight_on_postgres() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    let dir = temp_dir();
    grade_changes_at_the_right_midnight(&url, dir.path()).await;
    drop_pg_database(&base, &name).await;
}

/// Runs one of the ledger's scenarios (tests/common/ledger.rs) on a fresh PostgreSQL database.
async fn on_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(String, tempfile::TempDir) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    scenario(url, temp_dir()).await;
    drop_pg_database(&base, &name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_files_changes_in_their_month_on_postgres() {
    on_postgres(|url, dir| async move {
        common::ledger::changes_fall_in_the_month_they_happened(&url, dir.path()).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_keeps_the_past_of_an_extended_item_on_postgres() {
    on_postgres(|url, dir| async move {
        common::ledger::an_extension_keeps_the_past_and_moves_the_present(&url, dir.path()).await;
    })
    .await;
}

/// PostgreSQL writes two pages at once: without the log's lock, a reader could pass a
/// position whose transaction commits after a later one's.
#[tokio::test(flavor = "multi_thread")]
async fn the_log_is_read_once_in_order_on_postgres() {
    on_postgres(|url, dir| async move {
        common::ledger::the_log_is_read_once_in_order_while_feeds_write(&url, dir.path()).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_during_page_writes_loses_and_doubles_nothing_on_postgres() {
    on_postgres(|url, dir| async move {
        common::ledger::a_kill_during_writes_loses_and_doubles_nothing(&url, dir.path()).await;
    })
    .await;
}

async fn run_all(pool: &sqlx::AnyPool, statements: impl IntoIterator<Item = String>) {
    for statement in statements {
        pool.execute(sqlx::AssertSqlSafe(statement)).await.unwrap();
    }
}

/// Feeds a table of the source database to duban through a `sql` feed.
async fn sql_feed_reads(dsn_env: &str, query: &str) {
    let dir = temp_dir();
    let feeds = format!(
        "[[feeds]]\nname = \"sql\"\nkind = \"sql\"\nschedule = \"* * * * * *\"\ndsn_env = \"{dsn_env}\"\n\
         time_format = \"%Y-%m-%d %H:%M:%S\"\nquery = \"\"\"{query}\"\"\"\n"
    );
    let app = spawn_app(
        load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds)),
        fixed_clock().1,
    )
    .await;
    eventually(15, "two rows stored", || async {
        app.items("").await["total"] == 2
    })
    .await;
    let item = app.item("S-1").await;
    assert_eq!(item["accepted_at"], "2026-11-02T01:30:00Z", "{item}");
    assert_eq!(item["limit_days"], 5);
    eventually(10, "the bad row quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    let quarantine = app.quarantine().await;
    assert_eq!(quarantine["records"][0]["item_id"], "S-3", "{quarantine}");
    assert_eq!(quarantine["records"][0]["field"], "limit_days");
    app.stop().await;
}

const ROWS: &str = "('S-1', '2611-370102-04-01-222222', '历下区研发中心', 'general_social', '建设工程规划许可证核发', '市自然资源和规划局', 2, 'pending', '2026-11-02 09:30:00', 5, 20, 0, NULL, '2026-11-02 09:30:00'), \
    ('S-2', '2611-370102-04-01-222222', '历下区研发中心', 'general_social', '建设工程消防验收', '市住房和城乡建设局', 4, 'finished', '2026-11-03 09:30:00', 10, 15, 0, '2026-11-05 09:30:00', '2026-11-05 09:30:00'), \
    ('S-3', '2611-370102-04-01-222222', '历下区研发中心', 'general_social', '夜间施工许可', '市生态环境局', 3, 'pending', '2026-11-03 09:30:00', -2, 5, 0, NULL, '2026-11-03 09:30:00')";

#[tokio::test(flavor = "multi_thread")]
async fn the_sql_feed_reads_mariadb() {
    let Some(url) = service_url("DUBAN_TEST_MYSQL_URL") else {
        return;
    };
    let db = unique("duban_feed");
    let source = pool(&url).await;
    run_all(
        &source,
        [
        format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"),
        format!(
            "CREATE TABLE {db}.approvals (item_id VARCHAR(64) PRIMARY KEY, project_code VARCHAR(64), project_name VARCHAR(200), \
             project_category VARCHAR(64), matter VARCHAR(200), department VARCHAR(200), stage BIGINT, status VARCHAR(16), \
             accepted_at DATETIME, limit_days BIGINT, legal_days BIGINT, extension_days BIGINT, finished_at DATETIME NULL, updated_at DATETIME)"
        ),
        format!("INSERT INTO {db}.approvals VALUES {ROWS}"),
        ],
    )
    .await;
    let query = format!(
        "SELECT item_id, project_code, project_name, project_category, matter, department, stage, status, \
         DATE_FORMAT(accepted_at, '%Y-%m-%d %H:%i:%s') AS accepted_at, limit_days, legal_days, extension_days, \
         DATE_FORMAT(finished_at, '%Y-%m-%d %H:%i:%s') AS finished_at, \
         DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') AS updated_at \
         FROM {db}.approvals WHERE DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s') >= :since"
    );
    sql_feed_reads("DUBAN_TEST_MYSQL_URL", &query).await;
    source
        .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {db}")))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sql_feed_reads_postgres() {
    let Some(url) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let schema = unique("duban_feed");
    let source = pool(&url).await;
    run_all(
        &source,
        [
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.approvals (item_id TEXT PRIMARY KEY, project_code TEXT, project_name TEXT, \
             project_category TEXT, matter TEXT, department TEXT, stage BIGINT, status TEXT, accepted_at TIMESTAMP, \
             limit_days BIGINT, legal_days BIGINT, extension_days BIGINT, finished_at TIMESTAMP NULL, updated_at TIMESTAMP)"
        ),
        format!("INSERT INTO {schema}.approvals VALUES {ROWS}"),
        ],
    )
    .await;
    let query = format!(
        "SELECT item_id, project_code, project_name, project_category, matter, department, stage, status, \
         to_char(accepted_at, 'YYYY-MM-DD HH24:MI:SS') AS accepted_at, limit_days, legal_days, extension_days, \
         to_char(finished_at, 'YYYY-MM-DD HH24:MI:SS') AS finished_at, \
         to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS') AS updated_at \
         FROM {schema}.approvals WHERE to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS') >= :since"
    );
    sql_feed_reads("DUBAN_TEST_PG_URL", &query).await;
    source
        .execute(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_month_is_published_mailed_frozen_and_written_on_postgres() {
    on_postgres(|url, dir| async move {
        common::rankings::published_mailed_frozen_and_written(&url, dir.path()).await;
    })
    .await;
}

/// The warnings engine and outbox on PostgreSQL: 200 red items at night, one text a
/// recipient held to the morning after the holiday, the email at once, the escalation.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_red_items_is_warned_once_a_recipient_on_postgres() {
    on_postgres(|url, dir| async move {
        common::flood::a_flood_of_red_items_at_night_is_one_text_a_recipient_sent_after_the_holiday(
            &url,
            dir.path(),
        )
        .await;
    })
    .await;
}
