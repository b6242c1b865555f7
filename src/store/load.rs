//! What start-up reads back: every stored project and item, a chunk at a time, to rebuild
//! the board. Each chunk comes back as one JSON text built by the database
//! (`json_group_array` / `json_agg`): handing a million rows over one by one from sqlx's
//! database thread cost more in thread switches than everything else at start-up.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, StoreError, query};
use crate::grading::Grade;
use crate::item::{Item, Pause, PauseKind, Status};

/// What start-up needs of a stored item to rebuild its clock (project name and category are
/// left empty: the clock does not need them).
pub struct StoredItem {
    pub item: Item,
    pub hash: u64,
    pub grade: Grade,
    /// When the stored grade was due to change (the stored `next_change`).
    pub next_change: Option<DateTime<Utc>>,
    /// The stored deadline: a holiday file added since may have moved it.
    pub deadline: Option<NaiveDate>,
    /// The record's version in the ledger.
    pub version: u32,
}

/// A stored item's row as the database sends it at start-up. The words and times are
/// parsed at once, so they are borrowed from the chunk's text (`Text`); the names become
/// the item's own strings.
#[derive(serde::Deserialize)]
pub(super) struct ItemRow<'a>(
    String,
    String,
    String,
    String,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    i64,
    i64,
    i64,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    i64,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
    #[serde(borrow)] Text<'a>,
    i64,
    Option<i64>,
);

/// Text borrowed from a chunk, owned only where the database escaped a character. (serde
/// borrows a bare `Cow` field, but never one inside an `Option`: one wrapper serves both.)
#[derive(serde::Deserialize)]
pub(super) struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

#[derive(serde::Deserialize)]
pub(super) struct PauseRow<'a>(
    String,
    serde::de::IgnoredAny,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Text<'a>,
    #[serde(borrow)] Option<Text<'a>>,
);

#[derive(serde::Deserialize)]
pub(super) struct ProjectRow<'a>(
    #[serde(borrow)] pub(super) Text<'a>,
    #[serde(borrow)] pub(super) Text<'a>,
    #[serde(borrow)] pub(super) Text<'a>,
);

/// The columns of `PauseRow`, and of `ItemRow`, in their order.
pub(super) const PAUSE_COLUMNS: &str = "item_id, seq, kind, from_at, to_at";
pub(super) const ITEM_COLUMNS: &str = "item_id, project_code, matter, department, stage, status, \
     accepted_at, limit_days, legal_days, extension_days, finished_at, updated_at, record_hash, \
     grade, next_change, deadline_date, version, rating";

impl Store {
    /// Every stored project (code, name, category), for the board at start-up: the screens
    /// name the projects of red items and rank projects by target.
    pub async fn for_each_project(
        &self,
        mut visit: impl FnMut(&str, &str, &str),
    ) -> Result<(), StoreError> {
        self.for_each_chunk(
            "project_code, project_name, category",
            "projects",
            "project_code",
            "",
            |text| {
                for ProjectRow(code, name, category) in decode("projects", text)? {
                    visit(&code, &name, &category);
                }
                Ok(())
            },
        )
        .await
    }

    /// Every stored item with its pauses, for the board at start-up.
    pub async fn for_each_item(&self, visit: impl FnMut(StoredItem)) -> Result<usize, StoreError> {
        self.for_each_item_where("", visit).await
    }

    /// The stored items that could count in a report from `ended_from` (an instant) to
    /// before `accepted_before`: accepted before the latter and not ended before the former,
    /// and every item of a project of `whole_categories` (a project's government time counts
    /// all its items). The rankings read a month of a large store without the years behind.
    pub async fn for_each_item_between(
        &self,
        ended_from: DateTime<Utc>,
        accepted_before: DateTime<Utc>,
        whole_categories: &[&str],
        visit: impl FnMut(StoredItem),
    ) -> Result<usize, StoreError> {
        // Instants as the store writes them (whole seconds, UTC, `Z`), so they compare as
        // text; the categories are the config's, quoted as SQL text.
        let text = |t: DateTime<Utc>| super::items::utc(&t);
        let mut filter = format!(
            "accepted_at < '{}' AND (finished_at IS NULL OR finished_at >= '{}'",
            text(accepted_before),
            text(ended_from)
        );
        if !whole_categories.is_empty() {
            let quoted: Vec<String> = whole_categories
                .iter()
                .map(|c| format!("'{}'", c.replace('\'', "''")))
                .collect();
            filter.push_str(&format!(
                " OR project_code IN (SELECT project_code FROM projects WHERE category IN ({}))",
                quoted.join(", ")
            ));
        }
        filter.push(')');
        self.for_each_item_where(&filter, visit).await
    }

    /// The items matching `filter` (a condition on `items`, or empty for all).
    async fn for_each_item_where(
        &self,
        filter: &str,
        mut visit: impl FnMut(StoredItem),
    ) -> Result<usize, StoreError> {
        // Every pause is read (they are few beside the items): the filter as a subquery on
        // `items` cost a scan of the items for each chunk of pauses.
        let mut pauses: foldhash::HashMap<String, Vec<Pause>> = Default::default();
        self.for_each_chunk(PAUSE_COLUMNS, "pauses", "item_id, seq", "", |text| {
            for row in decode("pauses", text)? {
                add_pause(&mut pauses, row);
            }
            Ok(())
        })
        .await?;
        let mut count = 0;
        self.for_each_chunk(ITEM_COLUMNS, "items", "item_id", filter, |text| {
            for row in decode("items", text)? {
                visit(stored_item(row, &mut pauses));
                count += 1;
            }
            Ok(())
        })
        .await?;
        Ok(count)
    }

    /// Every row of `table`, a chunk at a time in the order of `order` (a million rows are
    /// never held at once); the database reads the next chunk while `visit` takes this one.
    /// `visit` is given the chunk's text, a JSON array of arrays of `columns`, to decode
    /// with what it can borrow from it.
    pub(super) async fn for_each_chunk(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        filter: &str,
        mut visit: impl FnMut(&str) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let sql = self.chunk_sql(columns, table, order, filter);
        let mut chunk = json_chunk(&self.pool, &sql, "").await?;
        while let Some((rows, last)) = chunk {
            // The next chunk is read by its own task: PostgreSQL's answer arrives through
            // this process's socket, and would wait there while `visit` holds this thread.
            let (pool, sql) = (self.pool.clone(), sql.clone());
            let next = tokio::spawn(async move { json_chunk(&pool, &sql, &last).await });
            visit(&rows)?;
            chunk = next.await.map_err(|e| unreadable(table, e))??;
        }
        Ok(())
    }

    /// The query of the next rows of `table` after the key `$1` (by the first column of
    /// `order`), `$2` rows at most, as one JSON array of arrays of `columns`, with the last
    /// row's key (see `json_chunk`).
    /// For `pauses`, whose key is (item, seq), a chunk is cut only between items, so keyset
    /// paging on the item is exact. The last key is the database's maximum, in the
    /// database's order of the key, never one taken in Rust, whose byte order a collation
    /// may not share.
    /// `filter`, when not empty, is a further condition on the rows of a table with a unique
    /// key (`items`): a chunk is still the next rows by key, and only those that meet it are
    /// sent (`FILTER`), so the database pages through the key as without it (a condition
    /// in the `WHERE` made PostgreSQL scan the whole table for every chunk), and a chunk
    /// whose rows all fail it still moves the key on.
    pub(super) fn chunk_sql(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        filter: &str,
    ) -> String {
        let key = order.split(',').next().unwrap_or(order).trim();
        // The rows of a chunk need no order of their own (the next key is the database's
        // `MAX`), except an item's pauses, kept in their order. SQLite aggregates the ordered
        // subquery in its order anyway; PostgreSQL is told, and only where it matters (sorting
        // each chunk of items again cost it a quarter of its time at start-up).
        // A key that is the whole order is unique: the next rows by key. Otherwise whole
        // items per chunk: the chunk's item keys, then all their rows (a third slower).
        let unique = key == order;
        let (aggregate, row) = self.json_functions();
        let ordered = if self.dialect == super::Dialect::Postgres && !unique {
            format!(" ORDER BY {order}")
        } else {
            String::new()
        };
        let rows = if unique {
            format!("WHERE {key} > $1 ORDER BY {key} LIMIT $2")
        } else {
            format!(
                "WHERE {key} IN \
                 (SELECT DISTINCT {key} FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT $2) \
                 ORDER BY {order}"
            )
        };
        let (keep, only) = if filter.is_empty() || !unique {
            (String::new(), String::new())
        } else {
            (
                format!(", CASE WHEN {filter} THEN 1 ELSE 0 END AS keep"),
                " FILTER (WHERE keep = 1)".to_owned(),
            )
        };
        self.sql(&format!(
            "SELECT CAST({aggregate}({row}({columns}){ordered}){only} AS TEXT) AS rows, \
                    MAX({key}) AS last FROM (SELECT {columns}{keep} FROM {table} {rows}) AS chunk"
        ))
    }
}

impl Store {
    /// This dialect's aggregate of JSON values into an array, and its JSON array of values.
    pub(super) fn json_functions(&self) -> (&'static str, &'static str) {
        match self.dialect {
            super::Dialect::Sqlite => ("json_group_array", "json_array"),
            super::Dialect::Postgres => ("json_agg", "json_build_array"),
        }
    }
}

/// The rows of `chunk_sql`'s query after the key `after`, and the last row's key; `None`
/// after the last. On the pool at start-up, or in the transaction of a rehash.
pub(super) async fn json_chunk<'c>(
    executor: impl sqlx::Executor<'c, Database = sqlx::Any>,
    sql: &str,
    after: &str,
) -> Result<Option<(String, String)>, StoreError> {
    const CHUNK: i64 = 20_000;
    let row = query(sql)
        .bind(after.to_owned())
        .bind(CHUNK)
        .fetch_one(executor)
        .await?;
    let rows: Option<String> = row.try_get("rows")?;
    let last: Option<String> = row.try_get("last")?;
    // A filtered chunk whose rows all fail the filter has none to send, and a key to go on
    // from.
    Ok(last.map(|last| (rows.unwrap_or_else(|| "[]".to_owned()), last)))
}

/// A stored pause, added to its item's.
pub(super) fn add_pause(
    pauses: &mut foldhash::HashMap<String, Vec<Pause>>,
    PauseRow(item_id, _, kind, from, to): PauseRow<'_>,
) {
    pauses.entry(item_id).or_default().push(Pause {
        // Words duban wrote itself; one edited into nonsense reads as `other`.
        kind: PauseKind::parse(&kind).unwrap_or(PauseKind::Other),
        from: parse_time(&from),
        to: to.as_deref().map(parse_time),
    });
}

/// A stored item from its row, with its pauses taken from `pauses`. Project names are kept
/// once each (see `Store::for_each_project`), so the item's are left empty.
pub(super) fn stored_item(
    ItemRow(
        item_id,
        project_code,
        matter,
        department,
        stage,
        status,
        accepted_at,
        limit,
        legal,
        extension,
        finished_at,
        updated_at,
        hash,
        grade,
        next_change,
        deadline,
        version,
        rating,
    ): ItemRow<'_>,
    pauses: &mut foldhash::HashMap<String, Vec<Pause>>,
) -> StoredItem {
    let item = Item {
        pauses: if pauses.is_empty() {
            Vec::new()
        } else {
            pauses.remove(&item_id).unwrap_or_default()
        },
        project_code,
        project_name: String::new(),
        project_category: String::new(),
        matter,
        department,
        stage: stage as u8,
        status: Status::parse(&status).unwrap_or(Status::Pending),
        accepted_at: parse_time(&accepted_at),
        limit_days: limit as u32,
        legal_days: legal as u32,
        extension_days: extension as u32,
        finished_at: finished_at.as_deref().map(parse_time),
        updated_at: parse_time(&updated_at),
        rating: rating.and_then(|r| u8::try_from(r).ok()),
        item_id,
    };
    StoredItem {
        item,
        hash: hash as u64,
        grade: parse_grade(&grade),
        next_change: next_change
            .as_deref()
            .map(|t| parse_time(t).with_timezone(&Utc)),
        deadline: NaiveDate::parse_from_str(&deadline, "%Y-%m-%d").ok(),
        version: u32::try_from(version).unwrap_or(1),
    }
}

/// A chunk's rows read from its text.
pub(super) fn decode<'a, T: serde::Deserialize<'a>>(
    table: &str,
    text: &'a str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(text).map_err(|e| unreadable(table, e))
}

fn unreadable(table: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Query(sqlx::Error::Decode(format!("reading {table}: {e}").into()))
}

/// Words and times duban wrote itself; a row edited by hand into nonsense reads as red (the
/// cautious grade) and the Unix epoch, rather than stopping start-up.
pub fn parse_grade(text: &str) -> Grade {
    Grade::parse(text).unwrap_or(Grade::Red)
}

pub fn parse_time(text: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap_or_default()
}
