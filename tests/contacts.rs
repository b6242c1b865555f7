//! Contacts end to end: `duban contacts import` as an operator runs it, on a real store;
//! `/api/contacts` through a real daemon, masked for a viewer, whole for the office, and
//! refused to a viewer who tries to import; the store's round trip on PostgreSQL.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use duban::config::Config;
use duban::config::toml_file::TomlFile;
use duban::store::Store;
use duban::warnings::contacts::{Contact, ContactRow, Role};
use serde_json::{Value, json};

const OFFICE_TOKEN: &str = "office-secret-1";

const GOOD: &str = "\
role,department,project_code,name,mobile,email
handler,市自然资源和规划局,,张三,138 1234 5678,zhangsan@zrzyj.example.cn
head,市自然资源和规划局,,李四,+86 139-1234-5678,lisi@zrzyj.example.cn
handler,市气象局,,王五,13712345678,
office,,,督办办公室值班,13612345678,duban@example.cn
steward,,2611-370102-04-01-123456,赵六,,zhaoliu@example.cn
";

/// `duban --config CONFIG contacts import FILE`, from the repository root.
fn import(config: &Path, file: &Path) -> Output {
    import_with(config, file, &[])
}

/// The same with `env` set (and `DUBAN_CONTACTS_DB` unset unless `env` sets it).
fn import_with(config: &Path, file: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duban"))
        .arg("--config")
        .arg(config)
        .args(["contacts", "import"])
        .arg(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DUBAN_CONFIG")
        .env_remove("DUBAN_CONTACTS_DB")
        .envs(env.iter().copied())
        .output()
        .expect("the duban binary starts")
}

/// A config file in `dir` with its own SQLite store; its path and the store's URL.
fn cli_config(dir: &Path) -> (std::path::PathBuf, String) {
    let url = sqlite_url(dir);
    let path = dir.join("duban.toml");
    std::fs::write(&path, config_text(&url, "")).unwrap();
    (path, url)
}

async fn stored(url: &str) -> Vec<Contact> {
    let store = Store::open(url).await.unwrap();
    let contacts = store.contacts().await.unwrap();
    store.close().await;
    contacts
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_good_utf8_file_is_imported_and_counted_by_role() {
    let dir = temp_dir();
    let (config, url) = cli_config(dir.path());
    let file = dir.path().join("contacts.csv");
    std::fs::write(&file, GOOD).unwrap();
    let out = import(&config, &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "imported 5 contacts: 2 handler (经办人), 1 head (负责人), 1 office (督办办公室), 1 steward (项目管家) (UTF-8)"
        ),
        "{stdout}"
    );
    let contacts = stored(&url).await;
    assert_eq!(contacts.len(), 5);
    assert_eq!(contacts[0].name, "张三");
    assert_eq!(contacts[1].mobile, "13912345678", "normalised");
    assert_eq!(contacts[4].role, Role::Steward);
    assert_eq!(contacts[4].project_code, "2611-370102-04-01-123456");
    // No number, whole or masked, in what the command logs.
    let logged = text(&out.stderr);
    for number in ["13812345678", "138****5678", "13912345678"] {
        assert!(!logged.contains(number), "{number} logged: {logged}");
    }
}

#[tokio::test]
async fn a_gbk_file_with_chinese_headers_is_imported() {
    let dir = temp_dir();
    let (config, url) = cli_config(dir.path());
    let csv = "序号,角色,单位,项目代码,姓名,手机号码,电子邮箱,备注\r\n\
               1,经办人,市住房和城乡建设局,,孙八,13512345678,,\r\n\
               2,负责人,市住房和城乡建设局,,周九,13412345678,zhoujiu@zjj.example.cn,分管\r\n\
               3,服务专员,,2611-370102-04-01-654321,吴十,8613312345678,,\r\n";
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(csv);
    assert!(!unmappable && std::str::from_utf8(&bytes).is_err());
    let file = dir.path().join("联系人.csv");
    std::fs::write(&file, &bytes).unwrap();
    let out = import(&config, &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("3 contacts"), "{stdout}");
    assert!(stdout.contains("(GBK)"), "{stdout}");
    assert!(
        stdout.contains("columns passed over: 序号, 备注"),
        "{stdout}"
    );
    let contacts = stored(&url).await;
    let shown: Vec<(Role, &str, &str, &str)> = contacts
        .iter()
        .map(|c| {
            (
                c.role,
                c.department.as_str(),
                c.name.as_str(),
                c.mobile.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (Role::Handler, "市住房和城乡建设局", "孙八", "13512345678"),
            (Role::Head, "市住房和城乡建设局", "周九", "13412345678"),
            (Role::Steward, "", "吴十", "13312345678"),
        ]
    );
}

#[tokio::test]
async fn bad_rows_are_each_reported_with_their_line_and_nothing_changes() {
    let dir = temp_dir();
    let (config, url) = cli_config(dir.path());
    let good = dir.path().join("good.csv");
    std::fs::write(&good, GOOD).unwrap();
    assert!(import(&config, &good).status.success());
    let before = stored(&url).await;

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "角色,部门,项目代码,姓名,手机,邮箱\n\
         经办人,市水利局,,钱七,13812340000,\n\
         经办人,市水利局,,郑一,1381234,\n\
         负责人,市水利局,,冯二,13912340000,\n\
         管理员,市水利局,,陈三,13712340000,\n\
         负责人,,,褚四,13612340000,\n",
    )
    .unwrap();
    let out = import(&config, &bad);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let shown = bad.display();
    for expected in [
        format!("{shown}:3: mobile 138****1234 has 7 digits"),
        format!("{shown}:5: unknown role \"管理员\""),
        format!("{shown}:6: a 负责人 needs the department"),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in:\n{stderr}");
    }
    let reported = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{shown}:")))
        .count();
    assert_eq!(reported, 3, "{stderr}");
    assert!(stderr.contains("3 bad rows"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");
    assert_eq!(
        stored(&url).await,
        before,
        "the earlier contacts are untouched"
    );
}

#[tokio::test]
async fn a_missing_file_or_header_fails_with_what_to_do() {
    let dir = temp_dir();
    let (config, _) = cli_config(dir.path());
    let out = import(&config, &dir.path().join("nowhere.csv"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("reading the contacts file"),
        "{}",
        text(&out.stderr)
    );
    let file = dir.path().join("headless.csv");
    std::fs::write(&file, "部门,姓名\n市水利局,张三\n").unwrap();
    let out = import(&config, &file);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("line 1 (the header row): no column 角色 (role)"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_store_url_may_come_from_the_environment_and_must_be_set() {
    let dir = temp_dir();
    let url = sqlite_url(dir.path());
    let toml = config_text(&url, "").replacen(
        &format!("database_url = {url:?}"),
        "database_url_env = \"DUBAN_CONTACTS_DB\"",
        1,
    );
    assert!(toml.contains("DUBAN_CONTACTS_DB"));
    let config = dir.path().join("duban.toml");
    std::fs::write(&config, toml).unwrap();
    let file = dir.path().join("contacts.csv");
    std::fs::write(&file, GOOD).unwrap();
    let out = import(&config, &file);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("database_url_env names an environment variable that is not set"),
        "{stderr}"
    );
    let out = import_with(&config, &file, &[("DUBAN_CONTACTS_DB", &url)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(stored(&url).await.len(), 5);
}

/// A daemon on its own SQLite store, with viewer and office tokens, and `feeds`.
async fn daemon(dir: &Path, feeds: &str) -> TestApp {
    let access = format!(
        "{feeds}\n[access]\nviewer_token_env = \"DUBAN_VIEWER_TOKEN\"\n\
         office_token_env = \"DUBAN_OFFICE_TOKEN\"\n"
    );
    let text = config_text(&sqlite_url(dir), &access);
    let path = dir.join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    let file = TomlFile::from_text(&path, text).with_env_fallback([
        ("DUBAN_VIEWER_TOKEN".to_owned(), VIEWER_TOKEN.to_owned()),
        ("DUBAN_OFFICE_TOKEN".to_owned(), OFFICE_TOKEN.to_owned()),
    ]);
    spawn_app(Config::from_file(&file).unwrap(), fixed_clock().1).await
}

async fn get_contacts(app: &TestApp, token: &str) -> (u16, Value) {
    let response = app
        .client
        .get(format!("{}/api/contacts", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn post_contacts(app: &TestApp, token: Option<&str>, body: &[u8]) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/api/contacts", app.base))
        .header("content-type", "text/csv")
        .body(body.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_masks_contacts_for_viewers_and_imports_for_the_office_only() {
    let dir = temp_dir();
    let app = daemon(dir.path(), "").await;

    let (status, body) = post_contacts(&app, Some(OFFICE_TOKEN), GOOD.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 5);
    assert_eq!(
        body["by_role"],
        json!({"handler": 2, "head": 1, "office": 1, "steward": 1})
    );

    let (status, viewer) = get_contacts(&app, VIEWER_TOKEN).await;
    assert_eq!(status, 200, "{viewer}");
    assert_eq!(viewer["masked"], true);
    assert_eq!(
        viewer["contacts"][0],
        json!({
            "role": "handler",
            "department": "市自然资源和规划局",
            "project_code": "",
            "name": "张三",
            "mobile": "138****5678",
            "email": "z***@zrzyj.example.cn",
        })
    );
    let listed = viewer.to_string();
    for whole in [
        "13812345678",
        "13912345678",
        "zhangsan@",
        "duban@example.cn",
    ] {
        assert!(
            !listed.contains(whole),
            "{whole} shown to a viewer: {listed}"
        );
    }

    let (status, office) = get_contacts(&app, OFFICE_TOKEN).await;
    assert_eq!(status, 200, "{office}");
    assert_eq!(office["masked"], false);
    assert_eq!(office["contacts"][0]["mobile"], "13812345678");
    assert_eq!(office["contacts"][1]["email"], "lisi@zrzyj.example.cn");
    assert_eq!(office["contacts"].as_array().unwrap().len(), 5);

    // A viewer may not import; without a token nothing is opened at all.
    let (status, body) = post_contacts(&app, Some(VIEWER_TOKEN), GOOD.as_bytes()).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("office token"),
        "{body}"
    );
    let (status, _) = post_contacts(&app, None, GOOD.as_bytes()).await;
    assert_eq!(status, 401);
    let (status, _) = get_contacts(&app, "wrong").await;
    assert_eq!(status, 401);

    // Bad rows: every one with its line, and the stored contacts stay as they were.
    let bad = "角色,部门,姓名,手机\n经办人,市水利局,钱七,13812340000\n经办人,,郑一,13812340001\n领导,,冯二,12345\n";
    let (status, body) = post_contacts(&app, Some(OFFICE_TOKEN), bad.as_bytes()).await;
    assert_eq!(status, 422, "{body}");
    let lines: Vec<u64> = body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4], "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nothing was imported")
    );
    let (_, after) = get_contacts(&app, OFFICE_TOKEN).await;
    assert_eq!(after, office, "unchanged by the refused import");

    // A header that names no role is one reason, at line 1.
    let (status, body) = post_contacts(
        &app,
        Some(OFFICE_TOKEN),
        "姓名,手机\n张三,13812345678\n".as_bytes(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["rows"][0]["line"], 1, "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_notes_departments_no_item_names() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(vec![record("D-1", "2026-11-20T09:30:00+08:00", 5)]);
    let feeds = format!(
        "[[feeds]]\nname = \"main\"\nkind = \"http_json\"\nschedule = \"* * * * * *\"\n\
         url = \"{url}\"\nrecords_path = \"items\"\n"
    );
    let app = daemon(dir.path(), &feeds).await;
    eventually(15, "the item stored", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}")).await.1["total"] == 1
    })
    .await;
    let (status, body) = post_contacts(&app, Some(OFFICE_TOKEN), GOOD.as_bytes()).await;
    assert_eq!(status, 200, "{body}");
    // The item's department is 市自然资源和规划局; the file's 市气象局 is no item's yet.
    assert_eq!(body["unknown_departments"], json!(["市气象局"]), "{body}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_office_tokens_no_one_imports_over_http() {
    let dir = temp_dir();
    let app = spawn_app(
        with_tokens(
            dir.path(),
            live_config_text(dir.path(), "http://127.0.0.1:9/items", ""),
        ),
        fixed_clock().1,
    )
    .await;
    let (status, body) = post_contacts(&app, Some(VIEWER_TOKEN), GOOD.as_bytes()).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("none is configured"),
        "{body}"
    );
    let (status, body) = get_contacts(&app, VIEWER_TOKEN).await;
    assert_eq!((status, &body["contacts"]), (200, &json!([])), "{body}");
    app.stop().await;
}

/// The store's round trip, by the CLI's own import function, on a fresh PostgreSQL database.
#[tokio::test(flavor = "multi_thread")]
async fn contacts_round_trip_on_postgres() {
    let Some(base) = service_url("DUBAN_TEST_PG_URL") else {
        return;
    };
    let (name, url) = fresh_pg_database(&base).await;
    let dir = temp_dir();
    let store = Store::open(&url).await.unwrap();

    let good = dir.path().join("good.csv");
    std::fs::write(&good, GOOD).unwrap();
    let summary = duban::commands::contacts::import_file(&store, &good)
        .await
        .unwrap();
    assert_eq!(summary.imported, 5);
    let first = store.contacts().await.unwrap();
    assert_eq!(first.len(), 5);
    assert_eq!(first[1].mobile, "13912345678");
    let handlers = store
        .contacts_of("市自然资源和规划局", Role::Handler)
        .await
        .unwrap();
    assert_eq!(handlers.len(), 1);
    assert_eq!(handlers[0].name, "张三");
    assert_eq!(
        store.stewards_of("2611-370102-04-01-123456").await.unwrap()[0].name,
        "赵六"
    );

    // A file with a bad row changes nothing.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "角色,姓名,手机\n督办,,13812345678\n").unwrap();
    let error = duban::commands::contacts::import_file(&store, &bad)
        .await
        .unwrap_err();
    assert_eq!(error.bad_rows().len(), 1);
    assert_eq!(error.bad_rows()[0].line, 2);
    assert_eq!(store.contacts().await.unwrap(), first);

    // A write that fails part-way (PostgreSQL takes no NUL in text) leaves the old list
    // whole: the delete and the inserts are one transaction.
    let mut broken = first[0].clone();
    broken.name = "坏\0名".into();
    let rows = [
        ContactRow {
            line: 2,
            contact: first[1].clone(),
        },
        ContactRow {
            line: 3,
            contact: broken,
        },
    ];
    assert!(store.replace_contact_rows(&rows).await.is_err());
    assert_eq!(store.contacts().await.unwrap(), first);

    store.replace_contacts(&first[..2]).await.unwrap();
    assert_eq!(store.contacts().await.unwrap(), &first[..2]);
    store.close().await;
    drop_pg_database(&base, &name).await;
}
