//! The suite's key paths with the clock in other years (2027, 2030), on holiday files
//! written for the test: records mapped, graded on that year's calendar (a holiday and a
//! make-up Saturday in the window), quarantined, counted on the summary and the screens'
//! snapshot, re-graded at the right midnight, polled incrementally, and kept across a
//! restart. Every date is relative to a Monday of that year; nothing reads the machine's
//! clock, so the suite means the same in any year it runs (CI also runs the test binaries
//! under libfaketime, see `.ci/run`).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use chrono::{NaiveDate, NaiveTime};
use common::*;
use serde_json::json;

/// An instant `days` after `monday`, at `time` in Shanghai, as RFC 3339.
fn local(monday: NaiveDate, days: i64, time: &str) -> String {
    let date = monday
        .checked_add_signed(chrono::Duration::days(days))
        .unwrap();
    let time = NaiveTime::parse_from_str(time, "%H:%M").unwrap();
    format!("{}T{}:00+08:00", date, time.format("%H:%M"))
}

fn date(monday: NaiveDate, days: i64) -> String {
    (monday + chrono::Duration::days(days)).to_string()
}

/// The year's arrangement for the test: a one-day holiday on the Wednesday after `monday`
/// and the Saturday after it made a working day, so a count that ignored the file (or read
/// another year's) is off by one either way.
fn holiday_file(monday: NaiveDate) -> String {
    format!(
        "year = {year}\nsource = \"test\"\n\n[[holidays]]\nname = \"测试假日\"\nfrom = {wednesday}\nto = {wednesday}\nworkdays = [{saturday}]\n",
        year = monday.format("%Y"),
        wednesday = date(monday, 2),
        saturday = date(monday, 5),
    )
}

async fn key_paths_in_the_week_of(monday: &str) {
    let monday = NaiveDate::parse_from_str(monday, "%Y-%m-%d").unwrap();
    let dir = temp_dir();
    let holidays = folder(dir.path(), "holidays");
    std::fs::write(
        holidays.join(format!("{}.toml", monday.format("%Y"))),
        holiday_file(monday),
    )
    .unwrap();
    let (feed, url) = FeedServer::start().await;
    let accepted = local(monday, 0, "09:30");
    // Counted days from Monday: Tue 1, (Wed holiday), Thu 2, Fri 3, Sat 4 (made a working
    // day), Mon 5, Tue 6, … Fri 9, Mon 10.
    let soon = record("Y-5", &accepted, 5);
    let later = record("Y-10", &accepted, 10);
    // Two weeks before, 3 days: due on the Thursday of that week, red since.
    let late = record("Y-OLD", &local(monday, -14, "09:30"), 3);
    let mut broken = record("Y-BAD", &accepted, 5);
    broken["stage"] = json!(9);
    feed.set(vec![soon, later, late, broken]);
    let feeds = format!(
        "[[feeds]]\nname = \"y\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\nurl = \"{url}\"\n\
         records_path = \"items\"\nsince_param = \"since\"\nretries = 0\n"
    );
    let text = config_text_with(&holidays, &sqlite_url(dir.path()), &feeds);
    // Friday of that week, 10:00.
    let (clock, at_friday) = clock_at(&local(monday, 4, "10:00"));
    let app = spawn_app(load_config(dir.path(), &text), at_friday).await;
    eventually(10, "three items stored", || async {
        app.items("").await["total"] == 3
    })
    .await;
    eventually(10, "the broken record quarantined", || async {
        app.quarantine().await["total"] == 1
    })
    .await;
    let quarantined = app.quarantine().await["records"][0].clone();
    assert_eq!(
        (
            quarantined["item_id"].as_str(),
            quarantined["field"].as_str()
        ),
        (Some("Y-BAD"), Some("stage")),
        "{quarantined}"
    );

    let figures = |item: &serde_json::Value| {
        (
            item["grade"].as_str().unwrap_or_default().to_owned(),
            item["used"].as_i64(),
            item["deadline_date"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let expect =
        |grade: &str, used: i64, deadline: String| (grade.to_owned(), Some(used), deadline);
    assert_eq!(
        figures(&app.item("Y-5").await),
        expect("yellow", 3, date(monday, 7)),
        "3 of 5 used by Friday; due the Monday after the make-up Saturday"
    );
    assert_eq!(
        figures(&app.item("Y-10").await),
        expect("blue", 3, date(monday, 14)),
        "3 of 10 used; the 10th counted day is the Monday two weeks on"
    );
    // Y-OLD: due on the Thursday two weeks before (its 3rd counted day); by Friday it has
    // used 4 + 5 + 4 working days (the holiday not among them).
    let old = app.item("Y-OLD").await;
    assert_eq!(
        (figures(&old), old["overdue"].as_bool()),
        (expect("red", 13, date(monday, -11)), Some(true)),
        "{old}"
    );
    assert_eq!(
        app.item("Y-5").await["next_change"],
        json!(local(monday, 8, "00:00")),
        "red once the deadline day has passed"
    );
    let summary = app.get("/api/summary").await.1;
    assert_eq!(
        summary["totals"],
        json!({"blue": 1, "yellow": 1, "red": 1}),
        "{summary}"
    );

    // The next poll asks only for what changed since the newest usable record.
    eventually(10, "a run with since", || async {
        !feed.state.lock().unwrap().sinces.is_empty()
    })
    .await;
    assert_eq!(feed.state.lock().unwrap().sinces[0], accepted);

    // Tuesday midnight: Y-5's deadline (Monday) has passed, Y-10 has used 6 of 10.
    clock.set(at(&local(monday, 8, "00:00")));
    eventually(10, "re-graded at midnight", || async {
        app.item("Y-5").await["grade"] == "red" && app.item("Y-10").await["grade"] == "yellow"
    })
    .await;
    // The history as it happened (the ledger dates each event when it took effect): blue
    // from the record, yellow and red by the clock; the last is Tuesday midnight's.
    let history = app.item("Y-5").await["history"].clone();
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(history[0]["grade"], "blue", "{history}");
    assert_eq!(
        (&last["cause"], &last["previous"], &last["at"]),
        (
            &json!("clock"),
            &json!("yellow"),
            &json!(format!("{}T16:00:00Z", date(monday, 7)))
        ),
        "{history}"
    );
    app.stop().await;

    // A restart with the feed down keeps the items, their grades and the quarantine.
    feed.fail(true);
    let app = spawn_app(
        load_config(dir.path(), &text),
        clock_at(&local(monday, 8, "09:00")).1,
    )
    .await;
    assert_eq!(app.items("").await["total"], 3);
    assert_eq!(app.items("grade=red").await["total"], 2);
    assert_eq!(app.quarantine().await["total"], 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn key_paths_in_2027() {
    key_paths_in_the_week_of("2027-03-08").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn key_paths_in_2030() {
    key_paths_in_the_week_of("2030-06-10").await;
}
