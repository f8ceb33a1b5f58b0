//! `fleetdeck replay` (first part): a request-rate trace driven through the simulated
//! group and the engine's own tick core on a virtual clock, scored per second.
//!
//! The simulator runs in 1 s steps; the tick core ticks every `poll_interval`, exactly as
//! the live engine does ([`SimLoop`]). Every simulated second is scored from the
//! simulator's own state (demand, served, dropped, backlog, ready capacity) and its
//! latency model, so the scorecard sees what users saw, not what the metrics reported:
//!
//! - **SLO-violation minutes**: whole minutes of the run whose p95 latency — the
//!   request-weighted mean of the minute's per-second p95 — is above the group's SLO.
//! - **Latency p50/p95/p99 over the run**: each is the request-weighted percentile of the
//!   per-second value of the same percentile (so p95 is "the p95 most requests saw").
//! - **Queued**: the largest backlog; **dropped**: requests refused by a full queue.
//! - **Instance-hours and cost**: (ready + warming) instances each second, as billed
//!   from launch, × the group's hourly cost.
//! - **Actions** and **direction changes** (an increase after a decrease or the reverse).
//! - **Time to recover**: the longest run of seconds whose p95 is above the SLO — how
//!   long users waited, at worst, from a spike breaking the SLO to the fleet meeting it.
//!
//! Contenders ([`replay_all`]): static peak provisioning, AWS-like and HPA-like target
//! trackers and the configured policy, each measured against the [`oracle`]: the cost of
//! a clairvoyant cheapest schedule, and the minutes no schedule could serve. Built-in
//! traces: [`traces`].

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::alarms::{AlarmRule, Comparison, MissingData, Statistic};
use crate::config::{Config, GroupConfig};
use crate::engine::autoscale::AutoscaleMode;
use crate::engine::sim_loop::SimLoop;
use crate::engine::tick::{CoreSettings, TickCore};
use crate::model::{MetricKind, Timestamp};
use crate::policy::predictive::{PROFILE_SLOT, build_load_profile};
use crate::policy::{PolicySpec, Stabilization, TargetAlarms, TargetTracking};
use crate::sim::{
    LatencyEstimate, LatencyInputs, SimFleet, SimGroupState, Trace, TrafficSpec, estimate_latency,
};
use crate::store::HISTORY_RETENTION;

/// Where a replay starts: a Monday, 00:00 UTC (2026-01-05), so schedules and weekly
/// profiles line up the same way on every run.
pub const REPLAY_START: Timestamp = Timestamp(1_767_571_200_000);

/// What to replay.
#[derive(Clone, Debug)]
pub struct ReplaySpec {
    /// The fleet's config; only `group` is replayed.
    pub config: Config,
    pub group: String,
    pub trace: Arc<Trace>,
    /// Multiplies the trace's rates.
    pub scale: f64,
    pub seed: u64,
}

/// A policy to score, ticking at its own period.
#[derive(Clone, Debug)]
pub struct Contender {
    pub name: String,
    pub policy: PolicySpec,
    /// How often its loop runs.
    pub period: Duration,
    /// Desired capacity at the start (a static contender never changes it).
    pub desired: u32,
    /// The alarms it evaluates (its policy may read them).
    pub alarms: Vec<AlarmRule>,
}

impl Contender {
    /// The group's configured policy, at the config's poll interval.
    pub fn configured(config: &Config, group: &GroupConfig) -> Self {
        Contender {
            name: "fleetdeck".into(),
            policy: group.policy.clone(),
            period: config.poll_interval,
            desired: group.spec.desired,
            alarms: group.alarms.clone(),
        }
    }

    /// Static peak provisioning: enough ready instances from the start for the trace's
    /// highest rate at the 70 % utilization the autoscalers aim for (capped at max),
    /// never changed.
    pub fn static_peak(group: &GroupConfig, trace: &Trace, scale: f64) -> Self {
        let peak = trace.points.iter().map(|(_, r)| r * scale).fold(0.0, f64::max);
        let needed = (peak / (group.sim_or_default().capacity_rps_per_instance * 0.7)).ceil() as u32;
        Contender {
            name: "static peak".into(),
            policy: PolicySpec::default(),
            period: Duration::from_secs(60),
            desired: needed.clamp(group.spec.min, group.spec.max),
            alarms: Vec::new(),
        }
    }

    /// Kubernetes HPA-like: GPU utilization target 70 %, 15 s sync, tolerance 0.1, 300 s
    /// scale-down stabilization window, no scale-up window.
    pub fn hpa_like(group: &GroupConfig) -> Self {
        let policy = PolicySpec {
            target_tracking: vec![TargetTracking {
                metric: MetricKind::GpuUtil,
                target: 0.7,
                per_instance: false,
                alarms: None,
            }],
            tolerance: 0.1,
            stabilization: Stabilization { scale_up: Duration::ZERO, scale_down: Duration::from_secs(300) },
            ..PolicySpec::default()
        };
        Contender {
            name: "HPA-like".into(),
            policy,
            period: Duration::from_secs(15),
            desired: group.spec.desired,
            alarms: Vec::new(),
        }
    }

    /// AWS-like target tracking: GPU utilization 70 % on 1-minute average datapoints,
    /// scaling out after 3 of 3 above the target and in after 15 of 15 below it (the two
    /// alarms AWS creates for a target-tracking policy), evaluated every minute, without a
    /// tolerance or a stabilization window — the alarms are the dead band — and acting
    /// only on a datapoint measured after its last change. One sample a minute (the tick's)
    /// makes each 1-minute datapoint; CloudWatch's would average finer data.
    pub fn aws_like(group: &GroupConfig) -> Self {
        let alarm = |name: &str, comparison, datapoints| AlarmRule {
            severity: crate::model::Severity::default(),
            runbook: None,
            name: name.into(),
            metric: MetricKind::GpuUtil,
            statistic: Statistic::Average,
            comparison,
            threshold: 0.7,
            period: Duration::from_secs(60),
            datapoints_to_alarm: datapoints,
            evaluation_periods: datapoints,
            for_duration: Duration::ZERO,
            missing_data: MissingData::default(),
            description: None,
        };
        let policy = PolicySpec {
            target_tracking: vec![TargetTracking {
                metric: MetricKind::GpuUtil,
                target: 0.7,
                per_instance: false,
                alarms: Some(TargetAlarms { scale_out: "AlarmHigh".into(), scale_in: "AlarmLow".into() }),
            }],
            stabilization: Stabilization { scale_up: Duration::ZERO, scale_down: Duration::ZERO },
            ..PolicySpec::default()
        };
        Contender {
            name: "AWS-like".into(),
            policy,
            period: Duration::from_secs(60),
            desired: group.spec.desired,
            alarms: vec![
                alarm("AlarmHigh", Comparison::GreaterThan, 3),
                alarm("AlarmLow", Comparison::LessThan, 15),
            ],
        }
    }
}

/// How one policy did over the whole trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scorecard {
    pub policy: String,
    pub seconds: u64,
    /// Whole minutes whose p95 was above the SLO, leaving out infeasible ones.
    pub slo_violation_minutes: u64,
    /// Minutes no capacity up to max could serve within the SLO (the oracle's; the same
    /// on every card).
    pub infeasible_minutes: u64,
    pub latency_p50_s: f64,
    pub latency_p95_s: f64,
    pub latency_p99_s: f64,
    pub requests: f64,
    pub max_queued: f64,
    pub dropped: f64,
    pub instance_hours: f64,
    pub cost_usd: f64,
    /// This cost over the oracle's (≥ 1 unless the SLO was missed to save money).
    pub cost_vs_oracle: f64,
    pub actions: u32,
    pub direction_changes: u32,
    /// The longest run of seconds with p95 above the SLO (0 when it never was).
    pub time_to_recover_s: u64,
}

/// A replay's result: the scorecard and every action, second by second.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplayRun {
    pub scorecard: Scorecard,
    /// (second of the trace, from, to) of each change of desired capacity.
    pub actions: Vec<(u64, u32, u32)>,
    /// Each whole minute, for plots (not in the JSON: a week is 10,080 of them).
    #[serde(skip)]
    pub timeline: Vec<MinutePoint>,
}

/// One minute of a replay, as users saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MinutePoint {
    /// Minutes since the start of the run.
    pub minute: u64,
    /// Mean requests/s offered.
    pub demand_rps: f64,
    /// Mean requests/s the ready instances could serve.
    pub capacity_rps: f64,
    /// Request-weighted p95 latency, seconds (NaN without requests).
    pub p95_s: f64,
    /// Requests served.
    pub served: f64,
}

/// The minute being summed, and how many of its seconds are in.
struct Minute {
    point: MinutePoint,
    seconds: u32,
}

/// A mistake in what was asked for.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error("no group `{0}` in the config (groups: {1})")]
    UnknownGroup(String, String),
    #[error("the trace is empty")]
    EmptyTrace,
    #[error("--scale must be a positive number, not {0}")]
    BadScale(f64),
}

/// Replays the trace through the configured policy of the group.
pub fn replay(spec: &ReplaySpec) -> Result<ReplayRun, ReplayError> {
    let group = find_group(spec)?;
    replay_with(spec, &Contender::configured(&spec.config, &group), &oracle(spec)?)
}

/// Every contender's run on one trace, and the oracle they are measured against.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Backtest {
    pub oracle: Oracle,
    pub runs: Vec<ReplayRun>,
}

/// Replays the trace through every contender: static peak, AWS-like, HPA-like, and the
/// group's configured policy, in that order, and plans the oracle.
pub fn replay_all(spec: &ReplaySpec) -> Result<Backtest, ReplayError> {
    let group = find_group(spec)?;
    let oracle = oracle(spec)?;
    let contenders = [
        Contender::static_peak(&group, &spec.trace, spec.scale),
        Contender::aws_like(&group),
        Contender::hpa_like(&group),
        Contender::configured(&spec.config, &group),
    ];
    let runs = contenders.iter().map(|c| replay_with(spec, c, &oracle)).collect::<Result<_, _>>()?;
    Ok(Backtest { oracle, runs })
}

/// The oracle of the trace on the spec's group: the demand of every scored second.
pub fn oracle(spec: &ReplaySpec) -> Result<Oracle, ReplayError> {
    let group = find_group(spec)?;
    let seconds = checked_seconds(spec)?;
    let traffic = traffic(spec);
    let demand: Vec<f64> = (1..=seconds).map(|t| traffic.baseline_rps(Duration::from_secs(t))).collect();
    Ok(Oracle::plan(&OracleInputs {
        demand: &demand,
        capacity_rps_per_instance: group.sim_or_default().capacity_rps_per_instance,
        service_time_s: group.sim_or_default().service_time.as_secs_f64(),
        slo_p95_s: group.spec.slo_p95.map(|d| d.as_secs_f64()),
        min: group.spec.min,
        max: group.spec.max,
        warmup_s: group.spec.warmup.min.as_secs_f64(),
        hourly_cost_usd: group.spec.hourly_cost_usd,
    }))
}

/// The trace as the simulator plays it: scaled, once through.
fn traffic(spec: &ReplaySpec) -> TrafficSpec {
    TrafficSpec::Trace { trace: spec.trace.clone(), scale: spec.scale, looped: false }
}

/// The scored seconds of the run (1 ..= this), once the scale and trace are checked.
fn checked_seconds(spec: &ReplaySpec) -> Result<u64, ReplayError> {
    if !(spec.scale.is_finite() && spec.scale > 0.0) {
        return Err(ReplayError::BadScale(spec.scale));
    }
    if spec.trace.span_seconds() < 0.0 || spec.trace.points.is_empty() {
        return Err(ReplayError::EmptyTrace);
    }
    Ok(spec.trace.span_seconds().ceil() as u64)
}

fn find_group(spec: &ReplaySpec) -> Result<GroupConfig, ReplayError> {
    spec.config.group(&spec.group).cloned().ok_or_else(|| {
        let known: Vec<&str> = spec.config.groups.iter().map(|g| g.spec.name.as_str()).collect();
        ReplayError::UnknownGroup(spec.group.clone(), known.join(", "))
    })
}

/// Replays the trace through one contender, scored against `oracle` (the spec's).
pub fn replay_with(
    spec: &ReplaySpec,
    contender: &Contender,
    oracle: &Oracle,
) -> Result<ReplayRun, ReplayError> {
    let mut group = find_group(spec)?;
    group.spec.desired = contender.desired;
    let seconds = checked_seconds(spec)? + 1;
    let mut sim_spec = group.sim_or_default();
    sim_spec.traffic = traffic(spec);
    let fleet = SimFleet::new(&[(group.spec.clone(), sim_spec.clone())], spec.seed, REPLAY_START);
    // Predictive scaling forecasts from minute history, as the live engine reads it from
    // its store: keep the store's retention of minutes, and rebuild the profiles hourly.
    let predictive = contender.policy.predictive.as_ref().map(|p| p.metric.clone());
    let minute_points = if predictive.is_some() { (HISTORY_RETENTION.as_secs() / 60) as usize } else { 60 };
    let settings = CoreSettings {
        stale_after: spec.config.stale_after,
        raw_points: crate::engine::history::RAW_POINTS,
        minute_points,
        readonly: false,
        record_states: false,
        capacity_series: false,
    };
    let groups = [(group.spec.clone(), contender.policy.clone(), contender.alarms.clone(), false)];
    let core = TickCore::build(groups, AutoscaleMode::Act, settings, REPLAY_START);
    let mut sim = SimLoop::new(core, fleet);
    let poll_s = contender.period.as_secs().max(1);
    let slo = group.spec.slo_p95.map(|d| d.as_secs_f64());
    let service_time_s = sim_spec.service_time.as_secs_f64();

    let mut score = Tally::new(oracle.infeasible.clone());
    let mut actions = Vec::new();
    let mut last_latency: Option<(LatencyInputs, LatencyEstimate)> = None;
    for t in 0..seconds {
        let now = REPLAY_START.plus(Duration::from_secs(t));
        if let Some(metric) = &predictive
            && t.is_multiple_of(3600)
        {
            refresh_load_profile(&mut sim.core, metric);
        }
        if t.is_multiple_of(poll_s) {
            let out = sim.step(now, Vec::new());
            for action in &out.actions {
                score.action(action.from, action.to);
                actions.push((t, action.from, action.to));
            }
        } else {
            sim.fleet.advance_to(now);
        }
        if t == 0 {
            continue; // nothing has been simulated yet
        }
        let (state, capacity) =
            sim.fleet.state_and_capacity(&group.spec.name).expect("the replayed group is in the fleet");
        let inputs = LatencyInputs {
            service_time_s,
            utilization: if state.capacity_rps > 0.0 {
                state.demand_rps / state.capacity_rps
            } else {
                f64::INFINITY
            },
            capacity_rps: state.capacity_rps,
            backlog: state.backlog,
        };
        // Most seconds repeat the last (a trace row holds for a minute, queues are empty):
        // the model is a pure function of its inputs, so the last estimate is reused.
        let latency = match &last_latency {
            Some((previous, estimate)) if *previous == inputs => *estimate,
            _ => {
                let estimate = estimate_latency(&inputs);
                last_latency = Some((inputs, estimate));
                estimate
            }
        };
        let billed = f64::from(capacity.ready + capacity.warming);
        score.second(t, &state, billed, latency, slo);
    }
    let (mut scorecard, timeline) =
        score.card(&contender.name, seconds.saturating_sub(1), group.spec.hourly_cost_usd, slo);
    scorecard.infeasible_minutes = oracle.infeasible_minutes;
    scorecard.cost_vs_oracle = scorecard.cost_usd / oracle.cost_usd;
    Ok(ReplayRun { scorecard, actions, timeline })
}

/// The replayed group's daily and weekly profiles of `metric`, from the minute means the
/// core holds (what the live engine computes hourly from its store).
fn refresh_load_profile(core: &mut TickCore, metric: &MetricKind) {
    let Some(series) = core.groups[0].series.get(metric) else { return };
    let points: Vec<(Timestamp, f64)> =
        series.minutes().filter(|(_, m)| !m.is_gap()).map(|(at, m)| (at, f64::from(m.mean))).collect();
    if let Ok(profile) = build_load_profile(&points, PROFILE_SLOT) {
        core.set_load_profile(0, Some(profile));
    }
}

/// Running sums of a replay.
#[derive(Default)]
struct Tally {
    /// (value, weight) per second (a run of equal values merged), for the
    /// request-weighted percentiles.
    p50: Vec<(f64, f64)>,
    p95: Vec<(f64, f64)>,
    p99: Vec<(f64, f64)>,
    requests: f64,
    dropped: f64,
    max_queued: f64,
    instance_seconds: f64,
    /// The minute being summed.
    minute: Option<Minute>,
    timeline: Vec<MinutePoint>,
    violation_minutes: u64,
    actions: u32,
    direction_changes: u32,
    last_direction: Option<bool>,
    /// The oracle's infeasible minutes, which are not counted as violations.
    infeasible: Vec<bool>,
    /// Seconds in a row above the SLO now, and the most seen.
    breaching_run: u64,
    longest_breach: u64,
}

impl Tally {
    fn new(infeasible: Vec<bool>) -> Self {
        Tally { infeasible, ..Tally::default() }
    }

    fn action(&mut self, from: u32, to: u32) {
        self.actions += 1;
        let up = to > from;
        if self.last_direction.is_some_and(|d| d != up) {
            self.direction_changes += 1;
        }
        self.last_direction = Some(up);
    }

    fn second(
        &mut self,
        t: u64,
        state: &SimGroupState,
        billed: f64,
        latency: LatencyEstimate,
        slo: Option<f64>,
    ) {
        let weight = state.served_rps.max(0.0);
        for (values, value) in
            [(&mut self.p50, latency.p50_s), (&mut self.p95, latency.p95_s), (&mut self.p99, latency.p99_s)]
        {
            // A run of equal values is one entry with their summed weight: the same
            // percentile, far less to sort.
            match values.last_mut() {
                Some((last, w)) if *last == value => *w += weight,
                _ => values.push((value, weight)),
            }
        }
        self.requests += weight;
        self.dropped += state.dropped_rps.max(0.0);
        self.max_queued = self.max_queued.max(state.backlog);
        self.instance_seconds += billed;
        if slo.is_some_and(|slo| latency.p95_s > slo) {
            self.breaching_run += 1;
            self.longest_breach = self.longest_breach.max(self.breaching_run);
        } else {
            self.breaching_run = 0;
        }
        let index = (t - 1) / 60;
        if self.minute.as_ref().is_none_or(|m| m.point.minute != index) {
            self.close_minute(slo);
            self.minute =
                Some(Minute { point: MinutePoint { minute: index, ..MinutePoint::default() }, seconds: 0 });
        }
        let minute = self.minute.as_mut().expect("a minute is open");
        minute.seconds += 1;
        let point = &mut minute.point;
        point.p95_s += latency.p95_s * weight;
        point.served += weight;
        point.demand_rps += state.demand_rps;
        point.capacity_rps += state.capacity_rps;
    }

    /// Counts the minute just ended if its request-weighted p95 was above the SLO (a
    /// minute without requests violates nothing, nor does one the oracle found
    /// infeasible), and adds it to the timeline.
    fn close_minute(&mut self, slo: Option<f64>) {
        let Some(Minute { mut point, seconds }) = self.minute.take() else { return };
        let served = point.served;
        point.p95_s = if served > 0.0 { point.p95_s / served } else { f64::NAN };
        if let Some(slo) = slo
            && served > 0.0
            && point.p95_s > slo
            && !self.infeasible.get(point.minute as usize).copied().unwrap_or(false)
        {
            self.violation_minutes += 1;
        }
        let per_second = 1.0 / f64::from(seconds.max(1));
        point.demand_rps *= per_second;
        point.capacity_rps *= per_second;
        self.timeline.push(point);
    }

    /// The scorecard, and the timeline of whole minutes.
    fn card(
        mut self,
        policy: &str,
        seconds: u64,
        hourly_cost_usd: f64,
        slo: Option<f64>,
    ) -> (Scorecard, Vec<MinutePoint>) {
        // Only whole minutes count; a trailing part-minute is left out.
        if seconds.is_multiple_of(60) {
            self.close_minute(slo);
        }
        let instance_hours = self.instance_seconds / 3600.0;
        let card = Scorecard {
            policy: policy.to_string(),
            seconds,
            slo_violation_minutes: self.violation_minutes,
            latency_p50_s: weighted_percentile(&mut self.p50, 0.50),
            latency_p95_s: weighted_percentile(&mut self.p95, 0.95),
            latency_p99_s: weighted_percentile(&mut self.p99, 0.99),
            requests: self.requests,
            max_queued: self.max_queued,
            dropped: self.dropped,
            instance_hours,
            cost_usd: instance_hours * hourly_cost_usd,
            cost_vs_oracle: f64::NAN,
            infeasible_minutes: 0,
            actions: self.actions,
            direction_changes: self.direction_changes,
            time_to_recover_s: self.longest_breach,
        };
        (card, self.timeline)
    }
}

/// The value below which `q` of the total weight lies (NaN without weight).
fn weighted_percentile(values: &mut [(f64, f64)], q: f64) -> f64 {
    values.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = values.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return f64::NAN;
    }
    let mut seen = 0.0;
    for (value, weight) in values.iter() {
        seen += weight;
        if seen >= q * total {
            return *value;
        }
    }
    values.last().map_or(f64::NAN, |(v, _)| *v)
}

pub mod oracle;
pub mod plot;
pub mod report;
pub mod traces;

pub use oracle::{Oracle, OracleInputs};

#[cfg(test)]
mod tests;
