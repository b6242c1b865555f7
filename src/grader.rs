//! The grader: sleeps until the next instant any item's grade changes (or until the board
//! changes), re-grades exactly the items that are due, and writes what changed. Midnight
//! rollovers are such instants; nothing scans the whole set on a timer.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::ingest::Shared;

pub async fn run(shared: Arc<Shared>, shutdown: CancellationToken) {
    loop {
        let next = shared.board().next_instant();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = shared.changed.notified() => {}
            () = shared.clock.sleep_until(next) => {}
        }
        match shared.regrade_due().await {
            Ok(0) => {}
            Ok(changed) => tracing::info!(changed, "grades changed with the clock"),
            Err(e) => {
                tracing::error!(error = %e, "re-grading failed; trying again shortly");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        }
    }
}
