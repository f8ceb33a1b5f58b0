//! 1-minute history on disk: a mean and a max per (group, metric, minute), kept for
//! [`HISTORY_RETENTION`]. The engine writes each closed minute, reads the last 24 hours
//! back at start for its charts, and reads the minute means of the whole retention window
//! ([`Store::profile_minutes`]) from which the policy builds the daily and weekly load
//! profiles predictive scaling needs: the store returns rows, it computes no profile.
//!
//! Minutes are keyed by their start; a time inside a minute is rounded down to it. Gaps
//! (a minute with no samples, NaN in the engine's buffers) are not stored: a missing row
//! is the gap.

use std::collections::BTreeMap;
use std::time::Duration;

use rusqlite::params;

use super::{Store, StoreError};
use crate::model::{MetricKind, Timestamp};

/// How long minutes are kept on disk (DESIGN.md): two weeks, so a weekly profile always
/// has at least one full week behind it.
pub const HISTORY_RETENTION: Duration = Duration::from_secs(14 * 86_400);

const MINUTE_MS: i64 = 60_000;

/// One minute of one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinuteAggregate {
    /// Start of the minute.
    pub minute: Timestamp,
    pub mean: f64,
    pub max: f64,
}

fn minute_start(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.as_millis().div_euclid(MINUTE_MS) * MINUTE_MS)
}

impl Store {
    /// Writes minutes of `group`'s `metric`. A minute already stored (the engine writes
    /// the open minute every tick, and again after a restart) takes the new mean and keeps
    /// the larger max: a restart inside a minute must not erase the spike before it.
    /// Minutes whose mean is not finite are gaps and are skipped. Returns how many were
    /// written.
    pub fn record_minutes(
        &self,
        group: &str,
        metric: &MetricKind,
        minutes: &[MinuteAggregate],
    ) -> Result<usize, StoreError> {
        self.record_minutes_batch(&[(group, metric, minutes)])
    }

    /// Writes many series' minutes in one transaction (what the engine does each tick):
    /// `(group, metric, minutes)`, each as [`record_minutes`](Self::record_minutes) does.
    pub fn record_minutes_batch(
        &self,
        batch: &[(&str, &MetricKind, &[MinuteAggregate])],
    ) -> Result<usize, StoreError> {
        // SQLite stores NaN as NULL; a NULL max never replaces a number.
        self.write_minutes(
            batch,
            "DO UPDATE SET mean = excluded.mean,
               max = CASE WHEN history_1m.max IS NULL OR excluded.max > history_1m.max
                          THEN excluded.max ELSE history_1m.max END",
        )
    }

    /// Writes the minutes of `batch` the store does not hold yet, keeping every one it
    /// holds: history read back from a source (the backfill) fills gaps, while what the
    /// engine recorded itself stays. Returns how many were written.
    pub fn fill_minutes_batch(
        &self,
        batch: &[(&str, &MetricKind, &[MinuteAggregate])],
    ) -> Result<usize, StoreError> {
        self.write_minutes(batch, "DO NOTHING")
    }

    /// Inserts `batch`'s finite minutes in one transaction, `on_conflict` deciding what
    /// happens to a minute already stored; how many rows changed.
    fn write_minutes(
        &self,
        batch: &[(&str, &MetricKind, &[MinuteAggregate])],
        on_conflict: &str,
    ) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO history_1m (group_name, metric, minute, mean, max) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (group_name, metric, minute) {on_conflict}"
        );
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(&sql)?;
            let mut written = 0;
            for (group, metric, minutes) in batch {
                for m in minutes.iter().filter(|m| m.mean.is_finite()) {
                    written += stmt.execute(params![group, metric, minute_start(m.minute), m.mean, m.max])?;
                }
            }
            Ok(written)
        })
    }

    /// Every stored series of `group` from `since` on, by metric, oldest minute first.
    pub fn load_group_minutes(
        &self,
        group: &str,
        since: Timestamp,
    ) -> Result<BTreeMap<MetricKind, Vec<MinuteAggregate>>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT metric, minute, mean, max FROM history_1m
             WHERE group_name = ?1 AND minute >= ?2 ORDER BY metric, minute",
        )?;
        let rows = stmt.query_map(params![group, since], |row| {
            let aggregate = MinuteAggregate {
                minute: row.get(1)?,
                mean: row.get(2)?,
                max: row.get::<_, Option<f64>>(3)?.unwrap_or(f64::NAN),
            };
            Ok((row.get::<_, MetricKind>(0)?, aggregate))
        })?;
        let mut out: BTreeMap<MetricKind, Vec<MinuteAggregate>> = BTreeMap::new();
        for row in rows {
            let (metric, aggregate) = row?;
            out.entry(metric).or_default().push(aggregate);
        }
        Ok(out)
    }

    /// The stored minutes of `group`'s `metric` starting at or after `since`, oldest first.
    pub fn load_minutes(
        &self,
        group: &str,
        metric: &MetricKind,
        since: Timestamp,
    ) -> Result<Vec<MinuteAggregate>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT minute, mean, max FROM history_1m
             WHERE group_name = ?1 AND metric = ?2 AND minute >= ?3 ORDER BY minute",
        )?;
        let rows = stmt.query_map(params![group, metric, since], |row| {
            Ok(MinuteAggregate {
                minute: row.get(0)?,
                mean: row.get(1)?,
                max: row.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes every minute that started before `older_than` (normally
    /// `now − HISTORY_RETENTION`); returns how many.
    pub fn prune_history(&self, older_than: Timestamp) -> Result<usize, StoreError> {
        self.write(|tx| Ok(tx.execute("DELETE FROM history_1m WHERE minute < ?1", [older_than])?))
    }

    /// The minute means of `group`'s `metric` stored in the retention window before `now`
    /// (`[now − HISTORY_RETENTION, now)`), oldest first: what the load profiles of
    /// predictive scaling are built from (`policy::predictive::build_load_profile`).
    pub fn profile_minutes(
        &self,
        group: &str,
        metric: &MetricKind,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, f64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT minute, mean FROM history_1m
             WHERE group_name = ?1 AND metric = ?2 AND minute >= ?3 AND minute < ?4 ORDER BY minute",
        )?;
        let since = now.minus(HISTORY_RETENTION);
        let points = stmt
            .query_map(params![group, metric, since, now], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<(Timestamp, f64)>, _>>()?;
        Ok(points)
    }
}
