//! The delivery audit (全程留痕) over HTTP: `GET /api/deliveries` (every message with its
//! rule, recipient, channel, items, text, attempts and receipt; filters by department,
//! channel, status, rule, item and time), the warnings' counts for the screens' panel
//! (`GET /api/warnings/summary`), and the providers' delivery reports pushed to
//! `/hooks/sms/{sender}`. Addresses are masked for everyone but an office token.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::json;

use super::ApiError;
use crate::ingest::Shared;
use crate::store::warnings::DeliveryFilter;
use crate::warnings::contacts::mask;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    department: Option<String>,
    channel: Option<String>,
    status: Option<String>,
    rule: Option<String>,
    item: Option<String>,
    /// A date (`2026-12-01`, local) or an RFC 3339 instant.
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
}

/// A date's local midnight, or an instant as given.
fn instant(shared: &Shared, text: &str, key: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::BadRequest(format!(
            "{key} is a date (2026-12-01) or an RFC 3339 instant, not {text:?}"
        ))
    })?;
    Ok(crate::warnings::quiet::at_local(
        day,
        chrono::NaiveTime::MIN,
        shared.config.timezone,
    ))
}

pub async fn deliveries(
    State(shared): State<Arc<Shared>>,
    caller: Option<axum::Extension<super::access::Caller>>,
    q: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = super::api::query(q)?;
    let empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let mut filter = DeliveryFilter {
        department: empty(q.department),
        channel: empty(q.channel),
        status: empty(q.status),
        rule: empty(q.rule),
        item: empty(q.item),
        from: None,
        to: None,
        limit: q.limit.unwrap_or(200),
    };
    if !(1..=10_000).contains(&filter.limit) {
        return Err(ApiError::BadRequest(format!(
            "limit is 1 to 10000, not {}",
            filter.limit
        )));
    }
    if let Some(from) = empty(q.from) {
        filter.from = Some(instant(&shared, &from, "from")?);
    }
    if let Some(to) = empty(q.to) {
        let mut t = instant(&shared, &to, "to")?;
        // A date as `to` includes that day.
        if !to.contains('T') {
            t += chrono::Duration::days(1);
        }
        filter.to = Some(t);
    }
    let office = matches!(caller, Some(axum::Extension(super::access::Caller::Office)));
    let mut list = shared.store.deliveries(&filter).await?;
    if !office {
        for d in &mut list {
            d.address = mask(&d.address);
        }
    }
    // The time with the daemon's zone, so a page shows every instant in it (the stored
    // ones are UTC), as the ledger's `data_time` does.
    let data_time = shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .to_rfc3339();
    Ok(
        Json(json!({ "deliveries": list, "unmasked": office, "data_time": data_time }))
            .into_response(),
    )
}

/// Today's warnings by channel and status, for the screens' panel and the dashboard.
pub async fn summary(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let counts = shared.store.delivery_counts().await?;
    Ok(Json(json!({ "counts": counts })).into_response())
}

#[derive(Debug, Deserialize)]
pub struct HookQuery {
    key: Option<String>,
}

/// A provider's delivery reports. The providers sign nothing here, so the hook is
/// authenticated by the secret in its address (`?key=`, the sender's `hook_key_env`);
/// without one configured the hook is closed.
pub async fn hook(
    State(shared): State<Arc<Shared>>,
    Path(sender): Path<String>,
    Query(q): Query<HookQuery>,
    body: Bytes,
) -> Response {
    let Some(spec) = shared
        .config
        .warnings
        .senders
        .iter()
        .find(|s| s.name == sender)
    else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such sender"})),
        )
            .into_response();
    };
    let Some(key) = &spec.hook_key else {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "this sender's hook has no hook_key_env configured"})),
        )
            .into_response();
    };
    let given = q.key.unwrap_or_default();
    if !super::access::equals(&given, key.expose()) {
        return (StatusCode::FORBIDDEN, Json(json!({"error": "wrong key"}))).into_response();
    }
    let Some(senders) = shared.senders.get() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "warnings are off"})),
        )
            .into_response();
    };
    let Some(hook) = senders.get(&sender).and_then(|s| s.receipts()) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "this sender takes no delivery reports"})),
        )
            .into_response();
    };
    let receipts = match hook.parse(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(sender = %sender, error = %e, "a delivery report could not be read");
            return (StatusCode::BAD_REQUEST, Json(json!({"error": e}))).into_response();
        }
    };
    for receipt in &receipts {
        match shared.store.record_receipt(&sender, receipt).await {
            Ok(true) => {
                let channel = spec.channel;
                shared.metrics.count_warning(
                    channel,
                    if receipt.delivered {
                        "delivered"
                    } else {
                        "undelivered"
                    },
                );
            }
            Ok(false) => {
                tracing::warn!(sender = %sender, provider_id = %receipt.provider_id, "a delivery report names no message of ours");
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record a delivery report");
                // The provider pushes it again when not answered with success.
                return (StatusCode::INTERNAL_SERVER_ERROR, "not recorded").into_response();
            }
        }
    }
    ([(header::CONTENT_TYPE, "application/json")], hook.reply()).into_response()
}
