//! `duban simulate --listen ADDR`: serves a realistic, changing approval system over HTTP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::calendar::Calendar;
use crate::config::Config;
use crate::simulator::city::City;
use crate::simulator::server;

/// How the simulated city is made and moves.
#[derive(Debug, Clone)]
pub struct CityOptions {
    /// The instant the generated city describes; a fixed one gives the same city again.
    pub epoch: chrono::DateTime<Utc>,
    pub items: u64,
    pub seed: u64,
    /// Where the city is saved after each step and restored from at start (the demo's).
    pub state: Option<std::path::PathBuf>,
    pub tick: Duration,
}

/// Starts the simulator on `listen`; it runs until `shutdown`. Returns the bound address.
pub async fn start(
    config: &Config,
    calendar: &Calendar,
    listen: SocketAddr,
    options: CityOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let city = City::new(
        config.matters.clone(),
        calendar,
        config.timezone,
        options.epoch,
        options.items,
        options.seed,
    )?;
    let mut city = city;
    // A saved city goes on where it stopped; a new one is saved at once, so even a stop
    // before its first step does not make the next run generate a different city.
    if let Some(path) = &options.state {
        if city.restore(path) {
            tracing::info!(path = %path.display(), "simulated city restored");
        } else {
            if let Some(folder) = path.parent() {
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
            }
            city.save(path)
                .with_context(|| format!("saving the simulated city to {}", path.display()))?;
        }
    }
    let city = Arc::new(Mutex::new(city));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("the simulator cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let ticks = tokio::spawn(server::run_ticks(
        city.clone(),
        options.tick,
        options.state.clone(),
        shutdown.clone(),
    ));
    let handle = tokio::spawn(async move {
        let stop = shutdown.clone();
        let served = axum::serve(listener, server::router(city))
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the simulator stopped");
        }
        let _ = ticks.await;
    });
    Ok((addr, handle))
}

pub async fn run(
    config: Config,
    calendar: Calendar,
    listen: SocketAddr,
    options: CityOptions,
) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let (addr, handle) = start(&config, &calendar, listen, options, shutdown.clone()).await?;
    println!(
        "simulated approval systems on http://{addr}/canonical/items and http://{addr}/cn/items"
    );
    crate::app::stop_signal().await;
    shutdown.cancel();
    let _ = handle.await;
    Ok(())
}
