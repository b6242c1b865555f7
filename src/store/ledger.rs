//! The ledger's log (`changes`): every stored change in one ordered table, each at a
//! monotonic position (`seq`): item versions, grade events, calendar deadline moves and
//! quarantine entries. Rows are written by the same transaction as the item write they
//! belong to (`items`, `feeds`), with a unique key that makes a repeat impossible; this module
//! renders them and reads them back: everything after a position, an item's timeline, and
//! every item's version as it stood on a past day.
//!
//! On PostgreSQL a position is taken when a row is inserted, but transactions commit in
//! their own order: a reader could see position N+2 before N+1 commits and pass N+1 for
//! ever. Every writer of the log therefore takes `LOG_LOCK` (transaction-scoped) just
//! before its rows go in, so positions are handed out in commit order. SQLite has one
//! writer at a time, which does the same by itself.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::Row;

use super::rows::{Column, Rows, int, text};
use super::{Dialect, Store, StoreError, query};
use crate::ledger::GradeEvent;

/// The advisory lock (PostgreSQL) under which positions of the log are taken: "duban" in
/// ASCII, a key no other program on the database is likely to use.
pub(crate) const LOG_LOCK: i64 = 0x6475_6261_6e;

/// The log's columns as a write lists them (`seq` is the database's).
pub(crate) const CHANGE_COLUMNS: &[Column] = &[
    text("kind"),
    text("item_id"),
    int("version"),
    text("at"),
    text("recorded_at"),
    text("cause"),
    text("grade_from"),
    text("grade_to"),
    text("body"),
];

/// The log's columns, as a statement lists them.
pub(crate) fn change_names() -> String {
    let names: Vec<&str> = CHANGE_COLUMNS.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// An item's new record version: `record` is its canonical JSON.
pub(crate) fn version_row(
    rows: &mut Rows,
    item_id: &str,
    version: u32,
    took_effect: &DateTime<Utc>,
    now: &DateTime<Utc>,
    feed: &str,
    record: &str,
) {
    rows.row(|r| {
        r.text("version")
            .text(item_id)
            .int(i64::from(version))
            .time(took_effect)
            .time(now)
            .text(&format!("feed:{feed}"))
            .null()
            .null()
            .text(record);
    });
}

/// A grade event.
pub(crate) fn event_row(rows: &mut Rows, event: &GradeEvent, now: &DateTime<Utc>) {
    rows.row(|r| {
        r.text("grade")
            .text(&event.item_id)
            .int(i64::from(event.version))
            .time(&event.at)
            .time(now)
            .text(&event.cause.as_text())
            .opt_text(event.from.map(|g| g.as_str()))
            .text(event.to.as_str())
            .null();
    });
}

/// A deadline the calendar moved, noticed `now`.
pub(crate) fn deadline_row(
    rows: &mut Rows,
    item_id: &str,
    version: u32,
    previous: NaiveDate,
    deadline: NaiveDate,
    now: &DateTime<Utc>,
) {
    let body = serde_json::json!({
        "previous": previous.to_string(),
        "deadline": deadline.to_string(),
    });
    rows.row(|r| {
        r.text("deadline")
            .text(item_id)
            .int(i64::from(version))
            .time(now)
            .time(now)
            .text("calendar")
            .null()
            .null()
            .text(&body.to_string());
    });
}

/// Takes the log's lock for the rest of `conn`'s transaction (PostgreSQL; SQLite's single
/// writer needs none).
pub(crate) async fn lock_log<'c, E>(dialect: Dialect, conn: E) -> Result<(), StoreError>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    if dialect == Dialect::Postgres {
        query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// One change of the log as the API gives it.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub seq: i64,
    pub kind: String,
    pub item_id: Option<String>,
    pub version: i64,
    /// When it took effect.
    pub at: String,
    /// When duban stored it.
    pub recorded_at: String,
    pub cause: String,
    /// A grade event's grades (`from` is `null` for an item's first grade).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// A version's record, a deadline move's dates, a quarantine entry's feed, field and
    /// reason: as stored, not parsed again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
}

fn change(r: &sqlx::any::AnyRow) -> Result<Change, StoreError> {
    let body: Option<String> = r.try_get("body")?;
    Ok(Change {
        seq: r.try_get("seq")?,
        kind: r.try_get("kind")?,
        item_id: r.try_get("item_id")?,
        version: r.try_get("version")?,
        at: r.try_get("at")?,
        recorded_at: r.try_get("recorded_at")?,
        cause: r.try_get("cause")?,
        from: r.try_get("grade_from")?,
        to: r.try_get("grade_to")?,
        body: body
            .map(RawValue::from_string)
            .transpose()
            .map_err(|e| StoreError::Query(sqlx::Error::Decode(Box::new(e))))?,
    })
}

const SELECT_CHANGES: &str = "SELECT seq, kind, item_id, version, at, recorded_at, cause, \
     grade_from, grade_to, body FROM changes";

/// A version of an item's record with what changed since the version before.
#[derive(Debug, Clone, Serialize)]
pub struct VersionRow {
    pub version: i64,
    pub at: String,
    pub seen_at: String,
    pub feed: String,
    pub changes: Vec<crate::ledger::FieldChange>,
}

/// An item's timeline: its versions, grade events and deadline moves, in log order.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub versions: Vec<VersionRow>,
    pub events: Vec<Change>,
    pub deadline_moves: Vec<Change>,
}

impl Store {
    /// The changes after position `after`, in order, at most `limit`.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        let rows = query(&self.sql(&format!(
            "{SELECT_CHANGES} WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(change).collect()
    }

    /// The newest position of the log (0 when it is empty).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        let row = query("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("seq")?)
    }

    /// Everything the log holds of one item, versions with what changed field by field.
    pub async fn timeline(&self, item_id: &str) -> Result<Timeline, StoreError> {
        let rows = query(&self.sql(&format!(
            "{SELECT_CHANGES} WHERE item_id = $1 ORDER BY seq"
        )))
        .bind(item_id)
        .fetch_all(&self.pool)
        .await?;
        let mut timeline = Timeline::default();
        let mut before: Option<serde_json::Value> = None;
        for row in &rows {
            let c = change(row)?;
            match c.kind.as_str() {
                "version" => {
                    let record: serde_json::Value = c
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_str(b.get()).ok())
                        .unwrap_or_default();
                    timeline.versions.push(VersionRow {
                        version: c.version,
                        feed: c.cause.trim_start_matches("feed:").to_owned(),
                        at: c.at,
                        seen_at: c.recorded_at,
                        changes: crate::ledger::differences(before.as_ref(), &record),
                    });
                    before = Some(record);
                }
                "grade" => timeline.events.push(c),
                "deadline" => timeline.deadline_moves.push(c),
                _ => {}
            }
        }
        Ok(timeline)
    }

    /// Every item's record versions, a chunk at a time in item order: `visit` is given one
    /// item's versions (version, when it took effect, the record's JSON) at a time.
    pub async fn for_each_versions(
        &self,
        mut visit: impl FnMut(&str, &[(u32, DateTime<Utc>, &str)]),
    ) -> Result<(), StoreError> {
        #[derive(serde::Deserialize)]
        struct VersionCells<'a>(
            String,
            i64,
            #[serde(borrow)] super::load::Text<'a>,
            #[serde(borrow)] &'a RawValue,
        );
        let mut current: Option<String> = None;
        let mut versions: Vec<(u32, DateTime<Utc>, String)> = Vec::new();
        let mut flush = |id: &str, versions: &mut Vec<(u32, DateTime<Utc>, String)>| {
            let borrowed: Vec<(u32, DateTime<Utc>, &str)> = versions
                .iter()
                .map(|(v, at, r)| (*v, *at, r.as_str()))
                .collect();
            visit(id, &borrowed);
            versions.clear();
        };
        let body = match self.dialect {
            // The record is JSON text: put in the chunk as JSON, not as a string of it.
            Dialect::Sqlite => "json(body)",
            Dialect::Postgres => "body::json",
        };
        let columns = format!("item_id, version, at, {body} AS body");
        self.for_each_chunk(
            &columns,
            "(SELECT item_id, version, at, body FROM changes WHERE kind = 'version') AS v",
            "item_id, version",
            |text| {
                let rows: Vec<VersionCells> = super::load::decode("changes", text)?;
                for VersionCells(id, version, at, record) in rows {
                    if current.as_deref() != Some(id.as_str()) {
                        if let Some(done) = current.take() {
                            flush(&done, &mut versions);
                        }
                        current = Some(id);
                    }
                    let at = super::load::parse_time(&at).with_timezone(&Utc);
                    versions.push((version as u32, at, record.get().to_owned()));
                }
                Ok(())
            },
        )
        .await?;
        if let Some(done) = current.take() {
            flush(&done, &mut versions);
        }
        Ok(())
    }
}
