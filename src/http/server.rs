//! The HTTP server's connections, accepted here rather than by `axum::serve`, which neither
//! times out a client that never finishes its request nor caps how many are open. Here a
//! connection that has not sent a complete request head within `[server]
//! header_timeout_seconds` of opening, or of its previous response (the same timer ends idle
//! keep-alive connections), is closed; and at most `[server] max_connections` are open at
//! once, websockets included for as long as they last. The ones beyond wait in the kernel's
//! listen queue, holding none of duban's file descriptors (which its feeds and store need),
//! and are served as soon as one closes. On shutdown it stops accepting, lets every
//! connection finish the request it is in, and returns once all have closed, as
//! `axum::serve` did (upgraded websockets are closed by the live module).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

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
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
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
        let io = TokioIo::new(Counted::new(stream, permit, shared.clone()));
        let connection = builder
            .serve_connection(io, TowerToHyperService::new(router.clone()))
            .with_upgrades();
        let stop = stop.clone();
        connections.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    // Idle connections close now, busy ones after their response.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                // A header timeout, a client gone mid-request: the client's business.
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

/// A connection's socket with its place under the cap. The place is given back when the
/// socket is dropped, which for a websocket is when the websocket ends (hyper hands the
/// socket on to it), not when its upgrade request is answered.
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    shared: Arc<Shared>,
}

impl Counted {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, shared: Arc<Shared>) -> Self {
        shared.metrics.http_connections(1);
        Self {
            stream,
            _permit: permit,
            shared,
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
        Pin::new(&mut self.stream).poll_read(cx, buf)
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
