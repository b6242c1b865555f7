//! A message as a sender receives it: one recipient, one channel, its text already written
//! (`wording`), and the outbox id that every provider's idempotency or correlation field
//! carries.

use serde::{Deserialize, Serialize};

/// How a message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sms,
    Email,
    /// A chat group's robot (DingTalk, WeCom): the address is the sender's webhook.
    Robot,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Robot => "robot",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sms" => Some(Channel::Sms),
            "email" => Some(Channel::Email),
            "robot" => Some(Channel::Robot),
            _ => None,
        }
    }
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The outbox row's id: Aliyun's `OutId`, Tencent's `SessionContext`, a gateway's
    /// `Idempotency-Key`, an email's `Message-ID`. A send repeated after a crash carries
    /// the same id, so the provider (or the recipient's mail client) can tell.
    pub id: i64,
    pub channel: Channel,
    /// A mainland mobile number (SMS), an email address, or the robot's name (the webhook
    /// is the sender's own).
    pub to: String,
    /// The recipient's name, for the email's `To` and the audit.
    pub name: String,
    /// Email subject; a robot message's title.
    pub subject: String,
    /// The plain text: the SMS as it reads on the phone, the email's text part.
    pub text: String,
    /// The SMS template's variables, in the template's order (`name`, value).
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// The email's HTML part; it may show the chart as `cid:chart`.
    #[serde(default)]
    pub html: Option<String>,
    /// A robot's markdown.
    #[serde(default)]
    pub markdown: Option<String>,
    /// A PNG attached inline to the email (Content-ID `chart`).
    #[serde(default, skip)]
    pub chart_png: Option<Vec<u8>>,
    /// The published rankings report (its period's key) an email carries: its workbook is
    /// attached and its chart shown inline, made when it is sent from the stored report.
    #[serde(default)]
    pub report: Option<String>,
    /// Files attached to the email.
    #[serde(default, skip)]
    pub attachments: Vec<Attached>,
}

/// A file attached to an email.
#[derive(Debug, Clone, PartialEq)]
pub struct Attached {
    pub file_name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}
