//! Warnings end to end on a real daemon (SQLite, a feed on loopback, the injected clock):
//! what is decided, grouped, held by the quiet hours, queued in the outbox, sent and
//! recorded, as `/api/deliveries` shows it.

mod common;

use common::flood::{DEPARTMENT, contacts, deliveries, warnings_config};
use common::*;

#[tokio::test]
async fn a_flood_of_red_items_at_night_is_one_text_a_recipient_sent_after_the_holiday() {
    let dir = temp_dir();
    let url = sqlite_url(dir.path());
    common::flood::a_flood_of_red_items_at_night_is_one_text_a_recipient_sent_after_the_holiday(
        &url,
        dir.path(),
    )
    .await;
}

/// The digest runs at 09:00 on working days, once: a restart after it does not send it again;
/// the forecast at 08:30 names the items that turn red within three working days.
#[tokio::test]
async fn the_digest_and_the_forecast_run_once_on_their_working_day_schedule() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    // Thursday 3 December 2026. R-1: red. Y-1: 5 working days from Friday 27 November, its
    // deadline Thursday 3 December, red from Friday the 4th: within the forecast.
    feed.set(vec![
        record("R-1", "2026-11-02T09:30:00+08:00", 5),
        record("Y-1", "2026-11-26T09:30:00+08:00", 5),
        record("B-1", "2026-12-02T09:30:00+08:00", 20),
    ]);
    let (clock, shared_clock) = clock_at("2026-12-03T08:29:00+08:00");
    let text = live_config_text(dir.path(), &url, &warnings_config(""));
    let config = with_tokens(dir.path(), text.clone());
    let app = spawn_app(config, shared_clock.clone()).await;
    app.running
        .shared
        .store
        .replace_contacts(&contacts())
        .await
        .unwrap();
    eventually(20, "the items stored", || async {
        app.items(&format!("status=open&token={VIEWER_TOKEN}"))
            .await["total"]
            == 3
    })
    .await;
    assert!(deliveries(&app, "rule=forecast").await.is_empty());
    clock.set(at("2026-12-03T08:30:01+08:00"));
    eventually(20, "the forecast", || async {
        !deliveries(&app, "rule=forecast").await.is_empty()
    })
    .await;
    let forecast = deliveries(&app, "rule=forecast").await;
    for d in &forecast {
        assert_eq!(d["items"], serde_json::json!(["Y-1"]), "{d}");
    }
    clock.set(at("2026-12-03T09:00:01+08:00"));
    eventually(20, "the digest", || async {
        !deliveries(&app, "rule=digest").await.is_empty()
    })
    .await;
    let digest = deliveries(&app, "rule=digest").await;
    assert!(
        digest
            .iter()
            .all(|d| d["items"] == serde_json::json!(["R-1"])),
        "{digest:?}"
    );
    let count = digest.len();
    app.running.stop(std::time::Duration::from_secs(5)).await;

    // Restarted at 10:00 the same day: neither runs again.
    clock.set(at("2026-12-03T10:00:00+08:00"));
    let app = spawn_app(with_tokens(dir.path(), text), shared_clock).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(deliveries(&app, "rule=digest").await.len(), count);
    assert_eq!(
        deliveries(&app, "rule=forecast").await.len(),
        forecast.len()
    );
    // Saturday 5 December is a rest day: no digest at 09:00.
    clock.set(at("2026-12-05T09:00:01+08:00"));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(deliveries(&app, "rule=digest").await.len(), count);
    // Monday the 7th: the next one.
    clock.set(at("2026-12-07T09:00:01+08:00"));
    eventually(20, "Monday's digest", || async {
        deliveries(&app, "rule=digest").await.len() > count
    })
    .await;
    app.running.stop(std::time::Duration::from_secs(5)).await;
}

/// A provider's delivery report pushed to `/hooks/sms/{sender}`: refused without the hook's
/// key, and with it recorded on the message it names (Aliyun's SmsReport, by `biz_id`).
#[tokio::test]
async fn a_delivery_report_is_taken_only_with_the_hooks_key_and_recorded_on_its_message() {
    use duban::store::warnings::{AttemptRecord, Next, Queued, RunWrite};
    use duban::warnings::message::Channel;
    use duban::warnings::rules::RuleName;
    use duban::warnings::wording::Draft;
    let dir = temp_dir();
    let (_feed, url) = FeedServer::start().await;
    let extra = r#"
[warnings]
sms = "ali"
email = "mail"

[[warnings.senders]]
name = "ali"
kind = "aliyun"
endpoint = "http://127.0.0.1:9"
access_key_id_env = "DUBAN_TEST_ALI_ID"
access_key_secret_env = "DUBAN_TEST_ALI_SECRET"
sign_name = "督办"
template_code = "SMS_1"
hook_key_env = "DUBAN_TEST_HOOK_KEY"

[[warnings.senders]]
name = "mail"
kind = "log"
channel = "email"
"#;
    let text = live_config_text(dir.path(), &url, extra);
    let path = dir.path().join("duban.toml");
    std::fs::write(&path, &text).unwrap();
    let file = duban::config::toml_file::TomlFile::from_text(&path, text).with_env_fallback([
        ("DUBAN_SCREEN_TOKEN".to_owned(), SCREEN_TOKEN.to_owned()),
        ("DUBAN_VIEWER_TOKEN".to_owned(), VIEWER_TOKEN.to_owned()),
        ("DUBAN_TEST_ALI_ID".to_owned(), "id".to_owned()),
        ("DUBAN_TEST_ALI_SECRET".to_owned(), "secret".to_owned()),
        ("DUBAN_TEST_HOOK_KEY".to_owned(), "hook-key-1234".to_owned()),
    ]);
    let (_clock, shared_clock) = clock_at("2026-12-03T10:00:00+08:00");
    let app = spawn_app(
        duban::config::Config::from_file(&file).unwrap(),
        shared_clock,
    )
    .await;
    let store = &app.running.shared.store;
    let now = at("2026-12-03T10:00:00+08:00");
    let draft = Draft {
        dedup_key: "receipt-test".into(),
        rule: RuleName::Overdue,
        department: DEPARTMENT.into(),
        channel: Channel::Sms,
        sender: "ali".into(),
        role: "handler".into(),
        recipient: "张经办".into(),
        address: "13800000001".into(),
        items: vec![("R-1".into(), "2026-12-01".into())],
        subject: String::new(),
        text: "【超期预警】…".into(),
        params: vec![],
        html: None,
        markdown: None,
    };
    // Written as a rule run writes it, its send recorded as the outbox records it, with a
    // not_before in the future so the worker leaves it alone.
    let ids = store
        .write_run(&RunWrite {
            log_position: store.last_change().await.unwrap(),
            schedules: vec![],
            warned: vec![],
            messages: vec![Queued {
                draft: &draft,
                not_before: now + chrono::Duration::days(30),
                held: true,
            }],
            now,
        })
        .await
        .unwrap();
    store
        .record_attempt(&AttemptRecord {
            message_id: ids[0].1,
            at: now,
            outcome: "accepted",
            provider_id: Some("BIZ-77"),
            code: "",
            error: "",
            answer: "",
            next: Next::Sent {
                provider_id: Some("BIZ-77".into()),
            },
        })
        .await
        .unwrap();
    let report = serde_json::json!([{
        "phone_number": "13800000001", "send_time": "2026-12-03 10:00:01",
        "report_time": "2026-12-03 10:00:09", "success": true, "err_code": "DELIVERED",
        "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "BIZ-77", "out_id": ids[0].1.to_string()
    }]);
    let post = |key: &'static str| {
        let (client, base, body) = (app.client.clone(), app.base.clone(), report.clone());
        async move {
            let response = client
                .post(format!("{base}/hooks/sms/ali?key={key}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    assert_eq!(post("wrong").await.0, 403);
    let list = deliveries(&app, "").await;
    assert_eq!(
        list[0]["status"], "sent",
        "a refused report changes nothing"
    );
    let (status, body) = post("hook-key-1234").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"code\":0"),
        "the reply Aliyun expects: {body}"
    );
    let list = deliveries(&app, "").await;
    assert_eq!(list[0]["status"], "delivered", "{}", list[0]);
    assert_eq!(list[0]["receipt"], "DELIVERED");
    assert_eq!(list[0]["receipt_at"], "2026-12-03T02:00:09.000Z");
    // A body that is not a report is refused in words, and recorded nowhere.
    let response = app
        .client
        .post(format!("{}/hooks/sms/ali?key=hook-key-1234", app.base))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    app.running.stop(std::time::Duration::from_secs(5)).await;
}
