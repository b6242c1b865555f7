//! The store: every SQL statement duban runs lives under this folder. One code path serves
//! SQLite (an embedded file, the default) and PostgreSQL (when one machine is not enough)
//! through sqlx's `Any` driver; queries are written once with `$1` placeholders, and the
//! dialect's migrations live in `migrations/<dialect>/`. PostgreSQL's item writes alone go
//! through its own driver (`PgWriter`), for `COPY` and array parameters.
//!
//! - `items`: items, pauses, projects, departments, and their changes in the log.
//! - `ledger`: the log of every stored change (`changes`), written and read.
//! - `load`: reading them all back at start-up.
//! - `feeds`: feed runs, incremental `since` marks, quarantine.
//! - `queries`: the reads behind the HTTP API.
//! - `rows`: batches of rows written as text: one JSON value a statement, or `COPY` lines.

pub mod feeds;
pub mod items;
pub mod ledger;
pub mod load;
pub mod queries;
mod relay;
mod rows;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor, Row};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("migration {name} on {dialect}: {source}")]
    Migrate {
        name: &'static str,
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
}

/// The embedded migrations, in order.
const MIGRATIONS: &[(&str, &str, &str)] = &[
    (
        "0001_initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        "0002_quarantine_item",
        include_str!("../../migrations/sqlite/0002_quarantine_item.sql"),
        include_str!("../../migrations/postgres/0002_quarantine_item.sql"),
    ),
    (
        "0003_deadline_changes",
        include_str!("../../migrations/sqlite/0003_deadline_changes.sql"),
        include_str!("../../migrations/postgres/0003_deadline_changes.sql"),
    ),
    (
        "0004_feed_run_notes",
        include_str!("../../migrations/sqlite/0004_feed_run_notes.sql"),
        include_str!("../../migrations/postgres/0004_feed_run_notes.sql"),
    ),
    (
        "0005_store_meta",
        include_str!("../../migrations/sqlite/0005_store_meta.sql"),
        include_str!("../../migrations/postgres/0005_store_meta.sql"),
    ),
    (
        "0006_ledger",
        include_str!("../../migrations/sqlite/0006_ledger.sql"),
        include_str!("../../migrations/postgres/0006_ledger.sql"),
    ),
];

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
        if dialect == Dialect::Postgres {
            store.pg = Some(pg_writer(&url).await.map_err(connect)?);
        }
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let dialect = self.dialect.name();
        let fail = |name| {
            move |source| StoreError::Migrate {
                name,
                dialect,
                source,
            }
        };
        self.pool
            .execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            .await
            .map_err(fail("schema_migrations"))?;
        for &(name, sqlite, postgres) in MIGRATIONS {
            let applied: Option<(String,)> =
                query_as(&self.sql("SELECT name FROM schema_migrations WHERE name = $1"))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(fail(name))?;
            if applied.is_some() {
                continue;
            }
            let text = match self.dialect {
                Dialect::Sqlite => sqlite,
                Dialect::Postgres => postgres,
            };
            let mut tx = self.pool.begin().await.map_err(fail(name))?;
            for statement in statements(text) {
                tx.execute(statement).await.map_err(fail(name))?;
            }
            query(&self.sql("INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)"))
                .bind(name)
                .bind(chrono::Utc::now().to_rfc3339())
                .execute(&mut *tx)
                .await
                .map_err(fail(name))?;
            tx.commit().await.map_err(fail(name))?;
        }
        Ok(())
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

/// The statements of a migration file, split at semicolons that end a line; comments go.
fn statements(text: &str) -> impl Iterator<Item = &str> {
    text.split(";\n").map(str::trim).filter(|s| {
        s.lines()
            .any(|l| !l.trim().is_empty() && !l.trim().starts_with("--"))
    })
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
