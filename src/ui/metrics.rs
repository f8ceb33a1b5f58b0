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

    fn threshold(self, group: &GroupSnapshot, thresholds: &Thresholds) -> Option<f64> {
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
    /// Past its threshold or SLO.
    pub over: bool,
}

pub fn reading<'a>(group: &'a GroupSnapshot, metric: Metric, thresholds: &Thresholds) -> Reading<'a> {
    let kind = metric.kind(group);
    let series = group.series(&kind);
    let value = series.and_then(|s| s.points.last()).map(|p| p.value);
    let over = match (value, metric.threshold(group, thresholds)) {
        (Some(v), Some(limit)) => v > limit,
        _ => false,
    };
    Reading { kind, series, value, stale: series.is_some_and(|s| s.stale), over }
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
        if self.over {
            out.push_str(OVER_MARK);
        }
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

/// How many series in the fleet are stale.
pub fn stale_series(snapshot: &Snapshot) -> usize {
    snapshot.groups.iter().flat_map(|g| &g.series).filter(|s| s.stale).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

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
        assert!(r.over);
        assert!(r.text().ends_with(OVER_MARK));
        // No SLO, no mark, however slow.
        let embeddings = snap.group("embeddings").unwrap();
        assert!(!reading(embeddings, Metric::LatencyP95, &Thresholds::default()).over);
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
        let r = reading(&snap.groups[0], Metric::Queue, &Thresholds::default());
        assert_eq!(r.text(), "–");
        assert!(!r.over && !r.stale);
    }
}
