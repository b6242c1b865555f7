//! The pages: the big-screen (`/screen/{name}`), the PC dashboard (`/`), an item's page
//! (`/item/{id}`), a department's phone page (`/m/dept/{id}`), and their static files
//! (`/static/…`), all embedded in the binary from `web/` at build time. A page without a
//! token that opens it gets 401 and a page saying what to do, never data; the static files
//! hold no data and are open.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::access;
use crate::ingest::Shared;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

fn asset(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn html(status: StatusCode, file: &str) -> Response {
    match asset(file) {
        Some(bytes) => (
            status,
            [
                (header::CONTENT_TYPE, content_type(file)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("{file} is missing from this build"),
        )
            .into_response(),
    }
}

/// Serves `file` if the request's token opens it (a screen's token only for that screen).
fn page(
    shared: &Shared,
    uri: &Uri,
    headers: &HeaderMap,
    screen: Option<&str>,
    file: &str,
) -> Response {
    let token = access::token_of(uri, headers);
    let config = &shared.config;
    match access::admit(&config.access, &config.screens, screen, token.as_deref()) {
        Ok(_) => html(StatusCode::OK, file),
        Err(access::Refusal::UnknownScreen) => html(StatusCode::NOT_FOUND, "not_found.html"),
        Err(access::Refusal::Unauthorized) => html(StatusCode::UNAUTHORIZED, "unauthorized.html"),
    }
}

pub async fn screen(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    page(&shared, &uri, &headers, Some(&name), "screen.html")
}

pub async fn dashboard(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    page(&shared, &uri, &headers, None, "dashboard.html")
}

pub async fn item(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    page(&shared, &uri, &headers, None, "item.html")
}

pub async fn phone(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    page(&shared, &uri, &headers, None, "phone.html")
}

/// A chart the live panels point at (`svg_url`), for anyone who may open a screen. The URL
/// carries the drawing's version: asked for the current one, it may be cached for good.
pub async fn chart(
    State(shared): State<Arc<Shared>>,
    Path(file): Path<String>,
    Query(q): Query<ChartQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let token = access::token_of(&uri, &headers);
    if !access::allows_some_screen(
        &shared.config.access,
        &shared.config.screens,
        token.as_deref(),
    ) {
        return (
            StatusCode::UNAUTHORIZED,
            "a screen or viewer token is needed",
        )
            .into_response();
    }
    let Some(chart) = file
        .strip_suffix(".svg")
        .and_then(|name| shared.hub.chart(name))
    else {
        return (StatusCode::NOT_FOUND, "no such chart").into_response();
    };
    let cache = if q.v.as_deref() == Some(chart.version.as_str()) {
        "private, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, cache),
            // Opened on its own, the drawing can run nothing and load nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        chart.svg,
    )
        .into_response()
}

#[derive(Debug, serde::Deserialize)]
pub struct ChartQuery {
    v: Option<String>,
}

/// An address that is nothing: JSON for the API's paths, the Chinese 404 page for people.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        super::api::not_found().await.into_response()
    } else {
        html(StatusCode::NOT_FOUND, "not_found.html")
    }
}

pub async fn static_file(Path(path): Path<String>) -> Response {
    let file = format!("static/{path}");
    match asset(&file) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&file)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
