//! `duban serve`: runs the daemon until Ctrl-C or SIGTERM, then stops within 10 s.

use std::time::Duration;

use crate::app;
use crate::calendar::Calendar;
use crate::clock::Clock;
use crate::config::Config;

pub async fn run(config: Config, calendar: Calendar) -> anyhow::Result<()> {
    // Listening for the signal from the start: a stop asked for while the store migrates or
    // the board loads is honoured too.
    let mut stop = tokio::spawn(app::stop_signal());
    let running = tokio::select! {
        started = app::start(config, calendar, Clock::System) => started?,
        _ = &mut stop => return Ok(()),
    };
    println!("duban is serving on http://{}", running.addr);
    println!(
        "  API:     http://{}/api/items   /api/summary   /api/feeds   /api/quarantine",
        running.addr
    );
    println!(
        "  health:  http://{}/healthz     metrics: http://{}/metrics",
        running.addr, running.addr
    );
    let _ = stop.await;
    tracing::info!("stopping");
    // 8 s for the tasks, leaving time to close the store within the promised 10 s.
    running.stop(Duration::from_secs(8)).await;
    Ok(())
}
