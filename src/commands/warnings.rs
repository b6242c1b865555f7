//! `duban warnings test --sender NAME --to ADDRESS`: one test message through a configured
//! sender, its outcome and the provider's answer printed, so an operator checks keys,
//! templates and addresses before going live (what Grafana's "test contact point" does).
//! Nothing is written to the store.

use std::io::Write;

use anyhow::Context;

use crate::config::Config;
use crate::warnings::contacts::mask;
use crate::warnings::message::{Channel, Outgoing};
use crate::warnings::send::Outcome;

/// Sends the test message; `Ok(true)` when the provider accepted it.
pub async fn test(
    config: &Config,
    sender: &str,
    to: &str,
    now: chrono::DateTime<chrono::Utc>,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    let spec = config
        .warnings
        .senders
        .iter()
        .find(|s| s.name == sender)
        .with_context(|| {
            let names: Vec<&str> = config
                .warnings
                .senders
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            format!(
                "no sender named {sender:?} in {} ([[warnings.senders]]: {})",
                config.path.display(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )
        })?;
    let client = crate::feeds::http_json::client()?;
    let senders = crate::warnings::send::build(
        std::slice::from_ref(spec),
        &client,
        &crate::clock::Clock::System,
    )
    .map_err(anyhow::Error::msg)?;
    let Some(built) = senders.get(sender) else {
        anyhow::bail!("the sender {sender:?} could not be built");
    };
    let local = now.with_timezone(&config.timezone).format("%Y-%m-%d %H:%M");
    let text = format!(
        "【督办测试】这是督办系统经“{sender}”发出的测试消息（{local}），收到即表示配置正确，无需回复。"
    );
    let link = if config.warnings.link_base.is_empty() {
        format!("http://{}/", config.listen)
    } else {
        format!("{}/", config.warnings.link_base)
    };
    let message = Outgoing {
        // Not an outbox row: an id of its own, so the provider's idempotency key is new.
        id: now.timestamp_millis(),
        channel: spec.channel,
        to: to.to_owned(),
        name: "测试".into(),
        subject: "【督办测试】测试消息".into(),
        text: text.clone(),
        params: vec![
            ("title".into(), "测试".into()),
            ("department".into(), "督办系统".into()),
            ("count".into(), "0".into()),
            ("detail".into(), "测试消息，收到即表示配置正确".into()),
            ("link".into(), link.clone()),
        ],
        html: (spec.channel == Channel::Email).then(|| {
            format!(
                "<!doctype html><html><body><p>{}</p><p><a href=\"{}\">{}</a></p></body></html>",
                crate::warnings::wording::escape(&text),
                crate::warnings::wording::escape(&link),
                crate::warnings::wording::escape(&link)
            )
        }),
        markdown: (spec.channel == Channel::Robot).then(|| format!("### 督办测试\n{text}")),
        chart_png: None,
        report: None,
        attachments: Vec::new(),
    };
    let shown = if spec.channel == Channel::Robot {
        sender.to_owned()
    } else {
        mask(to)
    };
    writeln!(
        out,
        "sending a test {} through {sender:?} to {shown} …",
        spec.channel.as_str()
    )?;
    let outcome = built.send(&message).await;
    match &outcome {
        Outcome::Accepted {
            provider_id,
            answer,
        } => {
            writeln!(
                out,
                "accepted by the provider (message id {}){}",
                provider_id.as_deref().unwrap_or("not given"),
                if spec.channel == Channel::Sms {
                    "; a delivery report follows if the hook is configured"
                } else {
                    ""
                }
            )?;
            if !answer.is_empty() {
                writeln!(out, "the provider answered: {answer}")?;
            }
        }
        Outcome::Failed {
            retry,
            code,
            reason,
            answer,
        } => {
            let kind = match retry {
                crate::warnings::send::Retry::Never => {
                    "a permanent failure: fix the config or the address"
                }
                crate::warnings::send::Retry::Later { .. } => {
                    "a passing failure: the outbox would try again"
                }
            };
            writeln!(out, "NOT sent: {code}: {reason} ({kind})")?;
            if !answer.is_empty() {
                writeln!(out, "the provider answered: {answer}")?;
            }
        }
    }
    out.flush()?;
    Ok(matches!(outcome, Outcome::Accepted { .. }))
}
