//! Feeds: the sources duban polls for item records. Each kind of source has its own file and
//! hands pages of raw records (JSON objects) to one shared path: `mapping` turns each into a
//! canonical record or a quarantine entry, and `poller` runs a feed on its schedule with
//! retries, records each run, and reports a feed stale after missed runs.

pub mod folder;
pub mod http_json;
pub mod mapping;
pub mod poller;
pub mod spec;
pub mod sql;

use serde_json::Value;

pub use spec::{FeedSpec, Source};

/// A fetch that failed: what happened, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    pub message: String,
    /// Timeouts, refused connections and 5xx answers are worth another try; a 4xx or a body
    /// that is not JSON will fail the same way again.
    pub retryable: bool,
}

impl FetchError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }
}

/// One page of raw records as the source sent them.
pub type Page = Vec<Value>;
