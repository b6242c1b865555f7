//! Items and what hangs off them: pauses, projects, departments, and the grade history (every
//! grade change with its instant and cause). Writes go in batches of rows, each table's rows
//! one JSON value a statement, atomically per write (see `Batches`). Start-up's reads are in
//! `load`.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::rows::{self, Column, JsonRows, int, text};
use super::{Store, StoreError, query};
use crate::grading::{Grade, Grading};
use crate::item::Item;

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

/// Where the grading's columns are in `ITEM_COLUMNS`.
const GRADING: std::ops::Range<usize> = 14..22;

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

/// How one write's batches run atomically: in one transaction on SQLite; on PostgreSQL a
/// write of one batch is a single statement (atomic by itself), a larger one a transaction.
/// Each batch is built just before it runs, so a large file is never held as JSON whole.
enum Batches {
    Transaction(sqlx::Transaction<'static, Any>),
    Single,
}

impl Batches {
    async fn finish(self) -> Result<(), StoreError> {
        if let Batches::Transaction(tx) = self {
            tx.commit().await?;
        }
        Ok(())
    }
}

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
    /// The grade changes that led to it, each written to the history at its own instant.
    pub changes: &'a [GradeChange],
}

/// A grade change by the clock, at the instant it took effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GradeChange {
    pub at: DateTime<Utc>,
    pub from: Grade,
    pub to: Grade,
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

impl Store {
    /// Writes a batch at once: the items with their grading, their pauses, their projects
    /// and departments, and a history row for every grade that changed. SQLite runs the
    /// statements in one transaction; PostgreSQL gets them as one statement (see `Batches`).
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
        if writes.is_empty() {
            return Ok(());
        }
        let now_cells = format!(",\"{0}\",\"{0}\"]", utc(&now));
        let mut batches = self.batches(writes.len() > BATCH).await?;
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
            self.run_batch(&mut batches, steps).await?;
        }
        batches.finish().await
    }

    /// Where a write's batches will run (see `Batches`); `several` if it has more than one.
    async fn batches(&self, several: bool) -> Result<Batches, StoreError> {
        Ok(if self.dialect == super::Dialect::Sqlite || several {
            Batches::Transaction(self.pool.begin().await?)
        } else {
            Batches::Single
        })
    }

    /// Runs one batch's statements: in turn on SQLite; on PostgreSQL as a single statement
    /// whose parts are data-modifying `WITH` queries (they see the same snapshot, so they
    /// must not touch the same rows). sqlx 0.9.0 leaves Nagle's algorithm on (sqlx issue
    /// #4335), so over TCP each statement that carries a batch can wait ~40 ms for a delayed
    /// ACK: one statement a batch waits once.
    async fn run_batch(&self, batches: &mut Batches, steps: Vec<Step>) -> Result<(), StoreError> {
        let statements: Vec<(String, Vec<String>)> = match self.dialect {
            super::Dialect::Sqlite => steps
                .into_iter()
                .map(|step| (self.sql(&step.sql), step.binds))
                .collect(),
            super::Dialect::Postgres => {
                let mut parts = Vec::with_capacity(steps.len());
                let mut binds = Vec::new();
                for (i, step) in steps.into_iter().enumerate() {
                    parts.push(format!(
                        "s{i} AS ({})",
                        rows::shift_placeholders(&step.sql, binds.len())
                    ));
                    binds.extend(step.binds);
                }
                vec![(format!("WITH {} SELECT 1", parts.join(", ")), binds)]
            }
        };
        for (sql, binds) in statements {
            let mut q = query(&sql);
            for value in binds {
                q = q.bind(value);
            }
            match batches {
                Batches::Transaction(tx) => q.execute(&mut **tx).await?,
                Batches::Single => q.execute(&self.pool).await?,
            };
        }
        Ok(())
    }

    /// Writes new gradings of items whose records did not change (time moved on), with a
    /// history row for each change, at its instant. Returns how many items changed grade.
    pub async fn regrade_items(
        &self,
        updates: &[GradeUpdate<'_>],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let d = self.dialect;
        // The item key, then the grading, as `grading_cells` writes it.
        let columns: Vec<Column> = std::iter::once(text("item_id"))
            .chain(ITEM_COLUMNS[GRADING].iter().copied())
            .collect();
        let set: Vec<String> = ITEM_COLUMNS[GRADING]
            .iter()
            .map(|c| format!("{0} = u.{0}", c.name))
            .collect();
        let update = format!(
            "UPDATE items SET {}, changed_at = $1 FROM ({}) AS u WHERE items.item_id = u.item_id",
            set.join(", "),
            rows::select(d, &columns, 2)
        );
        if updates.is_empty() {
            return Ok(0);
        }
        let mut changed = 0;
        let mut batches = self.batches(updates.len() > BATCH).await?;
        for chunk in updates.chunks(BATCH) {
            let mut gradings = JsonRows::with_capacity(chunk.len(), 120);
            let mut history = JsonRows::new();
            for u in chunk {
                let g = u.grading;
                gradings.row(|r| {
                    r.text(u.item_id);
                    grading_cells(r, g, u.next_change.as_ref());
                });
                if !u.changes.is_empty() {
                    changed += 1;
                }
                for change in u.changes {
                    history.row(|r| {
                        r.text(u.item_id)
                            .time(&change.at)
                            .text(change.to.as_str())
                            .text(change.from.as_str())
                            .text("clock");
                    });
                }
            }
            let mut steps = vec![Step::new(
                update.clone(),
                vec![utc(&now), gradings.finish()],
            )];
            if !history.is_empty() {
                steps.push(Step::new(
                    rows::insert(d, "grade_history", HISTORY_COLUMNS, ""),
                    vec![history.finish()],
                ));
            }
            self.run_batch(&mut batches, steps).await?;
        }
        batches.finish().await?;
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grading_range_names_the_grading_columns() {
        let names: Vec<&str> = ITEM_COLUMNS[GRADING].iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "grade",
                "deadline_date",
                "allowed",
                "used",
                "remaining",
                "overdue",
                "paused",
                "next_change"
            ]
        );
    }
}
