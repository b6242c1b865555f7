//! The ledger table (电子台账) end to end: a feed on loopback brings four items of two
//! projects, then an extension of one of them dated later; `/api/ledger` lays November out
//! per project in stage order with the figures worked out by hand, and the first ten days of
//! November as the record stood then (the extension not yet granted); the real `duban ledger
//! export` writes the same table as a workbook, read back with calamine; `/ledger` in a
//! headless Chromium shows the rows, on screen and as printed; the item page shows the
//! record's versions with what changed.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx, open_workbook};
use common::browser::Browser;
use common::*;
use serde_json::{Value, json};

const A: &str = "2611-370102-04-01-123456";
const B: &str = "2611-370103-04-01-654321";
const NATURAL_RESOURCES: &str = "市自然资源和规划局";

/// The four records of the first poll: A-0 finished in October, A-1 (5 days from Monday
/// 2 November), B-1 (7 days from Monday 16 November), B-2 (10 days from Monday 9 November,
/// paused for a correction from the 11th to the 13th).
fn records() -> Vec<Value> {
    let mut finished = record("A-0", "2026-10-12T09:00:00+08:00", 10);
    finished["stage"] = json!(1);
    finished["matter"] = json!("建设用地规划许可证核发");
    finished["status"] = json!("finished");
    finished["finished_at"] = json!("2026-10-20T15:00:00+08:00");
    finished["updated_at"] = json!("2026-10-20T15:00:00+08:00");
    let a1 = record("A-1", "2026-11-02T09:30:00+08:00", 5);
    let mut b1 = record("B-1", "2026-11-16T09:00:00+08:00", 7);
    b1["project_code"] = json!(B);
    b1["project_name"] = json!("市第一中学新校区");
    b1["stage"] = json!(3);
    b1["matter"] = json!("建筑工程施工许可证核发");
    b1["department"] = json!("市住房和城乡建设局");
    let mut b2 = record("B-2", "2026-11-09T09:00:00+08:00", 10);
    b2["project_code"] = json!(B);
    b2["project_name"] = json!("市第一中学新校区");
    b2["stage"] = json!(1);
    b2["matter"] = json!("建设项目用地预审与选址意见书核发");
    b2["pauses"] = json!([
        {"kind": "correction", "from": "2026-11-11T10:00:00+08:00", "to": "2026-11-13T10:00:00+08:00"}
    ]);
    b2["updated_at"] = json!("2026-11-13T10:00:00+08:00");
    vec![finished, a1, b1, b2]
}

fn config(dir: &Path, feed_url: &str) -> duban::config::Config {
    let feeds = format!(
        r#"
[[feeds]]
name = "main"
kind = "http_json"
schedule = "* * * * * *"
url = "{feed_url}"
records_path = "items"
retries = 0

[access]
viewer_token_env = "DUBAN_VIEWER_TOKEN"
"#
    );
    with_tokens(dir, config_text(&sqlite_url(dir), &feeds))
}

async fn api(app: &TestApp, path_and_query: &str) -> (u16, Value) {
    let sep = if path_and_query.contains('?') {
        '&'
    } else {
        '?'
    };
    let (status, body) = app
        .get(&format!("{path_and_query}{sep}token={VIEWER_TOKEN}"))
        .await;
    (status.as_u16(), body)
}

/// Each item of a ledger answer as (project, item, version, used, allowed, deadline, grade).
fn lines(page: &Value) -> Vec<(String, String, u64, u64, u64, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    page["projects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|block| {
            block["items"].as_array().unwrap().iter().map(move |i| {
                (
                    s(&block["project"]["code"]),
                    s(&i["item_id"]),
                    i["version"].as_u64().unwrap(),
                    i["used"].as_u64().unwrap(),
                    i["allowed"].as_u64().unwrap(),
                    s(&i["deadline"]),
                    s(&i["grade"]),
                )
            })
        })
        .collect()
}

fn line(
    project: &str,
    item: &str,
    (version, used, allowed): (u64, u64, u64),
    deadline: &str,
    grade: &str,
) -> (String, String, u64, u64, u64, String, String) {
    (
        project.into(),
        item.into(),
        version,
        used,
        allowed,
        deadline.into(),
        grade.into(),
    )
}

/// A-1's grade events, as the ledger lists them: blue when accepted, yellow from 5 November
/// (3 of 5 days used), red from the 10th, each at its midnight.
fn a1_events() -> Value {
    json!([
        {"item_id": "A-1", "at": "2026-11-02T01:30:00Z", "from": null, "to": "blue", "cause": "feed:main"},
        {"item_id": "A-1", "at": "2026-11-04T16:00:00Z", "from": "blue", "to": "yellow", "cause": "clock"},
        {"item_id": "A-1", "at": "2026-11-09T16:00:00Z", "from": "yellow", "to": "red", "cause": "clock"},
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ledger_by_api_workbook_and_page() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(records());
    let app = spawn_app(config(dir.path(), &url), fixed_clock().1).await;
    eventually(20, "the four items stored", || async {
        let mut found = 0;
        for id in ["A-0", "A-1", "B-1", "B-2"] {
            found += u8::from(api(&app, &format!("/api/items/{id}")).await.0 == 200);
        }
        found == 4
    })
    .await;
    // Five more days granted on 20 November, seen on the 25th like the rest.
    let mut extended = records();
    extended[1]["extension_days"] = json!(5);
    extended[1]["updated_at"] = json!("2026-11-20T10:00:00+08:00");
    feed.set(extended);
    eventually(20, "A-1's second version", || async {
        api(&app, "/api/items/A-1").await.1["versions"]
            .as_array()
            .is_some_and(|v| v.len() == 2)
    })
    .await;

    // November, graded today (25 November, the period not over). Worked out by hand on the
    // 2026 arrangement. A-1: 10 days from 2 Nov (counted from the 3rd) due 16 Nov; used 3–6,
    // 9–13, 16–20, 23–25 = 17: red. B-2 (stage 1 before B-1's 3): 10 days from 9 Nov, the
    // 12th and 13th stopped by the correction (its first day, the 11th, counts): 10, 11,
    // 16–20, 23–25 = 10 of 10, due today: yellow. B-1: 7 days from 16 Nov: 17–20, 23–25 =
    // 7 of 7, due today: yellow. A-0 ended in October: not in November's table.
    let (status, november) = api(&app, "/api/ledger?from=2026-11-01&to=2026-11-30").await;
    assert_eq!(status, 200, "{november}");
    assert_eq!(
        (&november["from"], &november["to"], &november["graded_on"]),
        (
            &json!("2026-11-01"),
            &json!("2026-11-30"),
            &json!("2026-11-25")
        )
    );
    assert_eq!(november["data_time"], "2026-11-25T10:00:00+08:00");
    assert_eq!(november["next_after"], Value::Null);
    assert_eq!(
        lines(&november),
        [
            line(A, "A-1", (2, 17, 10), "2026-11-16", "red"),
            line(B, "B-2", (1, 10, 10), "2026-11-25", "yellow"),
            line(B, "B-1", (1, 7, 7), "2026-11-25", "yellow"),
        ]
    );
    let a = &november["projects"][0];
    assert_eq!(
        a["project"],
        json!({"code": A, "name": "某某产业园一期", "category": "general_social"})
    );
    assert_eq!(a["items"][0]["events"], a1_events());
    assert_eq!(
        november["projects"][1]["items"][0]["pauses"],
        json!([{"kind": "correction", "from": "2026-11-11", "to": "2026-11-13"}])
    );
    // The live figures of today agree with the ledger's for a period ending today.
    for (id, used, allowed) in [("A-1", 17, 10), ("B-1", 7, 7), ("B-2", 10, 10)] {
        let item = api(&app, &format!("/api/items/{id}")).await.1;
        assert_eq!(
            (item["used"].as_u64(), item["allowed"].as_u64()),
            (Some(used), Some(allowed)),
            "{id}"
        );
    }

    // 1–10 November, as the record stood then: 5 days, due 9 November, 6 used by the 10th
    // (3–6, 9, 10), red from the 10th; the extension granted on the 20th changes none of it.
    let (_, early) = api(&app, "/api/ledger?from=2026-11-01&to=2026-11-10").await;
    assert_eq!(early["graded_on"], "2026-11-10");
    assert_eq!(
        lines(&early)[0],
        line(A, "A-1", (1, 6, 5), "2026-11-09", "red")
    );
    // October: A-0 alone (A-1 had no record yet), finished within its limit: 10 days from
    // Monday 12 October, 13–16, 19, 20 used by its finish (6 of 10: yellow), due the 26th.
    let (_, october) = api(&app, "/api/ledger?from=2026-10-01&to=2026-10-31").await;
    assert_eq!(
        lines(&october),
        [line(A, "A-0", (1, 6, 10), "2026-10-26", "yellow")],
        "{october}"
    );
    assert_eq!(
        october["projects"][0]["items"][0]["finished_on"],
        "2026-10-20"
    );

    // A department: its items alone; a project by part of its name.
    let (_, department) = api(
        &app,
        &format!("/api/ledger?from=2026-11-01&to=2026-11-30&department={NATURAL_RESOURCES}"),
    )
    .await;
    let ids: Vec<String> = lines(&department).into_iter().map(|l| l.1).collect();
    assert_eq!(ids, ["A-1", "B-2"]);
    let (_, school) = api(
        &app,
        "/api/ledger?from=2026-11-01&to=2026-11-30&project=第一中学",
    )
    .await;
    let ids: Vec<String> = lines(&school).into_iter().map(|l| l.1).collect();
    assert_eq!(ids, ["B-2", "B-1"]);

    // A page of one project at a time, walked by next_after.
    let (_, first) = api(&app, "/api/ledger?from=2026-11-01&to=2026-11-30&limit=1").await;
    assert_eq!(first["next_after"], A);
    let (_, second) = api(
        &app,
        &format!("/api/ledger?from=2026-11-01&to=2026-11-30&limit=1&after={A}"),
    )
    .await;
    assert_eq!(second["projects"][0]["project"]["code"], B);
    assert_eq!(second["next_after"], B);
    let (_, past) = api(
        &app,
        &format!("/api/ledger?from=2026-11-01&to=2026-11-30&limit=1&after={B}"),
    )
    .await;
    assert_eq!(
        (past["projects"].clone(), past["next_after"].clone()),
        (json!([]), Value::Null)
    );

    // Without a period: this month to today.
    let (_, this_month) = api(&app, "/api/ledger").await;
    assert_eq!(
        (&this_month["from"], &this_month["to"]),
        (&json!("2026-11-01"), &json!("2026-11-25"))
    );

    // Refused, in the API's words; no data without the token.
    for (query, says) in [
        ("from=2026-11-10&to=2026-11-01", "after its last day"),
        ("from=2026-13-01&to=2026-12-31", "is not a date"),
        ("from=2026-12-01&to=2026-12-31", "after today (2026-11-25)"),
        ("limit=0", "give 1 to 200 projects a page"),
        ("limit=201", "give 1 to 200 projects a page"),
        ("month=11", "unknown field"),
    ] {
        let (status, body) = api(&app, &format!("/api/ledger?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: {body}"
        );
    }
    let (status, _) = app.get("/api/ledger").await;
    assert_eq!(status.as_u16(), 401);

    // The workbook, written by the real binary from the same store while the daemon runs.
    let xlsx = dir.path().join("台账-2026-11.xlsx");
    let out = export(
        dir.path(),
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("wrote 2 projects, 3 items and 7 grade events (2026-11-01 to 2026-11-30, graded on 2026-11-25)"),
        "{said}"
    );
    read_workbook(&xlsx, &november);

    // A bad date, a path that cannot be written: said, and a failure.
    let bad = export(
        dir.path(),
        &[
            "--from",
            "2026-11-31",
            "--to",
            "2026-11-30",
            "--out",
            xlsx.to_str().unwrap(),
        ],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected a date like 2026-11-01"));
    let nowhere = dir.path().join("no-such-folder/台账.xlsx");
    let unwritable = export(
        dir.path(),
        &[
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--out",
            nowhere.to_str().unwrap(),
        ],
    );
    assert!(!unwritable.status.success());
    let said = String::from_utf8_lossy(&unwritable.stderr);
    assert!(
        said.contains("creating the workbook") && said.contains("no-such-folder"),
        "{said}"
    );

    the_page(&app).await;
    app.stop().await;
}

/// `duban --config DIR/duban.toml ledger export ARGS --now NOW`.
fn export(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_duban"))
        .arg("--config")
        .arg(dir.join("duban.toml"))
        .args(["ledger", "export"])
        .args(args)
        .args(["--now", NOW])
        .env_remove("DUBAN_CONFIG")
        .env_remove("DUBAN_VIEWER_TOKEN")
        .output()
        .expect("the duban binary starts")
}

/// An Excel date serial (days since 1899-12-30) as YYYY-MM-DD.
fn excel_day(cell: &Data) -> String {
    let Data::DateTime(t) = cell else {
        panic!("a date cell, not {cell:?}");
    };
    assert!(t.is_datetime(), "{cell:?}");
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap();
    (epoch + chrono::Days::new(t.as_f64().floor() as u64)).to_string()
}

fn read_workbook(path: &Path, november: &Value) {
    let mut book: Xlsx<_> = open_workbook(path).unwrap();
    assert_eq!(book.sheet_names(), ["台账", "等级变化"]);
    let items = book.worksheet_range("台账").unwrap();
    let text = |r: u32, c: u32| {
        items
            .get_value((r, c))
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    assert_eq!(text(0, 0), "工程建设项目审批电子台账（挂图作战）");
    assert!(
        text(1, 0).starts_with("统计期间：2026-11-01 至 2026-11-30　评定日：2026-11-25")
            && text(1, 0).contains("导出时间：2026-11-25 10:00:00"),
        "{}",
        text(1, 0)
    );
    let header: Vec<String> = (0..17).map(|c| text(3, c)).collect();
    assert_eq!(
        header,
        [
            "项目代码",
            "项目名称",
            "项目类别",
            "阶段",
            "事项",
            "部门",
            "办件编号",
            "受理日期",
            "截止日",
            "已用（工作日）",
            "允许（工作日）",
            "暂停",
            "办结日期",
            "状态",
            "预警等级",
            "期限暂定",
            "本期等级变化（次）"
        ]
    );
    // One row per item, in the API's order, with its project's code and name on each.
    let ids: Vec<String> = (4..7).map(|r| text(r, 6)).collect();
    assert_eq!(ids, ["A-1", "B-2", "B-1"]);
    assert_eq!(text(7, 6), "", "three items, no more");
    let a1: Vec<String> = (0..7).map(|c| text(4, c)).collect();
    assert_eq!(
        a1,
        [
            A,
            "某某产业园一期",
            "一般社会投资",
            "2 工程建设许可",
            "建设工程规划许可证核发",
            NATURAL_RESOURCES,
            "A-1"
        ]
    );
    let cell = |r: u32, c: u32| items.get_value((r, c)).cloned().unwrap();
    assert_eq!(excel_day(&cell(4, 7)), "2026-11-02");
    assert_eq!(excel_day(&cell(4, 8)), "2026-11-16");
    assert_eq!(
        (cell(4, 9), cell(4, 10)),
        (Data::Float(17.0), Data::Float(10.0))
    );
    assert_eq!(
        (text(4, 13), text(4, 14), text(4, 15)),
        ("在办".into(), "红 超期".into(), String::new())
    );
    assert_eq!(cell(4, 16), Data::Float(3.0));
    assert_eq!(text(5, 11), "补正材料 2026-11-11 至 2026-11-13");
    assert_eq!(
        (cell(6, 9), cell(6, 10), excel_day(&cell(6, 8)), text(6, 14)),
        (
            Data::Float(7.0),
            Data::Float(7.0),
            "2026-11-25".into(),
            "黄 正常".into()
        )
    );

    // Every grade event of the period, one a row, the API's.
    let events = book.worksheet_range("等级变化").unwrap();
    let row = |r: u32| -> Vec<String> {
        (0..5)
            .map(|c| {
                events
                    .get_value((r, c))
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(row(0), ["办件编号", "时间", "由", "至", "原因"]);
    let in_api: usize = november["projects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["items"].as_array().unwrap())
        .map(|i| i["events"].as_array().unwrap().len())
        .sum();
    assert_eq!(events.height(), in_api + 1);
    assert_eq!(row(1)[0], "A-1");
    assert_eq!(
        (row(1)[2].as_str(), row(1)[3].as_str(), row(1)[4].as_str()),
        ("—（首次）", "蓝 超前", "数据更新（main）")
    );
    assert_eq!(
        (row(3)[2].as_str(), row(3)[3].as_str(), row(3)[4].as_str()),
        ("黄 正常", "红 超期", "计时推进")
    );
    let Some(Data::DateTime(red_at)) = events.get_value((3, 1)) else {
        panic!("a time in 等级变化's 时间 column");
    };
    // 10 November 00:00 in Shanghai: the serial of the day, no fraction.
    assert_eq!(red_at.as_f64(), 46336.0);
}

/// `/ledger` in a real browser: the rows as the API gives them, on screen at 1366×768 and as
/// printed (controls gone, black on white, the column headers repeated, no row split); the
/// item page's versions.
async fn the_page(app: &TestApp) {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let shots = root().join("target/screens");
    let page = browser.new_page(1366, 768).await;
    // The dashboard's top bar leads here, token and all.
    page.goto(&format!("{}/?token={VIEWER_TOKEN}", app.base))
        .await;
    assert_eq!(
        page.eval("document.getElementById('ledger-link').getAttribute('href')")
            .await,
        format!("/ledger?token={VIEWER_TOKEN}")
    );
    page.goto(&format!(
        "{}/ledger?token={VIEWER_TOKEN}&from=2026-11-01&to=2026-11-30",
        app.base
    ))
    .await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(15),
    )
    .await;
    let blocks = page
        .eval("[...document.querySelectorAll('#ledger tbody.project')].map(b => [b.dataset.project, [...b.querySelector('.project-head th').children].map(c => c.textContent), [...b.querySelectorAll('tr[data-item-id]')].map(r => r.dataset.itemId)])")
        .await;
    assert_eq!(
        blocks,
        json!([
            [A, [A, "某某产业园一期", "一般社会投资", "1 件"], ["A-1"]],
            [
                B,
                [B, "市第一中学新校区", "一般社会投资", "2 件"],
                ["B-2", "B-1"]
            ]
        ])
    );
    let cells = |id: &str| {
        format!(
            "[...document.querySelector('tr[data-item-id=\"{id}\"]').cells].slice(0, 11).map(c => c.innerText.trim())"
        )
    };
    assert_eq!(
        page.eval(&cells("A-1")).await,
        json!([
            "2 工程建设许可",
            "建设工程规划许可证核发",
            NATURAL_RESOURCES,
            "A-1",
            "2026-11-02",
            "2026-11-16",
            "17 / 10",
            "—",
            "—",
            "在办",
            "红 超期"
        ])
    );
    assert_eq!(
        page.eval(&cells("B-2")).await[7],
        "补正材料 2026-11-11 至 2026-11-13"
    );
    assert_eq!(
        page.eval("[...document.querySelectorAll('tr[data-item-id=\"A-1\"] .event')].map(e => [...e.children].map(c => c.textContent).join(' '))")
            .await,
        json!([
            "2026-11-02 09:30 首次 → 蓝 超前 数据更新（main）",
            "2026-11-05 00:00 蓝 超前 → 黄 正常 计时推进",
            "2026-11-10 00:00 黄 正常 → 红 超期 计时推进"
        ])
    );
    assert_eq!(
        page.eval("document.getElementById('period-line').innerText")
            .await,
        "统计期间 2026-11-01 至 2026-11-30 · 评定日 2026-11-25（各办件按期间末的记录、于评定日计算）"
    );
    assert_eq!(
        page.eval("document.getElementById('next').hidden").await,
        true
    );
    assert_eq!(
        page.eval("document.documentElement.scrollWidth <= innerWidth && [...document.querySelectorAll('.table-wrap')].every(w => w.scrollWidth <= w.clientWidth)").await,
        true,
        "the table fits the window: no scrolling sideways"
    );
    let png = page.screenshot(&shots.join("ledger.png")).await;
    assert!(browser.picture(&png).await.width == 1366);

    // As printed.
    page.command("Emulation.setEmulatedMedia", json!({"media": "print"}))
        .await;
    let printed = page
        .eval("(() => { const s = q => getComputedStyle(document.querySelector(q)); return [s('.topbar').display, s('.controls').display, s('.pager').display, s('#ledger thead').display, s('#ledger tr[data-item-id]').breakInside, s('body').backgroundColor, s('#ledger td').color]; })()")
        .await;
    assert_eq!(
        printed,
        json!([
            "none",
            "none",
            "none",
            "table-header-group",
            "avoid",
            "rgb(255, 255, 255)",
            "rgb(0, 0, 0)"
        ])
    );
    let png = page.screenshot(&shots.join("ledger-print.png")).await;
    assert!(browser.picture(&png).await.height == 768);
    page.command("Emulation.setEmulatedMedia", json!({"media": ""}))
        .await;

    // A page of one project leads to the next.
    page.goto(&format!(
        "{}/ledger?token={VIEWER_TOKEN}&from=2026-11-01&to=2026-11-30&department={NATURAL_RESOURCES}",
        app.base
    ))
    .await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(15),
    )
    .await;
    assert_eq!(
        page.eval("[...document.querySelectorAll('tr[data-item-id]')].map(r => r.dataset.itemId)")
            .await,
        json!(["A-1", "B-2"])
    );
    assert_eq!(
        page.eval("document.querySelector('#filters [name=department]').value")
            .await,
        NATURAL_RESOURCES
    );

    // The item page: its versions, newest first, with what changed; its grade history kept.
    page.goto(&format!("{}/item/A-1?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(15),
    )
    .await;
    let versions = page
        .eval("[...document.querySelectorAll('#versions tbody tr')].map(r => [...r.cells].map(c => c.innerText.replace(/\\s+/g, ' ').trim()))")
        .await;
    assert_eq!(
        versions,
        json!([
            [
                "版本 2",
                "2026-11-20 10:00",
                "2026-11-25 10:00",
                "main",
                "延长（工作日） 0 → 5"
            ],
            [
                "版本 1",
                "2026-11-02 09:30",
                "2026-11-25 10:00",
                "main",
                "首次收到该办件的记录"
            ]
        ])
    );
    assert_eq!(
        page.eval("document.querySelectorAll('#history tbody tr').length")
            .await,
        3
    );
    page.eval("document.querySelector('.versions-card').scrollIntoView({block: 'end'})")
        .await;
    page.screenshot(&shots.join("item-versions.png")).await;
}
