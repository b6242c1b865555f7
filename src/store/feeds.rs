//! What the store keeps about feeds: one row per run (when, how many records in, accepted,
//! quarantined, unchanged, the error), the incremental `since` mark, and the quarantine of
//! records that could not be used, with the field and the reason.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use super::items::{Param, bind_all, utc};
use super::{Store, StoreError, query};

/// One finished run of a feed.
#[derive(Debug, Clone, Default)]
pub struct FeedRun {
    pub feed: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    pub records_in: u64,
    pub records_ok: u64,
    pub quarantined: u64,
    pub unchanged: u64,
    pub error: Option<String>,
    /// What else the run has to say (a file passed over, a page salvaged), for the operator.
    pub notes: Vec<String>,
}

/// The most of a refused record's text a quarantine entry keeps, in bytes: enough to see
/// what is wrong with any real record, and `/api/quarantine` pages stay small whatever a
/// feed sends. (A valid record waiting for a holiday year is kept in its canonical form,
/// which validation's bounds keep well under this, so that it can be read back whole.)
pub const MAX_RAW_BYTES: usize = 64 << 10;

/// `raw` as a quarantine entry keeps it: whole, or its first `MAX_RAW_BYTES` (to a
/// character's end) with a note of how long it was.
fn kept_raw(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.len() <= MAX_RAW_BYTES {
        return raw.into();
    }
    let cut = raw.floor_char_boundary(MAX_RAW_BYTES);
    format!(
        "{}… (truncated: the record was {} bytes; the first {cut} are kept)",
        &raw[..cut],
        raw.len()
    )
    .into()
}

/// A record that could not be used.
#[derive(Debug, Clone)]
pub struct Quarantined {
    pub item_id: Option<String>,
    pub field: String,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuarantineRow {
    pub id: i64,
    pub feed: String,
    pub at: String,
    pub item_id: Option<String>,
    pub field: String,
    pub reason: String,
    pub raw: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub started_at: String,
    pub ok: bool,
    pub records_in: i64,
    pub records_ok: i64,
    pub quarantined: i64,
    pub unchanged: i64,
    pub error: Option<String>,
    pub notes: Vec<String>,
}

/// The quarantined records that were valid but could not be graded (a date in a year whose
/// holidays are not loaded), as a condition on `quarantine`: malformed records name the
/// field at fault, and these keep their item id to be tried again.
const UNGRADED: &str = "field = '' AND item_id IS NOT NULL";

impl Store {
    pub async fn record_run(&self, run: &FeedRun) -> Result<(), StoreError> {
        let sql = self.sql(
            "INSERT INTO feed_runs (feed, started_at, finished_at, ok, records_in, records_ok, \
             quarantined, unchanged, error, notes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        );
        let notes =
            (!run.notes.is_empty()).then(|| serde_json::Value::from(run.notes.clone()).to_string());
        let params = vec![
            Param::from(run.feed.as_str()),
            utc(&run.started_at).into(),
            utc(&run.finished_at).into(),
            i64::from(run.ok).into(),
            (run.records_in as i64).into(),
            (run.records_ok as i64).into(),
            (run.quarantined as i64).into(),
            (run.unchanged as i64).into(),
            run.error.clone().into(),
            notes.into(),
        ];
        bind_all(query(&sql), params).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn since(&self, feed: &str) -> Result<Option<String>, StoreError> {
        let row = query(&self.sql("SELECT since FROM feed_state WHERE feed = $1"))
            .bind(feed)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get::<Option<String>, _>("since")?,
            None => None,
        })
    }

    /// A value of `store_meta` (what the store was last graded with).
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = query(&self.sql("SELECT value FROM store_meta WHERE key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<String, _>("value")?),
            None => None,
        })
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        query(&self.sql(
            "INSERT INTO store_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ))
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_since(&self, feed: &str, since: &str) -> Result<(), StoreError> {
        query(&self.sql(
            "INSERT INTO feed_state (feed, since) VALUES ($1, $2) \
             ON CONFLICT (feed) DO UPDATE SET since = excluded.since",
        ))
        .bind(feed)
        .bind(since)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Quarantines records; an item's earlier entries from the same feed are replaced, so a
    /// record that stays bad run after run is listed once, with its latest reason.
    pub async fn quarantine(
        &self,
        feed: &str,
        records: &[Quarantined],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let delete = self.sql("DELETE FROM quarantine WHERE feed = $1 AND item_id = $2");
        let delete_anonymous =
            self.sql("DELETE FROM quarantine WHERE feed = $1 AND item_id IS NULL AND raw = $2");
        let insert = self.sql(
            "INSERT INTO quarantine (feed, at, item_id, field, reason, raw) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        // Each entry in the ledger's log too, under its lock (`ledger::lock_log`).
        super::ledger::lock_log(self.dialect, &mut *tx).await?;
        let log = self.sql(
            "INSERT INTO changes (kind, item_id, version, at, recorded_at, cause, body) \
             VALUES ('quarantine', $1, 0, $2, $3, $4, $5)",
        );
        let at = utc(&now);
        for record in records {
            let raw = kept_raw(&record.raw);
            // Without an id, the same raw record (as kept) is the same entry.
            let (sql, key) = match &record.item_id {
                Some(id) => (&delete, id.as_str()),
                None => (&delete_anonymous, &*raw),
            };
            query(sql).bind(feed).bind(key).execute(&mut *tx).await?;
            let params = vec![
                Param::from(feed),
                at.as_str().into(),
                record.item_id.clone().into(),
                record.field.as_str().into(),
                record.reason.as_str().into(),
                (&*raw).into(),
            ];
            bind_all(query(&insert), params).execute(&mut *tx).await?;
            let body = serde_json::json!({
                "feed": feed,
                "field": record.field,
                "reason": record.reason,
            });
            let params = vec![
                record.item_id.clone().into(),
                at.as_str().into(),
                at.as_str().into(),
                Param::from(format!("feed:{feed}")),
                body.to_string().into(),
            ];
            bind_all(query(&log), params).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Quarantined records that were valid but could not be graded (a date in a year whose
    /// holidays were not loaded): their canonical form is kept, to be tried again.
    pub async fn ungraded(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = query(&self.sql(&format!(
            "SELECT feed, raw FROM quarantine WHERE {UNGRADED} ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("feed")?, r.try_get("raw")?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// How many valid records of `feed` wait in the quarantine to be graded (a year whose
    /// holidays are not loaded), and the reason of one of them.
    pub async fn ungraded_count(&self, feed: &str) -> Result<(u64, Option<String>), StoreError> {
        let row = query(&self.sql(&format!(
            "SELECT COUNT(*) AS n, MIN(reason) AS reason FROM quarantine \
             WHERE feed = $1 AND {UNGRADED}"
        )))
        .bind(feed)
        .fetch_one(&self.pool)
        .await?;
        let n: i64 = row.try_get("n")?;
        Ok((u64::try_from(n).unwrap_or(0), row.try_get("reason")?))
    }

    pub async fn quarantine_page(
        &self,
        feed: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<QuarantineRow>), StoreError> {
        // Placeholders are numbered in order, each once (SQLite binds them by position).
        let (filter, first) = if feed.is_some() {
            ("WHERE feed = $1", 2)
        } else {
            ("", 1)
        };
        let mut count = query(&self.sql(&format!("SELECT COUNT(*) AS n FROM quarantine {filter}")));
        if let Some(feed) = feed {
            count = count.bind(feed);
        }
        let total: i64 = count.fetch_one(&self.pool).await?.try_get("n")?;
        let sql = self.sql(&format!(
            "SELECT id, feed, at, item_id, field, reason, raw FROM quarantine {filter} \
             ORDER BY id DESC LIMIT ${first} OFFSET ${}",
            first + 1
        ));
        let mut rows_query = query(&sql);
        if let Some(feed) = feed {
            rows_query = rows_query.bind(feed);
        }
        let rows = rows_query
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .into_iter()
            .map(|r| {
                Ok(QuarantineRow {
                    id: r.try_get("id")?,
                    feed: r.try_get("feed")?,
                    at: r.try_get("at")?,
                    item_id: r.try_get("item_id")?,
                    field: r.try_get("field")?,
                    reason: r.try_get("reason")?,
                    raw: r.try_get("raw")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((total, rows))
    }

    /// The newest run and the newest successful run of a feed.
    pub async fn last_runs(
        &self,
        feed: &str,
    ) -> Result<(Option<LastRun>, Option<String>, Option<String>), StoreError> {
        let last = query(&self.sql(
            "SELECT started_at, ok, records_in, records_ok, quarantined, unchanged, error, notes \
             FROM feed_runs WHERE feed = $1 ORDER BY id DESC LIMIT 1",
        ))
        .bind(feed)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| -> Result<LastRun, sqlx::Error> {
            Ok(LastRun {
                started_at: r.try_get("started_at")?,
                ok: r.try_get::<i64, _>("ok")? != 0,
                records_in: r.try_get("records_in")?,
                records_ok: r.try_get("records_ok")?,
                quarantined: r.try_get("quarantined")?,
                unchanged: r.try_get("unchanged")?,
                error: r.try_get("error")?,
                notes: r
                    .try_get::<Option<String>, _>("notes")?
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default(),
            })
        })
        .transpose()?;
        let last_success: Option<String> = query(
            &self.sql("SELECT MAX(finished_at) AS at FROM feed_runs WHERE feed = $1 AND ok = 1"),
        )
        .bind(feed)
        .fetch_one(&self.pool)
        .await?
        .try_get("at")?;
        let last_error: Option<String> = query(&self.sql(
            "SELECT error FROM feed_runs WHERE feed = $1 AND ok = 0 ORDER BY id DESC LIMIT 1",
        ))
        .bind(feed)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.try_get("error"))
        .transpose()?
        .flatten();
        Ok((last, last_success, last_error))
    }
}
