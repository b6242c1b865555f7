//! The HTTP side: axum routes for the JSON API, the live websocket, the pages, health and
//! metrics, the headers every response carries, and the server that holds the connections.
//! Handlers are thin: they read the store or the board and shape JSON; errors go through one
//! `ApiError`.

pub mod access;
mod answers;
mod api;
mod contacts;
mod deliveries;
mod error;
mod headers;
mod pages;
mod rankings;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::ingest::Shared;

pub fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/api/items", get(api::items))
        .route("/api/items/{id}", get(api::item))
        // Acting, not reading: `answers::may_act` says who may (the office).
        .route(
            "/api/items/{id}/silence",
            post(answers::silence).layer(DefaultBodyLimit::max(answers::MAX_BODY_BYTES)),
        )
        .route("/api/summary", get(api::summary))
        .route("/api/projects/{code}", get(api::project))
        .route("/api/feeds", get(api::feeds))
        .route("/api/quarantine", get(api::quarantine))
        .route("/api/changes", get(api::changes))
        .route("/api/ledger", get(api::ledger))
        .route("/api/deliveries", get(deliveries::deliveries))
        .route("/api/warnings/summary", get(deliveries::summary))
        .route("/api/contacts", get(contacts::list).post(contacts::import))
        .route("/api/rankings", get(rankings::report))
        .route("/api/rankings/download", get(rankings::download))
        .route("/api/rankings/publish", post(rankings::publish))
        // Counts by grade are data: scrapers send the viewer token as a bearer token.
        .route("/metrics", get(api::metrics))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            access::api_guard,
        ));
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/hooks/sms/{sender}", axum::routing::post(deliveries::hook))
        .merge(api)
        .route("/ws", get(crate::live::ws::upgrade))
        .route("/live/snapshot", get(crate::live::ws::snapshot))
        .route("/", get(pages::dashboard))
        .route("/screen/{name}", get(pages::screen))
        .route("/item/{id}", get(pages::item))
        .route("/ledger", get(pages::ledger))
        .route("/rankings", get(pages::rankings))
        .route("/audit/deliveries", get(pages::deliveries))
        .route("/m/dept/{id}", get(pages::phone))
        // No token: the link's signature opens one department's answer page.
        .route(
            "/m/answer",
            get(answers::page)
                .post(answers::answer)
                .layer(DefaultBodyLimit::max(answers::MAX_BODY_BYTES)),
        )
        .route("/static/{*path}", get(pages::static_file))
        .route("/live/charts/{file}", get(pages::chart))
        .fallback(pages::not_found)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            count_requests,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Outermost, so that every answer has them, a timeout's and a 404's too.
        .layer(middleware::from_fn_with_state(
            Arc::new(headers::Policy::new(&shared.config.access)),
            headers::secure,
        ))
        .with_state(shared)
}

async fn count_requests(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    shared.metrics.http(&route, response.status().as_u16());
    response
}
