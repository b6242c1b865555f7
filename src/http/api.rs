//! The JSON API handlers: item lists and details (with live clock figures from the board),
//! counts by grade × department × stage, projects, feeds, the quarantine, the ledger's
//! change log and its table by project; `/healthz` and `/metrics`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::calendar::provisional_note;
use crate::feeds::poller::next_run;
use crate::grading::{Grade, Grading, provisional_years};
use crate::ingest::Shared;
use crate::store::queries::{ItemFilter, ItemRow};

/// The daemon's state, as handlers receive it.
type AppState = State<Arc<Shared>>;

/// The query string's values, or a 400 in the API's words (the framework's own message
/// starts "Failed to deserialize query string"; serde's detail after it is kept).
pub(super) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| {
        let text = e.body_text();
        let detail = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, detail)| detail);
        ApiError::BadRequest(format!("the query string cannot be read: {detail}"))
    })
}

/// An item row with the clock figures of today: used and remaining move every working day,
/// and a paused item's deadline moves with them, even when the stored grade does not change.
fn live(shared: &Shared, row: ItemRow) -> Value {
    let today = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive();
    let live: Option<(Grading, Vec<i32>)> = shared.board().get(&row.item_id).and_then(|entry| {
        let g = entry.grade_on(&shared.calendar, today)?;
        let years = provisional_years(&entry.clock, g.deadline_date, &shared.calendar, today);
        Some((g, years))
    });
    let mut value = serde_json::to_value(&row).unwrap_or(Value::Null);
    if live.is_none()
        && let Some(object) = value.as_object_mut()
    {
        // Not on the board: it could not be graded at start-up (a year no longer counted,
        // say). Its stored figures are shown, and said to be no more than that.
        object.insert("provisional".into(), Value::Null);
        object.insert(
            "provisional_note".into(),
            json!("无法按当前的节假日安排计算期限：显示的是上次保存的结果，可能已不准确"),
        );
    }
    if let (Some((g, years)), Some(object)) = (live, value.as_object_mut()) {
        object.insert("provisional".into(), json!(g.provisional));
        if g.provisional {
            object.insert("provisional_note".into(), json!(provisional_note(&years)));
        }
        object.insert("grade".into(), json!(g.grade));
        object.insert("deadline_date".into(), json!(g.deadline_date));
        object.insert("used".into(), json!(g.used));
        object.insert("remaining".into(), json!(g.remaining));
        object.insert("overdue".into(), json!(g.overdue));
        object.insert("paused".into(), json!(g.paused));
        object.insert(
            "next_change".into(),
            json!(
                g.next_change(shared.config.timezone)
                    .map(|t| t.to_rfc3339())
            ),
        );
    }
    value
}

pub async fn items(
    State(shared): AppState,
    q: Result<Query<ItemFilter>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let filter = query(q)?;
    if let Some(g) = &filter.grade
        && Grade::parse(g).is_none()
    {
        return Err(ApiError::BadRequest(format!(
            "grade is blue, yellow or red, not {g:?}"
        )));
    }
    if let Some(stage) = filter.stage
        && !(1..=4).contains(&stage)
    {
        return Err(ApiError::BadRequest(format!(
            "stage is 1, 2, 3 or 4, not {stage}"
        )));
    }
    if let Some(limit) = filter.limit
        && !(1..=1000).contains(&limit)
    {
        return Err(ApiError::BadRequest(format!(
            "limit is 1 to 1000, not {limit}"
        )));
    }
    if filter.offset.is_some_and(|o| o < 0) {
        return Err(ApiError::BadRequest("offset is 0 or more".into()));
    }
    if let Some(d) = &filter.department {
        let known = shared
            .board()
            .names()
            .departments()
            .iter()
            .any(|k| **k == **d);
        if d.trim().is_empty() {
            return Err(ApiError::BadRequest(
                "department is empty: name one, or leave department out for every department"
                    .into(),
            ));
        }
        if !known {
            return Err(ApiError::BadRequest(format!(
                "no department is named {d:?} (GET /api/summary lists those with items)"
            )));
        }
    }
    if let Some(s) = &filter.status
        && !["open", "pending", "paused", "finished", "withdrawn"].contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(format!(
            "status is open (pending or paused), pending, paused, finished or withdrawn, not {s:?}"
        )));
    }
    let (total, rows) = shared.store.items(&filter).await?;
    let items: Vec<Value> = rows.into_iter().map(|r| live(&shared, r)).collect();
    Ok(Json(json!({
        "total": total,
        "limit": filter.limit.unwrap_or(50).clamp(1, 1000),
        "offset": filter.offset.unwrap_or(0).max(0),
        "items": items,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// A past day: the item as its record stood at the end of it, graded as of it.
    as_of: Option<chrono::NaiveDate>,
}

pub async fn item(
    State(shared): AppState,
    Path(id): Path<String>,
    q: Result<Query<ItemQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let Some(detail) = shared.store.item(&id).await? else {
        return Err(ApiError::NotFound(format!("no item {id:?}")));
    };
    let as_of = match q.as_of {
        Some(day) => Some(item_as_of(&shared, &id, day).await?),
        None => None,
    };
    let feed_title = shared
        .config
        .feeds
        .iter()
        .find(|f| f.name == detail.item.feed)
        .map(|f| f.title.clone());
    // Where the item stands with its warnings: the answers and silences that hold it, and
    // every message that named it.
    let answers = shared.store.answers_of(&id).await?;
    let warnings = shared.store.warnings_of(&id).await?;
    let mut value = live(&shared, detail.item);
    if let Some(object) = value.as_object_mut() {
        object.insert("answers".into(), json!(answers));
        object.insert("warnings".into(), json!(warnings));
        // The name people know the feed by; a feed since removed from the config by its name.
        if let Some(title) = feed_title {
            object.insert("feed_title".into(), json!(title));
        }
        object.insert("pauses".into(), json!(detail.pauses));
        object.insert("history".into(), json!(detail.history));
        object.insert("deadline_changes".into(), json!(detail.deadline_changes));
        object.insert("versions".into(), json!(detail.versions));
        if let Some(as_of) = as_of {
            object.insert("as_of".into(), as_of);
        }
    }
    Ok(Json(value))
}

/// The item as its record stood at the end of `day` (the ledger's version then), graded as
/// of that day: what last month's figures were, whatever was granted since.
async fn item_as_of(shared: &Shared, id: &str, day: chrono::NaiveDate) -> Result<Value, ApiError> {
    let versions = shared.store.versions_of(id).await?;
    let standing = crate::ledger::graded_as_of(
        versions.iter().map(|(v, at, record)| (*v, *at, record)),
        day,
        &shared.calendar,
        &shared.config.grading,
        shared.config.timezone,
    );
    let Some(standing) = standing else {
        return Ok(
            json!({"day": day, "version": null, "note": "no record of the item yet on that day"}),
        );
    };
    let (version, record, grading) =
        standing.map_err(|e| ApiError::BadRequest(format!("as_of={day}: {e}")))?;
    Ok(json!({
        "day": day,
        "version": version,
        "status": record.status,
        "limit_days": record.limit_days,
        "extension_days": record.extension_days,
        "finished_at": record.finished_at,
        "grading": grading,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// The most changes one page gives.
const MAX_CHANGES: i64 = 10_000;

/// The ledger's change log after position `after` (0: from the start), in order: what a
/// consumer reads to follow every change without missing or re-reading one. The answer:
/// `after`, `limit`, `next` (the position to ask after next: the last one given, or `after`
/// when none was), `more` (a full page: there may be more after `next`), and `changes` as the
/// database wrote them out, passed on without being parsed again.
pub async fn changes(
    State(shared): AppState,
    q: Result<Query<ChangesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::BadRequest(format!(
            "after={after}: a position is 0 (from the start) or more"
        )));
    }
    let limit = q.limit.unwrap_or(1_000);
    if !(1..=MAX_CHANGES).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit={limit}: give 1 to {MAX_CHANGES} changes a page"
        )));
    }
    let page = shared.store.changes_text(after, limit).await?;
    let body = format!(
        r#"{{"after":{after},"limit":{limit},"next":{},"more":{},"changes":{}}}"#,
        page.last.unwrap_or(after),
        page.count == limit,
        page.json
    );
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    from: Option<String>,
    to: Option<String>,
    project: Option<String>,
    department: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// The most projects one page of the ledger table gives.
const MAX_LEDGER_PROJECTS: i64 = 200;

/// `name=text` as a date, or a 400 saying what a date looks like.
fn date_param(name: &str, text: &str) -> Result<chrono::NaiveDate, ApiError> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| {
        ApiError::BadRequest(format!(
            "{name}={text:?} is not a date ({e}): give YYYY-MM-DD, e.g. 2026-11-01"
        ))
    })
}

/// A page of the ledger table (`GET /api/ledger?from=&to=&project=&department=&after=&limit=`):
/// per project its items in stage order as they stood at the end of the period, graded as
/// of then, with the period's grade events. Without `from` and `to`: this month to today.
pub async fn ledger(
    State(shared): AppState,
    q: Result<Query<LedgerQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    use crate::ledger_view;
    let q = query(q)?;
    let tz = shared.config.timezone;
    let now = shared.clock.now().with_timezone(&tz);
    let today = now.date_naive();
    let month = ledger_view::this_month(today);
    let from = q
        .from
        .as_deref()
        .map(|t| date_param("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| date_param("to", t)).transpose()?;
    let period = ledger_view::period(from.unwrap_or(month.from), to.unwrap_or(month.to), today)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_LEDGER_PROJECTS).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit={limit}: give 1 to {MAX_LEDGER_PROJECTS} projects a page"
        )));
    }
    // An empty box on the page is no filter.
    let given = |v: Option<String>| v.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let filter = crate::store::ledger::LedgerFilter {
        project: given(q.project),
        department: given(q.department),
    };
    let after = given(q.after);
    let rules = ledger_view::Rules {
        calendar: &shared.calendar,
        policy: &shared.config.grading,
        tz,
    };
    let page = ledger_view::page(
        &shared.store,
        rules,
        &filter,
        period,
        after.as_deref().unwrap_or(""),
        limit as u32,
    )
    .await
    .map_err(|e| match e {
        ledger_view::PageError::Period(e) => ApiError::BadRequest(e.to_string()),
        ledger_view::PageError::Store(e) => e.into(),
    })?;
    Ok(Json(json!({
        "from": period.from,
        "to": period.to,
        "graded_on": period.graded_on,
        "project": filter.project,
        "department": filter.department,
        "after": after,
        "limit": limit,
        "projects": page.blocks,
        "ungraded": page.ungraded,
        "next_after": page.next_after,
        "data_time": now.to_rfc3339(),
    })))
}

pub async fn summary(State(shared): AppState) -> Result<Json<Value>, ApiError> {
    let rows = shared.board().open_summary();
    let mut totals = json!({"blue": 0, "yellow": 0, "red": 0});
    for r in &rows {
        let grade = r.grade.as_str();
        totals[grade] = json!(totals[grade].as_u64().unwrap_or(0) + r.count);
    }
    Ok(Json(
        json!({ "totals": totals, "by_department_stage_grade": rows }),
    ))
}

pub async fn project(
    State(shared): AppState,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Some((project, items)) = shared.store.project(&code).await? else {
        return Err(ApiError::NotFound(format!("no project {code:?}")));
    };
    let today = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive();
    let clocks: Vec<_> = {
        let board = shared.board();
        items
            .iter()
            .filter_map(|i| board.get(&i.item_id).map(|e| e.clock.clone()))
            .collect()
    };
    let government =
        crate::grading::project::government_days(&clocks, &shared.calendar, today).ok();
    let target = shared
        .config
        .project_targets
        .get(&project.category)
        .copied();
    let grading = match (government, target) {
        (Some(days), Some(target)) => Some(crate::grading::project::grade_project(
            days,
            target,
            &shared.config.grading.default,
        )),
        _ => None,
    };
    let items: Vec<Value> = items.into_iter().map(|r| live(&shared, r)).collect();
    Ok(Json(json!({
        "project_code": project.project_code,
        "project_name": project.project_name,
        "category": project.category,
        "government_days": government,
        "provisional": crate::grading::project::government_provisional(&clocks, &shared.calendar, today),
        "target_days": target,
        "grading": grading,
        "items": items,
    })))
}

pub async fn feeds(State(shared): AppState) -> Result<Json<Value>, ApiError> {
    let now = shared.clock.now();
    let mut out = Vec::new();
    for spec in &shared.config.feeds {
        let health = shared.feed_health.get(&spec.name);
        let (last_run, last_success, last_error) = shared.store.last_runs(&spec.name).await?;
        let kind = spec.source.kind();
        out.push(json!({
            "name": spec.name,
            "kind": kind,
            "enabled": spec.enabled,
            "next_run": spec.enabled.then(|| next_run(spec, shared.config.timezone, now)).flatten(),
            "last_success": last_success,
            "last_error": health.last_error.or(last_error),
            "consecutive_failures": health.consecutive_failures,
            "stale": health.stale,
            "last_run": last_run,
        }));
    }
    Ok(Json(json!({ "feeds": out })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineQuery {
    feed: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

pub async fn quarantine(
    State(shared): AppState,
    q: Result<Query<QuarantineQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    let offset = q.offset.unwrap_or(0).max(0);
    let (total, rows) = shared
        .store
        .quarantine_page(q.feed.as_deref(), limit, offset)
        .await?;
    Ok(Json(
        json!({ "total": total, "limit": limit, "offset": offset, "records": rows }),
    ))
}

/// ok, or degraded with a reason per problem; 503 when the store is down. Anyone may ask (a
/// load balancer has no token), so without a viewer token each reason is short: no feed
/// URL, error text or path, which would map the network behind duban for a stranger. A
/// viewer token (or no `[access]`) gets the details and the number of items.
pub async fn healthz(State(shared): AppState, uri: Uri, headers: HeaderMap) -> Response {
    let token = super::access::token_of(&uri, &headers);
    let detailed = super::access::allows(&shared.config.access, token.as_deref(), None);
    // The short reason, and for a viewer what follows it.
    let tell = |short: String, detail: &str| {
        if detailed {
            format!("{short}{detail}")
        } else {
            short
        }
    };
    if let Err(e) = sqlx::query("SELECT 1").execute(shared.store.pool()).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "down",
                "reasons": [tell("the store is unreachable".into(), &format!(": {e}"))],
            })),
        )
            .into_response();
    }
    let mut reasons = Vec::new();
    for (name, health) in &shared.feed_health.snapshot() {
        let last_error = health.last_error.as_deref().unwrap_or("");
        if health.stale {
            reasons.push(tell(
                format!(
                    "feed {name} is stale ({} failed runs in a row)",
                    health.consecutive_failures
                ),
                &format!("; last: {last_error}"),
            ));
        } else if health.consecutive_failures > 0 {
            reasons.push(tell(
                format!("feed {name} failed its last run"),
                &format!(": {last_error}"),
            ));
        }
        if health.ungraded > 0 {
            reasons.push(tell(
                format!(
                    "feed {name}: {} records cannot be graded and are left out of every count",
                    health.ungraded
                ),
                &format!(" ({})", health.ungraded_reason.as_deref().unwrap_or("")),
            ));
        }
    }
    let status = if reasons.is_empty() { "ok" } else { "degraded" };
    // A missing holiday file degrades nothing yet (those years are counted provisionally),
    // but the operator has to add it: said apart from the reasons. (It names the year and
    // the file's name, not the folder.)
    let today = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive();
    let reminders: Vec<String> = shared
        .calendar
        .reminder(today, shared.config.remind_from)
        .into_iter()
        .collect();
    let mut body = json!({
        "status": status,
        "reasons": reasons,
        "reminders": reminders,
    });
    if detailed {
        body["items"] = json!(shared.board().len());
    }
    Json(body).into_response()
}

pub async fn metrics(State(shared): AppState) -> Response {
    let items = shared.board().open_counts();
    let stale: Vec<(String, bool)> = shared
        .config
        .feeds
        .iter()
        .map(|f| (f.name.clone(), shared.feed_health.is_stale(&f.name)))
        .collect();
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            // Counts, like the API's JSON (which `headers` marks so by its type).
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        shared.metrics.render(items, &stale),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound(
        "no such endpoint; see /api/items, /api/items/{id}, /api/summary, \
         /api/projects/{code}, /api/feeds, /api/quarantine, /api/changes, /api/ledger, \
         /healthz, /metrics"
            .into(),
    )
}
