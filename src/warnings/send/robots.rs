//! Chat robots: DingTalk's custom robot (its webhook's `access_token`, and with a secret the
//! `timestamp` and `sign` it checks) and WeCom's group robot (its webhook's `key`), both
//! sent markdown. Both allow a robot 20 messages a minute and answer a faster sender with an
//! error (DingTalk then refuses it for ten minutes), so each sender keeps its own rolling
//! window and, when it is full, hands the message back to the outbox with the time until a
//! place frees, without a request. Their answers are `{"errcode": …, "errmsg": …}`:
//! throttling and "system busy" are worth a retry; a bad token or key, a signature or
//! keyword the robot refuses, or content it will not take are not.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Outcome, Retry, SendFuture, Sender};
use crate::clock::Clock;
use crate::warnings::message::{Channel, Outgoing};

/// What each robot's documentation allows: 20 messages a minute.
pub const RATE_LIMIT: usize = 20;
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// DingTalk throttles a robot that sent too fast for ten minutes.
const DINGTALK_PENALTY: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct DingTalkSettings {
    /// `https://oapi.dingtalk.com/robot/send?access_token=…`: a secret, since anyone with it
    /// can post to the group.
    pub webhook: String,
    /// The robot's 加签 secret (`SEC…`), when its security setting is a signature.
    pub secret: Option<String>,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct WeComSettings {
    /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`: a secret, like DingTalk's.
    pub webhook: String,
    pub timeout: Duration,
}

// The webhooks carry their tokens, so a settings struct printed in a log must not show them.
impl std::fmt::Debug for DingTalkSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DingTalkSettings")
            .field("webhook", &redacted(&self.webhook))
            .field("secret", &self.secret.as_ref().map(|_| "…"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl std::fmt::Debug for WeComSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeComSettings")
            .field("webhook", &redacted(&self.webhook))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A webhook without its query, where the token is.
fn redacted(webhook: &str) -> String {
    match webhook.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => webhook.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    #[error(
        "the {robot} webhook {webhook} is not a URL ({reason}); copy it whole from the robot's settings"
    )]
    Webhook {
        robot: &'static str,
        webhook: String,
        reason: String,
    },
    #[error(
        "the {robot} webhook {webhook} has no `{parameter}`; copy it whole from the robot's settings"
    )]
    Token {
        robot: &'static str,
        webhook: String,
        parameter: &'static str,
    },
    #[error("the HTTP client for the {robot} robot could not be built: {reason}")]
    Client { robot: &'static str, reason: String },
}

/// A rolling window of the sends of the last `window`: at most `limit` in it.
#[derive(Debug)]
pub struct RateWindow {
    limit: usize,
    window: Duration,
    sent: Mutex<VecDeque<Instant>>,
}

impl RateWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            sent: Mutex::new(VecDeque::with_capacity(limit)),
        }
    }

    /// Takes a place for a send at `now`, or says how long until the oldest send leaves the
    /// window and a place frees.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        while sent
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(*oldest) >= self.window)
        {
            sent.pop_front();
        }
        if sent.len() < self.limit {
            sent.push_back(now);
            return Ok(());
        }
        let oldest = sent.front().copied().unwrap_or(now);
        Err(self
            .window
            .saturating_sub(now.saturating_duration_since(oldest)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DingTalk,
    WeCom,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::DingTalk => "DingTalk",
            Kind::WeCom => "WeCom",
        }
    }
}

pub struct RobotSender {
    name: String,
    kind: Kind,
    webhook: Url,
    /// DingTalk's signing secret.
    secret: Option<String>,
    client: reqwest::Client,
    window: RateWindow,
    /// The wall clock DingTalk's signed timestamp is taken from (it refuses one over an
    /// hour off its own).
    clock: Clock,
}

impl RobotSender {
    pub fn dingtalk(
        name: impl Into<String>,
        settings: DingTalkSettings,
        clock: Clock,
    ) -> Result<Self, RobotError> {
        let kind = Kind::DingTalk;
        let webhook = webhook(kind, &settings.webhook, "access_token")?;
        Ok(Self {
            name: name.into(),
            kind,
            webhook,
            secret: settings.secret.filter(|s| !s.is_empty()),
            client: client(kind, settings.timeout)?,
            window: RateWindow::new(RATE_LIMIT, RATE_WINDOW),
            clock,
        })
    }

    pub fn wecom(name: impl Into<String>, settings: WeComSettings) -> Result<Self, RobotError> {
        let kind = Kind::WeCom;
        let webhook = webhook(kind, &settings.webhook, "key")?;
        Ok(Self {
            name: name.into(),
            kind,
            webhook,
            secret: None,
            client: client(kind, settings.timeout)?,
            window: RateWindow::new(RATE_LIMIT, RATE_WINDOW),
            clock: Clock::System,
        })
    }

    /// The URL of one send: DingTalk's signed one carries the timestamp it was signed at.
    fn url(&self) -> Url {
        let mut url = self.webhook.clone();
        if let Some(secret) = &self.secret {
            let timestamp = self.clock.now().timestamp_millis().to_string();
            let sign = dingtalk_sign(secret, &timestamp);
            url.query_pairs_mut()
                .append_pair("timestamp", &timestamp)
                .append_pair("sign", &sign);
        }
        url
    }

    fn body(&self, message: &Outgoing) -> Value {
        let markdown = message.markdown.as_deref().unwrap_or(&message.text);
        match self.kind {
            Kind::DingTalk => json!({
                "msgtype": "markdown",
                "markdown": { "title": message.subject, "text": markdown },
            }),
            Kind::WeCom => json!({
                "msgtype": "markdown",
                "markdown": { "content": markdown },
            }),
        }
    }

    async fn deliver(&self, message: &Outgoing) -> Outcome {
        if let Err(wait) = self.window.take(Instant::now()) {
            return Outcome::Failed {
                retry: Retry::Later { after: Some(wait) },
                code: "rate".into(),
                reason: format!(
                    "the {} robot {} has had its {RATE_LIMIT} messages of the last minute; \
                     held for {}s, not sent",
                    self.kind.as_str(),
                    self.name,
                    wait.as_secs_f64().ceil()
                ),
                answer: String::new(),
            };
        }
        let response = match self
            .client
            .post(self.url())
            .json(&self.body(message))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => return self.unreachable(error),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.text().await {
            Ok(body) => body,
            Err(error) => return self.unreachable(error),
        };
        let answer: String = body.chars().take(500).collect();
        if !status.is_success() {
            let retry = if status.is_server_error() || status.as_u16() == 429 {
                Retry::Later { after: retry_after }
            } else {
                Retry::Never
            };
            return Outcome::Failed {
                retry,
                code: format!("http {}", status.as_u16()),
                reason: format!(
                    "the {} robot's webhook answered HTTP {status}{}",
                    self.kind.as_str(),
                    if retry == Retry::Never {
                        "; check the webhook URL in the robot's settings"
                    } else {
                        ""
                    }
                ),
                answer,
            };
        }
        let parsed: Option<(i64, String)> =
            serde_json::from_str::<Value>(&body).ok().and_then(|v| {
                let code = v.get("errcode")?.as_i64()?;
                let words = v
                    .get("errmsg")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                Some((code, words))
            });
        let Some((errcode, errmsg)) = parsed else {
            return Outcome::Failed {
                retry: Retry::Later { after: None },
                code: "response".into(),
                reason: format!(
                    "the {} robot's webhook answered without an errcode (a proxy's page?)",
                    self.kind.as_str()
                ),
                answer,
            };
        };
        if errcode == 0 {
            return Outcome::Accepted {
                provider_id: None,
                answer,
            };
        }
        let (retry, advice) = match self.kind {
            Kind::DingTalk => dingtalk_error(errcode),
            Kind::WeCom => wecom_error(errcode),
        };
        Outcome::Failed {
            retry,
            code: errcode.to_string(),
            reason: format!(
                "the {} robot {} refused the message: {errcode} {errmsg}; {advice}",
                self.kind.as_str(),
                self.name
            ),
            answer,
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> Outcome {
        let code = if error.is_timeout() {
            "timeout"
        } else {
            "connection"
        };
        // reqwest's message names the URL, and the URL holds the token.
        let error = error.without_url();
        Outcome::Failed {
            retry: Retry::Later { after: None },
            code: code.into(),
            reason: format!(
                "the {} robot's webhook at {} could not be reached: {error}",
                self.kind.as_str(),
                self.webhook.host_str().unwrap_or("?")
            ),
            answer: String::new(),
        }
    }
}

impl Sender for RobotSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Channel {
        Channel::Robot
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

fn webhook(kind: Kind, text: &str, token: &'static str) -> Result<Url, RobotError> {
    let url = Url::parse(text.trim()).map_err(|e| RobotError::Webhook {
        robot: kind.as_str(),
        webhook: redacted(text),
        reason: e.to_string(),
    })?;
    if !url.query_pairs().any(|(k, v)| k == token && !v.is_empty()) {
        return Err(RobotError::Token {
            robot: kind.as_str(),
            webhook: redacted(text),
            parameter: token,
        });
    }
    Ok(url)
}

fn client(kind: Kind, timeout: Duration) -> Result<reqwest::Client, RobotError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| RobotError::Client {
            robot: kind.as_str(),
            reason: e.to_string(),
        })
}

/// DingTalk's `sign`: base64 of HMAC-SHA256 keyed with the secret over
/// "{timestamp}\n{secret}" (URL-encoded when it is put in the query).
pub fn dingtalk_sign(secret: &str, timestamp: &str) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        format!("{timestamp}\n{secret}").as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(mac)
}

// To move to `send::sign` (its `hmac_sha256`) once that is merged.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk's custom robot errcodes (its "自定义机器人发送消息" error table and the
/// answers it is seen to give).
fn dingtalk_error(errcode: i64) -> (Retry, &'static str) {
    match errcode {
        // -1 系统繁忙.
        -1 => (
            Retry::Later { after: None },
            "DingTalk is busy; it will be tried again",
        ),
        // 130101 "send too fast, exceed 20 times per minute", 410100 发送速度太快而限流:
        // the robot is then held for ten minutes.
        130101 | 410100 => (
            Retry::Later {
                after: Some(DINGTALK_PENALTY),
            },
            "the robot is throttled for sending too fast; it will be tried again in ten minutes",
        ),
        // 310000: the robot's security setting refused it: "sign not match", "keywords not
        // in content", an IP not in the whitelist, or a timestamp over an hour off.
        310000 => (
            Retry::Never,
            "check the robot's secret and the server's clock, its keywords against the \
             message, or its IP whitelist",
        ),
        // 300001 and 400101: no such access_token; 400102 robot disabled; 400106 no such
        // robot; 400013 the group was dissolved.
        300001 | 300005 | 400101 | 400102 | 400106 | 400013 => (
            Retry::Never,
            "the webhook's access_token names no working robot: add the robot again and \
             configure its new webhook",
        ),
        // 430101–430104: the content was judged unsafe or inappropriate.
        430101..=430104 => (
            Retry::Never,
            "DingTalk refused the content; check the message's links and words",
        ),
        _ => (
            Retry::Never,
            "not an error trying again can cure; see DingTalk's robot error codes",
        ),
    }
}

/// WeCom's errcodes as its group robot returns them (the global error code table).
fn wecom_error(errcode: i64) -> (Retry, &'static str) {
    match errcode {
        -1 => (
            Retry::Later { after: None },
            "WeCom is busy; it will be tried again",
        ),
        // 45009 "api freq out of limit".
        45009 => (
            Retry::Later {
                after: Some(RATE_WINDOW),
            },
            "the robot sent too fast; it will be tried again in a minute",
        ),
        // 93000 "invalid webhook url": the key is wrong or the robot was removed from the
        // group.
        93000 => (
            Retry::Never,
            "the webhook's key names no robot in a group: add the robot again and configure \
             its new webhook",
        ),
        // 40008 不合法的msgtype, 40058 不合法的参数, 44004 empty content: the message.
        40008 | 40058 | 44004 => (
            Retry::Never,
            "WeCom refused the message's form or content (markdown up to 4096 bytes)",
        ),
        _ => (
            Retry::Never,
            "not an error trying again can cure; see WeCom's global error codes",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_twenty_a_minute_and_frees_with_the_oldest() {
        let window = RateWindow::new(RATE_LIMIT, RATE_WINDOW);
        let start = Instant::now();
        for i in 0..RATE_LIMIT as u64 {
            assert_eq!(
                window.take(start + Duration::from_secs(i)),
                Ok(()),
                "send {i}"
            );
        }
        // The 21st, 30 s after the first: it waits for the first to be a minute old.
        assert_eq!(
            window.take(start + Duration::from_secs(30)),
            Err(Duration::from_secs(30))
        );
        assert_eq!(window.take(start + RATE_WINDOW), Ok(()));
        // The second (at 1 s) is the oldest now.
        assert_eq!(
            window.take(start + RATE_WINDOW + Duration::from_millis(500)),
            Err(Duration::from_millis(500))
        );
    }

    #[test]
    fn a_refused_send_takes_no_place() {
        let window = RateWindow::new(1, RATE_WINDOW);
        let start = Instant::now();
        assert_eq!(window.take(start), Ok(()));
        for s in 1..5 {
            assert!(window.take(start + Duration::from_secs(s)).is_err());
        }
        assert_eq!(window.take(start + RATE_WINDOW), Ok(()));
    }

    #[test]
    fn the_sign_is_the_documented_hmac() {
        // HMAC-SHA256 of RFC 4231's test case 2 ("Jefe", "what do ya want for nothing?"),
        // so the helper is checked against a published vector, not against itself.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sign = dingtalk_sign("SECabc", "1700000000000");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&sign)
            .unwrap();
        assert_eq!(raw, hmac_sha256(b"SECabc", b"1700000000000\nSECabc"));
    }

    #[test]
    fn a_webhook_without_its_token_is_refused_without_showing_it() {
        let settings = WeComSettings {
            webhook: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?token=oops".into(),
            timeout: Duration::from_secs(5),
        };
        let err = RobotSender::wecom("wecom", settings.clone())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`key`") && !err.contains("oops"), "{err}");
        assert!(!format!("{settings:?}").contains("oops"));
    }

    #[test]
    fn throttling_is_retried_and_bad_tokens_are_not() {
        assert!(matches!(
            dingtalk_error(130101).0,
            Retry::Later { after: Some(_) }
        ));
        assert!(matches!(dingtalk_error(-1).0, Retry::Later { .. }));
        assert_eq!(dingtalk_error(310000).0, Retry::Never);
        assert_eq!(dingtalk_error(300001).0, Retry::Never);
        assert!(matches!(
            wecom_error(45009).0,
            Retry::Later { after: Some(_) }
        ));
        assert_eq!(wecom_error(93000).0, Retry::Never);
        assert_eq!(wecom_error(40008).0, Retry::Never);
    }
}
