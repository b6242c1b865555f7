//! The HTTP server against hostile or careless clients on loopback: connections that send
//! nothing or their headers (a websocket handshake's too) a byte at a time are closed after
//! the header timeout, and an idle kept-alive one after the idle timeout; no more than `max_connections` are held (a websocket holds its
//! place until it ends), the rest wait and are served once places free; every kind of answer
//! carries its security headers, and the pages load under their Content-Security-Policy in
//! a real Chromium without one violation; `/healthz` tells a stranger what is wrong without
//! URLs, paths or error texts, and a viewer the details.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::browser::{Browser, Page};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// `live_config` with `keys` added to `[server]` and `access` to `[access]`.
fn config_with(
    dir: &std::path::Path,
    feed_url: &str,
    keys: &str,
    access: &str,
) -> duban::config::Config {
    let listen = "listen = \"127.0.0.1:0\"";
    let text =
        live_config_text(dir, feed_url, access).replace(listen, &format!("{listen}\n{keys}"));
    with_tokens(dir, text)
}

fn red_records(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| record(&format!("R-{i}"), "2026-10-09T09:30:00+08:00", 5))
        .collect()
}

/// Waits (at most `seconds`) for the server to close `stream`, reading and dropping what it
/// sends; returns how long that took.
async fn closed_within(stream: &mut TcpStream, seconds: u64) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

/// A client that never finishes its request head: `head` (its first lines), then one byte
/// every 200 ms. Returns when a write fails (the server closed the connection), after at
/// most `seconds`, with how long it lasted.
async fn slowloris(addr: std::net::SocketAddr, head: &str, seconds: u64) -> Option<Duration> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("{head}X-Slow: ").as_bytes())
        .await
        .unwrap();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if stream.write_all(b"a").await.is_err() {
            return Some(started.elapsed());
        }
    }
    None
}

/// A client without a connection pool, so that each request is a connection of its own.
fn unpooled() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn healthz_within(client: &reqwest::Client, app: &TestApp, timeout: Duration) -> bool {
    client
        .get(format!("{}/healthz", app.base))
        .timeout(timeout)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_and_slow_connections_are_closed_after_the_header_timeout() {
    let dir = temp_dir();
    let (_feed, url) = FeedServer::start().await;
    let config = config_with(dir.path(), &url, "header_timeout_seconds = 1", "");
    let app = spawn_app(config, fixed_clock().1).await;
    let addr = app.running.addr;

    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let request = "GET /healthz HTTP/1.1\r\nHost: duban\r\n";
    // A websocket handshake sent as slowly: it is an HTTP request head like any other.
    let handshake = format!(
        "GET /ws?token={VIEWER_TOKEN} HTTP/1.1\r\nHost: duban\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    );
    let slow: Vec<_> = (0..6)
        .map(|i| {
            let head = if i % 2 == 0 {
                request.to_owned()
            } else {
                handshake.clone()
            };
            tokio::spawn(async move { slowloris(addr, &head, 20).await })
        })
        .collect();

    let closes =
        futures_util::future::join_all(silent.iter_mut().map(|s| closed_within(s, 20))).await;
    let slowest_silent = closes
        .iter()
        .map(|c| c.expect("a silent connection closed within 20 s"))
        .max()
        .unwrap();
    let mut slowest_slow = Duration::ZERO;
    for task in slow {
        let lasted = task
            .await
            .unwrap()
            .expect("a slowloris connection (request or handshake) closed within 20 s");
        slowest_slow = slowest_slow.max(lasted);
    }
    eprintln!(
        "header timeout 1 s: 50 silent connections closed within {slowest_silent:?}, \
         6 slow ones (3 of them websocket handshakes) within {slowest_slow:?}"
    );
    eventually(10, "the daemon holds none of them", || async {
        app.running.shared.metrics.open_connections() == 0
    })
    .await;
    assert!(healthz_within(&unpooled(), &app, Duration::from_secs(5)).await);
    app.stop().await;
}

/// Sends one request for `/healthz` on `stream` and reads its answer (a short one, read
/// whole by one read), which must be a 200.
async fn ask_healthz(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&answer[..n])
    );
}

/// The idle timeout is not the header timeout: a kept-alive connection may wait past the
/// header timeout for its next request (here 1 s against 4 s), is closed once it has waited
/// the idle timeout, and a next request begun but not finished has the header timeout from
/// its first byte.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_kept_alive_connection_is_closed_after_the_idle_timeout() {
    let dir = temp_dir();
    let (_feed, url) = FeedServer::start().await;
    let config = config_with(
        dir.path(),
        &url,
        "header_timeout_seconds = 1\nidle_timeout_seconds = 4",
        "",
    );
    let app = spawn_app(config, fixed_clock().1).await;
    let addr = app.running.addr;

    let mut idle = TcpStream::connect(addr).await.unwrap();
    ask_healthz(&mut idle).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    ask_healthz(&mut slow).await;
    // Twice the header timeout of silence, and both are still served.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ask_healthz(&mut idle).await;
    let idle_since = Instant::now();
    let idle = tokio::spawn(async move { closed_within(&mut idle, 20).await });
    // The next request's first bytes, and nothing more: its head's time runs from them.
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: duban\r\n")
        .await
        .unwrap();
    let slow_closed = closed_within(&mut slow, 20)
        .await
        .expect("a request begun and never finished closed within 20 s");
    let idle_closed = idle
        .await
        .unwrap()
        .expect("the idle kept-alive connection closed within 20 s");
    eprintln!(
        "header timeout 1 s, idle timeout 4 s: the unfinished request closed {slow_closed:?} \
         after its first byte, the idle connection {idle_closed:?} after its last answer"
    );
    assert!(
        slow_closed < Duration::from_secs(3),
        "the unfinished request was given more than its header timeout: {slow_closed:?}"
    );
    assert!(
        idle_closed >= Duration::from_millis(3500)
            && idle_since.elapsed() < Duration::from_secs(10),
        "the idle connection closed {idle_closed:?} after its answer, not after the idle timeout"
    );
    eventually(10, "the daemon holds none of them", || async {
        app.running.shared.metrics.open_connections() == 0
    })
    .await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_the_cap_connections_wait_and_a_websocket_holds_its_place_until_it_ends() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(2));
    // A long header timeout: here the places are freed by the clients, not by the timer.
    let config = config_with(
        dir.path(),
        &url,
        "max_connections = 8\nheader_timeout_seconds = 60",
        "",
    );
    let app = spawn_app(config, fixed_clock().1).await;
    let addr = app.running.addr;
    let shared = app.running.shared.clone();
    // The most connections the daemon ever held, sampled every 5 ms.
    let most = Arc::new(AtomicI64::new(0));
    let sampler = {
        let (most, shared) = (most.clone(), shared.clone());
        tokio::spawn(async move {
            loop {
                most.fetch_max(shared.metrics.open_connections(), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let ws_url = format!(
        "{}/ws?screen=overview&token={SCREEN_TOKEN}",
        app.base.replace("http://", "ws://")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let hello = ws.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("\"hello\""), "{hello:?}");
    eventually(5, "the websocket counted", || async {
        shared.metrics.open_connections() == 1
    })
    .await;

    let mut silent = Vec::new();
    for _ in 0..7 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    eventually(5, "the cap reached", || async {
        shared.metrics.open_connections() == 8
    })
    .await;
    // Beyond the cap: the kernel takes them, the daemon does not.
    for _ in 0..100 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let client = unpooled();
    assert!(
        !healthz_within(&client, &app, Duration::from_secs(1)).await,
        "a 9th connection is served while 8 are open"
    );
    assert_eq!(shared.metrics.open_connections(), 8);
    // The websocket keeps working meanwhile.
    ws.send(Message::text(r#"{"type":"ping"}"#)).await.unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Message::Text(text) = ws.next().await.unwrap().unwrap()
                && text.contains("\"pong\"")
            {
                return;
            }
        }
    })
    .await;
    assert!(
        pong.is_ok(),
        "the websocket answers a ping while the cap is reached"
    );

    // The silent clients leave: the waiting ones are taken and close at once, then /healthz
    // is served, the websocket still holding one place.
    drop(silent);
    let started = Instant::now();
    eventually(20, "/healthz answered once places are free", || {
        let client = client.clone();
        let app = &app;
        async move { healthz_within(&client, app, Duration::from_secs(2)).await }
    })
    .await;
    eprintln!(
        "/healthz answered {:?} after the silent clients left",
        started.elapsed()
    );
    eventually(10, "only the websocket left", || async {
        shared.metrics.open_connections() == 1
    })
    .await;
    // Closed, it gives its place back (the socket hyper handed on to it was dropped).
    ws.close(None).await.unwrap();
    drop(ws);
    eventually(10, "no connection left", || async {
        shared.metrics.open_connections() == 0
    })
    .await;
    sampler.abort();
    assert!(
        most.load(Ordering::Relaxed) <= 8,
        "the daemon held {} connections at once, over its cap of 8",
        most.load(Ordering::Relaxed)
    );
    app.stop().await;
}

/// The response's `name` header, or "" without one.
fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_of_answer_carries_its_security_headers() {
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(3));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    eventually(20, "stored and counted", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}")).await.1["total"] == 3
            && app
                .get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
                .await
                .0
                == 200
    })
    .await;
    let snapshot = app
        .get(&format!("/live/snapshot?token={VIEWER_TOKEN}"))
        .await
        .1;
    let chart = snapshot["panels"]["ring"]["svg_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        async move { client.get(url).send().await.unwrap() }
    };
    let host = app.base.trim_start_matches("http://").to_owned();

    let pages = [
        (format!("/?token={VIEWER_TOKEN}"), 200),
        (format!("/screen/overview?token={SCREEN_TOKEN}"), 200),
        (format!("/item/R-0?token={VIEWER_TOKEN}"), 200),
        (format!("/m/dept/x?token={VIEWER_TOKEN}"), 200),
        ("/".to_owned(), 401),
        (format!("/screen/nowhere?token={VIEWER_TOKEN}"), 404),
        ("/no/such/page".to_owned(), 404),
    ];
    for (path, status) in pages {
        let r = get(path.clone()).await;
        assert_eq!(r.status(), status, "{path}");
        assert!(
            header(&r, "content-type").starts_with("text/html"),
            "{path}"
        );
        assert_eq!(
            header(&r, "content-security-policy"),
            format!(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                 connect-src 'self' ws://{host} wss://{host}; base-uri 'none'; \
                 form-action 'self'; frame-ancestors 'none'"
            ),
            "{path}"
        );
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{path}");
    }

    let data = [
        (format!("/api/items?token={VIEWER_TOKEN}"), 200),
        (format!("/api/items/R-0?token={VIEWER_TOKEN}"), 200),
        (format!("/api/summary?token={VIEWER_TOKEN}"), 200),
        ("/api/items".to_owned(), 401),
        (format!("/api/nothing?token={VIEWER_TOKEN}"), 404),
        ("/healthz".to_owned(), 200),
        (format!("/live/snapshot?token={VIEWER_TOKEN}"), 200),
        (format!("/metrics?token={VIEWER_TOKEN}"), 200),
    ];
    for (path, status) in data {
        let r = get(path.clone()).await;
        assert_eq!(r.status(), status, "{path}");
        assert_eq!(header(&r, "cache-control"), "no-store", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header(&r, "x-frame-options"), "", "{path}: not a page");
    }

    let r = get("/static/screen.js".to_owned()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "referrer-policy"), "no-referrer");
    // The chart keeps its own policy: opened on its own, it runs and loads nothing.
    let r = get(format!("{chart}&token={SCREEN_TOKEN}")).await;
    assert_eq!(r.status(), 200, "{chart}");
    assert_eq!(
        header(&r, "content-security-policy"),
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    app.stop().await;

    // A portal allowed to frame the pages: named in frame-ancestors, and no X-Frame-Options
    // (which would forbid it).
    let dir = temp_dir();
    let config = live_config(
        dir.path(),
        &url,
        r#"frame_ancestors = ["https://portal.example.gov.cn"]"#,
    );
    let app = spawn_app(config, fixed_clock().1).await;
    let r = app
        .client
        .get(format!("{}/screen/overview?token={SCREEN_TOKEN}", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        header(&r, "content-security-policy")
            .ends_with("; frame-ancestors https://portal.example.gov.cn"),
        "{}",
        header(&r, "content-security-policy")
    );
    assert_eq!(header(&r, "x-frame-options"), "");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn healthz_tells_a_stranger_what_is_wrong_and_a_viewer_the_details() {
    let dir = temp_dir();
    let holidays = holidays_of_2026_only(dir.path());
    let (feed, url) = FeedServer::start().await;
    // Accepted 21 Dec 2026 with 10 days: the deadline falls in 2027, which has no file and
    // (provisional_years = 0) is not counted provisionally either: quarantined, with a reason
    // that names the holiday folder.
    feed.set(vec![record("Y-1", "2026-12-21T09:30:00+08:00", 10)]);
    let shipped = format!("{:?}", root().join("config/holidays").display().to_string());
    let text = live_config_text(dir.path(), &url, "")
        .replace(&shipped, &format!("{:?}", holidays.display().to_string()))
        .replace(CALENDAR, NO_PROVISIONAL_YEARS);
    let app = spawn_app(
        with_tokens(dir.path(), text),
        clock_at("2026-12-22T10:00:00+08:00").1,
    )
    .await;
    eventually(10, "quarantined", || async {
        app.get(&format!("/api/quarantine?token={VIEWER_TOKEN}"))
            .await
            .1["total"]
            == 1
    })
    .await;
    feed.fail(true);
    let detailed = format!("/healthz?token={VIEWER_TOKEN}");
    eventually(15, "the feed stale, said with its URL", || async {
        let health = app.get(&detailed).await.1;
        health["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r.as_str().unwrap().contains("is stale")))
    })
    .await;

    let (address, folder_path) = (
        url.trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned(),
        holidays.display().to_string(),
    );
    let told = |health: &Value| health.to_string();
    for stranger in [
        "/healthz".to_owned(),
        "/healthz?token=wrong".to_owned(),
        format!("/healthz?token={SCREEN_TOKEN}"),
    ] {
        let (status, health) = app.get(&stranger).await;
        assert_eq!(status, 200);
        assert_eq!(health["status"], "degraded", "{stranger}: {health}");
        let reasons: Vec<&str> = health["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(reasons.len(), 2, "{stranger}: {health}");
        assert!(
            reasons[0].starts_with("feed main is stale (")
                && reasons[0].ends_with(" failed runs in a row)"),
            "{stranger}: {health}"
        );
        assert_eq!(
            reasons[1],
            "feed main: 1 records cannot be graded and are left out of every count"
        );
        for secret in [
            address.as_str(),
            folder_path.as_str(),
            "http",
            "answered",
            "500",
        ] {
            assert!(
                !told(&health).contains(secret),
                "{stranger} tells {secret:?}: {health}"
            );
        }
        assert!(health.get("items").is_none(), "{stranger}: {health}");
        // The reminder to add next year's file names the file, not the folder.
        let reminders = health["reminders"].as_array().unwrap();
        assert!(
            reminders[0].as_str().unwrap().contains("2027.toml"),
            "{health}"
        );
    }

    let (_, health) = app.get(&detailed).await;
    assert_eq!(health["status"], "degraded");
    let reasons = health["reasons"].to_string();
    assert!(
        reasons.contains(&format!("last: {url} answered 500")),
        "the viewer is told the feed's error: {health}"
    );
    assert!(
        reasons.contains(&folder_path),
        "and the folder to add to: {health}"
    );
    assert_eq!(health["items"], json!(0));
    assert_eq!(
        health["reminders"],
        app.get("/healthz").await.1["reminders"],
        "the reminders are the same"
    );
    app.stop().await;
}

/// Counts the page's Content-Security-Policy violations in `window.__violations`, from
/// before its first script runs (on every document `page` opens from now on).
async fn count_violations(page: &Page) {
    page.command(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({ "source": "window.__violations = []; document.addEventListener('securitypolicyviolation', \
                 e => window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI));" }),
    )
    .await;
}

async fn no_violations(page: &Page, what: &str) {
    // Violations are reported asynchronously: give late ones a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        page.eval("window.__violations").await,
        json!([]),
        "{what} broke its policy"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_load_their_data_in_chromium_without_breaking_their_policy() {
    let Some(browser) = Browser::launch().await else {
        return;
    };
    let dir = temp_dir();
    let (feed, url) = FeedServer::start().await;
    feed.set(red_records(3));
    let app = spawn_app(live_config(dir.path(), &url, ""), fixed_clock().1).await;
    eventually(20, "stored", || async {
        app.get(&format!("/api/items?token={VIEWER_TOKEN}")).await.1["total"] == 3
    })
    .await;
    let page = browser.new_page(1920, 1080).await;
    count_violations(&page).await;

    // The screen: its scripts and styles, its first state over HTTP, the websocket, and the
    // charts fetched and placed inline.
    page.goto(&format!(
        "{}/screen/overview?token={SCREEN_TOKEN}",
        app.base
    ))
    .await;
    page.wait_for(
        "document.body.dataset.live === 'open' && Number(document.body.dataset.seq) > 0 \
         && document.querySelector('[data-panel=ring] svg') !== null \
         && document.querySelector('[data-panel=trend] svg') !== null",
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(
        page.eval("getComputedStyle(document.getElementById('stage')).position")
            .await,
        "absolute",
        "screen.css applied"
    );
    no_violations(&page, "the screen").await;

    // The dashboard's list and the item page's meter (its width set from the script).
    page.goto(&format!("{}/?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "document.querySelectorAll('#items tbody tr').length === 3",
        Duration::from_secs(20),
    )
    .await;
    no_violations(&page, "the dashboard").await;
    page.goto(&format!("{}/item/R-0?token={VIEWER_TOKEN}", app.base))
        .await;
    page.wait_for(
        "parseFloat(document.getElementById('meter-fill').style.width) === 100",
        Duration::from_secs(20),
    )
    .await;
    no_violations(&page, "the item page").await;

    // The 401 page takes its look from notice.css now that inline styles are refused.
    page.goto(&format!("{}/", app.base)).await;
    assert_eq!(
        page.eval("getComputedStyle(document.querySelector('main')).borderTopColor")
            .await,
        "rgb(232, 72, 63)"
    );
    no_violations(&page, "the 401 page").await;

    // And the counting works: an inline style put in by hand is refused and counted.
    page.eval("const s = document.createElement('style'); s.textContent = 'body { color: red }'; document.head.appendChild(s); true")
        .await;
    let violations = page
        .wait_for(
            "window.__violations.length > 0 && window.__violations",
            Duration::from_secs(5),
        )
        .await;
    assert!(
        violations[0].as_str().unwrap().starts_with("style-src"),
        "{violations}"
    );
    app.stop().await;
}
