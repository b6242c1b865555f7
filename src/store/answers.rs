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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// Answers and silences read back as written, oldest first, per item; and an item's
    /// warnings are the messages `message_items` ties to it, not the others.
    #[tokio::test]
    async fn answers_and_warnings_of_an_item_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("duban.db").display());
        let store = Store::open(&url).await.unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let silence = store
            .add_answer(&NewAnswer {
                kind: AnswerKind::Silence,
                item_id: "A",
                until: day(10),
                reason: "专家评审",
                by_whom: "office",
                at: at("2026-11-25T03:00:00Z"),
                message_id: None,
            })
            .await
            .unwrap();
        let answer = store
            .add_answer(&NewAnswer {
                kind: AnswerKind::Answer,
                item_id: "A",
                until: day(4),
                reason: "补正中",
                by_whom: "张三",
                at: at("2026-11-25T02:00:00Z"),
                message_id: Some(7),
            })
            .await
            .unwrap();
        assert_eq!(
            store.answers_of("A").await.unwrap(),
            [answer.clone(), silence]
        );
        assert!(store.answers_of("B").await.unwrap().is_empty());
        assert_eq!(answer.message_id, Some(7));
        let holding = store.answers_holding(day(5)).await.unwrap();
        assert_eq!(holding, [("A".to_owned(), "silence".to_owned(), day(10))]);

        for (id, created, sent) in [
            (
                1,
                "2026-11-25T01:00:00.000Z",
                Some("2026-11-25T01:00:05.000Z"),
            ),
            (2, "2026-11-24T01:00:00.000Z", None),
            (3, "2026-11-23T01:00:00.000Z", None),
        ] {
            query(&store.sql(
                "INSERT INTO messages (id, dedup_key, rule, channel, sender, role, recipient, \
                 address, items, body, created_at, log_position, not_before, status, sent_at) \
                 VALUES ($1, $2, 'overdue', 'sms', 'log', 'handler', '张三', '138', '[]', '{}', \
                 $3, 0, $4, $5, $6)",
            ))
            .bind(id)
            .bind(format!("k{id}"))
            .bind(created)
            .bind(created)
            .bind(if sent.is_some() { "sent" } else { "pending" })
            .bind(sent)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        for (message, item) in [(1, "A"), (2, "A"), (3, "B")] {
            query(&store.sql("INSERT INTO message_items (message_id, item_id) VALUES ($1, $2)"))
                .bind(message)
                .bind(item)
                .execute(&store.pool)
                .await
                .unwrap();
        }
        let warnings = store.warnings_of("A").await.unwrap();
        let seen: Vec<(i64, &str, Option<&str>)> = warnings
            .iter()
            .map(|w| (w.id, w.status.as_str(), w.sent_at.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                (2, "pending", None),
                (1, "sent", Some("2026-11-25T01:00:05.000Z"))
            ]
        );
        assert_eq!(
            (warnings[0].rule.as_str(), warnings[0].role.as_str()),
            ("overdue", "handler")
        );
    }
}
