//! The live websocket against a real client (tokio-tungstenite) on loopback: snapshot on
//! connect, an update after each feed change, seq growing by one, resuming with
//! `since`, stalled clients not holding back a fast one, clients that never read dropped
//! (one that sends Pongs of its own, one that floods Pings), tokens and origins refused,
//! and the frame layer's protocol (pings, fragments, closing, and frames that break it).

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/ws?{query}", app.base.replace("http://", "ws://"))
}

async fn connect(app: &TestApp, query: &str) -> Client {
    tokio_tungstenite::connect_async(ws_url(app, query))
        .await
        .unwrap()
        .0
}

/// The next message of any kind, within 10 s.
async fn message(client: &mut Client) -> Message {
    tokio::time::timeout(Duration::from_secs(10), client.next())
        .await
        .expect("a message within 10 s")
        .expect("the socket open")
        .unwrap()
}

/// The next JSON text message (pings are answered by the library).
async fn next(client: &mut Client) -> Value {
    loop {
        if let Message::Text(text) = message(client).await {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// Reads messages until one satisfies `wanted`.
async fn until(client: &mut Client, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let m = next(client).await;
        if wanted(&m) {
            return m;
        }
    }
}

fn red_records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| record(&format!("R-{i}"), "2026-10-09T09:30:00+08:00", 5))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_then_an_update_after_a_feed_change() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    let mut client = connect(&app, &format!("screen=overview&token={SCREEN_TOKEN}")).await;
    let hello = next(&mut client).await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["screen"]["title"], "测试大屏");
    assert_eq!(hello["screen"]["pages"][0].as_array().unwrap().len(), 7);
    let snapshot = next(&mut client).await;
    assert_eq!(snapshot["type"], "snapshot");
    for panel in [
        "headline",
        "ring",
        "departments",
        "stages",
        "trend",
        "projects",
        "red_list",
    ] {
        assert!(snapshot["panels"].get(panel).is_some(), "{panel} missing");
    }
    // Charts come by URL: fetched with a token, cacheable for good at their version.
    let ring_url = snapshot["panels"]["ring"]["svg_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, svg) = app.get(&format!("{ring_url}&token={SCREEN_TOKEN}")).await;
    assert_eq!(status.as_u16(), 200);
    assert!(svg.as_str().unwrap().starts_with("<svg"), "{svg}");
    let response = app
        .client
        .get(format!("{}{ring_url}&token={SCREEN_TOKEN}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        app.get(&ring_url).await.0.as_u16(),
        401,
        "no token, no chart"
    );
    let mut seq = snapshot["seq"].as_u64().unwrap();
    // The first record arrives (if it was not in the snapshot yet).
    if snapshot["panels"]["ring"]["red"] != 1 {
        let update = until(&mut client, |m| m["panels"]["ring"]["red"] == 1).await;
        seq = update["seq"].as_u64().unwrap();
    }

    // The feed changes: the update follows a poll made after the change. (How soon is a
    // target for the benchmark, `cargo bench --bench live -- poll_to_update`; here only
    // the order, and the message helpers' 10 s bound against a hang.)
    let requests_before = feed.state.lock().unwrap().requests;
    feed.set(red_records(2));
    let update = until(&mut client, |m| m["panels"]["ring"]["red"] == 2).await;
    assert!(
        feed.state.lock().unwrap().requests > requests_before,
        "an update with the change before any poll saw it"
    );
    assert_eq!(update["type"], "update");
    let new_url = update["panels"]["ring"]["svg_url"].as_str().unwrap();
    assert_ne!(new_url, ring_url, "a new drawing, a new URL");
    let (_, svg) = app.get(&format!("{new_url}&token={VIEWER_TOKEN}")).await;
    assert!(
        svg.as_str().unwrap().contains("\n2\n</text>"),
        "the new drawing shows 2 red"
    );
    assert!(update["seq"].as_u64().unwrap() > seq);
    assert_eq!(
        update["panels"]["red_list"]["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        update["panels"].get("stages").is_some(),
        "stage counts changed"
    );
    assert!(
        update["panels"].get("trend").is_some(),
        "today's point changed"
    );

    // A client ping is answered.
    client
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    until(&mut client, |m| m["type"] == "pong").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seq_grows_by_one_and_since_resumes() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    let mut watcher = connect(&app, &format!("token={VIEWER_TOKEN}")).await;
    assert_eq!(next(&mut watcher).await["screen"], Value::Null);
    let snapshot = next(&mut watcher).await;
    let first = snapshot["seq"].as_u64().unwrap();

    // A client that leaves after the snapshot, while three changes happen.
    let mut leaver = connect(&app, &format!("screen=overview&token={VIEWER_TOKEN}")).await;
    next(&mut leaver).await;
    let left_at = until(&mut leaver, |m| m["type"] == "snapshot").await["seq"]
        .as_u64()
        .unwrap();
    leaver.close(None).await.unwrap();

    let mut seqs = vec![first];
    for n in 2..=4 {
        feed.set(red_records(n));
        let m = until(&mut watcher, |m| m["panels"]["ring"]["red"] == n as u64).await;
        seqs.push(m["seq"].as_u64().unwrap());
    }
    // Every message the watcher saw after the snapshot was seq+1 (it read them all).
    let mut all = Vec::new();
    let mut again = connect(&app, &format!("token={VIEWER_TOKEN}&since={first}")).await;
    next(&mut again).await; // hello
    let newest = *seqs.last().unwrap();
    while all.last().copied() != Some(newest) {
        let m = next(&mut again).await;
        assert_eq!(m["type"], "update", "missed updates, not a snapshot: {m}");
        all.push(m["seq"].as_u64().unwrap());
    }
    let expected: Vec<u64> = (first + 1..=newest).collect();
    assert_eq!(all, expected, "seq grows by exactly one");

    // The leaver comes back with since and gets what it missed, ending at the newest state.
    let mut back = connect(
        &app,
        &format!("screen=overview&token={SCREEN_TOKEN}&since={left_at}"),
    )
    .await;
    next(&mut back).await;
    let m = next(&mut back).await;
    assert_eq!(
        (m["type"].as_str(), m["seq"].as_u64()),
        (Some("update"), Some(left_at + 1))
    );

    // The pages' way in: the snapshot over HTTP, then the socket with its seq, which then
    // brings only what changes after it.
    let (status, snap) = app
        .get(&format!(
            "/live/snapshot?screen=overview&token={SCREEN_TOKEN}"
        ))
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["panels"]["ring"]["red"], 4);
    assert_eq!(
        app.get("/live/snapshot?screen=overview").await.0.as_u16(),
        401
    );
    let at = snap["seq"].as_u64().unwrap();
    let mut light = connect(
        &app,
        &format!("screen=overview&token={SCREEN_TOKEN}&since={at}"),
    )
    .await;
    assert_eq!(next(&mut light).await["type"], "hello");
    feed.set(red_records(5));
    let m = next(&mut light).await;
    assert_eq!(
        (m["type"].as_str(), m["seq"].as_u64()),
        (Some("update"), Some(at + 1))
    );
    assert_eq!(m["panels"]["ring"]["red"], 5);

    // A since from another life of the server (ahead of it) gets a fresh snapshot.
    let mut stranger = connect(
        &app,
        &format!("token={VIEWER_TOKEN}&since={}", newest + 1000),
    )
    .await;
    next(&mut stranger).await;
    let m = next(&mut stranger).await;
    assert_eq!(m["type"], "snapshot");
    assert_eq!(m["panels"]["ring"]["red"], 5);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stalled_clients_do_not_delay_a_fast_one_and_are_dropped() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    // Names as long as a record may hold (200 characters), each its own, make every update
    // large (the red list carries the project, matter and department of every item, the
    // department and project panels their names), so the stalled clients' buffers fill
    // after a few updates and sends to them block.
    let big = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| {
                let mut r = record(&format!("R-{i}"), "2026-10-09T09:30:00+08:00", 5);
                r["project_code"] = json!(format!("P-{i}"));
                r["project_name"] = json!(format!("{i}号{}", "很长的项目名称".repeat(28)));
                r["matter"] = json!(format!("{i}号{}", "很长的事项名称".repeat(28)));
                r["department"] = json!(format!("{i}号{}", "很长的部门名称".repeat(28)));
                r
            })
            .collect()
    };
    feed.set(big(20));
    let app = spawn_app(
        live_config(
            dir.path(),
            &url,
            // Limits longer than the six changes below take (a silent client is dropped
            // after three heartbeats, a blocked one after the lag): the stalled clients are
            // still connected, and blocking, while the fast one is served.
            "[live]\nheartbeat_seconds = 5\nmax_lag_seconds = 20\n",
        ),
        fixed_clock().1,
    )
    .await;
    // Stalled clients: tiny receive buffers, and they never read after the handshake.
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(2048).unwrap();
        let stream = socket.connect(app.running.addr).await.unwrap();
        let request = ws_url(&app, &format!("token={VIEWER_TOKEN}"))
            .into_client_request()
            .unwrap();
        let (client, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .unwrap();
        stalled.push(client);
    }
    // The fast client reads all the time (and so answers Pings) in a task of its own.
    let fast = connect(&app, &format!("token={VIEWER_TOKEN}")).await;
    let (mut fast_sink, mut fast_stream) = fast.split();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    tokio::spawn(async move {
        while let Some(Ok(message)) = fast_stream.next().await {
            if let Message::Text(text) = message {
                let _ = tx.send(serde_json::from_str(&text).unwrap());
            }
        }
    });
    let mut wait_for = async |wanted: &dyn Fn(&Value) -> bool| loop {
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        if wanted(&m) {
            return m;
        }
    };
    // Each change reaches the fast client while the stalled ones hold their buffers full
    // (`wait_for` gives up after 10 s: a hang, not a slow delivery).
    for n in 21..=26 {
        feed.set(big(n));
        wait_for(&|m: &Value| m["panels"]["ring"]["red"] == n as u64).await;
    }
    let (_, metrics) = app.get(&format!("/metrics?token={VIEWER_TOKEN}")).await;
    assert!(
        metrics.as_str().unwrap().contains("duban_ws_clients 21\n"),
        "the fast client was served while all twenty stalled ones were still connected: {metrics}"
    );
    // The stalled clients are closed, the fast one stays. On loopback the kernel's buffers
    // grow to take all six updates, so what finds the stalled ones out is their silence for
    // three heartbeats or the heartbeat Ping they leave unanswered past the lag limit,
    // whichever comes first (this passes with either check alone, or without the write's
    // lag bound). Each defence is pinned alone by the two tests after this one: a client
    // that is not silent (it sends Pongs of its own), and one whose writes do block.
    eventually(60, "stalled clients dropped", || async {
        let (_, metrics) = app.get(&format!("/metrics?token={VIEWER_TOKEN}")).await;
        metrics.as_str().unwrap().contains("duban_ws_clients 1\n")
    })
    .await;
    fast_sink
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    wait_for(&|m: &Value| m["type"] == "pong").await;
    drop(stalled);
    app.stop().await;
}

/// A websocket opened by hand, its handshake's answer read to its last byte and nothing
/// after it: a client that never reads. `receive_buffer`: its socket's, if not the default.
async fn never_reading(app: &TestApp, receive_buffer: Option<u32>) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size).unwrap();
    }
    let mut stream = socket.connect(app.running.addr).await.unwrap();
    let address = app.base.trim_start_matches("http://");
    let handshake = format!(
        "GET /ws?token={VIEWER_TOKEN} HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(handshake.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A client's frame: final, masked, its payload at most 125 bytes.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | u8::try_from(payload.len()).unwrap()];
    frame.extend(mask);
    frame.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    frame
}

/// Writes `frames` (whole frames, end to end) again and again, pausing `pause` after each
/// round, until a write fails because the daemon closed the connection; returns how long
/// that took, or `None` after `seconds`. A write the daemon does not take (it is not
/// reading) waits, and is never cut inside a frame.
async fn write_until_closed(
    stream: &mut TcpStream,
    frames: &[u8],
    pause: Duration,
    seconds: u64,
) -> Option<Duration> {
    let started = std::time::Instant::now();
    let mut at = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        let write = stream.write(&frames[at..]);
        match tokio::time::timeout(Duration::from_millis(200), write).await {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(n)) => {
                at += n;
                if at == frames.len() {
                    at = 0;
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
    None
}

/// A client that stops reading while the kernel's buffers still take every frame (nothing
/// changes, so only heartbeat Pings are sent to it), and that sends Pongs of its own (which
/// RFC 6455 allows unasked): its Pongs do not answer the daemon's Ping, which carries bytes
/// it never read, and it is closed once that Ping has waited past the lag limit.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_is_dropped_though_it_sends_pongs() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    let app = spawn_app(
        live_config(
            dir.path(),
            &url,
            "[live]\nheartbeat_seconds = 1\nmax_lag_seconds = 2\n",
        ),
        fixed_clock().1,
    )
    .await;
    let mut reader = connect(&app, &format!("token={VIEWER_TOKEN}")).await;
    assert_eq!(next(&mut reader).await["type"], "hello");
    let mut deaf = never_reading(&app, None).await;
    // The reader is served all the while (it answers the Pings: tungstenite does, as it
    // reads), in a task of its own.
    let reading = tokio::spawn(async move {
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(8) {
            message(&mut reader).await;
        }
        reader
    });
    let pong = client_frame(0xA, b"mine");
    let dropped = write_until_closed(&mut deaf, &pong, Duration::from_millis(300), 20)
        .await
        .expect("the client that never reads closed within 20 s");
    eprintln!("the client that never reads, sending Pongs of its own, closed after {dropped:?}");
    let mut reader = reading.await.unwrap();
    reader
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    until(&mut reader, |m| m["type"] == "pong").await;
    let (_, metrics) = app.get(&format!("/metrics?token={VIEWER_TOKEN}")).await;
    assert!(
        metrics.as_str().unwrap().contains("duban_ws_clients 1\n"),
        "only the reader left: {metrics}"
    );
    app.stop().await;
}

/// A client that floods Pings and never reads the Pongs: the daemon answers each (it must),
/// the Pongs fill the client's small buffers, and the client is closed once one has waited
/// past the lag limit; it holds no more than one frame in the daemon meanwhile, and a client
/// that reads is served throughout.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_floods_pings_and_never_reads_is_dropped() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    // A heartbeat longer than the test: only the Pongs' writes can find the client out.
    let app = spawn_app(
        live_config(
            dir.path(),
            &url,
            "[live]\nheartbeat_seconds = 60\nmax_lag_seconds = 2\n",
        ),
        fixed_clock().1,
    )
    .await;
    let mut flood = never_reading(&app, Some(2048)).await;
    let pings = client_frame(0x9, &[b'p'; 125]).repeat(500);
    let flooding =
        tokio::spawn(
            async move { write_until_closed(&mut flood, &pings, Duration::ZERO, 20).await },
        );
    let mut reader = connect(&app, &format!("token={VIEWER_TOKEN}")).await;
    reader
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    until(&mut reader, |m| m["type"] == "pong").await;
    let dropped = flooding
        .await
        .unwrap()
        .expect("the flooding client closed within 20 s");
    eprintln!("the client flooding Pings and reading nothing closed after {dropped:?}");
    reader
        .send(Message::text(r#"{"type":"ping"}"#))
        .await
        .unwrap();
    until(&mut reader, |m| m["type"] == "pong").await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_origins_are_refused_without_data() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    let status = |query: String| {
        let url = ws_url(&app, &query);
        async move {
            match tokio_tungstenite::connect_async(url).await {
                Ok(_) => 101,
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    response.status().as_u16()
                }
                Err(e) => panic!("{e}"),
            }
        }
    };
    assert_eq!(status("screen=overview".into()).await, 401);
    assert_eq!(status("screen=overview&token=wrong".into()).await, 401);
    assert_eq!(
        status(format!("token={SCREEN_TOKEN}")).await,
        401,
        "a screen token opens only screens"
    );
    assert_eq!(
        status(format!("screen=nope&token={VIEWER_TOKEN}")).await,
        404
    );
    assert_eq!(
        status(format!("screen=nope&token={SCREEN_TOKEN}")).await,
        401,
        "which screens exist is not told to a screen token"
    );
    assert_eq!(
        status(format!("screen=overview&token={SCREEN_TOKEN}")).await,
        101
    );

    // A browser page from another site may not open it.
    let mut request = ws_url(&app, &format!("token={VIEWER_TOKEN}"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status().as_u16(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| ())),
    }
    let mut request = ws_url(&app, &format!("token={VIEWER_TOKEN}"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Origin", app.base.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap();

    // Pages and the API: 401 and a page that says what to do, never data.
    let (status, body) = app.get("/screen/overview").await;
    assert_eq!(status.as_u16(), 401);
    let body = body.as_str().unwrap().to_owned();
    assert!(body.contains("令牌") && !body.contains("R-0"), "{body}");
    assert_eq!(
        app.get("/screen/overview?token=wrong").await.0.as_u16(),
        401
    );
    assert_eq!(
        app.get(&format!("/screen/overview?token={SCREEN_TOKEN}"))
            .await
            .0
            .as_u16(),
        200
    );
    assert_eq!(
        app.get(&format!("/?token={SCREEN_TOKEN}")).await.0.as_u16(),
        401
    );
    assert_eq!(
        app.get(&format!("/?token={VIEWER_TOKEN}")).await.0.as_u16(),
        200
    );
    // The token may hide behind percent-encoding; it is still taken out before the handler.
    let (status, _) = app.get(&format!("/api/items?%74oken={VIEWER_TOKEN}")).await;
    assert_eq!(status.as_u16(), 200);
    let (status, body) = app.get("/api/items").await;
    assert_eq!(status.as_u16(), 401);
    assert!(body["error"].as_str().unwrap().contains("token"));
    eventually(10, "the item through the API with the token", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}&status=pending"))
            .await
            .1["total"]
            == json!(1)
    })
    .await;
    let response = app
        .client
        .get(format!("{}/api/summary", app.base))
        .bearer_auth(VIEWER_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    app.stop().await;
}

/// The frame layer against a real client (pings, a fragmented message, closing) and against
/// raw bytes that break the protocol: each gets its close code, and a bad handshake a 400.
#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_protocol_is_kept_and_enforced() {
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};

    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(1));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    let query = format!("screen=overview&token={SCREEN_TOKEN}");

    let mut client = connect(&app, &query).await;
    assert_eq!(next(&mut client).await["type"], "hello");
    assert_eq!(next(&mut client).await["type"], "snapshot");
    client
        .send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    let pong = loop {
        if let Message::Pong(payload) = message(&mut client).await {
            break payload;
        }
    };
    assert_eq!(&pong[..], b"are you there");
    // The client's JSON ping, sent in three fragments.
    let fragments = [
        (r#"{"ty"#, Data::Text, false),
        (r#"pe":"p"#, Data::Continue, false),
        (r#"ing"}"#, Data::Continue, true),
    ];
    for (text, data, last) in fragments {
        let frame = Frame::message(text, OpCode::Data(data), last);
        client.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(
        until(&mut client, |m| m["type"] == "pong").await["type"],
        "pong"
    );
    // Too big: closed with 1009.
    client
        .send(Message::Text("x".repeat(5000).into()))
        .await
        .unwrap();
    let close = loop {
        if let Message::Close(frame) = message(&mut client).await {
            break frame;
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));

    // A client that closes gets its close answered.
    let mut client = connect(&app, &query).await;
    next(&mut client).await;
    client
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    let answered = loop {
        if let Message::Close(frame) = message(&mut client).await {
            break frame;
        }
    };
    assert_eq!(answered.map(|f| f.code), Some(CloseCode::Normal));

    // Raw bytes: a handshake, then a frame a client may not send (unmasked).
    let address = app.base.trim_start_matches("http://").to_owned();
    let handshake = |key: &str| {
        format!(
            "GET /ws?{query} HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n{key}\r\n"
        )
    };
    let mut raw = TcpStream::connect(&address).await.unwrap();
    raw.write_all(handshake("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = raw.read(&mut buf).await.unwrap();
        assert!(n > 0, "the server hung up during the handshake");
        seen.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&seen).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "the RFC's accept key: {head}"
    );
    raw.write_all(b"\x81\x02hi").await.unwrap();
    // Read to the end: the hello, then a close frame with 1002, then the connection ends.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut rest))
        .await
        .expect("the server ends the connection")
        .unwrap();
    let close_at = (0..rest.len().saturating_sub(1))
        .find(|&i| rest[i] == 0x88 && usize::from(rest[i + 1]) == rest.len() - i - 2)
        .expect("the last frame is a close frame");
    assert_eq!(&rest[close_at + 2..close_at + 4], &1002u16.to_be_bytes());

    // Another version: 426, and the version spoken.
    let mut raw = TcpStream::connect(&address).await.unwrap();
    let other = handshake("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
        .replace("Version: 13", "Version: 8");
    raw.write_all(other.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = raw.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_lowercase();
    assert!(answer.starts_with("http/1.1 426"), "{answer}");
    assert!(answer.contains("sec-websocket-version: 13"), "{answer}");

    // A handshake without its key is refused before any upgrade.
    let mut raw = TcpStream::connect(&address).await.unwrap();
    raw.write_all(handshake("").as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = raw.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");
    app.stop().await;
}
