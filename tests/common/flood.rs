//! The warnings' night-time flood, on any store (SQLite in tests/warnings.rs, PostgreSQL
//! in tests/services.rs), with the helpers the warnings tests share: `log` senders, the
//! contacts of one department and the office, the delivery audit as the API gives it.

use std::path::Path;

use duban::warnings::contacts::{Contact, Role};
use serde_json::Value;

use super::*;

pub const DEPARTMENT: &str = "市自然资源和规划局";

/// `[warnings]` with `log` senders for SMS, email and a robot, and the default rules.
pub fn warnings_config(extra: &str) -> String {
    format!(
        r#"
[warnings]
link_base = "https://duban.example.cn"
sms = "texts"
email = "mail"
{extra}

[[warnings.senders]]
name = "texts"
kind = "log"
channel = "sms"

[[warnings.senders]]
name = "mail"
kind = "log"
channel = "email"

[[warnings.senders]]
name = "group"
kind = "log"
channel = "robot"
"#
    )
}

fn contact(role: Role, department: &str, name: &str, mobile: &str, email: &str) -> Contact {
    Contact {
        role,
        department: department.into(),
        project_code: String::new(),
        name: name.into(),
        mobile: mobile.into(),
        email: email.into(),
    }
}

pub fn contacts() -> Vec<Contact> {
    vec![
        contact(Role::Handler, DEPARTMENT, "张经办", "13800000001", ""),
        contact(Role::Handler, DEPARTMENT, "李经办", "13800000002", ""),
        contact(
            Role::Head,
            DEPARTMENT,
            "王局长",
            "13800000003",
            "wang@example.cn",
        ),
        contact(
            Role::Office,
            "",
            "督办办公室",
            "13800000009",
            "duban@example.cn",
        ),
    ]
}

pub async fn deliveries(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/deliveries?{query}&token={VIEWER_TOKEN}"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["deliveries"].as_array().cloned().unwrap_or_default()
}

pub fn by(list: &[Value], key: &str, value: &str) -> Vec<Value> {
    list.iter().filter(|d| d[key] == value).cloned().collect()
}

/// A red item at 23:00 on the eve of the National Day holiday: email now, the texts held to
/// 08:00 on the first working day after the holiday (8 October), then sent. Two hundred red
/// items of one department make one text a recipient, never one an item.
pub async fn a_flood_of_red_items_at_night_is_one_text_a_recipient_sent_after_the_holiday(
    database_url: &str,
    dir: &Path,
) {
    let (feed, url) = FeedServer::start().await;
    // Accepted 1 September with 5 working days: red long before 30 September.
    let records: Vec<Value> = (0..200)
        .map(|n| record(&format!("R-{n:03}"), "2026-09-01T09:30:00+08:00", 5))
        .collect();
    feed.set(records);
    let (clock, shared_clock) = clock_at("2026-09-30T23:00:00+08:00");
    let text = live_config_text_on(database_url, &url, &warnings_config(""));
    let app = spawn_app(with_tokens(dir, text), shared_clock).await;
    app.running
        .shared
        .store
        .replace_contacts(&contacts())
        .await
        .unwrap();
    eventually(20, "the overdue warnings queued", || async {
        by(&deliveries(&app, "rule=overdue").await, "channel", "sms").len() == 3
    })
    .await;
    let overdue = deliveries(&app, "rule=overdue").await;
    let sms = by(&overdue, "channel", "sms");
    // Handlers and the head, each once, each naming all 200 items.
    let mut to: Vec<&str> = sms
        .iter()
        .map(|d| d["recipient"].as_str().unwrap())
        .collect();
    to.sort();
    assert_eq!(to, ["张经办", "李经办", "王局长"]);
    for d in &sms {
        assert_eq!(d["items"].as_array().unwrap().len(), 200);
        assert_eq!(d["status"], "pending", "{d}");
        assert_eq!(d["held"], true);
        // 08:00 on Thursday 8 October, Shanghai time.
        assert_eq!(d["not_before"], "2026-10-08T00:00:00.000Z", "{d}");
        // Masked for a viewer.
        assert!(d["address"].as_str().unwrap().contains("****"), "{d}");
        assert!(d["text"].as_str().unwrap().contains("200件"), "{d}");
    }
    // The head's email went at once; the robot's message waits like the texts.
    let email = by(&overdue, "channel", "email");
    assert_eq!(email.len(), 1);
    eventually(10, "the email sent", || async {
        by(
            &deliveries(&app, "rule=overdue&channel=email").await,
            "status",
            "sent",
        )
        .len()
            == 1
    })
    .await;
    let robot = by(&overdue, "channel", "robot");
    assert_eq!(robot.len(), 1);
    assert_eq!(robot[0]["held"], true);

    // During the holiday nothing is texted.
    clock.set(at("2026-10-05T12:00:00+08:00"));
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        by(
            &deliveries(&app, "rule=overdue&channel=sms").await,
            "status",
            "sent"
        )
        .is_empty()
    );
    // At 08:00 on the 8th they go, each with one recorded attempt.
    clock.set(at("2026-10-08T08:00:01+08:00"));
    eventually(20, "the texts sent after the holiday", || async {
        by(
            &deliveries(&app, "rule=overdue&channel=sms").await,
            "status",
            "sent",
        )
        .len()
            == 3
    })
    .await;
    for d in deliveries(&app, "rule=overdue&channel=sms").await {
        let attempts = d["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1, "{d}");
        assert_eq!(attempts[0]["outcome"], "accepted");
        assert!(d["sent_at"].as_str().unwrap() >= "2026-10-08T00:00:00.000Z");
    }
    // The office was sent the 督办单 (red for 3 working days and more) once, for all 200.
    let escalated = deliveries(&app, "rule=escalation-1&channel=sms").await;
    assert_eq!(escalated.len(), 1, "{escalated:?}");
    assert_eq!(escalated[0]["recipient"], "督办办公室");
    assert_eq!(escalated[0]["items"].as_array().unwrap().len(), 200);
    // Filters: by item, by department.
    assert!(!deliveries(&app, "item=R-007").await.is_empty());
    assert!(deliveries(&app, "item=NOPE").await.is_empty());
    assert!(deliveries(&app, "department=市住建局").await.is_empty());
    app.running.stop(std::time::Duration::from_secs(5)).await;
}
