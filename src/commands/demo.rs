//! `duban demo`: the simulator and the daemon in one process, on SQLite under `data/demo`,
//! with the shipped config's feeds polling the simulator every few seconds.

use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use super::simulate::{self, CityOptions};
use crate::app;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;
use crate::feeds::spec::Source;

pub const DEMO_DATABASE_URL: &str = "sqlite://data/demo/duban.db";

pub async fn run(mut config: Config, calendar: Calendar) -> anyhow::Result<()> {
    // The simulator listens where the config's feeds look for it.
    let simulator_addr = config
        .feeds
        .iter()
        .find_map(|f| match &f.source {
            Source::HttpJson(h) => h
                .url
                .strip_prefix("http://")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned),
            _ => None,
        })
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    let simulator_addr = simulator_addr.parse().with_context(|| {
        format!("the demo feeds point at {simulator_addr}, which is not an address to listen on")
    })?;
    config.database_url = DEMO_DATABASE_URL.to_owned();
    let stop_simulator = CancellationToken::new();
    let options = CityOptions {
        epoch: chrono::Utc::now(),
        items: 2400,
        seed: 7,
        tick: Duration::from_secs(3),
        state: Some("data/demo/city.json".into()),
    };
    let (addr, simulator) = simulate::start(
        &config,
        &calendar,
        simulator_addr,
        options,
        stop_simulator.clone(),
    )
    .await?;
    let running = app::start(config, calendar, Clock::System).await?;
    let api = running.addr;
    println!();
    println!("duban demo: a simulated city of about 300 projects, polled every 5 seconds");
    println!("  items (worst first):  http://{api}/api/items?status=pending");
    println!("  open red items:       http://{api}/api/items?grade=red&status=pending");
    println!("  counts:               http://{api}/api/summary");
    println!("  feeds:                http://{api}/api/feeds");
    println!("  quarantine:           http://{api}/api/quarantine");
    println!("  health, metrics:      http://{api}/healthz  http://{api}/metrics");
    println!("  simulated systems:    http://{addr}/canonical/items  http://{addr}/cn/items");
    println!("  store:                {DEMO_DATABASE_URL}");
    println!("Ctrl-C stops it; running it again continues from the stored state.");
    app::stop_signal().await;
    running.stop(Duration::from_secs(10)).await;
    stop_simulator.cancel();
    let _ = simulator.await;
    Ok(())
}
