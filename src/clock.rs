//! The daemon's sense of time, injectable: the system clock in production, a clock a test
//! sets by hand so that "the grade changes at the right midnight" is checked in milliseconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<ManualClock>),
}

pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
    moved: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
            moved: watch::channel(start).0,
        })
    }

    /// Moves the clock; sleepers whose instant has come wake up.
    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
        self.moved.send_replace(now);
    }
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(manual) => *manual.now.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Sleeps until a scheduled run at `at` (a feed's next poll). On the system clock, until
    /// the wall clock reaches it. On a manual clock, until the test moves the clock to it,
    /// or until the span from the clock's now to `at` has passed in real time, whichever
    /// comes first: a clock that stands at a test's instant still sees its feeds polled on
    /// their schedule, and the instants the schedule picks are those of the test's clock.
    pub async fn sleep_until_run(&self, at: DateTime<Utc>) {
        match self {
            Clock::System => {
                // `sleep_until` wakes at least every minute; the run waits for its instant.
                while Utc::now() < at {
                    self.sleep_until(Some(at)).await;
                }
            }
            Clock::Manual(_) => {
                let span = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
                tokio::select! {
                    () = self.sleep_until(Some(at)) => {}
                    () = tokio::time::sleep(span) => {}
                }
            }
        }
    }

    /// Sleeps until `at`, or for ever when `at` is `None`.
    pub async fn sleep_until(&self, at: Option<DateTime<Utc>>) {
        match self {
            Clock::System => match at {
                // Re-checked at least every minute: the wall clock may jump (NTP, suspend).
                Some(at) => {
                    let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
                }
                None => tokio::time::sleep(Duration::from_secs(60)).await,
            },
            Clock::Manual(manual) => {
                let mut moved = manual.moved.subscribe();
                loop {
                    if at.is_some_and(|at| *moved.borrow_and_update() >= at) {
                        return;
                    }
                    if moved.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("an RFC 3339 time")
            .to_utc()
    }

    #[tokio::test]
    async fn a_run_on_a_clock_that_stands_still_comes_after_its_span_in_real_time() {
        let manual = ManualClock::new(at("2026-11-25T10:00:00+08:00"));
        let clock = Clock::Manual(manual);
        let started = std::time::Instant::now();
        let run = clock.sleep_until_run(at("2026-11-25T10:00:00.050+08:00"));
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("the run came");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[tokio::test]
    async fn a_run_comes_when_the_test_moves_the_clock_to_it() {
        let manual = ManualClock::new(at("2026-11-25T10:00:00+08:00"));
        let clock = Clock::Manual(manual.clone());
        // An hour away in real time; the test's clock gets there first.
        let run = tokio::spawn(async move {
            clock.sleep_until_run(at("2026-11-25T11:00:00+08:00")).await;
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        manual.set(at("2026-11-25T11:00:00+08:00"));
        tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("the run came")
            .expect("the task ran");
    }
}
