//! Email over SMTP (lettre): STARTTLS, implicit TLS or plain (an intranet relay), one
//! connection a message. The message is the plain text and the HTML as
//! `multipart/alternative`, inside `multipart/related` with the department's chart inline
//! (`Content-ID: <chart>`) when there is one; the Message-ID is made from the outbox id, so a
//! repeat after a crash carries the same id and the recipient's client can tell. The
//! server's reply says whether trying again can help: 4xx, timeouts and lost connections are
//! worth a retry, 5xx (no such mailbox, authentication refused) are not.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{Outcome, Retry, SendFuture, Sender};
use crate::warnings::message::{Channel, Outgoing};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: only for a relay on the intranet that offers none; credentials, if
    /// any, travel in the clear.
    Plain,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// For servers that want AUTH (PLAIN or LOGIN); a relay that trusts the network needs
    /// none.
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender as the recipients see it, with a display name:
    /// `督办办公室 <duban@example.gov.cn>`. Its domain is also the Message-ID's and the
    /// EHLO's.
    pub from: String,
    /// The longest one send may take, from connecting to the server's answer to the
    /// message: a server that accepts the connection and then says nothing is given up on
    /// after it (lettre bounds only the connect).
    pub timeout: Duration,
    /// Certificate authorities (PEM) to trust besides the public ones: an intranet relay's
    /// certificate is usually signed by the organisation's own CA.
    pub ca: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(
        "the email sender's `from` {from:?} is not a mailbox: write it as an address, with a \
         display name if wanted, like \"督办办公室 <duban@example.gov.cn>\""
    )]
    From { from: String },
    #[error(
        "the email sender has a username but no password (or a password but no username): give both or neither"
    )]
    Credentials,
    #[error("TLS for the SMTP server {host} could not be set up: {reason}")]
    Tls { host: String, reason: String },
}

pub struct EmailSender {
    name: String,
    from: Mailbox,
    /// Where the server is, for the operator's messages.
    server: String,
    timeout: Duration,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl EmailSender {
    pub fn new(name: impl Into<String>, settings: Settings) -> Result<Self, EmailError> {
        let from: Mailbox = settings.from.parse().map_err(|_| EmailError::From {
            from: settings.from.clone(),
        })?;
        let tls = match settings.security {
            Security::Plain => Tls::None,
            Security::Starttls | Security::Tls => {
                let tls_error = |e: lettre::transport::smtp::Error| EmailError::Tls {
                    host: settings.host.clone(),
                    reason: e.to_string(),
                };
                let mut builder = TlsParameters::builder(settings.host.clone());
                if let Some(pem) = &settings.ca {
                    builder = builder
                        .add_root_certificate(Certificate::from_pem(pem).map_err(tls_error)?);
                }
                let parameters = builder.build_rustls().map_err(tls_error)?;
                if settings.security == Security::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout))
            .hello_name(ClientId::Domain(from.email.domain().to_owned()));
        match (settings.username, settings.password) {
            (Some(username), Some(password)) => {
                builder = builder
                    .credentials(Credentials::new(username, password))
                    .authentication(vec![Mechanism::Plain, Mechanism::Login]);
            }
            (None, None) => {}
            _ => return Err(EmailError::Credentials),
        }
        Ok(Self {
            name: name.into(),
            from,
            server: format!("{}:{}", settings.host, settings.port),
            timeout: settings.timeout,
            transport: builder.build(),
        })
    }

    async fn deliver(&self, message: &Outgoing) -> Outcome {
        let email = match compose(&self.from, message) {
            Ok(email) => email,
            Err(outcome) => return outcome,
        };
        let message_id = message_id(&self.from, message.id);
        match tokio::time::timeout(self.timeout, self.transport.send(email)).await {
            Err(_) => Outcome::Failed {
                retry: Retry::Later { after: None },
                code: "timeout".into(),
                reason: format!(
                    "the SMTP server {} did not finish within {:?}; it may be overloaded or \
                     the port may not be SMTP",
                    self.server, self.timeout
                ),
                answer: String::new(),
            },
            Ok(Ok(response)) => Outcome::Accepted {
                provider_id: Some(queued_as(&response).unwrap_or(message_id)),
                answer: answer(&response),
            },
            Ok(Err(error)) => classify(&self.server, &error),
        }
    }
}

impl Sender for EmailSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(self.deliver(message))
    }
}

/// `<duban-{id}@{domain of from}>`: the same for every attempt at one outbox message.
fn message_id(from: &Mailbox, id: i64) -> String {
    format!("<duban-{id}@{}>", from.email.domain())
}

/// The message as it goes out; a recipient that is no address fails it for good.
fn compose(from: &Mailbox, message: &Outgoing) -> Result<Message, Outcome> {
    let never = |code: &str, reason: String| Outcome::Failed {
        retry: Retry::Never,
        code: code.into(),
        reason,
        answer: String::new(),
    };
    let address: Address = message.to.trim().parse().map_err(|_| {
        never(
            "address",
            format!(
                "{:?} is not an email address: correct the contact's email",
                message.to
            ),
        )
    })?;
    let name = Some(message.name.trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(name, address))
        .subject(message.subject.clone())
        .message_id(Some(message_id(from, message.id)));
    let png_type = ContentType::parse("image/png")
        .map_err(|e| never("compose", format!("image/png as a content type: {e}")))?;
    let chart = message
        .chart_png
        .as_ref()
        .map(|png| Attachment::new_inline("chart".to_owned()).body(png.clone(), png_type));
    // The text (and HTML with its inline chart) as one part, then the files beside it.
    let content = match (&message.html, chart) {
        (Some(html), chart) => {
            let alternative = MultiPart::alternative_plain_html(message.text.clone(), html.clone());
            match chart {
                Some(chart) => MultiPart::related()
                    .multipart(alternative)
                    .singlepart(chart)
                    .into(),
                None => alternative.into(),
            }
        }
        // Without HTML nothing refers to the chart, so it is an ordinary inline part.
        (None, Some(chart)) => MultiPart::mixed()
            .singlepart(SinglePart::plain(message.text.clone()))
            .singlepart(chart)
            .into(),
        (None, None) => Content::Single(SinglePart::plain(message.text.clone())),
    };
    let built = if message.attachments.is_empty() {
        match content {
            Content::Single(part) => builder.singlepart(part),
            Content::Multi(part) => builder.multipart(part),
        }
    } else {
        let mut mixed = match content {
            Content::Single(part) => MultiPart::mixed().singlepart(part),
            Content::Multi(part) => MultiPart::mixed().multipart(part),
        };
        for file in &message.attachments {
            let kind = ContentType::parse(&file.content_type).map_err(|e| {
                never(
                    "compose",
                    format!("{} as a content type: {e}", file.content_type),
                )
            })?;
            mixed = mixed
                .singlepart(Attachment::new(file.file_name.clone()).body(file.bytes.clone(), kind));
        }
        builder.multipart(mixed)
    };
    built.map_err(|e| {
        never(
            "compose",
            format!("the email could not be put together: {e}"),
        )
    })
}

/// An email's content before the files are put beside it.
enum Content {
    Single(SinglePart),
    Multi(MultiPart),
}

impl From<MultiPart> for Content {
    fn from(part: MultiPart) -> Self {
        Content::Multi(part)
    }
}

/// The server's id for the queued message, where its answer names one: Postfix's
/// `2.0.0 Ok: queued as 4XyZ12`, Exim's `OK id=1abc23-000456-7D`.
fn queued_as(response: &Response) -> Option<String> {
    let text = response.message().collect::<Vec<_>>().join(" ");
    let lower = text.to_ascii_lowercase();
    let start = if let Some(at) = lower.find("queued as ") {
        at + "queued as ".len()
    } else {
        let at = lower.find("id=")?;
        at + "id=".len()
    };
    let id: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let id = id.trim_matches(|c: char| matches!(c, '<' | '>' | ',' | ';' | '.' | ')' | '('));
    (!id.is_empty()).then(|| id.to_owned())
}

fn answer(response: &Response) -> String {
    let mut answer = response.code().to_string();
    for line in response.message() {
        answer.push(' ');
        answer.push_str(line);
    }
    answer.chars().take(500).collect()
}

/// What a failed conversation means for the retry.
fn classify(server: &str, error: &lettre::transport::smtp::Error) -> Outcome {
    let later = Retry::Later { after: None };
    let (retry, code, reason) = if let Some(code) = error.status() {
        let number = u16::from(code);
        if (400..500).contains(&number) {
            (
                later,
                number.to_string(),
                format!(
                    "the SMTP server {server} refused for now ({error}); it will be tried again"
                ),
            )
        } else {
            (
                Retry::Never,
                number.to_string(),
                format!(
                    "the SMTP server {server} refused the message ({error}); check the \
                     recipient's address, and the sender's username and password"
                ),
            )
        }
    } else if error.is_timeout() {
        (
            later,
            "timeout".to_owned(),
            format!("the SMTP server {server} did not answer in time ({error})"),
        )
    } else if error.is_client() {
        (
            Retry::Never,
            "client".to_owned(),
            format!(
                "the email could not be sent through {server} as configured ({error}); check \
                 the sender's security and authentication settings against the server's"
            ),
        )
    } else if error.is_response() {
        (
            later,
            "response".to_owned(),
            format!("the SMTP server {server} gave an answer that is not SMTP ({error})"),
        )
    } else if error.is_tls() || error.to_string().contains("certificate") {
        // rustls's refusal of the server's certificate reaches here as a connection error.
        (
            later,
            "tls".to_owned(),
            format!(
                "TLS with the SMTP server {server} failed ({error}); if it persists, check \
                 the security setting and the server's certificate (one signed by the \
                 organisation's own CA needs that CA's PEM as the sender's ca_file)"
            ),
        )
    } else {
        (
            later,
            "connection".to_owned(),
            format!("the SMTP server {server} could not be reached or hung up ({error})"),
        )
    };
    Outcome::Failed {
        retry,
        code,
        reason,
        answer: error.to_string().chars().take(500).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outgoing() -> Outgoing {
        Outgoing {
            id: 42,
            channel: Channel::Email,
            to: "zhang@example.gov.cn".into(),
            name: "张三".into(),
            subject: "超期提醒：市住建局 3 项".into(),
            text: "您部门有 3 项超期。".into(),
            params: vec![],
            html: Some("<p>您部门有 3 项超期。</p><img src=\"cid:chart\">".into()),
            markdown: None,
            chart_png: Some(b"\x89PNG\r\n\x1a\nrest".to_vec()),
            report: None,
            attachments: Vec::new(),
        }
    }

    fn from() -> Mailbox {
        "督办办公室 <duban@example.gov.cn>".parse().unwrap()
    }

    fn formatted(message: &Outgoing) -> String {
        String::from_utf8(compose(&from(), message).unwrap().formatted()).unwrap()
    }

    #[test]
    fn the_message_id_is_the_outbox_id_at_the_senders_domain() {
        assert!(formatted(&outgoing()).contains("Message-ID: <duban-42@example.gov.cn>\r\n"));
    }

    #[test]
    fn text_and_html_are_alternatives_related_to_the_inline_chart() {
        let text = formatted(&outgoing());
        let related = text.find("multipart/related").expect("related");
        let alternative = text.find("multipart/alternative").expect("alternative");
        assert!(related < alternative, "{text}");
        assert!(text.contains("Content-ID: <chart>"), "{text}");
        assert!(text.contains("Content-Disposition: inline"), "{text}");
        assert!(text.contains("image/png"), "{text}");
    }

    #[test]
    fn without_a_chart_the_message_is_only_the_alternatives() {
        let mut message = outgoing();
        message.chart_png = None;
        let text = formatted(&message);
        assert!(!text.contains("multipart/related"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
        message.html = None;
        let text = formatted(&message);
        assert!(!text.contains("multipart/"), "{text}");
    }

    #[test]
    fn chinese_headers_are_encoded_words() {
        let text = formatted(&outgoing());
        let headers = &text[..text.find("\r\n\r\n").unwrap()];
        assert!(headers.is_ascii(), "{headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
    }

    #[test]
    fn a_recipient_that_is_no_address_is_never_retried() {
        let mut message = outgoing();
        message.to = "张三".into();
        match compose(&from(), &message) {
            Err(Outcome::Failed { retry, code, .. }) => {
                assert_eq!(retry, Retry::Never);
                assert_eq!(code, "address");
            }
            other => panic!("{:?}", other.map(|m| m.formatted())),
        }
    }

    #[test]
    fn the_queue_id_is_read_from_the_servers_answer() {
        use lettre::transport::smtp::response::{Category, Code, Detail, Severity};
        let ok = |line: &str| {
            Response::new(
                Code::new(
                    Severity::PositiveCompletion,
                    Category::MailSystem,
                    Detail::Zero,
                ),
                vec![line.to_owned()],
            )
        };
        assert_eq!(
            queued_as(&ok("2.0.0 Ok: queued as 4XyZ12")).as_deref(),
            Some("4XyZ12")
        );
        assert_eq!(
            queued_as(&ok("OK id=1abc23-000456-7D")).as_deref(),
            Some("1abc23-000456-7D")
        );
        assert_eq!(queued_as(&ok("2.0.0 Ok")), None);
    }

    #[test]
    fn half_the_credentials_is_refused_at_start() {
        let settings = Settings {
            host: "127.0.0.1".into(),
            port: 25,
            security: Security::Plain,
            username: Some("duban".into()),
            password: None,
            from: "duban@example.gov.cn".into(),
            timeout: Duration::from_secs(5),
            ca: None,
        };
        assert!(matches!(
            EmailSender::new("mail", settings),
            Err(EmailError::Credentials)
        ));
    }
}
