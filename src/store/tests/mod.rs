//! Store tests, one file per concern. Files live in a temporary directory so the
//! restart guarantee (write, drop, reopen) and two-process sharing are tested on disk.

use std::path::PathBuf;

use tempfile::TempDir;

use crate::model::Timestamp;

mod history;
mod lease;
mod operator;
mod outbox;
mod schema;

/// `secs` seconds after the epoch.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_millis(secs * 1000)
}

/// A fresh directory and the database path inside it (the file does not exist yet).
fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    (dir, path)
}

/// The engine moves a store onto its own thread (or `spawn_blocking`), so it must be Send.
#[test]
fn a_store_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<crate::store::Store>();
    assert_send::<crate::store::StoreError>();
}
