//! `/ws`: the websocket every screen and page keeps open (protocol in docs/websocket.md).
//! The handshake is answered here; then one task per client writes its `hello` and its
//! first state (a snapshot, or the missed updates after `since`), and from then on only
//! what concerns that client alone: the updates themselves are written by the hub's
//! delivery (`outlet`), which wakes the task only when its client fell behind, to catch up
//! with the missed updates or a fresh snapshot. A client is closed when a write or the
//! answer to a Ping takes longer than the configured lag (the Ping catches a client that
//! stopped reading while the kernel's buffers still accept its frames; it carries random
//! bytes, so that only a client that read it can answer it, not one that sends Pongs of its
//! own without reading).
//! Buffers are kept small, because a city has hundreds of idle screens and browsers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;

use super::frames::{self, Decoder, Framed, Incoming, Violation, code};
use super::hub::Hub;
use super::outlet::{Duplex, Failed, Kind, Outlet};
use crate::config::Screen;
use crate::http::access;
use crate::ingest::Shared;

/// The most a client may send in one message (its pings are a few bytes).
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// Read at most this much at a time: clients only send pings.
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
    // (Not to be stored, as JSON: `http::headers` says so.)
    ([(header::CONTENT_TYPE, "application/json")], text.payload()).into_response()
}

pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    Query(mut q): Query<WsQuery>,
    mut request: Request,
) -> Response {
    let headers = request.headers();
    // As on every other route: `?token=` or `Authorization: Bearer`.
    q.token = access::token_of(request.uri(), headers);
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
    let accept = match handshake(&request) {
        Ok(accept) => accept,
        Err(Refused::Bad(message)) => return refuse(StatusCode::BAD_REQUEST, message.into()),
        Err(Refused::Version) => {
            let mut response = refuse(
                StatusCode::UPGRADE_REQUIRED,
                "only websocket version 13 is spoken (Sec-WebSocket-Version: 13)".into(),
            );
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                axum::http::HeaderValue::from_static("13"),
            );
            return response;
        }
    };
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded to a websocket".into(),
        );
    };
    let tracker = shared.ws_tasks.clone();
    tracker.spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => client(shared, TokioIo::new(upgraded), screen, q.since).await,
            Err(e) => tracing::debug!(error = %e, "a websocket upgrade did not complete"),
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(axum::body::Body::empty())
        .unwrap_or_else(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// Checks an HTTP/1.1 websocket handshake (RFC 6455 §4.2.1); returns the accept key.
fn handshake(request: &Request) -> Result<String, Refused> {
    let headers = request.headers();
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if request.version() != axum::http::Version::HTTP_11 {
        return Err(Refused::Bad("websockets are served over HTTP/1.1 only"));
    }
    if !has(header::CONNECTION, "upgrade") || !has(header::UPGRADE, "websocket") {
        return Err(Refused::Bad(
            "not a websocket handshake: Connection: Upgrade and Upgrade: websocket are needed",
        ));
    }
    if !has(header::SEC_WEBSOCKET_VERSION, "13") {
        return Err(Refused::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(Refused::Bad("the handshake has no Sec-WebSocket-Key"))?;
    if !frames::is_key(key.as_bytes()) {
        return Err(Refused::Bad("Sec-WebSocket-Key is not 16 bytes in base64"));
    }
    Ok(frames::accept_key(key.as_bytes()))
}

enum Refused {
    Bad(&'static str),
    /// RFC 6455 §4.2.2: answered with 426 and the version spoken.
    Version,
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
    io: impl Duplex + 'static,
    screen: Option<Screen>,
    since: Option<u64>,
) {
    // A client that resumes gets only what came after its `since`, if that is still held.
    let has = since.filter(|s| shared.hub.holds_after(*s));
    let outlet = Outlet::new(io, has.unwrap_or(0));
    shared.metrics.ws_clients(1);
    let _leaving = Leaving {
        shared: &shared,
        outlet: &outlet,
    };
    let Err(ended) = serve(&shared, &outlet, screen.as_ref()).await;
    let close = match ended {
        Ended::Gone => None,
        Ended::Closed(code) => Some((code.unwrap_or(code::NORMAL), "")),
        Ended::Stopping => Some((code::AWAY, "duban is stopping")),
        Ended::Silent => Some((code::POLICY, "no heartbeat")),
        Ended::Lagging => Some((code::POLICY, "too slow to keep up")),
        Ended::Broke(v) => Some((v.code, v.reason)),
    };
    if let Some((code, reason)) = close {
        let frame = Framed::close(code, reason);
        if outlet
            .send(Kind::Close, frame.bytes(), LINGER)
            .await
            .is_ok()
        {
            outlet.linger(LINGER).await;
        }
    }
}

/// How long a closing connection waits for its close frame to go out and for the client's
/// own close.
const LINGER: Duration = Duration::from_secs(1);

/// Closes the socket and counts the client out when its task ends, panics included (the
/// socket lives in the outlet, which the delivery also holds).
struct Leaving<'a> {
    shared: &'a Shared,
    outlet: &'a Outlet,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.outlet.close();
        self.shared.metrics.ws_clients(-1);
    }
}

/// The client's task: a `hello`, its first state, then only what concerns it alone (the
/// updates are written by the hub's delivery, see `outlet`), until the connection ends.
async fn serve(
    shared: &Shared,
    outlet: &Arc<Outlet>,
    screen: Option<&Screen>,
) -> Result<Infallible, Ended> {
    let live = shared.config.live;
    let hub = &shared.hub;
    outlet
        .send(Kind::Control, hello(shared, screen).bytes(), live.max_lag)
        .await?;
    // Joined before the catch-up, so an update published in between is not missed.
    hub.outlets.add(outlet.clone());
    catch_up(hub, outlet, live.max_lag).await?;
    let mut heartbeat = tokio::time::interval(live.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.tick().await;
    let mut heard = Instant::now();
    // The last Ping not yet answered, and its payload: a client that does not read (whose
    // kernel buffers still take our frames) does not answer either, so this measures its
    // real lag. A Pong with other bytes (RFC 6455 lets a client send them unasked) is no
    // answer: a client could send those without ever reading.
    let mut unanswered: Option<(Instant, [u8; PING_PAYLOAD])> = None;
    let mut stopping = std::pin::pin!(shared.stopping.cancelled());
    let mut decoder = Decoder::new(MAX_CLIENT_MESSAGE);
    let mut chunk = [0u8; READ_BUFFER];
    loop {
        tokio::select! {
            () = &mut stopping => return Err(Ended::Stopping),
            () = outlet.behind.notified() => {
                outlet.flush(live.max_lag).await?;
                catch_up(hub, outlet, live.max_lag).await?;
            }
            read = outlet.read(&mut chunk) => {
                heard = Instant::now();
                let n = match read {
                    Ok(0) | Err(_) => return Err(Ended::Gone),
                    Ok(n) => n,
                };
                for message in decoder.decode(&chunk[..n]).map_err(Ended::Broke)? {
                    match message {
                        Incoming::Close(code) => return Err(Ended::Closed(code)),
                        Incoming::Pong(payload) => {
                            if unanswered.is_some_and(|(_, sent)| payload == sent) {
                                unanswered = None;
                            }
                        }
                        Incoming::Ping(payload) => {
                            let pong = Framed::new(frames::PONG, &payload);
                            outlet.send(Kind::Control, pong.bytes(), live.max_lag).await?;
                        }
                        Incoming::Text(text) if is_ping(&text) => {
                            let pong = json!({"type": "pong", "server_time": now(shared)});
                            let pong = Framed::text(&pong.to_string());
                            outlet.send(Kind::Control, pong.bytes(), live.max_lag).await?;
                        }
                        Incoming::Text(_) | Incoming::Binary => {}
                    }
                }
            }
            _ = heartbeat.tick() => {
                if heard.elapsed() > live.heartbeat * 3 {
                    return Err(Ended::Silent);
                }
                match unanswered {
                    Some((at, _)) if at.elapsed() > live.max_lag => return Err(Ended::Lagging),
                    Some(_) => {}
                    None => {
                        let payload = ping_payload();
                        unanswered = Some((Instant::now(), payload));
                        let ping = Framed::new(frames::PING, &payload);
                        outlet.send(Kind::Control, ping.bytes(), live.max_lag).await?;
                    }
                }
                // Whatever happened to the delivery, a client is current after a heartbeat.
                catch_up(hub, outlet, live.max_lag).await?;
            }
        }
    }
}

/// Brings the client up to the newest seq: the updates it missed, one by one, or a
/// snapshot when it missed more than a few (or has nothing yet).
async fn catch_up(hub: &Hub, outlet: &Outlet, max_lag: Duration) -> Result<(), Ended> {
    // Nothing to show before the first count (a second after start-up).
    if !hub.is_ready() {
        return Ok(());
    }
    loop {
        let messages = match hub.since(outlet.last()) {
            Some(updates) if updates.len() <= MAX_CATCH_UP => updates
                .into_iter()
                .map(|(seq, update)| (Kind::Update(seq), update))
                .collect(),
            _ => {
                let (seq, snapshot) = hub.snapshot();
                vec![(Kind::Snapshot(seq), snapshot)]
            }
        };
        if messages.is_empty() {
            return Ok(());
        }
        for (kind, message) in messages {
            outlet.send(kind, message.bytes(), max_lag).await?;
        }
    }
}

enum Ended {
    Gone,
    /// The client closed the connection, with this code if it gave one.
    Closed(Option<u16>),
    Stopping,
    Silent,
    Lagging,
    /// The client broke the protocol.
    Broke(Violation),
}

impl From<Failed> for Ended {
    fn from(failed: Failed) -> Self {
        match failed {
            Failed::Gone => Self::Gone,
            Failed::Lagging => Self::Lagging,
        }
    }
}

/// The bytes a heartbeat Ping carries.
const PING_PAYLOAD: usize = 8;

/// Bytes no client can guess without reading the Ping: keyed SipHash (the keys random for
/// each process) of the moment. Not the system's random source, which can fail and would
/// then need a path of its own for something that only has to be unpredictable.
fn ping_payload() -> [u8; PING_PAYLOAD] {
    use std::hash::BuildHasher as _;
    std::hash::RandomState::new()
        .hash_one(Instant::now())
        .to_le_bytes()
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

fn hello(shared: &Shared, screen: Option<&Screen>) -> Framed {
    let screen = screen.map(|s| {
        json!({
            "name": s.name,
            "title": s.title,
            "pages": s.pages,
            "rotate_seconds": s.rotate_seconds,
            "aspect": s.aspect.map(|(w, h)| [w, h]),
        })
    });
    let text = json!({
        "type": "hello",
        "server_time": now(shared),
        "heartbeat_seconds": shared.config.live.heartbeat.as_secs(),
        "screen": screen,
    });
    Framed::text(&text.to_string())
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
