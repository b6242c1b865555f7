//! The outbox across crashes: the `duban serve` binary killed with SIGKILL again and again
//! while a slow mail server is taking its warnings. After the last restart every message
//! has arrived, each recorded send is the last time it went out, and a message went twice
//! only when the kill came between the server taking it and duban recording that.
//! (Email, which the quiet hours do not hold: the binary runs on the machine's clock.)

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use common::smtp::{Behaviour, SmtpServer};
use common::*;

const DEPARTMENTS: usize = 240;

#[tokio::test]
async fn kill_nine_while_sending_loses_no_warning_and_repeats_no_recorded_send() {
    let dir = temp_dir();
    let smtp = SmtpServer::start(Behaviour {
        delay: Duration::from_millis(1000),
        ..Behaviour::default()
    })
    .await;
    let (feed, url) = FeedServer::start().await;
    let mut records = Vec::new();
    let mut contacts = String::from("角色,部门,姓名,手机,邮箱\n");
    for d in 0..DEPARTMENTS {
        let department = format!("测试局{d:03}");
        let mut r = record(&format!("C-{d:03}"), "2026-09-01T09:30:00+08:00", 5);
        r["department"] = serde_json::json!(department);
        records.push(r);
        contacts.push_str(&format!(
            "负责人,{department},局长{d},,head{d}@example.cn\n"
        ));
    }
    feed.set(records);
    std::fs::write(dir.path().join("contacts.csv"), contacts).unwrap();
    let database_url = sqlite_url(dir.path());
    let feeds = format!(
        r#"
[[feeds]]
name = "main"
kind = "http_json"
schedule = "* * * * * *"
url = "{url}"
records_path = "items"

[warnings]
contacts = "contacts.csv"
email = "mail"

[warnings.rules]
escalation = []
[warnings.rules.near]
enabled = false
[warnings.rules.digest]
enabled = false
[warnings.rules.forecast]
enabled = false
[warnings.rules.overdue]
to = ["head:email"]

[[warnings.senders]]
name = "mail"
kind = "smtp"
host = "127.0.0.1"
port = {port}
security = "plain"
from = "督办办公室 <duban@example.cn>"
timeout_seconds = 10
"#,
        port = smtp.port()
    );
    let config = dir.path().join("duban.toml");
    // The binary grades on the machine's clock, which CI also sets to 2027 and 2030: the
    // provisional years reach that far (the items are red in any of them).
    let text = config_text(&database_url, &feeds)
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
    // Killed each time once the mail server has taken more than before, after a pause that
    // varies (a fixed sequence: the same run every time).
    let mut kills = 0;
    let mut taken = 0;
    for pause_ms in [0u64, 150, 1200, 60, 2500, 300] {
        let mut child = serve();
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if smtp.received().len() > taken {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        taken = smtp.received().len();
        kills += 1;
    }
    sqlx::any::install_default_drivers();
    let count_sent = || {
        let url = database_url.clone();
        async move {
            let Ok(pool) = sqlx::AnyPool::connect(&url).await else {
                return (0, 0);
            };
            let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
            let sent: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE status = 'sent'")
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(0);
            pool.close().await;
            (all, sent)
        }
    };
    let (_, sent_before_the_end) = count_sent().await;
    let mut child = serve();
    for _ in 0..300 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (all, sent) = count_sent().await;
        if all >= DEPARTMENTS as i64 && sent == all {
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(kills, 6);
    assert!(
        sent_before_the_end > 0 && sent_before_the_end < DEPARTMENTS as i64,
        "the kills came while sending ({sent_before_the_end} of {DEPARTMENTS} recorded as sent before the last start)"
    );

    let pool = sqlx::AnyPool::connect(&database_url).await.unwrap();
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
        "SELECT id, status, COALESCE(sent_at, ''), attempts FROM messages ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), DEPARTMENTS, "one message a department's head");
    let recorded: BTreeMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
        "SELECT message_id, COUNT(*) FROM attempts GROUP BY message_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    // What the mail server took, by duban's message id (in the Message-ID).
    let mut arrivals: BTreeMap<i64, Vec<SystemTime>> = BTreeMap::new();
    for received in smtp.received() {
        let text = String::from_utf8_lossy(&received.data);
        let id = text
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: <duban-"))
            .and_then(|rest| rest.split('@').next())
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("a Message-ID carrying the outbox id in {text:.400}"));
        arrivals.entry(id).or_default().push(received.at);
    }
    let mut repeated = 0;
    for (id, status, sent_at, attempts) in &rows {
        assert_eq!(status, "sent", "message {id}");
        let times = arrivals
            .get(id)
            .unwrap_or_else(|| panic!("message {id} never arrived"));
        let sent_at: SystemTime = chrono::DateTime::parse_from_rfc3339(sent_at)
            .unwrap()
            .to_utc()
            .into();
        for t in times {
            // Never again after its send was recorded (the server's clock is the machine's,
            // as the daemon's; a millisecond for the stored instant's rounding).
            assert!(
                *t <= sent_at + Duration::from_millis(1),
                "message {id} went out after its send was recorded"
            );
        }
        let recorded_attempts = recorded.get(id).copied().unwrap_or(0);
        assert_eq!(
            recorded_attempts, 1,
            "message {id}: one recorded attempt, accepted"
        );
        if times.len() > 1 {
            repeated += 1;
            // A repeat only for a claim whose outcome was never recorded: the kill came
            // while it was in flight.
            assert!(
                *attempts > recorded_attempts,
                "message {id} went {} times but every claim was recorded",
                times.len()
            );
        }
    }
    eprintln!(
        "{DEPARTMENTS} messages, {kills} kills, {repeated} sent twice (in flight at a kill), {} arrivals in all",
        smtp.received().len()
    );
}
