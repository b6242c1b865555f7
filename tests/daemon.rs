//! The daemon against real peers on loopback: a feed server it polls over HTTP, a temporary
//! SQLite store, a drop folder of CSV and XLSX files, an injected clock.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::*;
use duban::clock::{Clock, ManualClock};
use serde_json::json;

fn http_feed(name: &str, url: &str, extra: &str) -> String {
    format!(
        r#"
[[feeds]]
name = "{name}"
kind = "http_json"
schedule = "* * * * * *"
url = "{url}"
records_path = "items"
pagination = {{ kind = "page", size = 2 }}
retries = 0
stale_after_missed_runs = 2
{extra}
"#
    )
}

/// A folder feed of the Chinese export at `drop`, with the shipped config's field and value
/// mappings (its flat-pause columns left out) and `extra` keys.
fn folder_feed(drop: &std::path::Path, extra: &str) -> String {
    let shipped = std::fs::read_to_string(root().join("config/duban.toml")).unwrap();
    let start = shipped.find("[feeds.fields]").unwrap();
    let end = shipped.find("[feeds.pause_fields]").unwrap();
    let values = &shipped[shipped.find("[feeds.values.status]").unwrap()..];
    format!(
        "[[feeds]]\nname = \"drop\"\nkind = \"folder\"\nschedule = \"* * * * * *\"\npath = {:?}\n\
         time_format = \"%Y-%m-%d %H:%M:%S\"\n{extra}{}{values}",
        path_string(drop),
        &shipped[start..end].replace("pauses = \"暂停记录\"\n", ""),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn records_are_mapped_quarantined_and_deduplicated() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let mut bad_time = record("BAD-1", "2026-11-02T09:30:00+08:00", 5);
    bad_time["accepted_at"] = json!("2026-11-02 09:30");
    let mut bad_stage = record("BAD-2", "2026-11-02T09:30:00+08:00", 5);
    bad_stage["stage"] = json!(9);
    feed.set(vec![
        record("A-1", "2026-11-02T09:30:00+08:00", 5),
        bad_time,
        record("A-2", "2026-11-03T09:30:00+08:00", 5),
        json!("not an object"),
        bad_stage,
        record("A-3", "2026-11-04T09:30:00+08:00", 5),
    ]);
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &http_feed("main", &url, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;

    eventually(10, "three items stored", || async {
        app.items("").await["total"] == 3
    })
    .await;
    // Quarantine entries are written right after the page's items.
    eventually(10, "three records quarantined", || async {
        app.quarantine().await["total"] == 3
    })
    .await;
    let quarantine = app.quarantine().await;
    assert_eq!(quarantine["total"], 3, "{quarantine}");
    let records = quarantine["records"].as_array().unwrap();
    let find = |id: &str| records.iter().find(|r| r["item_id"] == id).unwrap().clone();
    assert_eq!(find("BAD-1")["field"], "accepted_at");
    assert!(
        find("BAD-1")["reason"]
            .as_str()
            .unwrap()
            .contains("RFC 3339")
    );
    assert_eq!(find("BAD-2")["field"], "stage");
    assert!(records.iter().any(|r| r["reason"] == "not a JSON object"));

    // The same records again, run after run: nothing new is written.
    // (Waited for: the run that stored them may be recorded after its quarantine shows.)
    eventually(10, "a run that finds all three unchanged", || async {
        app.feed("main").await["last_run"]["unchanged"] == 3
    })
    .await;
    assert_eq!(
        app.quarantine().await["total"],
        3,
        "quarantine entries are replaced, not repeated"
    );
    // Dated when they happened: the record when it was made, the clock's changes since at
    // their midnights; written once, however often the record comes again.
    let item = app.item("A-1").await;
    assert_eq!(history_of(&item), five_days_from_2_november(), "{item}");

    // A changed record is stored again and its grade history grows only if the grade moves.
    let mut changed = record("A-1", "2026-11-02T09:30:00+08:00", 5);
    changed["status"] = json!("finished");
    changed["finished_at"] = json!("2026-11-03T10:00:00+08:00");
    // Its project is renamed too: a project's row is rewritten only when it differs.
    changed["project_name"] = json!("某某产业园一期（更名）");
    feed.set(vec![changed]);
    eventually(10, "the change stored", || async {
        app.item("A-1").await["status"] == "finished"
    })
    .await;
    assert_eq!(
        app.item("A-1").await["project_name"],
        "某某产业园一期（更名）"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chinese_format_maps_through_the_config() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(vec![json!({
        "办件编号": "CN-1", "项目代码": "2611-370102-04-01-654321", "项目名称": "天桥区数据中心",
        "项目类别": "general_social", "事项名称": "建设工程消防验收", "办理部门": "市住房和城乡建设局",
        "审批阶段": "4", "办件状态": "暂停中", "受理时间": "2026-11-02 09:30:00", "承诺时限": "10",
        "法定时限": "15", "延期天数": "0", "办结时间": "", "更新时间": "2026-11-04 10:00:00",
        "暂停记录": [{"类型": "专家评审", "开始时间": "2026-11-04 10:00:00", "结束时间": null}]
    })]);
    let shipped = std::fs::read_to_string(root().join("config/duban.toml")).unwrap();
    let mapping = &shipped[shipped.find("[feeds.fields]").unwrap()..];
    let feeds = format!(
        "[[feeds]]\nname = \"cn\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\n\
         records_path = \"items\"\ntime_format = \"%Y-%m-%d %H:%M:%S\"\n{mapping}"
    );
    let config = load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds));
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "the record stored", || async {
        app.items("").await["total"] == 1
    })
    .await;
    let item = app.item("CN-1").await;
    assert_eq!(item["status"], "paused");
    assert_eq!(item["paused"], true);
    assert_eq!(
        item["accepted_at"], "2026-11-02T01:30:00Z",
        "local time read in Asia/Shanghai"
    );
    assert_eq!(item["pauses"][0]["kind"], "expert_review");
    assert_eq!(item["stage"], 4);
    // Filters that cannot match are refused with a reason, not answered with an empty list.
    for bad in [
        "stage=9",
        "limit=0",
        "offset=-1",
        "grade=purple",
        "status=办理中",
    ] {
        let (status, body) = app.get(&format!("/api/items?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }
    let (status, body) = app.get("/api/items/nope").await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (404, Some("no item \"nope\""))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_down_then_up_goes_stale_and_recovers() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.fail(true);
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &http_feed("flaky", &url, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "the feed stale", || async {
        app.feed("flaky").await["stale"] == true
    })
    .await;
    let feed_state = app.feed("flaky").await;
    assert!(
        feed_state["last_error"].as_str().unwrap().contains("500"),
        "{feed_state}"
    );
    let (_, health) = app.get("/healthz").await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(health["reasons"][0].as_str().unwrap().contains("flaky"));
    let (_, metrics) = app.get("/metrics").await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("duban_feed_stale{feed=\"flaky\"} 1")
    );

    feed.set(vec![record("U-1", "2026-11-02T09:30:00+08:00", 5)]);
    feed.fail(false);
    eventually(10, "the feed recovered", || async {
        app.feed("flaky").await["stale"] == false
    })
    .await;
    eventually(10, "its record stored", || async {
        app.items("").await["total"] == 1
    })
    .await;
    // Up again and its record graded: nothing left to report.
    let health = app.get("/healthz").await.1;
    assert_eq!(health["status"], "ok", "{health}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_items_history_and_quarantine() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let mut bad = record("BAD", "2026-11-02T09:30:00+08:00", 5);
    bad["limit_days"] = json!(-1);
    // An item with a closed correction and an open expert review: its clock must be rebuilt.
    let mut paused = record("K-2", "2026-11-02T09:30:00+08:00", 10);
    paused["status"] = json!("paused");
    paused["pauses"] = json!([
        {"kind": "correction", "from": "2026-11-03T10:00:00+08:00", "to": "2026-11-05T10:00:00+08:00"},
        {"kind": "expert_review", "from": "2026-11-09T10:00:00+08:00", "to": null}
    ]);
    feed.set(vec![
        record("K-1", "2026-11-02T09:30:00+08:00", 5),
        paused,
        bad,
    ]);
    let text = config_text(&sqlite_url(dir.path()), &http_feed("main", &url, ""));
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    eventually(10, "stored", || async { app.items("").await["total"] == 2 }).await;
    let before = app.item("K-2").await;
    app.stop().await;

    feed.fail(true);
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    assert_eq!(app.items("").await["total"], 2);
    let after = app.item("K-2").await;
    for field in ["grade", "used", "deadline_date", "paused", "pauses"] {
        assert_eq!(after[field], before[field], "{field} after the restart");
    }
    // 3 Nov counts, 4–5 Nov stopped, 6 and 9 Nov count, then the open review.
    assert_eq!(
        (after["used"].as_i64(), after["paused"].as_bool()),
        (Some(3), Some(true))
    );
    assert_eq!(
        history_of(&app.item("K-1").await),
        five_days_from_2_november()
    );
    assert_eq!(app.quarantine().await["total"], 1);
    assert_eq!(
        app.get("/healthz").await.1["items"],
        2,
        "the board is rebuilt from the store"
    );
    // With its projects' names and categories: the screens name them and rank them.
    {
        let board = app.running.shared.board();
        let project = board
            .names()
            .project(board.get("K-1").unwrap().labels.project);
        assert_eq!(
            (&*project.name, &*project.category),
            ("某某产业园一期", "general_social")
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grade_changes_at_the_right_midnight() {
    let dir = temp_dir();
    grade_changes_at_the_right_midnight(&sqlite_url(dir.path()), dir.path()).await;
}

/// A page is graded off the writer while the page before is written; should midnight pass in
/// between (a slow write, a large page), it is graded again as of the day it is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_graded_before_midnight_and_written_after_gets_the_new_days_grade() {
    let dir = temp_dir();
    let clock = ManualClock::new(at("2026-11-04T23:59:59+08:00"));
    let config = load_config(dir.path(), &config_text(&sqlite_url(dir.path()), ""));
    let app = spawn_app(config, Clock::Manual(clock.clone())).await;
    // Accepted Monday 2 Nov, 5 days: blue on the 4th (2 used), yellow on the 5th (3 used).
    let record = record("M-1", "2026-11-02T09:30:00+08:00", 5).to_string();
    let shared = &app.running.shared;
    let bounds = shared.config.records.as_of(shared.clock.now());
    let item = duban::item::parse_record(&record, &bounds).unwrap();
    let assessed = shared.assess("main", vec![item]);
    clock.set(at("2026-11-05T00:00:01+08:00"));
    let claim = shared.claims.enqueue(["M-1"]);
    claim.ready().await;
    let (outcome, quarantined) = shared
        .ingest_assessed("main", assessed, &claim)
        .await
        .unwrap();
    drop(claim);
    assert_eq!((outcome.stored, quarantined.len()), (1, 0));
    let item = app.item("M-1").await;
    assert_eq!(
        (item["grade"].as_str(), item["used"].as_i64()),
        (Some("yellow"), Some(3)),
        "{item}"
    );
    assert_eq!(item["next_change"], "2026-11-10T00:00:00+08:00");
    // Blue when the record was made, yellow from the midnight the page was written after.
    assert_eq!(
        history_of(&item),
        [
            ("2026-11-02T01:30:00Z", "blue", "feed:main"),
            ("2026-11-04T16:00:00Z", "yellow", "clock")
        ]
        .map(|(a, g, c)| (a.to_owned(), g.to_owned(), c.to_owned()))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gbk_csv_dropped_in_a_folder_is_read_and_filed() {
    let dir = temp_dir();
    let drop = folder(dir.path(), "drop");
    let csv = "办件编号,项目代码,项目名称,项目类别,事项名称,办理部门,审批阶段,办件状态,受理时间,承诺时限,法定时限,延期天数,办结时间,更新时间\n\
               G-1,2611-370102-04-01-111111,槐荫区安置房,general_social,城市道路挖掘占用许可,市城市管理局,3,办理中,2026-11-02 09:30:00,5,20,0,,2026-11-02 09:30:00\n\
               G-2,2611-370102-04-01-111111,槐荫区安置房,general_social,夜间施工许可,市生态环境局,3,已办结,2026-11-02 10:00:00,1,5,0,2026-11-03 16:00:00,2026-11-03 16:00:00\n\
               G-3,2611-370102-04-01-111111,槐荫区安置房,general_social,夜间施工许可,市生态环境局,三,办理中,2026-11-02 10:00:00,1,5,0,,2026-11-03 16:00:00\n";
    let (bytes, _, _) = encoding_rs::GBK.encode(csv);
    std::fs::write(drop.join("export-1.csv"), &bytes).unwrap();
    std::fs::write(drop.join("export-2.xlsx"), b"PK\x03\x04 not really").unwrap();
    let feeds = folder_feed(&drop, "encoding = \"gbk\"\n");
    let config = load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds));
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "two items stored", || async {
        app.items("").await["total"] == 2
    })
    .await;
    assert_eq!(app.item("G-2").await["status"], "finished");
    eventually(10, "the bad row quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    let quarantine = app.quarantine().await;
    assert_eq!(quarantine["records"][0]["item_id"], "G-3");
    assert_eq!(quarantine["records"][0]["field"], "stage");
    eventually(5, "files filed", || async {
        drop.join("done/export-1.csv").exists()
            && drop.join("failed/export-2.xlsx.error.txt").exists()
    })
    .await;
    let reason = std::fs::read_to_string(drop.join("failed/export-2.xlsx.error.txt")).unwrap();
    assert!(reason.starts_with("cannot read the workbook: "), "{reason}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_xlsx_dropped_in_a_folder_is_read_with_its_date_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let dir = temp_dir();
    let drop = folder(dir.path(), "drop");
    let headers = [
        "办件编号",
        "项目代码",
        "项目名称",
        "项目类别",
        "事项名称",
        "办理部门",
        "审批阶段",
        "办件状态",
        "受理时间",
        "承诺时限",
        "法定时限",
        "延期天数",
        "办结时间",
        "更新时间",
    ];
    let mut book = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let sheet = book.add_worksheet();
    for (column, header) in headers.iter().enumerate() {
        sheet.write_string(0, column as u16, *header).unwrap();
    }
    let time = |text: &str| ExcelDateTime::parse_from_str(text).unwrap();
    for (row, id, status, finished) in [
        (1, "X-1", "办理中", None),
        // Row 2 is left empty.
        (3, "X-2", "已办结", Some("2026-11-03 16:00:00")),
    ] {
        for (column, text) in [
            (0, id),
            (1, "2611-370102-04-01-222222"),
            (2, "历城区学校"),
            (3, "general_social"),
            (4, "建设工程规划许可证核发"),
            (5, "市自然资源和规划局"),
            (7, status),
        ] {
            sheet.write_string(row, column, text).unwrap();
        }
        for (column, number) in [(6, 2.0), (9, 5.0), (10, 20.0), (11, 0.0)] {
            sheet.write_number(row, column, number).unwrap();
        }
        let accepted = time("2026-11-02 09:30:00");
        sheet
            .write_datetime_with_format(row, 8, &accepted, &date)
            .unwrap();
        let updated = time(finished.unwrap_or("2026-11-02 09:30:00"));
        sheet
            .write_datetime_with_format(row, 13, &updated, &date)
            .unwrap();
        if let Some(finished) = finished {
            sheet
                .write_datetime_with_format(row, 12, time(finished), &date)
                .unwrap();
        }
    }
    book.save(drop.join("export-1.xlsx")).unwrap();
    // Not a workbook at all.
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    std::fs::write(drop.join("export-2.xlsx"), noise).unwrap();
    // Files written in the last seconds wait a run; these are finished.
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for name in ["export-1.xlsx", "export-2.xlsx"] {
        let file = std::fs::File::options()
            .write(true)
            .open(drop.join(name))
            .unwrap();
        file.set_modified(an_hour_ago).unwrap();
    }
    let feeds = folder_feed(&drop, "timezone = \"Asia/Shanghai\"\n");
    let config = load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds));
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "two items stored", || async {
        app.items("").await["total"] == 2
    })
    .await;
    let item = app.item("X-1").await;
    assert_eq!(item["accepted_at"], "2026-11-02T01:30:00Z", "{item}");
    assert_eq!(
        (item["stage"].clone(), item["limit_days"].clone()),
        (json!(2), json!(5))
    );
    let finished = app.item("X-2").await;
    assert_eq!(finished["status"], "finished");
    assert_eq!(
        finished["finished_at"], "2026-11-03T08:00:00Z",
        "{finished}"
    );
    eventually(5, "files filed", || async {
        drop.join("done/export-1.xlsx").exists()
            && drop.join("failed/export-2.xlsx.error.txt").exists()
    })
    .await;
    let reason = std::fs::read_to_string(drop.join("failed/export-2.xlsx.error.txt")).unwrap();
    assert!(reason.starts_with("cannot read the workbook: "), "{reason}");
    assert_eq!(app.quarantine().await["total"], 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn since_comes_from_usable_records_and_never_from_the_future() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    // Two days after the injected clock's now (25 Nov): in the future whatever the machine's
    // date, so this is excluded only if the horizon is taken from the injected clock.
    let mut future = record("F-1", "2026-11-04T09:30:00+08:00", 5);
    future["updated_at"] = json!("2026-11-27T10:00:00+08:00");
    // Broken, and stamped in the past after every usable record: excluded only for being
    // broken (a broken record is not stored, so a since taken from it would skip its fix).
    let mut broken = record("F-2", "2026-11-04T09:30:00+08:00", 5);
    broken["updated_at"] = json!("2026-11-20T10:00:00+08:00");
    broken["stage"] = json!(0);
    feed.set(vec![
        record("S-1", "2026-11-02T09:30:00+08:00", 5),
        record("S-2", "2026-11-03T09:30:00+08:00", 5),
        future,
        broken,
    ]);
    let feeds = http_feed("inc", &url, "since_param = \"since\"");
    let app = spawn_app(
        load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds)),
        fixed_clock().1,
    )
    .await;
    eventually(10, "three items stored", || async {
        app.items("").await["total"] == 3
    })
    .await;
    eventually(10, "a second run with since", || async {
        !feed.state.lock().unwrap().sinces.is_empty()
    })
    .await;
    let sinces = feed.state.lock().unwrap().sinces.clone();
    assert_eq!(sinces[0], "2026-11-03T09:30:00+08:00", "{sinces:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn of_two_versions_in_one_page_the_newest_wins() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let mut finished = record("V-1", "2026-11-02T09:30:00+08:00", 5);
    finished["status"] = json!("finished");
    finished["finished_at"] = json!("2026-11-05T10:00:00+08:00");
    finished["updated_at"] = json!("2026-11-05T10:00:00+08:00");
    let mut pending = record("V-1", "2026-11-02T09:30:00+08:00", 5);
    pending["updated_at"] = json!("2026-11-03T10:00:00+08:00");
    feed.set(vec![finished, pending.clone()]);
    let feeds = http_feed("v", &url, "");
    let app = spawn_app(
        load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds)),
        fixed_clock().1,
    )
    .await;
    eventually(10, "stored", || async { app.items("").await["total"] == 1 }).await;
    assert_eq!(app.item("V-1").await["status"], "finished");
    // The older version alone, later: still ignored.
    feed.set(vec![pending]);
    eventually(10, "a run of the older version alone", || async {
        app.feed("v").await["last_run"]["records_in"] == 1
    })
    .await;
    assert_eq!(app.item("V-1").await["status"], "finished");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cursor_pagination_reads_every_page() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(
        (1..=5)
            .map(|i| record(&format!("C-{i}"), "2026-11-02T09:30:00+08:00", 5))
            .collect(),
    );
    let url = url.replace("/items", "/cursor");
    let feeds = format!(
        "[[feeds]]\nname = \"cur\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\n\
         records_path = \"data.rows\"\npagination = {{ kind = \"cursor\", cursor_param = \"cursor\", next_field = \"next\" }}\n"
    );
    let app = spawn_app(
        load_config(dir.path(), &config_text(&sqlite_url(dir.path()), &feeds)),
        fixed_clock().1,
    )
    .await;
    eventually(10, "five items over three pages", || async {
        app.items("").await["total"] == 5
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn records_waiting_for_next_years_holidays_come_back_when_it_is_added() {
    let dir = temp_dir();
    let holidays = holidays_of_2026_only(dir.path());
    let (feed, url) = FeedServer::start().await;
    // Accepted 21 Dec 2026 with 10 days: the deadline falls in January 2027.
    feed.set(vec![record("Y-1", "2026-12-21T09:30:00+08:00", 10)]);
    let clock = ManualClock::new(at("2026-12-22T10:00:00+08:00"));
    // With no provisional years, a date in 2027 cannot be counted before its file.
    let text = config_text_with(
        &holidays,
        &sqlite_url(dir.path()),
        &http_feed("y", &url, ""),
    )
    .replace(CALENDAR, NO_PROVISIONAL_YEARS);
    let app = spawn_app(load_config(dir.path(), &text), Clock::Manual(clock.clone())).await;
    eventually(10, "quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    let reason = app.quarantine().await["records"][0]["reason"].clone();
    assert!(reason.as_str().unwrap().contains("2027"), "{reason}");
    // Left out of every count, so said where the operator and the screens look.
    eventually(10, "/healthz degraded, naming the year", || async {
        let health = app.get("/healthz").await.1;
        health["status"] == "degraded"
            && health["reasons"].as_array().unwrap().iter().any(|r| {
                r.as_str().unwrap().contains("1 records cannot be graded")
                    && r.as_str().unwrap().contains("2027")
            })
    })
    .await;
    eventually(10, "the screens' feeds say how many wait", || async {
        let snapshot = app.get("/live/snapshot").await.1;
        snapshot["feeds"][0]["ungraded"] == 1
    })
    .await;
    app.stop().await;

    // The operator adds 2027 (here: no holidays, weekends only) and restarts; the feed is down.
    std::fs::write(
        holidays.join("2027.toml"),
        "year = 2027\nsource = \"test\"\n",
    )
    .unwrap();
    feed.fail(true);
    let app = spawn_app(load_config(dir.path(), &text), Clock::Manual(clock)).await;
    assert_eq!(app.items("").await["total"], 1);
    assert_eq!(app.item("Y-1").await["deadline_date"], "2027-01-04");
    assert_eq!(app.quarantine().await["total"], 0);
    // (The feed is down here, so /healthz may be degraded for that, not for the year.)
    let health = app.get("/healthz").await.1;
    assert!(!health.to_string().contains("cannot be graded"), "{health}");
    assert!(
        app.get("/live/snapshot").await.1["feeds"][0]
            .get("ungraded")
            .is_none()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn next_years_deadlines_are_provisional_until_its_file_is_added_then_moved_by_the_calendar() {
    let dir = temp_dir();
    let holidays = holidays_of_2026_only(dir.path());
    let (feed, url) = FeedServer::start().await;
    // Accepted Monday 21 December 2026 with 10 days: 22–25 and 28–31 December are 8; on the
    // provisional 2027, 1 January is 元旦 (a Friday, nothing to make up) and 2–3 a weekend,
    // so the 9th and 10th are 4 and 5 January.
    feed.set(vec![record("Y-1", "2026-12-21T09:30:00+08:00", 10)]);
    let clock = ManualClock::new(at("2026-12-22T10:00:00+08:00"));
    let text = config_text_with(
        &holidays,
        &sqlite_url(dir.path()),
        &http_feed("y", &url, ""),
    );
    let app = spawn_app(load_config(dir.path(), &text), Clock::Manual(clock.clone())).await;
    eventually(10, "graded, not quarantined", || async {
        app.items("").await["total"] == 1
    })
    .await;
    assert_eq!(app.quarantine().await["total"], 0);
    let item = app.item("Y-1").await;
    assert_eq!(
        (&item["deadline_date"], &item["provisional"], &item["used"]),
        (&json!("2027-01-05"), &json!(true), &json!(1)),
        "{item}"
    );
    assert_eq!(
        item["provisional_note"],
        "暂定：2027 年的节假日安排（国务院办公厅通知）尚未加载，其中的工作日按《全国年节及纪念日放假办法》推算，\
         未含调休，期限和已用工作日在通知发布后可能变动"
    );
    // Counted, and said so: the health stays ok, with a reminder to add the file; the
    // screens say how many deadlines are provisional.
    let health = app.get("/healthz").await.1;
    assert_eq!(health["status"], "ok", "{health}");
    let reminders = health["reminders"].as_array().unwrap();
    assert!(
        reminders.len() == 1
            && reminders[0]
                .as_str()
                .unwrap()
                .starts_with("2027 年节假日安排尚未加载"),
        "{health}"
    );
    eventually(10, "the screens count the provisional deadline", || async {
        let headline = &app.get("/live/snapshot").await.1["panels"]["headline"];
        headline["provisional"] == 1
            && headline["calendar"]
                == "1 件期限暂定：2027、2028 年节假日安排未发布，按放假办法推算，未含调休"
    })
    .await;
    app.stop().await;

    // The notice is out (here: 2027 with no holidays at all, so 1 January is a working day)
    // and the operator restarts; the feed is down, so only the calendar can move anything.
    std::fs::write(
        holidays.join("2027.toml"),
        "year = 2027\nsource = \"test\"\n",
    )
    .unwrap();
    feed.fail(true);
    let app = spawn_app(load_config(dir.path(), &text), Clock::Manual(clock.clone())).await;
    let item = app.item("Y-1").await;
    assert_eq!(
        (&item["deadline_date"], &item["provisional"]),
        (&json!("2027-01-04"), &json!(false)),
        "{item}"
    );
    assert!(item.get("provisional_note").is_none(), "{item}");
    assert_eq!(
        item["deadline_changes"],
        json!([{
            "at": "2026-12-22T02:00:00Z", "previous": "2027-01-05", "deadline": "2027-01-04",
            "cause": "calendar"
        }])
    );
    assert_eq!(app.get("/healthz").await.1["reminders"], json!([]));
    // The screens' first count after start-up (it reads the day's warnings and answers
    // from the store first).
    eventually(10, "the screens counted", || async {
        !app.get("/live/snapshot").await.1["panels"]["headline"].is_null()
    })
    .await;
    let headline = &app.get("/live/snapshot").await.1["panels"]["headline"];
    assert_eq!(
        (&headline["provisional"], &headline["calendar"]),
        (&json!(0), &serde_json::Value::Null),
        "{headline}"
    );
    app.stop().await;

    // Once moved, it stays recorded once.
    let app = spawn_app(load_config(dir.path(), &text), Clock::Manual(clock.clone())).await;
    assert_eq!(
        app.item("Y-1").await["deadline_changes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.stop().await;

    // The file taken away again, and no provisional years: the item cannot be graded, and
    // its stored deadline is not passed off as a current one.
    std::fs::remove_file(holidays.join("2027.toml")).unwrap();
    let strict = text.replace(CALENDAR, NO_PROVISIONAL_YEARS);
    let app = spawn_app(load_config(dir.path(), &strict), Clock::Manual(clock)).await;
    let item = app.item("Y-1").await;
    assert_eq!(item["provisional"], serde_json::Value::Null, "{item}");
    assert!(
        item["provisional_note"]
            .as_str()
            .is_some_and(|n| n.starts_with("无法按当前的节假日安排计算期限")),
        "{item}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpoint_copies_the_log_back_and_the_next_write_starts_it_again() {
    let dir = temp_dir();
    let store = duban::store::Store::open(&sqlite_url(dir.path()))
        .await
        .unwrap();
    // The migrations' pages, all copied back.
    let before = store.checkpoint().await.unwrap();
    assert!(before.frames > 2, "{before:?}");
    assert_eq!(before.copied, before.frames, "{before:?}");
    sqlx::query("INSERT INTO departments (name) VALUES ('市住房和城乡建设局')")
        .execute(store.pool())
        .await
        .unwrap();
    let after = store.checkpoint().await.unwrap();
    assert!(
        after.frames > 0 && after.frames < before.frames,
        "the write began the log again from its start: {before:?} → {after:?}"
    );
    assert_eq!(after.copied, after.frames, "and was copied back: {after:?}");
    store.close().await;
}

/// Each refused record says what is wrong with it, in its field's name, and what the
/// quarantine keeps of it stays small: an empty id is empty (not missing), a 1 MB department
/// is too long, a date in 1900 and a limit of 100,000 days are implausible (not a holiday
/// file to add).
#[tokio::test(flavor = "multi_thread")]
async fn refused_records_say_what_is_wrong_and_stay_small() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let accepted = "2026-11-02T09:30:00+08:00";
    let empty_id = record("", accepted, 5);
    let mut huge = record("BIG-1", accepted, 5);
    huge["department"] = json!("x".repeat(1 << 20));
    let huge_bytes = huge.to_string().len();
    let old = record("OLD-1", "1900-01-02T09:30:00+08:00", 5);
    let mut ahead = record("AHEAD-1", "2031-01-02T09:30:00+08:00", 5);
    ahead["updated_at"] = json!(accepted);
    let long = record("LONG-1", accepted, 100_000);
    let mut extended = record("EXT-1", accepted, 5);
    extended["extension_days"] = json!(400);
    feed.set(vec![
        record("OK-1", accepted, 5),
        empty_id,
        huge,
        old,
        ahead,
        long,
        extended,
    ]);
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &http_feed("main", &url, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "six records quarantined", || async {
        app.quarantine().await["total"] == 6
    })
    .await;
    assert_eq!(app.items("").await["total"], 1);
    let (_, body) = app.get("/api/quarantine").await;
    let records = body["records"].as_array().unwrap().clone();
    let find = |id: Option<&str>| {
        records
            .iter()
            .find(|r| r["item_id"].as_str() == id)
            .unwrap_or_else(|| panic!("{id:?} quarantined: {body}"))
            .clone()
    };
    let reason = |r: &serde_json::Value| r["reason"].as_str().unwrap().to_owned();
    for r in &records {
        assert!(!reason(r).contains(".toml"), "no holiday file to add: {r}");
    }

    let empty = find(None);
    assert_eq!(
        (&empty["field"], reason(&empty).as_str()),
        (&json!("item_id"), "item_id is empty")
    );

    let big = find(Some("BIG-1"));
    assert_eq!(big["field"], "department");
    assert_eq!(
        reason(&big),
        "department is 1048576 characters long; at most 200"
    );
    let raw = big["raw"].as_str().unwrap();
    assert!(raw.len() < 70_000, "{} bytes kept", raw.len());
    assert!(
        raw.ends_with(&format!(
            "… (truncated: the record was {huge_bytes} bytes; the first 65536 are kept)"
        )),
        "{}",
        &raw[raw.len() - 100..]
    );
    let text = app
        .client
        .get(format!("{}/api/quarantine", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.len() < 100_000,
        "/api/quarantine is {} bytes",
        text.len()
    );

    let old = find(Some("OLD-1"));
    assert_eq!(old["field"], "accepted_at");
    assert!(
        reason(&old).starts_with("accepted_at 1900-01-02T09:30:00+08:00 is before 2000-01-01"),
        "{old}"
    );
    let ahead = find(Some("AHEAD-1"));
    assert_eq!(ahead["field"], "accepted_at");
    assert!(reason(&ahead).contains("more than 1 year after"), "{ahead}");
    let long = find(Some("LONG-1"));
    assert_eq!(long["field"], "limit_days");
    assert!(
        reason(&long).starts_with("limit_days is 100000 working days; at most 365"),
        "{long}"
    );
    let extended = find(Some("EXT-1"));
    assert_eq!(extended["field"], "extension_days");
    // Valid records that merely wait for a holiday file are the only ones counted as such.
    let health = app.get("/healthz").await.1;
    assert!(!health.to_string().contains("cannot be graded"), "{health}");
    app.stop().await;
}

/// A string with half a UTF-16 pair (`"\ud800"`) is not "an unexpected end of hex escape":
/// the record is refused for its invalid escape, and where it is; the others are stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_lone_surrogate_is_refused_as_an_invalid_escape() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let good = record("OK-1", "2026-11-02T09:30:00+08:00", 5).to_string();
    let bad = record("SUR-1", "2026-11-02T09:30:00+08:00", 5)
        .to_string()
        .replace("某某产业园一期", "\\ud800一期");
    feed.set_bodies(vec![format!("{{\"items\": [{good}, {bad}]}}").into_bytes()]);
    let url = url.replace("/items", "/raw");
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &http_feed("main", &url, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "one quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    assert_eq!(app.items("").await["total"], 1);
    let entry = app.quarantine().await["records"][0].clone();
    let column = bad.find("\\ud800").unwrap() + 7;
    assert_eq!(
        entry["reason"],
        format!(
            "not valid JSON: an invalid \\u escape (a lone surrogate: half of a UTF-16 pair) \
             at column {column}"
        ),
        "{entry}"
    );
    assert_eq!(entry["raw"], bad);
    app.stop().await;
}

/// Sets a file's modification time an hour back: the folder feed reads only files left
/// alone for a while.
fn settled(path: &std::path::Path) {
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
}

const CSV_HEADER: &str = "办件编号,项目代码,项目名称,项目类别,事项名称,办理部门,审批阶段,办件状态,受理时间,承诺时限,法定时限,延期天数,办结时间,更新时间\n";

/// A CSV row of the Chinese export for item `id`.
fn csv_row(id: &str) -> String {
    format!(
        "{id},2611-370102-04-01-111111,槐荫区安置房,general_social,城市道路挖掘占用许可,市城市管理局,3,办理中,2026-11-02 09:30:00,5,20,0,,2026-11-02 09:30:00\n"
    )
}

/// A symbolic link dropped in the folder is not followed, nor a hard link read: what they
/// name (a file the daemon can read and the dropper perhaps cannot) never reaches the
/// quarantine; the run says each was passed over.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn a_link_in_the_drop_folder_is_not_followed() {
    let dir = temp_dir();
    let drop = folder(dir.path(), "drop");
    let outside = folder(dir.path(), "outside");
    let secret = outside.join("secret.csv");
    // A well-formed export whose one row is refused (its stage is not a number): were the
    // link followed, the row would be quarantined, raw text and all.
    let row = csv_row("TOP-SECRET").replace(",3,办理中", ",hunter2,办理中");
    std::fs::write(&secret, format!("{CSV_HEADER}{row}")).unwrap();
    settled(&secret);
    std::os::unix::fs::symlink(&secret, drop.join("link.csv")).unwrap();
    // A second name of the same file, on the same file system (the temporary folder).
    std::fs::hard_link(&secret, drop.join("hard.csv")).unwrap();
    let export = drop.join("export.csv");
    std::fs::write(&export, format!("{CSV_HEADER}{}", csv_row("L-1"))).unwrap();
    settled(&export);
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &folder_feed(&drop, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "the export stored and filed", || async {
        app.items("").await["total"] == 1 && drop.join("done/export.csv").exists()
    })
    .await;
    eventually(10, "a run that says it passed both links over", || async {
        let notes = app.feed("drop").await["last_run"]["notes"].clone();
        let said = |file: &str, what: &str| {
            notes.as_array().is_some_and(|notes| {
                notes.iter().any(|n| {
                    n.as_str()
                        .is_some_and(|n| n.contains(file) && n.contains(what))
                })
            })
        };
        said("link.csv", "symbolic link") && said("hard.csv", "hard link")
    })
    .await;
    let quarantine = app.get("/api/quarantine").await.1;
    assert_eq!(quarantine["total"], 0, "{quarantine}");
    assert!(!quarantine.to_string().contains("hunter2"));
    // Left where it is, and so is what it points at.
    assert!(drop.join("link.csv").is_symlink());
    assert!(drop.join("hard.csv").exists());
    assert!(secret.exists());
    assert!(!drop.join("failed").join("link.csv").exists());
    assert!(!drop.join("failed").join("hard.csv").exists());
    assert!(!drop.join("done").join("hard.csv").exists());
    app.stop().await;
}

/// A row with the wrong number of cells is refused on its own, with its row number: the
/// rest of the file is read and the file is done, not failed.
#[tokio::test(flavor = "multi_thread")]
async fn a_ragged_csv_row_is_quarantined_alone() {
    let dir = temp_dir();
    let drop = folder(dir.path(), "drop");
    let export = drop.join("export.csv");
    let ragged = "R-2,2611-370102-04-01-111111,槐荫区安置房\n";
    std::fs::write(
        &export,
        format!("{CSV_HEADER}{}{ragged}{}", csv_row("R-1"), csv_row("R-3")),
    )
    .unwrap();
    settled(&export);
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &folder_feed(&drop, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(
        10,
        "two rows stored, the ragged one quarantined",
        || async { app.items("").await["total"] == 2 && app.quarantine().await["total"] == 1 },
    )
    .await;
    let entry = app.quarantine().await["records"][0].clone();
    assert_eq!(
        entry["reason"], "row 3 has 3 cells; the header row has 14",
        "{entry}"
    );
    assert_eq!(entry["raw"], ragged.trim_end());
    eventually(5, "the file done", || async {
        drop.join("done/export.csv").exists()
    })
    .await;
    assert!(!drop.join("failed").exists());
    app.stop().await;
}

/// One bad record does not lose its page: a page that is not JSON as a whole (a `NaN`, a
/// stray byte, GBK text, text after the JSON) is read record by record as far as its
/// brackets allow; the good records are stored, each bad one is quarantined with its text,
/// the later pages are read, and the run says which pages were salvaged. A byte-order mark
/// is no error at all.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_with_a_bad_record_is_salvaged_record_by_record() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let good = |id: &str| record(id, "2026-11-02T09:30:00+08:00", 5).to_string();
    let nan = good("NAN-1").replace("\"limit_days\":5", "\"limit_days\":NaN");
    let (gbk, _, _) = encoding_rs::GBK.encode("市城市管理局");
    let gbk_record = good("GBK-1").into_bytes();
    let at = gbk_record
        .windows("市自然资源和规划局".len())
        .position(|w| w == "市自然资源和规划局".as_bytes())
        .unwrap();
    let gbk_record = [
        &gbk_record[..at],
        &gbk[..],
        &gbk_record[at + "市自然资源和规划局".len()..],
    ]
    .concat();
    let stray = good("STRAY-1").replacen("\"pauses\"", "\u{1}\"pauses\"", 1);
    let page = |parts: Vec<Vec<u8>>| {
        let mut body = b"{\"items\": [".to_vec();
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(b",\n  ");
            }
            body.extend(part);
        }
        body.extend_from_slice(b"]}");
        body
    };
    let bom = [
        b"\xEF\xBB\xBF".to_vec(),
        page(vec![good("BOM-1").into_bytes(), good("BOM-2").into_bytes()]),
    ]
    .concat();
    let five_and_nan = page(vec![
        good("P-1").into_bytes(),
        good("P-2").into_bytes(),
        nan.clone().into_bytes(),
        good("P-3").into_bytes(),
        good("P-4").into_bytes(),
        good("P-5").into_bytes(),
    ]);
    let gbk_and_stray = page(vec![
        good("Q-1").into_bytes(),
        gbk_record,
        stray.clone().into_bytes(),
        good("Q-2").into_bytes(),
    ]);
    let trailing = [
        page(vec![good("T-1").into_bytes()]),
        b"\n<!-- 42 -->".to_vec(),
    ]
    .concat();
    feed.set_bodies(vec![bom, five_and_nan, gbk_and_stray, trailing]);
    let url = url.replace("/items", "/raw");
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &http_feed("main", &url, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(10, "ten stored, three quarantined", || async {
        app.items("").await["total"] == 10 && app.quarantine().await["total"] == 3
    })
    .await;
    let records = app.quarantine().await["records"]
        .as_array()
        .unwrap()
        .clone();
    let entry = |id: &str| {
        records
            .iter()
            .find(|r| r["raw"].as_str().unwrap().contains(id))
            .unwrap_or_else(|| panic!("{id} quarantined: {records:?}"))
            .clone()
    };
    let nan_entry = entry("NAN-1");
    assert_eq!(nan_entry["raw"], nan);
    assert!(
        nan_entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON: expected value at column "),
        "{nan_entry}"
    );
    let gbk_entry = entry("GBK-1");
    assert_eq!(
        gbk_entry["reason"],
        "holds bytes that are not UTF-8 text (each kept here as \u{fffd}); the feed must send \
         UTF-8",
        "{gbk_entry}"
    );
    assert!(gbk_entry["raw"].as_str().unwrap().contains('\u{fffd}'));
    let stray_entry = entry("STRAY-1");
    assert_eq!(stray_entry["raw"], stray);
    assert!(
        stray_entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("not valid JSON: "),
        "{stray_entry}"
    );
    eventually(10, "a run that says which pages were salvaged", || async {
        let run = app.feed("main").await["last_run"].clone();
        run["ok"] == true && run["notes"].as_array().is_some_and(|n| n.len() == 3)
    })
    .await;
    let notes = app.feed("main").await["last_run"]["notes"].clone();
    let note = |i: usize| notes[i].as_str().unwrap().to_owned();
    assert!(
        note(0).starts_with("page 2: ")
            && note(0).contains("not valid JSON as a whole")
            && note(0).ends_with("read record by record: 5 records read, 1 refused"),
        "{notes}"
    );
    assert!(
        note(1).starts_with("page 3: ") && note(1).ends_with("2 records read, 2 refused"),
        "{notes}"
    );
    assert!(
        note(2).starts_with("page 4: ")
            && note(2).ends_with("1 records read, 0 refused; the text after the JSON was left out"),
        "{notes}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lists_a_clerk_uses_find_part_of_a_project_and_order_ended_items_by_their_end() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let ended = |id: &str, status: &str, on: &str| {
        let mut r = record(id, "2026-11-02T09:30:00+08:00", 20);
        r["status"] = json!(status);
        r["finished_at"] = json!(on);
        r["updated_at"] = json!(on);
        r
    };
    let mut other = ended("B", "finished", "2026-11-20T16:00:00+08:00");
    other["project_code"] = json!("2510-370102-04-01-654321");
    other["project_name"] = json!("高新区数据中心");
    feed.set(vec![
        record("A", "2026-11-02T09:30:00+08:00", 20),
        other,
        ended("C", "finished", "2026-11-24T11:00:00+08:00"),
        ended("D", "withdrawn", "2026-11-23T09:00:00+08:00"),
    ]);
    let text = config_text(&sqlite_url(dir.path()), &http_feed("main", &url, ""));
    let app = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    eventually(10, "stored", || async { app.items("").await["total"] == 4 }).await;
    let ids = |list: serde_json::Value| -> Vec<String> {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    // Part of a name, part of a code, and a LIKE wildcard taken literally.
    assert_eq!(
        sorted(ids(app.items("project=%E4%BA%A7%E4%B8%9A%E5%9B%AD").await)),
        ["A", "C", "D"]
    );
    assert_eq!(ids(app.items("project=654321").await), ["B"]);
    assert_eq!(
        sorted(ids(app.items("project=2611-370102").await)),
        ["A", "C", "D"]
    );
    assert_eq!(app.items("project=%25").await["total"], 0);
    // Finished items, the latest to end first.
    assert_eq!(ids(app.items("status=finished").await), ["C", "B"]);
    // Bad filters: a 400 in the API's words.
    for (query, said) in [
        ("department=", "department is empty"),
        (
            "department=%E5%B8%82%E4%B8%8D%E5%AD%98%E5%9C%A8%E5%B1%80",
            "no department is named \"市不存在局\"",
        ),
        (
            "stage=x",
            "the query string cannot be read: stage: invalid digit",
        ),
        (
            "colour=red",
            "the query string cannot be read: colour: unknown field `colour`, expected one of `grade`",
        ),
    ] {
        let (status, body) = app.get(&format!("/api/items?{query}")).await;
        let message = body["error"].as_str().unwrap_or_default().to_owned();
        assert!(
            status == 400
                && message.starts_with(said)
                && !message.contains("Failed to deserialize"),
            "{query}: {status} {body}"
        );
    }
    // The 404 page names what was asked for, as text.
    let response = reqwest::get(format!("{}/nope/%3Cb%3E", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("<code id=\"path\">/nope/%3Cb%3E</code>") && page.contains("这个页面"),
        "{page}"
    );
    let screen = reqwest::get(format!("{}/screen/lobby", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(screen.contains("/screen/lobby</code> 这个大屏"), "{screen}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_a_writer_adds_after_the_file_was_read_and_filed_are_read_too() {
    use std::io::Write as _;
    let dir = temp_dir();
    let drop = folder(dir.path(), "drop");
    let header = "办件编号,项目代码,项目名称,项目类别,事项名称,办理部门,审批阶段,办件状态,受理时间,承诺时限,法定时限,延期天数,办结时间,更新时间\n";
    let row = |id: &str| {
        format!(
            "{id},2611-370102-04-01-111111,槐荫区安置房,general_social,城市道路挖掘占用许可,市城市管理局,3,办理中,2026-11-02 09:30:00,5,20,0,,2026-11-02 09:30:00\n"
        )
    };
    // An exporter that writes in place and pauses between rows for longer than the folder
    // waits for a file to settle.
    let mut writer = std::fs::File::create(drop.join("slow.csv")).unwrap();
    writer
        .write_all(format!("{header}{}", row("W-1")).as_bytes())
        .unwrap();
    writer.flush().unwrap();
    let config = load_config(
        dir.path(),
        &config_text(&sqlite_url(dir.path()), &folder_feed(&drop, "")),
    );
    let app = spawn_app(config, fixed_clock().1).await;
    eventually(15, "the first row stored and the file filed", || async {
        app.items("").await["total"] == 1 && drop.join("done/slow.csv").exists()
    })
    .await;
    // The exporter goes on through its open handle: the row lands in the filed file.
    writer.write_all(row("W-2").as_bytes()).unwrap();
    writer.flush().unwrap();
    std::mem::drop(writer);
    eventually(
        15,
        "the row written after the filing stored too",
        || async { app.items("").await["total"] == 2 },
    )
    .await;
    let feed_events = history_of(&app.item("W-1").await)
        .into_iter()
        .filter(|(_, _, cause)| cause.starts_with("feed:"))
        .count();
    assert_eq!(feed_events, 1, "W-1 once");
    eventually(15, "filed again, once", || async {
        drop.join("done/slow.csv").exists() && !drop.join("slow.csv").exists()
    })
    .await;
    app.stop().await;
}

/// An SQLite store has one daemon: a second one started on the same file is refused with
/// what to do (several replicas share a PostgreSQL store), and once the first stops the
/// store can be served again.
#[tokio::test]
async fn a_second_daemon_on_one_sqlite_store_is_refused() {
    let dir = temp_dir();
    let text = config_text(&sqlite_url(dir.path()), "");
    let first = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    let config = load_config(dir.path(), &text);
    let calendar = config.load_calendar().unwrap();
    let refused = duban::app::start(config, calendar, fixed_clock().1).await;
    let Err(e) = refused else {
        panic!("a second daemon started on the same SQLite store");
    };
    let said = format!("{e:#}");
    assert!(
        said.contains("another duban is serving the SQLite store") && said.contains("PostgreSQL"),
        "{said}"
    );
    first.stop().await;
    let again = spawn_app(load_config(dir.path(), &text), fixed_clock().1).await;
    again.stop().await;
}
