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
pub(crate) const LOG_LOCK: i64 = 0x0064_7562_616e;

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
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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
    pub from: Option<String>,
    pub to: Option<String>,
    /// A version's record, a deadline move's dates, a quarantine entry's feed, field and
    /// reason: as stored, not parsed again.
    pub body: Option<Box<RawValue>>,
}

/// Changes as the database wrote them out: a JSON array of `Change` objects, how many, and
/// the last one's position. Built by the database in one row (`json_group_array` /
/// `json_agg`), as start-up reads the items (`load`): handed over row by row, a million
/// changes took 22 s.
pub struct ChangesText {
    pub json: String,
    pub count: i64,
    pub last: Option<i64>,
}

impl ChangesText {
    pub fn parse(&self) -> Result<Vec<Change>, StoreError> {
        super::load::decode("changes", &self.json)
    }
}

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
    /// The changes after position `after`, in order, at most `limit`, as the database wrote
    /// them out (for the API, which passes them on as they are).
    pub async fn changes_text(&self, after: i64, limit: i64) -> Result<ChangesText, StoreError> {
        self.changes_where(
            "seq > $1 ORDER BY seq LIMIT $2",
            vec![after.into(), limit.into()],
        )
        .await
    }

    /// The changes after position `after`, in order, at most `limit`.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        self.changes_text(after, limit).await?.parse()
    }

    /// The changes that `filter` (a `WHERE` clause with its order and limit, placeholders
    /// from `$1`) picks, in its order.
    async fn changes_where(
        &self,
        filter: &str,
        params: Vec<super::items::Param>,
    ) -> Result<ChangesText, StoreError> {
        let (aggregate, object, body, ordered) = match self.dialect {
            Dialect::Sqlite => ("json_group_array", "json_object", "json(body)", ""),
            Dialect::Postgres => (
                "json_agg",
                "json_build_object",
                "body::json",
                " ORDER BY seq",
            ),
        };
        let sql = format!(
            "SELECT CAST({aggregate}({object}('seq', seq, 'kind', kind, 'item_id', item_id, \
             'version', version, 'at', at, 'recorded_at', recorded_at, 'cause', cause, \
             'from', grade_from, 'to', grade_to, 'body', {body}){ordered}) AS TEXT) AS rows, \
             COUNT(*) AS n, MAX(seq) AS last FROM (SELECT * FROM changes WHERE {filter}) AS c"
        );
        let row = super::items::bind_all(query(&self.sql(&sql)), params)
            .fetch_one(&self.pool)
            .await?;
        let json: Option<String> = row.try_get("rows")?;
        Ok(ChangesText {
            json: json.unwrap_or_else(|| "[]".to_owned()),
            count: row.try_get("n")?,
            last: row.try_get("last")?,
        })
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
        let changes = self
            .changes_where("item_id = $1 ORDER BY seq", vec![item_id.into()])
            .await?
            .parse()?;
        let mut timeline = Timeline::default();
        let mut before: Option<serde_json::Value> = None;
        for c in changes {
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

    /// An item's record versions (version, took effect, record), oldest first.
    pub async fn versions_of(
        &self,
        item_id: &str,
    ) -> Result<crate::ledger::table::Versions, StoreError> {
        let rows = query(&self.sql(
            "SELECT version, at, body FROM changes WHERE item_id = $1 AND kind = 'version' \
             ORDER BY version",
        ))
        .bind(item_id)
        .fetch_all(&self.pool)
        .await?;
        let mut versions = Vec::with_capacity(rows.len());
        for r in &rows {
            let body: Option<String> = r.try_get("body")?;
            let at: String = r.try_get("at")?;
            let version: i64 = r.try_get("version")?;
            let record =
                serde_json::from_str(body.as_deref().unwrap_or_default()).map_err(|e| {
                    StoreError::Query(sqlx::Error::Decode(
                        format!("version {version} of item {item_id} in the ledger: {e}").into(),
                    ))
                })?;
            versions.push((
                u32::try_from(version).unwrap_or(0),
                super::load::parse_time(&at).with_timezone(&Utc),
                record,
            ));
        }
        Ok(versions)
    }

    /// Every item's record versions, a chunk at a time in item order: `visit` is given one
    /// item's versions (version, when it took effect, the record's JSON) at a time. Each
    /// chunk is one JSON text the database builds (as start-up reads the items, `load`),
    /// read by keyset on the log's unique key (item, kind, version), so no chunk scans the
    /// log again.
    pub async fn for_each_versions(
        &self,
        mut visit: impl FnMut(&str, &[(u32, DateTime<Utc>, &str)]),
    ) -> Result<(), StoreError> {
        #[derive(serde::Deserialize)]
        struct VersionCells<'a>(
            String,
            i64,
            #[serde(borrow)] super::load::Text<'a>,
            #[serde(borrow)] super::load::Text<'a>,
        );
        const CHUNK: i64 = 20_000;
        let (aggregate, row, ordered) = match self.dialect {
            Dialect::Sqlite => ("json_group_array", "json_array", ""),
            Dialect::Postgres => ("json_agg", "json_build_array", " ORDER BY item_id, version"),
        };
        // `kind <> 'quarantine'` lets the partial unique index serve the order.
        let sql = self.sql(&format!(
            "SELECT CAST({aggregate}({row}(item_id, version, at, body){ordered}) AS TEXT) AS rows \
             FROM (SELECT item_id, version, at, body FROM changes \
                   WHERE kind = 'version' AND kind <> 'quarantine' \
                   AND (item_id > $1 OR (item_id = $2 AND version > $3)) \
                   ORDER BY item_id, version LIMIT $4) AS v"
        ));
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
        let (mut after_id, mut after_version) = (String::new(), 0i64);
        loop {
            let row = query(&sql)
                .bind(after_id.clone())
                .bind(after_id.clone())
                .bind(after_version)
                .bind(CHUNK)
                .fetch_one(&self.pool)
                .await?;
            let Some(text) = row.try_get::<Option<String>, _>("rows")? else {
                break;
            };
            let rows: Vec<VersionCells> = super::load::decode("changes", &text)?;
            let full = rows.len() as i64 == CHUNK;
            for VersionCells(id, version, at, record) in rows {
                if current.as_deref() != Some(id.as_str()) {
                    if let Some(done) = current.take() {
                        flush(&done, &mut versions);
                    }
                    current = Some(id.clone());
                }
                let at = super::load::parse_time(&at).with_timezone(&Utc);
                versions.push((version as u32, at, record.to_owned()));
                // The database's order: the last row read is where the next chunk starts.
                (after_id, after_version) = (id, version);
            }
            if !full {
                break;
            }
        }
        if let Some(done) = current.take() {
            flush(&done, &mut versions);
        }
        Ok(())
    }
}

/// Which projects a ledger table shows: part of a project's code or name, a department.
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    pub project: Option<String>,
    pub department: Option<String>,
}

/// What the store holds of one project for the ledger table (`ledger::table::block`).
pub struct ProjectLedger {
    pub project: crate::ledger::table::ProjectName,
    /// Its items' record versions, by item.
    pub items: Vec<(String, crate::ledger::table::Versions)>,
    /// Its items' grade events in the period.
    pub events: Vec<crate::ledger::table::EventLine>,
}

impl Store {
    /// The projects after `after` (by code) that `filter` names and that have items, at
    /// most `limit`, each with its items' versions and its grade events from `from` to
    /// before `to`: one page of the ledger table. A version whose record cannot be read
    /// (edited by hand) is left out, with a warning.
    pub async fn ledger_page(
        &self,
        filter: &LedgerFilter,
        after: &str,
        limit: i64,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<ProjectLedger>, StoreError> {
        use crate::ledger::table::{EventLine, ProjectName};
        let mut sql = "SELECT p.project_code, p.project_name, p.category FROM projects p \
                       WHERE p.project_code > $1"
            .to_owned();
        let mut params: Vec<super::items::Param> = vec![after.into()];
        if let Some(project) = &filter.project {
            let pattern = format!("%{}%", super::queries::like_escaped(project.trim()));
            sql.push_str(&format!(
                " AND (p.project_code LIKE ${} ESCAPE '\\' OR p.project_name LIKE ${} ESCAPE '\\')",
                params.len() + 1,
                params.len() + 2
            ));
            params.push(pattern.as_str().into());
            params.push(pattern.into());
        }
        let items_of = match &filter.department {
            Some(department) => {
                params.push(department.as_str().into());
                format!(
                    "SELECT 1 FROM items i WHERE i.project_code = p.project_code AND i.department = ${}",
                    params.len()
                )
            }
            None => "SELECT 1 FROM items i WHERE i.project_code = p.project_code".to_owned(),
        };
        params.push(limit.into());
        sql.push_str(&format!(
            " AND EXISTS ({items_of}) ORDER BY p.project_code LIMIT ${}",
            params.len()
        ));
        let projects: Vec<ProjectName> = super::items::bind_all(query(&self.sql(&sql)), params)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(ProjectName {
                    code: r.try_get("project_code")?,
                    name: r.try_get("project_name")?,
                    category: r.try_get("category")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        if projects.is_empty() {
            return Ok(Vec::new());
        }
        let mut codes = Rows::new();
        for p in &projects {
            codes.row(|r| {
                r.text(&p.code);
            });
        }
        let codes = codes.finish();
        let department = filter.department.clone();
        let in_projects = |n: usize| {
            let mut clause = format!(
                "c.item_id IN (SELECT i.item_id FROM items i WHERE i.project_code IN ({})",
                super::rows::select(self.dialect, &[text("project_code")], n)
            );
            if department.is_some() {
                clause.push_str(&format!(" AND i.department = ${}", n + 1));
            }
            clause.push(')');
            clause
        };
        let mut q = query(&self.sql(&format!(
            "SELECT c.item_id, c.version, c.at, c.body FROM changes c \
             WHERE c.kind = 'version' AND {} ORDER BY c.item_id, c.version",
            in_projects(1)
        )))
        .bind(codes.clone());
        if let Some(d) = &department {
            q = q.bind(d.clone());
        }
        let mut by_item: std::collections::BTreeMap<String, crate::ledger::table::Versions> =
            Default::default();
        for r in q.fetch_all(&self.pool).await? {
            let item_id: String = r.try_get("item_id")?;
            let version: i64 = r.try_get("version")?;
            let at: String = r.try_get("at")?;
            let body: Option<String> = r.try_get("body")?;
            match body
                .as_deref()
                .map(serde_json::from_str::<crate::item::Item>)
            {
                Some(Ok(record)) => by_item.entry(item_id).or_default().push((
                    u32::try_from(version).unwrap_or(0),
                    super::load::parse_time(&at).with_timezone(&Utc),
                    record,
                )),
                _ => {
                    tracing::warn!(item = %item_id, version, "a version in the ledger cannot be read")
                }
            }
        }
        let mut q = query(&self.sql(&format!(
            "SELECT c.item_id, c.at, c.grade_from, c.grade_to, c.cause FROM changes c \
             WHERE c.kind = 'grade' AND c.at >= $1 AND c.at < $2 AND {} ORDER BY c.seq",
            in_projects(3)
        )))
        .bind(super::items::utc(&from))
        .bind(super::items::utc(&to))
        .bind(codes);
        if let Some(d) = &department {
            q = q.bind(d.clone());
        }
        let mut events: Vec<EventLine> = Vec::new();
        for r in q.fetch_all(&self.pool).await? {
            let grade = |column: &str| -> Result<Option<crate::grading::Grade>, sqlx::Error> {
                Ok(r.try_get::<Option<String>, _>(column)?
                    .as_deref()
                    .and_then(crate::grading::Grade::parse))
            };
            let (Some(to_grade), from_grade) = (grade("grade_to")?, grade("grade_from")?) else {
                continue;
            };
            let at: String = r.try_get("at")?;
            events.push(EventLine {
                item_id: r.try_get("item_id")?,
                at: super::load::parse_time(&at).with_timezone(&Utc),
                from: from_grade,
                to: to_grade,
                cause: r.try_get("cause")?,
            });
        }
        // Each project's share of the items and events.
        let mut project_of: std::collections::HashMap<String, usize> = Default::default();
        let mut pages: Vec<ProjectLedger> = projects
            .into_iter()
            .enumerate()
            .map(|(i, project)| {
                project_of.insert(project.code.clone(), i);
                ProjectLedger {
                    project,
                    items: Vec::new(),
                    events: Vec::new(),
                }
            })
            .collect();
        let mut item_project: std::collections::HashMap<String, usize> = Default::default();
        for (item_id, versions) in by_item {
            let code = versions
                .last()
                .map(|(_, _, record)| record.project_code.clone())
                .unwrap_or_default();
            if let Some(&i) = project_of.get(&code) {
                item_project.insert(item_id.clone(), i);
                pages[i].items.push((item_id, versions));
            }
        }
        for event in events {
            if let Some(&i) = item_project.get(&event.item_id) {
                pages[i].events.push(event);
            }
        }
        Ok(pages)
    }
}
