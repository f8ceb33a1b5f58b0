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
//!
//! The shell by concern: `io` (the owned futures of a tick's calls, concurrency limits),
//! `poll` (which connections are due, recording answers, who may act), [`health`] (the
//! one error policy), `reload` (SIGHUP), `durable` (commands, the store, the outbox,
//! leases), `backfill` (the sources' history at start), and this file (construction, the
//! run loop, actions, snapshots).

pub mod autoscale;
mod backfill;
pub mod breaker;
pub mod decision_log;
mod durable;
pub mod health;
pub mod history;
mod io;
pub mod lease;
pub mod operator;
mod outbox;
pub mod pager;
mod poll;
mod reload;
pub mod sim_loop;
pub mod tick;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::MissedTickBehavior;

use crate::audit::{AuditLog, AuditOptions};
use crate::backends::{Backends, SimControl};
use crate::clock::Clock;
use crate::config::Config;
use crate::lease::LeaseStore;
use crate::model::{BackendError, Timestamp};
use crate::protocol::{
    AlarmView, Backend, Command, CommandReceiver, CommandRequest, CommandSender, Connection, ControlKind,
    ControlView, Event, GroupSnapshot, LeaseView, Reply, SeriesSnapshot, Snapshot,
};
use crate::store::{self, Store, StoreError};
use autoscale::AutoscaleMode;
use breaker::BreakerEvent;
use io::{
    ActionCall, ActuatorIo, GroupIo, ObserveCall, ObserveOrder, PollOrder, PollPlan, SourceCall, SourceIo,
};
use lease::{Identity, LeaseTiming};
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
    /// The notifiers (`[notifiers.NAME]`) a group's pages and resolves are queued for, a
    /// row each, unless the group names its own; none: episodes are recorded, nothing is
    /// queued.
    pub notifiers: Vec<String>,
    /// The fleet's name, which its pages carry.
    pub fleet: String,
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
            fleet: String::new(),
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
        settings.notifiers = config.notifiers.iter().map(|n| n.name.clone()).collect();
        settings.fleet = config.fleet.clone();
        settings
    }
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

/// Who runs this process: `$USER`, else the system's name for the process's uid (in a
/// container or under systemd `$USER` is often unset), else `uid N`.
pub fn login_name() -> String {
    login_name_from(std::env::var("USER").ok())
}

fn login_name_from(user: Option<String>) -> String {
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        return user;
    }
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) if !user.name.is_empty() => user.name,
        _ => format!("uid {uid}"),
    }
}

/// `user@host:pid` and `host`: unique per process, readable in "automation owned by …".
fn engine_identity() -> Identity {
    let user = login_name();
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

pub struct Engine {
    /// Every group's deterministic state, and the one function that ticks it.
    core: TickCore,
    /// Per group, in the core's order: its connections, their health, the lease.
    io: Vec<GroupIo>,
    sources: Vec<SourceIo>,
    actuators: Vec<ActuatorIo>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    /// The simulator's own capability (`:sim`, scheduled incidents), when some groups
    /// are simulated.
    sim: Option<SimControl>,
    /// Where `:sim` goes when the simulator is a `sim serve` process.
    sim_http: Option<crate::backends::sim_http::SimHttpControl>,
    /// Pause markers to write on targets (`None`: clear), by group, from operators'
    /// pauses and resumes since the last tick.
    marker_writes: std::collections::BTreeMap<usize, Option<String>>,
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
    /// The notifiers that send the outbox, each on its own task while the engine runs.
    notifiers: Vec<Arc<dyn crate::notifiers::Notifier>>,
    /// How each notifier's deliveries stand, while they run.
    notifier_status: Vec<(String, watch::Receiver<crate::notifiers::NotifierStatus>)>,
    snapshot_tx: watch::Sender<Arc<Snapshot>>,
    events_tx: broadcast::Sender<Event>,
    command_tx: CommandSender,
    command_rx: CommandReceiver,
    reload_tx: mpsc::Sender<Reload>,
    reload_rx: mpsc::Receiver<Reload>,
}

/// A reloaded config for a running engine, and where to say what was applied.
pub type Reload = (Arc<Config>, oneshot::Sender<Reconfigured>);

impl Engine {
    /// An engine over the given backends: their groups, the connections that serve them
    /// and, when some groups are simulated, the simulator's control.
    pub fn new(backends: Backends, clock: Arc<dyn Clock>, settings: EngineSettings) -> Self {
        let empty = Snapshot::empty(settings.readonly, settings.poll_interval, settings.stale_after);
        let (snapshot_tx, _) = watch::channel(Arc::new(empty));
        let (events_tx, _) = broadcast::channel(256);
        let (command_tx, command_rx) = CommandSender::channel(64);
        let (reload_tx, reload_rx) = mpsc::channel(4);
        let Backends { sources, actuators, groups, sim, sim_http } = backends;
        let mut specs = Vec::with_capacity(groups.len());
        let mut io = Vec::with_capacity(groups.len());
        for g in groups {
            specs.push((g.spec, g.policy, g.alarms, g.shadow));
            let mut group_io = GroupIo::new(g.source, g.actuator);
            group_io.notifiers = g.notifiers;
            io.push(group_io);
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
            let source = &sources[io.source];
            group.stale_after = source.stale_after;
            group.autoscaler.capacity_stale_after =
                Some(actuators[io.actuator].actuator.capacity_stale_after(source.poll_interval));
        }
        let audit = settings.audit_log.as_deref().and_then(open_audit_log);
        Engine {
            core,
            io,
            sources: sources.into_iter().map(SourceIo::new).collect(),
            actuators: actuators.into_iter().map(ActuatorIo::new).collect(),
            clock,
            settings,
            sim,
            sim_http,
            marker_writes: std::collections::BTreeMap::new(),
            audit,
            store: None,
            leases: None,
            identity: engine_identity(),
            seq: 0,
            history_hour: None,
            notifiers: Vec::new(),
            notifier_status: Vec::new(),
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

    /// Where a running engine takes reloaded configs ([`Engine::reload`]).
    pub fn reloader(&self) -> mpsc::Sender<Reload> {
        self.reload_tx.clone()
    }

    /// The engine for a config whose connections are all simulators, which cannot fail
    /// to build (tests, benches); see [`Engine::from_config`].
    pub fn simulated(
        config: &Config,
        seed: u64,
        clock: Arc<dyn Clock>,
        readonly: bool,
        shadow: bool,
    ) -> Self {
        Engine::from_config(config, seed, clock, readonly, shadow)
            .expect("simulated connections always build")
    }

    /// The engine for a config, its backends built from the config's connections
    /// ([`backends::build`](crate::backends::build)); the simulated groups' fleet from
    /// `seed`, starting now, with the config's scheduled incidents. A connection that
    /// cannot be set up is said with its name.
    pub fn from_config(
        config: &Config,
        seed: u64,
        clock: Arc<dyn Clock>,
        readonly: bool,
        shadow: bool,
    ) -> Result<Self, String> {
        let backends = crate::backends::build(config, seed, clock.clone())?;
        let mut settings = EngineSettings::from_config(config);
        settings.readonly = readonly;
        if shadow {
            settings.autoscale = AutoscaleMode::Shadow;
        }
        let notifiers = crate::notifiers::build(config, clock.clone())?;
        let mut engine = Engine::new(backends, clock, settings);
        engine.set_breaker_settings(config.breaker.clone());
        engine.notifiers = notifiers;
        Ok(engine)
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
        let deliveries = self.start_deliveries();
        // The backfill: the first tick waits for it one call timeout at most, then it
        // goes on beside the ticks (backfill.rs).
        let orders = self.history_orders(self.clock.now());
        let history_limit = self.settings.call_timeout * backfill::HISTORY_TIMEOUTS;
        let backfill = backfill::run(orders, history_limit);
        tokio::pin!(backfill);
        let first_wait = tokio::time::timeout(self.settings.call_timeout, &mut backfill);
        let mut backfilling = match self.serving_commands(first_wait).await {
            Ok(calls) => {
                self.take_history(calls);
                false
            }
            Err(_) => {
                tracing::info!("the history backfill goes on beside the first ticks");
                true
            }
        };
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
                    deliveries.stop(self.settings.call_timeout).await;
                    break;
                }
                calls = &mut backfill, if backfilling => {
                    backfilling = false;
                    self.take_history(calls);
                }
                _ = interval.tick(), if !stalled => self.tick().await,
                Some((config, reply_tx)) = self.reload_rx.recv() => {
                    let outcome = self.reload(&config);
                    tracing::info!(applied = %outcome.applied.join("; "), restart_needed = %outcome.restart_needed.join("; "), "config reloaded");
                    let _ = reply_tx.send(outcome);
                }
                Some((request, reply_tx)) = self.command_rx.recv() => {
                    let reply = self.answer(request).await;
                    let _ = reply_tx.send(reply);
                }
            }
        }
    }

    /// One tick: polls every source connection whose poll is due and observes its groups,
    /// runs the tick core on what came back, makes the changes it asks for, records, and
    /// publishes a snapshot. Operator commands are answered while the calls are in flight.
    pub async fn tick(&mut self) {
        let now = self.clock.now();
        self.write_markers().await;
        let (plan, polled) = self.plan_polls(now);
        let call_timeout = self.settings.call_timeout;
        let (source_calls, observe_calls) = self.serving_commands(plan.run(call_timeout)).await;
        // After the polls, however long they took, with fresh readings of both clocks.
        self.renew_leases().await;
        let mut inputs: Vec<GroupInput> = (0..self.io.len()).map(|_| GroupInput::idle()).collect();
        for index in polled.iter().copied() {
            inputs[index] = GroupInput { skip: false, ..GroupInput::idle() };
        }
        self.record_polls(source_calls, &mut inputs, now);
        self.record_observations(observe_calls, &mut inputs, now);
        for index in polled {
            self.authorise(index, &mut inputs[index], now);
        }
        let output = self.core.tick(TickInput { now, commands: Vec::new(), groups: inputs });
        self.apply(output, now).await;
        self.follow_up_scales(now);
        self.persist_history(now);
        self.publish_sim_events();
        self.publish_snapshot();
    }

    /// Writes (or clears) the pause markers operators' commands changed since the last
    /// tick, before this tick observes the targets; a write that fails is announced and
    /// tried again next tick.
    async fn write_markers(&mut self) {
        let writes: Vec<(usize, Option<String>)> =
            std::mem::take(&mut self.marker_writes).into_iter().collect();
        if writes.is_empty() {
            return;
        }
        let call_timeout = self.settings.call_timeout;
        let calls = writes.iter().map(|(index, marker)| {
            let actuator = &self.actuators[self.io[*index].actuator];
            let (conn, permits) = (actuator.conn.clone(), actuator.permits.clone());
            let (spec, marker) = (self.core.groups[*index].spec.clone(), marker.clone());
            async move {
                let _permit = permits.acquire_owned().await;
                io::timed(call_timeout, conn.actuator.write_marker(&spec, marker.as_deref())).await
            }
        });
        let results = self.serving_commands(join_all(calls)).await;
        for ((index, marker), result) in writes.into_iter().zip(results) {
            let group = self.core.groups[index].spec.name.clone();
            match result {
                Ok(()) => {
                    tracing::info!(%group, marker = marker.as_deref().unwrap_or("(cleared)"), "pause marker written")
                }
                Err(error) => {
                    let verb = if marker.is_some() { "writing" } else { "clearing" };
                    let error = format!("{verb} the pause marker: {error}");
                    tracing::warn!(%group, %error, "pause marker not written; retrying next tick");
                    let retry_at = self.clock.now();
                    self.emit(Event::BackendFailed {
                        at: retry_at,
                        group,
                        backend: Backend::Actuator,
                        error,
                        retry_at,
                    });
                    // A newer command's write wins over this retry.
                    self.marker_writes.entry(index).or_insert(marker);
                }
            }
        }
    }

    /// Runs `work` (which borrows nothing of the engine) to its end, answering operator
    /// commands meanwhile: a slow backend never holds up a pause.
    async fn serving_commands<T>(&mut self, work: impl Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                Some((request, reply_tx)) = self.command_rx.recv() => {
                    let reply = self.answer(request).await;
                    let _ = reply_tx.send(reply);
                }
            }
        }
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
        // Each group's call at once: a slow backend holds up only its own groups, and
        // commands are answered meanwhile.
        let calls: Vec<Option<ActionCall>> = output
            .actions
            .iter()
            .map(|action| {
                let io = &self.io[action.group];
                // The timing rule, again right before the call: the polls and the store may
                // have eaten into the lease since the tick decided.
                let lease_ok = !self.lease_required(io)
                    || io.lease.may_act(
                        self.clock.monotonic(),
                        &self.settings.lease,
                        self.settings.call_timeout,
                    );
                let actuator = &self.actuators[io.actuator];
                lease_ok.then(|| ActionCall {
                    conn: actuator.conn.clone(),
                    permits: actuator.permits.clone(),
                    spec: self.core.groups[action.group].spec.clone(),
                    to: action.to,
                })
            })
            .collect();
        let call_timeout = self.settings.call_timeout;
        let runs = join_all(calls.into_iter().map(|call| async move {
            match call {
                Some(call) => Some(call.run(call_timeout).await),
                None => None,
            }
        }));
        let results = self.serving_commands(runs).await;
        for (action, result) in output.actions.into_iter().zip(results) {
            let name = self.core.groups[action.group].spec.name.clone();
            let Some(result) = result else {
                tracing::warn!(group = %name, to = action.to, "not acted on: the lease ran short before the call");
                // Not attempted: the core forgets the action (capacity did not change).
                self.io[action.group].action_outcome = None;
                continue;
            };
            let base = self.sources[self.io[action.group].source].conn.poll_interval;
            let io = &mut self.io[action.group];
            if result.is_ok() && io.write_health.succeeded() {
                tracing::info!(group = %name, "actuator accepts changes again");
            }
            if let Err(error) = &result {
                let error = BackendError {
                    message: format!("setting desired to {}: {}", action.to, error.message),
                    ..error.clone()
                };
                let retry_at = io.write_health.failed(now, &error, base, self.settings.max_backoff);
                tracing::warn!(group = %name, %error, "actuator call failed");
                let event = Event::BackendFailed {
                    at: now,
                    group: name,
                    backend: Backend::Actuator,
                    error: error.to_string(),
                    retry_at,
                };
                self.emit(event);
            }
            if result.is_ok() {
                self.enqueue_scale(action.group, action.from, action.to, now);
            }
            self.io[action.group].action_outcome = Some(result.map_err(|e| e.to_string()));
        }
    }

    /// Whether acting on this group needs our lease: always with a lease store; without
    /// one, for every actuator but one that no other engine can reach (the in-process
    /// simulator).
    fn lease_required(&self, io: &GroupIo) -> bool {
        self.leases.is_some() || self.actuators[io.actuator].conn.actuator.needs_lease()
    }

    fn publish_sim_events(&mut self) {
        let Some(sim) = &self.sim else { return };
        for (at, description) in sim.take_applied() {
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
                        stale: history.is_stale(now, g.stale_after),
                        minutes: history.minutes_view(),
                    })
                    .collect(),
                source: health::worst(&self.sources[io.source].health, &io.source_health).to_protocol(),
                // A failing connection first; a failing write matters more than a working read.
                actuator: health::worst(
                    &self.actuators[io.actuator].health,
                    health::worst(&io.write_health, &io.actuator_health),
                )
                .to_protocol(),
                alarms: g
                    .autoscaler
                    .alarm_views()
                    .into_iter()
                    .map(|a| AlarmView { held_until: g.pager.held(&a.name).map(|w| w.until), ..a })
                    .chain(io.alerts.iter().map(|a| AlarmView {
                        name: a.name.clone(),
                        state: a.state,
                        since: a.since.unwrap_or(now),
                        value: a.value,
                        summary: a.summary.clone(),
                        metric: None,
                        held_until: None,
                        source: Some(self.sources[io.source].conn.source.name().to_string()),
                    }))
                    .collect(),
                decision: g.autoscaler.decision_view(),
                controls: control_views(g, now),
                forecast: g.autoscaler.forecast_view(shown_from, now, g.spec.warmup.max),
                hourly_budget_usd: g.autoscaler.state.policy.hourly_budget_usd,
                warnings: io.warnings.clone(),
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
            notifiers: self.notifier_views(),
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
            clears_itself: false,
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
        Event::Alarm { group, alarm, from, to, .. } => {
            let (from, to) = (crate::model::words::alarm_state(*from), crate::model::words::alarm_state(*to));
            tracing::info!(%group, %alarm, from, to, "alarm state changed")
        }
        Event::Scaled { group, reason, shadow, .. } => {
            tracing::info!(%group, %reason, shadow, "scaling decision")
        }
        Event::Breaker { group, message, .. } => tracing::warn!(%group, %message, "circuit breaker"),
        _ => {}
    }
}

#[cfg(test)]
mod backfill_tests;
#[cfg(test)]
mod connection_tests;
#[cfg(test)]
mod marker_tests;
#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod scenario_tests;
#[cfg(test)]
mod tests;
