//! Items and what hangs off them: pauses, projects, departments, and their changes in the
//! ledger's log (`super::ledger`: each new record version and grade event, in the same
//! transaction as the item). Writes go in batches of rows: on SQLite each
//! table's rows one JSON value a statement, atomically per write (see `Batches`); on
//! PostgreSQL by `COPY` and one statement of array parameters, a large write's items and the
//! rest in two transactions (see `write_items_pg`). Start-up's reads are in `load`.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use sqlx::Any;
use sqlx::Arguments as _;
use sqlx::any::AnyArguments;
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;

use super::ledger::{self, CHANGE_COLUMNS};
use super::rows::{self, Column, Format, Rows, int, text};
use super::{Dialect, Store, StoreError, query};
use crate::grading::Grading;
use crate::item::Item;
use crate::ledger::GradeEvent;

/// One new or changed record to write: the item, its row as `item_row` rendered it, its
/// record version, when its change took effect, and the grade events it brought.
pub struct ItemWrite<'a> {
    pub item: &'a Item,
    pub row: &'a ItemRow,
    /// 1 for an item the board did not hold.
    pub version: u32,
    pub took_effect: DateTime<Utc>,
    pub events: &'a [GradeEvent],
}

impl ItemWrite<'_> {
    /// Not on the board before: written as a new row (an upsert otherwise).
    fn is_new(&self) -> bool {
        self.version == 1
    }
}

/// An item's row of the `items` table in the store's row format, open (see
/// `rows::open_row`): all but the version and times of the write (first seen, changed),
/// which are only known when it is written; and its record as the ledger keeps it (canonical
/// JSON). Rendered by `Store::item_row`, off the writer's path.
pub struct ItemRow {
    open: String,
    record: String,
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
    // The applicants' rating (好差评), when the feed carries one.
    int("rating"),
    // The grading, as `grading_cells` writes it.
    text("grade"),
    text("deadline_date"),
    int("allowed"),
    int("used"),
    int("remaining"),
    int("overdue"),
    int("paused"),
    text("next_change"),
    int("version"),
    text("first_seen_at"),
    text("changed_at"),
];

/// Where the grading's columns are in `ITEM_COLUMNS`.
const GRADING: std::ops::Range<usize> = 15..23;

/// Rows a statement: large enough that statements are few, small enough that one batch's
/// JSON (about 400 bytes an item) stays a few megabytes.
const BATCH: usize = 10_000;

/// How one write's batches run atomically (SQLite's writes, and regrades on both): in one
/// transaction on SQLite; on PostgreSQL a write of one batch is a single statement (atomic by
/// itself), a larger one a transaction.
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

/// A project's upsert (SQLite's; PostgreSQL's is in `PgPart::rest`): its row is written
/// again only when its name or category differ. Each page of a feed names the same few
/// hundred projects, and an update of an unchanged row still writes a new version of it.
fn project_upsert() -> String {
    let differs: Vec<String> = PROJECT_COLUMNS[1..]
        .iter()
        .map(|c| format!("projects.{0} IS DISTINCT FROM excluded.{0}", c.name))
        .collect();
    format!(
        "{} WHERE {}",
        upsert_suffix("project_code", PROJECT_COLUMNS, &[]),
        differs.join(" OR ")
    )
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
    /// The item's record version, which the events and a deadline move belong to.
    pub version: u32,
    pub grading: &'a Grading,
    pub next_change: Option<DateTime<Utc>>,
    /// The grade events that led to it, each logged at its own instant.
    pub events: &'a [GradeEvent],
    /// The deadline before, when the calendar moved it: logged with the cause `calendar`.
    pub deadline_moved_from: Option<NaiveDate>,
}

impl<'a> From<&'a crate::board::Graded> for GradeUpdate<'a> {
    fn from(g: &'a crate::board::Graded) -> Self {
        GradeUpdate {
            item_id: &g.entry.item_id,
            version: g.entry.version,
            grading: &g.entry.grading,
            next_change: g.next_change(),
            events: &g.events,
            deadline_moved_from: g.deadline_moved_from,
        }
    }
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

const PAUSE_COLUMNS: &[Column] = &[
    text("item_id"),
    int("seq"),
    text("kind"),
    text("from_at"),
    text("to_at"),
];

const PROJECT_COLUMNS: &[Column] = &[text("project_code"), text("project_name"), text("category")];

/// The cells an item's open row still lacks after its version when it is written (first
/// seen, changed: both `now`, of which an upsert keeps the first seen) and the row's end.
fn write_times(format: Format, now: &DateTime<Utc>) -> String {
    let at = format.plain(&utc(now));
    let sep = format.separator();
    format!("{sep}{at}{sep}{at}{}", format.close())
}

/// The log rows of a write: each record's version, then the grade events it brought.
fn change_rows(rows: &mut Rows, w: &ItemWrite<'_>, feed: &str, now: &DateTime<Utc>) {
    ledger::version_row(
        rows,
        &w.item.item_id,
        w.version,
        &w.took_effect,
        now,
        feed,
        &w.row.record,
    );
    for event in w.events {
        ledger::event_row(rows, event, now);
    }
}

/// A pause row of each of an item's pauses.
fn pause_rows(rows: &mut Rows, item: &Item) {
    for (seq, pause) in item.pauses.iter().enumerate() {
        rows.row(|r| {
            r.text(&item.item_id)
                .int(seq as i64)
                .text(pause.kind.as_str())
                .time(&pause.from)
                .opt_time(pause.to.as_ref());
        });
    }
}

/// The projects and departments of a write, one of each: PostgreSQL refuses an upsert that
/// touches a row twice.
fn projects_and_departments<'a>(
    writes: &[ItemWrite<'a>],
) -> (Vec<(&'a str, &'a str, &'a str)>, Vec<&'a str>) {
    let mut projects: Vec<(&str, &str, &str)> = writes
        .iter()
        .map(|w| {
            let item = w.item;
            (
                item.project_code.as_str(),
                item.project_name.as_str(),
                item.project_category.as_str(),
            )
        })
        .collect();
    projects.sort_unstable();
    projects.dedup_by_key(|p| p.0);
    let mut departments: Vec<&str> = writes.iter().map(|w| w.item.department.as_str()).collect();
    departments.sort_unstable();
    departments.dedup();
    (projects, departments)
}

/// Copies items' rendered rows, closed with the write's `times`, into `table` (`items`, or
/// the temporary `items_in`) by `COPY … FROM STDIN`. A chunk (`PG_ROWS`) goes in one
/// send.
async fn copy_items(
    conn: &mut PgConnection,
    table: &str,
    writes: &[&ItemWrite<'_>],
    times: &str,
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut rows = Rows::with_capacity(Format::Copy, writes.len(), 450);
    for w in writes {
        rows.push_open_int(&w.row.open, i64::from(w.version), times);
    }
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} ({}) FROM STDIN", item_names()))
        .await?;
    copy.send(rows.finish().as_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// PostgreSQL statements run as one: each is a data-modifying `WITH` query, the `i`-th named
/// `s{i}` (so a later one can read an earlier one's `RETURNING` rows). They see the same
/// snapshot, so they must not touch the same rows.
fn with_statement(parts: &[String]) -> String {
    let parts: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, sql)| format!("s{i} AS ({sql})"))
        .collect();
    format!("WITH {} SELECT 1", parts.join(", "))
}

/// The items' columns, as a statement lists them.
fn item_names() -> String {
    let names: Vec<&str> = ITEM_COLUMNS.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// PostgreSQL's "unique_violation": a row written as new was already there.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "23505")
}

/// Batches from this size have their `items` rows and the rest written by PostgreSQL at once,
/// on two connections (`PG_PARTS`).
const SPLIT_FROM: usize = 1_000;

/// Items a PostgreSQL statement or `COPY` carries: a 5,000-record page's share is two.
const PG_ROWS: usize = 2_500;

/// Connections a PostgreSQL write uses: one for the items and one for the rest (`Share`).
/// Each PostgreSQL connection works on one core: two keep two busy. Split by table, they do
/// not contend: split by rows, both inserted into the same few pages of `items`' indexes
/// (three of the four have few distinct keys, and new keys go to the right), and two parts
/// were no faster than one (1,000,000 items: 10.0–10.8 s by table against 10.7–13.3 s by
/// rows, interleaved; four parts by rows were no better than two).
pub(crate) const PG_PARTS: usize = SPLIT.len();

/// The shares of a large write, each on its own connection and in its own transaction,
/// committed last to first (see `Store::write_items_pg`).
const SPLIT: [Share; 2] = [Share::Items, Share::Rest];

/// Writes PostgreSQL takes at once (pages of a feed, see `crate::claims`): while one
/// is checked against the board, commits and is put on the board, the next is being written
/// (1,000,000 items over TCP: 8.85–9.18 s against 9.97–10.64 s one at a time, interleaved).
pub(crate) const PG_WRITES: usize = 2;

/// What one transaction writes of a PostgreSQL batch (see `Store::write_items_pg`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Share {
    All,
    /// The `items` rows.
    Items,
    /// Everything else: pauses, quarantine, projects, departments.
    Rest,
}

/// One transaction's part of a PostgreSQL write (see `Store::write_items_pg`).
struct PgPart<'a, 'w> {
    writes: &'a [ItemWrite<'w>],
    share: Share,
    feed: &'a str,
    now: DateTime<Utc>,
    all_changed: bool,
}

/// Adds a value to a statement's arguments and gives its placeholder.
fn arg<'t, T>(args: &mut PgArguments, value: T) -> Result<String, StoreError>
where
    T: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    args.add(value)
        .map_err(|e| StoreError::Query(sqlx::Error::Encode(e)))?;
    Ok(format!("${}", args.len()))
}

impl PgPart<'_, '_> {
    /// Writes this part's share of the batch, `PG_ROWS` items at a time (a large file's rows
    /// are never held whole).
    async fn write(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        for (i, writes) in self.writes.chunks(PG_ROWS).enumerate() {
            self.write_chunk(conn, writes, i == 0).await?;
        }
        if self.share != Share::Rest {
            self.write_changes(conn).await?;
        }
        Ok(())
    }

    /// The batch's log rows (versions and grade events), in the items' transaction, by
    /// `COPY` under the log's lock (`ledger::LOG_LOCK`), taken last so that it is held only
    /// for the copy and the commit. Written again as upserts (`all_changed`), a change
    /// already logged is left as it is.
    async fn write_changes(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let mut rows = Rows::with_capacity(Format::Copy, self.writes.len() * 2, 500);
        for w in self.writes {
            change_rows(&mut rows, w, self.feed, &self.now);
        }
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(ledger::LOG_LOCK)
            .execute(&mut *conn)
            .await?;
        let names = ledger::change_names();
        let table = if self.all_changed {
            "changes_in"
        } else {
            "changes"
        };
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table} ({names}) FROM STDIN"))
            .await?;
        copy.send(rows.finish().as_bytes()).await?;
        copy.finish().await?;
        if self.all_changed {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO changes ({names}) SELECT {names} FROM changes_in \
                 ON CONFLICT (item_id, kind, version, at) WHERE kind <> 'quarantine' DO NOTHING"
            )))
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Writes this part's share of `writes`; the `first` chunk's rest also has the whole
    /// batch's projects and departments.
    async fn write_chunk(
        &self,
        conn: &mut PgConnection,
        writes: &[ItemWrite<'_>],
        first: bool,
    ) -> Result<(), StoreError> {
        let is_new = |w: &ItemWrite| w.is_new() && !self.all_changed;
        let changed: Vec<&ItemWrite> = writes.iter().filter(|w| !is_new(w)).collect();
        let mut args = PgArguments::default();
        let mut parts: Vec<String> = Vec::new();
        if self.share != Share::Rest {
            let new: Vec<&ItemWrite> = writes.iter().filter(|w| is_new(w)).collect();
            let times = write_times(Format::Copy, &self.now);
            copy_items(conn, "items", &new, &times).await?;
            copy_items(conn, "items_in", &changed, &times).await?;
            if !changed.is_empty() {
                let names = item_names();
                let upsert = upsert_suffix("item_id", ITEM_COLUMNS, &["first_seen_at"]);
                // Taken out as they are used: `items_in` is emptied only at commit, and a
                // write's later chunks must not upsert the earlier ones' rows again.
                let taken = format!("s{}", parts.len());
                parts.push("DELETE FROM items_in RETURNING *".to_owned());
                parts.push(format!(
                    "INSERT INTO items ({names}) SELECT {names} FROM {taken} {upsert}"
                ));
            }
        }
        if self.share != Share::Items {
            self.rest(&mut parts, &mut args, writes, &changed, first)?;
        }
        if parts.is_empty() {
            return Ok(());
        }
        sqlx::query_with(sqlx::AssertSqlSafe(with_statement(&parts)), args)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The statements of `writes` that are not their `items` rows, as parts of one `WITH`.
    fn rest<'v>(
        &'v self,
        parts: &mut Vec<String>,
        args: &mut PgArguments,
        writes: &'v [ItemWrite<'_>],
        changed: &[&'v ItemWrite<'_>],
        first: bool,
    ) -> Result<(), StoreError> {
        // An item's pauses are replaced by the record's: in one statement a row cannot be
        // deleted and inserted again, so the pauses beyond the new count go and the others
        // are upserted.
        if !changed.is_empty() {
            let ids: Vec<&str> = changed.iter().map(|w| w.item.item_id.as_str()).collect();
            let counts: Vec<i64> = changed.iter().map(|w| w.item.pauses.len() as i64).collect();
            parts.push(format!(
                "DELETE FROM pauses USING unnest({}::text[], {}::int8[]) AS c(item_id, n) \
                 WHERE pauses.item_id = c.item_id AND pauses.seq >= c.n",
                arg(args, ids)?,
                arg(args, counts)?
            ));
        }
        // Each pause's cells, column by column: the item, its place, kind, start and end.
        let mut pauses: (Vec<&str>, Vec<i64>, Vec<&str>) = Default::default();
        let mut pause_times: (Vec<String>, Vec<Option<String>>) = Default::default();
        for w in writes {
            let item = w.item;
            for (seq, pause) in item.pauses.iter().enumerate() {
                pauses.0.push(&item.item_id);
                pauses.1.push(seq as i64);
                pauses.2.push(pause.kind.as_str());
                pause_times.0.push(utc(&pause.from));
                pause_times.1.push(pause.to.as_ref().map(utc));
            }
        }
        if !pauses.0.is_empty() {
            parts.push(format!(
                "INSERT INTO pauses (item_id, seq, kind, from_at, to_at) \
                 SELECT * FROM unnest({}::text[], {}::int8[], {}::text[], {}::text[], {}::text[]) \
                 ON CONFLICT (item_id, seq) DO UPDATE SET kind = excluded.kind, \
                 from_at = excluded.from_at, to_at = excluded.to_at",
                arg(args, pauses.0)?,
                arg(args, pauses.1)?,
                arg(args, pauses.2)?,
                arg(args, pause_times.0)?,
                arg(args, pause_times.1)?
            ));
        }
        // A good record for an item ends its quarantine from this feed.
        let ids: Vec<&str> = writes.iter().map(|w| w.item.item_id.as_str()).collect();
        parts.push(format!(
            "DELETE FROM quarantine WHERE feed = {} AND item_id = ANY({})",
            arg(args, self.feed)?,
            arg(args, ids)?
        ));
        if first {
            let (projects, departments) = projects_and_departments(self.writes);
            let column =
                |i: usize| -> Vec<&str> { projects.iter().map(|p| [p.0, p.1, p.2][i]).collect() };
            // New projects are inserted and changed ones updated; the others are left alone
            // and not locked (an upsert locks every row it meets, and two writes of pages
            // naming the same projects would wait for each other's commit).
            let given = format!(
                "unnest({}::text[], {}::text[], {}::text[]) AS g(code, name, category)",
                arg(args, column(0))?,
                arg(args, column(1))?,
                arg(args, column(2))?
            );
            parts.push(format!(
                "INSERT INTO projects (project_code, project_name, category) \
                 SELECT * FROM {given} ON CONFLICT (project_code) DO NOTHING"
            ));
            parts.push(format!(
                "UPDATE projects SET project_name = g.name, category = g.category FROM {given} \
                 WHERE projects.project_code = g.code \
                 AND (projects.project_name, projects.category) IS DISTINCT FROM (g.name, g.category)"
            ));
            parts.push(format!(
                "INSERT INTO departments (name) SELECT unnest({}::text[]) \
                 ON CONFLICT (name) DO NOTHING",
                arg(args, departments)?
            ));
        }
        Ok(())
    }
}

impl Store {
    /// Renders an item's row in this store's row format, to be written by `write_items`:
    /// the record, the feed that sent it, its hash and its grading.
    pub fn item_row(
        &self,
        item: &Item,
        feed: &str,
        hash: u64,
        grading: &Grading,
        next_change: Option<DateTime<Utc>>,
    ) -> ItemRow {
        let format = self.row_format();
        let open = rows::open_row(format, 400, |r| {
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
            match item.rating {
                Some(rating) => r.int(i64::from(rating)),
                None => r.null(),
            };
            grading_cells(r, grading, next_change.as_ref());
        });
        ItemRow {
            open,
            // An `Item` always serialises (strings, numbers and times).
            record: serde_json::to_string(item).unwrap_or_default(),
        }
    }

    fn row_format(&self) -> Format {
        match self.dialect {
            Dialect::Sqlite => Format::Json,
            Dialect::Postgres => Format::Copy,
        }
    }

    /// Writes a batch at once: the items with their grading, their pauses, their projects
    /// and departments, and in the log each record's version and its grade events. SQLite
    /// runs the statements in one transaction; PostgreSQL's way is `write_items_pg`.
    pub async fn write_items(
        &self,
        writes: &[ItemWrite<'_>],
        feed: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        if let Some(pg) = &self.pg {
            return match self.write_items_pg(pg, writes, feed, now, false).await {
                Err(StoreError::Query(e)) if is_unique_violation(&e) => {
                    // The board, which decides what is new, did not know a stored item: a
                    // second daemon on the same database, or a store changed by hand. The
                    // write is done again as upserts.
                    tracing::warn!(
                        error = %e,
                        "an item written as new was already stored; writing the batch again as updates"
                    );
                    self.write_items_pg(pg, writes, feed, now, true).await
                }
                done => done,
            };
        }
        let d = self.dialect;
        const ID: &[Column] = &[text("item_id")];
        let now_cells = write_times(Format::Json, &now);
        let mut batches = self.batches(writes.len() > BATCH).await?;
        for chunk in writes.chunks(BATCH) {
            let mut steps: Vec<Step> = Vec::new();

            // Each row as rendered, closed with the times of this write.
            let mut items = Rows::with_capacity(Format::Json, chunk.len(), 450);
            for w in chunk {
                items.push_open_int(&w.row.open, i64::from(w.version), &now_cells);
            }
            let items = items.finish();
            steps.push(Step::new(
                rows::insert(
                    d,
                    "items",
                    ITEM_COLUMNS,
                    &upsert_suffix("item_id", ITEM_COLUMNS, &["first_seen_at"]),
                ),
                vec![items],
            ));

            let mut ids = Rows::with_capacity(Format::Json, chunk.len(), 32);
            let mut pauses = Rows::with_capacity(Format::Json, chunk.len() / 4, 100);
            let mut changes = Rows::with_capacity(Format::Json, chunk.len() * 2, 500);
            for w in chunk {
                ids.row(|r| {
                    r.text(&w.item.item_id);
                });
                pause_rows(&mut pauses, w.item);
                change_rows(&mut changes, w, feed, &now);
            }
            let ids = ids.finish();
            // An item's pauses are replaced by the record's.
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
            // A good record for an item ends its quarantine from this feed.
            steps.push(Step::new(
                format!(
                    "DELETE FROM quarantine WHERE feed = $1 AND item_id IN ({})",
                    rows::select(d, ID, 2)
                ),
                vec![feed.to_owned(), ids],
            ));
            let (projects, departments) = projects_and_departments(chunk);
            let mut rows = Rows::new();
            for (code, name, category) in projects {
                rows.row(|r| {
                    r.text(code).text(name).text(category);
                });
            }
            steps.push(Step::new(
                rows::insert(d, "projects", PROJECT_COLUMNS, &project_upsert()),
                vec![rows.finish()],
            ));
            let mut rows = Rows::new();
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
            steps.push(Step::new(
                rows::insert(d, "changes", CHANGE_COLUMNS, ""),
                vec![changes.finish()],
            ));
            self.run_batch(&mut batches, steps).await?;
        }
        batches.finish().await
    }

    /// PostgreSQL's write of a batch. New items go in by `COPY`, which inserts many rows at
    /// a time (5,000 items: ~30 ms, against ~60 ms for an upsert from JSON), and changed ones
    /// by `COPY` into a temporary table (`items_in`) and an upsert from it; their log rows
    /// follow by `COPY` in the same transaction. The rest (pauses, quarantine, projects,
    /// departments) is one statement of array parameters. A
    /// large batch's `items` rows and its rest are written at once, one connection and
    /// transaction each: both are written, then both committed. They touch different tables,
    /// so neither waits for the other's locks (a wait on another session's is bounded by
    /// `lock_timeout`, see `super::pg_writer`). `all_changed` writes every item as changed, for
    /// when one written as new turned out to be stored.
    async fn write_items_pg(
        &self,
        pg: &super::PgWriter,
        writes: &[ItemWrite<'_>],
        feed: &str,
        now: DateTime<Utc>,
        all_changed: bool,
    ) -> Result<(), StoreError> {
        let _turn = pg
            .writes
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let pool = &pg.pool;
        let part = |share| PgPart {
            writes,
            share,
            feed,
            now,
            all_changed,
        };
        let parts: Vec<PgPart> = if writes.len() < SPLIT_FROM {
            vec![part(Share::All)]
        } else {
            SPLIT.into_iter().map(part).collect()
        };
        let mut txs =
            futures_util::future::try_join_all(parts.iter().map(|_| pool.begin())).await?;
        futures_util::future::try_join_all(parts.iter().zip(&mut txs).map(|(p, tx)| p.write(tx)))
            .await?;
        // The rest is committed first, then the items with their log rows (`SPLIT` from its
        // end). Should the items' commit fail after the rest's, the store holds pauses of
        // records it does not hold: the error makes the feed run again, which writes the
        // items and logs their versions and events, once. The other way round, items stored
        // without their pauses would be graded wrongly after a restart.
        // Between the two commits, readers of the store see a page's rest without its items
        // (the board, which the screens show, sees neither until both are in).
        while let Some(tx) = txs.pop() {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Where a write's batches will run (see `Batches`); `several` if it has more than one.
    async fn batches(&self, several: bool) -> Result<Batches, StoreError> {
        Ok(if self.dialect == super::Dialect::Sqlite || several {
            Batches::Transaction(self.pool.begin().await?)
        } else {
            Batches::Single
        })
    }

    /// Runs one batch's statements: in turn on SQLite; on PostgreSQL as one statement
    /// (`with_statement`): one round trip a batch.
    async fn run_batch(&self, batches: &mut Batches, steps: Vec<Step>) -> Result<(), StoreError> {
        let statements: Vec<(String, Vec<String>)> = match self.dialect {
            super::Dialect::Sqlite => steps
                .into_iter()
                .map(|step| (self.sql(&step.sql), step.binds))
                .collect(),
            super::Dialect::Postgres => {
                let mut parts = Vec::with_capacity(steps.len());
                let mut binds = Vec::new();
                for step in steps {
                    parts.push(rows::shift_placeholders(&step.sql, binds.len()));
                    binds.extend(step.binds);
                }
                vec![(with_statement(&parts), binds)]
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

    /// Writes new gradings of items whose records did not change (time moved on), with their
    /// grade events and the calendar's deadline moves in the log, each at its instant.
    /// Returns how many items changed grade.
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
        let logs = updates
            .iter()
            .any(|u| !u.events.is_empty() || u.deadline_moved_from.is_some());
        // The log's rows go in under its lock, in a transaction (`ledger::lock_log`).
        let mut batches = self
            .batches(updates.len() > BATCH || (logs && d == Dialect::Postgres))
            .await?;
        if logs && let Batches::Transaction(tx) = &mut batches {
            ledger::lock_log(d, &mut **tx).await?;
        }
        for chunk in updates.chunks(BATCH) {
            let mut gradings = Rows::with_capacity(Format::Json, chunk.len(), 120);
            let mut log = Rows::new();
            for u in chunk {
                let g = u.grading;
                gradings.row(|r| {
                    r.text(u.item_id);
                    grading_cells(r, g, u.next_change.as_ref());
                });
                if !u.events.is_empty() {
                    changed += 1;
                }
                for event in u.events {
                    ledger::event_row(&mut log, event, &now);
                }
                if let Some(previous) = u.deadline_moved_from {
                    ledger::deadline_row(
                        &mut log,
                        u.item_id,
                        u.version,
                        previous,
                        g.deadline_date,
                        &now,
                    );
                }
            }
            let mut steps = vec![Step::new(
                update.clone(),
                vec![utc(&now), gradings.finish()],
            )];
            if !log.is_empty() {
                steps.push(Step::new(
                    rows::insert(d, "changes", CHANGE_COLUMNS, ""),
                    vec![log.finish()],
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
    use crate::grading::Grade;
    use chrono::NaiveDate;

    fn grading(grade: Grade, day: u32, allowed: u32, used: u32, paused: bool) -> Grading {
        Grading {
            grade,
            deadline_date: NaiveDate::from_ymd_opt(2026, 11, day).unwrap_or_default(),
            allowed,
            used,
            remaining: i64::from(allowed) - i64::from(used),
            overdue: used > allowed,
            paused,
            next_change_on: None,
            provisional: false,
        }
    }

    /// A re-grade writes the grading's cells (in `grading_cells`' order) into the columns of
    /// `GRADING`: read back from a real store, every field is the new grading's, and the
    /// record's columns beside the range are untouched. Each field of the new grading differs
    /// from the old one, so a range or an order out of step shows as a wrong value.
    #[tokio::test]
    async fn a_regrade_writes_each_grading_field_into_its_own_column() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("duban.db").display());
        let store = Store::open(&url).await.unwrap();
        let record = r#"{"item_id": "G-1", "project_code": "P-1", "project_name": "某项目",
            "project_category": "general_social", "matter": "建设工程规划许可证核发",
            "department": "市自然资源和规划局", "stage": 2, "status": "pending",
            "accepted_at": "2026-11-02T09:30:00+08:00", "limit_days": 10, "legal_days": 20,
            "extension_days": 0, "pauses": [], "finished_at": null,
            "updated_at": "2026-11-02T09:30:00+08:00"}"#;
        let item = crate::item::tests::parse(record).unwrap();
        let now = DateTime::parse_from_rfc3339("2026-11-04T10:00:00+08:00")
            .unwrap()
            .to_utc();
        let before = grading(Grade::Blue, 16, 10, 2, false);
        let row = store.item_row(&item, "main", 77, &before, Some(now));
        let write = ItemWrite {
            item: &item,
            row: &row,
            version: 1,
            took_effect: now,
            events: &[],
        };
        store.write_items(&[write], "main", now).await.unwrap();

        let after = grading(Grade::Red, 13, 11, 12, true);
        let next = now + chrono::Duration::days(3);
        let update = GradeUpdate {
            item_id: "G-1",
            grading: &after,
            next_change: Some(next),
            version: 1,
            events: &[],
            deadline_moved_from: NaiveDate::from_ymd_opt(2026, 11, 12),
        };
        store.regrade_items(&[update], now).await.unwrap();
        let detail = store.item("G-1").await.unwrap().unwrap();
        let stored = detail.item;
        let moved: Vec<(&str, &str, &str)> = detail
            .deadline_changes
            .iter()
            .map(|c| (c.previous.as_str(), c.deadline.as_str(), c.cause.as_str()))
            .collect();
        assert_eq!(moved, [("2026-11-12", "2026-11-13", "calendar")]);
        assert_eq!(
            (
                stored.grade.as_str(),
                stored.deadline_date.as_str(),
                stored.allowed,
                stored.used,
                stored.remaining,
                stored.overdue,
                stored.paused,
            ),
            ("red", "2026-11-13", 11, 12, -1, true, true)
        );
        let stored_next = stored.next_change.as_deref().map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.to_utc())
                .unwrap_or_default()
        });
        assert_eq!(stored_next, Some(next));
        assert_eq!(
            (stored.feed.as_str(), stored.limit_days, stored.stage),
            ("main", 10, 2),
            "the record's columns are the record's"
        );
        store.close().await;
    }
}
