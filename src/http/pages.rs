//! The pages: the big-screen (`/screen/{name}`), the PC dashboard (`/`), an item's page
//! (`/item/{id}`), the ledger table (`/ledger`), the delivery audit (`/audit/deliveries`), a
//! department's phone page (`/m/dept/{id}`), and their static files
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
        Err(access::Refusal::UnknownScreen) => not_found_page(uri.path()),
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

pub async fn ledger(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    page(&shared, &uri, &headers, None, "ledger.html")
}

/// The rankings (月度通报, 季度考核): table, charts, drill-down, downloads, publication.
pub async fn rankings(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    page(&shared, &uri, &headers, None, "rankings.html")
}

/// The delivery audit (全程留痕): every warning message, its attempts and its receipt.
pub async fn deliveries(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    page(&shared, &uri, &headers, None, "deliveries.html")
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
        not_found_page(uri.path())
    }
}

/// The 404 page, saying what was asked for and where the pages are.
fn not_found_page(path: &str) -> Response {
    let (what, why, hint) = if path.starts_with("/screen/") {
        (
            "大屏",
            "，或该大屏已被停用、改名",
            "请核对链接是否完整，<code>/screen/</code> 后的大屏名称是否正确。",
        )
    } else {
        (
            "页面",
            "",
            "督办工作台在 <code>/</code>，办件详情在 <code>/item/办件编号</code>，电子台账在 <code>/ledger</code>，预警消息留痕在 <code>/audit/deliveries</code>，部门手机页在              <code>/m/dept/部门名称</code>，大屏在 <code>/screen/大屏名称</code>（均需带              <code>?token=</code> 访问令牌）。",
        )
    };
    let Some(page) = asset("not_found.html") else {
        return html(StatusCode::NOT_FOUND, "not_found.html");
    };
    let page = String::from_utf8_lossy(page)
        .replace("{{PATH}}", &escaped(path))
        .replace("{{WHAT}}", what)
        .replace("{{WHY}}", why)
        .replace("{{HINT}}", hint);
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

/// `text` safe inside HTML.
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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
