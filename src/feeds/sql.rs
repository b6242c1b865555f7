//! The `sql` source: a read-only SELECT on MySQL/MariaDB, PostgreSQL or SQLite, with the
//! newest `updated_at` seen bound to `:since` (the empty string on the first run). Columns
//! come back as text or numbers; cast times to text in the query (`DATE_FORMAT`, `to_char`).

use serde_json::{Map, Number, Value};
use sqlx::any::AnyPoolOptions;
use sqlx::{Column, Row};

use super::spec::SqlSource;
use super::{FetchError, Page};

/// Runs the query once; all its rows are one page.
/// How long the source database may take to answer.
const QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn fetch(spec: &SqlSource, since: Option<&str>) -> Result<Page, FetchError> {
    sqlx::any::install_default_drivers();
    let dsn = spec.dsn.expose();
    let postgres = dsn.starts_with("postgres");
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(dsn)
        .await
        .map_err(|e| FetchError::retry(format!("connecting to the feed database: {e}")))?;
    // PostgreSQL numbers its parameters, so every `:since` is `$1`, bound once; MySQL and
    // SQLite take one `?` each.
    let query = spec
        .query
        .replace(":since", if postgres { "$1" } else { "?" });
    let binds = if postgres {
        usize::from(spec.query.contains(":since"))
    } else {
        spec.query.matches(":since").count()
    };
    let mut q = sqlx::query(sqlx::AssertSqlSafe(query.as_str()));
    for _ in 0..binds {
        q = q.bind(since.unwrap_or(""));
    }
    let rows = match tokio::time::timeout(QUERY_TIMEOUT, q.fetch_all(&pool)).await {
        Ok(rows) => rows.map_err(|e| FetchError::fatal(format!("the feed query failed: {e}"))),
        Err(_) => Err(FetchError::retry(format!(
            "the feed query took longer than {QUERY_TIMEOUT:?}"
        ))),
    };
    pool.close().await;
    let rows = rows?;
    let mut records = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut object = Map::new();
        for (i, column) in row.columns().iter().enumerate() {
            let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                v.map_or(Value::Null, Value::from)
            } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
                v.and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                v.map_or(Value::Null, Value::String)
            } else {
                return Err(FetchError::fatal(format!(
                    "column {} has a type duban cannot read; cast it to text in the query",
                    column.name()
                )));
            };
            object.insert(column.name().to_owned(), value);
        }
        records.push(Value::Object(object));
    }
    Ok(Page::values(records))
}
