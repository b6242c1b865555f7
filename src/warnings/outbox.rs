//! The outbox's worker: claims the messages that are due (leased, so a worker killed
//! mid-send leaves them to be claimed again), hands each to its sender, and records every
//! attempt. A failure the sender calls retryable is tried again with exponential backoff
//! and jitter (or when the provider says), inside the quiet hours' window for SMS and
//! robots; a permanent one stops at once and shows in the audit; after `max_attempts` the
//! message is given up as failed. A send the store recorded as accepted is never made
//! again; one in flight when the process dies goes once more, with the same message id as
//! the provider's idempotency key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::message::Channel;
use super::send::{Outcome, Retry, Sender};
use crate::ingest::Shared;
use crate::store::warnings::{AttemptRecord, Claimed, Next};

/// Messages claimed at once.
const BATCH: i64 = 500;
/// Sends in flight at once.
const IN_FLIGHT: usize = 64;
/// How long a claim holds a message: longer than any sender's timeout.
const LEASE: Duration = Duration::from_secs(180);
/// The first retry's delay; each later one doubles it, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The configured senders by name.
pub type Senders = HashMap<String, Arc<dyn Sender>>;

/// When to try again after `attempts` attempts: 30 s, 1 min, 2 min, … up to an hour, each
/// spread by ±25% so that many messages failed at once do not come back at once; the
/// provider's own hint wins when it asks for longer. `jitter` is in [0, 1).
pub fn backoff(attempts: u32, hint: Option<Duration>, jitter: f64) -> Duration {
    let doublings = attempts.saturating_sub(1).min(16);
    let base = FIRST_BACKOFF
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF);
    let spread = base.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0));
    // The provider's (or the rate limiter's) own time, a second's jitter added.
    hint.map_or(spread, |h| {
        h + Duration::from_secs_f64(jitter.clamp(0.0, 1.0))
    })
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// The worker's task.
pub async fn run(shared: Arc<Shared>, senders: Arc<Senders>, shutdown: CancellationToken) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut sends = tokio::task::JoinSet::new();
    match shared.store.release_claims().await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            messages = n,
            "messages claimed when duban last stopped go again now (the provider may see them twice, with the same id)"
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot free the claims of the last run; they go when their leases run out")
        }
    }
    loop {
        let now = shared.clock.now();
        let lease_until = now + LEASE;
        let claimed = match shared.store.claim_due(now, lease_until, BATCH).await {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::error!(error = %e, "cannot claim due warnings; trying again in 5 s");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
                continue;
            }
        };
        let full = claimed.len() as i64 == BATCH;
        for message in claimed {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let (shared, senders) = (shared.clone(), senders.clone());
            sends.spawn(async move {
                deliver(&shared, &senders, message).await;
                drop(slot);
            });
        }
        while sends.try_join_next().is_some() {}
        if full {
            continue;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = shared.outbox.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
        }
    }
    // Sends under way finish and are recorded; nothing new is claimed.
    while sends.join_next().await.is_some() {}
}

/// Sends one claimed message and records the attempt.
pub async fn deliver(shared: &Shared, senders: &Senders, claimed: Claimed) {
    let config = &shared.config.warnings;
    let Claimed {
        mut message,
        sender,
        department,
        attempts,
    } = claimed;
    let outcome = match senders.get(&sender) {
        Some(s) => {
            if message.channel == Channel::Email {
                if message.report.is_some() {
                    crate::rankings::schedule::attach(shared, &mut message).await;
                } else {
                    super::chart::attach(shared, &department, &mut message);
                }
            }
            s.send(&message).await
        }
        None => Outcome::Failed {
            retry: Retry::Never,
            code: "no-sender".into(),
            reason: format!(
                "no sender named {sender:?} in the config any more ([[warnings.senders]])"
            ),
            answer: String::new(),
        },
    };
    let now = shared.clock.now();
    let (outcome_word, provider_id, code, error, answer, next) = match &outcome {
        Outcome::Accepted {
            provider_id,
            answer,
        } => (
            "accepted",
            provider_id.clone(),
            String::new(),
            String::new(),
            answer.clone(),
            Next::Sent {
                provider_id: provider_id.clone(),
            },
        ),
        Outcome::Failed {
            retry,
            code,
            reason,
            answer,
        } => {
            let next = match retry {
                Retry::Later { after } if attempts < config.max_attempts => {
                    let at = retry_at(
                        shared,
                        message.channel,
                        now,
                        backoff(attempts, *after, jitter()),
                    );
                    Next::RetryAt { at }
                }
                _ => Next::Failed,
            };
            let mut reason = reason.clone();
            if matches!(retry, Retry::Later { .. }) && matches!(next, Next::Failed) {
                reason = format!("{reason} (given up after {attempts} attempts)");
            }
            let word = if matches!(retry, Retry::Never) {
                "permanent"
            } else {
                "retryable"
            };
            (word, None, code.clone(), reason, answer.clone(), next)
        }
    };
    match &next {
        Next::Sent { .. } => shared.metrics.count_warning(message.channel, "sent"),
        Next::RetryAt { .. } => shared.metrics.count_warning(message.channel, "retried"),
        Next::Failed => shared.metrics.count_warning(message.channel, "failed"),
    }
    let record = AttemptRecord {
        message_id: message.id,
        at: now,
        outcome: outcome_word,
        provider_id: provider_id.as_deref(),
        code: &code,
        error: &error,
        answer: &truncate(&answer, 2000),
        next,
    };
    if let Err(e) = shared.store.record_attempt(&record).await {
        // The lease runs out and the message is claimed again: sent once more at worst,
        // with the same id for the provider to recognise.
        tracing::error!(message = message.id, error = %e, "cannot record a warning's attempt");
    } else if outcome_word != "accepted" {
        tracing::warn!(
            message = message.id,
            sender = %sender,
            to = %super::contacts::mask(&message.to),
            outcome = outcome_word,
            code = %code,
            error = %error,
            "a warning was not sent"
        );
    }
}

/// When a retry may go: after the backoff, and inside the window for SMS and robots.
fn retry_at(
    shared: &Shared,
    channel: Channel,
    now: DateTime<Utc>,
    delay: Duration,
) -> DateTime<Utc> {
    let config = &shared.config.warnings;
    let at = now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
    if channel == Channel::Email && config.email_any_time {
        return at;
    }
    config
        .window
        .next_open(at, shared.config.timezone, &shared.calendar)
        .unwrap_or(at)
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_the_providers_hint() {
        let secs = |d: Duration| d.as_secs_f64();
        assert_eq!(secs(backoff(1, None, 0.5)), 30.0);
        assert_eq!(secs(backoff(2, None, 0.5)), 60.0);
        assert_eq!(secs(backoff(3, None, 0.5)), 120.0);
        assert_eq!(secs(backoff(30, None, 0.5)), 3600.0);
        assert_eq!(secs(backoff(1, None, 0.0)), 22.5);
        assert_eq!(secs(backoff(1, None, 0.999_999)).round(), 37.0);
        // Retry-After: 120 s asked for on the first attempt: at least that.
        assert!(backoff(1, Some(Duration::from_secs(120)), 0.5) >= Duration::from_secs(120));
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
