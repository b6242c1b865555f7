//! The store's way to PostgreSQL over TCP with Nagle's algorithm off. sqlx 0.9.0 opens its TCP
//! connections without `TCP_NODELAY` (sqlx issue #4335; fixed upstream by PR #4336, not yet
//! released), so a statement whose last segment is short waits for the server's delayed ACK,
//! ~40 ms, and a 1,000,000-item ingest took 16–18 s instead of ~10 s. sqlx can connect over a
//! Unix socket and gives no way to set options on its TCP socket, so the store gives it a
//! socket: this relay listens in a private folder (mode 0700) and joins each connection to the
//! server over TCP with `TCP_NODELAY` set. It passes bytes through untouched, so
//! authentication and TLS are still between sqlx and the server (TLS checks the server's name
//! from the URL's host, which the socket does not replace). Remove it when sqlx ships the fix.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::net::{TcpStream, UnixListener};
use tokio::task::JoinHandle;

/// Bytes read at a time from each side: a page of items is a few megabytes.
const BUFFER: usize = 64 * 1024;

/// How long start-up waits for the server to answer, as long as the pools wait for a
/// connection.
const CHECK_WITHIN: Duration = Duration::from_secs(30);

/// A running relay; dropping it stops it and removes its folder.
pub(super) struct Relay {
    folder: PathBuf,
    accepting: JoinHandle<()>,
}

impl Relay {
    /// Starts a relay to `host:port`, after one connection to check that the server is there
    /// (so that a wrong address fails start-up with the system's reason, not a closed socket).
    /// The socket is `FOLDER/.s.PGSQL.PORT`, where sqlx looks for it given `host=FOLDER`.
    pub(super) async fn start(host: &str, port: u16) -> io::Result<Self> {
        // (The server logs the check as an incomplete start-up packet.)
        tokio::time::timeout(CHECK_WITHIN, TcpStream::connect((host, port)))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer from {host}:{port} within {CHECK_WITHIN:?}"),
                )
            })??;
        let folder = private_folder()?;
        let listener = match UnixListener::bind(folder.join(format!(".s.PGSQL.{port}"))) {
            Ok(listener) => listener,
            Err(error) => {
                let _ = std::fs::remove_dir_all(&folder);
                return Err(error);
            }
        };
        let server = (host.to_owned(), port);
        let accepting = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        tokio::spawn(join(client, server.clone()));
                    }
                    Err(error) => {
                        // Out of file descriptors, most likely: the pools try again.
                        tracing::warn!(%error, "PostgreSQL relay: accepting a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        Ok(Self { folder, accepting })
    }

    /// The folder to give sqlx as `host=`.
    pub(super) fn folder(&self) -> &Path {
        &self.folder
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Carries one connection until either side closes it.
async fn join(mut client: tokio::net::UnixStream, (host, port): (String, u16)) {
    let mut server = match connect(&host, port).await {
        Ok(server) => server,
        Err(error) => {
            // sqlx sees the socket close; the reason is here.
            tracing::warn!(%error, "PostgreSQL relay: connecting to {host}:{port}");
            return;
        }
    };
    if let Err(error) =
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER).await
    {
        tracing::debug!(%error, "PostgreSQL relay: connection ended");
    }
}

/// A connection to the server with Nagle's algorithm off: the reason for the relay.
async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let server = TcpStream::connect((host, port)).await?;
    server.set_nodelay(true)?;
    Ok(server)
}

/// A new folder only this user can enter, under the system's temporary folder, named after
/// this process (its id and start time: a container's process is often number 1 every time).
/// Folders left by processes that are gone (killed before they could remove theirs) are
/// removed first.
fn private_folder() -> io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let temp = std::env::temp_dir();
    remove_orphans(&temp);
    let pid = std::process::id();
    let started = started(pid).unwrap_or(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let folder = temp.join(format!("{PREFIX}{pid}-{started}-{n}"));
        match std::fs::DirBuilder::new().mode(0o700).create(&folder) {
            // Someone else's folder of that name: the next name.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => continue,
            result => return result.map(|()| folder),
        }
    }
}

const PREFIX: &str = "duban-pg-";

/// When process `pid` started (clock ticks after boot), if it runs (a killed process not yet
/// reaped by its parent does not).
fn started(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after it. The
    // state is the 3rd field, the first after the name; the start time the 22nd.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// Removes the relay folders in `temp` whose process no longer runs (another user's are
/// not ours to remove, and fail quietly).
fn remove_orphans(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(mut parts) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX))
            .map(|rest| rest.split('-').map(|p| p.parse::<u64>().ok()))
        else {
            continue;
        };
        let (Some(Some(pid)), Some(Some(at))) = (parts.next(), parts.next()) else {
            continue;
        };
        let running = u32::try_from(pid).ok().and_then(started);
        if running != Some(at) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Bytes go both ways through a real Unix socket and a real TCP server, and the folder
    /// is gone once the relay is dropped.
    #[tokio::test]
    async fn relays_both_ways_and_cleans_up() {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        let echo = tokio::spawn(async move {
            // The first connection is the start-up check.
            let _ = server.accept().await.unwrap();
            let (mut socket, _) = server.accept().await.unwrap();
            let mut buffer = vec![0; 300_000];
            socket.read_exact(&mut buffer).await.unwrap();
            buffer.reverse();
            socket.write_all(&buffer).await.unwrap();
        });
        let relay = Relay::start("127.0.0.1", port).await.unwrap();
        let folder = relay.folder().to_owned();
        let mut client = tokio::net::UnixStream::connect(folder.join(format!(".s.PGSQL.{port}")))
            .await
            .unwrap();
        let sent: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        client.write_all(&sent).await.unwrap();
        let mut back = vec![0; sent.len()];
        client.read_exact(&mut back).await.unwrap();
        back.reverse();
        assert_eq!(back, sent);
        echo.await.unwrap();
        drop(relay);
        assert!(!folder.exists());
    }

    #[test]
    fn folders_of_processes_that_are_gone_are_removed() {
        let temp = tempfile::tempdir().unwrap();
        let pid = std::process::id();
        let started = started(pid).expect("this process's start time");
        // No process has a pid this high (the kernel's limit is 2^22).
        let gone = temp.path().join(format!("{PREFIX}4294967295-5-0"));
        // This process's number, but an earlier start: a container's process 1, restarted.
        let earlier = temp.path().join(format!("{PREFIX}{pid}-{}-0", started - 1));
        let ours = temp.path().join(format!("{PREFIX}{pid}-{started}-7"));
        let other = temp.path().join("duban-pg-notes");
        for folder in [&gone, &earlier, &ours, &other] {
            std::fs::create_dir(folder).unwrap();
        }
        remove_orphans(temp.path());
        assert!(!gone.exists() && !earlier.exists());
        assert!(ours.exists() && other.exists());
    }

    #[tokio::test]
    async fn connections_to_the_server_send_at_once() {
        let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = server.local_addr().unwrap().port();
        assert!(connect("127.0.0.1", port).await.unwrap().nodelay().unwrap());
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_fails_start_up() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let error = Relay::start("127.0.0.1", port).await.err().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
    }
}
