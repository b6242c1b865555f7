//! Feeds: the sources duban polls for item records. Each kind of source has its own file and
//! hands pages of raw records (JSON objects) to one shared path: `mapping` turns each into a
//! canonical record or a quarantine entry, and `poller` runs a feed on its schedule with
//! retries, records each run, and reports a feed stale after missed runs (in `health`, which
//! keeps every feed's health). `check` holds a feed's mapping against the canonical record
//! when the config is loaded; `preview` fetches one page for a look, storing and moving
//! nothing. `salvage` finds the records of a page that is not valid JSON as a whole, so one
//! bad record costs itself.

pub mod check;
pub mod folder;
pub mod health;
pub mod http_json;
pub mod mapping;
pub mod poller;
pub mod preview;
pub mod salvage;
pub mod spec;
pub mod sql;

use serde_json::Value;

pub use spec::{FeedSpec, Source};

use crate::store::feeds::Quarantined;

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

/// Records as JSON objects: a CSV file's or a query's rows, or a feed's objects.
pub type Records = Vec<Value>;

/// One page of raw records as the source sent them, with those refused before they could
/// be mapped.
#[derive(Debug)]
pub struct Page {
    pub records: PageRecords,
    /// Records refused as the page was read, with their raw text: a CSV row of the wrong
    /// width, a record of a page that had to be read record by record (see `http_json`).
    pub refused: Vec<Quarantined>,
    /// What the run says about the page (that it was salvaged, and why).
    pub note: Option<String>,
}

/// A page's records.
#[derive(Debug)]
pub enum PageRecords {
    Values(Records),
    /// A canonical feed's records left as the text it sent: each is read straight into an
    /// item, with no JSON value in between (for a million records, building and dropping
    /// the values cost more than everything else the feed does).
    Canonical {
        body: String,
        /// Where each record is in `body`.
        records: Vec<std::ops::Range<usize>>,
    },
}

impl Page {
    /// A page of records read whole.
    pub fn values(records: Records) -> Self {
        Self {
            records: PageRecords::Values(records),
            refused: Vec::new(),
            note: None,
        }
    }

    /// The records on the page, refused ones included.
    pub fn len(&self) -> usize {
        self.refused.len()
            + match &self.records {
                PageRecords::Values(records) => records.len(),
                PageRecords::Canonical { records, .. } => records.len(),
            }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records as JSON values (a canonical page's text read into values); those refused
    /// as the page was read are not among them.
    pub fn into_values(self) -> Records {
        match self.records {
            PageRecords::Values(records) => records,
            // Each range is a JSON value the page was parsed into: it reads again.
            PageRecords::Canonical { body, records } => records
                .into_iter()
                .map(|range| serde_json::from_str(&body[range]).unwrap_or_default())
                .collect(),
        }
    }
}
