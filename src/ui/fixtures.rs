//! Deterministic hand-made snapshots for the console's tests and the render benchmark.
//! Not a simulator: fixed values, a fixed clock, one of each trouble the screen must show
//! (a stale series, a failing backend, a p95 past its SLO, an unlaunched request, a
//! breaker trip, a pause, shadow mode, another engine holding a lease), and minute
//! history of three lengths (none, a few hours across a restart, a full day).

use std::time::Duration;

use ratatui::backend::{Backend, TestBackend};

use crate::model::{AlarmState, Capacity, GroupSpec, MetricKind, Sample, Serving, Timestamp, WarmupRange};
use crate::protocol::{
    AlarmView, BackendHealth, ClampView, ControlKind, ControlView, DecisionEntry, DecisionView, ForecastView,
    GroupSnapshot, InputView, LeaseView, MinutePoint, PROTOCOL_VERSION, ProposalView, SeriesSnapshot,
    SharedMinutes, Snapshot,
};

/// When every fixture snapshot is taken: 2026-01-01T00:00:00Z.
pub const TAKEN_AT: Timestamp = Timestamp(1_767_225_600_000);
/// Fixture poll interval.
pub const POLL: Duration = Duration::from_secs(5);
/// Newest fresh samples are this old when the snapshot is taken.
pub const DATA_AGE: Duration = Duration::from_secs(2);

/// `count` points, one per poll, the newest at `newest`; `value(i)` with `i` from 0
/// (oldest) to 1 (newest) so shapes do not depend on the count.
fn points(count: usize, newest: Timestamp, value: impl Fn(f64) -> f64) -> Vec<Sample> {
    let last = count.saturating_sub(1).max(1) as f64;
    (0..count)
        .map(|i| {
            let age = POLL * (count - 1 - i) as u32;
            Sample { at: newest.minus(age), value: value(i as f64 / last) }
        })
        .collect()
}

/// `count` closed minutes, the newest ending where the raw points' minute begins; the
/// same shape as the points over the whole span, each minute's max a little above its
/// mean.
fn minutes(count: usize, newest: Timestamp, value: impl Fn(f64) -> f64) -> SharedMinutes {
    let end = Timestamp(newest.0.div_euclid(60_000) * 60_000);
    let last = count.saturating_sub(1).max(1) as f64;
    let points = (0..count).map(|i| {
        let v = value(i as f64 / last) as f32;
        MinutePoint { mean: v * 0.9, max: v }
    });
    SharedMinutes::new(end.minus(Duration::from_secs(60) * count as u32), points.collect())
}

/// `count` raw points and `history` minutes of one metric, from the same shape.
fn series(
    kind: MetricKind,
    (count, history): (usize, usize),
    newest: Timestamp,
    value: impl Fn(f64) -> f64,
) -> SeriesSnapshot {
    SeriesSnapshot {
        kind,
        points: points(count, newest, &value).into(),
        stale: false,
        minutes: minutes(history, newest, value),
    }
}

struct Shape {
    gpu_util: (f64, f64),
    gpu_mem: (f64, f64),
    kv_cache: Option<(f64, f64)>,
    p95: (f64, f64),
    queue: (f64, f64),
    request_rate: (f64, f64),
}

/// A group's series ramping linearly from `.0` to `.1`, with a small fixed ripple:
/// `sizes` raw points and minutes each.
fn group_series(shape: &Shape, sizes: (usize, usize), newest: Timestamp, phase: f64) -> Vec<SeriesSnapshot> {
    let ramp = |(from, to): (f64, f64)| {
        move |t: f64| {
            // Zero at the newest point, so the values the tests read are the nominal ones.
            let ripple = 1.0 + 0.06 * ((1.0 - t) * (40.0 + phase)).sin();
            (from + (to - from) * t) * ripple
        }
    };
    let fraction = |range| {
        let f = ramp(range);
        move |t: f64| f(t).clamp(0.0, 1.0)
    };
    let p95 = ramp(shape.p95);
    let mut out = vec![
        series(MetricKind::GpuUtil, sizes, newest, fraction(shape.gpu_util)),
        series(MetricKind::GpuMem, sizes, newest, fraction(shape.gpu_mem)),
        series(MetricKind::LatencyP50, sizes, newest, |t| p95(t) * 0.45),
        series(MetricKind::LatencyP95, sizes, newest, p95),
        series(MetricKind::LatencyP99, sizes, newest, |t| p95(t) * 1.6),
        series(MetricKind::QueueLength, sizes, newest, |t| ramp(shape.queue)(t).round()),
        series(MetricKind::RequestRate, sizes, newest, ramp(shape.request_rate)),
    ];
    if let Some(kv) = shape.kv_cache {
        out.push(series(MetricKind::KvCacheUsage, sizes, newest, fraction(kv)));
    }
    out
}

/// The capacity series the engine records, over the same points and minutes:
/// `desired(t)`, `ready(t)` and `warming(t)` with `t` from 0 (oldest) to 1 (newest).
fn capacity_series(
    sizes: (usize, usize),
    newest: Timestamp,
    desired: impl Fn(f64) -> f64,
    ready: impl Fn(f64) -> f64,
    warming: impl Fn(f64) -> f64,
) -> Vec<SeriesSnapshot> {
    vec![
        series(MetricKind::DesiredCapacity, sizes, newest, desired),
        series(MetricKind::ReadyCapacity, sizes, newest, ready),
        series(MetricKind::WarmingCapacity, sizes, newest, warming),
    ]
}

/// Ten minutes of `series`' history, `ago` minutes before its newest, lost (the engine
/// was down).
fn lose_minutes(series: &mut [SeriesSnapshot], ago: usize) {
    for s in series {
        let n = s.minutes.len();
        let (start, _) = s.minutes.first().expect("minutes to lose");
        let points = s
            .minutes
            .iter()
            .enumerate()
            .map(|(i, (_, p))| if (n - ago - 10..n - ago).contains(&i) { MinutePoint::GAP } else { p });
        s.minutes = SharedMinutes::new(start, points.collect());
    }
}

fn spec(
    name: &str,
    serving: Serving,
    (min, max, desired): (u32, u32, u32),
    instance_type: &str,
    hourly_cost_usd: f64,
    slo_p95: Option<Duration>,
) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        source: crate::model::SIM.into(),
        actuator: crate::model::SIM.into(),
        min,
        max,
        hard_max: None,
        desired,
        instance_type: instance_type.into(),
        hourly_cost_usd,
        warmup: WarmupRange::default(),
        serving,
        slo_p95,
    }
}

fn capacity(desired: u32, ready: u32, warming: u32, failed: u32) -> Option<Capacity> {
    Some(Capacity { desired, ready, warming, failed, observed_at: TAKEN_AT.minus(DATA_AGE) })
}

fn snapshot(groups: Vec<GroupSnapshot>) -> Snapshot {
    Snapshot {
        version: PROTOCOL_VERSION,
        seq: 1234,
        taken_at: TAKEN_AT,
        readonly: false,
        poll_interval: POLL,
        stale_after: POLL * 3,
        groups,
        notifiers: Vec::new(),
    }
}

/// Three groups, 60 points each (5 minutes):
/// - `llm-chat`: vLLM, p95 past its 2 s SLO, GPU util past 90 %, 2 warming, and a
///   desired count above ready + warming; in shadow mode, its last decision a scale-out
///   it would make; 158 minutes of history, 10 of them lost to a restart;
/// - `vision`: its actuator failing (retry in 4 s), which tripped the breaker; a full day
///   of history;
/// - `embeddings`: its GPU-util series stale (newest sample 47 s old), no SLO; paused
///   (scale-in only) by ana for an incident, and its lease held by another engine; no
///   history yet.
pub fn fleet() -> Snapshot {
    let newest = TAKEN_AT.minus(DATA_AGE);
    let count = 60;
    let chat = Shape {
        gpu_util: (0.55, 0.95),
        gpu_mem: (0.91, 0.91),
        kv_cache: Some((0.30, 0.72)),
        p95: (1.0, 2.4),
        queue: (2.0, 37.0),
        request_rate: (20.0, 55.0),
    };
    let vision = Shape {
        gpu_util: (0.45, 0.60),
        gpu_mem: (0.58, 0.62),
        kv_cache: None,
        p95: (0.29, 0.31),
        queue: (0.0, 3.0),
        request_rate: (30.0, 32.0),
    };
    let embeddings = Shape {
        gpu_util: (0.20, 0.25),
        gpu_mem: (0.35, 0.35),
        kv_cache: None,
        p95: (0.040, 0.045),
        queue: (0.0, 0.0),
        request_rate: (120.0, 118.0),
    };
    // llm-chat's engine restarted 40 min ago after 10 min down; embeddings is new.
    let mut chat_series = group_series(&chat, (count, 158), newest, 0.0);
    // A scale-in 7→6, then a scale-out 6→8 whose last two instances are not launched yet.
    chat_series.extend(capacity_series(
        (count, 158),
        newest,
        |t| {
            if t < 0.2 {
                7.0
            } else if t < 0.6 {
                6.0
            } else {
                8.0
            }
        },
        |t| if t < 0.2 { 7.0 } else { 4.0 },
        |t| if t < 0.2 { 0.0 } else { 2.0 },
    ));
    lose_minutes(&mut chat_series, 40);
    let mut embeddings_series = group_series(&embeddings, (count, 0), newest, 2.0);
    // The GPU exporter went quiet 47 s ago: older than stale_after (15 s).
    let stale_newest = TAKEN_AT.minus(Duration::from_secs(47));
    embeddings_series[0] =
        SeriesSnapshot { stale: true, ..series(MetricKind::GpuUtil, (count - 9, 0), stale_newest, |_| 0.22) };
    embeddings_series.extend(capacity_series((count, 0), newest, |_| 2.0, |_| 2.0, |_| 0.0));
    snapshot(vec![
        GroupSnapshot {
            spec: spec(
                "llm-chat",
                Serving::Vllm,
                (2, 12, 8),
                "g6e.12xlarge",
                10.49,
                Some(Duration::from_secs(2)),
            ),
            capacity: capacity(8, 4, 2, 0),
            capacity_stale: false,
            series: chat_series,
            source: BackendHealth::Ok,
            actuator: BackendHealth::Ok,
            alarms: vec![
                AlarmView {
                    held_until: None,
                    source: None,
                    name: "queue-high".into(),
                    state: AlarmState::Firing,
                    since: TAKEN_AT.minus(Duration::from_secs(150)),
                    value: Some(37.0),
                    summary: "queue_length average > 50 for 1 of 1 × 1m, held 2m".into(),
                    metric: Some(MetricKind::QueueLength),
                },
                AlarmView {
                    held_until: None,
                    source: None,
                    name: "kv-cache-high".into(),
                    state: AlarmState::Pending,
                    since: TAKEN_AT.minus(Duration::from_secs(60)),
                    value: Some(0.93),
                    summary: "kv_cache_usage average > 0.9 for 1 of 1 × 1m, held 3m".into(),
                    metric: Some(MetricKind::KvCacheUsage),
                },
            ],
            decision: Some(DecisionView {
                at: TAKEN_AT,
                current: 8,
                desired: Some(10),
                reason: "scale out 8→10: gpu_util 0.95 > target 0.70 (needs 10)".into(),
                shadow: true,
            }),
            lease: None,
            // Forecast only, 2m30s of lead: 7 needed in the last slot, 9 in this one.
            warnings: Vec::new(),
            forecast: Some(ForecastView {
                metric: MetricKind::RequestRate,
                acts: false,
                points: vec![(TAKEN_AT.minus(Duration::from_secs(300)), 7), (TAKEN_AT, 9)],
                until: TAKEN_AT.plus(Duration::from_secs(150)),
            }),
            hourly_budget_usd: Some(400.0),
            controls: vec![ControlView {
                kind: ControlKind::Shadow,
                clears_itself: false,
                text: "shadow mode: decisions are shown, not acted on".into(),
            }],
        },
        GroupSnapshot {
            spec: spec(
                "vision",
                Serving::Generic,
                (1, 8, 3),
                "g5.2xlarge",
                1.212,
                Some(Duration::from_millis(500)),
            ),
            capacity: capacity(3, 3, 0, 0),
            capacity_stale: false,
            series: [
                group_series(&vision, (count, 24 * 60), newest, 1.0),
                capacity_series((count, 24 * 60), newest, |_| 3.0, |_| 3.0, |_| 0.0),
            ]
            .concat(),
            source: BackendHealth::Ok,
            actuator: BackendHealth::Failing {
                error: "SetDesiredCapacity: rate exceeded".into(),
                since: TAKEN_AT.minus(Duration::from_secs(40)),
                attempts: 3,
                retry_at: TAKEN_AT.plus(Duration::from_secs(4)),
            },
            alarms: Vec::new(),
            decision: Some(DecisionView {
                at: TAKEN_AT,
                current: 3,
                desired: None,
                reason: "no change at 3: breaker actuator failures open".into(),
                shadow: false,
            }),
            lease: None,
            warnings: Vec::new(),
            forecast: None,
            hourly_budget_usd: None,
            controls: vec![ControlView {
                kind: ControlKind::Breaker,
                clears_itself: false,
                text:
                    "breaker actuator failures open (all scaling frozen): 3 actuator calls in a row failed; \
                       resets when an operator resets the breaker"
                        .into(),
            }],
        },
        GroupSnapshot {
            spec: spec("embeddings", Serving::Generic, (1, 4, 2), "g5.xlarge", 1.006, None),
            capacity: capacity(2, 2, 0, 0),
            capacity_stale: false,
            series: embeddings_series,
            source: BackendHealth::Ok,
            actuator: BackendHealth::Ok,
            alarms: Vec::new(),
            decision: None,
            lease: Some(LeaseView {
                holder: "engine-b".into(),
                host: "ops-2".into(),
                expires_at: TAKEN_AT.plus(Duration::from_secs(20)),
                ours: false,
            }),
            warnings: Vec::new(),
            forecast: None,
            hourly_budget_usd: None,
            controls: vec![ControlView {
                kind: ControlKind::Pause,
                clears_itself: false,
                text: "paused (scale-in only) by ana until 2026-01-01T00:30:00Z: INC-123".into(),
            }],
        },
    ])
}

/// `groups` groups with `points` points and a full day of minutes per series (every
/// third one vLLM, every seventh with a failing source, every eleventh stale): the
/// benchmark's fleet.
pub fn large_fleet(groups: usize, points_per_series: usize) -> Snapshot {
    let newest = TAKEN_AT.minus(DATA_AGE);
    let all = (0..groups)
        .map(|g| {
            let f = g as f64;
            let shape = Shape {
                gpu_util: (0.3 + 0.005 * (f % 60.0), 0.5 + 0.004 * (f % 100.0)),
                gpu_mem: (0.5, 0.6 + 0.003 * (f % 100.0)),
                kv_cache: (g % 3 == 0).then_some((0.2, 0.5 + 0.004 * (f % 100.0))),
                p95: (0.2 + 0.01 * (f % 50.0), 0.3 + 0.02 * (f % 50.0)),
                queue: (0.0, f % 70.0),
                request_rate: (10.0 + f, 20.0 + f),
            };
            let serving = if g % 3 == 0 { Serving::Vllm } else { Serving::Generic };
            let desired = 2 + (g % 9) as u32;
            let mut series = group_series(&shape, (points_per_series, 24 * 60), newest, f);
            let n = f64::from(desired);
            series.extend(capacity_series((points_per_series, 24 * 60), newest, |_| n, |_| n - 1.0, |_| 1.0));
            if g % 11 == 0 {
                series[1].stale = true;
            }
            let source = if g % 7 == 0 {
                BackendHealth::Failing {
                    error: "scrape timed out".into(),
                    since: TAKEN_AT.minus(Duration::from_secs(30)),
                    attempts: 2,
                    retry_at: TAKEN_AT.plus(Duration::from_secs(8)),
                }
            } else {
                BackendHealth::Ok
            };
            GroupSnapshot {
                spec: spec(
                    &format!("model-{g:03}"),
                    serving,
                    (1, 16, desired),
                    "g5.12xlarge",
                    5.672,
                    Some(Duration::from_millis(800)),
                ),
                capacity: capacity(desired, desired.saturating_sub(1), 1, 0),
                capacity_stale: false,
                series,
                source,
                actuator: BackendHealth::Ok,
                alarms: Vec::new(),
                decision: Some(DecisionView {
                    at: TAKEN_AT,
                    current: desired,
                    desired: None,
                    reason: format!("no change at {desired}: gpu_util within 10 % of target 0.70"),
                    shadow: true,
                }),
                lease: None,
                controls: Vec::new(),
                warnings: Vec::new(),
                forecast: None,
                hourly_budget_usd: None,
            }
        })
        .collect();
    snapshot(all)
}

/// The decision log that goes with [`fleet`], oldest first: vision's scale-out acted on
/// and its breaker trip since; llm-chat scaled in, then shadowed and wanting more;
/// embeddings' scale-in blocked by its pause and a scale-out it observed but did not own.
pub fn decisions() -> Vec<DecisionEntry> {
    let ago = |secs: u64| TAKEN_AT.minus(Duration::from_secs(secs));
    let input = |kind: MetricKind, value: f64, at: Timestamp| InputView { kind, value, at };
    let target = |metric: &str, desired: Option<u32>, reason: &str| ProposalView {
        policy: format!("target tracking {metric}"),
        desired,
        reason: reason.into(),
    };
    let guard =
        |reason: &str| ProposalView { policy: "latency guard".into(), desired: None, reason: reason.into() };
    let entry =
        |at: Timestamp, group: &str, current: u32, desired: Option<u32>, reason: &str| DecisionEntry {
            at,
            group: group.into(),
            current,
            desired,
            reason: reason.into(),
            shadow: false,
            not_acted: None,
            inputs: Vec::new(),
            alarms: Vec::new(),
            proposals: Vec::new(),
            recommendation: desired.unwrap_or(current),
            min: (1, "group".into()),
            max: (12, "group".into()),
            clamps: Vec::new(),
            blocked: Vec::new(),
            by: None,
        };
    vec![
        DecisionEntry {
            inputs: vec![
                input(MetricKind::GpuUtil, 0.91, ago(1802)),
                input(MetricKind::QueueLength, 14.0, ago(1802)),
            ],
            proposals: vec![target("gpu_util", Some(4), "gpu_util 0.91 > target 0.70 (needs 4)")],
            recommendation: 4,
            clamps: vec![ClampView { from: 4, to: 3, by: "max step".into() }],
            blocked: vec!["max step: at most 1 within 5m".into()],
            ..entry(
                ago(1800),
                "vision",
                2,
                Some(3),
                "scale out 2→3: gpu_util 0.91 > target 0.70 (needs 4) — max step: at most 1 within 5m",
            )
        },
        entry(ago(1500), "vision", 3, None, "no change at 3: gpu_util 0.61 within 10 % of target 0.70"),
        DecisionEntry {
            inputs: vec![
                input(MetricKind::GpuUtil, 0.41, ago(1201)),
                input(MetricKind::LatencyP95, 0.9, ago(1201)),
            ],
            proposals: vec![
                target("gpu_util", Some(6), "gpu_util 0.41 < target 0.70 (needs 6)"),
                guard("latency_p95 900ms within SLO 2.00s"),
            ],
            ..entry(ago(1200), "llm-chat", 8, Some(6), "scale in 8→6: gpu_util 0.41 < target 0.70 (needs 6)")
        },
        DecisionEntry {
            by: Some("ana".into()),
            ..entry(
                ago(960),
                "embeddings",
                2,
                None,
                "scale-in paused by ana for 30m (until 00:30 UTC): INC-123",
            )
        },
        DecisionEntry {
            inputs: vec![input(MetricKind::GpuUtil, 0.22, ago(47))],
            proposals: vec![target("gpu_util", Some(1), "gpu_util 0.22 < target 0.70 (needs 1)")],
            recommendation: 1,
            blocked: vec!["scale-in paused by ana until 00:30 UTC (INC-123)".into()],
            ..entry(
                ago(900),
                "embeddings",
                2,
                None,
                "blocked: scale-in paused by ana until 00:30 UTC (INC-123) — stays at 2; gpu_util 0.22 < target 0.70 (needs 1)",
            )
        },
        DecisionEntry {
            shadow: true,
            not_acted: Some("observing: automation owned by engine-b".into()),
            ..entry(
                ago(600),
                "embeddings",
                2,
                Some(3),
                "scale out 2→3: request_rate 120/s > target 50/s (needs 3)",
            )
        },
        DecisionEntry {
            by: Some("circuit breaker".into()),
            ..entry(
                ago(41),
                "vision",
                3,
                None,
                "breaker tripped: all scaling frozen — 3 actuator calls in a row failed; resets when an operator resets the breaker",
            )
        },
        entry(ago(40), "vision", 3, None, "no change at 3: breaker actuator failures open"),
        DecisionEntry {
            shadow: true,
            inputs: vec![
                input(MetricKind::GpuUtil, 0.95, ago(2)),
                input(MetricKind::LatencyP95, 2.4, ago(2)),
                input(MetricKind::QueueLength, 37.0, ago(2)),
            ],
            alarms: vec!["queue-high FIRING at 37 (threshold 50)".into()],
            proposals: vec![
                target("gpu_util", Some(10), "gpu_util 0.95 > target 0.70 (needs 10)"),
                guard("latency_p95 2.40s > 0.9 × SLO 2.00s"),
            ],
            recommendation: 11,
            clamps: vec![ClampView { from: 11, to: 10, by: "max step".into() }],
            ..entry(ago(0), "llm-chat", 8, Some(10), "scale out 8→10: gpu_util 0.95 > target 0.70 (needs 10)")
        },
    ]
}

/// Scripted terminal input that wakes the console as crossterm's `EventStream` does: the
/// waker of the first poll that finds nothing is the one woken when a key arrives, and
/// later polls do not replace it until then. (A channel re-registers on every poll, so
/// it would hide a loop that polls its input with a no-op waker.)
#[derive(Clone, Default)]
pub struct TerminalKeys(std::sync::Arc<std::sync::Mutex<PendingInput>>);

#[derive(Default)]
pub struct PendingInput {
    events: std::collections::VecDeque<crossterm::event::Event>,
    waker: Option<std::task::Waker>,
}

impl TerminalKeys {
    /// Types `code`, waking whoever polled first since the last key.
    pub fn press(&self, code: crossterm::event::KeyCode) {
        use crossterm::event::{Event, KeyEvent, KeyModifiers};
        let mut input = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        input.events.push_back(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
        if let Some(waker) = input.waker.take() {
            waker.wake();
        }
    }
}

impl futures::Stream for TerminalKeys {
    type Item = std::io::Result<crossterm::event::Event>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let mut input = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match input.events.pop_front() {
            Some(event) => std::task::Poll::Ready(Some(Ok(event))),
            None => {
                input.waker.get_or_insert_with(|| cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }
}

/// A test backend that reports each finished frame (its flush): for counting frames and
/// timing key to frame (`benches/key_to_frame.rs`).
pub struct Frames {
    pub inner: TestBackend,
    pub flushed: std::sync::mpsc::Sender<()>,
}

impl Backend for Frames {
    type Error = <TestBackend as Backend>::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        position: P,
    ) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.inner.size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()?;
        let _ = self.flushed.send(());
        Ok(())
    }
}
