//! The ledger's scenarios, each run on a store named by URL (SQLite in tests/ledger.rs,
//! PostgreSQL in tests/services.rs): a feed down over a month's end, an extension granted
//! after the deadline, and a consumer reading the log from 0 while feeds write.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use duban::clock::{Clock, ManualClock};
use serde_json::{Value, json};

use super::*;

/// A feed polled every second, at `url`.
pub fn every_second(url: &str) -> String {
    format!(
        "[[feeds]]\nname = \"main\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\nrecords_path = \"items\"\n"
    )
}

/// The item's changes of `kind` in the log, as the API gives them.
pub async fn logged(app: &TestApp, item_id: &str, kind: &str) -> Vec<Value> {
    let mut after = 0;
    let mut found = Vec::new();
    loop {
        let (status, page) = app
            .get(&format!("/api/changes?after={after}&limit=500"))
            .await;
        assert_eq!(status, 200, "{page}");
        for change in page["changes"].as_array().unwrap() {
            if change["item_id"] == item_id && change["kind"] == kind {
                found.push(change.clone());
            }
        }
        if page["more"] != true {
            return found;
        }
        after = page["next"].as_i64().unwrap();
    }
}

/// Finished on Friday 30 October, its deadline and the last working day of the month, while
/// the feed was down; the feed came back on Monday 2 November, after the clock had turned
/// the item red at Saturday's midnight. The finish is filed in October, when it happened:
/// its version and its grade event are dated 30 October 16:00 (not 2 November, when it was
/// seen); the clock's red stays in the log as duban believed it then, before the finish
/// that undid it; nothing is written twice across a restart.
pub async fn changes_fall_in_the_month_they_happened(database_url: &str, dir: &Path) {
    let (feed, url) = FeedServer::start().await;
    // Accepted Monday 26 Oct, 4 days: counted 27–30 Oct, due Friday the 30th.
    let pending = record("O-1", "2026-10-26T09:30:00+08:00", 4);
    feed.set(vec![pending.clone()]);
    let clock = ManualClock::new(at("2026-10-30T11:00:00+08:00"));
    let text = config_text(database_url, &every_second(&url));
    let app = spawn_app(load_config(dir, &text), Clock::Manual(clock.clone())).await;
    eventually(10, "stored", || async { app.items("").await["total"] == 1 }).await;

    feed.fail(true);
    let mut finished = pending.clone();
    finished["status"] = json!("finished");
    finished["finished_at"] = json!("2026-10-30T16:00:00+08:00");
    finished["updated_at"] = json!("2026-10-30T16:00:00+08:00");
    feed.set(vec![finished]);
    clock.set(at("2026-11-02T00:00:01+08:00"));
    eventually(
        10,
        "red by the clock, the day after its deadline",
        || async { app.item("O-1").await["grade"] == "red" },
    )
    .await;
    clock.set(at("2026-11-02T10:00:00+08:00"));
    feed.fail(false);
    eventually(10, "the finish stored", || async {
        app.item("O-1").await["status"] == "finished"
    })
    .await;
    let item = app.item("O-1").await;
    let history = item["history"].as_array().unwrap().clone();
    let red = history
        .iter()
        .find(|h| h["grade"] == "red")
        .unwrap_or_else(|| panic!("{item}"));
    assert_eq!(
        (&red["at"], &red["cause"], &red["version"]),
        (&json!("2026-10-30T16:00:00Z"), &json!("clock"), &json!(1)),
        "{item}"
    );
    let finish = history.last().unwrap();
    assert_eq!(
        (&finish["at"], &finish["cause"], &finish["version"]),
        (
            &json!("2026-10-30T08:00:00Z"),
            &json!("feed:main"),
            &json!(2)
        ),
        "the finish in October: {item}"
    );
    assert_eq!(finish["previous"], "red", "from what was believed");
    assert_eq!(finish["grade"], item["grade"]);
    assert_ne!(item["grade"], "red", "finished on its deadline day: {item}");
    let versions = item["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{item}");
    assert_eq!(versions[1]["at"], "2026-10-30T08:00:00Z");
    assert_eq!(versions[1]["seen_at"], "2026-11-02T02:00:00Z");
    let fields: BTreeSet<&str> = versions[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from(["finished_at", "status", "updated_at"])
    );

    // The log says the same, in the order it was learned.
    let grades = logged(&app, "O-1", "grade").await;
    let months: Vec<(&str, &str)> = grades
        .iter()
        .map(|g| (g["at"].as_str().unwrap(), g["cause"].as_str().unwrap()))
        .collect();
    assert_eq!(months.last(), Some(&("2026-10-30T08:00:00Z", "feed:main")));
    let seqs: Vec<i64> = grades.iter().map(|g| g["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    app.stop().await;

    // Restarted later the same day, the feed sending the same record: nothing new.
    let app = spawn_app(load_config(dir, &text), Clock::Manual(clock.clone())).await;
    eventually(10, "a run that finds it unchanged", || async {
        app.feed("main").await["last_run"]["unchanged"] == 1
    })
    .await;
    let again = app.item("O-1").await;
    assert_eq!(again["history"], item["history"], "nothing written twice");
    assert_eq!(logged(&app, "O-1", "version").await.len(), 2);
    app.stop().await;
}

/// Accepted Monday 2 Nov with 5 days, red from the 10th; on the 12th the department is
/// granted 5 more days. Its past is unchanged — red on the 10th and 11th, as the record then
/// said — and its present follows the new limit (yellow, 8 of 10 used); both versions and
/// all four events are in the ledger.
pub async fn an_extension_keeps_the_past_and_moves_the_present(database_url: &str, dir: &Path) {
    let (feed, url) = FeedServer::start().await;
    let first = record("E-1", "2026-11-02T09:30:00+08:00", 5);
    feed.set(vec![first.clone()]);
    let clock = ManualClock::new(at("2026-11-12T09:00:00+08:00"));
    let text = config_text(database_url, &every_second(&url));
    let app = spawn_app(load_config(dir, &text), Clock::Manual(clock.clone())).await;
    eventually(10, "stored", || async {
        app.item("E-1").await["grade"] == "red"
    })
    .await;

    clock.set(at("2026-11-12T10:00:00+08:00"));
    let mut extended = first;
    extended["extension_days"] = json!(5);
    extended["updated_at"] = json!("2026-11-12T10:00:00+08:00");
    feed.set(vec![extended]);
    eventually(10, "the extension stored", || async {
        app.item("E-1").await["extension_days"] == 5
    })
    .await;
    let item = app.item("E-1").await;
    assert_eq!(
        (
            &item["grade"],
            &item["used"],
            &item["allowed"],
            &item["deadline_date"]
        ),
        (
            &json!("yellow"),
            &json!(8),
            &json!(10),
            &json!("2026-11-16")
        ),
        "{item}"
    );
    let mut expected = five_days_from_2_november();
    expected.push((
        "2026-11-12T02:00:00Z".into(),
        "yellow".into(),
        "feed:main".into(),
    ));
    assert_eq!(history_of(&item), expected);
    let versions = item["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let extension = versions[1]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "extension_days")
        .cloned();
    assert_eq!(
        extension,
        Some(json!({"field": "extension_days", "before": 0, "after": 5}))
    );

    // The past, day by day, as it stood.
    let on = |day: &'static str| {
        let app = &app;
        async move {
            let (status, item) = app.get(&format!("/api/items/E-1?as_of={day}")).await;
            assert_eq!(status, 200, "{item}");
            let a = &item["as_of"];
            (
                a["version"].as_i64(),
                a["grading"]["grade"].as_str().map(str::to_owned),
                a["grading"]["allowed"].as_i64(),
            )
        }
    };
    assert_eq!(on("2026-11-01").await, (None, None, None), "no record yet");
    assert_eq!(
        on("2026-11-04").await,
        (Some(1), Some("blue".into()), Some(5))
    );
    assert_eq!(
        on("2026-11-05").await,
        (Some(1), Some("yellow".into()), Some(5))
    );
    assert_eq!(
        on("2026-11-10").await,
        (Some(1), Some("red".into()), Some(5))
    );
    assert_eq!(
        on("2026-11-11").await,
        (Some(1), Some("red".into()), Some(5))
    );
    assert_eq!(
        on("2026-11-12").await,
        (Some(2), Some("yellow".into()), Some(10))
    );
    app.stop().await;
}

/// A consumer follows the log from 0 in small pages while the feed writes pages of new and
/// changed records: it sees every position exactly once, in order, and at the end exactly
/// the positions the log holds; every record version is among them once.
pub async fn the_log_is_read_once_in_order_while_feeds_write(database_url: &str, dir: &Path) {
    let (feed, url) = FeedServer::start().await;
    let records = |round: u32| -> Vec<Value> {
        (0..3_000)
            .map(|i| {
                let mut r = record(&format!("L-{i:04}"), "2026-11-16T09:30:00+08:00", 10);
                if round > 0 && i % 3 == 0 {
                    r["extension_days"] = json!(round);
                    r["updated_at"] = json!(format!("2026-11-25T09:{:02}:00+08:00", round));
                }
                r
            })
            .collect()
    };
    feed.set(records(0));
    let feeds = format!(
        "{}pagination = {{ kind = \"page\", size = 250 }}\n",
        every_second(&url)
    );
    let text = config_text(database_url, &feeds);
    let app = spawn_app(load_config(dir, &text), fixed_clock().1).await;
    let reader = {
        let base = app.base.clone();
        let client = app.client.clone();
        tokio::spawn(async move {
            let mut seen: Vec<i64> = Vec::new();
            let mut versions: Vec<(String, i64)> = Vec::new();
            let mut after = 0;
            let mut quiet = 0;
            // Until the log stands still for a while after the last round was written.
            while quiet < 20 {
                let page: Value = client
                    .get(format!("{base}/api/changes?after={after}&limit=97"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let changes = page["changes"].as_array().unwrap();
                quiet = if changes.is_empty() { quiet + 1 } else { 0 };
                for c in changes {
                    seen.push(c["seq"].as_i64().unwrap());
                    if c["kind"] == "version" {
                        versions.push((
                            c["item_id"].as_str().unwrap().to_owned(),
                            c["version"].as_i64().unwrap(),
                        ));
                    }
                }
                after = page["next"].as_i64().unwrap();
                if changes.is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            (seen, versions)
        })
    };
    for round in 1..=3 {
        eventually(30, "the round written", || async {
            app.feed("main").await["last_run"]["records_ok"].as_u64() > Some(0)
                && app.items("limit=1").await["total"] == 3_000
        })
        .await;
        feed.set(records(round));
        let want = json!(round);
        eventually(30, "the round's changes stored", || async {
            app.item("L-2997").await["extension_days"] == want
        })
        .await;
    }
    let (seen, versions) = reader.await.unwrap();
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "positions in order, none twice"
    );
    // Every position the log holds, read in one go at the end.
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) = app
            .get(&format!("/api/changes?after={after}&limit=10000"))
            .await;
        all.extend(
            page["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["seq"].as_i64().unwrap()),
        );
        if page["more"] != true {
            break;
        }
        after = page["next"].as_i64().unwrap();
    }
    let (seen_set, all_set): (BTreeSet<i64>, BTreeSet<i64>) = (
        seen.iter().copied().collect(),
        all.iter().copied().collect(),
    );
    let missed: Vec<&i64> = all_set.difference(&seen_set).take(20).collect();
    assert!(
        missed.is_empty() && seen.len() == all.len(),
        "the consumer saw {} of the log's {} positions; missed (first 20): {missed:?}",
        seen.len(),
        all.len()
    );
    let distinct: BTreeSet<&(String, i64)> = versions.iter().collect();
    assert_eq!(distinct.len(), versions.len(), "each version once");
    assert_eq!(versions.len(), 3_000 + 3 * 1_000, "every record version");
    app.stop().await;
}

/// The `duban serve` binary ingesting 20,000 records in pages of 200 from a feed on
/// loopback, killed with SIGKILL eight times while it writes (each time once it has stored
/// more than before, after a pause that varies), then left to finish: every record's version is in the log exactly once, and every item's grade events
/// are one unbroken chain — from its first grade (`from` null, caused by the feed) through
/// each change to the grade the item holds — with none lost and none twice.
pub async fn a_kill_during_writes_loses_and_doubles_nothing(database_url: &str, dir: &Path) {
    const RECORDS: usize = 20_000;
    let (feed, url) = FeedServer::start().await;
    feed.set(
        (0..RECORDS)
            .map(|i| record(&format!("K-{i:05}"), "2026-11-16T09:30:00+08:00", 10))
            .collect(),
    );
    let feeds = format!(
        "{}pagination = {{ kind = \"page\", size = 200 }}\n",
        every_second(&url)
    );
    let config = dir.join("duban.toml");
    // The binary grades on the machine's clock, which CI also sets to 2027 and 2030: the
    // provisional years reach that far.
    let text = config_text(database_url, &feeds)
        .replace("[calendar]\n", "[calendar]\nprovisional_years = 5\n");
    std::fs::write(&config, text).unwrap();
    let serve = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_duban"))
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("DUBAN_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the duban binary starts")
    };
    sqlx::any::install_default_drivers();
    let count = |sql: &'static str| {
        let url = database_url.to_owned();
        async move {
            let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
                return 0;
            };
            let n: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap_or(0);
            pool.close().await;
            n
        }
    };
    // Killed while writing: once it has stored more than before, after a pause that varies
    // (a fixed sequence: the same run every time).
    let mut kills = 0;
    let mut stored = 0;
    for pause_ms in [0u64, 35, 120, 50, 90, 25, 150, 60] {
        let mut child = serve();
        for _ in 0..400 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            if count("SELECT COUNT(*) FROM items").await > stored {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let now_stored = count("SELECT COUNT(*) FROM items").await;
        if now_stored < RECORDS as i64 {
            kills += 1;
        }
        stored = now_stored;
    }
    let stored_before_the_end = stored;
    let mut child = serve();
    let mut last = -1;
    for _ in 0..240 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let items = count("SELECT COUNT(*) FROM items").await;
        let changes = count("SELECT COUNT(*) FROM changes").await;
        if items == RECORDS as i64 && changes == last {
            break;
        }
        last = changes;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(kills, 8);
    assert!(
        stored_before_the_end < RECORDS as i64,
        "the kills came during the writes ({stored_before_the_end} stored before the last start)"
    );

    let pool = sqlx::AnyPool::connect(database_url).await.unwrap();
    let items: Vec<(String, String)> =
        sqlx::query_as("SELECT item_id, grade FROM items ORDER BY item_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(items.len(), RECORDS, "every record stored");
    let versions: Vec<(String, i64)> = sqlx::query_as(
        "SELECT item_id, COUNT(*) FROM changes WHERE kind = 'version' GROUP BY item_id ORDER BY item_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(versions.len(), RECORDS);
    let twice: Vec<&(String, i64)> = versions.iter().filter(|(_, n)| *n != 1).collect();
    assert!(
        twice.is_empty(),
        "versions logged more than once: {twice:?}"
    );
    let events: Vec<(String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT item_id, grade_from, grade_to, cause FROM changes WHERE kind = 'grade' ORDER BY item_id, seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    // Each item's events in order, as (from, to, cause).
    type Chain<'a> = Vec<(Option<&'a str>, &'a str, &'a str)>;
    let mut chains: std::collections::BTreeMap<&str, Chain> = Default::default();
    for (id, from, to, cause) in &events {
        chains
            .entry(id.as_str())
            .or_default()
            .push((from.as_deref(), to.as_str(), cause.as_str()));
    }
    for (id, grade) in &items {
        let chain = &chains[id.as_str()];
        assert_eq!(
            (chain[0].0, chain[0].2),
            (None, "feed:main"),
            "{id}: first grade by the feed, once: {chain:?}"
        );
        for pair in chain.windows(2) {
            assert_eq!(pair[1].0, Some(pair[0].1), "{id}: a broken chain {chain:?}");
            assert_eq!(pair[1].2, "clock", "{id}: {chain:?}");
        }
        assert_eq!(chain.last().unwrap().1, grade, "{id}: {chain:?}");
    }
}
