//! A generic HTTP SMS gateway (an intranet SMS platform, an operator's HTTP interface): one
//! POST to a configured URL with a configured body template, an optional bearer token, and
//! an `Idempotency-Key: <message id>` header so a gateway that honours it can tell a send
//! repeated after a crash from a new one. 2xx is accepted (a configured JSON pointer into
//! the answer gives the gateway's id); 408, 429, 5xx and a timeout are worth retrying (after
//! the gateway's `Retry-After`, if it gives one); any other 4xx is not.
//!
//! It also owns the reading of an HTTP exchange the SMS senders share (`aliyun`, `tencent`
//! use it too): a transport failure as an outcome, `Retry-After`, the answer trimmed for
//! the audit.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};

use super::{Outcome, Retry, SendFuture, Sender};
use crate::warnings::message::{Channel, Outgoing};

/// How a gateway sender is set up (the config is wired to this by the caller).
/// Its `Debug` leaves the secret out, so a logged config does not leak it.
#[derive(Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the messages are POSTed.
    pub url: String,
    /// The body's `Content-Type`; it also decides how the placeholders' values are escaped
    /// (JSON string escaping for `…json…`, form encoding for
    /// `application/x-www-form-urlencoded`, as they are otherwise).
    pub content_type: String,
    /// The body, with `{mobile}`, `{text}`, `{id}` and `{param:NAME}` replaced by the
    /// message's number, text, outbox id and template variable `NAME`.
    pub body_template: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub bearer_token: Option<String>,
    /// A JSON pointer (RFC 6901, `/data/msgid`) to the gateway's id for the message in its
    /// answer, when it gives one.
    pub provider_id_pointer: Option<String>,
    /// How long one request may take, answer included.
    pub timeout: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url)
            .field("content_type", &self.content_type)
            .field("body_template", &self.body_template)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("provider_id_pointer", &self.provider_id_pointer)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct GatewaySms {
    name: String,
    settings: Settings,
    client: reqwest::Client,
}

impl GatewaySms {
    pub fn new(name: String, settings: Settings, client: reqwest::Client) -> Self {
        Self {
            name,
            settings,
            client,
        }
    }

    /// Whether the body template names only placeholders this sender knows, so the caller
    /// can refuse a bad template when the config is loaded rather than at the first send.
    pub fn check_template(&self) -> Result<(), String> {
        placeholders(&self.settings.body_template).map(|_| ())
    }
}

impl Sender for GatewaySms {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let settings = &self.settings;
            let escaping = Escaping::for_content_type(&settings.content_type);
            let body = match render(&settings.body_template, message, escaping) {
                Ok(body) => body,
                Err(reason) => {
                    return Outcome::Failed {
                        retry: Retry::Never,
                        code: "body_template".into(),
                        reason: format!(
                            "the SMS gateway sender `{}` could not write the body: {reason}",
                            self.name
                        ),
                        answer: String::new(),
                    };
                }
            };
            let mut request = self
                .client
                .post(&settings.url)
                .timeout(settings.timeout)
                .header(CONTENT_TYPE, &settings.content_type)
                .header("Idempotency-Key", message.id.to_string())
                .body(body);
            if let Some(token) = &settings.bearer_token {
                request = request.bearer_auth(token);
            }
            let (status, headers, answer) = match exchange(request).await {
                Ok(reply) => reply,
                Err(error) => return transport_failure(error, "the SMS gateway", settings.timeout),
            };
            classify(
                status,
                retry_after(&headers, Utc::now()),
                &answer,
                settings.provider_id_pointer.as_deref(),
            )
        })
    }
}

/// Sends `request` and reads the whole answer (its body too is within the timeout).
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(u16, HeaderMap, String), reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    Ok((
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// The gateway's answer as an outcome (pure: the status, its `Retry-After` and its body).
pub fn classify(
    status: u16,
    retry_after: Option<Duration>,
    answer: &str,
    provider_id_pointer: Option<&str>,
) -> Outcome {
    let answer_for_audit = trimmed(answer);
    if (200..300).contains(&status) {
        let provider_id = provider_id_pointer.and_then(|pointer| {
            let value: serde_json::Value = serde_json::from_str(answer).ok()?;
            match value.pointer(pointer)? {
                serde_json::Value::String(text) if !text.is_empty() => Some(text.clone()),
                serde_json::Value::Number(number) => Some(number.to_string()),
                _ => None,
            }
        });
        return Outcome::Accepted {
            provider_id,
            answer: answer_for_audit,
        };
    }
    let (retry, advice) = if http_status_is_retryable(status) {
        (
            Retry::Later { after: retry_after },
            "the gateway is busy or failing; it will be tried again",
        )
    } else {
        (
            Retry::Never,
            "the gateway refused the request; check the sender's URL, token and body template",
        )
    };
    Outcome::Failed {
        retry,
        code: format!("HTTP {status}"),
        reason: format!("the SMS gateway answered HTTP {status}: {advice}"),
        answer: answer_for_audit,
    }
}

/// 408 (the gateway gave up waiting), 429 (too many) and every 5xx pass with time.
pub(crate) fn http_status_is_retryable(status: u16) -> bool {
    status == 408 || status == 429 || (500..600).contains(&status)
}

/// An attempt that got no answer: a timeout, a refused connection, a broken exchange. All of
/// them may pass, so all are retried. The error's text leaves the URL out: Aliyun's carries
/// the mobile number in its query.
pub(crate) fn transport_failure(
    error: reqwest::Error,
    provider: &str,
    timeout: Duration,
) -> Outcome {
    let (code, what) = if error.is_timeout() {
        (
            "timeout",
            format!(
                "{provider} did not answer within {} ms",
                timeout.as_millis()
            ),
        )
    } else if error.is_connect() {
        ("connect", format!("duban could not connect to {provider}"))
    } else {
        (
            "transport",
            format!("the exchange with {provider} broke off"),
        )
    };
    let error = error.without_url();
    Outcome::Failed {
        retry: Retry::Later { after: None },
        code: code.into(),
        reason: format!("{what} ({error}); it will be tried again"),
        answer: String::new(),
    }
}

/// The longest wait a `Retry-After` is taken at: a day (a larger one is a gateway's bug, and
/// the outbox's own backoff still applies).
const RETRY_AFTER_CEILING: Duration = Duration::from_secs(24 * 3600);

/// The answer's `Retry-After` as a wait from `now`: delta-seconds or an HTTP date
/// (RFC 9110 §10.2.3). A date already past means "now" (zero).
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = if let Ok(seconds) = text.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let at = DateTime::parse_from_rfc2822(text).ok()?.to_utc();
        (at - now).to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(RETRY_AFTER_CEILING))
}

/// The most of an answer kept for the audit.
const ANSWER_CHARS: usize = 2000;

/// The answer as the audit keeps it: trimmed, and cut at `ANSWER_CHARS` characters.
pub(crate) fn trimmed(answer: &str) -> String {
    let answer = answer.trim();
    match answer.char_indices().nth(ANSWER_CHARS) {
        Some((cut, _)) => format!("{}…", &answer[..cut]),
        None => answer.to_owned(),
    }
}

/// How a placeholder's value is written into the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// Inside a JSON string: quotes, backslashes and control characters escaped.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// As it is.
    Raw,
}

impl Escaping {
    fn for_content_type(content_type: &str) -> Self {
        let content_type = content_type.to_ascii_lowercase();
        if content_type.contains("json") {
            Escaping::Json
        } else if content_type.contains("x-www-form-urlencoded") {
            Escaping::Form
        } else {
            Escaping::Raw
        }
    }

    fn escape(self, value: &str) -> String {
        match self {
            Escaping::Json => {
                // serde_json writes the value as a JSON string; the template supplies the
                // quotes, so the outer pair is dropped.
                let quoted = serde_json::Value::String(value.to_owned()).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            }
            Escaping::Form => form_urlencoded::byte_serialize(value.as_bytes()).collect(),
            Escaping::Raw => value.to_owned(),
        }
    }
}

/// A placeholder the template names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Placeholder {
    Mobile,
    Text,
    Id,
    Param(String),
}

/// One piece of a template: literal text, or a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'t> {
    Literal(&'t str),
    Value(Placeholder),
}

/// The template cut into literal text and placeholders. A `{…}` whose inside is a word
/// (letters, digits, `_`, `:`, `.`, `-`) is a placeholder and must be a known one; any other
/// brace (a JSON object's own `{"to": …}`) is literal text.
fn placeholders(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let word_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-')))
            .unwrap_or(after.len());
        if word_end == 0 || !after[word_end..].starts_with('}') {
            // Not a placeholder: keep the brace and go on after it.
            pieces.push(Piece::Literal(&rest[..open + 1]));
            rest = after;
            continue;
        }
        let word = &after[..word_end];
        let placeholder = match word {
            "mobile" => Placeholder::Mobile,
            "text" => Placeholder::Text,
            "id" => Placeholder::Id,
            _ => match word.strip_prefix("param:") {
                Some(name) if !name.is_empty() => Placeholder::Param(name.to_owned()),
                _ => {
                    return Err(format!(
                        "the body template names `{{{word}}}`, which is not one of {{mobile}}, \
                         {{text}}, {{id}} or {{param:NAME}}; correct the template"
                    ));
                }
            },
        };
        pieces.push(Piece::Literal(&rest[..open]));
        pieces.push(Piece::Value(placeholder));
        rest = &after[word_end + 1..];
    }
    pieces.push(Piece::Literal(rest));
    Ok(pieces)
}

/// The body for `message`.
fn render(template: &str, message: &Outgoing, escaping: Escaping) -> Result<String, String> {
    let mut body = String::with_capacity(template.len() + message.text.len());
    for piece in placeholders(template)? {
        match piece {
            Piece::Literal(text) => body.push_str(text),
            Piece::Value(Placeholder::Mobile) => body.push_str(&escaping.escape(&message.to)),
            Piece::Value(Placeholder::Text) => body.push_str(&escaping.escape(&message.text)),
            Piece::Value(Placeholder::Id) => body.push_str(&message.id.to_string()),
            Piece::Value(Placeholder::Param(name)) => {
                let value = message
                    .params
                    .iter()
                    .find(|(param, _)| *param == name)
                    .map(|(_, value)| value)
                    .ok_or_else(|| {
                        format!(
                            "the body template names {{param:{name}}} but message {} has no \
                             template variable `{name}`; align the template with the wording",
                            message.id
                        )
                    })?;
                body.push_str(&escaping.escape(value));
            }
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn message() -> Outgoing {
        Outgoing {
            id: 42,
            channel: Channel::Sms,
            to: "13800138000".into(),
            name: "张三".into(),
            subject: String::new(),
            text: "【督办】住建局有 \"2\" 项超期\n请处理".into(),
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

    #[test]
    fn json_bodies_escape_the_values_but_not_the_template() {
        let body = render(
            r#"{"to":"{mobile}","content":"{text}","ref":{id},"dept":"{param:dept}"}"#,
            &message(),
            Escaping::Json,
        )
        .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["to"], "13800138000");
        assert_eq!(parsed["content"], "【督办】住建局有 \"2\" 项超期\n请处理");
        assert_eq!(parsed["ref"], 42);
        assert_eq!(parsed["dept"], "住建局");
    }

    #[test]
    fn form_bodies_are_form_encoded() {
        let body = render(
            "mobile={mobile}&msg={text}&n={param:count}",
            &message(),
            Escaping::Form,
        )
        .unwrap();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(pairs[0], ("mobile".into(), "13800138000".into()));
        assert_eq!(pairs[1].1, "【督办】住建局有 \"2\" 项超期\n请处理");
        assert_eq!(pairs[2].1, "2");
    }

    #[test]
    fn unknown_placeholders_and_missing_params_are_refused() {
        let unknown = render("{mobil}", &message(), Escaping::Raw).unwrap_err();
        assert!(unknown.contains("{mobil}"), "{unknown}");
        let missing = render("{param:nope}", &message(), Escaping::Raw).unwrap_err();
        assert!(missing.contains("nope"), "{missing}");
        // A brace that is not a placeholder stays as it is.
        assert_eq!(
            render("{ {\"a\": 1} }", &message(), Escaping::Raw).unwrap(),
            "{ {\"a\": 1} }"
        );
    }

    #[test]
    fn the_answer_decides_the_outcome() {
        match classify(
            200,
            None,
            r#"{"data":{"msgid":"g-1"}}"#,
            Some("/data/msgid"),
        ) {
            Outcome::Accepted { provider_id, .. } => {
                assert_eq!(provider_id.as_deref(), Some("g-1"))
            }
            other => panic!("{other:?}"),
        }
        match classify(202, None, r#"{"id":7}"#, Some("/id")) {
            Outcome::Accepted { provider_id, .. } => assert_eq!(provider_id.as_deref(), Some("7")),
            other => panic!("{other:?}"),
        }
        let wait = Some(Duration::from_secs(30));
        for (status, retry) in [
            (429, Retry::Later { after: wait }),
            (503, Retry::Later { after: wait }),
            (408, Retry::Later { after: wait }),
            (400, Retry::Never),
            (401, Retry::Never),
            (404, Retry::Never),
        ] {
            match classify(status, wait, "no", None) {
                Outcome::Failed {
                    retry: got, code, ..
                } => {
                    assert_eq!(got, retry, "HTTP {status}");
                    assert_eq!(code, format!("HTTP {status}"));
                }
                other => panic!("HTTP {status}: {other:?}"),
            }
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .unwrap()
            .to_utc();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 25 Nov 2026 02:01:30 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(90)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 25 Nov 2026 01:00:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn long_answers_are_cut_for_the_audit() {
        let long = "短".repeat(ANSWER_CHARS + 10);
        let kept = trimmed(&long);
        assert_eq!(kept.chars().count(), ANSWER_CHARS + 1);
        assert_eq!(trimmed("  ok \n"), "ok");
    }
}
