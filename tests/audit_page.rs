//! The delivery audit page (`/audit/deliveries`) in a real headless Chromium against the
//! daemon on loopback: warnings decided by the daemon's own rules for red items from a
//! feed, written to its outbox and sent by `log` senders (SMS held by the quiet hours,
//! email sent at once, a chat robot), one message then failed and one receipted through the
//! store's own calls. The page shows every message the API gives, newest first, in words
//! (rule, channel, role, status with the quiet hours' end), addresses masked, a row opens
//! to the text, every attempt and the receipt, the filters go in the address and narrow
//! the table, and an empty audit says so. Screenshots land in `target/screens/`.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::browser::{Browser, Page};
use common::warnings::*;
use common::*;
use duban::store::warnings::{AttemptRecord, Next};
use serde_json::{Value, json};

fn screens_dir() -> PathBuf {
    let dir = root().join("target/screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Red items of two departments: two long overdue (the escalation ladder's both rungs),
/// one just overdue.
fn red_items() -> Vec<Value> {
    let mut records = vec![
        record("AUD-001", "2026-11-02T09:30:00+08:00", 5),
        record("AUD-002", "2026-11-16T09:30:00+08:00", 5),
        record("AUD-003", "2026-11-05T09:30:00+08:00", 3),
    ];
    records[2]["department"] = json!(HOUSING);
    records[2]["project_code"] = json!("2611-370102-04-01-654321");
    records[2]["project_name"] = json!("某某安置房二期");
    records
}

async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!(
            "/api/deliveries?token={VIEWER_TOKEN}&limit=1000{query}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().unwrap().clone()
}

/// JavaScript: the table's rows as the page shows them.
const ROWS: &str = r#"[...document.querySelectorAll('#deliveries tbody.delivery')].map((b) => {
  const cells = [...b.querySelector('tr.summary').children].map((c) => c.innerText.trim());
  return { id: Number(b.dataset.id), cells, open: !b.querySelector('tr.detail').hidden };
})"#;

async fn loaded(page: &Page, url: &str) {
    page.goto(url).await;
    page.wait_for(
        "document.body.dataset.loaded === 'ready'",
        Duration::from_secs(10),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_page_lists_opens_and_filters_the_messages() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    let app = spawn_app(live_config(dir.path(), &url, WARNINGS), fixed_clock().1).await;
    insert_contacts(&app, &[]).await;
    let audit = format!("{}/audit/deliveries?token={VIEWER_TOKEN}", app.base);
    let page = browser.new_page(1366, 768).await;

    // Nothing warned yet: the table says so in words.
    loaded(&page, &audit).await;
    assert_eq!(
        page.eval("document.querySelector('#deliveries td.empty').innerText")
            .await,
        "暂无预警消息"
    );

    // The items arrive, turn red, and the rules warn: SMS and robots held until 10:30,
    // email sent by its log sender.
    feed.set(red_items());
    eventually(20, "warnings written and the emails sent", || async {
        let list = deliveries(&app, "").await;
        let emails: Vec<&Value> = list.iter().filter(|d| d["channel"] == "email").collect();
        list.iter().any(|d| d["rule"] == "escalation-2")
            && list.iter().any(|d| d["rule"] == "overdue")
            && list.iter().any(|d| d["channel"] == "robot")
            && !emails.is_empty()
            && emails.iter().all(|d| d["status"] == "sent")
    })
    .await;
    let list = deliveries(&app, "").await;
    assert!(
        list.iter()
            .filter(|d| d["channel"] == "sms")
            .all(|d| d["status"] == "pending" && d["held"] == true),
        "{list:?}"
    );

    // One SMS fails for good, as the outbox records a provider's refusal; one email gets a
    // receipt, as a provider's delivery report is recorded.
    let store = &app.running.shared.store;
    let failed = list
        .iter()
        .find(|d| d["channel"] == "sms" && d["recipient"] == "张三")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    store
        .record_attempt(&AttemptRecord {
            message_id: failed,
            at: at("2026-11-25T10:00:05+08:00"),
            outcome: "permanent",
            provider_id: None,
            code: "isv.MOBILE_NUMBER_ILLEGAL",
            error: "号码格式错误",
            answer: r#"{"Code":"isv.MOBILE_NUMBER_ILLEGAL","Message":"非法手机号"}"#,
            next: Next::Failed,
        })
        .await
        .unwrap();
    let receipted = list.iter().find(|d| d["channel"] == "email").unwrap();
    assert!(
        store
            .record_receipt(
                "mail",
                &duban::warnings::send::Receipt {
                    provider_id: receipted["provider_id"].as_str().unwrap().to_owned(),
                    out_id: None,
                    delivered: true,
                    code: "DELIVRD".to_owned(),
                    reason: "用户已接收".to_owned(),
                    at: Some(at("2026-11-25T10:00:09+08:00")),
                },
            )
            .await
            .unwrap()
    );
    let list = deliveries(&app, "").await;

    // Every message, newest first, in words.
    loaded(&page, &audit).await;
    let rows = page.eval(ROWS).await;
    let rows = rows.as_array().unwrap();
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = list.iter().map(|d| d["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, expected, "the page's rows are the API's, newest first");
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);
    for (row, d) in rows.iter().zip(&list) {
        let cells: Vec<&str> = row["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let when = format!("{row}");
        // The stored instants are UTC; the page shows the daemon's zone.
        assert_eq!(cells[0], "2026-11-25 10:00", "{when}");
        let rule = match d["rule"].as_str().unwrap() {
            "near" => "临期预警",
            "overdue" => "超期预警",
            "digest" => "超期日报",
            "forecast" => "超期预报",
            "escalation-1" => "督办单",
            "escalation-2" => "督办升级（第2级）",
            other => panic!("an unexpected rule {other}"),
        };
        assert_eq!(cells[1], rule, "{when}");
        let channel = match d["channel"].as_str().unwrap() {
            "sms" => "短信",
            "email" => "邮件",
            _ => "群机器人",
        };
        assert_eq!(cells[3], channel, "{when}");
        // The address as the API masked it, never the number itself.
        assert!(cells[4].contains(d["address"].as_str().unwrap()), "{when}");
        let items = d["items"].as_array().unwrap();
        assert!(
            cells[5].starts_with(&format!("{} 件", items.len())),
            "{when}"
        );
        let status = match (d["status"].as_str().unwrap(), d["held"] == true) {
            ("pending", true) => "静默时段暂缓 至 2026-11-25 10:30",
            ("pending", false) => "待发送",
            ("sent", _) => "已发送",
            ("delivered", _) => "已送达",
            ("failed", _) => "失败",
            (other, _) => panic!("an unexpected status {other}"),
        };
        assert_eq!(cells[6], status, "{when}");
        assert_eq!(
            cells[7],
            d["attempts"].as_array().unwrap().len().to_string(),
            "{when}"
        );
    }
    let text = page.eval("document.body.innerText").await;
    let text = text.as_str().unwrap();
    for shown in ["经办人 张三", "138****1234", "督办办公室 周七", "群机器人"] {
        assert!(text.contains(shown), "{shown} is not on the page");
    }
    assert!(!text.contains("13812341234"), "a full number is shown");
    // The items link to their pages, with the token.
    let href = page
        .eval("document.querySelector('#deliveries a.item-link').getAttribute('href')")
        .await;
    assert!(
        href.as_str().unwrap().starts_with("/item/AUD-00")
            && href
                .as_str()
                .unwrap()
                .ends_with(&format!("?token={VIEWER_TOKEN}")),
        "{href}"
    );

    // The failed message opens to its text, its attempt with the provider's answer, and
    // says it has no receipt; the rest stay closed.
    page.eval(&format!(
        "document.querySelector('tbody.delivery[data-id=\"{failed}\"] tr.summary td.department').click()"
    ))
    .await;
    let detail = page
        .eval(&format!(
            "document.querySelector('tbody.delivery[data-id=\"{failed}\"] tr.detail').innerText"
        ))
        .await;
    let detail = detail.as_str().unwrap();
    let failed_message = list.iter().find(|d| d["id"] == failed).unwrap();
    let first_line = failed_message["text"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap();
    for shown in [
        first_line,
        "发送尝试（1 次）",
        "2026-11-25 10:00:05",
        "失败（不再重试）",
        "isv.MOBILE_NUMBER_ILLEGAL",
        "号码格式错误",
        "非法手机号",
        "尚无回执",
        "138****1234",
    ] {
        assert!(
            detail.contains(shown),
            "{shown:?} not in the detail:\n{detail}"
        );
    }
    let open: Vec<i64> = page
        .eval(ROWS)
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["open"] == true)
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(open, vec![failed]);
    // The receipted email shows its receipt.
    let receipted_id = receipted["id"].as_i64().unwrap();
    page.eval(&format!(
        "document.querySelector('tbody.delivery[data-id=\"{receipted_id}\"] tr.summary td.rule').click()"
    ))
    .await;
    let detail = page
        .eval(&format!(
            "document.querySelector('tbody.delivery[data-id=\"{receipted_id}\"] tr.detail').innerText"
        ))
        .await;
    let detail = detail.as_str().unwrap();
    for shown in [
        "已送达（DELIVRD 用户已接收） 2026-11-25 10:00",
        "已受理",
        "log-",
    ] {
        assert!(
            detail.contains(shown),
            "{shown:?} not in the detail:\n{detail}"
        );
    }
    assert!(!detail.contains("zhang.san@"), "{detail}");
    // Looked at: the table with two messages open, at an office laptop's size.
    page.eval(&format!(
        "document.querySelector('tbody.delivery[data-id=\"{failed}\"]').scrollIntoView()"
    ))
    .await;
    let png = page
        .screenshot(&screens_dir().join("audit-deliveries-1366x768.png"))
        .await;
    let picture = browser.picture(&png).await;
    assert_eq!((picture.width, picture.height), (1366, 768));
    assert!(
        picture.colours >= 64 && picture.edges >= 0.004,
        "the audit looks blank: {picture:?}"
    );
    assert_eq!(
        page.eval("document.documentElement.scrollWidth <= innerWidth")
            .await,
        true,
        "the page scrolls sideways at 1366 px"
    );

    // A filter goes into the address and narrows the table to what the API gives for it.
    page.eval(
        "(() => { const f = document.getElementById('filters'); f.elements.channel.value = 'email'; \
         f.elements.department.value = '市自然资源和规划局'; f.requestSubmit(); })()",
    )
    .await;
    page.wait_for(
        "location.search.includes('channel=email') && document.body.dataset.loaded === 'ready'",
        Duration::from_secs(10),
    )
    .await;
    let search = page.eval("location.search").await;
    assert!(
        search
            .as_str()
            .unwrap()
            .contains(&format!("token={VIEWER_TOKEN}")),
        "{search}"
    );
    let filtered = deliveries(&app, &format!("&channel=email&department={LAND}")).await;
    assert!(!filtered.is_empty() && filtered.len() < list.len());
    let rows = page.eval(ROWS).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        filtered
            .iter()
            .map(|d| d["id"].as_i64().unwrap())
            .collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .all(|r| r["cells"][3] == "邮件" && r["cells"][2] == LAND)
    );
    // The form shows the query it came from.
    assert_eq!(
        page.eval("document.getElementById('filters').elements.channel.value")
            .await,
        "email"
    );
    page.screenshot(&screens_dir().join("audit-deliveries-filtered-1366x768.png"))
        .await;

    // A rule and an item: the escalations of one item.
    loaded(&page, &format!("{audit}&rule=escalation-1&item=AUD-003")).await;
    let rows = page.eval(ROWS).await;
    let expected = deliveries(&app, "&rule=escalation-1&item=AUD-003").await;
    assert!(!expected.is_empty());
    assert_eq!(rows.as_array().unwrap().len(), expected.len());
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["cells"][1] == "督办单")
    );
    // Nothing matches: said in words, distinct from an empty audit.
    loaded(&page, &format!("{audit}&item=NO-SUCH-ITEM")).await;
    assert_eq!(
        page.eval("document.querySelector('#deliveries td.empty').innerText")
            .await,
        "没有符合条件的预警消息"
    );
    // A wrong date is the API's error, in words.
    page.goto(&format!("{audit}&from=yesterday")).await;
    page.wait_for(
        "document.body.dataset.loaded === 'error'",
        Duration::from_secs(10),
    )
    .await;
    let said = page
        .eval("document.getElementById('message').innerText")
        .await;
    assert!(said.as_str().unwrap().contains("查询条件有误"), "{said}");

    // Without a token: the 401 page, no data.
    let response = app
        .client
        .get(format!("{}/audit/deliveries", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // The dashboard's top bar links here, with the token.
    page.goto(&format!("{}/?token={VIEWER_TOKEN}", app.base))
        .await;
    let link = page
        .eval("document.getElementById('deliveries-link').getAttribute('href')")
        .await;
    assert_eq!(link, format!("/audit/deliveries?token={VIEWER_TOKEN}"));
    let link = page
        .eval("document.getElementById('rankings-link').getAttribute('href')")
        .await;
    assert_eq!(link, format!("/rankings?token={VIEWER_TOKEN}"));
    app.stop().await;
}
