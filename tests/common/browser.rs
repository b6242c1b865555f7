//! A minimal Chrome DevTools Protocol client for the integration tests: it starts a headless
//! Chromium with a fresh profile, talks CDP to it over its websocket, and gives each test
//! pages it can open, query, wait on and photograph.
//!
//! One background task reads the socket and routes each answer to the caller that waits for
//! it (by `id`) and each page event to its page (by `sessionId`), so several pages can be
//! driven at once. Every CDP error or timeout is a panic naming the command: these are tests.
//!
//! A `Browser` belongs to the tokio runtime it was launched in (one per `#[tokio::test]`).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Overrides the chromium binary (a path, or a name looked up in PATH).
pub const CHROMIUM_ENV: &str = "DUBAN_CHROMIUM";
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";

/// How long chromium may take to print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long any single CDP command may take to be answered.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `goto` waits for the page's load event.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
/// Interval between two evaluations of a `wait_for` condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Lines of chromium's stderr kept for panic messages.
const STDERR_TAIL: usize = 30;

const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--remote-debugging-port=0",
];

/// A headless chromium and the CDP connection to it. Dropping it kills the process (and with
/// it its helpers) and removes its profile folder.
pub struct Browser {
    connection: Arc<Connection>,
    tasks: Vec<JoinHandle<()>>,
    // Last, so that it is dropped after the tasks are aborted.
    process: Process,
}

/// One tab, in its own window, attached with a flat session.
pub struct Page {
    connection: Arc<Connection>,
    target_id: String,
    session_id: String,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Value>>,
}

impl Browser {
    /// Starts chromium (`$DUBAN_CHROMIUM`, else `chromium` in PATH, else /usr/bin/chromium).
    ///
    /// `None`, with a line on stderr saying why, when there is no chromium and `CI` is not
    /// `"true"`; under `CI=true` a missing chromium is a panic, so that browser tests never
    /// silently skip in CI. A chromium that is there but fails to start is always a panic.
    pub async fn launch() -> Option<Browser> {
        let binary = match find_chromium() {
            Ok(binary) => binary,
            Err(why) => {
                if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                    panic!(
                        "browser tests need chromium and CI=true forbids skipping them: {why}; \
                         install chromium or set {CHROMIUM_ENV} to its binary"
                    );
                }
                eprintln!(
                    "skipping browser test: {why} (install chromium or set {CHROMIUM_ENV}; \
                     under CI=true this is a failure)"
                );
                return None;
            }
        };

        let profile = tempfile::Builder::new()
            .prefix("duban-chromium-")
            .tempdir()
            .expect("create a temporary chromium profile folder");
        let mut child = Command::new(&binary)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start chromium {}: {e}", binary.display()));
        let stderr = child.stderr.take().expect("chromium's stderr is piped");
        let mut process = Process {
            child,
            profile: Some(profile),
            stderr: Arc::new(Mutex::new(VecDeque::new())),
        };

        let (url_tx, url_rx) = oneshot::channel();
        let tail = Arc::clone(&process.stderr);
        std::thread::Builder::new()
            .name("chromium-stderr".into())
            .spawn(move || read_stderr(stderr, url_tx, &tail))
            .expect("spawn the thread that reads chromium's stderr");

        let url = match tokio::time::timeout(LAUNCH_TIMEOUT, url_rx).await {
            Ok(Ok(url)) => url,
            Ok(Err(_)) => {
                // stderr closed without the line: chromium has exited (or is about to).
                std::thread::sleep(Duration::from_millis(100));
                let status = match process.child.try_wait() {
                    Ok(Some(status)) => status.to_string(),
                    _ => "still running".to_owned(),
                };
                panic!(
                    "chromium {} closed stderr without printing `DevTools listening on ws://…` \
                     ({status}){}",
                    binary.display(),
                    stderr_tail(&process.stderr)
                );
            }
            Err(_) => panic!(
                "chromium {} did not print `DevTools listening on ws://…` within {LAUNCH_TIMEOUT:?}{}",
                binary.display(),
                stderr_tail(&process.stderr)
            ),
        };

        let config = WebSocketConfig::default()
            .max_message_size(Some(256 << 20))
            .max_frame_size(Some(256 << 20));
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), true)
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "connect to chromium's DevTools at {url}: {e}{}",
                        stderr_tail(&process.stderr)
                    )
                });
        let (mut sink, mut stream) = socket.split();

        let (outgoing, mut to_send) = mpsc::unbounded_channel::<String>();
        let connection = Arc::new(Connection {
            outgoing,
            next_id: AtomicU64::new(1),
            pending: Mutex::new(Pending::default()),
            sessions: Mutex::new(HashMap::new()),
            stderr: Arc::clone(&process.stderr),
        });

        let writer = tokio::spawn(async move {
            while let Some(text) = to_send.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    break;
                }
            }
        });
        let closer = CloseOnDrop {
            connection: Arc::clone(&connection),
        };
        let reader = tokio::spawn(async move {
            let why = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => closer.connection.dispatch(text.as_str()),
                    Some(Ok(Message::Close(frame))) => {
                        break format!("chromium closed the socket ({frame:?})");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("reading the socket failed: {e}"),
                    None => break "the socket ended".to_owned(),
                }
            };
            closer.connection.close(why);
            // Or, if the task is aborted with the browser, `closer` closes on drop.
        });

        Some(Browser {
            connection,
            tasks: vec![writer, reader],
            process,
        })
    }

    /// Opens `about:blank` in a new window of `width`×`height` CSS pixels, with the viewport
    /// emulated at exactly that size (device scale factor 1).
    pub async fn new_page(&self, width: u32, height: u32) -> Page {
        let created = self
            .connection
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "newWindow": true, "width": width, "height": height }),
            )
            .await;
        let target_id = string_field(&created, "targetId", "Target.createTarget");
        let attached = self
            .connection
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
            )
            .await;
        let session_id = string_field(&attached, "sessionId", "Target.attachToTarget");

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        lock(&self.connection.sessions).insert(session_id.clone(), events_tx);
        let page = Page {
            connection: Arc::clone(&self.connection),
            target_id,
            session_id,
            events: tokio::sync::Mutex::new(events_rx),
        };
        page.command("Page.enable", json!({})).await;
        page.command("Page.setLifecycleEventsEnabled", json!({ "enabled": true }))
            .await;
        page.command("Inspector.enable", json!({})).await;
        page.set_viewport(width, height).await;
        page
    }

    /// Sends a browser-level CDP command and returns its result.
    pub async fn command(&self, method: &str, params: Value) -> Value {
        self.connection.call(None, method, params).await
    }

    /// The chromium process id (gone once the `Browser` is dropped).
    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// The temporary profile folder (removed once the `Browser` is dropped).
    pub fn profile_dir(&self) -> &Path {
        self.process
            .profile
            .as_ref()
            .map(|p| p.path())
            .expect("the profile folder lives as long as the browser")
    }

    /// Decodes `png` in a blank page of this browser (the tests have no PNG decoder of their
    /// own) and measures what it shows.
    pub async fn picture(&self, png: &[u8]) -> Picture {
        let page = self.new_page(64, 64).await;
        let data = base64::engine::general_purpose::STANDARD.encode(png);
        let measured = page.eval(&PICTURE.replace("DATA", &data)).await;
        serde_json::from_value(measured.clone())
            .unwrap_or_else(|e| panic!("the picture's measures {measured}: {e}"))
    }
}

/// What a screenshot shows, from [`Browser::picture`].
#[derive(Debug, serde::Deserialize)]
pub struct Picture {
    pub width: u32,
    pub height: u32,
    /// Distinct RGBA values.
    pub colours: u32,
    /// Share of the pixels that have the commonest colour.
    pub dominant: f64,
    /// Share of the pixels that differ clearly from their right-hand neighbour: text, lines
    /// and chart edges make them, a plain or gradient background does not.
    pub edges: f64,
}

/// JavaScript: `DATA` (a base64 PNG) decoded onto a canvas and measured.
const PICTURE: &str = r#"(async () => {
  // Decoded off-screen: an <img> in a page that is not in front may never decode.
  const blob = await (await fetch('data:image/png;base64,DATA')).blob();
  const img = await createImageBitmap(blob);
  const width = img.width, height = img.height;
  const context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
  context.drawImage(img, 0, 0);
  const bytes = context.getImageData(0, 0, width, height).data;
  let edges = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0, i = y * width * 4; x + 1 < width; x++, i += 4) {
      const d = Math.abs(bytes[i] - bytes[i + 4]) + Math.abs(bytes[i + 1] - bytes[i + 5])
        + Math.abs(bytes[i + 2] - bytes[i + 6]);
      if (d > 96) edges++;
    }
  }
  const sorted = new Uint32Array(bytes.buffer).sort();
  let colours = 0, run = 0, longest = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) { colours++; run = 0; }
    run++;
    if (run > longest) longest = run;
  }
  return { width, height, colours, dominant: longest / sorted.length, edges: edges / sorted.length };
})()"#;

impl Drop for Browser {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // `process` is dropped next: it kills chromium and removes the profile.
    }
}

impl Page {
    /// Navigates to `url` and waits for the load event of the new document. Panics if the
    /// navigation fails (DNS, refused connection, …) or the page does not load in time. An
    /// HTTP error status still loads a page and is not a failure here.
    pub async fn goto(&self, url: &str) {
        let mut events = self.events.lock().await;
        while events.try_recv().is_ok() {} // events of earlier documents
        let navigated = self.command("Page.navigate", json!({ "url": url })).await;
        if let Some(error) = navigated
            .get("errorText")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
        {
            panic!("goto {url}: navigation failed: {error}");
        }
        let Some(loader_id) = navigated.get("loaderId").and_then(Value::as_str) else {
            return; // a same-document navigation (only the fragment changed): nothing loads
        };
        let frame_id = navigated.get("frameId").and_then(Value::as_str);
        let deadline = tokio::time::Instant::now() + LOAD_TIMEOUT;
        loop {
            let event = match tokio::time::timeout_at(deadline, events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => panic!(
                    "goto {url}: the connection to chromium closed before the page loaded{}",
                    self.connection.why_closed()
                ),
                Err(_) => panic!(
                    "goto {url}: no load event within {LOAD_TIMEOUT:?}{}",
                    stderr_tail(&self.connection.stderr)
                ),
            };
            let params = &event["params"];
            match event["method"].as_str() {
                Some("Page.lifecycleEvent")
                    if params["name"] == "load"
                        && params["loaderId"] == loader_id
                        && (frame_id.is_none() || params["frameId"].as_str() == frame_id) =>
                {
                    return;
                }
                Some("Inspector.targetCrashed") => panic!("goto {url}: the page crashed"),
                _ => {}
            }
        }
    }

    /// Evaluates `js` in the page (`Runtime.evaluate`, promises awaited) and returns its value
    /// as JSON. `undefined` is `null`; numbers JSON cannot hold (`NaN`, `Infinity`, `-0`) and
    /// BigInts come back as their JS text (`"NaN"`, `"12n"`). Panics with the exception if
    /// `js` throws or its promise rejects.
    pub async fn eval(&self, js: &str) -> Value {
        match self.evaluate(js, COMMAND_TIMEOUT).await {
            Ok(Ok(object)) => value_of(&object),
            Ok(Err(exception)) => panic!("eval threw {exception}\n  expression: {js}"),
            Err(error) => panic!(
                "eval: {}",
                error.describe("Runtime.evaluate", &json!({ "expression": js }))
            ),
        }
    }

    /// Evaluates `js_condition` every 50 ms until its value is truthy (by JS rules) and
    /// returns that value. A condition that throws counts as not yet true (so
    /// `document.querySelector('#x').textContent` may be polled before `#x` exists), and so
    /// does a CDP error (such as a context destroyed by a navigation). Panics after `timeout`
    /// with the condition and its last value or error, or at once if chromium is gone.
    pub async fn wait_for(&self, js_condition: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let last = match self
                .evaluate(js_condition, left.max(Duration::from_millis(200)))
                .await
            {
                Ok(Ok(object)) if truthy(&object) => return value_of(&object),
                Ok(Ok(object)) => format!("last value: {}", value_of(&object)),
                Ok(Err(exception)) => format!("last evaluation threw {exception}"),
                Err(CallError::Timeout(after)) => {
                    format!("last evaluation: no answer in {after:?}")
                }
                Err(CallError::Cdp(error)) => format!("last evaluation failed: {error}"),
                Err(closed @ CallError::Closed(_)) => panic!(
                    "wait_for {js_condition}: {}",
                    closed.describe("Runtime.evaluate", &json!({ "expression": js_condition }))
                ),
            };
            if Instant::now() >= deadline {
                panic!(
                    "wait_for timed out after {timeout:?}\n  condition: {js_condition}\n  {last}"
                );
            }
            tokio::time::sleep(POLL_INTERVAL.min(left)).await;
        }
    }

    /// Saves a PNG of the viewport at `path` (creating its folder) and returns it.
    pub async fn screenshot(&self, path: &Path) -> Vec<u8> {
        let shot = self
            .command(
                "Page.captureScreenshot",
                json!({ "format": "png", "captureBeyondViewport": false }),
            )
            .await;
        let data = string_field(&shot, "data", "Page.captureScreenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("Page.captureScreenshot returned data that is not base64");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .unwrap_or_else(|e| panic!("create {}: {e}", folder.display()));
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        png
    }

    /// Emulates a `width`×`height` viewport at device scale factor 1 (fires `resize`).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.command(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
    }

    /// Sends a CDP command to this page's session and returns its result.
    pub async fn command(&self, method: &str, params: Value) -> Value {
        self.connection
            .call(Some(&self.session_id), method, params)
            .await
    }

    /// `Runtime.evaluate`: the remote object of the value, or the text of the JS exception;
    /// the outer error is CDP's.
    async fn evaluate(
        &self,
        js: &str,
        timeout: Duration,
    ) -> Result<Result<Value, String>, CallError> {
        let params = json!({
            "expression": js,
            "returnByValue": true,
            "awaitPromise": true,
            "userGesture": true,
        });
        let result = self
            .connection
            .request(Some(&self.session_id), "Runtime.evaluate", &params, timeout)
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            let text = details
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| details.pointer("/exception/value").and_then(Value::as_str))
                .or_else(|| details.get("text").and_then(Value::as_str))
                .unwrap_or("an exception without text");
            return Ok(Err(text.to_owned()));
        }
        Ok(Ok(result.get("result").cloned().unwrap_or(Value::Null)))
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        lock(&self.connection.sessions).remove(&self.session_id);
        // Fire and forget: nobody waits for the answer, which the reader drops.
        self.connection.send_only(
            None,
            "Target.closeTarget",
            json!({ "targetId": self.target_id }),
        );
    }
}

/// The value of a `returnByValue` remote object.
fn value_of(object: &Value) -> Value {
    if let Some(value) = object.get("value") {
        return value.clone();
    }
    match object.get("unserializableValue") {
        Some(text) => text.clone(),
        None => Value::Null, // undefined
    }
}

/// JS truthiness of a remote object.
fn truthy(object: &Value) -> bool {
    let value = object.get("value");
    let unserializable = object.get("unserializableValue").and_then(Value::as_str);
    match object["type"].as_str() {
        Some("undefined") => false,
        Some("boolean") => value == Some(&Value::Bool(true)),
        Some("number") => match unserializable {
            Some(text) => text != "NaN" && text != "-0",
            None => value.and_then(Value::as_f64).is_some_and(|n| n != 0.0),
        },
        Some("string") => value.and_then(Value::as_str).is_some_and(|s| !s.is_empty()),
        Some("bigint") => unserializable != Some("0n"),
        Some("object") => object["subtype"] != "null",
        _ => true, // function, symbol
    }
}

fn string_field(result: &Value, field: &str, method: &str) -> String {
    result
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("CDP {method} answered without `{field}`: {result}"))
        .to_owned()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The CDP connection shared by the browser, its pages and the reader task.
struct Connection {
    outgoing: mpsc::UnboundedSender<String>,
    next_id: AtomicU64,
    pending: Mutex<Pending>,
    /// Events of each attached page, by session id.
    sessions: Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, oneshot::Sender<Result<Value, Value>>>,
    /// Why the socket closed, once it has.
    closed: Option<String>,
}

enum CallError {
    Closed(String),
    Timeout(Duration),
    Cdp(Value),
}

impl CallError {
    fn describe(&self, method: &str, params: &Value) -> String {
        let params = shorten(&params.to_string(), 300);
        match self {
            CallError::Closed(why) => format!(
                "CDP {method} failed: the connection to chromium is closed ({why})\n  params: {params}"
            ),
            CallError::Timeout(after) => {
                format!("CDP {method} got no answer within {after:?}\n  params: {params}")
            }
            CallError::Cdp(error) => format!("CDP {method} failed: {error}\n  params: {params}"),
        }
    }
}

impl Connection {
    async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Value {
        match self
            .request(session, method, &params, COMMAND_TIMEOUT)
            .await
        {
            Ok(result) => result,
            Err(error) => {
                let tail = match error {
                    CallError::Cdp(_) => String::new(),
                    _ => stderr_tail(&self.stderr),
                };
                panic!("{}{tail}", error.describe(method, &params))
            }
        }
    }

    async fn request(
        &self,
        session: Option<&str>,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut pending = lock(&self.pending);
            if let Some(why) = &pending.closed {
                return Err(CallError::Closed(why.clone()));
            }
            pending.waiters.insert(id, tx);
        }
        if self
            .outgoing
            .send(message(id, session, method, params))
            .is_err()
        {
            lock(&self.pending).waiters.remove(&id);
            return Err(CallError::Closed("the writer task has stopped".to_owned()));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(error))) => Err(CallError::Cdp(error)),
            Ok(Err(_)) => Err(CallError::Closed(
                lock(&self.pending)
                    .closed
                    .clone()
                    .unwrap_or_else(|| "the reader task has stopped".to_owned()),
            )),
            Err(_) => {
                lock(&self.pending).waiters.remove(&id);
                Err(CallError::Timeout(timeout))
            }
        }
    }

    /// Sends a command whose answer nobody awaits.
    fn send_only(&self, session: Option<&str>, method: &str, params: Value) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let _ = self.outgoing.send(message(id, session, method, &params));
    }

    /// Routes one message from chromium: an answer to its waiter, an event to its page.
    fn dispatch(&self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return;
        };
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            let waiter = lock(&self.pending).waiters.remove(&id);
            if let Some(waiter) = waiter {
                let answer = match message.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(message.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = waiter.send(answer);
            }
        } else if let Some(session) = message.get("sessionId").and_then(Value::as_str)
            && let Some(events) = lock(&self.sessions).get(session)
        {
            let _ = events.send(message);
        }
    }

    /// The socket is gone: wake every waiter (their channels close) and every page.
    fn close(&self, why: String) {
        let waiters = {
            let mut pending = lock(&self.pending);
            pending.closed.get_or_insert(why); // the first reason is the real one
            std::mem::take(&mut pending.waiters)
        };
        drop(waiters);
        lock(&self.sessions).clear();
    }

    fn why_closed(&self) -> String {
        let why = lock(&self.pending).closed.clone().unwrap_or_default();
        format!(" ({why}){}", stderr_tail(&self.stderr))
    }
}

/// Owned by the reader task: when the task is aborted, every waiter still learns why.
struct CloseOnDrop {
    connection: Arc<Connection>,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.connection.close("the browser was dropped".to_owned()); // no-op if closed
    }
}

fn message(id: u64, session: Option<&str>, method: &str, params: &Value) -> String {
    let mut message = json!({ "id": id, "method": method, "params": params });
    if let Some(session) = session {
        message["sessionId"] = json!(session);
    }
    message.to_string()
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The chromium child and its profile folder; dropping it kills one and removes the other.
struct Process {
    child: Child,
    profile: Option<tempfile::TempDir>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        // SIGKILL of the browser process: its zygote, renderer and utility helpers notice
        // their parent is gone and exit by themselves (within a second or so).
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(profile) = self.profile.take() {
            let path = profile.path().to_owned();
            // A helper that is still exiting may write into the profile while it is being
            // removed; try a few times before giving up (and leaving a folder in /tmp).
            for _ in 0..40 {
                match std::fs::remove_dir_all(&path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
            drop(profile); // a no-op if the folder is gone
        }
    }
}

/// Looks for chromium: `$DUBAN_CHROMIUM` (which must exist when set), else `chromium` in
/// PATH, else /usr/bin/chromium.
fn find_chromium() -> Result<PathBuf, String> {
    if let Some(chosen) = std::env::var_os(CHROMIUM_ENV).filter(|v| !v.is_empty()) {
        let chosen = PathBuf::from(chosen);
        return match resolve(&chosen) {
            Some(binary) => Ok(binary),
            None => panic!(
                "{CHROMIUM_ENV}={} is neither an executable file nor a name found in PATH",
                chosen.display()
            ),
        };
    }
    resolve(Path::new("chromium"))
        .or_else(|| resolve(Path::new(DEFAULT_CHROMIUM)))
        .ok_or_else(|| format!("no chromium in PATH nor at {DEFAULT_CHROMIUM}"))
}

/// A path with a slash as is (if it is a file), a bare name through PATH.
fn resolve(binary: &Path) -> Option<PathBuf> {
    if binary.components().count() > 1 || binary.is_absolute() {
        return binary.is_file().then(|| binary.to_owned());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|folder| folder.join(binary))
        .find(|candidate| candidate.is_file())
}

/// Drains chromium's stderr for as long as it runs (so chromium never blocks on a full
/// pipe), hands over the DevTools address, and keeps the last lines for panic messages.
fn read_stderr(stderr: impl Read, url_tx: oneshot::Sender<String>, tail: &Mutex<VecDeque<String>>) {
    let mut url_tx = Some(url_tx);
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if let Some(url) = text.strip_prefix("DevTools listening on ")
            && let Some(tx) = url_tx.take()
        {
            let _ = tx.send(url.trim().to_owned());
        }
        // Without a D-Bus, chromium logs a stream of harmless errors about it.
        if text.is_empty() || text.contains(":ERROR:dbus/") {
            continue;
        }
        let mut tail = lock(tail);
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(text);
    }
}

fn stderr_tail(stderr: &Mutex<VecDeque<String>>) -> String {
    let tail = lock(stderr);
    if tail.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
    format!(
        "\n  chromium's last stderr lines:\n    {}",
        lines.join("\n    ")
    )
}
