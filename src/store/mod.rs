//! The store: every SQL statement duban runs lives under this folder. One code path serves
//! SQLite (an embedded file, the default) and PostgreSQL (when one machine is not enough)
//! through sqlx's `Any` driver; queries are written once with `$1` placeholders. Each
//! dialect's migrations are the files of `migrations/<dialect>/`, embedded at build time and
//! applied by sqlx's migrator (recorded in `_sqlx_migrations`). PostgreSQL's item writes
//! alone go through its own driver (`PgWriter`), for `COPY` and array parameters.
//!
//! - `answers`: the departments' answers and the office's silences; an item's warnings.
//! - `items`: items, pauses, projects, departments, and their changes in the log.
//! - `ledger`: the log of every stored change (`changes`), written and read.
//! - `load`: reading them all back at start-up.
//! - `rehash`: stored record hashes brought to the current scheme at open.
//! - `feeds`: feed runs, incremental `since` marks, quarantine.
//! - `queries`: the reads behind the HTTP API.
//! - `contacts`: who warnings go to, replaced whole by each import.
//! - `rows`: batches of rows written as text: one JSON value a statement, or `COPY` lines.

pub mod answers;
pub mod contacts;
pub mod feeds;
pub mod items;
pub mod ledger;
pub mod load;
pub mod queries;
mod rehash;
mod relay;
pub mod reports;
mod rows;
pub mod warnings;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migrate, MigrateError, Migrator};
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    /// `step` is the migration (`0004_feed_run_notes`), or what was being done around them
    /// (taking over the previous release's `schema_migrations`).
    #[error(
        "migration {step} on {dialect}: {source} (the store is as it was before this \
         migration; each migration is applied in its own transaction)"
    )]
    Migrate {
        step: String,
        dialect: &'static str,
        source: MigrateError,
    },
    #[error("recomputing the stored record hashes (scheme {scheme}) on {dialect}: {source}")]
    Rehash {
        scheme: &'static str,
        dialect: &'static str,
        source: sqlx::Error,
    },
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("creating the folder for {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "another duban is serving the SQLite store {path} (it holds {path}.lock): an SQLite \
         store has one daemon; several replicas need a PostgreSQL store they share \
         ([store] database_url = \"postgres://…\")"
    )]
    Taken { path: String },
    #[error("the lock file {path}.lock of the SQLite store: {source}")]
    Lock {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Dialect::Sqlite => &SQLITE_MIGRATIONS,
            Dialect::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// Each dialect's migrations: every `NNNN_description.sql` file of its folder, embedded when
/// the crate is built (build.rs has it rebuilt when a file is added), in the order of their
/// numbers.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Held (for one transaction) by whoever takes over a previous release's `schema_migrations`
/// on PostgreSQL, so that two daemons opening the same old store do it once: "duban", 1.
const BASELINE_LOCK: i64 = 0x6475_6261_6e00_0001;

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// PostgreSQL's own driver beside `pool`, for what `Any` cannot do: `COPY`, arrays.
    pg: Option<PgWriter>,
    /// Both pools' way to a PostgreSQL over TCP; kept for as long as they are.
    _relay: Option<Arc<relay::Relay>>,
}

/// Where PostgreSQL's item writes go (`items::write_items_pg`).
#[derive(Clone)]
struct PgWriter {
    pool: sqlx::PgPool,
    /// A write takes one before its connections (`items::PG_PARTS`): writes from several
    /// feeds at once, each holding one connection and waiting for its second, could
    /// otherwise take the whole pool between them and wait for ever.
    writes: Arc<tokio::sync::Semaphore>,
}

impl Store {
    /// Connects (creating an SQLite file and its folder if needed) and migrates.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Dialect::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
        let connect = |source| StoreError::Connect {
            url: redact(url),
            source,
        };
        let (url, relay) = if dialect == Dialect::Sqlite {
            (sqlite_url(url)?, None)
        } else {
            through_relay(url).await.map_err(connect)?
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(connect)?
            .disable_statement_logging();
        let pool = AnyPoolOptions::new()
            .max_connections(if dialect == Dialect::Sqlite { 4 } else { 8 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if dialect == Dialect::Sqlite {
                        // WAL lets the API read while the poller writes; the busy timeout
                        // makes a second writer wait instead of failing.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        // 32 MiB of page cache (the default is 2 MiB): a million items' indexes
                        // are updated at random places (ingest of 1,000,000: 17.1 s → 15.6 s).
                        conn.execute("PRAGMA cache_size = -32768").await?;
                        // The WAL is copied back into the database by `checkpoint`, called
                        // by a task beside the writers, not by whichever write happens to
                        // fill it (a tenth of every large ingest's writing time was spent
                        // there). That task runs for the daemon's life (an error is logged
                        // and tried again); SQLite also checkpoints when the last connection
                        // closes. A 200 MB fallback for the writers measured no better or
                        // worse within this machine's noise, and was left out.
                        conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                        conn.execute("PRAGMA journal_size_limit = 67108864").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect)?;
        let mut store = Self {
            pool,
            dialect,
            pg: None,
            _relay: relay,
        };
        store.migrate().await?;
        store.rehash().await?;
        if dialect == Dialect::Postgres {
            store.pg = Some(pg_writer(&url).await.map_err(connect)?);
        }
        Ok(store)
    }

    /// Applies this dialect's migrations not yet applied, each in its own transaction, after
    /// taking over what a previous release recorded (`baseline`).
    async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.dialect.migrator();
        self.baseline(migrator).await?;
        migrator
            .run(&self.pool)
            .await
            .map_err(|source| self.migration_failed(migrator, source))
    }

    /// Releases before sqlx's migrator kept the names of the migrations they applied
    /// (`0001_initial`) in their own `schema_migrations` table. Each migration found there is
    /// recorded in sqlx's table as applied (sqlx's own `skip`: its version, description and
    /// the checksum of this release's file), so the migrator applies only the others; then
    /// `schema_migrations` is dropped, leaving one record of what was applied, not two that
    /// could disagree. One transaction: a failure leaves the old table and no new rows.
    async fn baseline(&self, migrator: &Migrator) -> Result<(), StoreError> {
        let fail =
            |source: MigrateError| self.migrate_error("taking over schema_migrations", source);
        let sql = |source: sqlx::Error| fail(MigrateError::Execute(source));
        let mut tx = self.pool.begin().await.map_err(sql)?;
        let exists = match self.dialect {
            Dialect::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            }
            Dialect::Postgres => {
                query("SELECT pg_advisory_xact_lock($1)")
                    .bind(BASELINE_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(sql)?;
                "SELECT COUNT(*) FROM pg_tables \
                 WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
            }
        };
        let (tables,): (i64,) = query_as(exists).fetch_one(&mut *tx).await.map_err(sql)?;
        if tables == 0 {
            return Ok(());
        }
        let recorded: Vec<(String,)> = query_as("SELECT name FROM schema_migrations")
            .fetch_all(&mut *tx)
            .await
            .map_err(sql)?;
        let known: Vec<String> = migrator.iter().map(migration_name).collect();
        if let Some((unknown,)) = recorded.iter().find(|(name,)| !known.contains(name)) {
            return Err(self.migrate_error(
                unknown,
                MigrateError::Source(
                    "schema_migrations records it but this release has no such migration: \
                     the store was changed by another program or another release; open it \
                     with the release that made it"
                        .into(),
                ),
            ));
        }
        tx.ensure_migrations_table(&migrator.table_name)
            .await
            .map_err(fail)?;
        for migration in migrator.iter() {
            let name = migration_name(migration);
            if recorded.iter().any(|(recorded,)| *recorded == name) {
                tx.skip(&migrator.table_name, migration)
                    .await
                    .map_err(|source| self.migrate_error(&name, source))?;
            }
        }
        tx.execute("DROP TABLE schema_migrations")
            .await
            .map_err(sql)?;
        tx.commit().await.map_err(sql)
    }

    /// `source` as a `StoreError` naming the migration it is about, when it names one.
    fn migration_failed(&self, migrator: &Migrator, source: MigrateError) -> StoreError {
        use MigrateError as E;
        let version = match &source {
            E::ExecuteMigration(_, v)
            | E::VersionMissing(v)
            | E::VersionMismatch(v)
            | E::VersionNotPresent(v)
            | E::VersionTooOld(v, _)
            | E::VersionTooNew(v, _)
            | E::Dirty(v) => Some(*v),
            _ => None,
        };
        let step = match version {
            Some(v) => migrator
                .iter()
                .find(|m| m.version == v)
                .map_or_else(|| format!("{v:04} (not in this release)"), migration_name),
            None => "(before the first to apply)".to_owned(),
        };
        self.migrate_error(&step, source)
    }

    fn migrate_error(&self, step: &str, source: MigrateError) -> StoreError {
        StoreError::Migrate {
            step: step.to_owned(),
            dialect: self.dialect.name(),
            source,
        }
    }

    /// A query written with `$1` placeholders, in this dialect. For SQLite they become plain
    /// `?`: every query here numbers its placeholders in order, each used once, and SQLite
    /// looks numbered ones up by a linear walk per bind, which made a 4,800-value insert
    /// quadratic.
    fn sql(&self, text: &str) -> String {
        match self.dialect {
            Dialect::Postgres => text.to_owned(),
            Dialect::Sqlite => positional(text),
        }
    }

    /// Copies what the SQLite write-ahead log holds back into the database, beside the
    /// writers (a passive checkpoint never waits for them). Called about once a second by
    /// the daemon; returns where the log stands (all zero for PostgreSQL, which has nothing
    /// to do here).
    pub async fn checkpoint(&self) -> Result<WalLog, StoreError> {
        if self.dialect != Dialect::Sqlite {
            return Ok(WalLog::default());
        }
        let row = query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&self.pool)
            .await?;
        // (busy, frames, frames copied); -1 when the database is not in WAL mode.
        let frames = |i| {
            row.try_get::<i64, _>(i)
                .map(|n| u64::try_from(n).unwrap_or(0))
        };
        Ok(WalLog {
            frames: frames(1)?,
            copied: frames(2)?,
        })
    }

    /// How many item writes may run at once: PostgreSQL takes `items::PG_WRITES`, each on
    /// its own connections; SQLite has one writer.
    pub fn writes_at_once(&self) -> usize {
        if self.pg.is_some() {
            items::PG_WRITES
        } else {
            1
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        if let Some(pg) = &self.pg {
            pg.pool.close().await;
        }
        self.pool.close().await;
    }
}

/// A PostgreSQL URL over TCP as the same URL through a new `relay::Relay`, which turns
/// Nagle's algorithm off; a URL for a Unix socket as it is.
async fn through_relay(url: &str) -> Result<(String, Option<Arc<relay::Relay>>), sqlx::Error> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?;
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        return Ok((url.to_owned(), None));
    }
    let relay = relay::Relay::start(options.get_host(), options.get_port()).await?;
    // sqlx reads a `host` parameter that is a path as the socket's folder, and keeps the
    // URL's own host for TLS.
    let mut url = format!("{url}{}host=", if url.contains('?') { '&' } else { '?' });
    for byte in relay.folder().as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || b"/._-".contains(byte) {
            url.push(char::from(*byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok((url, Some(Arc::new(relay))))
}

/// The pool that writes items on PostgreSQL (`items::write_items_pg`), opened after the
/// migrations: each connection has its own temporary `items_in`, shaped as `items`, that a
/// write of changed items fills by `COPY` and empties at commit. A connection for each part
/// (`items::PG_PARTS`) of each write under way (`items::PG_WRITES`).
async fn pg_writer(url: &str) -> Result<PgWriter, sqlx::Error> {
    let options = sqlx::postgres::PgConnectOptions::from_str(url)?.disable_statement_logging();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections((items::PG_PARTS * items::PG_WRITES) as u32)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS items_in (LIKE items) ON COMMIT DELETE ROWS",
                )
                .await?;
                // Log rows of a write done again as upserts, put in where not yet logged
                // (`items::PgPart::write_changes`): the log's columns without its position.
                conn.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS changes_in ON COMMIT DELETE ROWS AS \
                     SELECT kind, item_id, version, at, recorded_at, cause, grade_from, grade_to, body \
                     FROM changes WITH NO DATA",
                )
                .await?;
                // The parts of a write wait for each other outside PostgreSQL, where its
                // deadlock detector cannot see them: should one part wait on a lock that
                // another session holds while that session waits on another part (a second
                // daemon writing the same new items), a timeout ends the write instead of
                // holding the writer for ever. The feed's run fails and is tried again.
                conn.execute("SET lock_timeout = '30s'").await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok(PgWriter {
        pool,
        writes: Arc::new(tokio::sync::Semaphore::new(items::PG_WRITES)),
    })
}

/// Where SQLite's write-ahead log stands after a checkpoint: the pages written to it since
/// it last started again from its beginning, and how many of those are copied back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WalLog {
    pub frames: u64,
    pub copied: u64,
}

/// A query built at run time from duban's own fixed SQL (placeholders translated, several
/// rows a statement); values are always bound, never spliced in.
pub(crate) fn query(sql: &str) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql))
}

fn query_as<T>(sql: &str) -> sqlx::query::QueryAs<'static, sqlx::Any, T, sqlx::any::AnyArguments>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
}

/// `$1 … $n`, each once and in order, as SQLite's positional `?`.
fn positional(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut expected = 1u32;
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = 0u32;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = n * 10 + d;
                chars.next();
            }
            debug_assert_eq!(
                n, expected,
                "placeholders must be numbered in order, each used once: {text}"
            );
            expected += 1;
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// A migration's name as its file has it and `schema_migrations` recorded it: `0001_initial`
/// (sqlx's description is the file's name after the number, underscores made spaces).
fn migration_name(migration: &sqlx::migrate::Migration) -> String {
    format!(
        "{:04}_{}",
        migration.version,
        migration.description.replace(' ', "_")
    )
}

/// Claims an SQLite store for this daemon alone, for as long as the returned file is held:
/// an exclusive lock on `<database>.lock` beside it (released by the system when the process
/// ends, however it ends). A second daemon on the same file is refused at start-up rather
/// than writing beside the first. `None` for PostgreSQL (its replicas share one store) and
/// an in-memory SQLite store.
pub fn claim_sqlite(url: &str) -> Result<Option<std::fs::File>, StoreError> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let normalised = sqlite_url(url)?;
    let rest = normalised.trim_start_matches("sqlite://");
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    if path == ":memory:" || path.is_empty() {
        return Ok(None);
    }
    let lock_error = |source| StoreError::Lock {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(format!("{path}.lock"))
        .map_err(lock_error)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Taken {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(lock_error(e)),
    }
}

/// `sqlite://data/duban.db` (relative to the working directory) or `sqlite:///abs/path`:
/// create the folder, and open the file read-write, creating it.
fn sqlite_url(url: &str) -> Result<String, StoreError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if let Some(parent) = Path::new(path)
        .parent()
        .filter(|p| path != ":memory:" && !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Folder {
            path: path.to_owned(),
            source,
        })?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".into()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_positional_for_sqlite() {
        assert_eq!(
            positional("SELECT $1, $2 WHERE x = $3"),
            "SELECT ?, ? WHERE x = ?"
        );
        assert_eq!(
            positional("VALUES ($1, $2), ($3, $4)"),
            "VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://duban:s3cret@db:5432/duban"),
            "postgres://duban:***@db:5432/duban"
        );
        assert_eq!(redact("sqlite://data/duban.db"), "sqlite://data/duban.db");
    }

    #[test]
    fn sqlite_urls_are_made_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/duban.db");
        let url = sqlite_url(&format!("sqlite://{}", path.display())).unwrap();
        assert!(url.ends_with("duban.db?mode=rwc"), "{url}");
        assert!(path.parent().unwrap().is_dir());
    }
}
