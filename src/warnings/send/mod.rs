//! Senders: one trait for every way a message leaves duban (SMS providers, an HTTP gateway,
//! SMTP, chat robots, the demo's `log`), and the outcome each reports. A sender does one
//! request and classifies its answer; retries, backoff and the record of attempts are the
//! outbox's (`warnings::outbox`).

pub mod aliyun;
pub mod email;
pub mod gateway;
pub mod log;
pub mod robots;
pub mod sign;
pub mod tencent;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::message::{Channel, Outgoing};

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message (not yet delivered: that is the receipt's to say).
    Accepted {
        /// The provider's id for it (Aliyun's BizId, Tencent's SerialNo, an SMTP queue id).
        provider_id: Option<String>,
        /// What the provider answered, for the audit (its body, trimmed).
        answer: String,
    },
    /// It was not sent.
    Failed {
        /// Whether trying again later can help (timeouts, 5xx, throttling), and when.
        retry: Retry,
        /// The provider's error code (`isv.BUSINESS_LIMIT_CONTROL`, `LimitExceeded`, an
        /// SMTP reply code, an HTTP status), or a short name of the local failure.
        code: String,
        /// What went wrong, in words for the operator.
        reason: String,
        answer: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again with backoff; `after` is the provider's own hint (Retry-After), if any.
    Later { after: Option<Duration> },
    /// Trying again cannot help (a bad number, a template not approved, bad credentials):
    /// stop, and show it.
    Never,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

/// A configured way of sending.
pub trait Sender: Send + Sync {
    /// The name it has in the config (`[[warnings.senders]] name`).
    fn name(&self) -> &str;
    fn channel(&self) -> Channel;
    /// Sends `message` once.
    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a>;
    /// How the provider's delivery reports pushed to `/hooks/sms/{name}` are read, if it
    /// sends any.
    fn receipts(&self) -> Option<&dyn ReceiptHook> {
        None
    }
}

/// A provider's delivery report about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id of the message (`Outcome::Accepted::provider_id`).
    pub provider_id: String,
    /// duban's message id, where the provider echoes it (Aliyun's `out_id`).
    pub out_id: Option<i64>,
    pub delivered: bool,
    /// The provider's status code (`DELIVRD`, an operator's error code).
    pub code: String,
    /// The provider's words for it.
    pub reason: String,
    /// When the phone received it (or the operator gave up), as the provider says.
    pub at: Option<DateTime<Utc>>,
}

/// Reads the delivery reports a provider pushes.
pub trait ReceiptHook: Send + Sync {
    /// The reports in one pushed body; an error says what in the body was not understood.
    fn parse(&self, body: &[u8]) -> Result<Vec<Receipt>, String>;
    /// The body the provider expects back when the reports were taken
    /// (`application/json`).
    fn reply(&self) -> &'static str;
}

/// The configured senders, built once at start-up (`client` is the daemon's HTTP client).
pub fn build(
    specs: &[crate::config::warnings::SenderSpec],
    client: &reqwest::Client,
    clock: &crate::clock::Clock,
) -> Result<std::collections::HashMap<String, std::sync::Arc<dyn Sender>>, String> {
    use crate::config::warnings::SenderKind;
    use std::sync::Arc;
    specs
        .iter()
        .map(|spec| {
            let name = spec.name.clone();
            let failed = |e: &dyn std::fmt::Display| format!("the sender {name:?}: {e}");
            let sender: Arc<dyn Sender> = match &spec.kind {
                SenderKind::Log => Arc::new(log::LogSender {
                    name: spec.name.clone(),
                    channel: spec.channel,
                }),
                SenderKind::Aliyun {
                    endpoint,
                    access_key_id,
                    access_key_secret,
                    sign_name,
                    template_code,
                } => Arc::new(aliyun::AliyunSms::new(
                    name.clone(),
                    aliyun::Settings {
                        endpoint: endpoint.clone(),
                        access_key_id: access_key_id.expose().to_owned(),
                        access_key_secret: access_key_secret.expose().to_owned(),
                        sign_name: sign_name.clone(),
                        template_code: template_code.clone(),
                        timeout: spec.timeout,
                    },
                    client.clone(),
                )),
                SenderKind::Tencent {
                    endpoint,
                    secret_id,
                    secret_key,
                    region,
                    sdk_app_id,
                    sign_name,
                    template_id,
                } => Arc::new(tencent::TencentSms::new(
                    name.clone(),
                    tencent::Settings {
                        endpoint: endpoint.clone(),
                        secret_id: secret_id.expose().to_owned(),
                        secret_key: secret_key.expose().to_owned(),
                        region: region.clone(),
                        sdk_app_id: sdk_app_id.clone(),
                        sign_name: sign_name.clone(),
                        template_id: template_id.clone(),
                        timeout: spec.timeout,
                    },
                    client.clone(),
                )),
                SenderKind::Gateway {
                    url,
                    body,
                    content_type,
                    token,
                    id_pointer,
                } => {
                    let sender = gateway::GatewaySms::new(
                        name.clone(),
                        gateway::Settings {
                            url: url.clone(),
                            content_type: content_type.clone(),
                            body_template: body.clone(),
                            bearer_token: token.as_ref().map(|t| t.expose().to_owned()),
                            provider_id_pointer: id_pointer.clone(),
                            timeout: spec.timeout,
                        },
                        client.clone(),
                    );
                    sender.check_template().map_err(|e| failed(&e))?;
                    Arc::new(sender)
                }
                SenderKind::Smtp {
                    host,
                    port,
                    security,
                    username,
                    password,
                    from,
                    ca_file,
                } => {
                    let ca = match ca_file {
                        Some(path) => Some(std::fs::read(path).map_err(|e| {
                            format!(
                                "the email sender {name:?}: its ca_file {} cannot be read: {e}",
                                path.display()
                            )
                        })?),
                        None => None,
                    };
                    let security = match security.as_str() {
                        "tls" => email::Security::Tls,
                        "plain" => email::Security::Plain,
                        _ => email::Security::Starttls,
                    };
                    let settings = email::Settings {
                        host: host.clone(),
                        port: *port,
                        security,
                        username: username.clone(),
                        password: password.as_ref().map(|p| p.expose().to_owned()),
                        from: from.clone(),
                        timeout: spec.timeout,
                        ca,
                    };
                    Arc::new(
                        email::EmailSender::new(name.clone(), settings).map_err(|e| failed(&e))?,
                    )
                }
                SenderKind::DingTalk { webhook, secret } => Arc::new(
                    robots::RobotSender::dingtalk(
                        name.clone(),
                        robots::DingTalkSettings {
                            webhook: webhook.expose().to_owned(),
                            secret: secret.as_ref().map(|s| s.expose().to_owned()),
                            timeout: spec.timeout,
                        },
                        clock.clone(),
                    )
                    .map_err(|e| failed(&e))?,
                ),
                SenderKind::WeCom { webhook } => Arc::new(
                    robots::RobotSender::wecom(
                        name.clone(),
                        robots::WeComSettings {
                            webhook: webhook.expose().to_owned(),
                            timeout: spec.timeout,
                        },
                    )
                    .map_err(|e| failed(&e))?,
                ),
            };
            Ok((spec.name.clone(), sender))
        })
        .collect()
}
