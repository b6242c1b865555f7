//! Answers (回告) through the signed links, and the office's silences, against a real
//! daemon on loopback: the link opens its department's page without a token while
//! `[access]` is enforced, a changed or expired link opens nothing and records nothing, an
//! answer is stored and shown on the page and in the item's API, and a silence needs more
//! than a viewer token.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use axum::http::StatusCode;
use common::*;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::warnings::links::{LinkKey, sign};
use serde_json::{Value, json};

const OFFICE_TOKEN: &str = "office-token-for-the-tests";
const LINK_KEY: &str = "test-link-key-0123456789abcdef0123456789";
const DEPT: &str = "市自然资源和规划局";
const OTHER: &str = "市住房和城乡建设局";

/// The suite's `NOW` in unix seconds.
fn now_unix() -> i64 {
    at(NOW).timestamp()
}

/// The records: two late items of `DEPT` (red, yellow), one blue, and a red one of `OTHER`.
fn records() -> Vec<Value> {
    let mut other = record("B-RED", "2026-11-02T09:30:00+08:00", 5);
    other["department"] = json!(OTHER);
    vec![
        record("A-RED", "2026-11-02T09:30:00+08:00", 5),
        record("A-YEL", "2026-11-02T09:30:00+08:00", 25),
        record("A-BLUE", "2026-11-24T09:30:00+08:00", 20),
        other,
    ]
}

/// The config with one feed, `[access]` (enforced when `access`) and a link key from
/// `DUBAN_LINK_KEY` (through the file's environment fallback, as the tokens are).
fn config(dir: &std::path::Path, feed_url: &str, access: bool) -> Config {
    let config = config_with_key(dir, feed_url, access, LINK_KEY).unwrap();
    assert_eq!(config.access.enforced, access);
    config
}

fn config_with_key(
    dir: &std::path::Path,
    feed_url: &str,
    access: bool,
    key: &str,
) -> Result<Config, duban::config::ConfigError> {
    let feed = format!(
        "[[feeds]]\nname = \"main\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\n\
         url = \"{feed_url}\"\nrecords_path = \"items\"\n"
    );
    let mut text = config_text(&sqlite_url(dir), &feed);
    if access {
        text.push_str(
            "\n[access]\nviewer_token_env = \"DUBAN_VIEWER_TOKEN\"\n\
             office_token_env = \"DUBAN_OFFICE_TOKEN\"\n",
        );
    }
    text.push_str(
        "\n[warnings]\nenabled = false\nlink_base = \"https://duban.example.gov.cn\"\n\
         link_key_env = \"DUBAN_LINK_KEY\"\n",
    );
    let path = dir.join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    let file = TomlFile::from_text(&path, text).with_env_fallback([
        ("DUBAN_SCREEN_TOKEN".to_owned(), SCREEN_TOKEN.to_owned()),
        ("DUBAN_VIEWER_TOKEN".to_owned(), VIEWER_TOKEN.to_owned()),
        ("DUBAN_LINK_KEY".to_owned(), key.to_owned()),
        ("DUBAN_OFFICE_TOKEN".to_owned(), OFFICE_TOKEN.to_owned()),
    ]);
    Config::from_file(&file)
}

#[test]
fn a_short_link_key_stops_start_up() {
    let dir = temp_dir();
    let e = config_with_key(dir.path(), "http://127.0.0.1:1/items", true, "too-short").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("warnings.link_key_env"), "{e:?}");
    assert!(
        e.message.contains("9 bytes") && e.message.contains("at least 32"),
        "{}",
        e.message
    );
}

async fn started(dir: &std::path::Path, access: bool) -> (TestApp, FeedServer) {
    let (feed, url) = FeedServer::start().await;
    feed.set(records());
    let app = spawn_app(config(dir, &url, access), fixed_clock().1).await;
    eventually(10, "the four items on the board", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}")).await.1["total"] == 4
    })
    .await;
    (app, feed)
}

/// The query of a link for `department` good until `expires`, as a message carries it.
fn link_query(department: &str, expires: i64, signature: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("d", department)
        .append_pair("e", &expires.to_string())
        .append_pair("s", signature)
        .finish()
}

fn signed(department: &str, expires: i64) -> String {
    let key = LinkKey::new(LINK_KEY.as_bytes()).unwrap();
    sign(&key, department, expires)
}

async fn get_text(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.text().await.unwrap())
}

/// Posts the answer form, following the redirect: (status, final URL, body).
async fn post_form(app: &TestApp, pairs: &[(&str, &str)]) -> (StatusCode, String, String) {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        body.append_pair(k, v);
    }
    let response = app
        .client
        .post(format!("{}/m/answer", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish())
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let url = response.url().to_string();
    (status, url, response.text().await.unwrap())
}

async fn answers_of(app: &TestApp, id: &str) -> Vec<Value> {
    let item = app
        .get(&format!("/api/items/{id}?token={VIEWER_TOKEN}"))
        .await
        .1;
    item["answers"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("no answers in {item}"))
}

/// The rows of the red list in a `/live/snapshot` (a panel may travel as JSON text).
fn red_rows(snapshot: &Value) -> Vec<Value> {
    let panel = &snapshot["panels"]["red_list"];
    let panel = match panel {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    };
    panel["rows"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_signed_link_opens_its_department_without_a_token() {
    let dir = temp_dir();
    let (app, _feed) = started(dir.path(), true).await;
    let expires = now_unix() + 7 * 86_400;
    let good = link_query(DEPT, expires, &signed(DEPT, expires));

    // Without a token the phone page is shut, and the answer page open with the link.
    let (status, _) = get_text(&app, "/m/dept/x").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, page) = get_text(&app, &format!("/m/answer?{good}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(DEPT), "{page}");
    assert!(page.contains("A-RED") && page.contains("A-YEL"), "{page}");
    assert!(
        !page.contains("A-BLUE") && !page.contains("B-RED"),
        "blue items and other departments' are not listed: {page}"
    );
    assert!(
        page.find("A-RED").unwrap() < page.find("A-YEL").unwrap(),
        "red first"
    );
    assert!(page.contains("超期") && page.contains("name=\"reason\""));
    assert!(!page.contains("已回告"), "nothing answered yet");

    // One character of the signature changed: refused in words.
    let s = signed(DEPT, expires);
    let mut chars: Vec<char> = s.chars().collect();
    chars[0] = if chars[0] == 'x' { 'y' } else { 'x' };
    let changed: String = chars.into_iter().collect();
    let (status, page) = get_text(
        &app,
        &format!("/m/answer?{}", link_query(DEPT, expires, &changed)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("无效") && !page.contains("A-RED"), "{page}");
    // The department changed, the signature kept: refused too.
    let (status, page) = get_text(
        &app,
        &format!("/m/answer?{}", link_query(OTHER, expires, &s)),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("B-RED"), "{page}");
    // No link at all.
    assert_eq!(get_text(&app, "/m/answer").await.0, StatusCode::FORBIDDEN);

    // Signed, but expired an hour ago.
    let past = now_unix() - 3600;
    let (status, page) = get_text(
        &app,
        &format!("/m/answer?{}", link_query(DEPT, past, &signed(DEPT, past))),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("过期") && !page.contains("A-RED"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn an_answer_is_recorded_and_shown() {
    let dir = temp_dir();
    let (app, _feed) = started(dir.path(), true).await;
    let expires = now_unix() + 7 * 86_400;
    let e = expires.to_string();
    let s = signed(DEPT, expires);
    let form = |item: &'static str, until: &'static str, s: String| {
        vec![
            ("d", DEPT.to_owned()),
            ("e", e.clone()),
            ("s", s),
            ("item_id", item.to_owned()),
            ("reason", "申请人补正材料未齐，已电话催办".to_owned()),
            ("until", until.to_owned()),
            ("name", "张三".to_owned()),
        ]
    };
    let post = |pairs: Vec<(&'static str, String)>| {
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(app, &pairs).await
        }
    };

    // A changed signature records nothing.
    let mut bad = s.clone();
    bad.replace_range(0..1, if s.starts_with('x') { "y" } else { "x" });
    let (status, _, page) = post(form("A-RED", "2026-12-04", bad)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("无效"), "{page}");
    // Another department's item, a date gone by, no reason: nothing either.
    let (status, _, page) = post(form("B-RED", "2026-12-04", s.clone())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("不是本部门的在办件"), "{page}");
    let (status, _, page) = post(form("A-RED", "2026-11-24", s.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("不能早于今日"), "{page}");
    let mut empty = form("A-RED", "2026-12-04", s.clone());
    empty[4].1 = "   ".to_owned();
    assert_eq!(post(empty).await.0, StatusCode::BAD_REQUEST);
    // A body over the limit is refused unread.
    let mut long = form("A-RED", "2026-12-04", s.clone());
    long[4].1 = "长".repeat(3000);
    assert_eq!(post(long).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answers_of(&app, "A-RED").await.is_empty());
    assert!(answers_of(&app, "B-RED").await.is_empty());

    // The answer: stored, and the page says so.
    let (status, url, page) = post(form("A-RED", "2026-12-04", s.clone())).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        url.contains("done=A-RED"),
        "back on the page after the post: {url}"
    );
    assert!(page.contains("回告已记录"), "{page}");
    assert!(page.contains("已回告 · 预计 2026-12-04 前办结"), "{page}");
    assert_eq!(
        page.matches("已回告 ·").count(),
        1,
        "A-YEL is not answered: {page}"
    );
    let answers = answers_of(&app, "A-RED").await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    let a = &answers[0];
    assert_eq!(
        (&a["kind"], &a["until"], &a["by_whom"], &a["reason"]),
        (
            &json!("answer"),
            &json!("2026-12-04"),
            &json!("张三"),
            &json!("申请人补正材料未齐，已电话催办")
        )
    );
    assert_eq!(a["at"], "2026-11-25T02:00:00.000Z");
    let item = app
        .get(&format!("/api/items/A-RED?token={VIEWER_TOKEN}"))
        .await
        .1;
    assert_eq!(
        item["warnings"],
        json!([]),
        "warnings are off: no messages named it"
    );

    // The screens' red list marks it 已回告 (and only it).
    eventually(
        10,
        "A-RED marked answered on the screens' red list",
        || async {
            let (_, snapshot) = app
                .get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
                .await;
            let rows = red_rows(&snapshot);
            let answered = |id: &str| {
                rows.iter()
                    .find(|r| r["item_id"] == id)
                    .map(|r| r["answered"].clone())
            };
            answered("A-RED") == Some(json!(true)) && answered("B-RED") == Some(json!(false))
        },
    )
    .await;

    // The page opened again later shows the mark without the notice.
    let (_, page) = get_text(
        &app,
        &format!("/m/answer?{}", link_query(DEPT, expires, &s)),
    )
    .await;
    assert!(
        page.contains("已回告") && !page.contains("回告已记录"),
        "{page}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_silence_needs_office_rights() {
    let dir = temp_dir();
    let (app, _feed) = started(dir.path(), true).await;
    let silence = |token: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = app
                .client
                .post(format!("{}/api/items/A-RED/silence", app.base))
                .json(&json!({"until": "2026-12-10", "reason": "专家评审期间"}));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    assert_eq!(silence(None).await, 401);
    assert_eq!(
        silence(Some(VIEWER_TOKEN)).await,
        403,
        "a viewer only reads"
    );
    assert!(answers_of(&app, "A-RED").await.is_empty());
    assert_eq!(silence(Some(OFFICE_TOKEN)).await, 201, "the office acts");
    assert_eq!(answers_of(&app, "A-RED").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn the_office_silences_an_item_until_a_date() {
    let dir = temp_dir();
    let (app, _feed) = started(dir.path(), false).await;
    let silence = |id: &'static str, body: Value| {
        let app = &app;
        async move {
            let response = app
                .client
                .post(format!("{}/api/items/{id}/silence", app.base))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, row) = silence(
        "A-RED",
        json!({"until": "2026-12-10", "reason": "专家评审期间"}),
    )
    .await;
    assert_eq!(status, 201, "{row}");
    assert_eq!(
        (&row["kind"], &row["until"], &row["by_whom"]),
        (&json!("silence"), &json!("2026-12-10"), &json!("office"))
    );
    for (body, what) in [
        (json!({"until": "2026-13-01", "reason": "x"}), "a bad date"),
        (
            json!({"until": "2026-11-24", "reason": "x"}),
            "a date gone by",
        ),
        (
            json!({"until": "2026-12-10", "reason": " "}),
            "an empty reason",
        ),
        (json!({"reason": "x"}), "no date"),
    ] {
        let (status, answer) = silence("A-RED", body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, answer) = silence("NO-SUCH", json!({"until": "2026-12-10", "reason": "x"})).await;
    assert_eq!(status, 404, "{answer}");
    let answers = answers_of(&app, "A-RED").await;
    assert_eq!(answers.len(), 1, "only the good one: {answers:?}");
    assert_eq!(answers[0]["reason"], "专家评审期间");
    // A silence is not an answer: the department's page marks no item answered.
    let expires = now_unix() + 86_400;
    let (_, page) = get_text(
        &app,
        &format!(
            "/m/answer?{}",
            link_query(DEPT, expires, &signed(DEPT, expires))
        ),
    )
    .await;
    assert!(page.contains("A-RED") && !page.contains("已回告"), "{page}");
    app.stop().await;
}
