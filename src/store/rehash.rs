//! Stored record hashes brought to the current scheme (`canonical::SCHEME`) when the store
//! is opened. A store keeps, under the `store_meta` key `record_hash`, the scheme its
//! `items.record_hash` values were computed with; a store without it (made by a release
//! that hashed the derived `Hash`) or with another has every item's hash recomputed from
//! the item as stored, then the scheme recorded, in one transaction: a failure leaves the
//! old hashes and the old mark, and the next start tries again.
//!
//! The hash covers the item's project name and category, which the store keeps once per
//! project: an item whose project another item renamed since is hashed with the new name,
//! so when its own feed sends it again with the old one it looks changed once (it is
//! written again, and names the project as it did before, like any record does). So does a
//! record whose times had fractions of a second, which the store keeps in whole seconds.
//! A time's offset is not hashed, so times kept in UTC are no such case.

use sqlx::Executor;

use super::load::{
    ITEM_COLUMNS, PAUSE_COLUMNS, ProjectRow, add_pause, decode, json_chunk, stored_item,
};
use super::{Dialect, Store, StoreError, query, query_as};
use crate::canonical::{SCHEME, record_hash};

/// The `store_meta` key of the scheme.
const SCHEME_KEY: &str = "record_hash";

impl Store {
    /// Recomputes every stored record hash unless the store records `SCHEME` already.
    pub(super) async fn rehash(&self) -> Result<(), StoreError> {
        let fail = |source| StoreError::Rehash {
            scheme: SCHEME,
            dialect: self.dialect.name(),
            source,
        };
        if self.hash_scheme(&self.pool).await.map_err(fail)?.as_deref() == Some(SCHEME) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(fail)?;
        // Writers wait until this is done (a write between the read of an item and the
        // update of its hash would be given the old version's hash), and a second daemon
        // opening the same store finds the work done once it gets the lock.
        let lock = match self.dialect {
            // A write takes SQLite's one write lock at once, even one that changes no row.
            Dialect::Sqlite => "UPDATE store_meta SET value = value WHERE key = 'record_hash'",
            Dialect::Postgres => "LOCK TABLE items IN SHARE ROW EXCLUSIVE MODE",
        };
        tx.execute(lock).await.map_err(fail)?;
        let from = self.hash_scheme(&mut *tx).await.map_err(fail)?;
        if from.as_deref() == Some(SCHEME) {
            return Ok(());
        }
        let changed = self.rehash_items(&mut tx).await.map_err(|e| match e {
            StoreError::Query(source) => fail(source),
            other => other,
        })?;
        query(&self.sql(
            "INSERT INTO store_meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        ))
        .bind(SCHEME_KEY)
        .bind(SCHEME)
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(
            from = from.as_deref().unwrap_or("derived Hash"),
            to = SCHEME,
            changed,
            "record hashes recomputed"
        );
        Ok(())
    }

    async fn hash_scheme<'c>(
        &self,
        executor: impl Executor<'c, Database = sqlx::Any>,
    ) -> Result<Option<String>, sqlx::Error> {
        let row: Option<(String,)> =
            query_as(&self.sql("SELECT value FROM store_meta WHERE key = $1"))
                .bind(SCHEME_KEY)
                .fetch_optional(executor)
                .await?;
        Ok(row.map(|(scheme,)| scheme))
    }

    /// Every item's hash recomputed, a chunk of items at a time (their pauses read with
    /// them), each chunk's new hashes written by one statement. Returns how many changed.
    async fn rehash_items(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<usize, StoreError> {
        let mut projects: foldhash::HashMap<String, (String, String)> = Default::default();
        let sql = self.chunk_sql(
            "project_code, project_name, category",
            "projects",
            "project_code",
            "",
        );
        let mut after = String::new();
        while let Some((rows, last)) = json_chunk(&mut **tx, &sql, &after).await? {
            for ProjectRow(code, name, category) in decode("projects", &rows)? {
                projects.insert(code.to_string(), (name.to_string(), category.to_string()));
            }
            after = last;
        }
        let items = self.chunk_sql(ITEM_COLUMNS, "items", "item_id", "");
        // The chunk's items' pauses, in their order (which the hash covers): SQLite
        // aggregates the ordered subquery in its order, PostgreSQL is told.
        let (aggregate, row) = self.json_functions();
        let ordered = if self.dialect == Dialect::Postgres {
            " ORDER BY item_id, seq"
        } else {
            ""
        };
        let pauses = self.sql(&format!(
            "SELECT CAST({aggregate}({row}({PAUSE_COLUMNS}){ordered}) AS TEXT) FROM \
             (SELECT {PAUSE_COLUMNS} FROM pauses WHERE item_id > $1 AND item_id <= $2 \
              ORDER BY item_id, seq) AS chunk"
        ));
        let update = self.sql(match self.dialect {
            Dialect::Sqlite => {
                "UPDATE items SET record_hash = fresh.hash \
                 FROM (SELECT value ->> 0 AS item_id, value ->> 1 AS hash FROM json_each($1)) AS fresh \
                 WHERE items.item_id = fresh.item_id"
            }
            Dialect::Postgres => {
                "UPDATE items SET record_hash = fresh.hash \
                 FROM (SELECT e ->> 0 AS item_id, (e ->> 1)::int8 AS hash \
                       FROM json_array_elements($1::json) AS e) AS fresh \
                 WHERE items.item_id = fresh.item_id"
            }
        });
        let mut changed = 0;
        let mut after = String::new();
        let mut by_item: foldhash::HashMap<String, Vec<crate::item::Pause>> = Default::default();
        while let Some((rows, last)) = json_chunk(&mut **tx, &items, &after).await? {
            let (pause_rows,): (Option<String>,) = query_as(&pauses)
                .bind(after.clone())
                .bind(last.clone())
                .fetch_one(&mut **tx)
                .await?;
            for row in decode("pauses", pause_rows.as_deref().unwrap_or("[]"))? {
                add_pause(&mut by_item, row);
            }
            let mut hashes: Vec<(String, i64)> = Vec::new();
            for row in decode("items", &rows)? {
                let mut stored = stored_item(row, &mut by_item);
                if let Some((name, category)) = projects.get(&stored.item.project_code) {
                    stored.item.project_name.clone_from(name);
                    stored.item.project_category.clone_from(category);
                }
                let hash = record_hash(&stored.item);
                if hash != stored.hash {
                    // Stored as SQL's signed 64-bit integer, as `Store::item_row` writes it.
                    hashes.push((stored.item.item_id, hash as i64));
                }
            }
            by_item.clear();
            if !hashes.is_empty() {
                changed += hashes.len();
                let json = serde_json::to_string(&hashes)
                    .map_err(|e| StoreError::Query(sqlx::Error::Encode(e.into())))?;
                query(&update).bind(json).execute(&mut **tx).await?;
            }
            after = last;
        }
        Ok(changed)
    }
}
