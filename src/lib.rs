//! duban (督办): supervision of construction-project approvals against working-day
//! deadlines.
//!
//! Layout:
//! - `config`: the TOML config, validated, with precise errors; secrets from the environment.
//! - `calendar`: working days under the yearly holiday arrangement (pure).
//! - `item`: the canonical item record and its validation.
//! - `canonical`: the record's canonical bytes and the record hash over them (pure).
//! - `grading`: clock, three-colour grade, next change, project government time (pure).
//! - `catalogue`: the approval-matter catalogue.
//! - `simulator`: a deterministic city of projects and items for demos and benchmarks.
//! - `feeds`: the sources polled for records, their mapping, the poller and each feed's health.
//! - `claims`: pages being written and the item ids they hold, so pages go in order.
//! - `store`: all SQL (SQLite or PostgreSQL): items, history, feed runs, quarantine.
//! - `board`: every item's current grading and next-change instant, in memory (pure).
//! - `ingest`: the shared state, and the one path by which grades change.
//! - `grader`: sleeps until the next grade change and re-grades what is due.
//! - `clock`: the daemon's time, injectable for tests.
//! - `live`: the figures screens show, counted from the board; the websocket fan-out.
//! - `charts`: the screens' charts drawn as SVG from their own input types (pure).
//! - `http`: the JSON API, pages, health and metrics. `metrics`: the counters behind it.
//! - `app`: wiring and shutdown.
//! - `ledger`: the grade event, what changed between versions, the ledger table (pure).
//! - `ledger_view`: the ledger table read from the store, for its page and its export.
//! - `commands`: the CLI subcommands.

pub mod almanac;
pub mod app;
pub mod board;
pub mod calendar;
pub mod canonical;
pub mod catalogue;
pub mod charts;
pub mod claims;
pub mod clock;
pub mod commands;
pub mod config;
pub mod feeds;
pub mod grader;
pub mod grading;
pub mod http;
pub mod ingest;
pub mod item;
pub mod ledger;
pub mod ledger_view;
pub mod live;
pub mod metrics;
pub mod rankings;
pub mod simulator;
pub mod statutory;
pub mod store;
pub mod warnings;
