//! The engine's acceptance scenarios, each running the real loop ([`Engine::run`]: the
//! interval, the command channel, the actuator calls) over the simulated fast profile on
//! tokio's paused clock. Virtual time moves only when every task waits, so the test sees
//! every tick in order; ticks are counted by snapshot `seq` (tick 1 at 0 s, one a second)
//! and nothing depends on wall time.

use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::*;
use crate::actuators::ActuatorError;
use crate::clock::TokioClock;
use crate::protocol::{ControlKind, Operator, SimCommand, Target};

const START: Timestamp = Timestamp(1_767_225_600_000);

/// The fast profile (GPU target tracking at 0.7 on every group) with a ×4 spike on
/// llm-chat at 5 s (tick 6), in the given mode, on tokio's clock.
pub(super) fn autoscaling_engine(clock: Arc<dyn Clock>, mode: AutoscaleMode) -> Engine {
    let mut config = crate::config::fast_profile();
    config.sim_events.push(crate::config::ScheduledSimEvent {
        at: Duration::from_secs(5),
        command: SimCommand::Spike {
            group: "llm-chat".into(),
            factor: 4.0,
            duration: Duration::from_secs(600),
        },
    });
    Engine::simulated(&config, 7, clock, false, mode == AutoscaleMode::Shadow)
}

/// Observes and changes the simulated fleet, counting `set_desired` calls; fails them
/// all while `broken`.
struct CountingActuator {
    inner: crate::actuators::SimActuator,
    calls: Arc<AtomicU32>,
    broken: Arc<std::sync::atomic::AtomicBool>,
}

impl Actuator for CountingActuator {
    fn name(&self) -> &str {
        "counting"
    }
    fn observe<'a>(
        &'a self,
        g: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Capacity, ActuatorError>> {
        self.inner.observe(g)
    }
    fn set_desired<'a>(
        &'a self,
        g: &'a GroupSpec,
        d: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), ActuatorError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.broken.load(Ordering::SeqCst) {
            let error = ActuatorError("UpdateAutoScalingGroup: access denied".into());
            return Box::pin(std::future::ready(Err(error)));
        }
        self.inner.set_desired(g, d)
    }
}

/// What a rewired engine's actuator does: its calls so far, and a switch to break it.
pub(super) struct Probe {
    pub calls: Arc<AtomicU32>,
    pub broken: Arc<std::sync::atomic::AtomicBool>,
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
    let fleet = base.sim.clone().unwrap();
    let probe = Probe { calls: Arc::new(AtomicU32::new(0)), broken: Arc::default() };
    let source: Arc<dyn MetricSource> = Arc::new(SimSource::new(fleet.clone(), clock.clone()));
    let actuator: Arc<dyn Actuator> = Arc::new(CountingActuator {
        inner: crate::actuators::SimActuator::new(fleet.clone(), clock.clone()),
        calls: probe.calls.clone(),
        broken: probe.broken.clone(),
    });
    let groups = base
        .core
        .groups
        .iter()
        .map(|g| GroupBackends {
            spec: g.spec.clone(),
            source: source.clone(),
            actuator: actuator.clone(),
            policy: g.autoscaler.state.policy.clone(),
            alarms: Vec::new(),
            shadow: g.autoscaler.mode == AutoscaleMode::Shadow,
        })
        .collect();
    let settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    (Engine::new(groups, clock, settings, Some(fleet)), probe)
}

pub(super) fn request(command: Command) -> CommandRequest {
    CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some("drill".into()),
        command,
    }
}

/// An engine running its own loop in a task, watched tick by tick.
struct Running {
    conn: Connection,
    /// Every event seen, with the tick it was published in.
    events: Vec<(u64, Event)>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Running {
    fn start(engine: Engine) -> Self {
        let conn = engine.connect();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(engine.run(async move {
            let _ = stopped.await;
        }));
        Running { conn, events: Vec::new(), stop: Some(stop), task }
    }

    /// Waits for tick `n`'s snapshot, calling `each` on every snapshot on the way.
    async fn run_until(&mut self, n: u64, mut each: impl FnMut(&Snapshot)) -> Arc<Snapshot> {
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

    async fn until(&mut self, n: u64) -> Arc<Snapshot> {
        self.run_until(n, |_| {}).await
    }

    /// Sends a command through the protocol, as a console would, and waits for the reply.
    async fn command(&self, command: Command) -> Reply {
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
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }

    /// kill -9: the task is gone mid-loop, nothing released or flushed.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

fn clock() -> Arc<dyn Clock> {
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

#[tokio::test(start_paused = true)]
async fn paused_through_a_flash_crowd_no_actuator_call_and_the_log_says_blocked_paused() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (mut engine, probe) = rewired(&base, clock);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("decisions.jsonl");
    engine.set_audit_log(log.clone());
    let mut running = Running::start(engine);
    let pause = Command::Pause { target: Target::All, duration: None, mode: crate::policy::PauseMode::Full };
    assert!(matches!(running.command(pause).await, Reply::Ok { .. }));
    let snapshot = running.until(40).await;
    assert_eq!(probe.calls(), 0, "a paused fleet is never changed");
    let chat = snapshot.group("llm-chat").unwrap();
    assert_eq!(chat.capacity.unwrap().desired, 4);
    let reason = &chat.decision.as_ref().unwrap().reason;
    assert!(reason.starts_with("blocked: paused by ana"), "{reason}");
    running.stop().await; // flushes the log
    let blocked = crate::audit::read_lines(&log)
        .filter_map(Result::ok)
        .filter(|line| matches!(line, crate::audit::AuditLine::Decision(d) if d.decision.reason.starts_with("blocked: paused by ana")))
        .count();
    assert!(blocked > 0, "the decision log says why nothing happened");
}

#[tokio::test(start_paused = true)]
async fn a_scale_in_only_pause_still_scales_out() {
    let clock = clock();
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let (engine, probe) = rewired(&base, clock);
    let mut running = Running::start(engine);
    let pause = Command::Pause {
        target: Target::Group("llm-chat".into()),
        duration: None,
        mode: crate::policy::PauseMode::ScaleInOnly,
    };
    assert!(matches!(running.command(pause).await, Reply::Ok { .. }));
    let snapshot = running.until(30).await;
    assert!(probe.calls() > 0);
    assert!(snapshot.group("llm-chat").unwrap().capacity.unwrap().desired > 4);
    running.stop().await;
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
    let (mut first, first_probe) = rewired(&base, clock.clone());
    first.identity = ("first@host:1".into(), "host".into());
    first.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    // The second drives the same simulated fleet, as a second process on one machine
    // watches the same real fleet.
    let (mut second, second_probe) = rewired(&base, clock);
    second.identity = ("second@host:2".into(), "host".into());
    second.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let fleet = base.sim.clone().unwrap();
    let first = Running::start(first);
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
    // Leases last three poll intervals (at least 5 s): not before expiry, soon after.
    assert!(taken_over > killed_at + 3 && taken_over <= killed_at + 7, "took over at tick {taken_over}");
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
    screen.identity = ("war-room@host:1".into(), "host".into());
    screen.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let mut screen = Running::start(screen);
    screen.until(5).await;
    let (mut acting, acting_probe) = rewired(&base, clock);
    acting.identity = ("daemon@host:2".into(), "host".into());
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
