//! Holding a group's lease (DESIGN.md, "One autoscaler per group"), as client-go's leader
//! election holds one, over any [`LeaseStore`]:
//!
//! - **Taking.** A record nobody holds (none yet, or released) is taken at once. Another
//!   engine's record is taken only once it has stood unchanged for its `ttl`, counted on
//!   *our* monotonic clock from when we first saw it in that form — never from the
//!   holder's `expires_at`, which is its wall clock. So a fresh observer waits a whole ttl
//!   before it takes over from a holder that stopped without releasing. Each new holder
//!   writes `version + 1`; every write is conditional on the revision read.
//! - **Renewing** is a write of our own record with a fresh wall-clock reading, made
//!   after the polls (never with the tick's start time).
//! - **Acting** (the timing rule): only while the time left on our lease exceeds the call
//!   timeout plus a clock-skew margin, where the lease runs from the moment the renew
//!   request was *sent* (the others cannot have seen it any earlier), on the monotonic
//!   clock. The engine checks this when it decides and again right before each call.
//!   Targets that cannot check the fencing version (an ASG's SetDesiredCapacity, a tag)
//!   are protected by this rule alone.
//!
//! How soon a dead holder is replaced: an observer takes over within `ttl` plus two of
//! its own poll intervals of the holder's last renewal (README, "Leases"). With a local
//! store (one machine) a holder of this host whose process is gone — `kill -9` — is
//! replaced at once.

use std::time::Duration;

use super::tick::Authority;
use crate::lease::{LeaseError, LeaseRecord, LeaseStore};
use crate::model::{Timestamp, format_duration};

/// How long leases last and how much the timing rule holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    pub ttl: Duration,
    /// Added to the call timeout when judging whether enough of our lease is left to act:
    /// how far apart two engines' clocks may run over one ttl.
    pub skew_margin: Duration,
}

impl LeaseTiming {
    /// The default: three polls, and never less than three call timeouts, so a tick whose
    /// polls all time out can still renew and act; 2 s of skew.
    pub fn default_for(poll_interval: Duration, call_timeout: Duration) -> Self {
        LeaseTiming {
            ttl: poll_interval.saturating_mul(3).max(call_timeout.saturating_mul(3)),
            skew_margin: Duration::from_secs(2),
        }
    }

    /// What the timing rule needs left on a lease to start a call.
    pub fn needed_to_act(&self, call_timeout: Duration) -> Duration {
        call_timeout.saturating_add(self.skew_margin)
    }
}

/// Both clocks, read together just before a store call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading {
    pub now: Timestamp,
    pub mono: Duration,
}

impl Reading {
    pub fn of(clock: &dyn crate::clock::Clock) -> Self {
        Reading { now: clock.now(), mono: clock.monotonic() }
    }
}

/// Who we are in lease records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `user@host:pid`: unique per running engine.
    pub holder: String,
    pub host: String,
}

impl Identity {
    /// Whether `record`'s holder is an engine of this host whose process no longer runs
    /// (killed without giving its lease back). Only a live process can be mistaken for
    /// a dead one by pid reuse, which errs on the safe side: the lease is then waited out.
    pub fn holder_is_gone(&self, record: &LeaseRecord) -> bool {
        if record.host != self.host || record.holder == self.holder {
            return false;
        }
        let Some(pid) = record.holder.rsplit_once(':').and_then(|(_, pid)| pid.parse::<u32>().ok()) else {
            return false;
        };
        cfg!(target_os = "linux") && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }
}

/// One group's lease as this engine knows it.
#[derive(Clone, Debug, Default)]
pub struct LeaseKeeper {
    /// The record as last read or written, and the monotonic time we first saw it so.
    observed: Option<(LeaseRecord, Duration)>,
    /// Ours until then (monotonic), counted from when the renew that won it was sent.
    ours_until: Option<Duration>,
    /// The last round's failure, if it failed.
    pub error: Option<LeaseError>,
}

/// What a round did, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Round {
    /// We hold it (taken now: `taken_from` is the previous holder, if any).
    Ours { taken: bool, taken_from: Option<String> },
    /// Someone else holds it.
    Theirs,
    /// Nobody holds it and we do not take it (read-only).
    Free,
}

impl LeaseKeeper {
    /// The record as last seen, unless it is free: who acts on the group, for the snapshot.
    pub fn holder(&self) -> Option<&LeaseRecord> {
        self.observed.as_ref().map(|(record, _)| record).filter(|r| !r.is_free())
    }

    /// Whether our lease is still running at `mono_now` (however little is left).
    pub fn held(&self, mono_now: Duration) -> bool {
        self.ours_until.is_some_and(|until| until > mono_now)
    }

    /// Time left on our lease at `mono_now` (zero if we hold none).
    pub fn time_left(&self, mono_now: Duration) -> Duration {
        self.ours_until.map_or(Duration::ZERO, |until| until.saturating_sub(mono_now))
    }

    /// The timing rule: whether a call may start at `mono_now`.
    pub fn may_act(&self, mono_now: Duration, timing: &LeaseTiming, call_timeout: Duration) -> bool {
        self.time_left(mono_now) > timing.needed_to_act(call_timeout)
    }

    fn observe(&mut self, record: &LeaseRecord, seen_at: Duration) {
        let same = self.observed.as_ref().is_some_and(|(r, _)| r == record);
        if !same {
            self.observed = Some((record.clone(), seen_at));
        }
    }

    /// One round: read the record, then take or renew it if `take` (an engine that may act
    /// on or page for the group), or only look. `at` is read just before the store is
    /// called: the wall clock for the record, the monotonic one for our lease.
    pub async fn round(
        &mut self,
        store: &dyn LeaseStore,
        group: &str,
        me: &Identity,
        timing: &LeaseTiming,
        take: bool,
        at: Reading,
    ) -> Result<Round, LeaseError> {
        let result = self.try_round(store, group, me, timing, take, at).await;
        self.error = result.as_ref().err().cloned();
        result
    }

    async fn try_round(
        &mut self,
        store: &dyn LeaseStore,
        group: &str,
        me: &Identity,
        timing: &LeaseTiming,
        take: bool,
        at: Reading,
    ) -> Result<Round, LeaseError> {
        let Reading { now, mono: sent } = at;
        let current = store.get(group).await?;
        if let Some(record) = &current {
            self.observe(record, sent);
        }
        if current.as_ref().is_none_or(|r| r.holder != me.holder) {
            // Whatever we believed, the store says it is not ours.
            self.ours_until = None;
        }
        let ours = current.as_ref().is_some_and(|r| r.holder == me.holder);
        let expired = |record: &LeaseRecord| {
            self.observed.as_ref().is_some_and(|(r, seen)| {
                r.revision == record.revision && sent.saturating_sub(*seen) >= record.ttl
            })
        };
        let (acquired_at, version, taken_from) = match &current {
            _ if !take => {
                return Ok(match self.holder() {
                    Some(_) => Round::Theirs,
                    None => Round::Free,
                });
            }
            None => (now, 1, None),
            Some(record) if ours => (record.acquired_at, record.version, None),
            Some(record) if record.is_free() => (now, record.version.saturating_add(1), None),
            Some(record) if expired(record) || (store.is_local() && me.holder_is_gone(record)) => {
                (now, record.version.saturating_add(1), Some(record.holder.clone()))
            }
            Some(_) => return Ok(Round::Theirs),
        };
        let mine = LeaseRecord {
            group: group.to_string(),
            holder: me.holder.clone(),
            host: me.host.clone(),
            acquired_at,
            renewed_at: now,
            expires_at: now.plus(timing.ttl),
            ttl: timing.ttl,
            version,
            revision: 0,
        };
        match store.put(mine, current.as_ref().map(|r| r.revision)).await? {
            Some(written) => {
                self.observe(&written, sent);
                self.ours_until = Some(sent.saturating_add(timing.ttl));
                Ok(Round::Ours { taken: !ours, taken_from })
            }
            // Another write came first: we learn whose on the next round.
            None => {
                self.ours_until = None;
                Ok(Round::Theirs)
            }
        }
    }

    /// Gives the lease back if we hold it, so another engine can act at once; its version
    /// is kept. A lease someone else took meanwhile is left alone.
    pub async fn release(
        &mut self,
        store: &dyn LeaseStore,
        me: &Identity,
        now: Timestamp,
    ) -> Result<bool, LeaseError> {
        let Some((record, _)) = self.observed.clone().filter(|(r, _)| r.holder == me.holder) else {
            return Ok(false);
        };
        self.ours_until = None;
        let free = LeaseRecord { holder: String::new(), renewed_at: now, expires_at: now, ..record.clone() };
        let written = store.put(free, Some(record.revision)).await?;
        if let Some(written) = &written {
            self.observed = Some((written.clone(), Duration::ZERO));
        }
        Ok(written.is_some())
    }
}

/// What a group's lease lets this engine do this tick: act or not (and why not), and
/// page. `required`: acting on the group needs a lease (see `Engine::lease_required`);
/// `store`: there is a lease store to hold one in.
pub(super) fn authority(
    keeper: &LeaseKeeper,
    required: bool,
    store: bool,
    me: &Identity,
    mono_now: Duration,
    timing: &LeaseTiming,
    call_timeout: Duration,
) -> (Authority, bool) {
    if !required {
        return (Authority::Act, true);
    }
    if !store {
        let why =
            "no state store, so no lease: observing only (a real backend is never acted on without one)";
        return (Authority::NoLease { why: why.into() }, false);
    }
    let pages = keeper.held(mono_now);
    if keeper.may_act(mono_now, timing, call_timeout) {
        return (Authority::Act, pages);
    }
    let authority = match keeper.holder() {
        Some(record) if record.holder != me.holder => Authority::Observe { holder: record.holder.clone() },
        _ if pages => Authority::NoLease {
            why: format!(
                "our lease has {} left, under the {} a call needs (timeout + skew margin)",
                format_duration(keeper.time_left(mono_now)),
                format_duration(timing.needed_to_act(call_timeout))
            ),
        },
        _ => Authority::NoLease {
            why: match &keeper.error {
                Some(err) => format!("no lease: {err}"),
                None => "no lease yet".to_string(),
            },
        },
    };
    (authority, pages)
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
