//! Per-group leases: only the holder of a group's lease acts on it and pages for it
//! (DESIGN.md, "One autoscaler per group, many consoles"). [`LeaseStore`] is the one
//! contract every store meets — the local SQLite store for one machine
//! ([`SqliteLeaseStore`](crate::store::SqliteLeaseStore)), and later a DynamoDB
//! conditional write or a Kubernetes `Lease` for a fleet: read a group's record, and
//! write it only if nobody else has since (compare-and-swap on the record's revision).
//!
//! A store only stores. *Who* holds a lease, and whether it has run out, is the engine's
//! judgement (`engine::lease`), made as client-go's leader election makes it: on the
//! engine's own monotonic clock, from when it last saw the record change, never from the
//! holder's wall clock (`expires_at` is for people).
//!
//! Two numbers on every record:
//! - `version` grows with each new holder: the fencing value. Stores and targets that can
//!   compare-and-swap on it do; a target that cannot (an ASG's SetDesiredCapacity, a
//!   tag) is protected by the engine's timing rule alone.
//! - `revision` grows with every write (renewals too), as a Kubernetes `resourceVersion`
//!   does: what a write is conditional on, and how an observer sees the holder is alive.

use std::time::Duration;

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// A group's lease as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub group: String,
    /// Who holds it (`user@host:pid`, unique per running engine); empty once released.
    pub holder: String,
    /// For people: "owned by daemon@gpu-ops-1".
    pub host: String,
    /// When this holder took it (the holder's clock; renewals keep it).
    pub acquired_at: Timestamp,
    /// When the holder last renewed it (the holder's clock).
    pub renewed_at: Timestamp,
    /// `renewed_at + ttl`: when it runs out if not renewed, on the holder's clock. Shown,
    /// never used by another engine to judge expiry.
    pub expires_at: Timestamp,
    /// How long after it last changes another engine may take it.
    #[serde(with = "crate::model::duration_text")]
    pub ttl: Duration,
    /// Grows by one with each new holder: the fencing value.
    pub version: u64,
    /// Grows with every write; set by the store.
    pub revision: u64,
}

impl LeaseRecord {
    /// Nobody holds it: released by its last holder (the version is kept, so the next
    /// holder's is higher still).
    pub fn is_free(&self) -> bool {
        self.holder.is_empty()
    }
}

/// A lease store that did not answer as it should. The engine treats every one alike:
/// the lease is not renewed this round, and the timing rule decides how long the lease
/// already held may still be acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lease store: {0}")]
pub struct LeaseError(pub String);

/// A store of per-group lease records with compare-and-swap writes.
pub trait LeaseStore: Send + Sync {
    /// Short name for the UI and logs, e.g. `sqlite`.
    fn name(&self) -> &str;

    /// Whether every engine using this store runs on this machine (a local file): then a
    /// holder on this host whose process is gone has provably stopped, and its lease may
    /// be taken without waiting out its ttl.
    fn is_local(&self) -> bool {
        false
    }

    /// The group's record as stored, if there is one.
    fn get<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>>;

    /// Writes `record` (its `revision` is ignored) if the stored record's revision is
    /// still `expected` (None: if there is no record yet). Returns the record as written,
    /// with its new revision, or None when another write came first. Atomic: of several
    /// writers expecting the same revision, exactly one succeeds.
    fn put<'a>(
        &'a self,
        record: LeaseRecord,
        expected: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<LeaseRecord>, LeaseError>>;
}
