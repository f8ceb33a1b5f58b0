//! What the console reads out of a [`GroupSnapshot`]: the value of each shown metric with
//! its stale and over-threshold marks, the group's hourly cost, fleet totals. Pure
//! functions of the snapshot, shared by the table, the detail pane and the header.
//!
//! The warning thresholds here are display hints only, until alarms travel in the
//! protocol; the engine's alarms decide what pages anyone.

use crate::model::{MetricKind, Serving, Unit};
use crate::protocol::{GroupSnapshot, SeriesSnapshot, Snapshot};

use super::format;

/// Marks a value from a stale series; readable without colour.
pub const STALE_MARK: &str = "~";
/// Marks a value past its threshold or SLO.
pub const OVER_MARK: &str = "!";
/// Marks a value far past its threshold or SLO, or one whose alarm fires.
pub const SEVERE_MARK: &str = "!!";

/// How badly a reading is wrong, mildest first. The table and the detail pane mark and
/// colour each level apart, so a p95 of 61 s against a 2 s SLO does not look like 2.1 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    /// Past its threshold or SLO.
    Over,
    /// Far past it: at least twice the limit for latency and queues, more than half the
    /// headroom left above the limit for fractions (95 % against 90 %).
    FarOver,
    /// An alarm on this metric fires.
    Firing,
}

impl Severity {
    fn of(value: f64, limit: f64, unit: Unit) -> Severity {
        let far = match unit {
            Unit::Fraction => limit + (1.0 - limit).max(0.0) / 2.0,
            _ => limit * 2.0,
        };
        if value >= far && value > limit {
            Severity::FarOver
        } else if value > limit {
            Severity::Over
        } else {
            Severity::Ok
        }
    }

    /// The mark after the value: none, `!`, or `!!`.
    pub fn mark(self) -> &'static str {
        match self {
            Severity::Ok => "",
            Severity::Over => OVER_MARK,
            Severity::FarOver | Severity::Firing => SEVERE_MARK,
        }
    }
}

/// The metrics the fleet table shows, one column each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    GpuUtil,
    /// GPU memory, or KV-cache usage for vLLM groups.
    Memory,
    LatencyP95,
    Queue,
}

/// Where a metric's cell turns to a warning. Latency uses the group's own
/// `spec.slo_p95`; the others are fleet-wide display defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    pub gpu_util: f64,
    /// Generic servers only: vLLM preallocates ~90 % of GPU memory, so its KV-cache is
    /// what is compared instead.
    pub gpu_mem: f64,
    pub kv_cache: f64,
    pub queue_length: f64,
}

impl Default for Thresholds {
    /// The alarm examples of DESIGN.md: GPU memory > 90 %, queue > 50; GPU util and
    /// KV-cache at 90 %, where a group has no headroom left for a burst.
    fn default() -> Self {
        Thresholds { gpu_util: 0.90, gpu_mem: 0.90, kv_cache: 0.90, queue_length: 50.0 }
    }
}

/// The memory signal that moves with load for this group (see [`Serving`]).
pub fn memory_kind(group: &GroupSnapshot) -> MetricKind {
    match group.spec.serving {
        Serving::Vllm => MetricKind::KvCacheUsage,
        Serving::Generic => MetricKind::GpuMem,
    }
}

impl Metric {
    pub fn kind(self, group: &GroupSnapshot) -> MetricKind {
        match self {
            Metric::GpuUtil => MetricKind::GpuUtil,
            Metric::Memory => memory_kind(group),
            Metric::LatencyP95 => MetricKind::LatencyP95,
            Metric::Queue => MetricKind::QueueLength,
        }
    }

    pub fn threshold(self, group: &GroupSnapshot, thresholds: &Thresholds) -> Option<f64> {
        match self {
            Metric::GpuUtil => Some(thresholds.gpu_util),
            Metric::Memory => Some(match group.spec.serving {
                Serving::Vllm => thresholds.kv_cache,
                Serving::Generic => thresholds.gpu_mem,
            }),
            Metric::LatencyP95 => group.spec.slo_p95.map(|d| d.as_secs_f64()),
            Metric::Queue => Some(thresholds.queue_length),
        }
    }
}

/// One metric of one group as shown: newest value, series, marks.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading<'a> {
    pub kind: MetricKind,
    pub series: Option<&'a SeriesSnapshot>,
    /// The newest point's value, if the series has one.
    pub value: Option<f64>,
    pub stale: bool,
    /// How far past its threshold or SLO, or firing.
    pub severity: Severity,
}

pub fn reading<'a>(group: &'a GroupSnapshot, metric: Metric, thresholds: &Thresholds) -> Reading<'a> {
    let kind = metric.kind(group);
    let series = group.series(&kind);
    let value = series.and_then(|s| s.points.last()).map(|p| p.value);
    let past = match (value, metric.threshold(group, thresholds)) {
        (Some(v), Some(limit)) => Severity::of(v, limit, kind.unit()),
        _ => Severity::Ok,
    };
    let firing = group.firing().any(|a| a.metric.as_ref() == Some(&kind));
    let severity = if firing { Severity::Firing } else { past };
    Reading { kind, series, value, stale: series.is_some_and(|s| s.stale), severity }
}

impl Reading<'_> {
    /// The value with its unit and marks: `~kv 64%!` is a stale KV-cache reading past its
    /// threshold. A metric the group does not report is `–`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.stale {
            out.push_str(STALE_MARK);
        }
        if self.kind == MetricKind::KvCacheUsage {
            out.push_str("kv ");
        }
        out.push_str(&match self.value {
            Some(v) => value_text(&self.kind, v),
            None => format::NO_VALUE.to_string(),
        });
        out.push_str(self.severity.mark());
        out
    }
}

/// A value in its kind's unit: `73%`, `850ms`, `12`, `42 req/s`.
pub fn value_text(kind: &MetricKind, value: f64) -> String {
    match kind.unit() {
        Unit::Fraction => format::percent(value),
        Unit::Seconds => format::seconds(value),
        Unit::Count => format::count(value),
        Unit::PerSecond => match kind {
            MetricKind::TokensPerSecond => format::rate(value, "tok"),
            _ => format::rate(value, "req"),
        },
        Unit::Unknown => format!("{value:.3}"),
    }
}

/// What the group costs per hour now: (ready + warming) × hourly cost. Warming instances
/// are billed from launch, not from when they start serving; `desired` is not counted
/// because a request not yet launched (e.g. during a GPU stockout) costs nothing.
pub fn hourly_cost_usd(group: &GroupSnapshot) -> f64 {
    let running = group.capacity.map_or(0, |c| c.pending_total());
    f64::from(running) * group.spec.hourly_cost_usd
}

pub fn fleet_hourly_cost_usd(snapshot: &Snapshot) -> f64 {
    snapshot.groups.iter().map(hourly_cost_usd).sum()
}

/// What 1,000 requests cost at this moment: the fleet's $/h over the requests it takes
/// in an hour at the newest request rates. None while no group reports requests.
pub fn cost_per_1k_requests(snapshot: &Snapshot) -> Option<f64> {
    let rps: f64 = snapshot
        .groups
        .iter()
        .filter_map(|g| g.latest(&MetricKind::RequestRate))
        .map(|s| s.value)
        .filter(|v| v.is_finite() && *v > 0.0)
        .sum();
    (rps > 0.0).then(|| fleet_hourly_cost_usd(snapshot) / (rps * 3600.0) * 1000.0)
}

/// Who acts on the fleet: "lease: this engine", "lease: engine-b on ops-2" when one
/// other engine holds the leases ("(1 of 3 groups)" when not every group has one),
/// "leases: 2 holders" otherwise; None without leases.
///
/// `ours` means the engine that took the snapshot: in an attached console that is the
/// daemon's, not this console's.
pub fn lease_summary(snapshot: &Snapshot, attached: bool) -> Option<String> {
    let leases: Vec<&crate::protocol::LeaseView> =
        snapshot.groups.iter().filter_map(|g| g.lease.as_ref()).collect();
    let first = leases.first()?;
    let same = leases.iter().all(|l| l.holder == first.holder && l.ours == first.ours);
    let part = if leases.len() < snapshot.groups.len() {
        format!(" ({} of {} groups)", leases.len(), snapshot.groups.len())
    } else {
        String::new()
    };
    Some(match (same, first.ours) {
        (true, true) if attached => format!("lease: the daemon{part}"),
        (true, true) => format!("lease: this engine{part}"),
        (true, false) => format!("lease: {} on {}{part}", first.holder, first.host),
        (false, _) => {
            let mut holders: Vec<&str> = leases.iter().map(|l| l.holder.as_str()).collect();
            holders.sort_unstable();
            holders.dedup();
            format!("leases: {} holders", holders.len())
        }
    })
}

/// How many series in the fleet are stale.
pub fn stale_series(snapshot: &Snapshot) -> usize {
    snapshot.groups.iter().flat_map(|g| &g.series).filter(|s| s.stale).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    #[test]
    fn cost_per_1k_requests_is_the_fleets_hourly_cost_over_an_hours_requests() {
        let fleet = fixtures::fleet();
        let rps: f64 =
            fleet.groups.iter().filter_map(|g| g.latest(&MetricKind::RequestRate)).map(|s| s.value).sum();
        assert!(rps > 0.0);
        let expected = fleet_hourly_cost_usd(&fleet) * 1000.0 / (rps * 3600.0);
        assert!((cost_per_1k_requests(&fleet).unwrap() - expected).abs() < 1e-12);
        let mut idle = fleet.clone();
        for group in &mut idle.groups {
            group.series.retain(|s| s.kind != MetricKind::RequestRate);
        }
        assert_eq!(cost_per_1k_requests(&idle), None, "no requests, no price per request");
    }

    #[test]
    fn the_lease_summary_names_one_holder_or_counts_them() {
        let mut fleet = fixtures::fleet();
        // The fixture: one group observed under engine-b on ops-2, the others without a lease.
        assert_eq!(lease_summary(&fleet, false).as_deref(), Some("lease: engine-b on ops-2 (1 of 3 groups)"));
        let theirs = fleet.groups.iter().find_map(|g| g.lease.clone()).unwrap();
        let ours = crate::protocol::LeaseView { holder: "me".into(), ours: true, ..theirs.clone() };
        fleet.groups[0].lease = Some(ours.clone());
        assert_eq!(lease_summary(&fleet, false).as_deref(), Some("leases: 2 holders"));
        for group in &mut fleet.groups {
            group.lease = Some(ours.clone());
        }
        assert_eq!(lease_summary(&fleet, false).as_deref(), Some("lease: this engine"));
        // Issue 15, point 3: attached, the engine holding it is the daemon's.
        assert_eq!(lease_summary(&fleet, true).as_deref(), Some("lease: the daemon"));
        for group in &mut fleet.groups {
            group.lease = None;
        }
        assert_eq!(lease_summary(&fleet, false), None);
    }

    #[test]
    fn vllm_groups_show_kv_cache_labelled_as_such() {
        let snap = fixtures::fleet();
        let chat = snap.group("llm-chat").unwrap();
        let r = reading(chat, Metric::Memory, &Thresholds::default());
        assert_eq!(r.kind, MetricKind::KvCacheUsage);
        assert!(r.text().starts_with("kv "), "{}", r.text());
        let vision = snap.group("vision").unwrap();
        assert_eq!(reading(vision, Metric::Memory, &Thresholds::default()).kind, MetricKind::GpuMem);
    }

    #[test]
    fn p95_past_the_slo_is_marked() {
        let snap = fixtures::fleet();
        let chat = snap.group("llm-chat").unwrap();
        let r = reading(chat, Metric::LatencyP95, &Thresholds::default());
        assert_eq!(r.severity, Severity::Over);
        assert!(r.text().ends_with(OVER_MARK) && !r.text().ends_with(SEVERE_MARK), "{}", r.text());
        // No SLO, no mark, however slow.
        let embeddings = snap.group("embeddings").unwrap();
        assert_eq!(reading(embeddings, Metric::LatencyP95, &Thresholds::default()).severity, Severity::Ok);
    }

    #[test]
    fn far_past_the_limit_is_a_level_of_its_own() {
        // Issue 15, point 5: 61 s against a 2 s SLO is not 2.1 s.
        let slo = 2.0;
        assert_eq!(Severity::of(2.1, slo, Unit::Seconds), Severity::Over);
        assert_eq!(Severity::of(61.0, slo, Unit::Seconds), Severity::FarOver);
        assert_eq!(Severity::of(4.0, slo, Unit::Seconds), Severity::FarOver);
        assert_eq!(Severity::of(1.9, slo, Unit::Seconds), Severity::Ok);
        assert_eq!(Severity::of(120.0, 50.0, Unit::Count), Severity::FarOver);
        // Fractions cannot double: far is past half the headroom above the limit.
        assert_eq!(Severity::of(0.93, 0.9, Unit::Fraction), Severity::Over);
        assert_eq!(Severity::of(0.96, 0.9, Unit::Fraction), Severity::FarOver);
        // A zero limit: anything past it is far past.
        assert_eq!(Severity::of(0.0, 0.0, Unit::Count), Severity::Ok);
        assert_eq!(Severity::of(1.0, 0.0, Unit::Count), Severity::FarOver);
        assert_eq!(Severity::of(f64::NAN, slo, Unit::Seconds), Severity::Ok);
    }

    #[test]
    fn a_metric_whose_alarm_fires_is_firing_whatever_its_value() {
        // The fixture's queue-high fires on llm-chat's queue (37, threshold 50 shown).
        let snap = fixtures::fleet();
        let chat = snap.group("llm-chat").unwrap();
        let r = reading(chat, Metric::Queue, &Thresholds::default());
        assert_eq!(r.severity, Severity::Firing);
        assert!(r.text().ends_with(SEVERE_MARK), "{}", r.text());
        // A pending alarm is not firing: kv-cache reads by its value alone.
        assert_ne!(reading(chat, Metric::Memory, &Thresholds::default()).severity, Severity::Firing);
        let mut quiet = chat.clone();
        quiet.alarms.iter_mut().for_each(|a| a.state = crate::model::AlarmState::Ok);
        assert_eq!(reading(&quiet, Metric::Queue, &Thresholds::default()).severity, Severity::Ok);
    }

    #[test]
    fn stale_values_carry_the_stale_mark() {
        let snap = fixtures::fleet();
        let embeddings = snap.group("embeddings").unwrap();
        let r = reading(embeddings, Metric::GpuUtil, &Thresholds::default());
        assert!(r.stale);
        assert!(r.text().starts_with(STALE_MARK));
        assert_eq!(stale_series(&snap), 1);
    }

    #[test]
    fn cost_counts_ready_and_warming_instances() {
        let snap = fixtures::fleet();
        let chat = snap.group("llm-chat").unwrap();
        let cap = chat.capacity.unwrap();
        assert!(cap.desired > cap.ready + cap.warming, "fixture has an unlaunched request");
        let expected = f64::from(cap.ready + cap.warming) * chat.spec.hourly_cost_usd;
        assert_eq!(hourly_cost_usd(chat), expected);
    }

    #[test]
    fn missing_series_read_as_no_value() {
        let mut snap = fixtures::fleet();
        snap.groups[0].series.clear();
        snap.groups[0].alarms.clear();
        let r = reading(&snap.groups[0], Metric::Queue, &Thresholds::default());
        assert_eq!(r.text(), "–");
        assert!(r.severity == Severity::Ok && !r.stale);
    }
}
