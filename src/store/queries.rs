//! The reads behind the HTTP API: filtered, paginated item lists; one item with its pauses and
//! grade history; counts by grade × department × stage; a project with its items.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::items::{Param, bind_all};
use super::{Store, StoreError, query};

/// Filters of `GET /api/items`; every one optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemFilter {
    pub grade: Option<String>,
    pub department: Option<String>,
    pub stage: Option<i64>,
    pub project: Option<String>,
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// An item as stored: its record and its grading at the last change.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRow {
    pub item_id: String,
    pub project_code: String,
    pub project_name: Option<String>,
    pub matter: String,
    pub department: String,
    pub stage: i64,
    pub status: String,
    pub accepted_at: String,
    pub finished_at: Option<String>,
    pub updated_at: String,
    pub limit_days: i64,
    pub legal_days: i64,
    pub extension_days: i64,
    pub grade: String,
    pub deadline_date: String,
    pub allowed: i64,
    pub used: i64,
    pub remaining: i64,
    pub overdue: bool,
    pub paused: bool,
    pub next_change: Option<String>,
    pub feed: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PauseRow {
    pub kind: String,
    pub from: String,
    pub to: Option<String>,
}

/// A grade event of an item, as the API's history lists it.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    /// When it took effect.
    pub at: String,
    pub grade: String,
    pub previous: Option<String>,
    pub cause: String,
    /// The record version it was graded from (0: logged before the ledger).
    pub version: i64,
}

/// A deadline moved by something other than the item's record (the calendar).
#[derive(Debug, Clone, Serialize)]
pub struct DeadlineChangeRow {
    pub at: String,
    pub previous: String,
    pub deadline: String,
    pub cause: String,
}

/// One item with everything recorded of it.
#[derive(Debug, Clone)]
pub struct ItemDetail {
    pub item: ItemRow,
    pub pauses: Vec<PauseRow>,
    pub history: Vec<HistoryRow>,
    pub deadline_changes: Vec<DeadlineChangeRow>,
    /// Each version of its record, with what changed field by field.
    pub versions: Vec<super::ledger::VersionRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectRow {
    pub project_code: String,
    pub project_name: String,
    pub category: String,
}

/// The item columns the API shows (with the project's name from `projects`).
const ITEM_FIELDS: &str = "i.item_id, i.project_code, i.matter, i.department, \
     i.stage, i.status, i.accepted_at, i.finished_at, i.updated_at, i.limit_days, i.legal_days, \
     i.extension_days, i.grade, i.deadline_date, i.allowed, i.used, i.remaining, i.overdue, \
     i.paused, i.next_change, i.feed";

/// The API's items from `items` (the table, or a subquery of its `ITEM_FIELDS`), named `i`.
fn item_select(items: &str) -> String {
    format!(
        "SELECT {ITEM_FIELDS}, p.project_name FROM {items} i \
         LEFT JOIN projects p ON p.project_code = i.project_code"
    )
}

/// The API's order of items: worst first (red, yellow, blue), then by deadline.
const WORST_FIRST: &str = "CASE i.grade WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 ELSE 2 END, \
     i.deadline_date, i.item_id";

/// The order of finished and withdrawn lists: the latest to end first.
const NEWEST_ENDED_FIRST: &str = "i.finished_at DESC, i.item_id";

/// `text` matched literally inside a LIKE pattern (escape character `\`).
pub(super) fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn item_row(r: &AnyRow) -> Result<ItemRow, sqlx::Error> {
    Ok(ItemRow {
        item_id: r.try_get("item_id")?,
        project_code: r.try_get("project_code")?,
        project_name: r.try_get("project_name")?,
        matter: r.try_get("matter")?,
        department: r.try_get("department")?,
        stage: r.try_get("stage")?,
        status: r.try_get("status")?,
        accepted_at: r.try_get("accepted_at")?,
        finished_at: r.try_get("finished_at")?,
        updated_at: r.try_get("updated_at")?,
        limit_days: r.try_get("limit_days")?,
        legal_days: r.try_get("legal_days")?,
        extension_days: r.try_get("extension_days")?,
        grade: r.try_get("grade")?,
        deadline_date: r.try_get("deadline_date")?,
        allowed: r.try_get("allowed")?,
        used: r.try_get("used")?,
        remaining: r.try_get("remaining")?,
        overdue: r.try_get::<i64, _>("overdue")? != 0,
        paused: r.try_get::<i64, _>("paused")? != 0,
        next_change: r.try_get("next_change")?,
        feed: r.try_get("feed")?,
    })
}

impl Store {
    /// A page of items, worst first (red, then by deadline), and how many match in all.
    pub async fn items(&self, filter: &ItemFilter) -> Result<(i64, Vec<ItemRow>), StoreError> {
        let mut clauses = Vec::new();
        let mut params = Vec::new();
        // Each `#` of a clause is a placeholder for `value` (SQLite's are numbered in order,
        // each used once: a value used twice is bound twice).
        let mut add = |clause: &str, value: Param| {
            let mut parts = clause.split('#');
            let mut sql = parts.next().unwrap_or_default().to_owned();
            for part in parts {
                params.push(value.clone());
                sql.push_str(&format!("${}{part}", params.len()));
            }
            clauses.push(sql);
        };
        if let Some(g) = &filter.grade {
            add("i.grade = #", g.as_str().into());
        }
        if let Some(d) = &filter.department {
            add("i.department = #", d.as_str().into());
        }
        if let Some(s) = filter.stage {
            add("i.stage = #", s.into());
        }
        if let Some(p) = &filter.project {
            // Part of the code or of the project's name, as a clerk types it.
            let pattern = format!("%{}%", like_escaped(p.trim()));
            add(
                "(i.project_code LIKE # ESCAPE '\\' OR i.project_code IN \
                 (SELECT project_code FROM projects WHERE project_name LIKE # ESCAPE '\\'))",
                pattern.as_str().into(),
            );
        }
        match filter.status.as_deref() {
            // Open: what is still with the department, running or paused.
            Some("open") => clauses.push("i.status IN ('pending', 'paused')".to_owned()),
            Some(s) => add("i.status = #", s.into()),
            None => {}
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let count_sql = self.sql(&format!("SELECT COUNT(*) AS n FROM items i{filter_sql}"));
        let total: i64 = bind_all(query(&count_sql), params.clone())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let n = params.len();
        // The page is chosen from the items alone, then joined to its projects: joined first,
        // every matching item was looked up before the sort (2.1 s for the first page of a
        // million items on SQLite).
        // Ended items are looked up by when they ended; open ones by how urgent they are.
        let order = match filter.status.as_deref() {
            Some("finished" | "withdrawn") => NEWEST_ENDED_FIRST,
            _ => WORST_FIRST,
        };
        let page = format!(
            "(SELECT {ITEM_FIELDS} FROM items i{filter_sql} ORDER BY {order} \
             LIMIT ${} OFFSET ${})",
            n + 1,
            n + 2
        );
        let sql = self.sql(&format!("{} ORDER BY {order}", item_select(&page)));
        params.push(filter.limit.unwrap_or(50).clamp(1, 1000).into());
        params.push(filter.offset.unwrap_or(0).max(0).into());
        let rows = bind_all(query(&sql), params).fetch_all(&self.pool).await?;
        let rows = rows.iter().map(item_row).collect::<Result<_, _>>()?;
        Ok((total, rows))
    }

    pub async fn item(&self, id: &str) -> Result<Option<ItemDetail>, StoreError> {
        let Some(row) = query(&self.sql(&format!("{} WHERE i.item_id = $1", item_select("items"))))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let pauses = query(
            &self.sql("SELECT kind, from_at, to_at FROM pauses WHERE item_id = $1 ORDER BY seq"),
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(PauseRow {
                kind: r.try_get("kind")?,
                from: r.try_get("from_at")?,
                to: r.try_get("to_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
        // The log's grade events and deadline moves, as the history and moves they were
        // before the ledger; its versions with what changed field by field.
        let timeline = self.timeline(id).await?;
        let history = timeline
            .events
            .iter()
            .map(|c| HistoryRow {
                at: c.at.clone(),
                grade: c.to.clone().unwrap_or_default(),
                previous: c.from.clone(),
                cause: c.cause.clone(),
                version: c.version,
            })
            .collect();
        let deadline_changes = timeline
            .deadline_moves
            .iter()
            .map(|c| {
                let dates: serde_json::Value = c
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b.get()).ok())
                    .unwrap_or_default();
                let date = |key: &str| dates[key].as_str().unwrap_or_default().to_owned();
                DeadlineChangeRow {
                    at: c.at.clone(),
                    previous: date("previous"),
                    deadline: date("deadline"),
                    cause: c.cause.clone(),
                }
            })
            .collect();
        Ok(Some(ItemDetail {
            item: item_row(&row)?,
            pauses,
            history,
            deadline_changes,
            versions: timeline.versions,
        }))
    }

    pub async fn project(
        &self,
        code: &str,
    ) -> Result<Option<(ProjectRow, Vec<ItemRow>)>, StoreError> {
        let Some(row) = query(&self.sql(
            "SELECT project_code, project_name, category FROM projects WHERE project_code = $1",
        ))
        .bind(code)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let project = ProjectRow {
            project_code: row.try_get("project_code")?,
            project_name: row.try_get("project_name")?,
            category: row.try_get("category")?,
        };
        let items = query(&self.sql(&format!(
            "{} WHERE i.project_code = $1 ORDER BY i.stage, i.accepted_at, i.item_id",
            item_select("items")
        )))
        .bind(code)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(item_row)
        .collect::<Result<_, _>>()?;
        Ok(Some((project, items)))
    }
}
