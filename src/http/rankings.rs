//! The rankings over HTTP: `/api/rankings?period=2026-10` (the report — the published one
//! when the period was published, with what the data now would change — or computed now),
//! `/api/rankings/download?period=…&format=xlsx|png|json|html`, and
//! `POST /api/rankings/publish?period=…` (the office token: stores the report as it is now,
//! frozen; a period not over yet is refused). No period: last month. `period=current`: this
//! month so far. A published period's files are read from its edition, not computed; the
//! page and the printed page compute the period again only to say what would differ.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiError;
use super::access::Caller;
use crate::ingest::Shared;
use crate::rankings::compare::{Comparison, compare};
use crate::rankings::output::{Format, render};
use crate::rankings::{Period, Report, Span, gather, html, schedule};
use crate::store::reports::Published;

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    format: Option<String>,
}

fn period(shared: &Shared, asked: Option<&str>) -> Result<Period, ApiError> {
    let now = shared.clock.now();
    match asked.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(schedule::period_for(now, shared.config.timezone)),
        Some("current") => Ok(Period::containing(
            Span::Month,
            now.with_timezone(&shared.config.timezone).date_naive(),
        )),
        Some(key) => Period::parse(key).map_err(|e| ApiError::BadRequest(e.to_string())),
    }
}

/// A published edition, and what the data now would change in it.
struct Shown {
    report: Report,
    edition: Option<Published>,
    comparison: Option<Comparison>,
}

/// The report shown for a period: the published edition if there is one (compared with the
/// data now when `compared`), else computed now.
async fn shown(shared: &Shared, period: Period, compared: bool) -> Result<Shown, Response> {
    let now = shared.clock.now();
    let compute = || gather::report(&shared.store, &shared.config, &shared.calendar, period, now);
    match schedule::latest(&shared.store, &period.key()).await {
        Ok(Some((edition, published))) => {
            let comparison = if compared {
                let computed = compute()
                    .await
                    .map_err(|e| ApiError::from(e).into_response())?;
                Some(compare(&published, &computed))
            } else {
                None
            };
            Ok(Shown {
                report: published,
                edition: Some(edition),
                comparison,
            })
        }
        Ok(None) => Ok(Shown {
            report: compute()
                .await
                .map_err(|e| ApiError::from(e).into_response())?,
            edition: None,
            comparison: None,
        }),
        Err(e) => Err(failed(&e)),
    }
}

/// A stored instant (UTC) in the configured zone, as the pages show times.
fn local(stored: &str, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::parse_from_rfc3339(stored).map_or_else(
        |_| stored.to_owned(),
        |t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
        },
    )
}

/// A stored report that cannot be read back: the server's fault, said as such.
fn failed(e: &schedule::PublishError) -> Response {
    match e {
        schedule::PublishError::NotOver { .. } => (
            StatusCode::CONFLICT,
            Json(serde_json::json!({ "error": e.to_string() })),
        )
            .into_response(),
        _ => {
            tracing::error!(error = %e, "a rankings request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    }
}

pub async fn report(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = period(&shared, q.period.as_deref())?;
    let shown = match shown(&shared, period, true).await {
        Ok(shown) => shown,
        Err(response) => return Ok(response),
    };
    let tz = shared.config.timezone;
    let published = shown.edition.map(|e| {
        serde_json::json!({
            "id": e.id,
            "published_at": local(&e.published_at, tz),
            "published_by": e.published_by,
            "digest": e.digest,
            "comparison": shown.comparison,
        })
    });
    Ok(Json(serde_json::json!({ "report": shown.report, "published": published })).into_response())
}

pub async fn download(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = period(&shared, q.period.as_deref())?;
    let format = match q.format.as_deref().unwrap_or("xlsx") {
        "xlsx" => Format::Xlsx,
        "png" => Format::Png,
        "json" => Format::Json,
        "html" => Format::Html,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format {other:?}: ask for xlsx, png, json or html"
            )));
        }
    };
    // Only the printed page says what the data now would change; the files are the
    // published report as it was.
    let shown = match shown(&shared, period, format == Format::Html).await {
        Ok(shown) => shown,
        Err(response) => return Ok(response),
    };
    let published_at = shown
        .edition
        .as_ref()
        .map(|e| local(&e.published_at, shared.config.timezone).replace('T', " "));
    let about = shown.edition.as_ref().map(|e| html::Published {
        published_at: published_at.as_deref().unwrap_or_default(),
        published_by: &e.published_by,
        comparison: shown.comparison.as_ref(),
    });
    let bytes = match render(&shown.report, format, &shared.config, about.as_ref()) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Ok((StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")).into_response());
        }
    };
    let (kind, ending) = match format {
        Format::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        Format::Png => ("image/png", "png"),
        Format::Json => ("application/json", "json"),
        Format::Html => ("text/html; charset=utf-8", "html"),
    };
    let name = format!("rankings-{}.{ending}", period.key());
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

pub async fn publish(
    State(shared): State<Arc<Shared>>,
    caller: Option<axum::Extension<Caller>>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    if !matches!(caller, Some(axum::Extension(Caller::Office))) {
        return Ok((
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({
                "error": "publishing a report needs an office token; a viewer token only reads"
            })),
        )
            .into_response());
    }
    let period = period(&shared, q.period.as_deref())?;
    let now = shared.clock.now();
    match schedule::publish(
        &shared.store,
        &shared.config,
        &shared.calendar,
        period,
        "office",
        now,
    )
    .await
    {
        Ok((edition, _)) => Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({
                "id": edition.id,
                "period": edition.period,
                "published_at": edition.published_at,
                "digest": edition.digest,
            })),
        )
            .into_response()),
        Err(schedule::PublishError::Store(e)) => Err(e.into()),
        Err(e) => Ok(failed(&e)),
    }
}
