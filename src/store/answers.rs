//! The answers (回告) departments give through their signed links and the silences the
//! office puts on items, both rows of `answers` (each stops an item's repeat warnings
//! until its date; `Store::answers_holding` is what the rules read), and the messages that
//! named an item, for its page. Times are RFC 3339 text in UTC, as in `warnings`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::Row;

use super::warnings::instant;
use super::{Store, StoreError, query};

/// What a row of `answers` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerKind {
    /// A department's answer: why the item is late and when it expects to finish.
    Answer,
    /// The office's: no repeat warnings for the item until the date.
    Silence,
}

impl AnswerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerKind::Answer => "answer",
            AnswerKind::Silence => "silence",
        }
    }
}

/// An answer or silence to record.
#[derive(Debug, Clone)]
pub struct NewAnswer<'a> {
    pub kind: AnswerKind,
    pub item_id: &'a str,
    pub until: NaiveDate,
    pub reason: &'a str,
    pub by_whom: &'a str,
    pub at: DateTime<Utc>,
    /// The message answered, when the link carried it.
    pub message_id: Option<i64>,
}

/// A recorded answer or silence, as the API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnswerRow {
    pub id: i64,
    /// `answer` or `silence`.
    pub kind: String,
    pub item_id: String,
    pub until: String,
    pub reason: String,
    pub by_whom: String,
    pub at: String,
    pub message_id: Option<i64>,
}

/// A message that named an item (the item page's 预警记录).
#[derive(Debug, Clone, Serialize)]
pub struct ItemWarning {
    pub id: i64,
    pub rule: String,
    pub channel: String,
    /// The recipient's role (handler, head, office…), not the person: the item page is
    /// for viewers, and the names and numbers are the audit's, behind masking.
    pub role: String,
    pub status: String,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl Store {
    /// Records an answer or a silence; returns the row as stored.
    pub async fn add_answer(&self, answer: &NewAnswer<'_>) -> Result<AnswerRow, StoreError> {
        let at = instant(answer.at);
        let until = answer.until.format("%Y-%m-%d").to_string();
        let row = query(&self.sql(
            "INSERT INTO answers (kind, item_id, until, reason, by_whom, at, message_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        ))
        .bind(answer.kind.as_str())
        .bind(answer.item_id.to_owned())
        .bind(until.clone())
        .bind(answer.reason.to_owned())
        .bind(answer.by_whom.to_owned())
        .bind(at.clone())
        .bind(answer.message_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(AnswerRow {
            id: row.try_get("id")?,
            kind: answer.kind.as_str().to_owned(),
            item_id: answer.item_id.to_owned(),
            until,
            reason: answer.reason.to_owned(),
            by_whom: answer.by_whom.to_owned(),
            at,
            message_id: answer.message_id,
        })
    }

    /// An item's answers and silences, oldest first.
    pub async fn answers_of(&self, item_id: &str) -> Result<Vec<AnswerRow>, StoreError> {
        let rows = query(&self.sql(
            "SELECT id, kind, item_id, until, reason, by_whom, at, message_id FROM answers \
             WHERE item_id = $1 ORDER BY at, id",
        ))
        .bind(item_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AnswerRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    item_id: r.try_get("item_id")?,
                    until: r.try_get("until")?,
                    reason: r.try_get("reason")?,
                    by_whom: r.try_get("by_whom")?,
                    at: r.try_get("at")?,
                    message_id: r.try_get("message_id")?,
                })
            })
            .collect()
    }

    /// The messages that named an item, oldest first.
    pub async fn warnings_of(&self, item_id: &str) -> Result<Vec<ItemWarning>, StoreError> {
        let rows = query(&self.sql(
            "SELECT m.id, m.rule, m.channel, m.role, m.status, m.created_at, m.sent_at \
             FROM message_items i JOIN messages m ON m.id = i.message_id \
             WHERE i.item_id = $1 ORDER BY m.created_at, m.id",
        ))
        .bind(item_id.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ItemWarning {
                    id: r.try_get("id")?,
                    rule: r.try_get("rule")?,
                    channel: r.try_get("channel")?,
                    role: r.try_get("role")?,
                    status: r.try_get("status")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                })
            })
            .collect()
    }
}
