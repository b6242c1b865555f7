//! Wiring: builds the parts of the daemon (store, board, grader, feed pollers, HTTP server),
//! spawns them under one shutdown signal, and on shutdown stops polling, lets writes finish,
//! closes connections, and returns.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::board::Board;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;
use crate::ingest::Shared;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::{feeds, grader, http, live};

/// The address a browser can open for one the daemon is bound to: bound to every
/// interface (0.0.0.0 or ::), the machine's address on its network, which other machines
/// reach (found by asking the system which source address it would route from: a UDP
/// socket's connect sends nothing); loopback when there is no network.
pub fn reachable_address(bound: std::net::SocketAddr) -> std::net::SocketAddr {
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let probe = if bound.is_ipv4() {
        ("0.0.0.0:0", "192.0.2.1:9")
    } else {
        ("[::]:0", "[2001:db8::1]:9")
    };
    let routed = std::net::UdpSocket::bind(probe.0)
        .and_then(|socket| {
            socket.connect(probe.1)?;
            socket.local_addr()
        })
        .map(|local| local.ip())
        .ok()
        .filter(|ip| !ip.is_unspecified());
    let ip = routed.unwrap_or(if bound.is_ipv4() {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        std::net::Ipv6Addr::LOCALHOST.into()
    });
    std::net::SocketAddr::new(ip, bound.port())
}

/// A running daemon.
pub struct Running {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    /// An SQLite store's lock, held while this daemon serves it (`store::claim_sqlite`).
    _claim: Option<std::fs::File>,
}

/// Starts the daemon: binds the listener, migrates the store, rebuilds the board, spawns the
/// grader, one poller per enabled feed, and the HTTP server.
pub async fn start(config: Config, calendar: Calendar, clock: Clock) -> anyhow::Result<Running> {
    // Bound first: a second duban started by mistake on the same config stops here, before
    // it touches the store the first one is writing.
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen} ([server] listen in the config)"))?;
    let addr = listener.local_addr()?;
    let mut config = config;
    // The links in the warnings: where the recipients can open this daemon, when the config
    // does not say (`[warnings] link_base`).
    if config.warnings.link_base.is_empty() {
        config.warnings.link_base = format!("http://{}", reachable_address(addr));
    }
    let claim = crate::store::claim_sqlite(&config.database_url)?;
    let store = Store::open(&config.database_url).await.with_context(|| {
        format!(
            "opening the store {}",
            crate::store::redact(&config.database_url)
        )
    })?;
    let shutdown = CancellationToken::new();
    let shared = Arc::new(Shared {
        stopping: shutdown.clone(),
        ws_tasks: tokio_util::task::TaskTracker::new(),
        config,
        calendar,
        store,
        clock,
        board: parking_lot::Mutex::new(Board::default()),
        writer: tokio::sync::Mutex::new(()),
        claims: Default::default(),
        changed: tokio::sync::Notify::new(),
        live: tokio::sync::Notify::new(),
        logged: tokio::sync::Notify::new(),
        outbox: tokio::sync::Notify::new(),
        senders: std::sync::OnceLock::new(),
        hub: Default::default(),
        metrics: Metrics::default(),
        feed_health: Default::default(),
        ranking_panel: Default::default(),
    });
    let started = std::time::Instant::now();
    let items = shared
        .load_board()
        .await
        .context("loading the stored items")?;
    tracing::info!(
        items,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "board loaded"
    );
    let replayed = shared
        .replay_ungraded()
        .await
        .context("retrying quarantined records")?;
    if replayed > 0 {
        tracing::info!(
            replayed,
            "records quarantined for a missing holiday year are now graded"
        );
    }
    for spec in shared.config.feeds.iter().filter(|f| f.enabled) {
        shared.count_ungraded(&spec.name).await;
    }

    let mut tasks = JoinSet::new();
    tasks.spawn(grader::run(shared.clone(), shutdown.clone()));
    tasks.spawn(live::run(shared.clone(), shutdown.clone()));
    if shared.config.rankings.publish {
        tasks.spawn(crate::rankings::schedule::run(
            shared.clone(),
            shutdown.clone(),
        ));
    }
    // A report reads every item: computed for the screens only when one shows it.
    if shared
        .config
        .screens
        .iter()
        .any(|s| s.pages.iter().flatten().any(|p| p == "ranking"))
    {
        tasks.spawn(crate::rankings::panel::run(
            shared.clone(),
            shutdown.clone(),
        ));
    }
    tasks.spawn(live::deliver(shared.clone(), shutdown.clone()));
    tasks.spawn(checkpoints(shared.clone(), shutdown.clone()));
    let client = feeds::http_json::client()?;
    for spec in shared.config.feeds.iter().filter(|f| f.enabled) {
        tasks.spawn(feeds::poller::run(
            shared.clone(),
            spec.clone(),
            client.clone(),
            shutdown.clone(),
        ));
    }
    if shared.config.warnings.enabled {
        if let Some(path) = &shared.config.warnings.contacts {
            let summary = crate::commands::contacts::import_file(&shared.store, path)
                .await
                .with_context(|| {
                    format!(
                        "importing the contacts {} ([warnings] contacts in {})",
                        path.display(),
                        shared.config.path.display()
                    )
                })?;
            tracing::info!(contacts = %summary.describe(), "contacts imported");
        }
        let senders = Arc::new(
            crate::warnings::send::build(&shared.config.warnings.senders, &client, &shared.clock)
                .map_err(anyhow::Error::msg)?,
        );
        let _ = shared.senders.set(senders.clone());
        tasks.spawn(crate::warnings::engine::run(
            shared.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::warnings::outbox::run(
            shared.clone(),
            senders,
            shutdown.clone(),
        ));
    } else {
        tracing::warn!("no [warnings] in the config: nobody is warned about late items");
    }
    http::server::check_descriptor_limit(shared.config.connections.max);
    tasks.spawn(http::server::serve(
        listener,
        http::router(shared.clone()),
        shared.clone(),
        shutdown.clone(),
    ));
    if !shared.config.access.enforced {
        tracing::warn!(
            "no [access] in the config: the pages, screens and API are open to anyone who can reach {addr}"
        );
    }
    tracing::info!(%addr, feeds = shared.config.feeds.len(), "duban is serving");
    Ok(Running {
        addr,
        shared,
        shutdown,
        tasks,
        _claim: claim,
    })
}

impl Running {
    /// Stops everything and waits (at most `grace`) for the tasks to finish their writes.
    pub async fn stop(mut self, grace: Duration) {
        self.shutdown.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("tasks still running after {grace:?}; stopping them");
            self.tasks.abort_all();
        }
        // Websocket clients have been told the daemon is stopping (close code 1001).
        self.shared.ws_tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.shared.ws_tasks.wait()).await;
        self.shared.store.close().await;
        tracing::info!("duban stopped");
    }
}

/// Resolves when the process is asked to stop: Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// A write-ahead log past this many pages (1 GiB of 4 KiB pages) is checkpointed once more
/// between two writes of the writer's (ingest, re-grade). Lower bounds cost a bulk load:
/// the writer waits for the checkpoint's copy and its syncs (a million records, whose log
/// reaches ~700 MB, took 2.5–3 % longer with a bound of 64 or 256 MiB).
const WAL_RESTART_FRAMES: u64 = 262_144;

/// Keeps the store's write-ahead log short (see `Store::checkpoint`). The log starts again
/// from its beginning only when a write finds it all copied back; under a stream of pages
/// that never pauses, a checkpoint beside the writers never catches up, and the log would
/// grow without end. So a long log with pages still to copy is checkpointed once more while
/// the writer waits its turn (feed-run records and quarantine entries are written outside
/// the writer's lock and may still come in between: the next second tries again).
async fn checkpoints(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let result = match shared.store.checkpoint().await {
            Ok(log) if log.frames > WAL_RESTART_FRAMES && log.copied < log.frames => {
                let _writer = shared.writer.lock().await;
                shared.store.checkpoint().await
            }
            other => other,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "store checkpoint failed; trying again in a second");
        }
    }
}
