//! The `log` sender: records what would be sent (the demo's, and a dry run's), and accepts.

use super::{Outcome, SendFuture, Sender};
use crate::warnings::message::{Channel, Outgoing};

pub struct LogSender {
    pub name: String,
    pub channel: Channel,
}

impl Sender for LogSender {
    fn name(&self) -> &str {
        &self.name
    }

    fn channel(&self) -> Channel {
        self.channel
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            tracing::info!(
                sender = %self.name,
                channel = message.channel.as_str(),
                to = %crate::warnings::contacts::mask(&message.to),
                id = message.id,
                text = %message.text,
                "warning (log sender: not sent anywhere)"
            );
            Outcome::Accepted {
                provider_id: Some(format!("log-{}", message.id)),
                answer: String::new(),
            }
        })
    }
}
