//! The engine: the one owner of fleet state. Every `poll_interval` it polls each group's
//! [`MetricSource`] and its actuator's `observe()` (concurrently, each call bounded by a
//! timeout), keeps per-group history in bounded buffers, and publishes a [`Snapshot`] and
//! [`Event`]s; it answers [`CommandRequest`]s between ticks.
//!
//! A failing backend never stops the engine: the failure is recorded in the snapshot
//! (`BackendHealth::Failing`), announced as an event, and that backend is retried with
//! exponential backoff (from one poll interval up to `max_backoff`) while the other
//! groups carry on.
//!
//! After polling, each observed group's alarm rules and autoscaling policy are evaluated
//! ([`autoscale`]) under the operator's pause or hold and the circuit [`breaker`]; the
//! change a decision asks for goes through the group's actuator when this engine holds
//! the group's lease and the group is not in shadow mode ([`AutoscaleMode::Shadow`]:
//! "would …", never acted on). A read-only engine never acts and refuses every command.
//! Decisions and commands go to the decision log; pauses, holds, trips and leases to the
//! fleet's store. The
//! front ends never see this module's internals, only the [`protocol`](crate::protocol).

pub mod autoscale;
pub mod breaker;
mod durable;
pub mod history;
pub mod operator;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{broadcast, watch};
use tokio::time::{MissedTickBehavior, timeout};

use crate::actuators::{Actuator, SimActuator};
use crate::alarms::AlarmRule;
use crate::audit::{AuditLog, AuditOptions};
use crate::clock::Clock;
use crate::config::Config;
use crate::model::{Capacity, GroupSpec, MetricKind, MetricSample, Timestamp};
use crate::policy::PolicySpec;
use crate::protocol::{
    Backend, BackendHealth, Command, CommandReceiver, CommandRequest, CommandSender, Connection, Event,
    GroupSnapshot, LeaseView, Operator, Reply, SeriesSnapshot, Snapshot, Target,
};
use crate::sim::SimFleet;
use crate::sources::{MetricSource, SharedFleet, SimSource, lock_fleet};
use crate::store::{self, Lease, LeaseOutcome, LeaseRecord, Store, StoreError};
use autoscale::{AutoscaleMode, Autoscaler};
use breaker::{BreakerEvent, ResetScope, TickFacts};
use history::SeriesHistory;

/// How the engine runs.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    pub poll_interval: Duration,
    /// A series is stale when its newest sample is older than this.
    pub stale_after: Duration,
    /// Refuse every mutating command.
    pub readonly: bool,
    /// Raw points kept per series.
    pub raw_points: usize,
    /// 1-minute aggregates kept per series.
    pub minute_points: usize,
    /// Longest a single backend call may take before it counts as failed.
    pub call_timeout: Duration,
    /// Longest wait between retries of a failing backend.
    pub max_backoff: Duration,
    /// Whether decisions are acted on. A read-only engine never acts, whatever this says.
    pub autoscale: AutoscaleMode,
    /// Where the decision/audit log goes; None: no log.
    pub audit_log: Option<PathBuf>,
}

impl EngineSettings {
    pub fn new(poll_interval: Duration, stale_after: Duration) -> Self {
        EngineSettings {
            poll_interval,
            stale_after,
            readonly: false,
            raw_points: history::RAW_POINTS,
            minute_points: history::MINUTE_POINTS,
            call_timeout: Duration::from_secs(10),
            max_backoff: Duration::from_secs(60),
            autoscale: AutoscaleMode::Act,
            audit_log: None,
        }
    }
}

/// A group, the backends that serve it, and how it scales.
pub struct GroupBackends {
    pub spec: GroupSpec,
    pub source: Arc<dyn MetricSource>,
    pub actuator: Arc<dyn Actuator>,
    pub policy: PolicySpec,
    pub alarms: Vec<AlarmRule>,
}

/// Consecutive failures of one backend, and when to try it again.
#[derive(Clone, Debug, Default)]
struct Health {
    failures: u32,
    since: Timestamp,
    last_error: String,
    retry_at: Timestamp,
}

impl Health {
    fn due(&self, now: Timestamp) -> bool {
        self.failures == 0 || now >= self.retry_at
    }

    /// Records a failure; returns when the backend will be tried again.
    fn failed(&mut self, now: Timestamp, error: String, settings: &EngineSettings) -> Timestamp {
        if self.failures == 0 {
            self.since = now;
        }
        self.failures += 1;
        let doublings = (self.failures - 1).min(16);
        let delay = settings.poll_interval.saturating_mul(1 << doublings).min(settings.max_backoff);
        self.last_error = error;
        self.retry_at = now.plus(delay);
        self.retry_at
    }

    /// Records a success; returns whether the backend had been failing.
    fn succeeded(&mut self) -> bool {
        let was_failing = self.failures > 0;
        *self = Health::default();
        was_failing
    }

    fn to_protocol(&self) -> BackendHealth {
        if self.failures == 0 {
            BackendHealth::Ok
        } else {
            BackendHealth::Failing {
                error: self.last_error.clone(),
                since: self.since,
                attempts: self.failures,
                retry_at: self.retry_at,
            }
        }
    }
}

struct GroupRuntime {
    spec: GroupSpec,
    source: Arc<dyn MetricSource>,
    actuator: Arc<dyn Actuator>,
    series: BTreeMap<MetricKind, SeriesHistory>,
    capacity: Option<Capacity>,
    source_health: Health,
    actuator_health: Health,
    autoscaler: Autoscaler,
    /// The group's lease as last seen (None without a store): only its holder acts.
    lease: Option<LeaseRecord>,
}

/// `user@host:pid` and `host`: unique per process, readable in "automation owned by …".
fn engine_identity() -> (String, String) {
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "fleetdeck".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    (format!("{user}@{host}:{}", std::process::id()), host)
}

/// Opens the decision log; a log that cannot be opened is reported, and the engine runs on
/// without it rather than refusing to start.
fn open_audit_log(path: &std::path::Path) -> Option<AuditLog> {
    match AuditLog::open(path, AuditOptions::default()) {
        Ok(log) => Some(log),
        Err(err) => {
            tracing::error!(%err, "decision log unavailable");
            None
        }
    }
}

/// Runs a backend call if it is due, bounded by `call_timeout`: `None` if it was not
/// due, else its result with the error as text (a timeout is an error too).
/// The call is made only when due: a backend may do work as soon as it is called.
async fn bounded_call<T, E: std::fmt::Display, F: Future<Output = Result<T, E>>>(
    due: bool,
    call_timeout: Duration,
    call: impl FnOnce() -> F,
) -> Option<Result<T, String>> {
    if !due {
        return None;
    }
    Some(match timeout(call_timeout, call()).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {}", crate::model::format_duration(call_timeout))),
    })
}

/// What one group's poll returned; `None` where the backend was not due.
struct PollResult {
    samples: Option<Result<Vec<MetricSample>, String>>,
    capacity: Option<Result<Capacity, String>>,
}

pub struct Engine {
    groups: Vec<GroupRuntime>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    sim: Option<SharedFleet>,
    audit: Option<AuditLog>,
    store: Option<Store>,
    /// Who this engine is in lease records: `user@host:pid`, and the host.
    identity: (String, String),
    seq: u64,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events_tx: broadcast::Sender<Event>,
    command_tx: CommandSender,
    command_rx: CommandReceiver,
}

impl Engine {
    /// An engine over the given groups. `sim` is the simulated fleet when the groups are
    /// simulated, so `:sim` commands can reach it.
    pub fn new(
        groups: Vec<GroupBackends>,
        clock: Arc<dyn Clock>,
        settings: EngineSettings,
        sim: Option<SharedFleet>,
    ) -> Self {
        let empty = Snapshot::empty(settings.readonly, settings.poll_interval, settings.stale_after);
        let (snapshot_tx, _) = watch::channel(Arc::new(empty));
        let (events_tx, _) = broadcast::channel(256);
        let (command_tx, command_rx) = CommandSender::channel(64);
        let mode = if settings.readonly { AutoscaleMode::Shadow } else { settings.autoscale };
        let start = clock.now();
        let groups = groups
            .into_iter()
            .map(|g| {
                let autoscaler = Autoscaler::new(&g.spec, g.policy, g.alarms, mode, start);
                GroupRuntime {
                    spec: g.spec,
                    source: g.source,
                    actuator: g.actuator,
                    series: BTreeMap::new(),
                    capacity: None,
                    source_health: Health::default(),
                    actuator_health: Health::default(),
                    autoscaler,
                    lease: None,
                }
            })
            .collect();
        let audit = settings.audit_log.as_deref().and_then(open_audit_log);
        Engine {
            groups,
            clock,
            settings,
            sim,
            audit,
            store: None,
            identity: engine_identity(),
            seq: 0,
            snapshot_tx,
            events_tx,
            command_tx,
            command_rx,
        }
    }

    /// The engine for a config whose groups all run in the simulator: builds the fleet
    /// from `seed`, starting now, with the config's scheduled incidents.
    pub fn simulated(
        config: &Config,
        seed: u64,
        clock: Arc<dyn Clock>,
        readonly: bool,
        shadow: bool,
    ) -> Self {
        let start = clock.now();
        let specs: Vec<_> = config.groups.iter().map(|g| (g.spec.clone(), g.sim.clone())).collect();
        let mut fleet = SimFleet::new(&specs, seed, start);
        for event in &config.sim_events {
            fleet.schedule(start.plus(event.at), event.command.clone());
        }
        let fleet: SharedFleet = Arc::new(Mutex::new(fleet));
        let source: Arc<dyn MetricSource> = Arc::new(SimSource::new(fleet.clone(), clock.clone()));
        let actuator: Arc<dyn Actuator> = Arc::new(SimActuator::new(fleet.clone(), clock.clone()));
        let groups = config
            .groups
            .iter()
            .map(|g| GroupBackends {
                spec: g.spec.clone(),
                source: source.clone(),
                actuator: actuator.clone(),
                policy: g.policy.clone(),
                alarms: g.alarms.clone(),
            })
            .collect();
        let mut settings = EngineSettings::new(config.poll_interval, config.stale_after);
        settings.readonly = readonly;
        if shadow {
            settings.autoscale = AutoscaleMode::Shadow;
        }
        Engine::new(groups, clock, settings, Some(fleet))
    }

    /// A new front end's connection: the newest snapshot, future events, a command sender.
    pub fn connect(&self) -> Connection {
        Connection {
            snapshots: self.snapshot_tx.subscribe(),
            events: self.events_tx.subscribe(),
            commands: self.command_tx.clone(),
        }
    }

    /// The newest published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot_tx.borrow().clone()
    }

    /// Points held in history over all series: (raw samples, 1-minute aggregates).
    pub fn buffered_points(&self) -> (usize, usize) {
        let series = self.groups.iter().flat_map(|g| g.series.values());
        series.fold((0, 0), |(raw, minutes), h| (raw + h.raw_len(), minutes + h.minutes_len()))
    }

    /// Ticks every poll interval and answers commands until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let names = self.groups.iter().map(|g| g.spec.name.clone()).collect();
        self.emit(Event::Started { at: self.clock.now(), groups: names });
        let mut interval = tokio::time::interval(self.settings.poll_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    self.flush_audit();
                    self.release_leases();
                    break;
                }
                _ = interval.tick() => self.tick().await,
                Some((request, reply_tx)) = self.command_rx.recv() => {
                    let reply = self.handle_command(request);
                    let _ = reply_tx.send(reply);
                }
            }
        }
    }

    /// One tick: polls every due backend, records what came back, publishes a snapshot.
    pub async fn tick(&mut self) {
        let now = self.clock.now();
        let call_timeout = self.settings.call_timeout;
        let polls = self.groups.iter().map(|g| async move {
            let samples = bounded_call(g.source_health.due(now), call_timeout, || g.source.poll(&g.spec));
            let capacity =
                bounded_call(g.actuator_health.due(now), call_timeout, || g.actuator.observe(&g.spec));
            let (samples, capacity) = futures::join!(samples, capacity);
            PollResult { samples, capacity }
        });
        let results = join_all(polls).await;
        for (index, result) in results.into_iter().enumerate() {
            self.record(index, result, now);
        }
        self.autoscale(now).await;
        self.publish_sim_events();
        self.publish_snapshot();
    }

    /// Evaluates every observed group's alarms and policy, and applies the changes the
    /// decisions ask for (none in shadow mode).
    async fn autoscale(&mut self, now: Timestamp) {
        self.renew_leases(now);
        let stale_after = self.settings.stale_after;
        let mut actions = Vec::new();
        for (index, group) in self.groups.iter_mut().enumerate() {
            let Some(capacity) = group.capacity else { continue };
            // Without the lease this engine observes: it decides, shows, and logs, but
            // the holder acts.
            let ours = group.lease.as_ref().is_none_or(|l| l.holder == self.identity.0);
            let step = group.autoscaler.step(&group.series, capacity, stale_after, now, ours);
            if let Some(audit) = &mut self.audit {
                let shadow = group.autoscaler.mode == AutoscaleMode::Shadow || !ours;
                if let Err(err) = audit.record_decision(&step.state, &step.inputs, &step.decision, shadow) {
                    tracing::error!(%err, "writing the decision log");
                }
            }
            let name = group.spec.name.clone();
            for (alarm, from, to) in step.transitions {
                tracing::info!(group = %name, %alarm, ?from, ?to, "alarm");
                let _ = self.events_tx.send(Event::Alarm { at: now, group: name.clone(), alarm, from, to });
            }
            if let Some(to) = step.decision.desired {
                let shadow = step.set_desired.is_none();
                let reason = match &step.vetoed {
                    Some(veto) => format!("{} — {veto}", step.decision.reason),
                    None => step.decision.reason.clone(),
                };
                tracing::info!(group = %name, %reason, shadow, "scaling decision");
                let from = step.decision.current;
                let _ = self.events_tx.send(Event::Scaled { at: now, group: name, from, to, reason, shadow });
            }
            if let Some(to) = step.set_desired {
                actions.push((index, to));
            }
        }
        let mut actuator_failed: Vec<Option<bool>> = vec![None; self.groups.len()];
        for (index, to) in actions {
            let group = &self.groups[index];
            let result = bounded_call(true, self.settings.call_timeout, || {
                group.actuator.set_desired(&group.spec, to)
            })
            .await
            .unwrap_or_else(|| Err("not called".into()));
            let group = &mut self.groups[index];
            actuator_failed[index] = Some(result.is_err());
            if let Err(error) = result {
                let error = format!("setting desired to {to}: {error}");
                let retry_at = group.actuator_health.failed(now, error.clone(), &self.settings);
                let event = Event::BackendFailed {
                    at: now,
                    group: group.spec.name.clone(),
                    backend: Backend::Actuator,
                    error,
                    retry_at,
                };
                self.emit(event);
            }
        }
        self.observe_breakers(now, &actuator_failed);
    }

    /// Feeds each group's tick to its circuit breaker; trips and resets are announced,
    /// logged and kept in the store.
    fn observe_breakers(&mut self, now: Timestamp, actuator_failed: &[Option<bool>]) {
        let mut events = Vec::new();
        for (group, failed) in self.groups.iter_mut().zip(actuator_failed) {
            let Some(decision) = &group.autoscaler.last_decision else { continue };
            let running = group.capacity.map_or(0, |c| c.ready + c.warming + c.failed);
            let facts = TickFacts {
                now,
                decision,
                actuator_failed: *failed,
                hourly_cost_usd_now: f64::from(running) * group.spec.hourly_cost_usd,
                hourly_budget_usd: group.autoscaler.state.policy.hourly_budget_usd,
            };
            let happened = group.autoscaler.breaker.observe(facts);
            events.extend(happened.into_iter().map(|e| (group.spec.name.clone(), e)));
        }
        for (group, event) in events {
            self.record_breaker_event(now, group, &event);
        }
    }

    /// Closes every open trip of the target groups, on an operator's word.
    fn reset_breakers(&mut self, target: &Target, operator: &Operator) -> Reply {
        let now = self.clock.now();
        let by = operator.to_string();
        let chosen: Vec<usize> = match target {
            Target::All => (0..self.groups.len()).collect(),
            Target::Group(name) => match self.groups.iter().position(|g| &g.spec.name == name) {
                Some(i) => vec![i],
                None => {
                    let known: Vec<&str> = self.groups.iter().map(|g| g.spec.name.as_str()).collect();
                    return Reply::Refused {
                        reason: format!("unknown group `{name}` (groups: {})", known.join(", ")),
                    };
                }
            },
        };
        let mut events = Vec::new();
        for i in chosen {
            let group = &mut self.groups[i];
            let closed = group.autoscaler.breaker.reset(ResetScope::All, &by);
            events.extend(closed.into_iter().map(|e| (group.spec.name.clone(), e)));
        }
        if events.is_empty() {
            return Reply::Refused { reason: format!("no breaker trip is open on {target}") };
        }
        let groups: Vec<String> = events.iter().map(|(g, _)| g.clone()).collect();
        for (group, event) in events {
            self.record_breaker_event(now, group, &event);
        }
        Reply::Ok { message: format!("breaker reset on {} by {by}", groups.join(", ")) }
    }

    fn record_breaker_event(&self, now: Timestamp, group: String, event: &BreakerEvent) {
        let message = event.to_string();
        tracing::warn!(%group, %message, "circuit breaker");
        if let Some(store) = &self.store {
            let result = match event {
                BreakerEvent::Tripped { trip } => store.set_trip(trip),
                BreakerEvent::Reset { group, kind, .. } => store.clear_trip(group, *kind).map(|_| ()),
            };
            if let Err(err) = result {
                tracing::error!(%group, %err, "saving the breaker state");
            }
        }
        let tripped = matches!(event, BreakerEvent::Tripped { .. });
        self.emit(Event::Breaker { at: now, group, message, tripped });
    }

    fn record(&mut self, index: usize, result: PollResult, now: Timestamp) {
        let settings = &self.settings;
        let group = &mut self.groups[index];
        let mut events = Vec::new();
        if let Some(samples) = result.samples {
            match samples {
                Ok(samples) => {
                    for MetricSample { kind, sample } in samples {
                        group
                            .series
                            .entry(kind)
                            .or_insert_with(|| {
                                SeriesHistory::new(settings.raw_points, settings.minute_points)
                            })
                            .push(sample);
                    }
                    if group.source_health.succeeded() {
                        events.push((Backend::Source, None));
                    }
                }
                Err(error) => {
                    let retry_at = group.source_health.failed(now, error.clone(), settings);
                    events.push((Backend::Source, Some((error, retry_at))));
                }
            }
        }
        if let Some(capacity) = result.capacity {
            match capacity {
                Ok(capacity) => {
                    group.capacity = Some(capacity);
                    if group.actuator_health.succeeded() {
                        events.push((Backend::Actuator, None));
                    }
                }
                Err(error) => {
                    let retry_at = group.actuator_health.failed(now, error.clone(), settings);
                    events.push((Backend::Actuator, Some((error, retry_at))));
                }
            }
        }
        let name = group.spec.name.clone();
        for (backend, failure) in events {
            let event = match failure {
                Some((error, retry_at)) => {
                    tracing::warn!(group = %name, ?backend, %error, "backend call failed");
                    Event::BackendFailed { at: now, group: name.clone(), backend, error, retry_at }
                }
                None => {
                    tracing::info!(group = %name, ?backend, "backend recovered");
                    Event::BackendRecovered { at: now, group: name.clone(), backend }
                }
            };
            self.emit(event);
        }
    }

    fn publish_sim_events(&mut self) {
        let Some(fleet) = &self.sim else { return };
        let applied = match lock_fleet(fleet) {
            Ok(mut fleet) => fleet.take_applied(),
            Err(_) => return,
        };
        for (at, description) in applied {
            tracing::info!(%description, "scheduled sim event");
            self.emit(Event::Sim { at, description });
        }
    }

    fn publish_snapshot(&mut self) {
        self.seq += 1;
        let now = self.clock.now();
        let stale_after = self.settings.stale_after;
        let groups = self
            .groups
            .iter()
            .map(|g| GroupSnapshot {
                spec: g.spec.clone(),
                capacity: g.capacity,
                series: g
                    .series
                    .iter()
                    .map(|(kind, history)| SeriesSnapshot {
                        kind: kind.clone(),
                        points: history.raw_view(),
                        stale: history.is_stale(now, stale_after),
                        minutes: history.minutes_view(),
                    })
                    .collect(),
                source: g.source_health.to_protocol(),
                actuator: g.actuator_health.to_protocol(),
                alarms: g.autoscaler.alarm_views(),
                decision: g.autoscaler.decision_view(),
                controls: g.autoscaler.control_views(now),
                lease: g.lease.as_ref().map(|l| LeaseView {
                    holder: l.holder.clone(),
                    host: l.host.clone(),
                    expires_at: l.expires_at,
                    ours: l.holder == self.identity.0,
                }),
            })
            .collect();
        let snapshot = Snapshot {
            version: crate::protocol::PROTOCOL_VERSION,
            seq: self.seq,
            taken_at: now,
            readonly: self.settings.readonly,
            poll_interval: self.settings.poll_interval,
            stale_after,
            groups,
        };
        self.snapshot_tx.send_replace(Arc::new(snapshot));
    }

    fn emit(&self, event: Event) {
        // No subscriber is fine: front ends come and go.
        let _ = self.events_tx.send(event);
    }
}

#[cfg(test)]
mod tests;
