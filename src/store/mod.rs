//! The durable state store: an embedded SQLite database that lets the engine survive a
//! restart (DESIGN.md, "State that survives restarts"). It holds operator pauses and
//! holds, breaker trips, silences, the local per-group leases, the notification outbox and
//! 1-minute history.
//!
//! The API is synchronous, as SQLite is: the engine calls it from a dedicated thread or
//! `spawn_blocking`, never from an async task directly. A [`Store`] owns one connection
//! (`Send`, not `Sync`). Nothing here reads a clock: every time is a [`Timestamp`] passed
//! in, so tests and replay drive it with virtual time. The store keeps what it is told and
//! answers questions about it; *when* to pause, trip or page is the engine's business.
//!
//! Several processes on one machine (a daemon and a few consoles) may open the same file:
//! the database runs in WAL mode with a busy timeout, every write is one short
//! transaction, and a lease write is a compare-and-swap on the record's revision under an
//! `IMMEDIATE` transaction, so each sees the others' writes and of racing writers one wins.
//!
//! Files: [`schema`] (versions and migrations), `sql` (how domain types are written as
//! SQL values), [`operator`] (pauses, holds, silences), [`breaker`] (automatic trips),
//! [`lease`] (lease records, and the [`crate::lease::LeaseStore`] trait over them), [`outbox`]
//! (notifications to send, and open page episodes), [`history`] (1-minute aggregates, and the minutes load profiles are built from).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::model::Timestamp;

pub mod breaker;
pub mod history;
pub mod lease;
pub mod operator;
pub mod outbox;
pub mod schema;
mod sql;

#[cfg(test)]
mod tests;

pub use crate::lease::LeaseRecord;
pub use breaker::{BreakerKind, BreakerTrip, TripMode};
pub use history::{HISTORY_RETENTION, MinuteAggregate};
pub use lease::SqliteLeaseStore;
pub use operator::{GLOBAL, HoldRecord, PauseRecord, Silence};
pub use outbox::{Enqueued, NewMessage, OpenPage, OutboxMessage};

/// How long a write waits for another process's transaction before giving up. Every
/// transaction here is a few statements, so a wait this long means something is stuck.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no state directory: the home directory could not be determined")]
    NoStateDir,
    #[error("cannot create the state directory {}: {source}", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the state database {}: {source}", path.display())]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the state database {location} has schema version {found}, newer than the {known} this \
         fleetdeck knows; run a newer fleetdeck, or move the file away to start afresh"
    )]
    TooNew { location: String, found: i64, known: i64 },
    #[error("migrating the state database {location} to schema version {version}: {source}")]
    Migrate { location: String, version: i64, source: rusqlite::Error },
    #[error("state database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("outbox payload is not JSON: {0}")]
    Payload(#[from] serde_json::Error),
}

/// The default database file of a fleet: `state.db` in its state directory
/// ([`crate::config::state_dir`]).
pub fn default_path(fleet: &str) -> Result<PathBuf, StoreError> {
    Ok(crate::config::state_dir(fleet).ok_or(StoreError::NoStateDir)?.join("state.db"))
}

/// Switches the database to WAL (a no-op once it is: the mode is kept in the file).
/// SQLite answers BUSY at once, without waiting on the busy handler, when another
/// connection holds a lock the switch needs (two processes opening a new file together),
/// so this retries for up to [`BUSY_TIMEOUT`] itself.
fn enable_wal(conn: &Connection) -> rusqlite::Result<String> {
    const RETRY: Duration = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && waited < BUSY_TIMEOUT =>
            {
                std::thread::sleep(RETRY);
                waited += RETRY;
            }
            result => return result,
        }
    }
}

/// One connection to the state database. Open one per thread that needs it; two `Store`s
/// on the same file (in one process or two) see each other's committed writes.
pub struct Store {
    conn: Connection,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("location", &self.location()).finish()
    }
}

impl Store {
    /// Opens (creating it and its parent directories if needed) the database at `path`,
    /// and migrates it to the current schema. A database written by a newer fleetdeck is
    /// refused with [`StoreError::TooNew`] rather than guessed at.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        let open_error = |source| StoreError::Open { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(open_error)?;
        // The timeout first: switching to WAL itself needs a lock another process may hold.
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_error)?;
        // WAL lets readers (consoles) and the one writer at a time (whoever ticks) proceed
        // together; NORMAL sync is safe against corruption in WAL mode, and loses at most
        // the last transactions on power loss, which the next tick rewrites.
        let mode = enable_wal(&conn).map_err(open_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "state database is not in WAL mode");
        }
        conn.pragma_update(None, "synchronous", "normal").map_err(open_error)?;
        Store::init(conn, Some(path.to_path_buf()))
    }

    /// A private database in memory, gone when dropped: for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: PathBuf::from(":memory:"), source })?;
        Store::init(conn, None)
    }

    fn init(conn: Connection, path: Option<PathBuf>) -> Result<Store, StoreError> {
        let mut store = Store { conn, path };
        let location = store.location();
        schema::migrate(&mut store.conn, &location)?;
        Ok(store)
    }

    /// The file this store was opened on (None in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(schema::version(&self.conn)?)
    }

    /// Deletes everything that has expired at `now`: pauses, holds and silences. Reads
    /// already ignore expired rows; this only keeps the tables small. Returns how many
    /// rows went. Lease rows are kept (one a group): their version must only grow.
    pub fn prune_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut removed = 0;
            for sql in [
                "DELETE FROM pauses WHERE until IS NOT NULL AND until <= ?1",
                "DELETE FROM holds WHERE until <= ?1",
                "DELETE FROM silences WHERE until <= ?1",
            ] {
                removed += tx.execute(sql, [now])?;
            }
            Ok(removed)
        })
    }

    fn location(&self) -> String {
        self.path.as_ref().map_or_else(|| ":memory:".to_string(), |p| p.display().to_string())
    }

    /// Runs `f` in an `IMMEDIATE` transaction: the write lock is taken up front, so what
    /// `f` reads cannot change under it before it writes (the lease's compare-and-swap
    /// relies on this), and a busy database is waited for at `BEGIN`, not mid-way.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}
