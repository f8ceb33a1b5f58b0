//! The engine's calls to its backends, shaped so they never borrow the engine: each
//! tick's polls and observations, and its actions, are futures that own what they need
//! (the connection's `Arc`, the groups' specs, a concurrency permit), so the engine can
//! answer operator commands while they are in flight (`Engine::serving_commands`).
//!
//! Per tick: every source connection whose poll is due is polled once for all its
//! groups (one batch call); each of those groups' actuators is asked to observe, at most
//! `max_concurrency` calls in flight per actuator connection. Every call is bounded by
//! the call timeout; a timeout is a transient failure.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use crate::actuators::Observation;
use crate::backends::{ActuatorConnection, SourceConnection};
use crate::model::{BackendError, GroupSpec, MetricKind, Timestamp};
use crate::sources::{GroupPoll, SourceAlert, SourceAlerts};

use super::health::Health;
use super::lease::LeaseKeeper;
use std::collections::BTreeMap;

/// A source connection as the engine runs it.
pub(super) struct SourceIo {
    pub conn: SourceConnection,
    /// Failures of the whole call (unreachable, throttled, credentials).
    pub health: Health,
    /// When its groups are polled next.
    pub next_poll: Option<Timestamp>,
    /// Since when its alerts cannot be read, if they cannot.
    pub alerts_failing_since: Option<Timestamp>,
}

impl SourceIo {
    pub fn new(conn: SourceConnection) -> Self {
        SourceIo { conn, health: Health::default(), next_poll: None, alerts_failing_since: None }
    }

    /// Whether its poll slot has come at `now` (always, for a source that polls at the
    /// engine's own tick or faster); moves the slot on when it has. Slots keep their
    /// cadence: a tick a little late does not shift every later one.
    pub fn take_slot(&mut self, now: Timestamp, tick: Duration) -> bool {
        let interval = self.conn.poll_interval;
        if interval <= tick {
            return true;
        }
        match self.next_poll {
            Some(next) if now < next => false,
            Some(next) if next.plus(interval) > now => {
                self.next_poll = Some(next.plus(interval));
                true
            }
            _ => {
                self.next_poll = Some(now.plus(interval));
                true
            }
        }
    }
}

/// An actuator connection as the engine runs it.
pub(super) struct ActuatorIo {
    pub conn: ActuatorConnection,
    /// Failures that concern every group of the connection (throttled, credentials).
    pub health: Health,
    /// At most `max_concurrency` calls in flight over all its groups.
    pub permits: Arc<Semaphore>,
}

impl ActuatorIo {
    pub fn new(conn: ActuatorConnection) -> Self {
        let permits = Arc::new(Semaphore::new(conn.max_concurrency.max(1)));
        ActuatorIo { conn, health: Health::default(), permits }
    }
}

/// A group's connections and what the engine knows of its calls: everything about a
/// group that is not deterministic state (that is the core's).
pub(super) struct GroupIo {
    /// Index of its source connection.
    pub source: usize,
    /// Index of its actuator connection.
    pub actuator: usize,
    /// Failures of this group's part of its source's polls (a missing series).
    pub source_health: Health,
    /// Of `observe()`, for this group.
    pub actuator_health: Health,
    /// Of `set_desired()`: a failing write backs off even while observing works.
    pub write_health: Health,
    /// The group's lease as this engine knows it: only its holder acts and pages.
    pub lease: LeaseKeeper,
    /// The outcome of the action the last tick asked for, for the next tick it decides.
    pub action_outcome: Option<Result<(), String>>,
    /// The newest minute already written to the store, per series.
    pub persisted_minute: BTreeMap<MetricKind, Timestamp>,
    /// What the actuator last saw of the target besides capacity.
    pub target: Option<Observation>,
    /// What an operator should know about the target (the actuator's warnings, an
    /// unreadable marker), as of its last observation.
    pub warnings: Vec<String>,
    /// The notifiers its pages go to; None: the engine's.
    pub notifiers: Option<Vec<String>>,
    /// Its source's platform's own alerts on it, as of its last poll.
    pub alerts: Vec<SourceAlert>,
    /// Scale-outs whose outcome is still to be told (once their warm-up is over).
    pub scale_followups: Vec<ScaleFollowup>,
}

/// An acted scale-out whose outcome goes out as a reply to its message once the new
/// instances are ready or its maximum warm-up has passed.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ScaleFollowup {
    /// The scale message's outbox key: the reply threads under it.
    pub message_key: String,
    pub at: Timestamp,
    pub from: u32,
    pub to: u32,
    /// p95 latency when it was acted on, if the group reports one.
    pub p95_before: Option<f64>,
    /// When its maximum warm-up ends.
    pub until: Timestamp,
}

impl GroupIo {
    pub fn new(source: usize, actuator: usize) -> Self {
        GroupIo {
            source,
            actuator,
            source_health: Health::default(),
            actuator_health: Health::default(),
            write_health: Health::default(),
            lease: LeaseKeeper::default(),
            action_outcome: None,
            persisted_minute: BTreeMap::new(),
            target: None,
            warnings: Vec::new(),
            notifiers: None,
            alerts: Vec::new(),
            scale_followups: Vec::new(),
        }
    }
}

/// A backend call bounded by `call_timeout`; running out of time is a transient failure.
pub(super) async fn timed<T>(
    call_timeout: Duration,
    call: impl Future<Output = Result<T, BackendError>>,
) -> Result<T, BackendError> {
    match timeout(call_timeout, call).await {
        Ok(result) => result,
        Err(_) => Err(BackendError::transient(format!(
            "no answer within {}",
            crate::model::format_duration(call_timeout)
        ))),
    }
}

/// One source connection's poll this tick: which groups it was for and what came back.
pub(super) struct SourceCall {
    pub source: usize,
    pub groups: Vec<usize>,
    pub result: Result<Vec<GroupPoll>, BackendError>,
    /// The platform's own alerts on those groups, where the source reads them.
    pub alerts: Option<SourceAlerts>,
}

/// One group's observation this tick.
pub(super) struct ObserveCall {
    pub group: usize,
    pub result: Result<Observation, BackendError>,
}

/// One source connection's poll to make: its index, the connection, and the groups
/// (index in the core, spec) to ask for.
pub(super) struct PollOrder {
    pub source: usize,
    pub conn: SourceConnection,
    pub groups: Vec<(usize, GroupSpec)>,
}

/// One group's observation to make, with its actuator connection's permits.
pub(super) struct ObserveOrder {
    pub group: usize,
    pub conn: ActuatorConnection,
    pub permits: Arc<Semaphore>,
    pub spec: GroupSpec,
}

/// What a tick's polling asks for. Owned, so running it borrows nothing of the engine.
#[derive(Default)]
pub(super) struct PollPlan {
    pub polls: Vec<PollOrder>,
    pub observes: Vec<ObserveOrder>,
}

impl PollPlan {
    /// Runs every call at once (each actuator connection within its concurrency limit).
    pub async fn run(self, call_timeout: Duration) -> (Vec<SourceCall>, Vec<ObserveCall>) {
        let polls = self.polls.into_iter().map(|order| async move {
            let (indices, specs): (Vec<usize>, Vec<GroupSpec>) = order.groups.into_iter().unzip();
            let poll = timed(call_timeout, order.conn.source.poll(&specs));
            let alerts = async {
                match order.conn.source.alerts(&specs) {
                    Some(call) => Some(timed(call_timeout, call).await),
                    None => None,
                }
            };
            let (result, alerts) = futures::join!(poll, alerts);
            SourceCall { source: order.source, groups: indices, result, alerts }
        });
        let observes = self.observes.into_iter().map(|order| async move {
            let result = match order.permits.acquire_owned().await {
                Ok(_permit) => timed(call_timeout, order.conn.actuator.observe(&order.spec)).await,
                Err(_) => Err(BackendError::transient("the actuator connection is shut")),
            };
            ObserveCall { group: order.group, result }
        });
        futures::join!(join_all(polls), join_all(observes))
    }
}

/// A change to make this tick, owned like a [`PollPlan`]; `None` in `call` when the lease
/// ran short before it (not attempted).
pub(super) struct ActionCall {
    pub conn: ActuatorConnection,
    pub permits: Arc<Semaphore>,
    pub spec: GroupSpec,
    pub to: u32,
}

impl ActionCall {
    pub async fn run(self, call_timeout: Duration) -> Result<(), BackendError> {
        match self.permits.acquire_owned().await {
            Ok(_permit) => timed(call_timeout, self.conn.actuator.set_desired(&self.spec, self.to)).await,
            Err(_) => Err(BackendError::transient("the actuator connection is shut")),
        }
    }
}
