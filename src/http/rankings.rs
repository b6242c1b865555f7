//! The rankings over HTTP: `/api/rankings?period=2026-10` (the report — the published one
//! when the period was published, with what the data now would change — or computed now),
//! `/api/rankings/download?period=…&format=xlsx|png|json|html`, and
//! `POST /api/rankings/publish?period=…` (the office token: stores the report as it is now,
//! frozen). No period: last month. `period=current` (the screens' panel): this month so far.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiError;
use super::access::Caller;
use crate::commands::report::{Format, render};
use crate::ingest::Shared;
use crate::rankings::compare::compare;
use crate::rankings::{Period, Report, Span, gather, schedule};

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    period: Option<String>,
    format: Option<String>,
}

fn period(shared: &Shared, asked: Option<&str>) -> Result<Period, ApiError> {
    let today = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .date_naive();
    match asked.map(str::trim).filter(|p| !p.is_empty()) {
        None => Ok(Period::containing(Span::Month, today).previous()),
        Some("current") => Ok(Period::containing(Span::Month, today)),
        Some(key) => Period::parse(key).map_err(|e| ApiError::BadRequest(e.to_string())),
    }
}

/// The report shown for a period: the published edition if there is one, else computed now.
async fn shown(
    shared: &Shared,
    period: Period,
) -> Result<(Report, Option<serde_json::Value>), ApiError> {
    let now = shared.clock.now();
    let computed = gather::report(&shared.store, &shared.config, &shared.calendar, period, now).await?;
    match schedule::latest(&shared.store, &period.key()).await {
        Ok(Some((edition, published))) => {
            let comparison = compare(&published, &computed);
            let about = serde_json::json!({
                "id": edition.id,
                "published_at": edition.published_at,
                "published_by": edition.published_by,
                "digest": edition.digest,
                "comparison": comparison,
            });
            Ok((published, Some(about)))
        }
        Ok(None) => Ok((computed, None)),
        Err(schedule::PublishError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    }
}

pub async fn report(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    let period = period(&shared, q.period.as_deref())?;
    let (report, published) = shown(&shared, period).await?;
    Ok(Json(serde_json::json!({ "report": report, "published": published })).into_response())
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
    let (report, _) = shown(&shared, period).await?;
    let bytes = match render(&report, format, &shared.config) {
        Ok(bytes) => bytes,
        Err(e) => {
            return Ok((StatusCode::SERVICE_UNAVAILABLE, format!("{e:#}")).into_response());
        }
    };
    let (kind, ending) = match format {
        Format::Xlsx => ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        Format::Png => ("image/png", "png"),
        Format::Json => ("application/json", "json"),
        Format::Html => ("text/html; charset=utf-8", "html"),
    };
    let name = format!("rankings-{}.{ending}", period.key());
    Ok((
        [
            (header::CONTENT_TYPE, kind.to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
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
    match schedule::publish(&shared.store, &shared.config, &shared.calendar, period, "office", now).await {
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
        Err(e) => Err(ApiError::BadRequest(e.to_string())),
    }
}
