//! Proves the browser harness (tests/common/browser.rs) against a real headless chromium and
//! a real page served on loopback: navigation, waiting, evaluation, viewport changes,
//! screenshots, failures reported as panics, and cleanup on drop.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use common::browser::{Browser, Page};
use serde_json::json;

/// A page whose text arrives late (after a timer) and whose box and size label follow the
/// window.
const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>harness</title>
<style>
  html, body { margin: 0; }
  #frame { box-sizing: border-box; width: 100vw; height: 100vh; border: 8px solid #c0392b;
           background: linear-gradient(135deg, #2980b9, #27ae60); color: white;
           font: 32px sans-serif; padding: 24px; }
</style>
</head>
<body>
<div id="frame">
  <p id="message">loading</p>
  <p id="size"></p>
</div>
<script>
  function showSize() {
    document.getElementById('size').textContent = innerWidth + 'x' + innerHeight;
  }
  addEventListener('resize', showSize);
  showSize();
  window.loadedAt = null;
  addEventListener('load', () => { window.loadedAt = performance.now(); });
  setTimeout(() => {
    document.getElementById('message').textContent = 'ready';
    window.readyAt = performance.now();
  }, 400);
</script>
</body>
</html>
"#;

#[tokio::test]
async fn harness_drives_headless_chromium() {
    let started = Instant::now();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route("/", get(|| async { Html(PAGE) }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let Some(browser) = Browser::launch().await else {
        return;
    };
    let launched = started.elapsed();
    let page = browser.new_page(800, 600).await;
    page.goto(&format!("http://{addr}/")).await;

    // goto waited for the load event.
    assert_eq!(page.eval("document.readyState").await, "complete");
    assert!(page.eval("window.loadedAt").await.is_number());

    // The text comes after a timer; wait_for returns the truthy value it waited for.
    let message = page
        .wait_for(
            "document.getElementById('message').textContent === 'ready' && 'got ' + \
             document.getElementById('message').textContent",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(message, "got ready");
    assert!(
        page.eval("window.readyAt - window.loadedAt")
            .await
            .is_number(),
        "the timer has fired"
    );

    // The window size is what was asked for, and the page follows it.
    assert_eq!(page.eval("window.innerWidth").await, 800);
    assert_eq!(page.eval("window.innerHeight").await, 600);
    assert_eq!(
        page.eval("document.getElementById('size').textContent")
            .await,
        "800x600"
    );
    assert_eq!(
        page.eval("document.getElementById('frame').getBoundingClientRect().width")
            .await,
        800
    );

    page.set_viewport(1280, 720).await;
    assert_eq!(page.eval("window.innerWidth").await, 1280);
    assert_eq!(page.eval("window.innerHeight").await, 720);
    page.wait_for(
        "document.getElementById('size').textContent === '1280x720'",
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        page.eval("document.getElementById('frame').getBoundingClientRect().width")
            .await,
        1280
    );

    // Promises are awaited, values come back as JSON.
    assert_eq!(
        page.eval("new Promise(done => setTimeout(() => done({ n: 1, list: [true, null] }), 50))")
            .await,
        json!({ "n": 1, "list": [true, null] })
    );
    assert_eq!(page.eval("undefined").await, serde_json::Value::Null);

    let screenshot = common::root().join("target/screens/harness.png");
    let _ = std::fs::remove_file(&screenshot);
    page.screenshot(&screenshot).await;
    assert_eq!(png_size(&screenshot), (1280, 720));

    // Failures are panics that say what went wrong; a second page works alongside the first.
    let second = browser.new_page(400, 300).await;
    second.goto(&format!("http://{addr}/")).await;
    let timed_out = panic_message(second, |page| async move {
        page.wait_for("document.title === 'never'", Duration::from_millis(300))
            .await;
    })
    .await;
    assert!(
        timed_out.contains("wait_for timed out")
            && timed_out.contains("document.title === 'never'")
            && timed_out.contains("last value: false"),
        "{timed_out}"
    );
    let third = browser.new_page(400, 300).await;
    let thrown = panic_message(third, |page| async move {
        page.eval("throw new RangeError('out of bounds')").await;
    })
    .await;
    assert!(thrown.contains("RangeError: out of bounds"), "{thrown}");
    // The first page is unaffected by the others.
    assert_eq!(page.eval("window.innerWidth").await, 1280);

    // Dropping the browser kills chromium and removes its profile.
    let pid = browser.pid();
    let profile = browser.profile_dir().to_owned();
    assert!(profile.is_dir());
    drop(page);
    drop(browser);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "chromium {pid} still runs"
    );
    assert!(!profile.exists(), "{} was not removed", profile.display());

    server.abort();
    eprintln!(
        "browser harness: chromium up in {launched:?}, whole test {:?}, screenshot {}",
        started.elapsed(),
        screenshot.display()
    );
}

/// Runs `body` with `page` in its own task and returns the message it panicked with.
async fn panic_message<F, Fut>(page: Page, body: F) -> String
where
    F: FnOnce(Page) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let error = tokio::spawn(body(page))
        .await
        .expect_err("the page operation should have panicked");
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(png.len() > 33, "{} is too short for a PNG", path.display());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "first chunk is IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
    (width, height)
}
