//! The engine: the one owner of fleet state. Its deterministic part is the [`tick`] core
//! (history, alarms, policy, breaker, paging: one synchronous function that `replay`
//! drives too); this module is the shell around it. Every `poll_interval` it polls each
//! group's [`MetricSource`] and its actuator's `observe()` (concurrently, each call
//! bounded by a timeout), renews the groups' leases, runs the core on what came back,
//! makes the changes the core asks for through the actuators, and publishes a
//! [`Snapshot`] and [`Event`]s; it answers [`CommandRequest`]s between ticks.
//!
//! A failing backend never stops the engine: the failure is recorded in the snapshot
//! (`BackendHealth::Failing`), announced as an event, and that backend is retried with
//! exponential backoff (from one poll interval up to `max_backoff`) while the other
//! groups carry on. A failing actuator is not asked to change anything until its retry
//! is due ([`Authority::BackingOff`]).
//!
//! Only the holder of a group's lease acts on it; an engine without the lease observes.
//! A read-only engine never acts and refuses every mutating command. Decisions and
//! commands go to the decision log; pauses, holds, silences, shadow modes, trips, leases,
//! 1-minute history and notifications to the fleet's store (`durable.rs`). The front ends
//! never see this module's internals, only the [`protocol`](crate::protocol).

pub mod autoscale;
pub mod breaker;
pub mod decision_log;
mod durable;
pub mod history;
pub mod lease;
pub mod operator;
pub mod pager;
pub mod sim_loop;
pub mod tick;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{MissedTickBehavior, timeout};

use crate::actuators::{Actuator, SimActuator};
use crate::alarms::AlarmRule;
use crate::audit::{AuditLog, AuditOptions};
use crate::clock::Clock;
use crate::config::Config;
use crate::lease::LeaseStore;
use crate::model::{Capacity, GroupSpec, MetricKind, MetricSample, Timestamp};
use crate::policy::PolicySpec;
use crate::protocol::{
    AlarmView, Backend, BackendHealth, Command, CommandReceiver, CommandRequest, CommandSender, Connection,
    ControlKind, ControlView, Event, GroupSnapshot, LeaseView, Reply, SeriesSnapshot, Snapshot,
};
use crate::sim::SimFleet;
use crate::sources::{MetricSource, SharedFleet, SimSource, lock_fleet};
use crate::store::{self, Store, StoreError};
use autoscale::AutoscaleMode;
use breaker::BreakerEvent;
use lease::{Identity, LeaseKeeper, LeaseTiming};
use tick::{Authority, CoreGroup, CoreSettings, GroupInput, Reconfigured, TickCore, TickInput, TickOutput};

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
    /// How long leases last and how much of one the timing rule keeps back.
    pub lease: LeaseTiming,
    /// The notifiers (`[notifiers.NAME]`) every page and resolve is queued for, a row
    /// each; none: episodes are recorded, nothing is queued.
    pub notifiers: Vec<String>,
}

impl EngineSettings {
    pub fn new(poll_interval: Duration, stale_after: Duration) -> Self {
        let call_timeout = Duration::from_secs(10);
        EngineSettings {
            poll_interval,
            stale_after,
            readonly: false,
            raw_points: history::RAW_POINTS,
            minute_points: history::MINUTE_POINTS,
            call_timeout,
            max_backoff: Duration::from_secs(60),
            autoscale: AutoscaleMode::Act,
            audit_log: None,
            lease: LeaseTiming::default_for(poll_interval, call_timeout),
            notifiers: Vec::new(),
        }
    }
}

impl EngineSettings {
    /// The config's timings: poll interval, staleness, call timeout, backoff, leases.
    pub fn from_config(config: &Config) -> Self {
        let mut settings = EngineSettings::new(config.poll_interval, config.stale_after);
        settings.call_timeout = config.call_timeout;
        settings.max_backoff = config.max_backoff;
        settings.lease = LeaseTiming { ttl: config.lease_ttl, skew_margin: config.lease_skew_margin };
        settings
    }
}

/// A group, the backends that serve it, and how it scales.
pub struct GroupBackends {
    pub spec: GroupSpec,
    pub source: Arc<dyn MetricSource>,
    pub actuator: Arc<dyn Actuator>,
    pub policy: PolicySpec,
    pub alarms: Vec<AlarmRule>,
    /// Decide and show, never act (the group's `shadow` config key).
    pub shadow: bool,
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

/// A group's backends and what the engine knows of them: everything about a group that
/// is not deterministic state (that is the core's).
struct GroupIo {
    source: Arc<dyn MetricSource>,
    actuator: Arc<dyn Actuator>,
    source_health: Health,
    /// Of `observe()`.
    actuator_health: Health,
    /// Of `set_desired()`: a failing write backs off even while observing works.
    write_health: Health,
    /// The group's lease as this engine knows it: only its holder acts and pages.
    lease: LeaseKeeper,
    /// The outcome of the action the last tick asked for, for the next tick.
    action_outcome: Option<Result<(), String>>,
    /// The newest minute already written to the store, per series.
    persisted_minute: BTreeMap<MetricKind, Timestamp>,
}

/// Debug builds only: `FLEETDECK_DEBUG_STALL_AFTER_TICKS=N` stops ticking after tick N
/// (commands and shutdown are still heard), so a test can see `/healthz` notice a stuck
/// tick loop. Release builds never stall.
fn debug_stall_after() -> Option<u64> {
    if cfg!(debug_assertions) {
        std::env::var("FLEETDECK_DEBUG_STALL_AFTER_TICKS").ok().and_then(|n| n.parse().ok())
    } else {
        None
    }
}

/// `user@host:pid` and `host`: unique per process, readable in "automation owned by …".
fn engine_identity() -> Identity {
    let user = std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "fleetdeck".into());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    Identity { holder: format!("{user}@{host}:{}", std::process::id()), host }
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
    /// Every group's deterministic state, and the one function that ticks it.
    core: TickCore,
    /// Per group, in the core's order: backends, their health, the lease.
    io: Vec<GroupIo>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    sim: Option<SharedFleet>,
    audit: Option<AuditLog>,
    store: Option<Store>,
    /// Where leases are kept (the store's file, on a connection of its own); None without
    /// a store: then only groups whose actuator needs no lease are acted on.
    leases: Option<Arc<dyn LeaseStore>>,
    /// Who this engine is in lease records.
    identity: Identity,
    seq: u64,
    /// The hour history was last pruned and load profiles refreshed in.
    history_hour: Option<i64>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events_tx: broadcast::Sender<Event>,
    command_tx: CommandSender,
    command_rx: CommandReceiver,
    reload_tx: mpsc::Sender<Reload>,
    reload_rx: mpsc::Receiver<Reload>,
}

/// A reloaded config's groups for a running engine, and where to say what was applied.
pub type Reload = (Vec<(GroupSpec, PolicySpec, Vec<AlarmRule>)>, oneshot::Sender<Reconfigured>);

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
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let mut specs = Vec::with_capacity(groups.len());
        let mut io = Vec::with_capacity(groups.len());
        for g in groups {
            specs.push((g.spec, g.policy, g.alarms, g.shadow));
            io.push(GroupIo {
                source: g.source,
                actuator: g.actuator,
                source_health: Health::default(),
                actuator_health: Health::default(),
                write_health: Health::default(),
                lease: LeaseKeeper::default(),
                action_outcome: None,
                persisted_minute: BTreeMap::new(),
            });
        }
        let core_settings = CoreSettings {
            stale_after: settings.stale_after,
            raw_points: settings.raw_points,
            minute_points: settings.minute_points,
            readonly: settings.readonly,
            record_states: settings.audit_log.is_some(),
            capacity_series: true,
        };
        let mut core = TickCore::build(specs, settings.autoscale, core_settings, clock.now());
        for (group, io) in core.groups.iter_mut().zip(&io) {
            group.autoscaler.capacity_stale_after =
                Some(io.actuator.capacity_stale_after(settings.poll_interval));
        }
        let audit = settings.audit_log.as_deref().and_then(open_audit_log);
        Engine {
            core,
            io,
            clock,
            settings,
            sim,
            audit,
            store: None,
            leases: None,
            identity: engine_identity(),
            seq: 0,
            history_hour: None,
            snapshot_tx,
            events_tx,
            command_tx,
            command_rx,
            reload_tx,
            reload_rx,
        }
    }

    /// Every group's circuit breaker with these thresholds (before the first tick: a
    /// breaker's counts start afresh).
    pub fn set_breaker_settings(&mut self, settings: breaker::BreakerSettings) {
        for group in &mut self.core.groups {
            group.autoscaler.breaker = breaker::Breaker::new(group.spec.name.clone(), settings.clone());
        }
    }

    /// Where a running engine takes reloaded configs ([`TickCore::reconfigure`]).
    pub fn reloader(&self) -> mpsc::Sender<Reload> {
        self.reload_tx.clone()
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
                shadow: g.shadow,
            })
            .collect();
        let mut settings = EngineSettings::from_config(config);
        settings.readonly = readonly;
        if shadow {
            settings.autoscale = AutoscaleMode::Shadow;
        }
        let mut engine = Engine::new(groups, clock, settings, Some(fleet));
        engine.set_breaker_settings(config.breaker.clone());
        engine
    }

    /// A new front end's connection: the newest snapshot, future events, a command sender.
    pub fn connect(&self) -> Connection {
        Connection {
            snapshots: self.snapshot_tx.subscribe(),
            events: self.events_tx.subscribe(),
            commands: self.command_tx.clone(),
            link: None,
        }
    }

    /// Connections for front ends that come and go while the engine runs.
    pub fn connector(&self) -> crate::protocol::Connector {
        crate::protocol::Connector {
            snapshots: self.snapshot_tx.subscribe(),
            events: self.events_tx.clone(),
            commands: self.command_tx.clone(),
        }
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The clock the engine ticks on, for what runs beside it (the daemon's exporter).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The engine's identity, `user@host:pid`: what leases and "automation owned by" name.
    pub fn identity(&self) -> &str {
        &self.identity.holder
    }

    /// The newest published snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot_tx.borrow().clone()
    }

    /// The deterministic state the engine ticks (read-only).
    pub fn core(&self) -> &TickCore {
        &self.core
    }

    /// Points held in history over all series: (raw samples, 1-minute aggregates).
    pub fn buffered_points(&self) -> (usize, usize) {
        let series = self.core.groups.iter().flat_map(|g| g.series.values());
        series.fold((0, 0), |(raw, minutes), h| (raw + h.raw_len(), minutes + h.minutes_len()))
    }

    /// Ticks every poll interval and answers commands until `shutdown` completes.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let names = self.core.groups.iter().map(|g| g.spec.name.clone()).collect();
        self.emit(Event::Started { at: self.clock.now(), groups: names });
        let mut interval = tokio::time::interval(self.settings.poll_interval);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let stall_after = debug_stall_after();
        loop {
            let stalled = stall_after.is_some_and(|n| self.seq >= n);
            tokio::select! {
                _ = &mut shutdown => {
                    self.flush_audit();
                    self.release_leases().await;
                    break;
                }
                _ = interval.tick(), if !stalled => self.tick().await,
                Some((groups, reply_tx)) = self.reload_rx.recv() => {
                    let outcome = self.core.reconfigure(&groups, self.clock.now());
                    tracing::info!(applied = ?outcome.applied, restart_needed = ?outcome.restart_needed, "config reloaded");
                    let _ = reply_tx.send(outcome);
                }
                Some((request, reply_tx)) = self.command_rx.recv() => {
                    let reply = self.handle_command(request);
                    let _ = reply_tx.send(reply);
                }
            }
        }
    }

    /// One tick: polls every due backend, runs the tick core on what came back, makes the
    /// changes it asks for, records, and publishes a snapshot.
    pub async fn tick(&mut self) {
        let now = self.clock.now();
        let call_timeout = self.settings.call_timeout;
        let polls = self.core.groups.iter().zip(&self.io).map(|(g, io)| async move {
            let samples = bounded_call(io.source_health.due(now), call_timeout, || io.source.poll(&g.spec));
            let capacity =
                bounded_call(io.actuator_health.due(now), call_timeout, || io.actuator.observe(&g.spec));
            let (samples, capacity) = futures::join!(samples, capacity);
            PollResult { samples, capacity }
        });
        let results = join_all(polls).await;
        // After the polls, however long they took, with fresh readings of both clocks.
        self.renew_leases().await;
        let inputs =
            results.into_iter().enumerate().map(|(index, result)| self.record(index, result, now)).collect();
        let output = self.core.tick(TickInput { now, commands: Vec::new(), groups: inputs });
        self.apply(output, now).await;
        self.persist_history(now);
        self.publish_sim_events();
        self.publish_snapshot();
    }

    /// Makes the changes a tick asked for through the actuators, and records, logs and
    /// announces everything else it produced.
    async fn apply(&mut self, output: TickOutput, now: Timestamp) {
        if let Some(audit) = &mut self.audit {
            for record in &output.decisions {
                let Some(state) = &record.state else { continue };
                if let Err(err) =
                    audit.record_decision(state, &record.inputs, &record.decision, record.shadow)
                {
                    tracing::error!(%err, "writing the decision log");
                }
            }
        }
        for event in output.events {
            trace_event(&event);
            self.emit(event);
        }
        self.store_breaker_changes(&output.breaker_changes);
        self.enqueue_notifications(&output.notifications, now);
        // Each group's call at once: a slow backend holds up only its own groups.
        let calls = output.actions.iter().map(|action| {
            let (group, io) = (&self.core.groups[action.group], &self.io[action.group]);
            // The timing rule, again right before the call: the polls and the store may
            // have eaten into the lease since the tick decided.
            let lease_ok = !self.lease_required(io)
                || io.lease.may_act(self.clock.monotonic(), &self.settings.lease, self.settings.call_timeout);
            bounded_call(lease_ok, self.settings.call_timeout, || {
                io.actuator.set_desired(&group.spec, action.to)
            })
        });
        let results = join_all(calls).await;
        for (action, result) in output.actions.into_iter().zip(results) {
            let name = self.core.groups[action.group].spec.name.clone();
            let Some(result) = result else {
                tracing::warn!(group = %name, to = action.to, "not acted on: the lease ran short before the call");
                // Not attempted: the core forgets the action (capacity did not change).
                self.io[action.group].action_outcome = None;
                continue;
            };
            let io = &mut self.io[action.group];
            if result.is_ok() && io.write_health.succeeded() {
                tracing::info!(group = %name, "actuator accepts changes again");
            }
            if let Err(error) = &result {
                let error = format!("setting desired to {}: {error}", action.to);
                let retry_at = io.write_health.failed(now, error.clone(), &self.settings);
                tracing::warn!(group = %name, %error, "actuator call failed");
                let event = Event::BackendFailed {
                    at: now,
                    group: name,
                    backend: Backend::Actuator,
                    error,
                    retry_at,
                };
                self.emit(event);
            }
            self.io[action.group].action_outcome = Some(result);
        }
    }

    /// Records one group's poll results in its backends' health (announcing failures and
    /// recoveries) and turns them into the core's input.
    fn record(&mut self, index: usize, result: PollResult, now: Timestamp) -> GroupInput {
        let settings = &self.settings;
        let name = self.core.groups[index].spec.name.clone();
        let io = &mut self.io[index];
        let mut events = Vec::new();
        let mut input = GroupInput {
            samples: Vec::new(),
            capacity: None,
            authority: Authority::Act,
            action_outcome: io.action_outcome.take(),
            pages: true,
        };
        match result.samples {
            Some(Ok(samples)) => {
                input.samples = samples;
                if io.source_health.succeeded() {
                    events.push((Backend::Source, None));
                }
            }
            Some(Err(error)) => {
                let retry_at = io.source_health.failed(now, error.clone(), settings);
                events.push((Backend::Source, Some((error, retry_at))));
            }
            None => {}
        }
        match result.capacity {
            Some(Ok(capacity)) => {
                input.capacity = Some(capacity);
                if io.actuator_health.succeeded() {
                    events.push((Backend::Actuator, None));
                }
            }
            Some(Err(error)) => {
                let retry_at = io.actuator_health.failed(now, error.clone(), settings);
                events.push((Backend::Actuator, Some((error, retry_at))));
            }
            None => {}
        }
        // Without the lease this engine observes: it decides, shows, and logs, but the
        // holder acts. A failing actuator is left alone until its retry is due.
        let required = self.leases.is_some() || io.actuator.needs_lease();
        let (authority, pages) = lease::authority(
            &io.lease,
            required,
            self.leases.is_some(),
            &self.identity,
            self.clock.monotonic(),
            &settings.lease,
            settings.call_timeout,
        );
        input.pages = pages;
        input.authority = match authority {
            Authority::Act if !io.write_health.due(now) => {
                Authority::BackingOff { until: io.write_health.retry_at }
            }
            authority => authority,
        };
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
        input
    }

    /// Whether acting on this group needs our lease: always with a lease store; without
    /// one, for every actuator but one that no other engine can reach (the in-process
    /// simulator).
    fn lease_required(&self, io: &GroupIo) -> bool {
        self.leases.is_some() || io.actuator.needs_lease()
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
        // The console's charts span the raw points kept; the forecast is laid over them.
        let shown_from = now.minus(
            self.settings
                .poll_interval
                .saturating_mul(u32::try_from(self.settings.raw_points).unwrap_or(u32::MAX)),
        );
        let groups = self
            .core
            .groups
            .iter()
            .zip(&self.io)
            .map(|(g, io)| GroupSnapshot {
                spec: g.spec.clone(),
                capacity: g.capacity,
                capacity_stale: g
                    .capacity
                    .zip(g.autoscaler.capacity_stale_after)
                    .is_some_and(|(capacity, limit)| now.since(capacity.observed_at) > limit),
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
                source: io.source_health.to_protocol(),
                // A failing write matters more than a working read.
                actuator: if io.write_health.failures > 0 {
                    io.write_health.to_protocol()
                } else {
                    io.actuator_health.to_protocol()
                },
                alarms: g
                    .autoscaler
                    .alarm_views()
                    .into_iter()
                    .map(|a| AlarmView { held_until: g.pager.held(&a.name).map(|w| w.until), ..a })
                    .collect(),
                decision: g.autoscaler.decision_view(),
                controls: control_views(g, now),
                forecast: g.autoscaler.forecast_view(shown_from, now, g.spec.warmup.max),
                lease: io.lease.holder().map(|l| LeaseView {
                    holder: l.holder.clone(),
                    host: l.host.clone(),
                    expires_at: l.expires_at,
                    ours: l.holder == self.identity.holder,
                }),
            })
            .collect();
        let snapshot = Snapshot {
            version: crate::protocol::PROTOCOL_VERSION,
            seq: self.seq,
            taken_at: now,
            readonly: self.core.settings.readonly,
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

/// What limits automation on a group now, the silence included.
fn control_views(group: &CoreGroup, now: Timestamp) -> Vec<ControlView> {
    let mut controls = group.autoscaler.control_views(now);
    if let Some(silence) = group.silence_at(now) {
        let reason = if silence.reason.is_empty() { String::new() } else { format!(": {}", silence.reason) };
        controls.push(ControlView {
            kind: ControlKind::Silence,
            text: format!(
                "silenced by {} until {}{reason} (alarms still evaluated, no pages)",
                silence.by,
                autoscale::clock_text(silence.until)
            ),
        });
    }
    controls
}

/// Logs what the tick core announced, at the level an operator would want it.
fn trace_event(event: &Event) {
    match event {
        Event::Alarm { group, alarm, from, to, .. } => tracing::info!(%group, %alarm, ?from, ?to, "alarm"),
        Event::Scaled { group, reason, shadow, .. } => {
            tracing::info!(%group, %reason, shadow, "scaling decision")
        }
        Event::Breaker { group, message, .. } => tracing::warn!(%group, %message, "circuit breaker"),
        _ => {}
    }
}

#[cfg(test)]
mod scenario_tests;
#[cfg(test)]
mod tests;
