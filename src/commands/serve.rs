//! `duban serve`: runs the daemon until Ctrl-C or SIGTERM, then stops within 10 s.

use std::time::Duration;

use crate::app;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;

pub async fn run(config: Config, calendar: Calendar) -> anyhow::Result<()> {
    let running = app::start(config, calendar, Clock::System).await?;
    println!("duban is serving on http://{}", running.addr);
    println!(
        "  API:     http://{}/api/items   /api/summary   /api/feeds   /api/quarantine",
        running.addr
    );
    println!(
        "  health:  http://{}/healthz     metrics: http://{}/metrics",
        running.addr, running.addr
    );
    app::stop_signal().await;
    tracing::info!("stopping");
    running.stop(Duration::from_secs(10)).await;
    Ok(())
}
