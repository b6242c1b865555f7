//! The HTTP server's connections, accepted here rather than by `axum::serve`, which neither
//! times out a client that never finishes its request nor caps how many are open. Here a
//! connection is closed when it has not sent a complete request head within `[server]
//! header_timeout_seconds` of opening, or of the first byte of a later request; when, kept
//! alive after a response, it sends no byte of a next request within `[server]
//! idle_timeout_seconds`; and at most `[server] max_connections` are open at once,
//! websockets included for as long as they last. The ones beyond wait in the kernel's
//! listen queue, holding none of duban's file descriptors (which its feeds and store need),
//! and are served as soon as one closes. On shutdown it stops accepting, lets every
//! connection finish the request it is in, and returns once all have closed, as
//! `axum::serve` did (upgraded websockets are closed by the live module).
//!
//! The two timers are kept here (`Timers`), not by hyper: its header-read timer starts when
//! the previous response ends, so it would close an idle kept-alive connection at the
//! header timeout, and the idle time could not be longer than the time a client is given to
//! send its headers. Here the socket says when a request's first byte comes, the service
//! when its head is complete, and the response's body, when it is dropped, that the answer
//! is over; the connection's task closes the connection when the wait it is in runs out.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant as Deadline;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Connections;
use crate::ingest::Shared;

/// Serves `router` on `listener` until `stop`, then waits for the open connections.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let limits = shared.config.connections;
    let permits = Arc::new(Semaphore::new(limits.max));
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    // `Timers` keeps the header timeout; hyper's own would also end idle connections early.
    builder.header_read_timeout(None);
    let mut warned: Option<Instant> = None;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Said at most once a minute: under a flood every freed place is taken again.
                if warned.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max,
                        "every HTTP connection allowed is open; new ones wait until one closes \
                         (raise [server] max_connections if these are screens, not an attack)"
                    );
                    warned = Some(Instant::now());
                }
                tokio::select! {
                    () = stop.cancelled() => break,
                    // The semaphore is never closed.
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let timers = Arc::new(Timers::new(limits));
        let io = TokioIo::new(Counted::new(stream, permit, shared.clone(), timers.clone()));
        let service = Timed {
            inner: TowerToHyperService::new(router.clone()),
            timers: timers.clone(),
        };
        let connection = builder.serve_connection(io, service).with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let mut stopping = false;
            let result = loop {
                let deadline = timers.deadline();
                tokio::select! {
                    result = connection.as_mut() => break result,
                    () = stop.cancelled(), if !stopping => {
                        // Idle connections close now, busy ones after their response (and
                        // one still sending its head when its time is up, as before).
                        connection.as_mut().graceful_shutdown();
                        stopping = true;
                    }
                    () = timers.changed.notified() => {}
                    () = until(deadline) => {
                        if timers.deadline().is_some_and(|d| d <= Deadline::now()) {
                            // Dropping the connection closes its socket.
                            tracing::debug!("an HTTP connection timed out waiting for a request");
                            return;
                        }
                    }
                }
            };
            if let Err(e) = result {
                // A client gone mid-request, a malformed head: the client's business.
                tracing::debug!(error = %e, "an HTTP connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// An accept that failed: a connection reset before it was taken is nothing; anything else
/// (out of file descriptors) is said, and accepting pauses a second so as not to spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(
        error = %e,
        "accepting an HTTP connection failed; if the process is out of file descriptors, \
         raise its limit (LimitNOFILE in deploy/duban.service) or lower [server] max_connections"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Sleeps until `deadline`, or for ever without one.
async fn until(deadline: Option<Deadline>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Where one connection is between its requests, and so when it is closed if nothing
/// happens. Shared by its socket, its service, its responses' bodies and its task.
struct Timers {
    limits: Connections,
    phase: parking_lot::Mutex<Phase>,
    /// Told when the deadline may have moved, so the task sleeps until the new one.
    changed: Notify,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head since `since`: on a new connection (not `kept_alive`) for
    /// at most the header timeout, after a response for at most the idle timeout; from its
    /// first byte (`begun`) the head has the header timeout to be complete.
    Waiting {
        since: Deadline,
        kept_alive: bool,
        begun: Option<Deadline>,
    },
    /// This many requests are being answered (their heads complete, their response bodies
    /// not yet dropped): no timer runs, however long a handler or a slow reader takes.
    Answering(usize),
}

impl Timers {
    fn new(limits: Connections) -> Self {
        Self {
            limits,
            phase: parking_lot::Mutex::new(Phase::Waiting {
                since: Deadline::now(),
                kept_alive: false,
                begun: None,
            }),
            changed: Notify::new(),
        }
    }

    /// When the connection is closed if nothing more happens; `None` while it is answering.
    fn deadline(&self) -> Option<Deadline> {
        match *self.phase.lock() {
            Phase::Waiting {
                begun: Some(begun), ..
            } => Some(begun + self.limits.header_timeout),
            Phase::Waiting {
                since,
                kept_alive: false,
                begun: None,
            } => Some(since + self.limits.header_timeout),
            Phase::Waiting {
                since,
                kept_alive: true,
                begun: None,
            } => Some(since + self.limits.idle_timeout),
            Phase::Answering(_) => None,
        }
    }

    /// Bytes came in: if they begin a request, its head has the header timeout from now.
    /// (Bytes of a request sent before the previous answer ended, already read, do not count
    /// here: such a head waits at most the idle timeout.)
    fn heard(&self) {
        let mut phase = self.phase.lock();
        if let Phase::Waiting {
            begun: begun @ None,
            ..
        } = &mut *phase
        {
            *begun = Some(Deadline::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request's head is complete: its answer begins.
    fn answering(self: &Arc<Self>) -> Answer {
        let mut phase = self.phase.lock();
        *phase = match *phase {
            Phase::Waiting { .. } => Phase::Answering(1),
            Phase::Answering(n) => Phase::Answering(n + 1),
        };
        drop(phase);
        self.changed.notify_one();
        Answer(self.clone())
    }
}

/// One request being answered; dropped with its response's body (or with the response, if
/// it never came), when the connection starts waiting for the next request.
struct Answer(Arc<Timers>);

impl Drop for Answer {
    fn drop(&mut self) {
        let mut phase = self.0.phase.lock();
        *phase = match *phase {
            Phase::Answering(n) if n > 1 => Phase::Answering(n - 1),
            _ => Phase::Waiting {
                since: Deadline::now(),
                kept_alive: true,
                begun: None,
            },
        };
        drop(phase);
        self.0.changed.notify_one();
    }
}

/// The router as hyper calls it, telling the connection's timers when each request's head
/// is complete and when its answer ends.
struct Timed {
    inner: TowerToHyperService<Router>,
    timers: Arc<Timers>,
}

type Answered = Pin<Box<dyn Future<Output = Result<Response<AnswerBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Timed {
    type Response = Response<AnswerBody>;
    type Error = Infallible;
    type Future = Answered;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let answer = self.timers.answering();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| AnswerBody {
                body,
                _answer: answer,
            }))
        })
    }
}

/// A response's body, which ends its request's answer when hyper drops it: once written
/// whole, or with the connection.
struct AnswerBody {
    body: Body,
    _answer: Answer,
}

impl hyper::body::Body for AnswerBody {
    type Data = <Body as hyper::body::Body>::Data;
    type Error = <Body as hyper::body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket with its place under the cap. The place is given back when the
/// socket is dropped, which for a websocket is when the websocket ends (hyper hands the
/// socket on to it), not when its upgrade request is answered.
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
    /// Told of every read that brings bytes (a request's first byte starts its head's timer).
    timers: Arc<Timers>,
}

impl Counted {
    fn new(
        stream: TcpStream,
        permit: OwnedSemaphorePermit,
        shared: Arc<Shared>,
        timers: Arc<Timers>,
    ) -> Self {
        shared.metrics.http_connections(1);
        Self {
            stream,
            _permit: permit,
            shared,
            timers,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.shared.metrics.http_connections(-1);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.timers.heard();
        }
        read
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Descriptors kept for all but the connections: the store's pool and its files, the feeds'
/// sockets and dropped files, the log.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Warns at start-up when the process may open fewer files than `max_connections` need
/// (1,024 is a common default): the cap would then not keep descriptors for the store and
/// the feeds, and a flood of connections would fail them instead.
pub fn check_descriptor_limit(max_connections: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| open_files_limit(&text))
    else {
        return; // not Linux, or no limit
    };
    let needed = max_connections as u64 + RESERVED_DESCRIPTORS;
    if limit < needed {
        tracing::warn!(
            limit,
            max_connections,
            "the process may open {limit} files, but [server] max_connections = \
             {max_connections} and the store and feeds need about {needed}: raise the limit \
             (LimitNOFILE= in the systemd unit, ulimit -n, a container's nofile) or lower \
             max_connections"
        );
    }
}

/// The soft limit on open files in the text of `/proc/self/limits` (`None` if unlimited).
fn open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_files_limit_is_read_from_proc() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            1024                 524288               files     \n";
        assert_eq!(open_files_limit(text), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(open_files_limit(unlimited), None);
        assert_eq!(open_files_limit("Max processes 10 10 processes\n"), None);
    }
}
