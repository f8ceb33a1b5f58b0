//! Automatic circuit-breaker trips (DESIGN.md, "Circuit breaker and operator actions"):
//! at most one per (group, kind), each with what it blocks, why, and what resets it.
//!
//! The engine decides when a trip opens and when its reset condition holds; the store only
//! remembers open trips across a restart. Trips do not expire by time: they are cleared.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::PauseMode;
use crate::model::Timestamp;

/// What tripped the breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerKind {
    /// Stale or missing metrics (freezes scale-in until fresh data returns).
    StaleData,
    /// Budget breached (freezes scale-out until under budget).
    Budget,
    /// Too many direction changes in a window (full freeze for the window).
    Flapping,
    /// Consecutive actuator failures (full freeze until an operator resets).
    ActuatorFailures,
}

impl BreakerKind {
    /// The alarm an open trip of this kind raises: `breaker-stale-data`, ….
    pub fn alarm_name(self) -> &'static str {
        match self {
            BreakerKind::StaleData => "breaker-stale-data",
            BreakerKind::Budget => "breaker-budget",
            BreakerKind::Flapping => "breaker-flapping",
            BreakerKind::ActuatorFailures => "breaker-actuator-failures",
        }
    }
}

/// What a trip blocks. Unlike an operator's [`PauseMode`], a trip may block scale-out
/// alone (a budget breach must not freeze a fleet that needs to shrink).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TripMode {
    /// No automated change.
    Full,
    /// Scale-in blocked, scale-out continues.
    ScaleInOnly,
    /// Scale-out blocked, scale-in continues.
    ScaleOutOnly,
}

impl From<PauseMode> for TripMode {
    fn from(mode: PauseMode) -> Self {
        match mode {
            PauseMode::Full => TripMode::Full,
            PauseMode::ScaleInOnly => TripMode::ScaleInOnly,
        }
    }
}

/// An open trip, as shown in the UI: mode, cause and reset condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerTrip {
    pub group: String,
    pub kind: BreakerKind,
    pub mode: TripMode,
    pub since: Timestamp,
    /// Why it tripped, in words ("no gpu_util sample for 2m").
    pub cause: String,
    /// What closes it, in words ("fresh data returns").
    pub reset_condition: String,
}

impl Store {
    /// Records an open trip, replacing any of the same kind for the group.
    pub fn set_trip(&self, trip: &BreakerTrip) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO breaker_trips (group_name, kind, mode, since, cause, reset_condition)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                rusqlite::params![
                    trip.group,
                    trip.kind,
                    trip.mode,
                    trip.since,
                    trip.cause,
                    trip.reset_condition
                ],
            )?;
            Ok(())
        })
    }

    /// Closes a trip; false if none was open.
    pub fn clear_trip(&self, group: &str, kind: BreakerKind) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM breaker_trips WHERE group_name = ?1 AND kind = ?2",
                rusqlite::params![group, kind],
            )? > 0)
        })
    }

    /// Every open trip, by group then time.
    pub fn trips(&self) -> Result<Vec<BreakerTrip>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT group_name, kind, mode, since, cause, reset_condition FROM breaker_trips
             ORDER BY group_name, since, kind",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(BreakerTrip {
                group: row.get(0)?,
                kind: row.get(1)?,
                mode: row.get(2)?,
                since: row.get(3)?,
                cause: row.get(4)?,
                reset_condition: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
