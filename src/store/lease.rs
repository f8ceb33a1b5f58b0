//! Local per-group lease records: the [`LeaseStore`](crate::lease::LeaseStore) contract
//! for processes on one machine. [`Store::lease`] reads a record and [`Store::put_lease`]
//! writes one only if its revision is still the one expected, under an `IMMEDIATE`
//! transaction, so of several processes racing for a lease exactly one wins.
//! [`SqliteLeaseStore`] puts the same calls behind the async trait, off the async task
//! (the store's rule: SQLite blocks).
//!
//! Judging expiry is not the store's business (see [`crate::lease`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use rusqlite::{OptionalExtension, ToSql, params_from_iter};

use super::{Store, StoreError};
use crate::lease::{LeaseError, LeaseRecord, LeaseStore};

const SELECT_LEASE: &str = "SELECT group_name, holder, host, acquired_at, renewed_at, expires_at, ttl_ms, \
                            version, revision FROM leases WHERE group_name = ?1";

fn lease_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LeaseRecord> {
    let ttl_ms: i64 = row.get(6)?;
    let version: i64 = row.get(7)?;
    let revision: i64 = row.get(8)?;
    Ok(LeaseRecord {
        group: row.get(0)?,
        holder: row.get(1)?,
        host: row.get(2)?,
        acquired_at: row.get(3)?,
        renewed_at: row.get(4)?,
        expires_at: row.get(5)?,
        ttl: Duration::from_millis(ttl_ms.max(0) as u64),
        version: version.max(0) as u64,
        revision: revision.max(0) as u64,
    })
}

/// SQLite INTEGER is i64: counts beyond it are pinned there rather than wrapped.
fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// The group's lease record, if there is one.
    pub fn lease(&self, group: &str) -> Result<Option<LeaseRecord>, StoreError> {
        // Cached: every group's lease is read and renewed every tick.
        Ok(self.conn.prepare_cached(SELECT_LEASE)?.query_row([group], lease_from_row).optional()?)
    }

    /// Writes `record` if the stored revision is still `expected` (None: no record yet);
    /// the record as written (its revision one higher), or None when another write came
    /// first.
    pub fn put_lease(
        &self,
        record: &LeaseRecord,
        expected: Option<u64>,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        let ttl_ms = sql_count(u64::try_from(record.ttl.as_millis()).unwrap_or(u64::MAX));
        let version = sql_count(record.version);
        // ?1–?8 in both statements; the update adds the revision it expects as ?9.
        let fields: [&dyn ToSql; 8] = [
            &record.group,
            &record.holder,
            &record.host,
            &record.acquired_at,
            &record.renewed_at,
            &record.expires_at,
            &ttl_ms,
            &version,
        ];
        self.write(|tx| {
            let written = match expected {
                None => tx.prepare_cached(
                    "INSERT INTO leases (group_name, holder, host, acquired_at, renewed_at, expires_at, ttl_ms,
                                         version, revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)
                     ON CONFLICT (group_name) DO NOTHING",
                )?
                .execute(params_from_iter(fields))?,
                Some(revision) => tx.prepare_cached(
                    "UPDATE leases SET holder = ?2, host = ?3, acquired_at = ?4, renewed_at = ?5,
                                       expires_at = ?6, ttl_ms = ?7, version = ?8, revision = revision + 1
                     WHERE group_name = ?1 AND revision = ?9",
                )?
                .execute(params_from_iter(fields.into_iter().chain([&sql_count(revision) as &dyn ToSql])))?,
            };
            if written == 0 {
                return Ok(None);
            }
            Ok(tx.prepare_cached(SELECT_LEASE)?.query_row([&record.group], lease_from_row).optional()?)
        })
    }
}

/// The local store's leases behind the async [`LeaseStore`] trait: each call runs on
/// tokio's blocking pool with the store's own connection.
#[derive(Clone)]
pub struct SqliteLeaseStore {
    store: Arc<Mutex<Store>>,
}

impl SqliteLeaseStore {
    /// Leases in `store` (a connection of its own: the engine's other writes never wait
    /// behind a lease round, nor it behind them).
    pub fn new(store: Store) -> Self {
        SqliteLeaseStore { store: Arc::new(Mutex::new(store)) }
    }

    /// Runs `f` with the store on the blocking pool.
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, LeaseError>> {
        let store = self.store.clone();
        Box::pin(async move {
            let call = tokio::task::spawn_blocking(move || {
                let store =
                    store.lock().map_err(|_| LeaseError("the lease store's lock is poisoned".into()))?;
                f(&store).map_err(|e| LeaseError(e.to_string()))
            });
            call.await.map_err(|e| LeaseError(format!("lease call did not finish: {e}")))?
        })
    }
}

impl LeaseStore for SqliteLeaseStore {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn is_local(&self) -> bool {
        true
    }

    fn get<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>> {
        let group = group.to_string();
        self.blocking(move |store| store.lease(&group))
    }

    fn put<'a>(
        &'a self,
        record: LeaseRecord,
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>> {
        self.blocking(move |store| store.put_lease(&record, expected))
    }
}
