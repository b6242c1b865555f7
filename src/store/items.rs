//! Items and what hangs off them: pauses, projects, departments, and the grade history (every
//! grade change with its instant and cause). Writes go in batches, several rows a statement,
//! in one transaction per batch; start-up reads every item back to rebuild the board.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::{Store, StoreError, query};
use crate::grading::{Grade, Grading};
use crate::item::{Item, Pause, PauseKind, Status};

/// One item to write: the record, its grading, and what its grade was before.
pub struct ItemWrite<'a> {
    pub item: &'a Item,
    pub hash: u64,
    pub grading: &'a Grading,
    pub next_change: Option<DateTime<Utc>>,
    /// `None` for an item not seen before.
    pub previous: Option<Grade>,
    /// Whether the record itself changed (not only the grade, by the clock).
    pub record_changed: bool,
}

/// A value to bind.
#[derive(Clone)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    Null,
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_owned())
    }
}
impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}
impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}
impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

pub(crate) fn bind_all<'q>(
    mut query: Query<'q, Any, AnyArguments>,
    params: Vec<Param>,
) -> Query<'q, Any, AnyArguments> {
    for p in params {
        query = match p {
            Param::Text(s) => query.bind(s),
            Param::Int(n) => query.bind(n),
            Param::Null => query.bind(Option::<String>::None),
        };
    }
    query
}

pub fn utc(t: &DateTime<impl chrono::TimeZone>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

const ITEM_COLUMNS: &[&str] = &[
    "item_id",
    "project_code",
    "matter",
    "department",
    "stage",
    "status",
    "accepted_at",
    "limit_days",
    "legal_days",
    "extension_days",
    "finished_at",
    "updated_at",
    "feed",
    "record_hash",
    "grade",
    "deadline_date",
    "allowed",
    "used",
    "remaining",
    "overdue",
    "paused",
    "next_change",
    "first_seen_at",
    "changed_at",
];

/// Rows per multi-row statement. SQLite: 100 (2,400 values), the best of 20, 100 and 200 on
/// the ingest bench. PostgreSQL: as many as its 65,535 bound values allow, because sqlx 0.9.0
/// leaves Nagle's algorithm on (sqlx issue #4335), so every statement can wait ~40 ms for a
/// delayed ACK: fewer, larger statements wait less often.
pub(crate) fn rows_per_statement(dialect: super::Dialect, columns: usize) -> usize {
    match dialect {
        super::Dialect::Sqlite => 100,
        super::Dialect::Postgres => 60_000 / columns,
    }
}

/// `INSERT INTO table (columns) VALUES ($1, …), (…) <suffix>` for `rows` rows.
fn multi_insert(table: &str, columns: &[&str], rows: usize, suffix: &str) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(suffix);
    sql
}

fn upsert_suffix(key: &str, columns: &[&str], keep: &[&str]) -> String {
    let set: Vec<String> = columns
        .iter()
        .filter(|c| **c != key && !keep.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    format!("ON CONFLICT ({key}) DO UPDATE SET {}", set.join(", "))
}

/// A new grading of an item whose record did not change.
pub struct GradeUpdate<'a> {
    pub item_id: &'a str,
    pub grading: &'a Grading,
    pub next_change: Option<DateTime<Utc>>,
    pub previous: Option<Grade>,
}

/// The grading columns, in table order: grade, deadline_date, allowed, used, remaining,
/// overdue, paused, next_change.
fn grading_params(g: &Grading, next_change: Option<&DateTime<Utc>>) -> [Param; 8] {
    [
        g.grade.as_str().into(),
        g.deadline_date.to_string().into(),
        i64::from(g.allowed).into(),
        i64::from(g.used).into(),
        g.remaining.into(),
        i64::from(g.overdue).into(),
        i64::from(g.paused).into(),
        next_change.map(utc).into(),
    ]
}

/// What start-up needs of a stored item to rebuild its clock (project name and category are
/// left empty: the clock does not need them).
pub struct StoredItem {
    pub item: Item,
    pub hash: u64,
    pub grade: Grade,
}

impl Store {
    /// Writes a batch in one transaction: the items with their grading, their pauses, their
    /// projects and departments, and a history row for every grade that changed.
    pub async fn write_items(
        &self,
        writes: &[ItemWrite<'_>],
        feed: &str,
        cause: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let now_text = utc(&now);
        let mut tx = self.pool.begin().await?;
        let item_suffix = upsert_suffix("item_id", ITEM_COLUMNS, &["first_seen_at"]);
        for chunk in writes.chunks(rows_per_statement(self.dialect, ITEM_COLUMNS.len())) {
            let sql = self.sql(&multi_insert(
                "items",
                ITEM_COLUMNS,
                chunk.len(),
                &item_suffix,
            ));
            let mut params = Vec::with_capacity(chunk.len() * ITEM_COLUMNS.len());
            for w in chunk {
                let (item, g) = (w.item, w.grading);
                params.extend([
                    Param::from(item.item_id.as_str()),
                    item.project_code.as_str().into(),
                    item.matter.as_str().into(),
                    item.department.as_str().into(),
                    i64::from(item.stage).into(),
                    item.status.as_str().into(),
                    utc(&item.accepted_at).into(),
                    i64::from(item.limit_days).into(),
                    i64::from(item.legal_days).into(),
                    i64::from(item.extension_days).into(),
                    item.finished_at.as_ref().map(utc).into(),
                    utc(&item.updated_at).into(),
                    feed.into(),
                    (w.hash as i64).into(),
                ]);
                params.extend(grading_params(g, w.next_change.as_ref()));
                params.extend([now_text.as_str().into(), now_text.as_str().into()]);
            }
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }

        let changed: Vec<&ItemWrite> = writes.iter().filter(|w| w.record_changed).collect();
        for chunk in changed.chunks(rows_per_statement(self.dialect, 1)) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = self.sql(&format!(
                "DELETE FROM pauses WHERE item_id IN ({})",
                placeholders.join(", ")
            ));
            let params = chunk
                .iter()
                .map(|w| Param::from(w.item.item_id.as_str()))
                .collect();
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }
        // A good record for an item ends its quarantine from this feed.
        for chunk in changed.chunks(rows_per_statement(self.dialect, 1)) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|i| format!("${i}")).collect();
            let sql = self.sql(&format!(
                "DELETE FROM quarantine WHERE feed = $1 AND item_id IN ({})",
                placeholders.join(", ")
            ));
            let mut params = vec![Param::from(feed)];
            params.extend(chunk.iter().map(|w| Param::from(w.item.item_id.as_str())));
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }
        let pauses: Vec<(&str, usize, &Pause)> = changed
            .iter()
            .flat_map(|w| {
                w.item
                    .pauses
                    .iter()
                    .enumerate()
                    .map(move |(i, p)| (w.item.item_id.as_str(), i, p))
            })
            .collect();
        const PAUSE_COLUMNS: &[&str] = &["item_id", "seq", "kind", "from_at", "to_at"];
        for chunk in pauses.chunks(rows_per_statement(self.dialect, PAUSE_COLUMNS.len())) {
            let sql = self.sql(&multi_insert("pauses", PAUSE_COLUMNS, chunk.len(), ""));
            let mut params = Vec::new();
            for (id, seq, pause) in chunk {
                params.extend([
                    Param::from(*id),
                    (*seq as i64).into(),
                    pause.kind.as_str().into(),
                    utc(&pause.from).into(),
                    pause.to.as_ref().map(utc).into(),
                ]);
            }
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }

        let mut projects: Vec<(&str, &str, &str)> = changed
            .iter()
            .map(|w| {
                (
                    w.item.project_code.as_str(),
                    w.item.project_name.as_str(),
                    w.item.project_category.as_str(),
                )
            })
            .collect();
        projects.sort_unstable();
        projects.dedup_by_key(|p| p.0);
        const PROJECT_COLUMNS: &[&str] = &["project_code", "project_name", "category"];
        let project_suffix = upsert_suffix("project_code", PROJECT_COLUMNS, &[]);
        for chunk in projects.chunks(rows_per_statement(self.dialect, PROJECT_COLUMNS.len())) {
            let sql = self.sql(&multi_insert(
                "projects",
                PROJECT_COLUMNS,
                chunk.len(),
                &project_suffix,
            ));
            let params = chunk
                .iter()
                .flat_map(|(c, n, k)| [Param::from(*c), (*n).into(), (*k).into()])
                .collect();
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }
        let mut departments: Vec<&str> =
            changed.iter().map(|w| w.item.department.as_str()).collect();
        departments.sort_unstable();
        departments.dedup();
        for chunk in departments.chunks(rows_per_statement(self.dialect, 1)) {
            let sql = self.sql(&multi_insert(
                "departments",
                &["name"],
                chunk.len(),
                "ON CONFLICT (name) DO NOTHING",
            ));
            let params = chunk.iter().map(|d| Param::from(*d)).collect();
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }

        let history: Vec<&ItemWrite> = writes
            .iter()
            .filter(|w| w.previous != Some(w.grading.grade))
            .collect();
        const HISTORY_COLUMNS: &[&str] = &["item_id", "at", "grade", "previous", "cause"];
        for chunk in history.chunks(rows_per_statement(self.dialect, HISTORY_COLUMNS.len())) {
            let sql = self.sql(&multi_insert(
                "grade_history",
                HISTORY_COLUMNS,
                chunk.len(),
                "",
            ));
            let mut params = Vec::new();
            for w in chunk {
                params.extend([
                    Param::from(w.item.item_id.as_str()),
                    now_text.as_str().into(),
                    w.grading.grade.as_str().into(),
                    w.previous.map(|g| g.as_str()).into(),
                    cause.into(),
                ]);
            }
            bind_all(query(&sql), params).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes new gradings of items whose records did not change (time moved on), with a
    /// history row for each grade that changed. Returns how many grades changed.
    pub async fn regrade_items(
        &self,
        updates: &[GradeUpdate<'_>],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let now_text = utc(&now);
        let update = self.sql(
            "UPDATE items SET grade = $1, deadline_date = $2, allowed = $3, used = $4, remaining = $5, \
             overdue = $6, paused = $7, next_change = $8, changed_at = $9 WHERE item_id = $10",
        );
        let history = self.sql(
            "INSERT INTO grade_history (item_id, at, grade, previous, cause) VALUES ($1, $2, $3, $4, 'clock')",
        );
        let mut changed = 0;
        let mut tx = self.pool.begin().await?;
        for u in updates {
            let g = u.grading;
            let mut params = grading_params(g, u.next_change.as_ref()).to_vec();
            params.extend([now_text.as_str().into(), u.item_id.into()]);
            bind_all(query(&update), params).execute(&mut *tx).await?;
            if u.previous != Some(g.grade) {
                changed += 1;
                let params = vec![
                    Param::from(u.item_id),
                    now_text.as_str().into(),
                    g.grade.as_str().into(),
                    u.previous.map(|p| p.as_str()).into(),
                ];
                bind_all(query(&history), params).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Every stored project (code, name, category), a chunk at a time, for the board at
    /// start-up: the screens name the projects of red items and rank projects by target.
    pub async fn for_each_project(
        &self,
        mut visit: impl FnMut(&str, &str, &str),
    ) -> Result<(), StoreError> {
        let mut after = String::new();
        loop {
            let chunk: Vec<(String, String, String)> = self
                .json_chunk(
                    "project_code, project_name, category",
                    "projects",
                    "project_code",
                    &after,
                )
                .await?;
            let Some(last) = chunk.iter().map(|r| &r.0).max() else {
                return Ok(());
            };
            after = last.clone();
            for (code, name, category) in &chunk {
                visit(code, name, category);
            }
        }
    }

    /// Every stored item, a chunk at a time (a million rows are not held at once), for the
    /// board at start-up. Each chunk comes back as one JSON text built by the database
    /// (`json_group_array` / `json_agg`): handing a million rows one by one from sqlx's
    /// database thread cost more in thread switches than everything else at start-up.
    pub async fn for_each_item(
        &self,
        mut visit: impl FnMut(StoredItem),
    ) -> Result<usize, StoreError> {
        type PauseRow = (String, String, String, Option<String>);
        let mut pauses: std::collections::HashMap<String, Vec<Pause>> =
            std::collections::HashMap::new();
        let mut after = String::new();
        loop {
            let chunk: Vec<(String, i64, String, String, Option<String>)> = self
                .json_chunk(
                    "item_id, seq, kind, from_at, to_at",
                    "pauses",
                    "item_id, seq",
                    &after,
                )
                .await?;
            // Keyset on the item: a chunk holds whole items (see json_chunk).
            let Some(last) = chunk.iter().map(|r| &r.0).max() else {
                break;
            };
            after = last.clone();
            for (item_id, _, kind, from, to) in chunk {
                let row: PauseRow = (item_id, kind, from, to);
                pauses.entry(row.0).or_default().push(Pause {
                    // Words duban wrote itself; one edited into nonsense by hand reads as `other`.
                    kind: PauseKind::parse(&row.1).unwrap_or(PauseKind::Other),
                    from: parse_time(&row.2),
                    to: row.3.as_deref().map(parse_time),
                });
            }
        }
        type ItemRow = (
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
        );
        let mut count = 0;
        let mut after = String::new();
        loop {
            let chunk: Vec<ItemRow> = self
                .json_chunk(
                    "item_id, project_code, matter, department, stage, status, accepted_at, limit_days, \
                     legal_days, extension_days, finished_at, updated_at, record_hash, grade",
                    "items",
                    "item_id",
                    &after,
                )
                .await?;
            let Some(last) = chunk.iter().map(|r| &r.0).max() else {
                break;
            };
            after = last.clone();
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
                });
                count += 1;
            }
        }
        Ok(count)
    }

    /// The next rows of `table` after the key `after` (by the first column of `order`), as
    /// one JSON array of arrays of `columns`, decoded into `T`. For `pauses`, whose key is
    /// (item, seq), a chunk is cut only between items, so keyset paging on the item is exact.
    async fn json_chunk<T: serde::de::DeserializeOwned>(
        &self,
        columns: &str,
        table: &str,
        order: &str,
        after: &str,
    ) -> Result<Vec<T>, StoreError> {
        const CHUNK: i64 = 20_000;
        let key = order.split(',').next().unwrap_or(order).trim();
        let (aggregate, row) = match self.dialect {
            super::Dialect::Sqlite => ("json_group_array", "json_array"),
            super::Dialect::Postgres => ("json_agg", "json_build_array"),
        };
        // Whole items per chunk: the chunk's item keys, then all their rows.
        let sql = self.sql(&format!(
            "SELECT CAST({aggregate}({row}({columns})) AS TEXT) AS rows FROM \
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
