//! What the rankings read besides the items (the warnings each item received and the
//! departments' answers, over a span of time), and the published reports (`reports`),
//! each stored as it was published, with the digest of its inputs. Times are RFC 3339 text
//! in UTC, as in `warnings`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::warnings::{instant, parse_instant};
use super::{Store, StoreError, query};

/// An item warned, or answered, at an instant; its department as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub item_id: String,
    pub department: String,
    pub at: DateTime<Utc>,
    /// For an answer: the latest warning of the item at or before it.
    pub warned_at: Option<DateTime<Utc>>,
}

/// A published report's row (its body is the report as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub id: i64,
    pub period: String,
    pub published_at: String,
    pub published_by: String,
    pub digest: String,
    #[serde(skip)]
    pub body: String,
}

impl Store {
    /// The items warned in [`from`, `to`), each once, at its first warning then: an item red
    /// for a month is in a digest every working day, and counts as one item warned.
    pub async fn warned_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, StoreError> {
        let rows = query(&self.sql(
            "SELECT w.item_id AS item_id, i.department AS department, MIN(w.at) AS at \
             FROM warned_items w JOIN items i ON i.item_id = w.item_id \
             WHERE w.at >= $1 AND w.at < $2 GROUP BY w.item_id, i.department ORDER BY at",
        ))
        .bind(instant(from))
        .bind(instant(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| fact(r, false)).collect()
    }

    /// The departments' answers (not the office's silences) in [`from`, `to`), each with
    /// the item's first warning since its answer before (the daily digests that followed
    /// that warning do not shorten the time to answer).
    pub async fn answered_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Fact>, StoreError> {
        let rows = query(&self.sql(
            "SELECT a.item_id AS item_id, i.department AS department, a.at AS at, \
                    (SELECT MIN(w.at) FROM warned_items w \
                     WHERE w.item_id = a.item_id AND w.at <= a.at \
                       AND w.at > COALESCE((SELECT MAX(p.at) FROM answers p \
                                            WHERE p.item_id = a.item_id AND p.kind = 'answer' \
                                              AND p.at < a.at), '')) AS warned_at \
             FROM answers a JOIN items i ON i.item_id = a.item_id \
             WHERE a.kind = 'answer' AND a.at >= $1 AND a.at < $2 ORDER BY a.at",
        ))
        .bind(instant(from))
        .bind(instant(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| fact(r, true)).collect()
    }

    /// Stores a report as published; returns its id.
    pub async fn publish_report(
        &self,
        period: &str,
        digest: &str,
        body: &str,
        by_whom: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let row = query(&self.sql(
            "INSERT INTO reports (period, published_at, published_by, digest, body) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        ))
        .bind(period.to_owned())
        .bind(instant(at))
        .bind(by_whom.to_owned())
        .bind(digest.to_owned())
        .bind(body.to_owned())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// The editions of a period's published report, latest first (bodies included).
    pub async fn published(&self, period: &str) -> Result<Vec<Published>, StoreError> {
        let rows = query(&self.sql(
            "SELECT id, period, published_at, published_by, digest, body FROM reports \
             WHERE period = $1 ORDER BY id DESC",
        ))
        .bind(period.to_owned())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Published {
                    id: r.try_get("id")?,
                    period: r.try_get("period")?,
                    published_at: r.try_get("published_at")?,
                    published_by: r.try_get("published_by")?,
                    digest: r.try_get("digest")?,
                    body: r.try_get("body")?,
                })
            })
            .collect()
    }
}

fn fact(row: &sqlx::any::AnyRow, answer: bool) -> Result<Fact, StoreError> {
    let at: String = row.try_get("at")?;
    let warned_at: Option<String> = if answer {
        row.try_get("warned_at")?
    } else {
        None
    };
    Ok(Fact {
        item_id: row.try_get("item_id")?,
        department: row.try_get("department")?,
        at: parse_instant(&at).unwrap_or_default(),
        warned_at: warned_at.as_deref().and_then(parse_instant),
    })
}

impl Store {
    /// Records that the scheduled instant `at` of `name` ran (`warning_marks`
    /// `schedule:<name>`, read back with `warning_mark`).
    pub async fn set_schedule_mark(&self, name: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        query(&self.sql(
            "INSERT INTO warning_marks (name, position, at) VALUES ($1, 0, $2) \
             ON CONFLICT (name) DO UPDATE SET at = excluded.at",
        ))
        .bind(format!("schedule:{name}"))
        .bind(instant(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
