//! The SMS senders against their providers' stand-ins on loopback (tests/common/sms_doubles):
//! a signed send is accepted and carries the message id where the provider keeps it; a
//! wrong secret is refused by the double's own signature check and is not retried;
//! throttling, a 5xx and a provider that never answers are retried; a bad number is not;
//! and the delivery reports are read from the providers' documented samples.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::{Duration, Instant};

use common::sms_doubles::{Answer, SmsDouble};
use duban::warnings::message::{Channel, Outgoing};
use duban::warnings::send::{Outcome, Retry, Sender, aliyun, gateway, tencent};
use serde_json::Value;

/// Aliyun's documented example AccessKey (a made-up pair; no real account).
const ALIYUN_ID: &str = "YourAccessKeyId";
const ALIYUN_SECRET: &str = "YourAccessKeySecret";
/// Tencent's documented example SecretId / SecretKey.
const TENCENT_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const TENCENT_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

fn message(id: i64) -> Outgoing {
    Outgoing {
        id,
        channel: Channel::Sms,
        to: "13800138000".into(),
        name: "张三".into(),
        subject: String::new(),
        text: "【督办】住建局有2项审批超期，请登录督办平台处理。".into(),
        params: vec![
            ("dept".into(), "住建局".into()),
            ("count".into(), "2".into()),
        ],
        html: None,
        markdown: None,
        chart_png: None,
        report: None,
        attachments: Vec::new(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

fn aliyun_sender(double: &SmsDouble, secret: &str, timeout: Duration) -> aliyun::AliyunSms {
    aliyun::AliyunSms::new(
        "aliyun".into(),
        aliyun::Settings {
            endpoint: double.url.clone(),
            access_key_id: ALIYUN_ID.into(),
            access_key_secret: secret.into(),
            sign_name: "某市督办".into(),
            template_code: "SMS_154950909".into(),
            timeout,
        },
        client(),
    )
}

fn tencent_sender(double: &SmsDouble, key: &str, timeout: Duration) -> tencent::TencentSms {
    tencent::TencentSms::new(
        "tencent".into(),
        tencent::Settings {
            endpoint: double.url.clone(),
            secret_id: TENCENT_ID.into(),
            secret_key: key.into(),
            region: "ap-guangzhou".into(),
            sdk_app_id: "1400006666".into(),
            sign_name: "某市督办".into(),
            template_id: "1110".into(),
            timeout,
        },
        client(),
    )
}

fn gateway_sender(url: &str, token: &str, timeout: Duration) -> gateway::GatewaySms {
    gateway::GatewaySms::new(
        "gateway".into(),
        gateway::Settings {
            url: format!("{url}/sms/send"),
            content_type: "application/json".into(),
            body_template:
                r#"{"mobile":"{mobile}","content":"{text}","dept":"{param:dept}","ref":{id}}"#
                    .into(),
            bearer_token: Some(token.into()),
            provider_id_pointer: Some("/data/msgid".into()),
            timeout,
        },
        client(),
    )
}

const QUICK: Duration = Duration::from_secs(5);

fn failure(outcome: Outcome) -> (Retry, String, String) {
    match outcome {
        Outcome::Failed {
            retry,
            code,
            reason,
            ..
        } => (retry, code, reason),
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---- Aliyun -----------------------------------------------------------------------------

#[tokio::test]
async fn aliyun_accepts_a_signed_send_and_keeps_the_message_id_as_out_id() {
    let double = SmsDouble::aliyun(ALIYUN_ID, ALIYUN_SECRET).await;
    let sender = aliyun_sender(&double, ALIYUN_SECRET, QUICK);
    assert_eq!(sender.channel(), Channel::Sms);
    let outcome = sender.send(&message(4711)).await;
    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.authenticated,
        "the double refused the signature: {outcome:?}"
    );
    match &outcome {
        Outcome::Accepted {
            provider_id,
            answer,
        } => {
            assert_eq!(
                provider_id, &request.provider_id,
                "the BizId the double gave"
            );
            assert!(answer.contains("\"Code\":\"OK\""), "{answer}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(request.method, "POST");
    assert_eq!(request.params["OutId"], "4711");
    assert_eq!(request.params["PhoneNumbers"], "13800138000");
    assert_eq!(request.params["SignName"], "某市督办");
    assert_eq!(request.params["TemplateCode"], "SMS_154950909");
    let template: Value = serde_json::from_str(&request.params["TemplateParam"]).unwrap();
    assert_eq!(
        template,
        serde_json::json!({"dept": "住建局", "count": "2"})
    );
}

#[tokio::test]
async fn aliyun_refuses_a_wrong_secret_and_it_is_not_retried() {
    let double = SmsDouble::aliyun(ALIYUN_ID, ALIYUN_SECRET).await;
    let sender = aliyun_sender(&double, "not-the-secret", QUICK);
    let (retry, code, reason) = failure(sender.send(&message(1)).await);
    assert_eq!(retry, Retry::Never);
    assert_eq!(code, "SignatureDoesNotMatch");
    assert!(reason.contains("AccessKey"), "{reason}");
    assert!(!double.requests()[0].authenticated);
}

#[tokio::test]
async fn aliyun_throttling_is_retried_and_a_bad_number_is_not() {
    let double = SmsDouble::aliyun(ALIYUN_ID, ALIYUN_SECRET).await;
    let sender = aliyun_sender(&double, ALIYUN_SECRET, QUICK);
    double.answer(Answer::Throttled);
    let (retry, code, _) = failure(sender.send(&message(2)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Later { after: None }, "isv.BUSINESS_LIMIT_CONTROL")
    );
    double.answer(Answer::BadNumber);
    let (retry, code, reason) = failure(sender.send(&message(3)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Never, "isv.MOBILE_NUMBER_ILLEGAL")
    );
    assert!(reason.contains("number"), "{reason}");
    // Each attempt was signed anew and accepted as signed.
    assert!(double.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn aliyun_unavailable_or_silent_is_retried() {
    let double = SmsDouble::aliyun(ALIYUN_ID, ALIYUN_SECRET).await;
    double.answer(Answer::Unavailable);
    let sender = aliyun_sender(&double, ALIYUN_SECRET, QUICK);
    let (retry, code, _) = failure(sender.send(&message(5)).await);
    assert_eq!(
        retry,
        Retry::Later {
            after: Some(Duration::from_secs(7))
        }
    );
    assert_eq!(code, "HTTP 503");

    double.answer(Answer::Hang);
    let sender = aliyun_sender(&double, ALIYUN_SECRET, Duration::from_millis(300));
    let started = Instant::now();
    let (retry, code, reason) = failure(sender.send(&message(6)).await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout was not kept"
    );
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Later { after: None }, "timeout")
    );
    assert!(
        !reason.contains("13800138000"),
        "the number leaked into the reason: {reason}"
    );
}

#[tokio::test]
async fn aliyun_reports_are_read_through_the_sender() {
    let double = SmsDouble::aliyun(ALIYUN_ID, ALIYUN_SECRET).await;
    let sender = aliyun_sender(&double, ALIYUN_SECRET, QUICK);
    let hook = sender.receipts().expect("Aliyun pushes SmsReport");
    // SmsReport's documented sample (two reports: the sample and a failure in its shape).
    let body = r#"[
      {"phone_number":"1381111****","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:00:00","success":true,"err_code":"DELIVERED","err_msg":"用户接收成功","sms_size":"1","biz_id":"12345","out_id":"67890"},
      {"phone_number":"1381111****","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:01:00","success":false,"err_code":"MK:0000","err_msg":"空号","sms_size":"1","biz_id":"12346","out_id":"67891"}
    ]"#;
    let receipts = hook.parse(body.as_bytes()).unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0].provider_id, "12345");
    assert_eq!(receipts[0].out_id, Some(67890));
    assert!(receipts[0].delivered);
    assert!(!receipts[1].delivered);
    assert_eq!(receipts[1].code, "MK:0000");
    let reply: Value = serde_json::from_str(hook.reply()).unwrap();
    assert_eq!(reply["code"], 0);
    assert!(hook.parse(b"not json").is_err());
}

// ---- Tencent ----------------------------------------------------------------------------

#[tokio::test]
async fn tencent_accepts_a_signed_send_and_keeps_the_message_id_as_session_context() {
    let double = SmsDouble::tencent(TENCENT_ID, TENCENT_KEY).await;
    let sender = tencent_sender(&double, TENCENT_KEY, QUICK);
    let outcome = sender.send(&message(4712)).await;
    let requests = double.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert!(
        request.authenticated,
        "the double refused the signature: {outcome:?}"
    );
    match &outcome {
        Outcome::Accepted {
            provider_id,
            answer,
        } => {
            assert_eq!(
                provider_id, &request.provider_id,
                "the SerialNo the double gave"
            );
            assert!(answer.contains("+86****8000"), "{answer}");
            assert!(
                !answer.contains("13800138000"),
                "the audit keeps the full number: {answer}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(request.params["SessionContext"], "4712");
    assert_eq!(request.params["PhoneNumberSet"], r#"["+8613800138000"]"#);
    assert_eq!(request.params["TemplateParamSet"], r#"["住建局","2"]"#);
    assert_eq!(request.params["SmsSdkAppId"], "1400006666");
    assert_eq!(request.params["TemplateId"], "1110");
    assert_eq!(request.headers["x-tc-region"], "ap-guangzhou");
}

#[tokio::test]
async fn tencent_refuses_a_wrong_key_and_it_is_not_retried() {
    let double = SmsDouble::tencent(TENCENT_ID, TENCENT_KEY).await;
    let sender = tencent_sender(&double, "not-the-key", QUICK);
    let (retry, code, reason) = failure(sender.send(&message(1)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Never, "AuthFailure.SignatureFailure")
    );
    assert!(reason.contains("SecretKey"), "{reason}");
    assert!(!double.requests()[0].authenticated);
}

#[tokio::test]
async fn tencent_throttling_is_retried_and_a_bad_number_is_not() {
    let double = SmsDouble::tencent(TENCENT_ID, TENCENT_KEY).await;
    let sender = tencent_sender(&double, TENCENT_KEY, QUICK);
    double.answer(Answer::Throttled);
    let (retry, code, _) = failure(sender.send(&message(2)).await);
    assert_eq!(
        (retry, code.as_str()),
        (
            Retry::Later { after: None },
            "LimitExceeded.PhoneNumberThirtySecondLimit"
        )
    );
    double.answer(Answer::BadNumber);
    let (retry, code, _) = failure(sender.send(&message(3)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Never, "InvalidParameterValue.IncorrectPhoneNumber")
    );
    assert!(double.requests().iter().all(|r| r.authenticated));
}

#[tokio::test]
async fn tencent_unavailable_or_silent_is_retried() {
    let double = SmsDouble::tencent(TENCENT_ID, TENCENT_KEY).await;
    double.answer(Answer::Unavailable);
    let sender = tencent_sender(&double, TENCENT_KEY, QUICK);
    let (retry, code, _) = failure(sender.send(&message(5)).await);
    assert_eq!(
        (retry, code.as_str()),
        (
            Retry::Later {
                after: Some(Duration::from_secs(7))
            },
            "HTTP 503"
        )
    );

    double.answer(Answer::Hang);
    let sender = tencent_sender(&double, TENCENT_KEY, Duration::from_millis(300));
    let started = Instant::now();
    let (retry, code, _) = failure(sender.send(&message(6)).await);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the timeout was not kept"
    );
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Later { after: None }, "timeout")
    );
}

#[tokio::test]
async fn tencent_callbacks_are_read_through_the_sender() {
    let double = SmsDouble::tencent(TENCENT_ID, TENCENT_KEY).await;
    let sender = tencent_sender(&double, TENCENT_KEY, QUICK);
    let hook = sender.receipts().expect("Tencent pushes status callbacks");
    // The callback document's sample, and a failure in its shape.
    let body = r#"[
      {"user_receive_time":"2015-10-17 08:03:04","nationcode":"86","mobile":"13xxxxxxxxx","report_status":"SUCCESS","errmsg":"DELIVRD","description":"用户短信送达成功","sid":"xxxxxxx"},
      {"user_receive_time":"2015-10-17 08:03:05","nationcode":"86","mobile":"13xxxxxxxxx","report_status":"FAIL","errmsg":"MK:0001","description":"用户短信送达失败","sid":"yyyyyyy"}
    ]"#;
    let receipts = hook.parse(body.as_bytes()).unwrap();
    assert_eq!(receipts.len(), 2);
    assert_eq!(receipts[0].provider_id, "xxxxxxx");
    assert!(receipts[0].delivered);
    assert_eq!(receipts[0].code, "DELIVRD");
    assert!(!receipts[1].delivered);
    let reply: Value = serde_json::from_str(hook.reply()).unwrap();
    assert_eq!(
        (reply["result"].clone(), reply["errmsg"].clone()),
        (0.into(), "OK".into())
    );
}

// ---- Gateway ----------------------------------------------------------------------------

#[tokio::test]
async fn the_gateway_is_sent_the_rendered_body_and_the_idempotency_key() {
    let double = SmsDouble::gateway("gw-token").await;
    let sender = gateway_sender(&double.url, "gw-token", QUICK);
    let outcome = sender.send(&message(4713)).await;
    let requests = double.requests();
    let request = &requests[0];
    assert!(request.authenticated);
    match &outcome {
        Outcome::Accepted { provider_id, .. } => {
            assert_eq!(provider_id, &request.provider_id, "the gateway's msgid")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(request.headers["idempotency-key"], "4713");
    assert_eq!(request.uri.path(), "/sms/send");
    assert_eq!(request.params["mobile"], "13800138000");
    assert_eq!(request.params["content"], message(0).text);
    assert_eq!(request.params["dept"], "住建局");
    assert_eq!(request.params["ref"], "4713");
}

#[tokio::test]
async fn the_gateway_refusing_the_token_or_the_number_is_final() {
    let double = SmsDouble::gateway("gw-token").await;
    let sender = gateway_sender(&double.url, "wrong", QUICK);
    let (retry, code, _) = failure(sender.send(&message(1)).await);
    assert_eq!((retry, code.as_str()), (Retry::Never, "HTTP 401"));
    double.answer(Answer::BadNumber);
    let sender = gateway_sender(&double.url, "gw-token", QUICK);
    let (retry, code, _) = failure(sender.send(&message(2)).await);
    assert_eq!((retry, code.as_str()), (Retry::Never, "HTTP 400"));
}

#[tokio::test]
async fn the_gateway_busy_failing_or_silent_is_retried_after_its_hint() {
    let double = SmsDouble::gateway("gw-token").await;
    let sender = gateway_sender(&double.url, "gw-token", QUICK);
    double.answer(Answer::Throttled);
    let (retry, code, _) = failure(sender.send(&message(1)).await);
    assert_eq!(
        (retry, code.as_str()),
        (
            Retry::Later {
                after: Some(Duration::from_secs(3))
            },
            "HTTP 429"
        )
    );
    double.answer(Answer::Unavailable);
    let (retry, code, _) = failure(sender.send(&message(2)).await);
    assert_eq!(
        (retry, code.as_str()),
        (
            Retry::Later {
                after: Some(Duration::from_secs(7))
            },
            "HTTP 503"
        )
    );
    double.answer(Answer::Hang);
    let sender = gateway_sender(&double.url, "gw-token", Duration::from_millis(300));
    let (retry, code, _) = failure(sender.send(&message(3)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Later { after: None }, "timeout")
    );
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_retried() {
    // A port that was just free: nothing listens on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let sender = gateway_sender(&url, "gw-token", QUICK);
    let (retry, code, _) = failure(sender.send(&message(1)).await);
    assert_eq!(
        (retry, code.as_str()),
        (Retry::Later { after: None }, "connect")
    );
}
