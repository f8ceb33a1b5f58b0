//! The seams every real backend plugs into, run with scripted connections: one batch poll
//! per source connection, each source on its own interval, the error policy by kind
//! (per connection for throttling and credentials, per group for a missing series), the
//! actuator connection's concurrency limit, and operator commands answered while a
//! backend is slow.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::actuators::{Actuator, Observation};
use crate::backends::{ActuatorConnection, GroupBackends, SourceConnection};
use crate::clock::ManualClock;
use crate::model::{Capacity, GroupSpec, MetricKind, MetricSample, Sample, Serving, WarmupRange};
use crate::protocol::{BackendHealth, Operator, Target};
use crate::sources::{GroupPoll, MetricSource, SourcePoll};

const T0: Timestamp = Timestamp(1_000_000);

pub(super) fn spec(name: &str, source: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        source: source.into(),
        actuator: "fixed".into(),
        min: 1,
        max: 8,
        hard_max: None,
        desired: 2,
        instance_type: "g5.xlarge".into(),
        hourly_cost_usd: 1.0,
        warmup: WarmupRange::default(),
        serving: Serving::Generic,
        slo_p95: None,
    }
}

/// A source connection that records every call (the groups asked for) and answers as
/// scripted: a whole-call error, or per group an error, else GPU utilization 0.5 now.
struct BatchSource {
    name: String,
    clock: ManualClock,
    calls: Mutex<Vec<Vec<String>>>,
    whole: Mutex<Option<BackendError>>,
    per_group: Mutex<BTreeMap<String, BackendError>>,
    /// Never answers while set (the call times out).
    hang: std::sync::atomic::AtomicBool,
    /// What its alerts answer, where it reads alerts.
    alerts: Mutex<Option<crate::sources::SourceAlerts>>,
}

impl BatchSource {
    fn new(name: &str, clock: &ManualClock) -> Arc<Self> {
        Arc::new(BatchSource {
            name: name.into(),
            clock: clock.clone(),
            calls: Mutex::default(),
            whole: Mutex::default(),
            per_group: Mutex::default(),
            hang: Default::default(),
            alerts: Mutex::default(),
        })
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls asked for `group`.
    fn calls_for(&self, group: &str) -> usize {
        self.calls().iter().filter(|c| c.iter().any(|g| g == group)).count()
    }
}

impl MetricSource for BatchSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> futures::future::BoxFuture<'a, SourcePoll> {
        self.calls.lock().unwrap().push(groups.iter().map(|g| g.name.clone()).collect());
        if self.hang.load(Ordering::SeqCst) {
            return Box::pin(futures::future::pending());
        }
        let result = match self.whole.lock().unwrap().clone() {
            Some(error) => Err(error),
            None => {
                let per_group = self.per_group.lock().unwrap();
                let at = self.clock.now();
                Ok(groups
                    .iter()
                    .map(|g| -> GroupPoll {
                        match per_group.get(&g.name) {
                            Some(error) => Err(error.clone()),
                            None => {
                                Ok(vec![MetricSample::new(MetricKind::GpuUtil, Sample { at, value: 0.5 })])
                            }
                        }
                    })
                    .collect())
            }
        };
        Box::pin(std::future::ready(result))
    }

    fn alerts<'a>(
        &'a self,
        _: &'a [GroupSpec],
    ) -> Option<futures::future::BoxFuture<'a, crate::sources::SourceAlerts>> {
        let answer = self.alerts.lock().unwrap().clone()?;
        Some(Box::pin(std::future::ready(answer)))
    }
}

/// Answers every observation after `delay` (tokio's clock), counting the calls in flight.
struct SlowActuator {
    delay: Duration,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Actuator for SlowActuator {
    fn name(&self) -> &str {
        "fixed"
    }

    fn observe<'a>(
        &'a self,
        _: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Observation, BackendError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(Observation::of(Capacity { desired: 2, ready: 2, ..Capacity::default() }))
        })
    }

    fn set_desired<'a>(
        &'a self,
        _: &'a GroupSpec,
        _: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn write_marker<'a>(
        &'a self,
        _: &'a GroupSpec,
        _: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

fn actuator(delay: Duration) -> Arc<SlowActuator> {
    Arc::new(SlowActuator { delay, in_flight: AtomicUsize::new(0), most_in_flight: AtomicUsize::new(0) })
}

/// An engine ticking every second over the given source connections (each with its poll
/// interval) and their groups, one actuator connection with `max_concurrency`.
fn engine(
    clock: &ManualClock,
    sources: &[(Arc<BatchSource>, Duration, &[&str])],
    actuator: Arc<SlowActuator>,
    max_concurrency: usize,
) -> Engine {
    let mut groups = Vec::new();
    let mut connections = Vec::new();
    for (index, (source, poll_interval, names)) in sources.iter().enumerate() {
        connections.push(SourceConnection {
            source: source.clone(),
            poll_interval: *poll_interval,
            stale_after: poll_interval.saturating_mul(3),
        });
        groups.extend(names.iter().map(|name| GroupBackends {
            spec: spec(name, &source.name),
            source: index,
            actuator: 0,
            policy: crate::policy::PolicySpec::default(),
            alarms: Vec::new(),
            shadow: false,
            notifiers: None,
        }));
    }
    let actuators = vec![ActuatorConnection { actuator, max_concurrency }];
    let settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    Engine::new(
        Backends { sources: connections, actuators, groups, sim: None, sim_http: None },
        Arc::new(clock.clone()),
        settings,
    )
}

async fn ticks(engine: &mut Engine, clock: &ManualClock, n: usize) {
    for _ in 0..n {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
}

fn source_health(engine: &Engine, group: &str) -> BackendHealth {
    engine.snapshot().group(group).unwrap().source.clone()
}

fn failing_with(health: &BackendHealth) -> &str {
    match health {
        BackendHealth::Failing { error, .. } => error,
        BackendHealth::Ok => "",
    }
}

#[tokio::test]
async fn one_call_a_tick_polls_every_group_of_a_connection() {
    let clock = ManualClock::new(T0);
    let (prom, cw) = (BatchSource::new("prom", &clock), BatchSource::new("cw", &clock));
    let second = Duration::from_secs(1);
    let sources = [(prom.clone(), second, &["a", "b", "c"][..]), (cw.clone(), second, &["d", "e"][..])];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    ticks(&mut engine, &clock, 4).await;
    assert_eq!(prom.calls(), vec![vec!["a", "b", "c"]; 4], "one batch per tick, every group in it");
    assert_eq!(cw.calls(), vec![vec!["d", "e"]; 4]);
    let snapshot = engine.snapshot();
    assert!(
        snapshot.groups.iter().all(|g| g.series.iter().any(|s| s.points.len() == 4)),
        "each group got its samples"
    );
}

#[tokio::test]
async fn a_slower_source_polls_on_its_own_interval_and_its_groups_wait_in_between() {
    let clock = ManualClock::new(T0);
    let (fast, slow) = (BatchSource::new("fast", &clock), BatchSource::new("slow", &clock));
    let sources = [
        (fast.clone(), Duration::from_secs(1), &["quick"][..]),
        (slow.clone(), Duration::from_secs(3), &["late"][..]),
    ];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    ticks(&mut engine, &clock, 7).await; // t = 0 … 6 s
    assert_eq!(fast.calls().len(), 7, "the engine ticks at its fastest source");
    assert_eq!(slow.calls().len(), 3, "the slow source at 0, 3 and 6 s only");
    let late = &engine.core.groups[1];
    let points = late.series[&MetricKind::GpuUtil].raw_len();
    assert_eq!(points, 3);
    assert_eq!(late.stale_after, Duration::from_secs(9), "its own staleness limit, not the engine's");
    let snapshot = engine.snapshot();
    let series = &snapshot.group("late").unwrap().series;
    assert!(series.iter().all(|s| !s.stale), "two seconds after a 3 s source's poll is not stale");
}

#[tokio::test]
async fn a_group_its_source_cannot_find_backs_off_alone() {
    let clock = ManualClock::new(T0);
    let prom = BatchSource::new("prom", &clock);
    prom.per_group
        .lock()
        .unwrap()
        .insert("gone".into(), BackendError::not_found("no series for job=\"gone\""));
    let sources = [(prom.clone(), Duration::from_secs(1), &["gone", "here"][..])];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    ticks(&mut engine, &clock, 10).await;
    assert_eq!(prom.calls_for("here"), 10, "the rest of the connection carries on");
    assert_eq!(prom.calls_for("gone"), 1, "a missing series waits the longest backoff (60 s) at once");
    assert_eq!(failing_with(&source_health(&engine, "gone")), "not found: no series for job=\"gone\"");
    assert_eq!(source_health(&engine, "here"), BackendHealth::Ok);
}

#[tokio::test]
async fn refused_credentials_back_off_the_whole_connection_and_every_group_says_so() {
    let clock = ManualClock::new(T0);
    let (cw, other) = (BatchSource::new("cw", &clock), BatchSource::new("other", &clock));
    *cw.whole.lock().unwrap() =
        Some(BackendError::auth("ExpiredTokenException: the security token has expired"));
    let sources = [
        (cw.clone(), Duration::from_secs(1), &["a", "b"][..]),
        (other.clone(), Duration::from_secs(1), &["c"][..]),
    ];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    let mut events = engine.connect().events;
    ticks(&mut engine, &clock, 10).await;
    assert_eq!(cw.calls().len(), 1, "no second call with refused credentials inside the backoff");
    assert_eq!(other.calls().len(), 10, "another connection is not held up");
    for group in ["a", "b"] {
        let error = failing_with(&source_health(&engine, group)).to_string();
        assert!(error.starts_with("credentials refused: ExpiredTokenException"), "{group}: {error}");
    }
    let announced: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .filter_map(|e| match e {
            Event::BackendFailed { group, backend: Backend::Source, .. } => Some(group),
            _ => None,
        })
        .collect();
    assert_eq!(announced, ["a", "b"], "each group of the connection announces it once");
    // One group's answer saying the credentials are refused is the connection's too.
    *cw.whole.lock().unwrap() = None;
    cw.per_group.lock().unwrap().insert("b".into(), BackendError::auth("AccessDenied"));
    clock.advance(Duration::from_secs(60));
    ticks(&mut engine, &clock, 3).await;
    assert_eq!(cw.calls().len(), 2, "retried once the backoff ran out, then backed off again");
    assert!(failing_with(&source_health(&engine, "a")).contains("AccessDenied"));
}

#[tokio::test]
async fn throttling_waits_for_the_services_retry_after() {
    let clock = ManualClock::new(T0);
    let prom = BatchSource::new("prom", &clock);
    *prom.whole.lock().unwrap() =
        Some(BackendError::throttled("429 Too Many Requests", Some(Duration::from_secs(5))));
    let sources = [(prom.clone(), Duration::from_secs(1), &["a"][..])];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    ticks(&mut engine, &clock, 5).await; // t = 0 … 4 s: inside the retry-after
    assert_eq!(prom.calls().len(), 1);
    *prom.whole.lock().unwrap() = None;
    ticks(&mut engine, &clock, 2).await; // t = 5, 6 s
    assert_eq!(prom.calls().len(), 3, "polled again at 5 s, when the service said to");
    assert_eq!(source_health(&engine, "a"), BackendHealth::Ok);
}

#[tokio::test(start_paused = true)]
async fn an_actuator_connection_keeps_to_its_concurrency_limit() {
    for (limit, expected) in [(2, 2), (8, 5)] {
        let clock = ManualClock::new(T0);
        let prom = BatchSource::new("prom", &clock);
        let slow = actuator(Duration::from_millis(200));
        let sources = [(prom, Duration::from_secs(1), &["a", "b", "c", "d", "e"][..])];
        let mut engine = engine(&clock, &sources, slow.clone(), limit);
        ticks(&mut engine, &clock, 2).await;
        assert_eq!(
            slow.most_in_flight.load(Ordering::SeqCst),
            expected,
            "max_concurrency {limit}: at most that many observations at once, all at once below it"
        );
        let observed = engine.snapshot().groups.iter().filter(|g| g.capacity.is_some()).count();
        assert_eq!(observed, 5, "every group observed all the same");
    }
}

#[tokio::test(start_paused = true)]
async fn a_command_is_answered_while_a_poll_hangs() {
    let clock = ManualClock::new(T0);
    let prom = BatchSource::new("prom", &clock);
    prom.hang.store(true, Ordering::SeqCst);
    let sources = [(prom.clone(), Duration::from_secs(1), &["a"][..])];
    let engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    let conn = engine.connect();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(engine.run(async move {
        let _ = stopped.await;
    }));
    // The first tick is waiting on the source (its call times out after 10 s).
    while prom.calls().is_empty() {
        tokio::task::yield_now().await;
    }
    let request = CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some("incident".into()),
        command: Command::Pause { target: Target::All, duration: None, mode: crate::model::PauseMode::Full },
    };
    let reply = tokio::time::timeout(Duration::from_secs(1), conn.commands.send(request))
        .await
        .expect("answered within a second, not after the 10 s call timeout")
        .expect("a reply");
    assert!(matches!(reply, Reply::Ok { .. }), "{reply:?}");
    assert_eq!(conn.snapshots.borrow().seq, 0, "while the tick is still waiting on the source");
    let _ = stop.send(());
    task.await.unwrap();
}

/// A source's own alerts come with its poll into the snapshot, beside the group's alarms
/// and marked with the source; alerts it cannot read show as one "no data" entry that
/// says why, since when, not as none.
#[tokio::test]
async fn a_sources_own_alerts_are_shown_beside_the_alarms_and_unreadable_ones_say_so() {
    use crate::model::AlarmState;
    use crate::sources::SourceAlert;
    let clock = ManualClock::new(T0);
    let prom = BatchSource::new("prom", &clock);
    let backlog = SourceAlert {
        name: "QueueBacklog".into(),
        state: AlarmState::Firing,
        since: Some(Timestamp(900_000)),
        value: Some(42.0),
        summary: "a has a backlog".into(),
    };
    *prom.alerts.lock().unwrap() = Some(Ok(vec![vec![backlog], Vec::new()]));
    let sources = [(prom.clone(), Duration::from_secs(1), &["a", "b"][..])];
    let mut engine = engine(&clock, &sources, actuator(Duration::ZERO), 8);
    ticks(&mut engine, &clock, 1).await;
    let snapshot = engine.snapshot();
    let a = &snapshot.group("a").unwrap().alarms;
    let shown = a.iter().find(|v| v.name == "QueueBacklog").expect("a's alert");
    assert_eq!((shown.state, shown.since, shown.value), (AlarmState::Firing, Timestamp(900_000), Some(42.0)));
    assert_eq!((shown.source.as_deref(), shown.summary.as_str()), (Some("prom"), "a has a backlog"));
    assert!(snapshot.group("b").unwrap().alarms.iter().all(|v| v.source.is_none()), "b has none");

    *prom.alerts.lock().unwrap() = Some(Err(BackendError::transient("HTTP 503")));
    ticks(&mut engine, &clock, 2).await;
    let snapshot = engine.snapshot();
    for group in ["a", "b"] {
        let alarms = &snapshot.group(group).unwrap().alarms;
        let from_prom: Vec<_> = alarms.iter().filter(|v| v.source.is_some()).collect();
        assert_eq!(from_prom.len(), 1, "{alarms:?}");
        assert_eq!(from_prom[0].state, AlarmState::InsufficientData);
        assert_eq!(from_prom[0].since, T0.plus(Duration::from_secs(1)), "since the first failure");
        assert!(from_prom[0].summary.contains("prom's own alerts cannot be read: HTTP 503"), "{alarms:?}");
    }
}
