use rusqlite::Connection;

use super::{at, temp_db};
use crate::policy::{Pause, PauseMode};
use crate::store::schema::{CURRENT_VERSION, migrate_to, version};
use crate::store::{Store, StoreError, default_path};

#[test]
fn a_new_file_is_migrated_to_the_current_version() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
}

#[test]
fn open_creates_missing_parent_directories_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/state.db");
    let store = Store::open(&path).unwrap();
    assert!(path.exists());
    let mode: String = store.conn.pragma_query_value(None, "journal_mode", |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_version_1_file_is_migrated_and_keeps_its_rows() {
    let (_dir, path) = temp_db();
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, "v1", 1).unwrap();
        assert_eq!(version(&conn).unwrap(), 1);
        conn.execute(
            "INSERT INTO pauses (group_name, mode, set_by, reason, since, until)
             VALUES ('llama-70b', 'scale_in_only', 'ana', 'incident 42', 1000, NULL)",
            [],
        )
        .unwrap();
        let outbox: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'outbox'", [], |row| row.get(0))
            .unwrap();
        assert_eq!(outbox, 0, "v1 has no outbox yet");
    }
    let store = Store::open(&path).unwrap();
    assert!(store.schema_version().unwrap() > 1, "a later step must exist for this test to mean anything");
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    let pauses = store.pauses(at(2)).unwrap();
    assert_eq!(pauses.len(), 1);
    assert_eq!(pauses[0].group, "llama-70b");
    assert_eq!(pauses[0].pause.mode, PauseMode::ScaleInOnly);
    // The later steps' tables work.
    let payload = serde_json::json!({});
    let message =
        crate::store::NewMessage { group: "llama-70b", message_key: "k", order_key: "k", payload: &payload };
    store.enqueue(&["slack"], &message, at(2)).unwrap();
    assert_eq!(store.claim_due("slack", at(2), 10, std::time::Duration::from_secs(30)).unwrap().len(), 1);
}

#[test]
fn a_version_5_file_keeps_its_leases_and_its_unresolved_pages_become_open_episodes() {
    let (_dir, path) = temp_db();
    {
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, "v5", 5).unwrap();
        conn.execute(
            "INSERT INTO leases (group_name, holder, host, acquired_at, expires_at, renewed_at, ttl_ms, version, revision)
             VALUES ('chat', 'daemon@ops:7', 'ops', 1000, 31000, 1000, 30000, 3, 9)",
            [],
        )
        .unwrap();
        // Schema 2–5 pages: channel `alarms`, the payload a Notification. p95 paged and
        // never resolved; queue paged and resolved.
        let row = |id: i64, alarm: &str, kind: &str| {
            let payload = serde_json::json!({
                "at": 1000 + id, "group": "chat", "alarm": alarm, "kind": kind,
                "dedup_key": format!("fleetdeck:chat:{alarm}"), "summary": format!("{alarm} high"),
            });
            conn.execute(
                "INSERT INTO outbox (id, created_at, channel, dedup_key, payload, next_attempt_at)
                 VALUES (?1, ?2, 'alarms', ?3, ?4, ?2)",
                rusqlite::params![
                    id,
                    1000 + id,
                    format!("fleetdeck:chat:{alarm}:{kind}:{id}"),
                    payload.to_string()
                ],
            )
            .unwrap();
        };
        row(1, "p95", "trigger");
        row(2, "queue", "trigger");
        row(3, "queue", "resolve");
    }
    let store = Store::open(&path).unwrap();
    let lease = store.lease("chat").unwrap().unwrap();
    assert_eq!((lease.holder.as_str(), lease.version, lease.revision), ("daemon@ops:7", 3, 9));
    let open = store.open_pages("chat").unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0].alarm.as_str(), open[0].dedup_key.as_str()), ("p95", "fleetdeck:chat:p95"));
    assert!(store.outbox_messages("alarms").unwrap().is_empty(), "no notifier sends `alarms`");
}

#[test]
fn a_database_from_a_newer_fleetdeck_is_refused_and_left_alone() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    match &err {
        StoreError::TooNew { found, known, .. } => {
            assert_eq!((*found, *known), (CURRENT_VERSION + 1, CURRENT_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert!(err.to_string().contains("newer"), "{err}");
    let conn = Connection::open(&path).unwrap();
    assert_eq!(version(&conn).unwrap(), CURRENT_VERSION + 1);
}

#[test]
fn reopening_a_current_database_changes_nothing() {
    let (_dir, path) = temp_db();
    let pause = Pause { mode: PauseMode::Full, by: "ana".into(), until: None, reason: String::new() };
    Store::open(&path).unwrap().set_pause("g", &pause, at(1)).unwrap();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
    assert_eq!(store.pauses(at(2)).unwrap().len(), 1);
}

#[test]
fn processes_opening_a_new_file_together_migrate_it_once() {
    let (_dir, path) = temp_db();
    let barrier = std::sync::Barrier::new(4);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                barrier.wait();
                let store = Store::open(&path).unwrap();
                assert_eq!(store.schema_version().unwrap(), CURRENT_VERSION);
            });
        }
    });
}

#[test]
fn the_default_path_is_state_db_in_the_fleet_state_directory() {
    let path = default_path("demo").unwrap();
    assert!(path.ends_with("fleetdeck/demo/state.db"), "{}", path.display());
}
