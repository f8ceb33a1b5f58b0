//! What operators set by hand and expect to outlive a restart: pauses (the manual circuit
//! breaker, per group or global), holds (force-scale pins) and silences (muted
//! notifications). One of each per group; setting again replaces it.
//!
//! Reads take `now` and return only what is active then: an expired pause, hold or silence
//! is as good as absent, whether or not [`Store::prune_expired`] has deleted it yet. The
//! records carry the policy's own [`Pause`] and [`Hold`] so the engine hands them to
//! `decide` unchanged.

use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::Timestamp;
use crate::policy::{Hold, Pause};

/// The group name of a pause that applies to every group.
pub const GLOBAL: &str = "*";

/// A pause as stored: the policy's [`Pause`] plus which group and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseRecord {
    /// A group's name, or [`GLOBAL`].
    pub group: String,
    pub pause: Pause,
    pub since: Timestamp,
}

/// A force-scale hold as stored: the policy's [`Hold`] plus the group and the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRecord {
    pub group: String,
    pub hold: Hold,
    pub reason: String,
}

/// Notifications for a group are muted until `until` (evaluation goes on).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub group: String,
    pub until: Timestamp,
    pub by: String,
    pub reason: String,
}

impl Store {
    /// Pauses `group` (or every group, with [`GLOBAL`]), replacing any pause it had.
    pub fn set_pause(&self, group: &str, pause: &Pause, since: Timestamp) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO pauses (group_name, mode, set_by, reason, since, until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![group, pause.mode, pause.by, pause.reason, since, pause.until],
            )?;
            Ok(())
        })
    }

    /// Resumes `group`; false if it was not paused (an expired pause counts as not paused).
    pub fn clear_pause(&self, group: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.clear("pauses", group, now)
    }

    /// Pauses active at `now`, the global one (if any) first, then by group.
    pub fn pauses(&self, now: Timestamp) -> Result<Vec<PauseRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, mode, set_by, reason, since, until FROM pauses
             WHERE until IS NULL OR until > ?1
             ORDER BY group_name <> '*', group_name",
        )?;
        let rows = stmt.query_map([now], |row| {
            Ok(PauseRecord {
                group: row.get(0)?,
                pause: Pause { mode: row.get(1)?, by: row.get(2)?, reason: row.get(3)?, until: row.get(5)? },
                since: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pins `group`'s desired capacity, replacing any hold it had.
    pub fn set_hold(&self, group: &str, hold: &Hold, reason: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO holds (group_name, desired, until, beyond_max, set_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![group, hold.desired, hold.until, hold.beyond_max, hold.by, reason],
            )?;
            Ok(())
        })
    }

    /// Releases `group`'s hold; false if it had none active at `now`.
    pub fn clear_hold(&self, group: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.clear("holds", group, now)
    }

    /// Holds active at `now` ([`Hold::is_active`]), by group.
    pub fn holds(&self, now: Timestamp) -> Result<Vec<HoldRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, desired, until, beyond_max, set_by, reason FROM holds
             WHERE until > ?1 ORDER BY group_name",
        )?;
        let rows = stmt.query_map([now], hold_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Mutes `group`'s notifications until `silence.until`, replacing any silence it had.
    pub fn set_silence(&self, silence: &Silence) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO silences (group_name, until, set_by, reason) VALUES (?1, ?2, ?3, ?4)",
                params![silence.group, silence.until, silence.by, silence.reason],
            )?;
            Ok(())
        })
    }

    /// Unmutes `group`; false if it had no silence active at `now`.
    pub fn clear_silence(&self, group: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.clear("silences", group, now)
    }

    /// Silences active at `now`, by group.
    pub fn silences(&self, now: Timestamp) -> Result<Vec<Silence>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, until, set_by, reason FROM silences WHERE until > ?1 ORDER BY group_name",
        )?;
        let rows = stmt.query_map([now], |row| {
            Ok(Silence { group: row.get(0)?, until: row.get(1)?, by: row.get(2)?, reason: row.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Records that an operator put `group` in shadow mode (`true`) or act mode.
    pub fn set_shadow(
        &self,
        group: &str,
        shadow: bool,
        by: &str,
        since: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO shadow_modes (group_name, shadow, set_by, since) VALUES (?1, ?2, ?3, ?4)",
                params![group, shadow, by, since],
            )?;
            Ok(())
        })
    }

    /// The shadow modes operators set, by group: (group, shadow).
    pub fn shadow_modes(&self) -> Result<Vec<(String, bool)>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT group_name, shadow FROM shadow_modes ORDER BY group_name")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Store {
    /// Deletes `group`'s row from `table` (pauses, holds or silences), reporting whether it
    /// was active at `now`: with no `until`, or one still ahead.
    fn clear(&self, table: &str, group: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.write(|tx| {
            let sql = format!("DELETE FROM {table} WHERE group_name = ?1 RETURNING until");
            let until: Option<Option<Timestamp>> =
                tx.query_row(&sql, [group], |row| row.get(0)).optional()?;
            Ok(until.is_some_and(|until| until.is_none_or(|until| until > now)))
        })
    }
}

fn hold_from_row(row: &Row<'_>) -> rusqlite::Result<HoldRecord> {
    Ok(HoldRecord {
        group: row.get(0)?,
        hold: Hold { desired: row.get(1)?, until: row.get(2)?, beyond_max: row.get(3)?, by: row.get(4)? },
        reason: row.get(5)?,
    })
}
