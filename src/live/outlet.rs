//! One client's end of the websocket (`Outlet`) and the set of every client's (`Outlets`).
//!
//! An update is written to the clients by the hub's delivery, straight from its one
//! encoding, shard by shard on the runtime's workers, without waking the clients' tasks: at
//! ten thousand clients, waking a task per client (and framing the message again in each)
//! had cost as much CPU as the sends themselves. A client's task writes only what concerns
//! it alone (hello, snapshot, catch-up, pongs, close) and takes over when its client cannot
//! take an update at once.
//!
//! The rules that keep every client's stream whole and in order, all kept under the
//! outlet's lock: a frame the socket did not take whole is finished (`pending`) before
//! anything else is written; the delivery writes update `seq` only to a client whose last
//! was `seq - 1` and that has nothing pending, and wakes the task of any other; a catch-up
//! update is written only if it is still the next, and a snapshot only if it is newer than
//! what the client has. So a slow client holds at most one frame in duban, skips ahead
//! with a snapshot, and never delays the others.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// What an outlet reads from and writes to: the upgraded HTTP connection.
pub trait Duplex: AsyncRead + AsyncWrite + Send {}
impl<T: AsyncRead + AsyncWrite + Send> Duplex for T {}

/// Delivery runs in this many parts, so every worker thread takes a share.
const SHARDS: usize = 8;

/// What a frame written by the client's task is, for the order rules above.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Hello, pong, ping: written whenever the task sends it.
    Control,
    /// The full state as of this seq: written only if newer than what the client has.
    Snapshot(u64),
    /// The update of this seq: written only if it is the client's next.
    Update(u64),
    /// The close frame: nothing is written after it (RFC 6455 §5.5.1).
    Close,
}

impl Kind {
    /// Whether the frame still goes out to a client whose last seq is `last`; if so, the
    /// client's last seq once it is written.
    fn after(self, last: u64) -> Option<u64> {
        match self {
            _ if last == CLOSED => None,
            Kind::Control => Some(last),
            Kind::Snapshot(seq) => (seq > last).then_some(seq),
            Kind::Update(seq) => (seq == last + 1).then_some(seq),
            Kind::Close => Some(CLOSED),
        }
    }
}

/// The last seq of a client that was sent the close frame: above every update's.
const CLOSED: u64 = u64::MAX;

/// Why a write by the task did not go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// The connection is gone (or was closed here).
    Gone,
    /// The client took nothing for longer than the allowed lag.
    Lagging,
}

pub struct Outlet {
    inner: parking_lot::Mutex<Inner>,
    /// Set when the client is gone, so the delivery drops the outlet.
    closed: AtomicBool,
    /// Told when the client missed an update or has bytes waiting: its task takes over.
    pub behind: Notify,
}

struct Inner {
    /// `None` once closed: dropping it ends the TCP connection at once.
    io: Option<Pin<Box<dyn Duplex>>>,
    /// The rest of a frame the socket did not take whole; written before anything else.
    pending: Option<Bytes>,
    /// The seq of the last snapshot or update written (or begun) to this client.
    last: u64,
}

impl Inner {
    /// Writes `bytes` as far as the socket takes them now; the rest becomes `pending` (and
    /// `cx` is woken when the socket can take more). A failed socket is dropped, so the
    /// client's task finds it gone.
    fn write(&mut self, cx: &mut Context<'_>, bytes: &Bytes) -> Poll<io::Result<()>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        let mut at = 0;
        let failed = loop {
            if at == bytes.len() {
                // A no-op on TCP; a layer that buffers (TLS) would hold the frame without it.
                match io.as_mut().poll_flush(cx) {
                    Poll::Ready(Err(e)) => break e,
                    _ => return Poll::Ready(Ok(())),
                }
            }
            match io.as_mut().poll_write(cx, &bytes[at..]) {
                Poll::Ready(Ok(0)) => break io::ErrorKind::WriteZero.into(),
                Poll::Ready(Ok(n)) => at += n,
                Poll::Ready(Err(e)) => break e,
                Poll::Pending => {
                    self.pending = Some(bytes.slice(at..));
                    return Poll::Pending;
                }
            }
        };
        self.io = None;
        self.pending = None;
        Poll::Ready(Err(failed))
    }

    /// Finishes the pending frame, if any.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.pending.take() {
            Some(rest) => self.write(cx, &rest),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Outlet {
    /// `last`: the seq the client already has (it resumes with `since`), else 0.
    pub fn new(io: impl Duplex + 'static, last: u64) -> Arc<Self> {
        Arc::new(Self {
            inner: parking_lot::Mutex::new(Inner {
                io: Some(Box::pin(io)),
                pending: None,
                last,
            }),
            closed: AtomicBool::new(false),
            behind: Notify::new(),
        })
    }

    /// The seq of the last snapshot or update this client has.
    pub fn last(&self) -> u64 {
        self.inner.lock().last
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Ends the connection: nothing more is written, and the delivery forgets the outlet.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut inner = self.inner.lock();
        inner.io = None;
        inner.pending = None;
    }

    /// Reads what the client sent (0: it closed the connection).
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut buf = ReadBuf::new(buf);
        std::future::poll_fn(|cx| match self.inner.lock().io.as_mut() {
            Some(io) => io.as_mut().poll_read(cx, &mut buf),
            None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        })
        .await?;
        Ok(buf.filled().len())
    }

    /// The delivery's write of update `seq` (see the module's rules). `cx` has a waker
    /// that does nothing: a frame the socket takes only in part is left to the task.
    fn deliver(&self, seq: u64, frame: &Bytes, cx: &mut Context<'_>) {
        let mut inner = self.inner.lock();
        if inner.io.is_none() || inner.last >= seq {
            return;
        }
        let next = Kind::Update(seq).after(inner.last);
        let Some(last) = next.filter(|_| inner.pending.is_none()) else {
            drop(inner);
            self.behind.notify_one();
            return;
        };
        inner.last = last;
        if !matches!(inner.write(cx, frame), Poll::Ready(Ok(()))) {
            // Part of it is pending, or the socket failed: the task finishes it or finds
            // the failure.
            drop(inner);
            self.behind.notify_one();
        }
    }

    /// Writes a frame from the client's task: after whatever is pending, and only if the
    /// order rules still want it. Fails when the frame is not written within `max_lag`.
    pub async fn send(&self, kind: Kind, frame: &Bytes, max_lag: Duration) -> Result<(), Failed> {
        let mut begun = false;
        let sending = std::future::poll_fn(|cx| {
            let mut inner = self.inner.lock();
            if !begun {
                std::task::ready!(inner.drain(cx))?;
                let Some(last) = kind.after(inner.last) else {
                    return Poll::Ready(Ok(()));
                };
                inner.last = last;
                begun = true;
                inner.write(cx, frame)
            } else {
                inner.drain(cx)
            }
        });
        within(max_lag, sending).await
    }

    /// Finishes a frame left pending by the delivery.
    pub async fn flush(&self, max_lag: Duration) -> Result<(), Failed> {
        within(
            max_lag,
            std::future::poll_fn(|cx| self.inner.lock().drain(cx)),
        )
        .await
    }

    /// After the close frame: ends the sending side and reads what the client still sends
    /// until it closes too (at most `limit`). Closing a socket with unread bytes makes the
    /// kernel reset the connection, and the client would lose the close frame's code.
    pub async fn linger(&self, limit: Duration) {
        let lingering = async {
            let shut = std::future::poll_fn(|cx| match self.inner.lock().io.as_mut() {
                Some(io) => io.as_mut().poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            });
            if shut.await.is_err() {
                return;
            }
            let mut sink = [0u8; 512];
            while matches!(self.read(&mut sink).await, Ok(n) if n > 0) {}
        };
        let _ = tokio::time::timeout(limit, lingering).await;
    }
}

/// Almost every write is done at once (the kernel takes the frame): a timer is set only for
/// one that has to wait.
async fn within(
    max_lag: Duration,
    writing: impl Future<Output = io::Result<()>>,
) -> Result<(), Failed> {
    let mut writing = std::pin::pin!(writing);
    let written = match futures_util::FutureExt::now_or_never(&mut writing) {
        Some(written) => Ok(written),
        None => tokio::time::timeout(max_lag, writing).await,
    };
    match written {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(Failed::Gone),
        Err(_) => Err(Failed::Lagging),
    }
}

/// Every connected client's outlet, in shards.
pub struct Outlets {
    shards: Vec<parking_lot::Mutex<Vec<Arc<Outlet>>>>,
    next: AtomicUsize,
}

impl Default for Outlets {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Default::default()).collect(),
            next: AtomicUsize::new(0),
        }
    }
}

impl Outlets {
    pub fn add(&self, outlet: Arc<Outlet>) {
        let shard = self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len();
        self.shards[shard].lock().push(outlet);
    }

    /// Writes update `seq` to every client that can take it now, one task per shard, and
    /// wakes the others' tasks; returns when all shards are done.
    pub async fn deliver(&self, seq: u64, frame: &Bytes) {
        let mut writing = Vec::with_capacity(self.shards.len());
        for shard in &self.shards {
            // Cloned, so clients join and leave while an update is being written.
            let outlets = shard.lock().clone();
            if outlets.is_empty() {
                continue;
            }
            let frame = frame.clone();
            // The writes use a waker that does nothing, so the task must not be paused by
            // tokio's budget (which would look like a full socket).
            writing.push(tokio::spawn(tokio::task::unconstrained(async move {
                let mut cx = Context::from_waker(Waker::noop());
                for outlet in &outlets {
                    outlet.deliver(seq, &frame, &mut cx);
                }
            })));
        }
        for task in writing {
            if let Err(e) = task.await {
                // Those clients catch up by themselves at their next heartbeat.
                tracing::error!(error = %e, "writing an update to a shard of the clients failed");
            }
        }
        for shard in &self.shards {
            shard.lock().retain(|outlet| !outlet.is_closed());
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    const LAG: Duration = Duration::from_secs(5);

    fn frame(text: &str) -> Bytes {
        crate::live::frames::Framed::text(text).bytes().clone()
    }

    /// Reads frames (unmasked server frames, short ones) from the client's end.
    async fn read_texts(client: &mut tokio::io::DuplexStream, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..n {
            let mut head = [0u8; 2];
            client.read_exact(&mut head).await.unwrap();
            let len = match head[1] {
                126 => {
                    let mut l = [0u8; 2];
                    client.read_exact(&mut l).await.unwrap();
                    usize::from(u16::from_be_bytes(l))
                }
                n => usize::from(n),
            };
            let mut payload = vec![0; len];
            client.read_exact(&mut payload).await.unwrap();
            out.push(String::from_utf8(payload).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn delivery_writes_only_the_next_update_and_wakes_the_rest() {
        let outlets = Outlets::default();
        let (server, mut client) = tokio::io::duplex(1 << 16);
        let outlet = Outlet::new(server, 10);
        outlets.add(outlet.clone());
        outlets.deliver(11, &frame("eleven")).await;
        assert_eq!(outlet.last(), 11);
        assert_eq!(read_texts(&mut client, 1).await, ["eleven"]);
        // Missed 12: 13 is not written, the task is told instead.
        outlets.deliver(13, &frame("thirteen")).await;
        assert_eq!(outlet.last(), 11);
        tokio::time::timeout(Duration::from_secs(1), outlet.behind.notified())
            .await
            .expect("the task is woken to catch up");
        // The task's catch-up: 12 is due, 12 again is not, a snapshot of 12 is not, one of
        // 13 is.
        for (kind, text) in [
            (Kind::Update(12), "twelve"),
            (Kind::Update(12), "twelve again"),
            (Kind::Snapshot(12), "old"),
            (Kind::Snapshot(13), "snap"),
        ] {
            outlet.send(kind, &frame(text), LAG).await.unwrap();
        }
        assert_eq!(read_texts(&mut client, 2).await, ["twelve", "snap"]);
        // Nothing follows the close frame, from the delivery or the task.
        outlet
            .send(
                Kind::Close,
                &crate::live::frames::Framed::close(1001, "").bytes().clone(),
                LAG,
            )
            .await
            .unwrap();
        outlets.deliver(14, &frame("fourteen")).await;
        outlet
            .send(Kind::Snapshot(14), &frame("late"), LAG)
            .await
            .unwrap();
        outlet.close();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"\x88\x02\x03\xe9", "the close frame, then the end");
        outlets.deliver(15, &frame("fifteen")).await;
        assert_eq!(outlets.len(), 0, "a closed outlet is dropped");
    }

    /// A socket that takes frames only in part: the rest is finished before anything else,
    /// so frames never interleave, and a client that reads nothing times out.
    #[tokio::test]
    async fn a_frame_taken_in_part_is_finished_first() {
        let outlets = Outlets::default();
        let (server, mut client) = tokio::io::duplex(100);
        let outlet = Outlet::new(server, 1);
        outlets.add(outlet.clone());
        let long = "u".repeat(300);
        outlets.deliver(2, &frame(&long)).await;
        assert_eq!(outlet.last(), 2, "begun");
        // The next update is not interleaved: the client is behind.
        outlets.deliver(3, &frame("three")).await;
        assert_eq!(outlet.last(), 2);
        let reader = tokio::spawn(async move { read_texts(&mut client, 2).await });
        outlet.flush(LAG).await.unwrap();
        outlet
            .send(Kind::Update(3), &frame("three"), LAG)
            .await
            .unwrap();
        assert_eq!(reader.await.unwrap(), [long, "three".to_owned()]);

        let (server, _client) = tokio::io::duplex(100);
        let stuck = Outlet::new(server, 0);
        let sent = stuck
            .send(
                Kind::Control,
                &frame(&"x".repeat(300)),
                Duration::from_millis(100),
            )
            .await;
        assert_eq!(sent, Err(Failed::Lagging));
    }
}
