//! Per-group leases: only the holder of a group's lease acts on it (DESIGN.md, "One
//! autoscaler per group"). [`Lease`] is the compare-and-swap contract any lease store
//! meets; [`Store`] meets it for processes on one machine. A Kubernetes `Lease` object or
//! a DynamoDB conditional write can meet it later for a fleet-wide one.
//!
//! A holder is identified by its `holder` string alone, so it must be unique per running
//! engine (e.g. `daemon:4242` or a random instance id): two engines giving the same holder
//! would both believe they own the group. `host` is for people ("owned by daemon@gpu-ops-1").

use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::Timestamp;

/// Who holds a group's lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub group: String,
    pub holder: String,
    pub host: String,
    /// When this holder first took the lease (renewals keep it).
    pub acquired_at: Timestamp,
    /// The lease is free from this instant on unless renewed.
    pub expires_at: Timestamp,
}

/// What [`Lease::try_acquire`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease was free or had expired, and is now ours. `expired` is the previous
    /// holder whose lease ran out, if any (worth a log line: that engine stopped renewing).
    Acquired { lease: LeaseRecord, expired: Option<LeaseRecord> },
    /// We held it already; its expiry moved on.
    Renewed(LeaseRecord),
    /// Someone else holds it; we observe.
    HeldBy(LeaseRecord),
}

impl LeaseOutcome {
    /// Whether the caller holds the lease now (and may act on the group).
    pub fn is_ours(&self) -> bool {
        !matches!(self, LeaseOutcome::HeldBy(_))
    }

    /// The lease as it stands after the call, whoever holds it.
    pub fn lease(&self) -> &LeaseRecord {
        match self {
            LeaseOutcome::Acquired { lease, .. }
            | LeaseOutcome::Renewed(lease)
            | LeaseOutcome::HeldBy(lease) => lease,
        }
    }
}

/// A store of per-group leases with compare-and-swap semantics. Synchronous, like the
/// rest of the store; a networked implementation is called the same way (off the tick).
pub trait Lease {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Takes or renews `group`'s lease for `ttl` from `now` if it is free, expired, or
    /// already `holder`'s; otherwise reports who holds it. Atomic: of several callers
    /// racing for a free lease, exactly one gets it.
    fn try_acquire(
        &self,
        group: &str,
        holder: &str,
        host: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<LeaseOutcome, Self::Error>;

    /// Gives up `group`'s lease if `holder` has it (an engine shutting down); false if it
    /// was someone else's or nobody's, which is left alone.
    fn release(&self, group: &str, holder: &str) -> Result<bool, Self::Error>;

    /// Who holds `group`'s lease at `now`; None if free or expired.
    fn holder(&self, group: &str, now: Timestamp) -> Result<Option<LeaseRecord>, Self::Error>;
}

const SELECT_LEASE: &str =
    "SELECT group_name, holder, host, acquired_at, expires_at FROM leases WHERE group_name = ?1";

fn lease_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<LeaseRecord> {
    Ok(LeaseRecord {
        group: row.get(0)?,
        holder: row.get(1)?,
        host: row.get(2)?,
        acquired_at: row.get(3)?,
        expires_at: row.get(4)?,
    })
}

impl Lease for Store {
    type Error = StoreError;

    fn try_acquire(
        &self,
        group: &str,
        holder: &str,
        host: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<LeaseOutcome, StoreError> {
        let expires_at = now.plus(ttl);
        // IMMEDIATE: the write lock is held from the read to the write, so no other
        // process can take the lease in between (the compare-and-swap).
        self.write(|tx| {
            let current = tx.query_row(SELECT_LEASE, [group], lease_from_row).optional()?;
            let (acquired_at, renewed, expired) = match current {
                Some(lease) if lease.holder == holder => (lease.acquired_at, true, None),
                Some(lease) if lease.expires_at > now => return Ok(LeaseOutcome::HeldBy(lease)),
                expired => (now, false, expired),
            };
            let lease = LeaseRecord {
                group: group.to_string(),
                holder: holder.to_string(),
                host: host.to_string(),
                acquired_at,
                expires_at,
            };
            tx.execute(
                "INSERT OR REPLACE INTO leases (group_name, holder, host, acquired_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![lease.group, lease.holder, lease.host, lease.acquired_at, lease.expires_at],
            )?;
            Ok(if renewed { LeaseOutcome::Renewed(lease) } else { LeaseOutcome::Acquired { lease, expired } })
        })
    }

    fn release(&self, group: &str, holder: &str) -> Result<bool, StoreError> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM leases WHERE group_name = ?1 AND holder = ?2",
                params![group, holder],
            )? > 0)
        })
    }

    fn holder(&self, group: &str, now: Timestamp) -> Result<Option<LeaseRecord>, StoreError> {
        let lease = self.conn.query_row(SELECT_LEASE, [group], lease_from_row).optional()?;
        Ok(lease.filter(|lease| lease.expires_at > now))
    }
}
