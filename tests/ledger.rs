//! The ledger (issue 16) on SQLite, through the running daemon: changes dated when they
//! happened across a feed outage over a month's end, an extension that leaves the past as
//! it stood, and the change log read once and in order while feeds write. The same run on
//! PostgreSQL in tests/services.rs.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod common;

use common::ledger::*;
use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_feed_down_over_a_months_end_files_each_change_in_its_month() {
    let dir = temp_dir();
    changes_fall_in_the_month_they_happened(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_after_the_deadline_keeps_the_past_and_moves_the_present() {
    let dir = temp_dir();
    an_extension_keeps_the_past_and_moves_the_present(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_reads_every_position_once_while_feeds_write() {
    let dir = temp_dir();
    the_log_is_read_once_in_order_while_feeds_write(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_during_page_writes_loses_and_doubles_nothing() {
    let dir = temp_dir();
    a_kill_during_writes_loses_and_doubles_nothing(&sqlite_url(dir.path()), dir.path()).await;
}
