//! Items and what hangs off them: pauses, projects, departments, and the grade history (every
//! grade change with its instant and cause). Writes go in batches, several rows a statement,
//! in one transaction per batch; start-up reads every item back to rebuild the board.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, Row};

use super::rows::{self, Column, JsonRows, int, text};
use super::{Store, StoreError, query};
use crate::grading::{Grade, Grading};
use crate::item::{Item, Pause, PauseKind, Status};

/// One new or changed record to write: the item, its row as `item_row` rendered it, its
/// grade, and what its grade was before.
pub struct ItemWrite<'a> {
    pub item: &'a Item,
    pub row: &'a ItemRow,
    pub grade: Grade,
    /// `None` for an item not seen before.
    pub previous: Option<Grade>,
}

/// An item's row of the `items` table as JSON, open (see `rows::open_row`): all but the
/// times of the write (first seen, changed), which are only known when it is written.
/// Rendered by `item_row`, off the writer's path.
pub struct ItemRow(String);

/// Renders an item's row: the record, the feed that sent it, its hash and its grading.
pub fn item_row(
    item: &Item,
    feed: &str,
    hash: u64,
    grading: &Grading,
    next_change: Option<DateTime<Utc>>,
) -> ItemRow {
    ItemRow(rows::open_row(400, |r| {
        r.text(&item.item_id)
            .text(&item.project_code)
            .text(&item.matter)
            .text(&item.department)
            .int(i64::from(item.stage))
            .text(item.status.as_str())
            .time(&item.accepted_at)
            .int(i64::from(item.limit_days))
            .int(i64::from(item.legal_days))
            .int(i64::from(item.extension_days))
            .opt_time(item.finished_at.as_ref())
            .time(&item.updated_at)
            .text(feed)
            .int(hash as i64);
        grading_cells(r, grading, next_change.as_ref());
    }))
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

const ITEM_COLUMNS: &[Column] = &[
    text("item_id"),
    text("project_code"),
    text("matter"),
    text("department"),
    int("stage"),
    text("status"),
    text("accepted_at"),
    int("limit_days"),
    int("legal_days"),
    int("extension_days"),
    text("finished_at"),
    text("updated_at"),
    text("feed"),
    int("record_hash"),
    // The grading, as `grading_cells` writes it.
    text("grade"),
    text("deadline_date"),
    int("allowed"),
    int("used"),
    int("remaining"),
    int("overdue"),
    int("paused"),
    text("next_change"),
    text("first_seen_at"),
    text("changed_at"),
];

/// The grading columns of `ITEM_COLUMNS` after the item key, for a re-grade.
const GRADE_COLUMNS: &[Column] = &[
    text("item_id"),
    text("grade"),
    text("deadline_date"),
    int("allowed"),
    int("used"),
    int("remaining"),
    int("overdue"),
    int("paused"),
    text("next_change"),
];

const HISTORY_COLUMNS: &[Column] = &[
    text("item_id"),
    text("at"),
    text("grade"),
    text("previous"),
    text("cause"),
];

/// Rows a statement: large enough that statements are few, small enough that one batch's
/// JSON (about 400 bytes an item) stays a few megabytes.
const BATCH: usize = 10_000;

/// One statement of a batch write, written with `$1…` for its own values, in order.
struct Step {
    sql: String,
    binds: Vec<String>,
}

impl Step {
    fn new(sql: String, binds: Vec<String>) -> Self {
        Self { sql, binds }
    }
}

fn upsert_suffix(key: &str, columns: &[Column], keep: &[&str]) -> String {
    let set: Vec<String> = columns
        .iter()
        .map(|c| c.name)
        .filter(|c| *c != key && !keep.contains(c))
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

/// The grading cells, in table order: grade, deadline_date, allowed, used, remaining,
/// overdue, paused, next_change.
fn grading_cells(r: &mut rows::Row<'_>, g: &Grading, next_change: Option<&DateTime<Utc>>) {
    r.text(g.grade.as_str())
        .date(g.deadline_date)
        .int(i64::from(g.allowed))
        .int(i64::from(g.used))
        .int(g.remaining)
        .int(i64::from(g.overdue))
        .int(i64::from(g.paused))
        .opt_time(next_change);
}

/// What start-up needs of a stored item to rebuild its clock (project name and category are
/// left empty: the clock does not need them).
pub struct StoredItem {
    pub item: Item,
    pub hash: u64,
    pub grade: Grade,
}

impl Store {
    /// Writes a batch at once: the items with their grading, their pauses, their projects
    /// and departments, and a history row for every grade that changed. SQLite runs the
    /// statements in one transaction; PostgreSQL gets them as one statement (see `run_batches`).
    pub async fn write_items(
        &self,
        writes: &[ItemWrite<'_>],
        feed: &str,
        cause: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let d = self.dialect;
        const ID: &[Column] = &[text("item_id")];
        const PAUSE_COLUMNS: &[Column] = &[
            text("item_id"),
            int("seq"),
            text("kind"),
            text("from_at"),
            text("to_at"),
        ];
        const PROJECT_COLUMNS: &[Column] =
            &[text("project_code"), text("project_name"), text("category")];
        let now_cells = format!(",\"{0}\",\"{0}\"]", utc(&now));
        let mut batches = Vec::new();
        for chunk in writes.chunks(BATCH) {
            let mut steps: Vec<Step> = Vec::new();

            // Each row as rendered, closed with the times of this write.
            let mut items = String::with_capacity(chunk.len() * 450);
            items.push('[');
            for (i, w) in chunk.iter().enumerate() {
                if i > 0 {
                    items.push(',');
                }
                items.push_str(&w.row.0);
                items.push_str(&now_cells);
            }
            items.push(']');
            steps.push(Step::new(
                rows::insert(
                    d,
                    "items",
                    ITEM_COLUMNS,
                    &upsert_suffix("item_id", ITEM_COLUMNS, &["first_seen_at"]),
                ),
                vec![items],
            ));

            let mut ids = JsonRows::with_capacity(chunk.len(), 32);
            let mut counts = JsonRows::with_capacity(chunk.len(), 40);
            let mut pauses = JsonRows::with_capacity(chunk.len() / 4, 100);
            let mut projects: Vec<(&str, &str, &str)> = Vec::new();
            let mut departments: Vec<&str> = Vec::new();
            let mut history = JsonRows::with_capacity(chunk.len(), 80);
            for w in chunk {
                let item = w.item;
                ids.row(|r| {
                    r.text(&item.item_id);
                });
                counts.row(|r| {
                    r.text(&item.item_id).int(item.pauses.len() as i64);
                });
                for (seq, pause) in item.pauses.iter().enumerate() {
                    pauses.row(|r| {
                        r.text(&item.item_id)
                            .int(seq as i64)
                            .text(pause.kind.as_str())
                            .time(&pause.from)
                            .opt_time(pause.to.as_ref());
                    });
                }
                projects.push((
                    &item.project_code,
                    &item.project_name,
                    &item.project_category,
                ));
                departments.push(&item.department);
                if w.previous != Some(w.grade) {
                    history.row(|r| {
                        r.text(&item.item_id)
                            .time(&now)
                            .text(w.grade.as_str())
                            .opt_text(w.previous.map(Grade::as_str))
                            .text(cause);
                    });
                }
            }
            let ids = ids.finish();
            // An item's pauses are replaced by the record's. In one PostgreSQL statement a
            // row cannot be deleted and inserted again, so there the pauses beyond the new
            // count go and the others are upserted; SQLite deletes them all and inserts.
            match d {
                super::Dialect::Sqlite => {
                    steps.push(Step::new(
                        format!(
                            "DELETE FROM pauses WHERE item_id IN ({})",
                            rows::select(d, ID, 1)
                        ),
                        vec![ids.clone()],
                    ));
                    if !pauses.is_empty() {
                        steps.push(Step::new(
                            rows::insert(d, "pauses", PAUSE_COLUMNS, ""),
                            vec![pauses.finish()],
                        ));
                    }
                }
                super::Dialect::Postgres => {
                    steps.push(Step::new(
                        format!(
                            "DELETE FROM pauses USING ({}) AS c \
                             WHERE pauses.item_id = c.item_id AND pauses.seq >= c.n",
                            rows::select(d, &[text("item_id"), int("n")], 1)
                        ),
                        vec![counts.finish()],
                    ));
                    if !pauses.is_empty() {
                        steps.push(Step::new(
                            rows::insert(
                                d,
                                "pauses",
                                PAUSE_COLUMNS,
                                "ON CONFLICT (item_id, seq) DO UPDATE SET kind = excluded.kind, \
                                 from_at = excluded.from_at, to_at = excluded.to_at",
                            ),
                            vec![pauses.finish()],
                        ));
                    }
                }
            }
            // A good record for an item ends its quarantine from this feed.
            steps.push(Step::new(
                format!(
                    "DELETE FROM quarantine WHERE feed = $1 AND item_id IN ({})",
                    rows::select(d, ID, 2)
                ),
                vec![feed.to_owned(), ids],
            ));
            // One row a key: PostgreSQL refuses an upsert that touches a row twice.
            projects.sort_unstable();
            projects.dedup_by_key(|p| p.0);
            let mut rows = JsonRows::new();
            for (code, name, category) in projects {
                rows.row(|r| {
                    r.text(code).text(name).text(category);
                });
            }
            steps.push(Step::new(
                rows::insert(
                    d,
                    "projects",
                    PROJECT_COLUMNS,
                    &upsert_suffix("project_code", PROJECT_COLUMNS, &[]),
                ),
                vec![rows.finish()],
            ));
            departments.sort_unstable();
            departments.dedup();
            let mut rows = JsonRows::new();
            for name in departments {
                rows.row(|r| {
                    r.text(name);
                });
            }
            steps.push(Step::new(
                rows::insert(
                    d,
                    "departments",
                    &[text("name")],
                    "ON CONFLICT (name) DO NOTHING",
                ),
                vec![rows.finish()],
            ));
            if !history.is_empty() {
                steps.push(Step::new(
                    rows::insert(d, "grade_history", HISTORY_COLUMNS, ""),
                    vec![history.finish()],
                ));
            }
            batches.push(steps);
        }
        self.run_batches(batches).await
    }

    /// Runs batches of statements atomically: in one transaction on SQLite; on PostgreSQL
    /// each batch as a single statement whose parts are data-modifying `WITH` queries (in a
    /// transaction if there are several). sqlx 0.9.0 leaves Nagle's algorithm on (sqlx issue
    /// #4335), so over TCP each statement that carries a batch can wait ~40 ms for a
    /// delayed ACK: one statement a batch waits once. (The parts of one statement see the
    /// same snapshot, so they must not touch the same rows.)
    async fn run_batches(&self, batches: Vec<Vec<Step>>) -> Result<(), StoreError> {
        match self.dialect {
            super::Dialect::Sqlite => {
                let mut tx = self.pool.begin().await?;
                for step in batches.into_iter().flatten() {
                    let mut q = query(&self.sql(&step.sql));
                    for value in step.binds {
                        q = q.bind(value);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            super::Dialect::Postgres => {
                let statements = batches.into_iter().filter(|b| !b.is_empty()).map(|steps| {
                    let mut parts = Vec::with_capacity(steps.len());
                    let mut binds = Vec::new();
                    for (i, step) in steps.into_iter().enumerate() {
                        parts.push(format!(
                            "s{i} AS ({})",
                            rows::shift_placeholders(&step.sql, binds.len())
                        ));
                        binds.extend(step.binds);
                    }
                    (format!("WITH {} SELECT 1", parts.join(", ")), binds)
                });
                let statements: Vec<(String, Vec<String>)> = statements.collect();
                let single = statements.len() == 1;
                let mut tx = if single {
                    None
                } else {
                    Some(self.pool.begin().await?)
                };
                for (sql, binds) in statements {
                    let mut q = query(&sql);
                    for value in binds {
                        q = q.bind(value);
                    }
                    match tx.as_mut() {
                        Some(tx) => q.execute(&mut **tx).await?,
                        None => q.execute(&self.pool).await?,
                    };
                }
                if let Some(tx) = tx {
                    tx.commit().await?;
                }
            }
        }
        Ok(())
    }

    /// Writes new gradings of items whose records did not change (time moved on), with a
    /// history row for each grade that changed. Returns how many grades changed.
    pub async fn regrade_items(
        &self,
        updates: &[GradeUpdate<'_>],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let d = self.dialect;
        let set: Vec<String> = GRADE_COLUMNS[1..]
            .iter()
            .map(|c| format!("{0} = u.{0}", c.name))
            .collect();
        let update = format!(
            "UPDATE items SET {}, changed_at = $1 FROM ({}) AS u WHERE items.item_id = u.item_id",
            set.join(", "),
            rows::select(d, GRADE_COLUMNS, 2)
        );
        let mut changed = 0;
        let mut batches = Vec::new();
        for chunk in updates.chunks(BATCH) {
            let mut gradings = JsonRows::with_capacity(chunk.len(), 120);
            let mut history = JsonRows::new();
            for u in chunk {
                let g = u.grading;
                gradings.row(|r| {
                    r.text(u.item_id);
                    grading_cells(r, g, u.next_change.as_ref());
                });
                if u.previous != Some(g.grade) {
                    history.row(|r| {
                        r.text(u.item_id)
                            .time(&now)
                            .text(g.grade.as_str())
                            .opt_text(u.previous.map(Grade::as_str))
                            .text("clock");
                    });
                }
            }
            let mut steps = vec![Step::new(
                update.clone(),
                vec![utc(&now), gradings.finish()],
            )];
            if !history.is_empty() {
                changed += history.len();
                steps.push(Step::new(
                    rows::insert(d, "grade_history", HISTORY_COLUMNS, ""),
                    vec![history.finish()],
                ));
            }
            batches.push(steps);
        }
        self.run_batches(batches).await?;
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
        );
        let chunk_after = |after: String| async move {
            self.json_chunk::<StoredRow>(
                "item_id, project_code, matter, department, stage, status, accepted_at, limit_days, \
                 legal_days, extension_days, finished_at, updated_at, record_hash, grade",
                "items",
                "item_id",
                &after,
            )
            .await
        };
        let mut count = 0;
        let mut chunk = chunk_after(String::new()).await?;
        while let Some(last) = chunk.iter().map(|r| &r.0).max() {
            // The database reads the next chunk while this one is handed over.
            let next = chunk_after(last.clone());
            let visit_chunk = async {
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
            };
            let (next, ()) = tokio::join!(next, visit_chunk);
            chunk = next?;
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
