//! The email and chat-robot senders against real peers on loopback: an SMTP server written
//! for the tests (tests/common/smtp.rs) whose received MIME is parsed back, and HTTP doubles
//! of DingTalk's custom robot (which checks the signature from the request's timestamp and
//! the secret, as DingTalk does) and WeCom's group robot (which checks the key), answering
//! with the bodies those services give.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use common::smtp::{Behaviour, SmtpServer, Step, TestCertificate, TlsMode};
use duban::charts::input::Counts;
use duban::charts::png::{self as chart_png, ChartFont};
use duban::clock::{Clock, ManualClock};
use duban::warnings::message::{Channel, Outgoing};
use duban::warnings::send::email::{EmailSender, Security, Settings};
use duban::warnings::send::robots::{DingTalkSettings, RobotSender, WeComSettings};
use duban::warnings::send::{Outcome, Retry, Sender};
use hmac::{Hmac, KeyInit, Mac};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};
use sha2::Sha256;

const FROM: &str = "督办办公室 <duban@example.gov.cn>";

fn email_settings(server: &SmtpServer, credentials: Option<(&str, &str)>) -> Settings {
    Settings {
        host: "127.0.0.1".into(),
        port: server.port(),
        security: Security::Plain,
        username: credentials.map(|c| c.0.to_owned()),
        password: credentials.map(|c| c.1.to_owned()),
        from: FROM.into(),
        timeout: Duration::from_secs(5),
        ca: None,
    }
}

fn warning_email(chart: Option<Vec<u8>>) -> Outgoing {
    Outgoing {
        id: 4711,
        channel: Channel::Email,
        to: "zhang.san@zjj.example.gov.cn".into(),
        name: "张三".into(),
        subject: "【督办】市住建局 3 项事项已超期".into(),
        text: "张三：\n市住建局有 3 项审批事项已超期，请于今日处理。\n详情：https://duban.example/m/dept/市住建局\n".into(),
        params: vec![],
        html: Some(
            "<p>张三：</p><p>市住建局有 <b>3</b> 项审批事项已超期。</p><img src=\"cid:chart\" alt=\"事项图\">"
                .into(),
        ),
        markdown: None,
        chart_png: chart,
        report: None,
        attachments: Vec::new(),
    }
}

fn chart() -> Vec<u8> {
    let font = ChartFont::load(None).unwrap_or_else(|e| panic!("{e}"));
    let counts = Counts {
        blue: 8,
        yellow: 4,
        red: 3,
    };
    chart_png::department("市住建局", &counts, &font).unwrap()
}

fn failed(outcome: &Outcome) -> (Retry, &str) {
    match outcome {
        Outcome::Failed { retry, code, .. } => (*retry, code.as_str()),
        Outcome::Accepted { .. } => panic!("accepted: {outcome:?}"),
    }
}

#[tokio::test]
async fn an_email_arrives_as_text_and_html_with_the_chart_inline() {
    let server = SmtpServer::start(Behaviour::default().with_credentials("duban", "s3cret")).await;
    let sender =
        EmailSender::new("mail", email_settings(&server, Some(("duban", "s3cret")))).unwrap();
    let png = chart();
    let message = warning_email(Some(png.clone()));
    let outcome = sender.send(&message).await;
    let Outcome::Accepted {
        provider_id,
        answer,
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    // The server's queue id, as its 250 named it.
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(answer.contains("queued as"), "{answer}");
    assert!(
        provider_id.as_deref().is_some_and(|id| id.starts_with('Q')),
        "{provider_id:?}"
    );

    let got = &received[0];
    assert_eq!(got.mail_from, "duban@example.gov.cn");
    assert_eq!(got.rcpt_to, vec!["zhang.san@zjj.example.gov.cn".to_owned()]);
    let (user, pass, _) = got.auth.clone().expect("authenticated");
    assert_eq!((user.as_str(), pass.as_str()), ("duban", "s3cret"));

    let mail = MessageParser::default().parse(&got.data).expect("MIME");
    assert_eq!(mail.subject(), Some(message.subject.as_str()));
    assert_eq!(mail.message_id(), Some("duban-4711@example.gov.cn"));
    let from = mail.from().and_then(|a| a.first()).unwrap();
    assert_eq!(from.name(), Some("督办办公室"));
    assert_eq!(from.address(), Some("duban@example.gov.cn"));
    let to = mail.to().and_then(|a| a.first()).unwrap();
    assert_eq!(to.name(), Some("张三"));

    let root = mail.content_type().unwrap();
    assert_eq!(
        (root.ctype(), root.subtype()),
        ("multipart", Some("related"))
    );
    assert_eq!(
        mail.body_text(0).unwrap().replace("\r\n", "\n"),
        message.text
    );
    assert_eq!(mail.body_html(0).unwrap(), message.html.clone().unwrap());
    let inline = mail
        .parts
        .iter()
        .find(|p| p.content_id() == Some("chart"))
        .expect("a part with Content-ID <chart>");
    let ctype = inline.content_type().unwrap();
    assert_eq!((ctype.ctype(), ctype.subtype()), ("image", Some("png")));
    assert_eq!(inline.content_disposition().unwrap().ctype(), "inline");
    assert!(inline.contents().starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(inline.contents(), &png[..]);
    // The chart's part says base64 on the wire: the bytes above were decoded from it.
    let raw = String::from_utf8_lossy(&got.data);
    assert!(raw.contains("Content-Transfer-Encoding: base64"), "{raw}");
    assert!(raw.contains("Content-ID: <chart>"), "{raw}");
}

#[tokio::test]
async fn a_repeat_of_one_outbox_message_carries_the_same_message_id() {
    let server = SmtpServer::start(Behaviour::default()).await;
    let sender = EmailSender::new("mail", email_settings(&server, None)).unwrap();
    let message = warning_email(None);
    for _ in 0..2 {
        assert!(matches!(
            sender.send(&message).await,
            Outcome::Accepted { .. }
        ));
    }
    let mut other = message.clone();
    other.id = 4712;
    assert!(matches!(
        sender.send(&other).await,
        Outcome::Accepted { .. }
    ));
    let ids: Vec<String> = server
        .received()
        .iter()
        .map(|r| {
            MessageParser::default()
                .parse(&r.data)
                .unwrap()
                .message_id()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "duban-4711@example.gov.cn",
            "duban-4711@example.gov.cn",
            "duban-4712@example.gov.cn"
        ]
    );
    // No credentials configured, none offered.
    assert!(!server.commands().iter().any(|c| c.starts_with("AUTH")));
}

#[tokio::test]
async fn lines_that_begin_with_a_dot_survive_the_data_phase() {
    let server = SmtpServer::start(Behaviour::default()).await;
    let sender = EmailSender::new("mail", email_settings(&server, None)).unwrap();
    let mut message = warning_email(None);
    message.html = None;
    message.text = "plain ascii\n.\n..two dots\n.one dot\nend\n".into();
    assert!(matches!(
        sender.send(&message).await,
        Outcome::Accepted { .. }
    ));
    let got = &server.received()[0];
    let raw = String::from_utf8_lossy(&got.data);
    assert!(raw.contains("\r\n.\r\n..two dots\r\n.one dot\r\n"), "{raw}");
    let mail = MessageParser::default().parse(&got.data).unwrap();
    // The part ends where the message does, with the line ends SMTP adds.
    assert_eq!(
        mail.body_text(0).unwrap().replace("\r\n", "\n").trim_end(),
        message.text.trim_end()
    );
}

#[tokio::test]
async fn a_4xx_is_retried_later() {
    let server =
        SmtpServer::start(Behaviour::default().refusing(Step::Rcpt, 451, "4.3.0 Try again later"))
            .await;
    let sender = EmailSender::new("mail", email_settings(&server, None)).unwrap();
    let outcome = sender.send(&warning_email(None)).await;
    assert_eq!(failed(&outcome), (Retry::Later { after: None }, "451"));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_5xx_is_never_retried() {
    let server = SmtpServer::start(Behaviour::default().refusing(
        Step::Rcpt,
        550,
        "5.1.1 Mailbox unavailable",
    ))
    .await;
    let sender = EmailSender::new("mail", email_settings(&server, None)).unwrap();
    let outcome = sender.send(&warning_email(None)).await;
    assert_eq!(failed(&outcome), (Retry::Never, "550"));
    let Outcome::Failed { reason, .. } = &outcome else {
        unreachable!()
    };
    assert!(reason.contains("Mailbox unavailable"), "{reason}");
}

#[tokio::test]
async fn a_refusal_after_the_message_is_classified_by_its_code() {
    let server = SmtpServer::start(Behaviour::default().refusing(
        Step::Message,
        452,
        "4.3.1 Insufficient storage",
    ))
    .await;
    let sender = EmailSender::new("mail", email_settings(&server, None)).unwrap();
    let outcome = sender.send(&warning_email(Some(chart()))).await;
    assert_eq!(failed(&outcome), (Retry::Later { after: None }, "452"));
}

#[tokio::test]
async fn refused_credentials_are_never_retried() {
    let server = SmtpServer::start(Behaviour::default().with_credentials("duban", "s3cret")).await;
    let sender =
        EmailSender::new("mail", email_settings(&server, Some(("duban", "wrong")))).unwrap();
    let outcome = sender.send(&warning_email(None)).await;
    assert_eq!(failed(&outcome), (Retry::Never, "535"));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_server_that_says_nothing_is_given_up_on_within_the_timeout() {
    let server = SmtpServer::start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let mut settings = email_settings(&server, None);
    settings.timeout = Duration::from_millis(800);
    let sender = EmailSender::new("mail", settings).unwrap();
    let started = Instant::now();
    let outcome = sender.send(&warning_email(None)).await;
    let took = started.elapsed();
    assert_eq!(failed(&outcome), (Retry::Later { after: None }, "timeout"));
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_server_that_is_not_there_is_retried_later() {
    // A port that was just free: bound, then let go.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = Settings {
        host: "127.0.0.1".into(),
        port,
        security: Security::Plain,
        username: None,
        password: None,
        from: FROM.into(),
        timeout: Duration::from_secs(2),
        ca: None,
    };
    let outcome = EmailSender::new("mail", settings)
        .unwrap()
        .send(&warning_email(None))
        .await;
    assert_eq!(
        failed(&outcome),
        (Retry::Later { after: None }, "connection")
    );
}

// ---- the chat robots ----

/// What a robot double answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Answers as a throttled robot does.
    Throttled,
    /// Answers HTTP 503 as an overloaded gateway would.
    Unavailable,
}

struct Double {
    token: String,
    secret: Option<String>,
    mode: Mode,
    /// Each request's query and body.
    requests: Vec<(HashMap<String, String>, Value)>,
}

type Shared = Arc<Mutex<Double>>;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn hmac_base64(secret: &str, text: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// DingTalk's `robot/send`: the token, then (for a robot with 加签) the timestamp within an
/// hour of now and the sign recomputed from it and the secret, then the message's form.
async fn dingtalk_send(
    State(double): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut double = double.lock().unwrap();
    double.requests.push((query.clone(), body.clone()));
    if double.mode == Mode::Unavailable {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
    }
    if query.get("access_token") != Some(&double.token) {
        return Json(json!({"errcode": 300001, "errmsg": "token is not exist"})).into_response();
    }
    if let Some(secret) = &double.secret {
        let sign_ok = match (query.get("timestamp"), query.get("sign")) {
            (Some(timestamp), Some(sign)) => {
                let now = chrono::Utc::now().timestamp_millis();
                let fresh = timestamp
                    .parse::<i64>()
                    .is_ok_and(|t| (now - t).abs() <= 3_600_000);
                fresh && *sign == hmac_base64(secret, &format!("{timestamp}\n{secret}"))
            }
            _ => false,
        };
        if !sign_ok {
            return Json(json!({
                "errcode": 310000,
                "errmsg": "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]"
            }))
            .into_response();
        }
    }
    let shaped = body["msgtype"] == "markdown"
        && body["markdown"]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
        && body["markdown"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty());
    if !shaped {
        return Json(json!({"errcode": 40035, "errmsg": "缺少参数 json"})).into_response();
    }
    if double.mode == Mode::Throttled {
        return Json(
            json!({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        )
        .into_response();
    }
    Json(json!({"errcode": 0, "errmsg": "ok"})).into_response()
}

/// WeCom's `webhook/send`: the key, then the markdown's form.
async fn wecom_send(
    State(double): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let mut double = double.lock().unwrap();
    double.requests.push((query.clone(), body.clone()));
    if query.get("key") != Some(&double.token) {
        return Json(json!({
            "errcode": 93000,
            "errmsg": "invalid webhook url, hint: [1733222400_49_0f3c], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=93000"
        }));
    }
    let shaped = body["msgtype"] == "markdown"
        && body["markdown"]["content"]
            .as_str()
            .is_some_and(|t| !t.is_empty());
    if !shaped {
        return Json(json!({"errcode": 40008, "errmsg": "invalid message type"}));
    }
    if double.mode == Mode::Throttled {
        return Json(json!({
            "errcode": 45009,
            "errmsg": "api freq out of limit, hint: [1733222400_49_0f3c], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=45009"
        }));
    }
    Json(json!({"errcode": 0, "errmsg": "ok"}))
}

async fn dingtalk_double(secret: Option<&str>, mode: Mode) -> (String, Shared) {
    let double = Arc::new(Mutex::new(Double {
        token: "tok-test-1".into(),
        secret: secret.map(str::to_owned),
        mode,
        requests: Vec::new(),
    }));
    let base = serve(
        Router::new()
            .route("/robot/send", post(dingtalk_send))
            .with_state(double.clone()),
    )
    .await;
    (base, double)
}

async fn wecom_double(mode: Mode) -> (String, Shared) {
    let double = Arc::new(Mutex::new(Double {
        token: "key-test-1".into(),
        secret: None,
        mode,
        requests: Vec::new(),
    }));
    let base = serve(
        Router::new()
            .route("/cgi-bin/webhook/send", post(wecom_send))
            .with_state(double.clone()),
    )
    .await;
    (base, double)
}

fn dingtalk(base: &str, token: &str, secret: Option<&str>, clock: Clock) -> RobotSender {
    let settings = DingTalkSettings {
        webhook: format!("{base}/robot/send?access_token={token}"),
        secret: secret.map(str::to_owned),
        timeout: Duration::from_secs(5),
    };
    RobotSender::dingtalk("dingtalk", settings, clock).unwrap()
}

fn wecom(base: &str, key: &str) -> RobotSender {
    let settings = WeComSettings {
        webhook: format!("{base}/cgi-bin/webhook/send?key={key}"),
        timeout: Duration::from_secs(5),
    };
    RobotSender::wecom("wecom", settings).unwrap()
}

fn robot_message(id: i64) -> Outgoing {
    Outgoing {
        id,
        channel: Channel::Robot,
        to: "督办群".into(),
        name: "督办群".into(),
        subject: "超期提醒".into(),
        text: "市住建局 3 项超期".into(),
        params: vec![],
        html: None,
        markdown: Some("### 超期提醒\n- 市住建局：**3** 项超期\n- [详情](https://duban.example/m/dept/市住建局)".into()),
        chart_png: None,
        report: None,
        attachments: Vec::new(),
    }
}

#[tokio::test]
async fn dingtalk_takes_a_signed_markdown_message() {
    // A secret with the characters base64 and URL encoding disagree on.
    let secret = "SEC+/=test secret 督办";
    let (base, double) = dingtalk_double(Some(secret), Mode::Normal).await;
    let sender = dingtalk(&base, "tok-test-1", Some(secret), Clock::System);
    let outcome = sender.send(&robot_message(1)).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let double = double.lock().unwrap();
    let (query, body) = &double.requests[0];
    assert!(query.contains_key("timestamp") && query.contains_key("sign"));
    assert_eq!(body["markdown"]["title"], "超期提醒");
    assert_eq!(body["markdown"]["text"], robot_message(1).markdown.unwrap());
}

#[tokio::test]
async fn dingtalk_refuses_a_wrong_secret_and_it_is_never_retried() {
    let (base, _double) = dingtalk_double(Some("SECright"), Mode::Normal).await;
    let sender = dingtalk(&base, "tok-test-1", Some("SECwrong"), Clock::System);
    let outcome = sender.send(&robot_message(1)).await;
    assert_eq!(failed(&outcome), (Retry::Never, "310000"));
    let Outcome::Failed { reason, answer, .. } = &outcome else {
        unreachable!()
    };
    assert!(answer.contains("sign not match"), "{answer}");
    assert!(reason.contains("secret"), "{reason}");
}

#[tokio::test]
async fn dingtalk_refuses_a_timestamp_over_an_hour_off() {
    let (base, _double) = dingtalk_double(Some("SECright"), Mode::Normal).await;
    let behind = ManualClock::new(chrono::Utc::now() - chrono::Duration::minutes(61));
    let sender = dingtalk(
        &base,
        "tok-test-1",
        Some("SECright"),
        Clock::Manual(behind.clone()),
    );
    assert_eq!(
        failed(&sender.send(&robot_message(1)).await),
        (Retry::Never, "310000")
    );
    // The same sender with its clock right again is taken.
    behind.set(chrono::Utc::now());
    assert!(matches!(
        sender.send(&robot_message(2)).await,
        Outcome::Accepted { .. }
    ));
}

#[tokio::test]
async fn dingtalk_refuses_an_unknown_token() {
    let (base, _double) = dingtalk_double(None, Mode::Normal).await;
    let sender = dingtalk(&base, "tok-other", None, Clock::System);
    assert_eq!(
        failed(&sender.send(&robot_message(1)).await),
        (Retry::Never, "300001")
    );
}

#[tokio::test]
async fn dingtalk_throttling_is_retried_after_its_penalty() {
    let (base, _double) = dingtalk_double(None, Mode::Throttled).await;
    let sender = dingtalk(&base, "tok-test-1", None, Clock::System);
    let outcome = sender.send(&robot_message(1)).await;
    assert_eq!(
        failed(&outcome),
        (
            Retry::Later {
                after: Some(Duration::from_secs(600))
            },
            "130101"
        )
    );
}

#[tokio::test]
async fn an_unavailable_webhook_is_retried_later() {
    let (base, _double) = dingtalk_double(None, Mode::Unavailable).await;
    let sender = dingtalk(&base, "tok-test-1", None, Clock::System);
    assert_eq!(
        failed(&sender.send(&robot_message(1)).await),
        (Retry::Later { after: None }, "http 503")
    );
}

#[tokio::test]
async fn the_21st_message_in_a_minute_is_held_without_a_request() {
    let (base, double) = dingtalk_double(Some("SECright"), Mode::Normal).await;
    let sender = dingtalk(&base, "tok-test-1", Some("SECright"), Clock::System);
    let started = Instant::now();
    for id in 0..20 {
        let outcome = sender.send(&robot_message(id)).await;
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "send {id}: {outcome:?}"
        );
    }
    let outcome = sender.send(&robot_message(20)).await;
    let (retry, code) = failed(&outcome);
    assert_eq!(code, "rate");
    let Retry::Later { after: Some(after) } = retry else {
        panic!("{retry:?}");
    };
    // Until the first send is a minute old.
    let elapsed = started.elapsed();
    assert!(
        after <= Duration::from_secs(60)
            && after >= Duration::from_secs(60) - elapsed - Duration::from_millis(50),
        "{after:?} after {elapsed:?}"
    );
    assert_eq!(double.lock().unwrap().requests.len(), 20);
}

#[tokio::test]
async fn wecom_takes_a_markdown_message() {
    let (base, double) = wecom_double(Mode::Normal).await;
    let sender = wecom(&base, "key-test-1");
    let outcome = sender.send(&robot_message(1)).await;
    assert!(matches!(outcome, Outcome::Accepted { .. }), "{outcome:?}");
    let body = double.lock().unwrap().requests[0].1.clone();
    assert_eq!(
        body,
        json!({"msgtype": "markdown", "markdown": {"content": robot_message(1).markdown.unwrap()}})
    );
}

#[tokio::test]
async fn wecom_refuses_a_wrong_key_and_it_is_never_retried() {
    let (base, _double) = wecom_double(Mode::Normal).await;
    let sender = wecom(&base, "key-other");
    assert_eq!(
        failed(&sender.send(&robot_message(1)).await),
        (Retry::Never, "93000")
    );
}

#[tokio::test]
async fn wecom_throttling_is_retried_later() {
    let (base, _double) = wecom_double(Mode::Throttled).await;
    let sender = wecom(&base, "key-test-1");
    let outcome = sender.send(&robot_message(1)).await;
    let (retry, code) = failed(&outcome);
    assert_eq!(code, "45009");
    assert!(
        matches!(retry, Retry::Later { after: Some(_) }),
        "{retry:?}"
    );
}

#[tokio::test]
async fn wecom_holds_the_21st_message_in_a_minute_too() {
    let (base, double) = wecom_double(Mode::Normal).await;
    let sender = wecom(&base, "key-test-1");
    for id in 0..20 {
        assert!(matches!(
            sender.send(&robot_message(id)).await,
            Outcome::Accepted { .. }
        ));
    }
    let outcome = sender.send(&robot_message(20)).await;
    let (retry, code) = failed(&outcome);
    assert_eq!(code, "rate");
    assert!(matches!(retry, Retry::Later { after: Some(_) }));
    assert_eq!(double.lock().unwrap().requests.len(), 20);
}

/// STARTTLS (port 587's way) and implicit TLS (465's) against the test server with a
/// certificate signed by a CA made for the test: trusted through `ca`, the mail arrives,
/// after STARTTLS when that is the mode (the server refuses MAIL before it); without the CA
/// the certificate is not trusted and the send fails as a TLS failure, tried again later.
#[tokio::test]
async fn email_goes_over_starttls_and_implicit_tls_with_the_configured_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = TestCertificate::make(dir.path());
    let ca = std::fs::read(&certificate.ca).unwrap();
    for (mode, security) in [
        (TlsMode::Starttls, Security::Starttls),
        (TlsMode::Implicit, Security::Tls),
    ] {
        let server = SmtpServer::start(
            Behaviour::default()
                .with_tls(mode, &certificate)
                .with_credentials("duban", "s3cret"),
        )
        .await;
        let settings = |ca: Option<Vec<u8>>| Settings {
            security,
            ca,
            ..email_settings(&server, Some(("duban", "s3cret")))
        };
        let sender = EmailSender::new("mail", settings(Some(ca.clone()))).unwrap();
        let outcome = sender.send(&warning_email(None)).await;
        assert!(
            matches!(outcome, Outcome::Accepted { .. }),
            "{mode:?}: {outcome:?}"
        );
        let received = server.received();
        assert_eq!(received.len(), 1, "{mode:?}");
        assert_eq!(
            received[0].auth.as_ref().map(|a| a.0.as_str()),
            Some("duban")
        );
        let commands = server.commands();
        assert_eq!(
            commands.iter().any(|c| c == "STARTTLS"),
            mode == TlsMode::Starttls,
            "{commands:?}"
        );

        // Not told of the test's CA: the server's certificate is not trusted.
        let untrusting = EmailSender::new("mail", settings(None)).unwrap();
        match untrusting.send(&warning_email(None)).await {
            Outcome::Failed {
                retry,
                code,
                reason,
                ..
            } => {
                assert_eq!(code, "tls", "{mode:?}: {reason}");
                assert!(matches!(retry, Retry::Later { .. }), "{reason}");
                assert!(reason.contains("certificate"), "{reason}");
            }
            other => panic!("{mode:?}: sent to an untrusted server: {other:?}"),
        }
        assert_eq!(server.received().len(), 1, "nothing more arrived");
    }
}
