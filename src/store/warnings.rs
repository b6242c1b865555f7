//! The warnings' tables: where the rules stand (`warning_marks`), what each rule warned
//! (`warned_items`), the outbox (`messages`, with `message_items`), every attempt
//! (`attempts`), the receipts, and the answers and silences (`answers`). A rule run's
//! messages, its warned items and its log position are written in one transaction, so no
//! change is missed or warned twice across crashes; workers claim due messages with a lease
//! (SQLite) or `FOR UPDATE SKIP LOCKED` (PostgreSQL). Times here are RFC 3339 with
//! milliseconds, so they sort as text.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Dialect, Store, StoreError, query};
use crate::warnings::message::{Channel, Outgoing};
use crate::warnings::wording::Draft;

/// A statement with its values bound as they come.
type Query = sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>;

/// An instant as these tables keep it.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A message to write, with when it may go.
pub struct Queued<'a> {
    pub draft: &'a Draft,
    pub not_before: DateTime<Utc>,
    /// Held by the quiet hours (shown in the audit and counted).
    pub held: bool,
}

/// What a rule run writes, all at once.
pub struct RunWrite<'a> {
    /// The change-log position read up to.
    pub log_position: i64,
    /// Scheduled rules run, with the instant each ran for.
    pub schedules: Vec<(String, DateTime<Utc>)>,
    /// (rule, item, window) warned by this run.
    pub warned: Vec<(String, String, String)>,
    pub messages: Vec<Queued<'a>>,
    pub now: DateTime<Utc>,
}

/// A message claimed for sending.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub message: Outgoing,
    pub sender: String,
    pub department: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// What an attempt came to, for the message's row.
pub enum Next {
    Sent { provider_id: Option<String> },
    RetryAt { at: DateTime<Utc> },
    Failed,
}

/// One attempt as recorded.
pub struct AttemptRecord<'a> {
    pub message_id: i64,
    pub at: DateTime<Utc>,
    /// `accepted`, `retryable` or `permanent`.
    pub outcome: &'a str,
    pub provider_id: Option<&'a str>,
    pub code: &'a str,
    pub error: &'a str,
    pub answer: &'a str,
    pub next: Next,
}

/// The stored body of a message (its words on every channel it needs).
#[derive(Debug, Serialize, serde::Deserialize)]
struct Body {
    text: String,
    #[serde(default)]
    params: Vec<(String, String)>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    markdown: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    report: Option<String>,
}

/// Filters of the delivery audit.
#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub department: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
    pub rule: Option<String>,
    pub item: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
}

/// A message in the audit, with its attempts.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub rule: String,
    pub department: String,
    pub channel: String,
    pub sender: String,
    pub role: String,
    pub recipient: String,
    pub address: String,
    pub items: Vec<String>,
    pub subject: String,
    pub text: String,
    pub created_at: String,
    pub not_before: String,
    pub held: bool,
    pub status: String,
    pub attempts: Vec<Attempt>,
    pub provider_id: Option<String>,
    pub last_error: Option<String>,
    pub sent_at: Option<String>,
    pub receipt: Option<String>,
    pub receipt_reason: Option<String>,
    pub receipt_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub at: String,
    pub outcome: String,
    pub provider_id: Option<String>,
    pub code: String,
    pub error: String,
    pub answer: String,
}

/// The counts behind `/metrics` and the screens' warnings panel.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StatusCount {
    pub channel: String,
    pub status: String,
    pub held: bool,
    pub count: i64,
    pub retried: i64,
}

/// One channel's messages of the day, for the screens' warnings panel.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ChannelDay {
    pub channel: String,
    /// Accepted by the provider (`sent`), or with a receipt saying it arrived (`delivered`).
    pub sent: i64,
    /// Pending and inside the send window: the worker is on it.
    pub pending: i64,
    /// Pending because the quiet hours hold it.
    pub held: i64,
    /// Given up (`failed`), or reported by the provider as not arrived (`undelivered`).
    pub failed: i64,
}

/// The warnings since an instant (the screens: since local midnight), counted in the store.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct WarningCounts {
    /// Every channel with a message since then, by name.
    pub channels: Vec<ChannelDay>,
    /// Messages of the escalation ladder (`escalation-1` 督办单 and the rungs above).
    pub escalations: i64,
    /// Distinct items those messages named.
    pub escalated_items: i64,
    /// Distinct items any message since then named.
    pub warned_items: i64,
    /// Of those, the items a department answered (回告: an `answers` row of kind `answer`)
    /// at or after a message that named them.
    pub answered_items: i64,
}

impl Store {
    /// A mark's position and instant (`log`, `schedule:digest`); `None` before the first run.
    pub async fn warning_mark(
        &self,
        name: &str,
    ) -> Result<Option<(i64, Option<DateTime<Utc>>)>, StoreError> {
        let row = query(&self.sql("SELECT position, at FROM warning_marks WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            None => None,
            Some(row) => Some((
                row.try_get("position")?,
                row.try_get::<Option<String>, _>("at")?
                    .as_deref()
                    .and_then(parse_instant),
            )),
        })
    }

    /// Sets where the rules start when they first run on this store.
    pub async fn start_warnings_at(&self, position: i64) -> Result<(), StoreError> {
        query(&self.sql(
            "INSERT INTO warning_marks (name, position) VALUES ('log', $1) \
             ON CONFLICT (name) DO NOTHING",
        ))
        .bind(position)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The (rule, item, window) warned with a window on or after `since` (windows are dates).
    pub async fn warned_since(
        &self,
        since: NaiveDate,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = query(
            &self.sql("SELECT rule, item_id, window_key FROM warned_items WHERE window_key >= $1"),
        )
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("rule")?,
                    r.try_get("item_id")?,
                    r.try_get("window_key")?,
                ))
            })
            .collect()
    }

    /// Writes a rule run: its messages (a message whose dedup key exists is not written
    /// again), the items it warned and the marks, in one transaction. Returns each written
    /// message as (its index in `run.messages`, its id): a repeat of a dedup key is left out.
    pub async fn write_run(&self, run: &RunWrite<'_>) -> Result<Vec<(usize, i64)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = instant(run.now);
        let ids = self
            .insert_messages(&mut tx, &run.messages, None, &now, run.log_position)
            .await?;
        let warned = self.sql(
            "INSERT INTO warned_items (rule, item_id, window_key, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        );
        for (rule, item_id, window) in &run.warned {
            query(&warned)
                .bind(rule.clone())
                .bind(item_id.clone())
                .bind(window.clone())
                .bind(now.clone())
                .execute(&mut *tx)
                .await?;
        }
        let mark = self.sql(
            "INSERT INTO warning_marks (name, position, at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, at = excluded.at",
        );
        query(&mark)
            .bind("log")
            .bind(run.log_position)
            .bind(now.clone())
            .execute(&mut *tx)
            .await?;
        for (name, at) in &run.schedules {
            query(&mark)
                .bind(format!("schedule:{name}"))
                .bind(0i64)
                .bind(instant(*at))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Writes messages to the outbox outside a rule run (the monthly report's mail, which
    /// names the published report it carries): the warnings' log position is not touched.
    /// Returns the ids of the messages written (a dedup key already stored writes none).
    pub async fn queue_messages(
        &self,
        messages: &[Queued<'_>],
        report: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let ids = self
            .insert_messages(&mut tx, messages, report, &instant(now), 0)
            .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(|(_, id)| id).collect())
    }

    /// Inserts `messages` (and the items each names) in `tx`, a few hundred rows a
    /// statement (one statement a message made PostgreSQL's rule runs half the outbox's
    /// time); returns (index, id) of each written (a dedup key already stored writes none).
    async fn insert_messages(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        messages: &[Queued<'_>],
        report: Option<&str>,
        now: &str,
        log_position: i64,
    ) -> Result<Vec<(usize, i64)>, StoreError> {
        /// Rows a statement: 15 values each, far below either database's limit of values.
        const ROWS: usize = 500;
        const COLUMNS: usize = 15;
        let mut ids = Vec::with_capacity(messages.len());
        let mut named: Vec<(i64, &str)> = Vec::new();
        for (chunk_at, chunk) in messages.chunks(ROWS).enumerate() {
            let values: Vec<String> = (0..chunk.len())
                .map(|row| {
                    let cells: Vec<String> = (1..=COLUMNS)
                        .map(|c| format!("${}", row * COLUMNS + c))
                        .collect();
                    format!("({}, 'pending')", cells.join(", "))
                })
                .collect();
            let insert = self.sql(&format!(
                "INSERT INTO messages (dedup_key, rule, department, channel, sender, role, \
                 recipient, address, items, subject, body, created_at, log_position, not_before, \
                 held, status) VALUES {} ON CONFLICT (dedup_key) DO NOTHING RETURNING id, dedup_key",
                values.join(", ")
            ));
            let mut statement = query(&insert);
            for queued in chunk {
                let d = queued.draft;
                let body = serde_json::to_string(&Body {
                    text: d.text.clone(),
                    params: d.params.clone(),
                    html: d.html.clone(),
                    markdown: d.markdown.clone(),
                    report: report.map(str::to_owned),
                })
                .map_err(|e| StoreError::Query(sqlx::Error::Encode(Box::new(e))))?;
                let items: Vec<&str> = d.items.iter().map(|(i, _)| i.as_str()).collect();
                statement = statement
                    .bind(d.dedup_key.clone())
                    .bind(d.rule.as_string())
                    .bind(d.department.clone())
                    .bind(d.channel.as_str())
                    .bind(d.sender.clone())
                    .bind(d.role.clone())
                    .bind(d.recipient.clone())
                    .bind(d.address.clone())
                    .bind(items.join(","))
                    .bind(d.subject.clone())
                    .bind(body)
                    .bind(now.to_owned())
                    .bind(log_position)
                    .bind(instant(queued.not_before))
                    .bind(i64::from(queued.held));
            }
            let rows = statement.fetch_all(&mut **tx).await?;
            // Back to the drafts by their keys (a key twice in one run is written once).
            let mut index: std::collections::HashMap<&str, usize> = Default::default();
            for (i, queued) in chunk.iter().enumerate() {
                index
                    .entry(queued.draft.dedup_key.as_str())
                    .or_insert(chunk_at * ROWS + i);
            }
            for row in rows {
                let id: i64 = row.try_get("id")?;
                let key: String = row.try_get("dedup_key")?;
                if let Some(&at) = index.get(key.as_str()) {
                    ids.push((at, id));
                    named.extend(
                        messages[at]
                            .draft
                            .items
                            .iter()
                            .map(|(item, _)| (id, item.as_str())),
                    );
                }
            }
        }
        ids.sort_unstable();
        for pairs in named.chunks(1_000) {
            let values: Vec<String> = (0..pairs.len())
                .map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = self.sql(&format!(
                "INSERT INTO message_items (message_id, item_id) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            ));
            let mut statement = query(&sql);
            for (id, item) in pairs {
                statement = statement.bind(*id).bind((*item).to_owned());
            }
            statement.execute(&mut **tx).await?;
        }
        Ok(ids)
    }

    /// Claims up to `limit` messages due at `now`, leasing them until `lease_until`: a
    /// worker that dies mid-send leaves its messages to be claimed again when the lease
    /// runs out. Each claim counts as an attempt.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Claimed>, StoreError> {
        let lock = match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        };
        let rows = query(&self.sql(&format!(
            "UPDATE messages SET lease_until = $1, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM messages WHERE status = 'pending' AND not_before <= $2 \
                          AND (lease_until IS NULL OR lease_until <= $3) \
                          ORDER BY not_before, id LIMIT $4{lock}) \
             RETURNING id, channel, sender, department, recipient, address, subject, body, attempts"
        )))
        .bind(instant(lease_until))
        .bind(instant(now))
        .bind(instant(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let body: String = row.try_get("body")?;
                let body: Body = serde_json::from_str(&body)
                    .map_err(|e| StoreError::Query(sqlx::Error::Decode(Box::new(e))))?;
                let channel: String = row.try_get("channel")?;
                Ok(Claimed {
                    message: Outgoing {
                        id: row.try_get("id")?,
                        channel: Channel::parse(&channel).unwrap_or(Channel::Sms),
                        to: row.try_get("address")?,
                        name: row.try_get("recipient")?,
                        subject: row.try_get("subject")?,
                        text: body.text,
                        params: body.params,
                        html: body.html,
                        markdown: body.markdown,
                        chart_png: None,
                        report: body.report,
                        attachments: Vec::new(),
                    },
                    sender: row.try_get("sender")?,
                    department: row.try_get("department")?,
                    attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Frees the claims a previous process held when it stopped (killed mid-send, say), so
    /// their messages go at once rather than when the leases run out. Called by the outbox
    /// worker as it starts: one worker sends a store's warnings (on PostgreSQL, the replica
    /// that leads), so no claim it frees is still being worked on.
    pub async fn release_claims(&self) -> Result<u64, StoreError> {
        let done = query(
            "UPDATE messages SET lease_until = NULL              WHERE status = 'pending' AND lease_until IS NOT NULL",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records an attempt and what it means for the message, in one transaction. A message
    /// no longer pending (another worker recorded it after this one's lease ran out) keeps
    /// its state; the attempt is recorded all the same.
    pub async fn record_attempt(&self, a: &AttemptRecord<'_>) -> Result<(), StoreError> {
        const ATTEMPT: &str = "INSERT INTO attempts (message_id, at, outcome, provider_id, code, \
                               error, answer) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        // The message's new state, its values numbered from `n`.
        let update = |n: usize| match &a.next {
            Next::Sent { .. } => format!(
                "UPDATE messages SET status = 'sent', provider_id = ${}, sent_at = ${}, \
                 lease_until = NULL WHERE id = ${} AND status = 'pending'",
                n,
                n + 1,
                n + 2
            ),
            Next::RetryAt { .. } => format!(
                "UPDATE messages SET not_before = ${}, lease_until = NULL, last_error = ${} \
                 WHERE id = ${} AND status = 'pending'",
                n,
                n + 1,
                n + 2
            ),
            Next::Failed => format!(
                "UPDATE messages SET status = 'failed', lease_until = NULL, last_error = ${} \
                 WHERE id = ${} AND status = 'pending'",
                n,
                n + 1
            ),
        };
        let error = (!a.error.is_empty()).then(|| format!("{} {}", a.code, a.error));
        let attempt_values = |q: Query| {
            q.bind(a.message_id)
                .bind(instant(a.at))
                .bind(a.outcome)
                .bind(a.provider_id.map(str::to_owned))
                .bind(a.code)
                .bind(a.error)
                .bind(a.answer)
        };
        let update_values = |q: Query| match &a.next {
            Next::Sent { provider_id } => q
                .bind(provider_id.clone())
                .bind(instant(a.at))
                .bind(a.message_id),
            Next::RetryAt { at } => q.bind(instant(*at)).bind(error.clone()).bind(a.message_id),
            Next::Failed => q.bind(error.clone()).bind(a.message_id),
        };
        match self.dialect {
            // One statement, so one round trip and one commit a send (four, as a
            // transaction, held PostgreSQL's outbox under 1,000 messages a second).
            Dialect::Postgres => {
                let sql = format!("WITH attempt AS ({ATTEMPT}) {}", update(8));
                update_values(attempt_values(query(&sql)))
                    .execute(&self.pool)
                    .await?;
            }
            Dialect::Sqlite => {
                let mut tx = self.pool.begin().await?;
                attempt_values(query(&self.sql(ATTEMPT)))
                    .execute(&mut *tx)
                    .await?;
                update_values(query(&self.sql(&update(1))))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Records a provider's receipt on the message it names (by the provider's id, or by
    /// duban's own id where the provider echoes it). Returns whether a message matched.
    pub async fn record_receipt(
        &self,
        sender: &str,
        receipt: &crate::warnings::send::Receipt,
    ) -> Result<bool, StoreError> {
        let status = if receipt.delivered {
            "delivered"
        } else {
            "undelivered"
        };
        let reason = format!("{} {}", receipt.code, receipt.reason)
            .trim()
            .to_owned();
        let at = receipt.at.map(instant);
        let done = query(&self.sql(
            "UPDATE messages SET status = $1, receipt = $2, receipt_reason = $3, receipt_at = $4 \
             WHERE sender = $5 AND (provider_id = $6 OR id = $7)",
        ))
        .bind(status)
        .bind(receipt.code.clone())
        .bind(reason)
        .bind(at)
        .bind(sender)
        .bind(receipt.provider_id.clone())
        .bind(receipt.out_id.unwrap_or(-1))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The delivery audit: messages newest first, each with its attempts.
    pub async fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let mut clauses = Vec::new();
        let mut params: Vec<String> = Vec::new();
        let mut n = 0;
        let mut add = |clause: &str, value: String| {
            n += 1;
            clauses.push(clause.replace('?', &format!("${n}")));
            params.push(value);
        };
        if let Some(v) = &filter.department {
            add("department = ?", v.clone());
        }
        if let Some(v) = &filter.channel {
            add("channel = ?", v.clone());
        }
        if let Some(v) = &filter.status {
            add("status = ?", v.clone());
        }
        if let Some(v) = &filter.rule {
            add("rule = ?", v.clone());
        }
        if let Some(v) = &filter.item {
            add(
                "id IN (SELECT message_id FROM message_items WHERE item_id = ?)",
                v.clone(),
            );
        }
        if let Some(v) = filter.from {
            add("created_at >= ?", instant(v));
        }
        if let Some(v) = filter.to {
            add("created_at < ?", instant(v));
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = self.sql(&format!(
            "SELECT id, rule, department, channel, sender, role, recipient, address, items, \
             subject, body, created_at, not_before, held, status, provider_id, last_error, \
             sent_at, receipt, receipt_reason, receipt_at FROM messages {filter_sql} \
             ORDER BY id DESC LIMIT {}",
            filter.limit.clamp(1, 10_000)
        ));
        let mut q = query(&sql);
        for p in params {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let body: String = row.try_get("body")?;
            let text = serde_json::from_str::<Body>(&body)
                .map(|b| b.text)
                .unwrap_or(body);
            let items: String = row.try_get("items")?;
            out.push(Delivery {
                id: row.try_get("id")?,
                rule: row.try_get("rule")?,
                department: row.try_get("department")?,
                channel: row.try_get("channel")?,
                sender: row.try_get("sender")?,
                role: row.try_get("role")?,
                recipient: row.try_get("recipient")?,
                address: row.try_get("address")?,
                items: items
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                subject: row.try_get("subject")?,
                text,
                created_at: row.try_get("created_at")?,
                not_before: row.try_get("not_before")?,
                held: row.try_get::<i64, _>("held")? != 0,
                status: row.try_get("status")?,
                attempts: Vec::new(),
                provider_id: row.try_get("provider_id")?,
                last_error: row.try_get("last_error")?,
                sent_at: row.try_get("sent_at")?,
                receipt: row.try_get("receipt")?,
                receipt_reason: row.try_get("receipt_reason")?,
                receipt_at: row.try_get("receipt_at")?,
            });
        }
        if let (Some(first), Some(last)) = (out.last().map(|d| d.id), out.first().map(|d| d.id)) {
            let rows = query(&self.sql(
                "SELECT message_id, at, outcome, provider_id, code, error, answer FROM attempts \
                 WHERE message_id >= $1 AND message_id <= $2 ORDER BY id",
            ))
            .bind(first)
            .bind(last)
            .fetch_all(&self.pool)
            .await?;
            let index: std::collections::HashMap<i64, usize> =
                out.iter().enumerate().map(|(i, d)| (d.id, i)).collect();
            for row in &rows {
                let id: i64 = row.try_get("message_id")?;
                if let Some(&i) = index.get(&id) {
                    out[i].attempts.push(Attempt {
                        at: row.try_get("at")?,
                        outcome: row.try_get("outcome")?,
                        provider_id: row.try_get("provider_id")?,
                        code: row.try_get("code")?,
                        error: row.try_get("error")?,
                        answer: row.try_get("answer")?,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Messages by channel and status (held ones apart), with how many took more than one
    /// attempt.
    pub async fn delivery_counts(&self) -> Result<Vec<StatusCount>, StoreError> {
        let rows = query(
            "SELECT channel, status, held, COUNT(*) AS n, \
             SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) AS retried \
             FROM messages GROUP BY channel, status, held ORDER BY channel, status, held",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StatusCount {
                    channel: r.try_get("channel")?,
                    status: r.try_get("status")?,
                    held: r.try_get::<i64, _>("held")? != 0,
                    count: r.try_get("n")?,
                    retried: r.try_get("retried")?,
                })
            })
            .collect()
    }

    /// The warnings since `since`: by channel and state, the escalations, and how many of
    /// the items warned about were answered after the warning. Kept apart from
    /// `delivery_counts` (all time, for `/metrics`): a screen shows the day.
    pub async fn warning_counts_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<WarningCounts, StoreError> {
        let since = instant(since);
        // COUNT over CASE rather than SUM: SUM of integers is NUMERIC on PostgreSQL, which
        // the `Any` driver does not read as an integer.
        let rows = query(&self.sql(
            "SELECT channel, \
             COUNT(CASE WHEN status IN ('sent', 'delivered') THEN 1 END) AS sent, \
             COUNT(CASE WHEN status = 'pending' AND held = 0 THEN 1 END) AS pending, \
             COUNT(CASE WHEN status = 'pending' AND held <> 0 THEN 1 END) AS held, \
             COUNT(CASE WHEN status IN ('failed', 'undelivered') THEN 1 END) AS failed \
             FROM messages WHERE created_at >= $1 GROUP BY channel ORDER BY channel",
        ))
        .bind(since.clone())
        .fetch_all(&self.pool)
        .await?;
        let mut counts = WarningCounts::default();
        for r in &rows {
            counts.channels.push(ChannelDay {
                channel: r.try_get("channel")?,
                sent: r.try_get("sent")?,
                pending: r.try_get("pending")?,
                held: r.try_get("held")?,
                failed: r.try_get("failed")?,
            });
        }
        let row = query(&self.sql(
            "SELECT COUNT(*) AS n FROM messages WHERE created_at >= $1 AND rule LIKE 'escalation-%'",
        ))
        .bind(since.clone())
        .fetch_one(&self.pool)
        .await?;
        counts.escalations = row.try_get("n")?;
        let row = query(&self.sql(
            "SELECT COUNT(DISTINCT mi.item_id) AS n FROM message_items mi \
             JOIN messages m ON m.id = mi.message_id \
             WHERE m.created_at >= $1 AND m.rule LIKE 'escalation-%'",
        ))
        .bind(since.clone())
        .fetch_one(&self.pool)
        .await?;
        counts.escalated_items = row.try_get("n")?;
        let row = query(&self.sql(
            "SELECT COUNT(DISTINCT mi.item_id) AS n FROM message_items mi \
             JOIN messages m ON m.id = mi.message_id WHERE m.created_at >= $1",
        ))
        .bind(since.clone())
        .fetch_one(&self.pool)
        .await?;
        counts.warned_items = row.try_get("n")?;
        // An answer counts for the warning it follows: one given before today's message
        // (to yesterday's) does not answer today's.
        let row = query(&self.sql(
            "SELECT COUNT(DISTINCT mi.item_id) AS n FROM message_items mi \
             JOIN messages m ON m.id = mi.message_id WHERE m.created_at >= $1 \
             AND EXISTS (SELECT 1 FROM answers a WHERE a.item_id = mi.item_id \
                         AND a.kind = 'answer' AND a.at >= m.created_at)",
        ))
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        counts.answered_items = row.try_get("n")?;
        Ok(counts)
    }

    /// Each item's latest answer and silence that still hold on `today`: (item, kind, until).
    pub async fn answers_holding(
        &self,
        today: NaiveDate,
    ) -> Result<Vec<(String, String, NaiveDate)>, StoreError> {
        let rows = query(&self.sql(
            "SELECT item_id, kind, MAX(until) AS until FROM answers WHERE until >= $1 \
             GROUP BY item_id, kind",
        ))
        .bind(today.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let until: String = r.try_get("until")?;
            if let Ok(until) = NaiveDate::parse_from_str(&until, "%Y-%m-%d") {
                out.push((r.try_get("item_id")?, r.try_get("kind")?, until));
            }
        }
        Ok(out)
    }
}
