//! Engine tests on a manual clock with scripted backends: no simulator, no sleeps.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::*;
use crate::actuators::{Actuator, Observation};
use crate::backends::{ActuatorConnection, GroupBackends, SourceConnection};
use crate::clock::ManualClock;
use crate::model::{Capacity, GroupSpec, MetricKind, MetricSample, Sample, Serving, WarmupRange};
use crate::protocol::{BackendHealth, Operator, SimCommand, Target};
use crate::sources::{MetricSource, SourcePoll};

fn spec(name: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        source: crate::model::SIM.into(),
        actuator: crate::model::SIM.into(),
        min: 1,
        max: 4,
        hard_max: None,
        desired: 2,
        instance_type: "g5.xlarge".into(),
        hourly_cost_usd: 1.0,
        warmup: WarmupRange::default(),
        serving: Serving::Generic,
        slo_p95: None,
    }
}

/// Reports GPU utilization 0.5 stamped with the clock's now, or fails while told to.
struct ScriptedSource {
    clock: ManualClock,
    failing: AtomicBool,
    hang: AtomicBool,
    frozen: AtomicBool,
    calls: AtomicU32,
}

impl ScriptedSource {
    fn new(clock: &ManualClock) -> Arc<Self> {
        Arc::new(ScriptedSource {
            clock: clock.clone(),
            failing: AtomicBool::new(false),
            hang: AtomicBool::new(false),
            frozen: AtomicBool::new(false),
            calls: AtomicU32::new(0),
        })
    }
}

impl MetricSource for ScriptedSource {
    fn name(&self) -> &str {
        "scripted"
    }

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> futures::future::BoxFuture<'a, SourcePoll> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            return Box::pin(futures::future::pending());
        }
        let result = if self.failing.load(Ordering::SeqCst) {
            Err(BackendError::transient("connection refused"))
        } else {
            // A frozen source answers but has nothing new: the last point again.
            let at = if self.frozen.load(Ordering::SeqCst) { Timestamp(0) } else { self.clock.now() };
            Ok(groups
                .iter()
                .map(|_| Ok(vec![MetricSample::new(MetricKind::GpuUtil, Sample { at, value: 0.5 })]))
                .collect())
        };
        Box::pin(std::future::ready(result))
    }
}

/// Sees two ready instances, changes nothing (shared with the other engine tests).
pub(super) struct FixedActuator;

impl Actuator for FixedActuator {
    fn name(&self) -> &str {
        "fixed"
    }

    fn observe<'a>(
        &'a self,
        _group: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Observation, BackendError>> {
        let capacity = Capacity { desired: 2, ready: 2, ..Capacity::default() };
        Box::pin(std::future::ready(Ok(Observation::of(capacity))))
    }

    fn set_desired<'a>(
        &'a self,
        _group: &'a GroupSpec,
        _desired: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn write_marker<'a>(
        &'a self,
        _group: &'a GroupSpec,
        _marker: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// One group per name; groups that share a source object share its connection.
fn engine_with(sources: &[(&str, Arc<ScriptedSource>)], clock: &ManualClock) -> Engine {
    let mut connections: Vec<Arc<ScriptedSource>> = Vec::new();
    let mut groups = Vec::new();
    for (name, source) in sources {
        let index = match connections.iter().position(|c| Arc::ptr_eq(c, source)) {
            Some(i) => i,
            None => {
                connections.push(source.clone());
                connections.len() - 1
            }
        };
        groups.push(GroupBackends {
            spec: spec(name),
            source: index,
            actuator: 0,
            policy: crate::policy::PolicySpec::default(),
            alarms: Vec::new(),
            shadow: false,
            notifiers: None,
        });
    }
    let sources = connections
        .into_iter()
        .map(|source| SourceConnection {
            source,
            poll_interval: Duration::from_secs(1),
            stale_after: Duration::from_secs(3),
        })
        .collect();
    let actuators = vec![ActuatorConnection { actuator: Arc::new(FixedActuator), max_concurrency: 8 }];
    let settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    let backends = Backends { sources, actuators, groups, sim: None, sim_http: None };
    Engine::new(backends, Arc::new(clock.clone()), settings)
}

fn source_health(engine: &Engine, group: &str) -> BackendHealth {
    engine.snapshot().group(group).unwrap().source.clone()
}

#[tokio::test]
async fn each_tick_publishes_a_numbered_snapshot_with_samples_and_capacity() {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let source = ScriptedSource::new(&clock);
    let mut engine = engine_with(&[("a", source)], &clock);
    let mut connection = engine.connect();
    for expected_seq in 1..=3 {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
        assert_eq!(engine.snapshot().seq, expected_seq);
    }
    let snapshot = engine.snapshot();
    let group = snapshot.group("a").unwrap();
    assert_eq!(group.series(&MetricKind::GpuUtil).unwrap().points.len(), 3);
    assert_eq!(group.capacity.unwrap().ready, 2);
    assert_eq!(group.source, BackendHealth::Ok);
    // The engine records each observed capacity as the group's capacity series.
    let capacity = group.capacity.unwrap();
    for (kind, count) in MetricKind::CAPACITY.iter().zip([capacity.desired, capacity.ready, capacity.warming])
    {
        let series = group.series(kind).unwrap_or_else(|| panic!("{kind} series"));
        assert_eq!(series.points.len(), 3, "{kind}");
        assert_eq!(series.points.last().unwrap().value, f64::from(count), "{kind}");
    }
    // They are the console's: the policies read capacity itself, not these.
    let mut entries = 0;
    while let Ok(event) = connection.events.try_recv() {
        if let Event::Decided(entry) = event
            && entry.by.is_none()
        {
            entries += 1;
            assert!(entry.inputs.iter().any(|m| m.kind == MetricKind::GpuUtil), "{entry:?}");
            assert!(entry.inputs.iter().all(|m| !m.kind.is_capacity()), "{entry:?}");
        }
    }
    assert!(entries > 0, "the first decision is an entry of the decision log");
}

#[tokio::test]
async fn a_failing_source_is_shown_and_retried_with_backoff_while_others_carry_on() {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let bad = ScriptedSource::new(&clock);
    let good = ScriptedSource::new(&clock);
    bad.failing.store(true, Ordering::SeqCst);
    let mut engine = engine_with(&[("bad", bad.clone()), ("good", good.clone())], &clock);
    let mut events = engine.connect().events;

    // Failures at t=0 (retry after 1 s), t=1 (after 2 s), t=3 (after 4 s): calls at 0, 1, 3, 7.
    for _ in 0..8 {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
    assert_eq!(bad.calls.load(Ordering::SeqCst), 4, "polled only when its backoff expired");
    assert_eq!(good.calls.load(Ordering::SeqCst), 8, "the healthy group is polled every tick");
    match source_health(&engine, "bad") {
        BackendHealth::Failing { error, attempts, .. } => {
            assert_eq!(error, "connection refused");
            assert_eq!(attempts, 4);
        }
        other => panic!("expected failing, got {other:?}"),
    }
    assert!(matches!(events.try_recv(), Ok(Event::BackendFailed { backend: Backend::Source, .. })));

    bad.failing.store(false, Ordering::SeqCst);
    clock.advance(Duration::from_secs(60));
    engine.tick().await;
    assert_eq!(source_health(&engine, "bad"), BackendHealth::Ok);
    let recovered = std::iter::from_fn(|| events.try_recv().ok())
        .any(|e| matches!(e, Event::BackendRecovered { ref group, .. } if group == "bad"));
    assert!(recovered, "recovery is announced");
}

#[tokio::test(start_paused = true)]
async fn a_source_that_never_answers_times_out_instead_of_stalling_the_tick() {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let source = ScriptedSource::new(&clock);
    source.hang.store(true, Ordering::SeqCst);
    let mut engine = engine_with(&[("slow", source)], &clock);
    engine.tick().await;
    match source_health(&engine, "slow") {
        BackendHealth::Failing { error, .. } => assert!(error.contains("no answer within 10s"), "{error}"),
        other => panic!("expected failing, got {other:?}"),
    }
    assert_eq!(engine.snapshot().seq, 1, "the tick completed");
}

#[tokio::test]
async fn series_turn_stale_when_no_new_sample_arrives() {
    let clock = ManualClock::new(Timestamp(1_000_000));
    let source = ScriptedSource::new(&clock);
    let mut engine = engine_with(&[("a", source.clone())], &clock);
    engine.tick().await;
    let stale = |engine: &Engine| engine.snapshot().group("a").unwrap().series[0].stale;
    assert!(!stale(&engine));
    source.frozen.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(3));
    engine.tick().await;
    assert!(!stale(&engine), "3 s old is not older than stale_after");
    clock.advance(Duration::from_secs(1));
    engine.tick().await;
    assert!(stale(&engine), "4 s old is stale");
}

#[tokio::test]
async fn readonly_engine_refuses_mutating_commands() {
    let clock = ManualClock::new(Timestamp(0));
    let source = ScriptedSource::new(&clock);
    let mut engine = engine_with(&[("a", source)], &clock);
    engine.core.settings.readonly = true;
    let commands = [
        Command::Sim { action: SimCommand::Fail { group: "a".into(), count: 1 } },
        Command::Pause { target: Target::All, duration: None, mode: crate::policy::PauseMode::Full },
        Command::ForceScale {
            group: "a".into(),
            desired: 3,
            hold: Duration::from_secs(60),
            beyond_max: false,
        },
        Command::Silence { target: Target::All, duration: Duration::from_secs(60) },
    ];
    for command in commands {
        let reply = engine.handle_command(request(command));
        assert!(
            matches!(reply, Reply::Refused { ref reason } if reason.contains("read-only") && reason.contains("--readonly")),
            "{reply:?}"
        );
    }
    let group = &engine.core().groups[0];
    assert!(group.autoscaler.state.pause.is_none() && group.autoscaler.state.hold.is_none());
    assert!(group.silence.is_none());
}

#[tokio::test]
async fn sim_commands_on_a_real_fleet_are_refused() {
    let clock = ManualClock::new(Timestamp(0));
    let source = ScriptedSource::new(&clock);
    let mut engine = engine_with(&[("a", source)], &clock);
    let reply = engine.handle_command(CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: None,
        command: Command::Sim { action: SimCommand::Fail { group: "a".into(), count: 1 } },
    });
    assert!(matches!(reply, Reply::Refused { .. }), "{reply:?}");
}

#[tokio::test(start_paused = true)]
async fn run_answers_commands_and_stops_on_shutdown() {
    let clock = ManualClock::new(Timestamp(0));
    let source = ScriptedSource::new(&clock);
    let engine = engine_with(&[("a", source)], &clock);
    let conn = engine.connect();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(engine.run(async {
        let _ = stop_rx.await;
    }));
    let reply = conn
        .commands
        .send(CommandRequest {
            operator: Operator { name: "ana".into(), email: None, auth: None },
            reason: None,
            command: Command::Sim { action: SimCommand::Fail { group: "a".into(), count: 1 } },
        })
        .await
        .unwrap();
    assert!(matches!(reply, Reply::Refused { .. }));
    let mut snapshots = conn.snapshots;
    snapshots.wait_for(|s| s.seq >= 2).await.unwrap();
    stop_tx.send(()).unwrap();
    task.await.unwrap();
}

/// The engine over the simulated fast profile, on a manual clock.
fn simulated_engine(clock: &ManualClock) -> Engine {
    let mut config = crate::config::fast_profile();
    config.sim_events.push(crate::config::ScheduledSimEvent {
        at: Duration::from_secs(5),
        command: SimCommand::Spike {
            group: "llm-chat".into(),
            factor: 4.0,
            duration: Duration::from_secs(60),
        },
    });
    Engine::simulated(&config, 7, Arc::new(clock.clone()), false, false)
}

#[tokio::test]
async fn the_simulated_engine_reports_every_group_and_plays_scheduled_incidents() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let mut engine = simulated_engine(&clock);
    let mut events = engine.connect().events;
    for _ in 0..30 {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
    let snapshot = engine.snapshot();
    let names: Vec<&str> = snapshot.groups.iter().map(|g| g.spec.name.as_str()).collect();
    assert_eq!(names, ["llm-chat", "vision", "embeddings"]);
    for group in &snapshot.groups {
        assert!(group.capacity.is_some_and(|c| c.ready > 0), "{}", group.spec.name);
        let util = group.series(&MetricKind::GpuUtil).expect("gpu util");
        assert!(util.points.len() >= 25 && !util.stale, "{}", group.spec.name);
    }
    let spike = std::iter::from_fn(|| events.try_recv().ok())
        .find_map(|e| if let Event::Sim { description, .. } = e { Some(description) } else { None });
    assert!(
        spike.is_some_and(|d| d.contains("llm-chat") && d.contains("×4")),
        "the scheduled spike is announced"
    );
    let queue = snapshot.group("llm-chat").unwrap().latest(&MetricKind::QueueLength).unwrap();
    assert!(queue.value > 10.0, "×4 demand on a fleet at 60 % builds a queue: {}", queue.value);
}

#[tokio::test]
async fn a_sim_command_reaches_the_fleet_and_shows_in_the_next_snapshot() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let mut engine = simulated_engine(&clock);
    engine.tick().await;
    let reply = engine.handle_command(CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: None,
        command: Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 2 } },
    });
    assert!(
        matches!(reply, Reply::Ok { ref message } if message.contains("2 ready instances failed")),
        "{reply:?}"
    );
    clock.advance(Duration::from_secs(1));
    engine.tick().await;
    let capacity = engine.snapshot().group("vision").unwrap().capacity.unwrap();
    assert_eq!((capacity.ready, capacity.warming, capacity.failed, capacity.desired), (2, 2, 2, 4));
}

use super::scenario_tests::{autoscaling_engine, request};

async fn run_ticks(engine: &mut Engine, clock: &ManualClock, ticks: u32) {
    for _ in 0..ticks {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
}

#[tokio::test]
async fn every_decision_and_command_goes_to_the_audit_log_and_each_line_reproduces_its_decision() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let mut engine = autoscaling_engine(Arc::new(clock.clone()), AutoscaleMode::Act);
    engine.set_audit_log(path.clone());
    for _ in 0..30 {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
    engine.handle_command(CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some("drill".into()),
        command: Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 1 } },
    });
    engine.flush_audit();

    let mut decisions = 0;
    let mut ticks_covered = 0;
    let mut commands = 0;
    for line in crate::audit::read_lines(&path) {
        match line.unwrap() {
            crate::audit::AuditLine::Decision(line) => {
                decisions += 1;
                ticks_covered += line.count;
                let again = crate::policy::decide(&line.state, &line.inputs, line.at);
                assert_eq!(
                    serde_json::to_string(&again).unwrap(),
                    serde_json::to_string(&line.decision).unwrap(),
                    "line for {} at {:?} does not reproduce",
                    line.group,
                    line.at
                );
            }
            crate::audit::AuditLine::Command(line) => {
                commands += 1;
                assert_eq!(line.operator.name, "ana");
            }
        }
    }
    assert_eq!(ticks_covered, 3 * 30, "every tick of every group is accounted for");
    assert!(decisions < ticks_covered, "identical no-change ticks are coalesced");
    assert_eq!(commands, 1);
}

#[tokio::test]
async fn operator_state_and_history_survive_a_restart_through_the_store() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let until = clock.now().plus(Duration::from_secs(1800));
    let minutes_before;
    {
        let mut engine = autoscaling_engine(Arc::new(clock.clone()), AutoscaleMode::Act);
        engine.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
        // Long enough for closed minutes and an open one.
        run_ticks(&mut engine, &clock, 150).await;
        let commands = [
            Command::Pause {
                target: Target::Group("llm-chat".into()),
                duration: Some(Duration::from_secs(1800) - Duration::from_secs(150)),
                mode: crate::policy::PauseMode::ScaleInOnly,
            },
            Command::ForceScale {
                group: "vision".into(),
                desired: 6,
                hold: Duration::from_secs(1800) - Duration::from_secs(150),
                beyond_max: false,
            },
            Command::Silence { target: Target::Group("vision".into()), duration: Duration::from_secs(3600) },
            Command::Shadow { target: Target::Group("embeddings".into()), on: true },
        ];
        for command in commands {
            let reply = engine.handle_command(request(command));
            assert!(matches!(reply, Reply::Ok { .. }), "{reply:?}");
        }
        engine.tick().await;
        let util = engine.snapshot().group("llm-chat").unwrap().series(&MetricKind::GpuUtil).unwrap().clone();
        minutes_before = engine.core().groups[0].series[&MetricKind::GpuUtil].minutes_len();
        assert!(minutes_before >= 2 && !util.points.is_empty());
    } // the process is gone, without a shutdown
    clock.advance(Duration::from_secs(60));
    let mut engine = autoscaling_engine(Arc::new(clock.clone()), AutoscaleMode::Act);
    engine.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let groups = &engine.core().groups;
    let pause = groups[0].autoscaler.state.pause.clone().expect("the pause is back");
    assert_eq!((pause.by.as_str(), pause.reason.as_str(), pause.until), ("ana", "drill", Some(until)));
    assert_eq!(pause.mode, crate::policy::PauseMode::ScaleInOnly);
    assert_eq!(groups[1].autoscaler.state.hold.as_ref().map(|h| h.desired), Some(6));
    assert!(groups[1].silence_at(clock.now()).is_some(), "the silence is back");
    assert_eq!(groups[2].autoscaler.mode, autoscale::AutoscaleMode::Shadow, "shadow is back");
    assert!(groups[2].autoscaler.state.pause.is_none());
    // The minutes before the kill are back (the open one included), before any new tick.
    let restored = groups[0].series[&MetricKind::GpuUtil].minutes_len();
    assert!(restored > minutes_before, "{restored} minutes restored, {minutes_before} closed before");
    // And the hold acts: vision goes to 6 at the first tick.
    engine.tick().await;
    engine.tick().await;
    assert_eq!(engine.snapshot().group("vision").unwrap().capacity.unwrap().desired, 6);
}

#[tokio::test]
async fn a_group_in_shadow_by_config_decides_without_acting_while_the_others_act() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let mut config = crate::config::fast_profile();
    for group in &mut config.groups {
        group.policy.target_tracking = vec![crate::policy::TargetTracking {
            metric: MetricKind::GpuUtil,
            target: 0.4,
            per_instance: false,
            alarms: None,
        }];
    }
    config.groups[1].shadow = true;
    let mut engine = Engine::simulated(&config, 7, Arc::new(clock.clone()), false, false);
    run_ticks(&mut engine, &clock, 3).await;
    let snapshot = engine.snapshot();
    // At 60 % on a 0.4 target every group wants more; only vision is told not to act.
    let vision = snapshot.group("vision").unwrap();
    assert!(vision.controls.iter().any(|c| c.kind == crate::protocol::ControlKind::Shadow));
    assert!(
        vision.decision.as_ref().is_some_and(|d| d.shadow && d.desired.is_some()),
        "{:?}",
        vision.decision
    );
    assert_eq!(vision.capacity.unwrap().desired, 4);
    let chat = snapshot.group("llm-chat").unwrap();
    assert!(chat.capacity.unwrap().desired > 4, "{:?}", chat.decision);
}

#[tokio::test]
async fn a_predictive_group_gets_its_load_profile_from_the_history_on_disk() {
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let mut config = crate::config::fast_profile();
    config.groups[0].policy.predictive = Some(crate::policy::PredictiveSpec {
        metric: MetricKind::RequestRate,
        target_per_instance: 4.0,
        mode: crate::policy::PredictiveMode::ForecastOnly,
        lead: None,
    });
    // Eight days of llm-chat's request rate on disk, 20 req/s every minute.
    let store = crate::store::Store::open_in_memory().unwrap();
    let minutes: Vec<crate::store::MinuteAggregate> = (1..=8 * 1440)
        .map(|m| crate::store::MinuteAggregate {
            minute: clock.now().minus(Duration::from_secs(m * 60)),
            mean: 20.0,
            max: 20.0,
        })
        .collect();
    store.record_minutes("llm-chat", &MetricKind::RequestRate, &minutes).unwrap();
    let mut engine = Engine::simulated(&config, 7, Arc::new(clock.clone()), false, false);
    engine.set_store(store).unwrap();
    let profile = engine.core().groups[0].autoscaler.load_profile.clone().expect("a profile");
    assert!(profile.days_of_history >= 7.0, "{}", profile.days_of_history);
    assert!(engine.core().groups[1].autoscaler.load_profile.is_none(), "only predictive groups");
    // The last 24 h of it are in the charts, and the forecast is used: 20 req/s at 4 per
    // instance asks for 5.
    assert!(engine.core().groups[0].series[&MetricKind::RequestRate].minutes_len() >= 1439);
    engine.tick().await;
    let (desired, reason) = predictive_proposal(&engine, 0);
    assert_eq!(desired, Some(5), "{reason}");
}

/// What predictive scaling proposed for group `index` in its last decision, and why.
pub(super) fn predictive_proposal(engine: &Engine, index: usize) -> (Option<u32>, String) {
    let decision = engine.core().groups[index].autoscaler.last_decision.clone().expect("a decision");
    let mut proposals = decision.proposals.iter();
    let predictive = proposals.find(|p| p.reason.starts_with("predictive")).expect("a predictive proposal");
    (predictive.desired, predictive.reason.clone())
}

#[tokio::test]
async fn an_alarm_paged_before_a_restart_is_resolved_after_it() {
    use crate::engine::pager::{Notification, NotificationKind};
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let store = crate::store::Store::open_in_memory().unwrap();
    // The previous process paged llm-chat's p95 alarm, then died.
    let since = clock.now().minus(Duration::from_secs(120));
    let paged = crate::store::OpenPage {
        group: "llm-chat".into(),
        alarm: "p95-over-slo".into(),
        dedup_key: Notification::dedup_key("llm-chat", "p95-over-slo", since),
        summary: "llm-chat: p95-over-slo — latency_p95 maximum > 2".into(),
        since,
        severity: crate::model::Severity::Critical,
    };
    store.open_page(&paged).unwrap();
    let mut engine =
        Engine::simulated(&crate::config::fast_profile(), 7, Arc::new(clock.clone()), false, false);
    engine.settings.notifiers = vec!["pagerduty".into()];
    engine.set_store(store).unwrap();
    // It is not firing in this run (the fast profile has no such rule): resolved at once.
    engine.tick().await;
    let store = engine.store.as_ref().unwrap();
    let sent: Vec<Notification> = store
        .outbox_messages("pagerduty")
        .unwrap()
        .into_iter()
        .map(|m| serde_json::from_value(m.payload).unwrap())
        .collect();
    assert_eq!(sent.len(), 1, "the resolve, nothing else: {sent:?}");
    assert_eq!((sent[0].kind, &sent[0].dedup_key), (NotificationKind::Resolve, &paged.dedup_key));
    assert_eq!(
        sent[0].severity,
        crate::model::Severity::Critical,
        "the resolve keeps its trigger's severity"
    );
    assert!(store.open_pages("llm-chat").unwrap().is_empty(), "the episode is closed");
}

#[test]
fn without_user_the_login_name_is_the_systems_name_for_the_uid() {
    assert_eq!(login_name_from(Some("ana".into())), "ana");
    // `id -un` asks the same user database (NSS) for this process's uid.
    let id = std::process::Command::new("id").arg("-un").output().expect("id -un");
    let system = String::from_utf8_lossy(&id.stdout).trim().to_string();
    assert!(!system.is_empty(), "id -un names this uid");
    assert_eq!(login_name_from(None), system, "unset $USER");
    assert_eq!(login_name_from(Some(String::new())), system, "empty $USER");
}

/// `ack` queues an acknowledge of each open incident of the group for its notifiers,
/// after its trigger and threaded under it; with nothing open, or read-only, it is refused.
#[tokio::test]
async fn ack_queues_an_acknowledge_of_each_open_incident_and_is_refused_without_one() {
    use crate::engine::pager::Notification;
    let clock = ManualClock::new(Timestamp(1_767_225_600_000));
    let store = crate::store::Store::open_in_memory().unwrap();
    let since = clock.now().minus(Duration::from_secs(120));
    let dedup_key = Notification::dedup_key("llm-chat", "p95-over-slo", since);
    let paged = crate::store::OpenPage {
        group: "llm-chat".into(),
        alarm: "p95-over-slo".into(),
        dedup_key: dedup_key.clone(),
        summary: "llm-chat: p95-over-slo".into(),
        since,
        severity: crate::model::Severity::Error,
    };
    store.open_page(&paged).unwrap();
    let mut engine =
        Engine::simulated(&crate::config::fast_profile(), 7, Arc::new(clock.clone()), false, false);
    engine.settings.notifiers = vec!["pagerduty".into()];
    engine.set_store(store).unwrap();
    let ana = Operator { name: "ana".into(), email: None, auth: None };
    let ack = |target: Target| CommandRequest {
        operator: ana.clone(),
        reason: Some("on it".into()),
        command: Command::Acknowledge { target },
    };
    let reply = engine.handle_command(ack(Target::Group("llm-chat".into())));
    assert_eq!(reply, Reply::Ok { message: "acknowledged by ana: llm-chat: p95-over-slo".into() });
    let queued = engine.store.as_ref().unwrap().outbox_messages("pagerduty").unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let row = &queued[0];
    assert_eq!(
        (row.payload["kind"].as_str(), row.payload["dedup_key"].as_str()),
        (Some("acknowledge"), Some(dedup_key.as_str()))
    );
    assert_eq!(row.payload["thread_of"].as_str(), Some(Notification::trigger_key(&dedup_key).as_str()));
    assert_eq!((row.payload["by"].as_str(), row.payload["reason"].as_str()), (Some("ana"), Some("on it")));
    assert_eq!(row.order_key, Notification::order_key_of("llm-chat", "p95-over-slo"), "after its trigger");
    let none = engine.handle_command(ack(Target::Group("vision".into())));
    assert!(
        matches!(&none, Reply::Refused { reason } if reason.contains("no open incident of vision")),
        "{none:?}"
    );
    let mut screen =
        Engine::simulated(&crate::config::fast_profile(), 7, Arc::new(clock.clone()), true, false);
    screen.set_store(crate::store::Store::open_in_memory().unwrap()).unwrap();
    let refused = screen.handle_command(ack(Target::All));
    assert!(matches!(&refused, Reply::Refused { reason } if reason.contains("read-only")), "{refused:?}");
}
