//! The rankings end to end on SQLite (the scenario is tests/common/rankings.rs; on
//! PostgreSQL it runs in tests/services.rs).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_month_is_published_mailed_frozen_and_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = common::sqlite_url(dir.path());
    common::rankings::published_mailed_frozen_and_written(&url, dir.path()).await;
}
