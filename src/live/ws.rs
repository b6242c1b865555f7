//! `/ws`: the websocket every screen and page keeps open (protocol in docs/websocket.md).
//! One task per client: a `hello`, a snapshot (or the missed updates after `since`), then
//! whatever the hub's newest state is whenever it changes. The client's slot is the hub's
//! `watch`: it holds only the newest seq, so a slow client skips straight to a fresh
//! snapshot and never queues. A client is closed when a send or the answer to a Ping takes
//! longer than the configured lag (the Ping catches a client that stopped reading while the
//! kernel's buffers still accept its frames).
//! Buffers are kept small, because a city has hundreds of idle screens and browsers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::config::Screen;
use crate::http::access;
use crate::ingest::Shared;

/// The most a client may send in one message (its pings are a few bytes).
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// Reading needs little: clients only send pings.
const READ_BUFFER: usize = 512;
/// Missed updates are sent one by one up to this many; beyond, a snapshot is cheaper.
const MAX_CATCH_UP: usize = 8;

#[derive(Debug, Deserialize)]
pub struct WsQuery {
    screen: Option<String>,
    token: Option<String>,
    since: Option<u64>,
}

/// The screen asked for, if the token opens it; otherwise the refusal to send.
fn admit(shared: &Shared, q: &WsQuery) -> Result<Option<Screen>, (StatusCode, String)> {
    let config = &shared.config;
    match access::admit(
        &config.access,
        &config.screens,
        q.screen.as_deref(),
        q.token.as_deref(),
    ) {
        Ok(screen) => Ok(screen.cloned()),
        Err(access::Refusal::UnknownScreen) => Err((
            StatusCode::NOT_FOUND,
            format!("no screen named {:?}", q.screen.as_deref().unwrap_or("")),
        )),
        Err(access::Refusal::Unauthorized) => Err((
            StatusCode::UNAUTHORIZED,
            "a valid screen or viewer token is needed (?token=…)".into(),
        )),
    }
}

/// `GET /live/snapshot`: the newest snapshot over plain HTTP, for the same tokens as the
/// websocket. Pages fetch it first and then open the websocket with `since`, so no
/// connection ever carries (and keeps a buffer the size of) the snapshot.
pub async fn snapshot(
    State(shared): State<Arc<Shared>>,
    Query(mut q): Query<WsQuery>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    q.token = access::token_of(&uri, &headers);
    if let Err((status, message)) = admit(&shared, &q) {
        return refuse(status, message);
    }
    if !shared.hub.is_ready() {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the figures are being counted; try again in a second".into(),
        );
    }
    let (_, text) = shared.hub.snapshot();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        axum::body::Bytes::from(text),
    )
        .into_response()
}

pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Query(mut q): Query<WsQuery>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // As on every other route: `?token=` or `Authorization: Bearer`.
    q.token = access::token_of(&uri, &headers);
    let screen = match admit(&shared, &q) {
        Ok(screen) => screen,
        Err((status, message)) => return refuse(status, message),
    };
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !origin_allowed(origin, host, &shared.config.access.allowed_origins) {
            tracing::warn!(origin, "websocket refused: origin not allowed");
            return refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "the origin {origin} may not open this websocket; add it to [access] allowed_origins"
                ),
            );
        }
    }
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| client(shared, socket, screen, q.since))
}

fn refuse(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

/// A browser's origin is allowed when it is the daemon's own address or configured.
fn origin_allowed(origin: &str, host: &str, allowed: &[String]) -> bool {
    let own = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|rest| rest.eq_ignore_ascii_case(host));
    own || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
}

async fn client(
    shared: Arc<Shared>,
    mut socket: WebSocket,
    screen: Option<Screen>,
    since: Option<u64>,
) {
    let _tracked = shared.ws_tasks.token();
    let live = shared.config.live;
    let hub = &shared.hub;
    let mut newest = hub.subscribe();
    shared.metrics.ws_clients(1);
    let outcome = async {
        send(&mut socket, hello(&shared, screen.as_ref()), live.max_lag).await?;
        // Nothing to show before the first count (a second after start-up).
        while !hub.is_ready() {
            tokio::select! {
                changed = newest.changed() => changed.map_err(|_| Ended::Stopping)?,
                () = shared.stopping.cancelled() => return Err(Ended::Stopping),
            }
        }
        newest.borrow_and_update();
        let mut last = match since.and_then(|s| hub.since(s).map(|u| (s, u))) {
            Some((s, updates)) if updates.len() <= MAX_CATCH_UP => {
                let mut last = s;
                for (seq, text) in updates {
                    send(&mut socket, Message::Text(text), live.max_lag).await?;
                    last = seq;
                }
                last
            }
            _ => {
                let (seq, text) = hub.snapshot();
                send(&mut socket, Message::Text(text), live.max_lag).await?;
                seq
            }
        };
        let mut heartbeat = tokio::time::interval(live.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let mut heard = Instant::now();
        // The last Ping not yet answered: a client that does not read (whose kernel buffers
        // still take our frames) does not answer either, so this measures its real lag.
        let mut unanswered: Option<Instant> = None;
        // Waited on once for the client's life, not registered again at every message.
        let mut stopping = std::pin::pin!(shared.stopping.cancelled());
        loop {
            tokio::select! {
                () = &mut stopping => return Err(Ended::Stopping),
                changed = newest.changed() => {
                    changed.map_err(|_| Ended::Stopping)?;
                    let seq = *newest.borrow_and_update();
                    if seq <= last {
                        continue;
                    }
                    let messages = match hub.since(last) {
                        Some(updates) if updates.len() <= MAX_CATCH_UP => updates,
                        _ => vec![hub.snapshot()],
                    };
                    for (seq, text) in messages {
                        send(&mut socket, Message::Text(text), live.max_lag).await?;
                        last = seq;
                    }
                }
                message = socket.recv() => {
                    heard = Instant::now();
                    match message {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Err(Ended::Gone),
                        Some(Ok(Message::Pong(_))) => unanswered = None,
                        Some(Ok(Message::Text(text))) if is_ping(&text) => {
                            let pong = json!({"type": "pong", "server_time": now(&shared)}).to_string();
                            send(&mut socket, Message::Text(pong.into()), live.max_lag).await?;
                        }
                        Some(Ok(_)) => {}
                    }
                }
                _ = heartbeat.tick() => {
                    if heard.elapsed() > live.heartbeat * 3 {
                        return Err(Ended::Silent);
                    }
                    match unanswered {
                        Some(at) if at.elapsed() > live.max_lag => return Err(Ended::Lagging),
                        Some(_) => {}
                        None => {
                            unanswered = Some(Instant::now());
                            send(&mut socket, Message::Ping(Default::default()), live.max_lag).await?;
                        }
                    }
                }
            }
        }
    }
    .await;
    let close = match outcome {
        Ok(()) | Err(Ended::Gone) => None,
        Err(Ended::Stopping) => Some((close_code::AWAY, "duban is stopping")),
        Err(Ended::Silent) => Some((close_code::POLICY, "no heartbeat")),
        Err(Ended::Lagging) => Some((close_code::POLICY, "too slow to keep up")),
    };
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
    shared.metrics.ws_clients(-1);
}

enum Ended {
    Gone,
    Stopping,
    Silent,
    Lagging,
}

async fn send(socket: &mut WebSocket, message: Message, max_lag: Duration) -> Result<(), Ended> {
    let mut sending = std::pin::pin!(socket.send(message));
    // Almost every send is done at once (the kernel takes the frame): a timer is set only
    // for one that has to wait (at ten thousand clients, a timer for every send was a few
    // per cent of an update's fan-out).
    let sent = match futures_util::FutureExt::now_or_never(&mut sending) {
        Some(sent) => Ok(sent),
        None => tokio::time::timeout(max_lag, sending).await,
    };
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Ended::Gone),
        Err(_) => Err(Ended::Lagging),
    }
}

fn is_ping(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v["type"] == "ping")
}

fn now(shared: &Shared) -> String {
    shared
        .clock
        .now()
        .with_timezone(&shared.config.timezone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn hello(shared: &Shared, screen: Option<&Screen>) -> Message {
    let screen = screen.map(|s| {
        json!({"name": s.name, "title": s.title, "pages": s.pages, "rotate_seconds": s.rotate_seconds})
    });
    let text = json!({
        "type": "hello",
        "server_time": now(shared),
        "heartbeat_seconds": shared.config.live.heartbeat.as_secs(),
        "screen": screen,
    });
    Message::Text(text.to_string().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert!(origin_allowed(
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(!origin_allowed(
            "http://evil.example",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(!origin_allowed(
            "http://127.0.0.1:8080.evil",
            "127.0.0.1:8080",
            &[]
        ));
        assert!(origin_allowed(
            "https://screen.city.gov.cn",
            "10.0.0.5:8080",
            &["https://screen.city.gov.cn".into()]
        ));
    }
}
