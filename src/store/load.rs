//! What start-up reads back: every stored project and item, a chunk at a time, to rebuild
//! the board. Each chunk comes back as one JSON text built by the database
//! (`json_group_array` / `json_agg`): handing a million rows over one by one from sqlx's
//! database thread cost more in thread switches than everything else at start-up.

use chrono::{DateTime, Utc};
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
}

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
            |row: &(String, String, String)| &row.0,
            |chunk| {
                for (code, name, category) in &chunk {
                    visit(code, name, category);
                }
            },
        )
        .await
    }

    /// Every stored item with its pauses, for the board at start-up.
    pub async fn for_each_item(
        &self,
        mut visit: impl FnMut(StoredItem),
    ) -> Result<usize, StoreError> {
        type PauseRow = (String, i64, String, String, Option<String>);
        let mut pauses: std::collections::HashMap<String, Vec<Pause>> =
            std::collections::HashMap::new();
        self.for_each_chunk(
            "item_id, seq, kind, from_at, to_at",
            "pauses",
            "item_id, seq",
            |row: &PauseRow| &row.0,
            |chunk| {
                for (item_id, _, kind, from, to) in chunk {
                    pauses.entry(item_id).or_default().push(Pause {
                        // Words duban wrote itself; one edited into nonsense reads as `other`.
                        kind: PauseKind::parse(&kind).unwrap_or(PauseKind::Other),
                        from: parse_time(&from),
                        to: to.as_deref().map(parse_time),
                    });
                }
            },
        )
        .await?;
        type StoredRow = (
            String,
            String,
            String,
            String,
            i64,
            String,
            String,
            i64,
            i64,
            i64,
            Option<String>,
            String,
            i64,
            String,
            Option<String>,
        );
        let mut count = 0;
        self.for_each_chunk(
            "item_id, project_code, matter, department, stage, status, accepted_at, limit_days, \
             legal_days, extension_days, finished_at, updated_at, record_hash, grade, next_change",
            "items",
            "item_id",
            |row: &StoredRow| &row.0,
            |chunk| {
                for (
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
                ) in chunk
                {
                    // Project names are kept once each: see `for_each_project`.
                    let item = Item {
                        pauses: pauses.remove(&item_id).unwrap_or_default(),
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
                        item_id,
                    };
                    visit(StoredItem {
                        item,
                        hash: hash as u64,
                        grade: parse_grade(&grade),
                        next_change: next_change
                            .as_deref()
                            .map(|t| parse_time(t).with_timezone(&Utc)),
                    });
                    count += 1;
                }
            },
        )
        .await?;
        Ok(count)
    }

    /// Every row of `table`, a chunk at a time in the order of `order` (a million rows are
    /// never held at once); the database reads the next chunk while `visit` takes this one.
    /// `key` gives a row's key, the first column of `order`.
    async fn for_each_chunk<T: serde::de::DeserializeOwned>(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        key: impl Fn(&T) -> &String,
        mut visit: impl FnMut(Vec<T>),
    ) -> Result<(), StoreError> {
        let mut chunk: Vec<T> = self.json_chunk(columns, table, order, "").await?;
        while let Some(last) = chunk.last().map(|row| key(row).clone()) {
            let current = std::mem::take(&mut chunk);
            let (next, ()) = tokio::join!(self.json_chunk(columns, table, order, &last), async {
                visit(current)
            });
            chunk = next?;
        }
        Ok(())
    }

    /// The next rows of `table` after the key `after` (by the first column of `order`), as
    /// one JSON array of arrays of `columns`, decoded into `T`. For `pauses`, whose key is
    /// (item, seq), a chunk is cut only between items, so keyset paging on the item is exact.
    /// Rows come in the database's order of the key: the next key is the last row's, never
    /// a maximum taken in Rust, whose byte order a collation may not share.
    async fn json_chunk<T: serde::de::DeserializeOwned>(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        after: &str,
    ) -> Result<Vec<T>, StoreError> {
        const CHUNK: i64 = 20_000;
        let key = order.split(',').next().unwrap_or(order).trim();
        // SQLite aggregates the ordered subquery in its order, and its keys compare bytewise
        // as Rust's do; PostgreSQL is told the order (sorting again cost SQLite a second at
        // start-up).
        let (aggregate, row, ordered) = match self.dialect {
            super::Dialect::Sqlite => ("json_group_array", "json_array", String::new()),
            super::Dialect::Postgres => {
                ("json_agg", "json_build_array", format!(" ORDER BY {order}"))
            }
        };
        // Whole items per chunk: the chunk's item keys, then all their rows.
        let sql = self.sql(&format!(
            "SELECT CAST({aggregate}({row}({columns}){ordered}) AS TEXT) AS rows FROM \
             (SELECT {columns} FROM {table} WHERE {key} IN \
               (SELECT DISTINCT {key} FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT $2) \
              ORDER BY {order}) AS chunk"
        ));
        let row = query(&sql)
            .bind(after)
            .bind(CHUNK)
            .fetch_one(&self.pool)
            .await?;
        let text: Option<String> = row.try_get("rows")?;
        match text {
            None => Ok(Vec::new()),
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                StoreError::Query(sqlx::Error::Decode(
                    format!("reading {table} at start-up: {e}").into(),
                ))
            }),
        }
    }
}

/// Words and times duban wrote itself; a row edited by hand into nonsense reads as red (the
/// cautious grade) and the Unix epoch, rather than stopping start-up.
pub fn parse_grade(text: &str) -> Grade {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).unwrap_or(Grade::Red)
}

pub fn parse_time(text: &str) -> DateTime<chrono::FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap_or_default()
}
