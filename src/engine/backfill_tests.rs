//! The backfill through the engine with a scripted source that keeps history: what is
//! asked (the charts' day of every kind, two weeks of a predictive group's load metric),
//! where it goes (the store's missing minutes, the charts, the load profile), and that a
//! slow history never holds the first tick more than a call timeout.

use std::sync::Mutex;

use super::backfill::{CHART_SPAN, HISTORY_STEP};
use super::*;
use crate::backends::{ActuatorConnection, GroupBackends, SourceConnection};
use crate::clock::ManualClock;
use crate::model::{GroupSpec, MetricKind, Sample};
use crate::policy::{PolicySpec, PredictiveMode, PredictiveSpec};
use crate::sources::{HistoryRange, HistorySeries, MetricSource, SourceHistory, SourcePoll};
use crate::store::MinuteAggregate;

/// Monday 2026-11-23 00:00 UTC.
const NOW: Timestamp = Timestamp(1_795_392_000_000);

fn spec(name: &str) -> GroupSpec {
    super::connection_tests::spec(name, "hist")
}

/// A source whose polls answer nothing and whose history answers, per group, a point a
/// step over the range: GPU utilization 0.4 in the last two hours, and a request rate of
/// 20/s over the last eight days; it records the ranges asked and may take `delay`.
struct HistorySource {
    asked: Mutex<Vec<(Vec<String>, HistoryRange)>>,
    delay: Duration,
}

impl MetricSource for HistorySource {
    fn name(&self) -> &str {
        "hist"
    }

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> futures::future::BoxFuture<'a, SourcePoll> {
        Box::pin(std::future::ready(Ok(vec![Ok(Vec::new()); groups.len()])))
    }

    fn history<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        range: &'a HistoryRange,
    ) -> futures::future::BoxFuture<'a, SourceHistory> {
        self.asked.lock().unwrap().push((groups.iter().map(|g| g.name.clone()).collect(), range.clone()));
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            let steps = |from: Timestamp, value: f64| -> Vec<Sample> {
                let mut at = from.max(range.since).plus(HISTORY_STEP);
                let mut points = Vec::new();
                while at <= range.until {
                    points.push(Sample { at, value });
                    at = at.plus(HISTORY_STEP);
                }
                points
            };
            let series = [
                (MetricKind::GpuUtil, steps(NOW.minus(Duration::from_secs(7200)), 0.4)),
                (MetricKind::RequestRate, steps(NOW.minus(Duration::from_secs(8 * 86_400)), 20.0)),
            ];
            let wanted: Vec<HistorySeries> = series
                .into_iter()
                .filter(|(kind, points)| range.wants(kind) && !points.is_empty())
                .map(|(kind, points)| HistorySeries { kind, points })
                .collect();
            Ok(vec![Ok(wanted); groups.len()])
        })
    }
}

/// Groups `a` (predictive on the request rate, 4 per instance) and `b` on one
/// [`HistorySource`].
fn engine(clock: &ManualClock, delay: Duration) -> (Engine, Arc<HistorySource>) {
    let source = Arc::new(HistorySource { asked: Mutex::default(), delay });
    let predictive = PolicySpec {
        predictive: Some(PredictiveSpec {
            metric: MetricKind::RequestRate,
            target_per_instance: 4.0,
            mode: PredictiveMode::ForecastOnly,
            lead: None,
        }),
        ..PolicySpec::default()
    };
    let group = |name: &str, policy: PolicySpec| GroupBackends {
        spec: spec(name),
        source: 0,
        actuator: 0,
        policy,
        alarms: Vec::new(),
        shadow: false,
        notifiers: None,
    };
    let backends = Backends {
        sources: vec![SourceConnection {
            source: source.clone(),
            poll_interval: Duration::from_secs(1),
            stale_after: Duration::from_secs(3),
        }],
        actuators: vec![ActuatorConnection {
            actuator: Arc::new(super::tests::FixedActuator),
            max_concurrency: 4,
        }],
        groups: vec![group("a", predictive), group("b", PolicySpec::default())],
        sim: None,
        sim_http: None,
    };
    let settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    (Engine::new(backends, Arc::new(clock.clone()), settings), source)
}

fn minutes_of(engine: &Engine, group: usize, kind: &MetricKind) -> Vec<(Timestamp, f32)> {
    let series = engine.core().groups[group].series.get(kind);
    series
        .map(|s| s.minutes().filter(|(_, p)| !p.is_gap()).map(|(at, p)| (at, p.mean)).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_backfill_fills_the_stores_missing_minutes_the_charts_and_the_load_profile() {
    let clock = ManualClock::new(NOW.plus(Duration::from_secs(25)));
    let (mut engine, source) = engine(&clock, Duration::ZERO);
    // Half an hour ago fleetdeck recorded a minute of its own: it stays.
    let store = Store::open_in_memory().unwrap();
    let recorded = MinuteAggregate { minute: NOW.minus(Duration::from_secs(1800)), mean: 0.9, max: 0.95 };
    store.record_minutes("a", &MetricKind::GpuUtil, &[recorded]).unwrap();
    engine.set_store(store).unwrap();

    let orders = engine.history_orders(clock.now());
    let calls = backfill::run(orders, Duration::from_secs(60)).await;
    engine.take_history(calls);

    let asked = source.asked.lock().unwrap().clone();
    let (charts_since, two_weeks) = (NOW.minus(CHART_SPAN), NOW.minus(store::HISTORY_RETENTION));
    assert_eq!(
        asked,
        vec![
            (
                vec!["a".to_string()],
                HistoryRange {
                    since: two_weeks,
                    until: charts_since,
                    step: HISTORY_STEP,
                    kinds: Some(vec![MetricKind::RequestRate]),
                },
            ),
            (
                vec!["a".to_string(), "b".to_string()],
                HistoryRange { since: charts_since, until: NOW, step: HISTORY_STEP, kinds: None },
            ),
        ],
        "the rest of two weeks of a's load metric; the last day of every kind, up to the open minute"
    );
    // The charts: two hours of minutes, the recorded one kept.
    let util = minutes_of(&engine, 0, &MetricKind::GpuUtil);
    assert_eq!(util.len(), 120, "{util:?}");
    assert_eq!(util.first().unwrap().0, NOW.minus(Duration::from_secs(7200)));
    assert_eq!(util.last().unwrap().0, NOW.minus(Duration::from_secs(60)), "the minute before the open one");
    assert!(util.iter().all(|&(at, v)| if at == recorded.minute { v == 0.9 } else { v == 0.4 }));
    assert_eq!(minutes_of(&engine, 1, &MetricKind::GpuUtil).len(), 120);
    // The store: eight days of the request rate, which the profile is built from.
    let stored = engine.store.as_ref().unwrap();
    let rate = stored.load_minutes("a", &MetricKind::RequestRate, two_weeks).unwrap();
    assert_eq!(rate.len(), 8 * 1440);
    assert_eq!(stored.load_minutes("a", &MetricKind::GpuUtil, two_weeks).unwrap()[90], recorded);
    let profile = engine.core().groups[0].autoscaler.load_profile.clone().expect("a profile");
    assert!(profile.days_of_history >= 7.0, "{}", profile.days_of_history);
    assert!(engine.core().groups[1].autoscaler.load_profile.is_none(), "b is not predictive");
    // And the forecast is used on the first tick: 20/s at 4 per instance is 5.
    engine.tick().await;
    let (desired, reason) = super::tests::predictive_proposal(&engine, 0);
    assert_eq!(desired, Some(5), "{reason}");
}

#[tokio::test]
async fn without_a_store_the_backfill_goes_straight_into_the_charts_and_the_profile() {
    let clock = ManualClock::new(NOW);
    let (mut engine, _) = engine(&clock, Duration::ZERO);
    let calls = backfill::run(engine.history_orders(clock.now()), Duration::from_secs(60)).await;
    engine.take_history(calls);
    assert_eq!(minutes_of(&engine, 0, &MetricKind::GpuUtil).len(), 120);
    assert_eq!(minutes_of(&engine, 0, &MetricKind::RequestRate).len(), 1440, "the charts hold a day");
    let profile = engine.core().groups[0].autoscaler.load_profile.clone().expect("a profile");
    assert!(profile.days_of_history >= 7.0, "{}", profile.days_of_history);
}

/// The history takes 30 s: the first tick goes ahead after the call timeout (10 s), and
/// the history lands in a later snapshot.
#[tokio::test(start_paused = true)]
async fn a_slow_history_holds_the_first_tick_one_call_timeout_at_most_and_lands_later() {
    let clock = ManualClock::new(NOW);
    let (engine, _) = engine(&clock, Duration::from_secs(30));
    let mut snapshots = engine.connect().snapshots;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let started = tokio::time::Instant::now();
    let task = tokio::spawn(engine.run(async move {
        let _ = stopped.await;
    }));
    let has_history = |s: &Arc<Snapshot>| {
        s.group("a").is_some_and(|g| g.series.iter().any(|series| series.minutes.len() >= 120))
    };
    snapshots.wait_for(|s| s.seq >= 1).await.unwrap();
    let first = started.elapsed();
    assert!(
        first >= Duration::from_secs(10) && first < Duration::from_secs(11),
        "the first tick after the call timeout: {first:?}"
    );
    assert!(!has_history(&snapshots.borrow()), "without the history yet");
    snapshots.wait_for(has_history).await.unwrap();
    let landed = started.elapsed();
    assert!(landed >= Duration::from_secs(30) && landed < Duration::from_secs(32), "{landed:?}");
    let _ = stop.send(());
    task.await.unwrap();
}
