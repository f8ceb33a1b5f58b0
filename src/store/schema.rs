//! The schema and its history. The version lives in SQLite's `PRAGMA user_version`
//! (0 for a new file); [`MIGRATIONS`] is the ordered list of steps, step `i` taking the
//! database from version `i` to `i + 1`. Steps are append-only: once released a step is
//! never edited, a change is a new step.
//!
//! Opening runs the missing steps in one `IMMEDIATE` transaction, re-reading the version
//! inside it, so two processes opening a fresh file together migrate it once. A database
//! newer than [`CURRENT_VERSION`] is refused: an old binary must not write rows it does not
//! understand into tables it does not know.
//!
//! Tables are `STRICT` (SQLite checks column types). Times are INTEGER milliseconds since
//! the UNIX epoch; enums and metric kinds are their snake_case names as TEXT. Enum columns
//! have no CHECK lists, so adding a variant needs no table rebuild; reading validates them.

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Each step, in order; the database's version is the number of steps applied.
pub const MIGRATIONS: &[&str] = &[
    // 1: operator and breaker state, and local leases.
    "
    CREATE TABLE pauses (
        group_name TEXT PRIMARY KEY,    -- '*' pauses every group
        mode TEXT NOT NULL,             -- full | scale_in_only
        set_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        since INTEGER NOT NULL,
        until INTEGER                   -- NULL: until someone resumes
    ) STRICT;
    CREATE TABLE holds (
        group_name TEXT PRIMARY KEY,
        desired INTEGER NOT NULL CHECK (desired >= 0),
        until INTEGER NOT NULL,
        beyond_max INTEGER NOT NULL CHECK (beyond_max IN (0, 1)),
        set_by TEXT NOT NULL,
        reason TEXT NOT NULL
    ) STRICT;
    CREATE TABLE breaker_trips (
        group_name TEXT NOT NULL,
        kind TEXT NOT NULL,             -- stale_data | budget | flapping | actuator_failures
        mode TEXT NOT NULL,             -- full | scale_in_only | scale_out_only
        since INTEGER NOT NULL,
        cause TEXT NOT NULL,
        reset_condition TEXT NOT NULL,
        PRIMARY KEY (group_name, kind)
    ) STRICT;
    CREATE TABLE silences (
        group_name TEXT PRIMARY KEY,
        until INTEGER NOT NULL,
        set_by TEXT NOT NULL,
        reason TEXT NOT NULL
    ) STRICT;
    CREATE TABLE leases (
        group_name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        host TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    ",
    // 2: the notification outbox. At most one unsent message per (channel, dedup_key).
    "
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        channel TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        payload TEXT NOT NULL,          -- JSON
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        sent_at INTEGER
    ) STRICT;
    CREATE UNIQUE INDEX outbox_unsent_dedup ON outbox (channel, dedup_key) WHERE sent_at IS NULL;
    CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
    ",
    // 3: 1-minute history. The index on minute keeps the retention sweep from scanning.
    "
    CREATE TABLE history_1m (
        group_name TEXT NOT NULL,
        metric TEXT NOT NULL,
        minute INTEGER NOT NULL,        -- start of the minute
        mean REAL NOT NULL,
        max REAL,                       -- NULL when not a number
        PRIMARY KEY (group_name, metric, minute)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX history_1m_minute ON history_1m (minute);
    ",
    // 4: shadow mode set by an operator (`:shadow GROUP on|off`); a group without a row
    // runs as its config says.
    "
    CREATE TABLE shadow_modes (
        group_name TEXT PRIMARY KEY,
        shadow INTEGER NOT NULL CHECK (shadow IN (0, 1)),
        set_by TEXT NOT NULL,
        since INTEGER NOT NULL
    ) STRICT;
    ",
    // 5: leases judged by the observer's clock (renewed_at, ttl) with a fencing version
    // (one more per new holder) and a revision every write is conditional on. A released
    // lease keeps its row with an empty holder, so versions only grow.
    "
    ALTER TABLE leases ADD COLUMN renewed_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE leases ADD COLUMN ttl_ms INTEGER NOT NULL DEFAULT 0 CHECK (ttl_ms >= 0);
    ALTER TABLE leases ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 0);
    ALTER TABLE leases ADD COLUMN revision INTEGER NOT NULL DEFAULT 1 CHECK (revision >= 0);
    UPDATE leases SET renewed_at = acquired_at;
    ",
    // 6: the outbox per notifier (`channel` names it; `dedup_key` is now the message's
    // key, unique per notifier while the row is kept), ordered per `order_key`, claimed
    // by one sender at a time; the open page episodes. The pages of schema 2–5 (channel
    // `alarms`, which no notifier sends) become open episodes and leave the outbox.
    "
    ALTER TABLE outbox ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
    CREATE TABLE open_pages (
        group_name TEXT NOT NULL,
        alarm TEXT NOT NULL,
        dedup_key TEXT NOT NULL UNIQUE,
        summary TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (group_name, alarm)
    ) STRICT;
    INSERT OR IGNORE INTO open_pages (group_name, alarm, dedup_key, summary, since)
        SELECT json_extract(o.payload, '$.group'), json_extract(o.payload, '$.alarm'),
               json_extract(o.payload, '$.dedup_key'), json_extract(o.payload, '$.summary'), o.created_at
        FROM outbox o
        WHERE o.channel = 'alarms' AND json_valid(o.payload)
          AND json_extract(o.payload, '$.kind') = 'trigger'
          AND o.id = (SELECT max(l.id) FROM outbox l
                      WHERE l.channel = 'alarms' AND json_valid(l.payload)
                        AND json_extract(l.payload, '$.group') = json_extract(o.payload, '$.group')
                        AND json_extract(l.payload, '$.alarm') = json_extract(o.payload, '$.alarm'));
    DELETE FROM outbox WHERE channel = 'alarms';
    UPDATE outbox SET order_key = dedup_key;
    DELETE FROM outbox WHERE id NOT IN (SELECT max(id) FROM outbox GROUP BY channel, dedup_key);
    DROP INDEX outbox_unsent_dedup;
    CREATE UNIQUE INDEX outbox_message ON outbox (channel, dedup_key);
    CREATE INDEX outbox_order ON outbox (channel, order_key) WHERE sent_at IS NULL;
    ",
    // 7: delivery outcomes: the last error, a row the service refused for good (given up,
    // never retried, no longer holding up its order key), and the service's receipt of a
    // sent row (Slack's channel and `ts`, to thread a follow-up under it).
    "
    ALTER TABLE outbox ADD COLUMN last_error TEXT;
    ALTER TABLE outbox ADD COLUMN given_up_at INTEGER;
    ALTER TABLE outbox ADD COLUMN receipt TEXT;
    ",
    // 8: an open episode's severity, so its resolve goes where its trigger went.
    "
    ALTER TABLE open_pages ADD COLUMN severity TEXT NOT NULL DEFAULT 'error';
    ",
];

/// The version this build writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// The database's schema version (`PRAGMA user_version`).
pub fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Brings the database to [`CURRENT_VERSION`]; `location` names it in errors.
pub(super) fn migrate(conn: &mut Connection, location: &str) -> Result<(), StoreError> {
    migrate_to(conn, location, CURRENT_VERSION)
}

/// Applies the steps up to `target` (tests build old databases with it).
pub(super) fn migrate_to(conn: &mut Connection, location: &str, target: i64) -> Result<(), StoreError> {
    let too_new =
        |found| StoreError::TooNew { location: location.to_string(), found, known: CURRENT_VERSION };
    // Checked before taking the write lock, so a read-only look at a newer file says why.
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(too_new(found));
    }
    if found >= target {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated between the check above and the lock.
    let found = version(&tx)?;
    if found > CURRENT_VERSION {
        return Err(too_new(found));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().take(target as usize).skip(found.max(0) as usize) {
        let to = step as i64 + 1;
        let fail = |source| StoreError::Migrate { location: location.to_string(), version: to, source };
        tx.execute_batch(sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", to).map_err(fail)?;
    }
    tx.commit()?;
    Ok(())
}
