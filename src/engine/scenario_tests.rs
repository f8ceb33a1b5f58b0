//! The engine's acceptance scenarios, each running the real loop ([`Engine::run`]: the
//! interval, the command channel, the actuator calls) over the simulated fast profile on
//! tokio's paused clock. Virtual time moves only when every task waits, so the test sees
//! every tick in order; ticks are counted by snapshot `seq` (tick 1 at 0 s, one a second)
//! and nothing depends on wall time.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::actuators::{Actuator, Observation};
use crate::backends::{ActuatorConnection, Backends, SimActuator, SimSource, SourceConnection};
use crate::clock::TokioClock;
use crate::model::{BackendError, GroupSpec, MetricKind, PauseMode};
use crate::protocol::{ControlKind, Operator, SimCommand, Target};
use crate::sources::MetricSource;

const START: Timestamp = Timestamp(1_767_225_600_000);

/// The fast profile (GPU target tracking at 0.7 on every group) with a ×4 spike on
/// llm-chat at 5 s (tick 6), in the given mode, on tokio's clock.
pub(super) fn autoscaling_engine(clock: Arc<dyn Clock>, mode: AutoscaleMode) -> Engine {
    Engine::simulated(&flash_crowd(), 7, clock, false, mode == AutoscaleMode::Shadow)
}

/// The fast profile with a ×4 spike on llm-chat at 5 s (tick 6).
fn flash_crowd() -> Config {
    let mut config = crate::config::fast_profile();
    config.sim_events.push(crate::config::ScheduledSimEvent {
        at: Duration::from_secs(5),
        command: SimCommand::Spike {
            group: "llm-chat".into(),
            factor: 4.0,
            duration: Duration::from_secs(600),
        },
    });
    config
}

/// Observes and changes the simulated fleet, counting `set_desired` calls; fails them
/// all while `broken`.
struct CountingActuator {
    inner: SimActuator,
    calls: Arc<AtomicU32>,
    broken: Arc<std::sync::atomic::AtomicBool>,
    /// While set, `observe()` fails too.
    blind: Arc<std::sync::atomic::AtomicBool>,
    /// Stands in for a real backend (which other engines can reach) rather than this
    /// process's simulator.
    real: bool,
}

impl Actuator for CountingActuator {
    fn name(&self) -> &str {
        "counting"
    }
    fn needs_lease(&self) -> bool {
        self.real
    }
    fn observe<'a>(
        &'a self,
        g: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Observation, BackendError>> {
        if self.blind.load(Ordering::SeqCst) {
            let error = BackendError::transient("DescribeAutoScalingGroups: connection reset by peer");
            return Box::pin(std::future::ready(Err(error)));
        }
        self.inner.observe(g)
    }
    fn set_desired<'a>(
        &'a self,
        g: &'a GroupSpec,
        d: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.broken.load(Ordering::SeqCst) {
            let error = BackendError::transient("UpdateAutoScalingGroup: 503 Service Unavailable");
            return Box::pin(std::future::ready(Err(error)));
        }
        self.inner.set_desired(g, d)
    }
    fn write_marker<'a>(
        &'a self,
        g: &'a GroupSpec,
        marker: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        self.inner.write_marker(g, marker)
    }
}

/// What a rewired engine's actuator does: its calls so far, and a switch to break it.
pub(super) struct Probe {
    pub calls: Arc<AtomicU32>,
    pub broken: Arc<std::sync::atomic::AtomicBool>,
    pub blind: Arc<std::sync::atomic::AtomicBool>,
}

impl Probe {
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// An engine over the same groups and simulated fleet as `base`, whose actuator counts
/// its calls (and fails them while broken): a second process on the same fleet, or the
/// same engine with an instrumented actuator.
pub(super) fn rewired(base: &Engine, clock: Arc<dyn Clock>) -> (Engine, Probe) {
    rewired_as(base, clock, false)
}

/// [`rewired`], with an actuator that is a real backend (`real`) or the simulator.
pub(super) fn rewired_as(base: &Engine, clock: Arc<dyn Clock>, real: bool) -> (Engine, Probe) {
    let sim = base.sim.clone().unwrap();
    let fleet = sim.fleet().clone();
    let probe = Probe { calls: Arc::new(AtomicU32::new(0)), broken: Arc::default(), blind: Arc::default() };
    let source: Arc<dyn MetricSource> = Arc::new(SimSource::new("sim", fleet.clone(), clock.clone()));
    let actuator: Arc<dyn Actuator> = Arc::new(CountingActuator {
        inner: SimActuator::new("sim", fleet.clone(), clock.clone()),
        calls: probe.calls.clone(),
        broken: probe.broken.clone(),
        blind: probe.blind.clone(),
        real,
    });
    let groups = base.core.groups.iter().map(|g| {
        let shadow = g.autoscaler.mode == AutoscaleMode::Shadow;
        (g.spec.clone(), g.autoscaler.state.policy.clone(), Vec::new(), shadow)
    });
    let source = SourceConnection {
        source,
        poll_interval: Duration::from_secs(1),
        stale_after: Duration::from_secs(3),
    };
    let mut backends = Backends::single(source, ActuatorConnection { actuator, max_concurrency: 8 }, groups);
    backends.sim = Some(sim);
    let settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    (Engine::new(backends, clock, settings), probe)
}

/// Leases of 5 s, calls bounded at 2 s and a 0.5 s skew margin: takeovers within a few
/// one-second ticks.
fn short_leases(engine: &mut Engine) {
    engine.settings.call_timeout = Duration::from_secs(2);
    engine.settings.lease =
        LeaseTiming { ttl: Duration::from_secs(5), skew_margin: Duration::from_millis(500) };
}

/// A [`rewired`] engine with short leases, as `holder` on a host of its own (`NAME-host`:
/// no engine judges another's process), on the store at `path` if given (else the caller
/// sets it, after rewiring more).
fn leasing_engine(
    base: &Engine,
    clock: &Arc<dyn Clock>,
    holder: &str,
    path: Option<&std::path::Path>,
) -> (Engine, Probe) {
    let (mut engine, probe) = rewired(base, clock.clone());
    short_leases(&mut engine);
    let name = holder.split('@').next().unwrap_or(holder);
    engine.identity = Identity { holder: holder.into(), host: format!("{name}-host") };
    if let Some(path) = path {
        engine.set_store(crate::store::Store::open(path).unwrap()).unwrap();
    }
    (engine, probe)
}

pub(super) fn request(command: Command) -> CommandRequest {
    CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some("drill".into()),
        command,
    }
}

/// An engine running its own loop in a task, watched tick by tick.
pub(super) struct Running {
    pub conn: Connection,
    /// Every event seen, with the tick it was published in.
    events: Vec<(u64, Event)>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    pub(super) fn start(engine: Engine) -> Self {
        let conn = engine.connect();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(engine.run(async move {
            let _ = stopped.await;
        }));
        Running { conn, events: Vec::new(), stop: Some(stop), task }
    }

    /// Waits for tick `n`'s snapshot, calling `each` on every snapshot on the way.
    pub(super) async fn run_until(&mut self, n: u64, mut each: impl FnMut(&Snapshot)) -> Arc<Snapshot> {
        loop {
            let snapshot = self.conn.snapshots.borrow_and_update().clone();
            while let Ok(event) = self.conn.events.try_recv() {
                self.events.push((snapshot.seq, event));
            }
            if snapshot.seq > 0 {
                each(&snapshot);
            }
            if snapshot.seq >= n {
                return snapshot;
            }
            // Virtual time: an hour is a bound on a stuck loop, not a wait.
            let changed =
                tokio::time::timeout(Duration::from_secs(3600), self.conn.snapshots.changed()).await;
            changed.expect("the engine ticks").expect("the engine is running");
        }
    }

    pub(super) async fn until(&mut self, n: u64) -> Arc<Snapshot> {
        self.run_until(n, |_| {}).await
    }

    /// Sends a command through the protocol, as a console would, and waits for the reply.
    pub(super) async fn command(&self, command: Command) -> Reply {
        self.conn.commands.send(request(command)).await.expect("a reply")
    }

    /// Events of `group` seen so far, with their tick.
    fn events_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a (u64, Event)> + 'a {
        self.events.iter().filter(move |(_, e)| match e {
            Event::Alarm { group: g, .. }
            | Event::Scaled { group: g, .. }
            | Event::Breaker { group: g, .. } => g == group,
            _ => false,
        })
    }

    /// A clean shutdown: the engine flushes its log and releases its leases.
    pub(super) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }

    /// kill -9: the task is gone mid-loop, nothing released or flushed.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

pub(super) fn clock() -> Arc<dyn Clock> {
    Arc::new(TokioClock::new(START))
}

fn scaled_out(events: &[(u64, Event)], group: &str) -> Vec<(u64, u32, u32, bool)> {
    events
        .iter()
        .filter_map(|(tick, e)| match e {
            Event::Scaled { group: g, from, to, shadow, .. } if g == group && to > from => {
                Some((*tick, *from, *to, *shadow))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_flash_crowd_gets_one_scale_out_in_the_tick_that_sees_it_and_none_on_the_same_data() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (engine, probe) = rewired(&base, clock);
    let mut running = Running::start(engine);
    // Per tick: llm-chat's newest utilization and ready count.
    let mut seen: Vec<(u64, f64, u32)> = Vec::new();
    running
        .run_until(40, |s| {
            let chat = s.group("llm-chat").unwrap();
            let util = chat.latest(&MetricKind::GpuUtil).map_or(f64::NAN, |p| p.value);
            seen.push((s.seq, util, chat.capacity.unwrap().ready));
        })
        .await;
    // The alarm condition: utilization beyond target tracking's 10 % tolerance over 0.7.
    let condition = seen.iter().find(|(_, util, _)| *util > 0.77).map(|(t, ..)| *t).expect("the spike shows");
    assert!(condition >= 6, "the spike starts at 5 s (tick 6), seen at tick {condition}");
    let outs = scaled_out(&running.events, "llm-chat");
    let (first, from, to, shadow) = outs[0];
    assert_eq!(first, condition, "one scale-out in the tick that first sees the condition: {outs:?}");
    assert!(!shadow && from == 4 && to > 4, "{outs:?}");
    let ready = |tick: u64| seen.iter().find(|(t, ..)| *t == tick).map(|(_, _, r)| *r).unwrap();
    let warmup = base.core.groups[0].spec.warmup.max.as_secs();
    for pair in outs.windows(2) {
        let (before, after) = (pair[0].0, pair[1].0);
        assert!(
            after >= before + warmup || ready(after) > ready(before),
            "tick {after} scaled out again during the warm-up of tick {before}'s on the same {} ready: {outs:?}",
            ready(after)
        );
    }
    assert_eq!(probe.calls(), outs.len() as u32, "one actuator call per scale-out");
    running.stop().await;
}

/// What a run did to the fleet.
struct Outcome {
    /// `set_desired` calls.
    calls: u32,
    /// llm-chat's highest desired and vision's lowest, over every tick.
    chat_highest: u32,
    vision_lowest: u32,
    /// The last tick's snapshot.
    last: Arc<Snapshot>,
}

/// The flash crowd (llm-chat ×4 at 5 s) with a lull on vision (×0.3 at 5 s, its
/// scale-down window off so that it scales in at once), run for `ticks` ticks with every
/// group paused in `pause` mode from the start (before either event), decisions logged
/// to `log` if given. Without a pause, llm-chat scales out and vision in: the control
/// that each pause test compares with.
async fn crowd_and_lull(pause: Option<PauseMode>, ticks: u64, log: Option<&std::path::Path>) -> Outcome {
    let clock = clock();
    let mut config = flash_crowd();
    config.sim_events.push(crate::config::ScheduledSimEvent {
        at: Duration::from_secs(5),
        command: SimCommand::Spike {
            group: "vision".into(),
            factor: 0.3,
            duration: Duration::from_secs(600),
        },
    });
    config.groups[1].policy.stabilization.scale_down = Duration::ZERO;
    let base = Engine::simulated(&config, 7, clock.clone(), false, false);
    let (mut engine, probe) = rewired(&base, clock);
    if let Some(log) = log {
        engine.set_audit_log(log.to_path_buf());
    }
    let mut running = Running::start(engine);
    if let Some(mode) = pause {
        let pause = Command::Pause { target: Target::All, duration: None, mode };
        assert!(matches!(running.command(pause).await, Reply::Ok { .. }));
    }
    let (mut chat_highest, mut vision_lowest) = (0, u32::MAX);
    let last = running
        .run_until(ticks, |s| {
            chat_highest = chat_highest.max(s.group("llm-chat").unwrap().capacity.unwrap().desired);
            vision_lowest = vision_lowest.min(s.group("vision").unwrap().capacity.unwrap().desired);
        })
        .await;
    running.stop().await; // flushes the log
    Outcome { calls: probe.calls(), chat_highest, vision_lowest, last }
}

#[tokio::test(start_paused = true)]
async fn paused_through_a_flash_crowd_no_actuator_call_and_the_log_says_blocked_paused() {
    // The control: unpaused, the same run changes both groups.
    let control = crowd_and_lull(None, 40, None).await;
    assert!(control.calls > 0, "unpaused, the crowd and the lull are acted on");
    assert!(
        control.chat_highest > 4 && control.vision_lowest < 4,
        "{} / {}",
        control.chat_highest,
        control.vision_lowest
    );

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let paused = crowd_and_lull(Some(PauseMode::Full), 40, Some(&log)).await;
    assert_eq!(paused.calls, 0, "a paused fleet is never changed");
    assert_eq!((paused.chat_highest, paused.vision_lowest), (4, 4), "neither out nor in");
    let chat = paused.last.group("llm-chat").unwrap();
    let reason = &chat.decision.as_ref().unwrap().reason;
    assert!(reason.starts_with("blocked: paused by ana"), "{reason}");
    let blocked = crate::audit::read_lines(&log)
        .filter_map(Result::ok)
        .filter(|line| matches!(line, crate::audit::AuditLine::Decision(d) if d.decision.reason.starts_with("blocked: paused by ana")))
        .count();
    assert!(blocked > 0, "the decision log says why nothing happened");
}

#[tokio::test(start_paused = true)]
async fn a_scale_in_only_pause_still_scales_out() {
    // The control: unpaused, llm-chat scales out and vision scales in.
    let control = crowd_and_lull(None, 30, None).await;
    assert!(
        control.chat_highest > 4 && control.vision_lowest < 4,
        "{} / {}",
        control.chat_highest,
        control.vision_lowest
    );
    // A full pause blocks the very scale-out that a scale-in-only pause lets through.
    let full = crowd_and_lull(Some(PauseMode::Full), 30, None).await;
    assert_eq!((full.calls, full.chat_highest), (0, 4));

    let scale_in_only = crowd_and_lull(Some(PauseMode::ScaleInOnly), 30, None).await;
    assert!(scale_in_only.calls > 0);
    assert!(scale_in_only.chat_highest > 4, "llm-chat still scales out");
    assert!(scale_in_only.last.group("llm-chat").unwrap().capacity.unwrap().desired > 4);
    assert_eq!(scale_in_only.vision_lowest, 4, "vision's scale-in is blocked");
    let vision = scale_in_only.last.group("vision").unwrap();
    let reason = &vision.decision.as_ref().unwrap().reason;
    assert!(reason.contains("scale-in paused by ana"), "{reason}");
}

#[tokio::test(start_paused = true)]
async fn in_shadow_mode_nothing_is_called_and_the_would_be_change_is_announced() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Shadow);
    let (engine, probe) = rewired(&base, clock);
    let mut running = Running::start(engine);
    let snapshot = running.until(30).await;
    assert_eq!(probe.calls(), 0);
    let chat = snapshot.group("llm-chat").unwrap();
    assert_eq!(chat.capacity.unwrap().desired, 4);
    let decision = chat.decision.as_ref().unwrap();
    assert!(decision.shadow && decision.desired.is_some_and(|d| d > 4), "{decision:?}");
    let outs = scaled_out(&running.events, "llm-chat");
    assert!(!outs.is_empty() && outs.iter().all(|(.., shadow)| *shadow), "{outs:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn stale_metrics_freeze_scale_in_and_the_freeze_lifts_when_data_returns() {
    let clock = clock();
    let mut engine = autoscaling_engine(clock, AutoscaleMode::Act);
    // vision runs at 60 %; a 0.9 target wants fewer instances, so the data matters.
    engine.core.groups[1].autoscaler.state.policy.target_tracking[0].target = 0.9;
    let mut running = Running::start(engine);
    running.until(10).await;
    let gap = SimCommand::Gap { group: "vision".into(), duration: Duration::from_secs(20) };
    assert!(matches!(running.command(Command::Sim { action: gap }).await, Reply::Ok { .. }));
    let mut during = Vec::new();
    running
        .run_until(50, |s| {
            let vision = s.group("vision").unwrap();
            let frozen = vision.controls.iter().any(|c| c.kind == ControlKind::Breaker);
            during.push((s.seq, frozen, vision.capacity.unwrap().desired));
        })
        .await;
    let trips: Vec<(u64, bool)> = running
        .events_of("vision")
        .filter_map(|(tick, e)| match e {
            Event::Breaker { tripped, .. } => Some((*tick, *tripped)),
            _ => None,
        })
        .collect();
    assert_eq!(trips.len(), 2, "one trip, one reset — no flapping in between: {trips:?}");
    let ((tripped_at, true), (reset_at, false)) = (trips[0], trips[1]) else { panic!("{trips:?}") };
    assert!(tripped_at <= 10 + 5, "the trip follows the gap within stale_after: {trips:?}");
    assert!(reset_at > tripped_at + 15, "and lifts when data returns after the 20 s gap: {trips:?}");
    let frozen_desired: Vec<u32> =
        during.iter().filter(|(t, ..)| *t > tripped_at && *t < reset_at).map(|(.., d)| *d).collect();
    assert!(frozen_desired.iter().all(|d| *d == 4), "no scale-in while frozen: {frozen_desired:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn k_actuator_failures_back_off_then_freeze_until_an_operator_resets() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (mut engine, probe) = rewired(&base, clock);
    probe.broken.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    engine.set_store(crate::store::Store::open(dir.path().join("state.db")).unwrap()).unwrap();
    let mut running = Running::start(engine);
    let mut calls_by_tick = Vec::new();
    let snapshot = running.run_until(120, |s| calls_by_tick.push((s.seq, probe.calls()))).await;
    let tripped: Vec<u64> = running
        .events_of("llm-chat")
        .filter_map(|(tick, e)| matches!(e, Event::Breaker { tripped: true, .. }).then_some(*tick))
        .collect();
    assert_eq!(tripped.len(), 1, "{tripped:?}");
    assert_eq!(probe.calls(), 3, "K = 3 failed calls, then no more");
    // Backoff: the wait between retries doubles from one poll interval (1, 2, … ticks).
    let call_ticks: Vec<u64> = calls_by_tick.windows(2).filter(|w| w[1].1 > w[0].1).map(|w| w[1].0).collect();
    let gaps: Vec<u64> = call_ticks.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [1, 2], "backed off between calls at ticks {call_ticks:?}");
    let chat = snapshot.group("llm-chat").unwrap();
    let breaker = chat.controls.iter().find(|c| c.kind == ControlKind::Breaker);
    let text = &breaker.unwrap_or_else(|| panic!("{:?}", chat.controls)).text;
    assert!(text.starts_with("breaker actuator failures open (all scaling frozen): "), "{text}");
    assert_eq!(chat.capacity.unwrap().desired, 4);
    // Only an operator closes it; fixed, the next tick scales out.
    probe.broken.store(false, Ordering::SeqCst);
    let reset = running.command(Command::ResetBreaker { target: Target::Group("llm-chat".into()) }).await;
    assert!(
        matches!(reset, Reply::Ok { ref message } if message.contains("breaker reset on llm-chat")),
        "{reset:?}"
    );
    let snapshot = running.until(snapshot.seq + 5).await;
    assert!(snapshot.group("llm-chat").unwrap().capacity.unwrap().desired > 4);
    let again = running.command(Command::ResetBreaker { target: Target::Group("llm-chat".into()) }).await;
    assert!(matches!(again, Reply::Refused { .. }), "nothing left to reset: {again:?}");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stalled_scale_out_raises_an_alarm_and_is_not_stacked() {
    let clock = clock();
    let engine = autoscaling_engine(clock, AutoscaleMode::Act);
    let mut running = Running::start(engine);
    // No GPU capacity in the zone: launches during the next 10 minutes never arrive.
    let stockout = SimCommand::Stockout { group: "llm-chat".into(), duration: Duration::from_secs(600) };
    assert!(matches!(running.command(Command::Sim { action: stockout }).await, Reply::Ok { .. }));
    let mut desired_seen = Vec::new();
    let snapshot = running
        .run_until(60, |s| desired_seen.push(s.group("llm-chat").unwrap().capacity.unwrap().desired))
        .await;
    let first_raise = desired_seen.iter().copied().find(|&d| d > 4).expect("the spike asks for more");
    assert!(
        desired_seen.iter().all(|&d| d <= first_raise),
        "no stacking while nothing arrives: {desired_seen:?}"
    );
    let chat = snapshot.group("llm-chat").unwrap();
    let alarm = chat.alarms.iter().find(|a| a.name == autoscale::STALLED_ALARM).expect("an alarm");
    assert_eq!(alarm.state, crate::model::AlarmState::Firing);
    let raised = running
        .events_of("llm-chat")
        .any(|(_, e)| matches!(e, Event::Alarm { alarm, .. } if alarm == autoscale::STALLED_ALARM));
    assert!(raised, "and it is announced");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn two_engines_on_one_store_and_fleet_only_the_holder_acts_and_the_other_takes_over_after_a_kill() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (first, first_probe) = leasing_engine(&base, &clock, "first@host:1", Some(&path));
    // The second drives the same simulated fleet, as a second process watches the same
    // real fleet.
    let (second, second_probe) = leasing_engine(&base, &clock, "second@host:2", Some(&path));
    let fleet = base.sim.clone().unwrap().fleet().clone();
    // The first takes the leases before the second starts (started together, either
    // may win the free leases: exactly one does, which the lease tests check).
    let mut first = Running::start(first);
    let held = first.until(1).await;
    assert!(
        held.groups.iter().all(|g| g.lease.as_ref().is_some_and(|l| l.ours)),
        "the first holds every lease"
    );
    let mut second = Running::start(second);
    let seen = second.until(30).await;
    assert_eq!(second_probe.calls(), 0, "the engine without the lease never acts");
    assert!(first_probe.calls() > 0, "the holder scaled the spike out");
    let lease = seen.group("llm-chat").unwrap().lease.clone().unwrap();
    assert!(!lease.ours && lease.holder == "first@host:1", "{lease:?}");
    // kill -9 the holder: no release. A new incident the second must handle on its own.
    first.kill().await;
    let killed_at = seen.seq;
    let spike = SimCommand::Spike { group: "vision".into(), factor: 3.0, duration: Duration::from_secs(600) };
    fleet.lock().unwrap().apply(&spike).unwrap();
    let mut taken_over = None;
    second
        .run_until(killed_at + 30, |s| {
            if taken_over.is_none() && s.group("vision").unwrap().lease.as_ref().is_some_and(|l| l.ours) {
                taken_over = Some(s.seq);
            }
        })
        .await;
    let taken_over = taken_over.expect("the second takes the lease");
    // The record stood unchanged for the 5 s ttl on the second's clock: not before, soon
    // after (it first saw the last renewal up to a tick late, and acts on its next tick).
    assert!(taken_over > killed_at + 4 && taken_over <= killed_at + 8, "took over at tick {taken_over}");
    assert!(second_probe.calls() > 0, "and acts");
    second.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_read_only_screen_started_first_takes_no_lease_and_shows_who_acts() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (mut screen, screen_probe) = rewired(&base, clock.clone());
    screen.core.settings.readonly = true;
    screen.identity = Identity { holder: "war-room@host:1".into(), host: "war-room-host".into() };
    screen.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let mut screen = Running::start(screen);
    screen.until(5).await;
    let (mut acting, acting_probe) = rewired(&base, clock);
    acting.identity = Identity { holder: "daemon@host:2".into(), host: "daemon-host".into() };
    acting.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let acting = Running::start(acting);
    let seen = screen.until(30).await;
    assert!(acting_probe.calls() > 0, "the acting engine got the lease and scaled the spike out");
    assert_eq!(screen_probe.calls(), 0);
    let lease = seen.group("llm-chat").unwrap().lease.clone().expect("the screen shows the holder");
    assert!(!lease.ours && lease.holder == "daemon@host:2", "{lease:?}");
    acting.stop().await;
    screen.stop().await;
}

/// Polls the simulated fleet, taking `delay` per call while `slow` is set (under the call
/// timeout: a slow answer, not a failed one).
struct SlowSource {
    inner: SimSource,
    slow: Arc<std::sync::atomic::AtomicBool>,
    delay: Duration,
}

impl MetricSource for SlowSource {
    fn name(&self) -> &str {
        "slow"
    }

    fn poll<'a>(
        &'a self,
        groups: &'a [GroupSpec],
    ) -> futures::future::BoxFuture<'a, crate::sources::SourcePoll> {
        Box::pin(async move {
            if self.slow.load(Ordering::SeqCst) {
                tokio::time::sleep(self.delay).await;
            }
            self.inner.poll(groups).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_lease_renewed_after_a_slow_poll_runs_from_the_renew_and_a_newcomer_does_not_take_it() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (mut first, _first_probe) = leasing_engine(&base, &clock, "first@host:1", None);
    // Every poll of the first engine takes 1.9 s of its 2 s timeout while `slow`: with
    // its 5 s ttl, a renew made with the tick's starting time would be out of date at once.
    let slow = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fleet = base.sim.clone().unwrap().fleet().clone();
    let source: Arc<dyn MetricSource> = Arc::new(SlowSource {
        inner: SimSource::new("sim", fleet.clone(), clock.clone()),
        slow: slow.clone(),
        delay: Duration::from_millis(1900),
    });
    for conn in &mut first.sources {
        conn.conn.source = source.clone();
    }
    first.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let mut first = Running::start(first);
    first.until(3).await;
    slow.store(true, Ordering::SeqCst);
    let slow_tick = first.until(6).await;
    // Renewed from when the renew was made, after the slow polls.
    let record = crate::store::Store::open(&path).unwrap().lease("llm-chat").unwrap().unwrap();
    assert_eq!(record.holder, "first@host:1");
    assert!(
        record.renewed_at >= slow_tick.taken_at.minus(Duration::from_millis(100)),
        "renewed at {} for a tick published at {}",
        record.renewed_at.to_rfc3339(),
        slow_tick.taken_at.to_rfc3339()
    );
    assert!(record.expires_at > clock.now(), "the renewed lease has not run out");
    // A second engine started now finds a live lease and keeps off it.
    let (second, second_probe) = leasing_engine(&base, &clock, "second@host:2", Some(&path));
    let mut second = Running::start(second);
    let mut holders = Vec::new();
    second
        .run_until(4, |s| {
            holders.push(s.group("llm-chat").unwrap().lease.clone().map(|l| (l.holder, l.ours)))
        })
        .await;
    assert!(
        holders.iter().flatten().all(|(holder, ours)| holder == "first@host:1" && !ours),
        "the first engine keeps the lease it renewed: {holders:?}"
    );
    assert_eq!(second_probe.calls(), 0);
    second.stop().await;
    first.stop().await;
}

#[tokio::test(start_paused = true)]
async fn without_a_store_a_real_backend_is_only_observed_and_the_log_says_why() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (engine, probe) = rewired_as(&base, clock, true);
    let mut running = Running::start(engine);
    let seen = running.until(30).await;
    assert_eq!(probe.calls(), 0, "no lease, no action");
    let chat = seen.group("llm-chat").unwrap();
    let decided = running.events.iter().find_map(|(_, e)| match e {
        Event::Scaled { group, reason, shadow: true, .. } if group == "llm-chat" => Some(reason.clone()),
        _ => None,
    });
    let reason = decided.expect("the spike was decided on, and not acted on");
    assert!(reason.contains("no state store, so no lease"), "{reason}");
    assert_eq!(chat.capacity.unwrap().desired, 4, "nothing changed");
    running.stop().await;
    // The same engine over the simulator (no other engine can reach it) acts.
    let clock = super::scenario_tests::clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (engine, probe) = rewired_as(&base, clock, false);
    let mut running = Running::start(engine);
    running.until(30).await;
    assert!(probe.calls() > 0, "the control: the spike is scaled out");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn capacity_observed_longer_ago_than_the_actuators_limit_is_unknown_and_never_acted_on() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (engine, probe) = rewired(&base, clock);
    let blind = probe.blind.clone();
    let mut running = Running::start(engine);
    running.until(2).await;
    // Capacity was observed; from now on observe() fails, through the spike at 5 s.
    blind.store(true, Ordering::SeqCst);
    let seen = running.until(30).await;
    assert_eq!(probe.calls(), 0, "no change is made on capacity nobody can see");
    let chat = seen.group("llm-chat").unwrap();
    assert!(chat.capacity_stale, "shown as stale");
    let reason = &chat.decision.as_ref().unwrap().reason;
    assert!(reason.contains("capacity unknown (last observed"), "{reason}");
    let tripped = running.events.iter().any(|(_, e)| {
        matches!(e, Event::Breaker { group, tripped: true, message, .. } if group == "llm-chat" && message.contains("desired_capacity"))
    });
    assert!(tripped, "the breaker counts it: {:?}", running.events_of("llm-chat").collect::<Vec<_>>());
    // Seen again: the spike is scaled out.
    blind.store(false, Ordering::SeqCst);
    running.until(40).await;
    assert!(probe.calls() > 0, "acted on once capacity is known again");
    running.stop().await;
}
