//! Which groups the fleet table lists, in what order: the `/` filter and the sort key.
//!
//! The filter keeps groups whose name or instance type contains the text, ignoring case.
//! The sort puts the group that needs attention first (worst first: most alarms firing,
//! highest p95, longest queue, busiest GPU, most expensive), or by name, or as the config
//! lists them (the default). Ties keep the config order, so rows never shuffle between
//! equal values. A group with no value for the sort key goes last.

use std::cmp::Ordering;

use crate::model::MetricKind;
use crate::protocol::{GroupSnapshot, Snapshot};

use super::metrics;

/// What the fleet table is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// As the config lists the groups.
    #[default]
    Config,
    Name,
    AlarmsFiring,
    LatencyP95,
    Queue,
    GpuUtil,
    Cost,
}

impl SortKey {
    /// The order `s` cycles through.
    pub const CYCLE: [SortKey; 7] = [
        SortKey::Config,
        SortKey::Name,
        SortKey::AlarmsFiring,
        SortKey::LatencyP95,
        SortKey::Queue,
        SortKey::GpuUtil,
        SortKey::Cost,
    ];

    pub fn next(self) -> SortKey {
        let i = SortKey::CYCLE.iter().position(|k| *k == self).unwrap_or(0);
        SortKey::CYCLE[(i + 1) % SortKey::CYCLE.len()]
    }

    /// How the header names it.
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Config => "config order",
            SortKey::Name => "name",
            SortKey::AlarmsFiring => "alarms firing ↓",
            SortKey::LatencyP95 => "p95 ↓",
            SortKey::Queue => "queue ↓",
            SortKey::GpuUtil => "gpu ↓",
            SortKey::Cost => "$/h ↓",
        }
    }

    /// The value sorted on, larger first (None: no value, last).
    fn value(self, group: &GroupSnapshot) -> Option<f64> {
        let latest = |kind: MetricKind| group.latest(&kind).map(|s| s.value).filter(|v| v.is_finite());
        match self {
            SortKey::Config | SortKey::Name => None,
            SortKey::AlarmsFiring => Some(group.firing().count() as f64),
            SortKey::LatencyP95 => latest(MetricKind::LatencyP95),
            SortKey::Queue => latest(MetricKind::QueueLength),
            SortKey::GpuUtil => latest(MetricKind::GpuUtil),
            SortKey::Cost => Some(metrics::hourly_cost_usd(group)),
        }
    }
}

/// Whether `group` passes the filter `text` (empty passes everything).
pub fn matches(group: &GroupSnapshot, text: &str) -> bool {
    matches_needle(group, &needle(text))
}

/// The filter as it is matched: trimmed and lowercased (once per listing, not per group).
pub fn needle(text: &str) -> String {
    text.trim().to_lowercase()
}

/// [`matches`] for a filter already made a [`needle`].
pub fn matches_needle(group: &GroupSnapshot, text: &str) -> bool {
    text.is_empty()
        || group.spec.name.to_lowercase().contains(text)
        || group.spec.instance_type.to_lowercase().contains(text)
}

/// Indexes into `snapshot.groups` of the rows to show, in order.
pub fn visible(snapshot: &Snapshot, filter: &str, sort: SortKey) -> Vec<usize> {
    let groups = &snapshot.groups;
    let filter = needle(filter);
    let mut rows: Vec<usize> = (0..groups.len()).filter(|&i| matches_needle(&groups[i], &filter)).collect();
    match sort {
        SortKey::Config => {}
        SortKey::Name => rows.sort_by(|&a, &b| groups[a].spec.name.cmp(&groups[b].spec.name)),
        key => rows.sort_by(|&a, &b| match (key.value(&groups[a]), key.value(&groups[b])) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }),
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::fixtures;

    fn names(snapshot: &Snapshot, rows: &[usize]) -> Vec<String> {
        rows.iter().map(|&i| snapshot.groups[i].spec.name.clone()).collect()
    }

    #[test]
    fn the_filter_matches_name_or_instance_type_ignoring_case() {
        let fleet = fixtures::fleet();
        let all = visible(&fleet, "", SortKey::Config);
        assert_eq!(all, (0..fleet.groups.len()).collect::<Vec<_>>());
        let chat = visible(&fleet, "CHAT", SortKey::Config);
        assert_eq!(names(&fleet, &chat), ["llm-chat"]);
        let by_type = &fleet.groups[1].spec.instance_type;
        let typed = visible(&fleet, by_type, SortKey::Config);
        assert!(typed.contains(&1), "{by_type}: {typed:?}");
        assert!(visible(&fleet, "no such group", SortKey::Config).is_empty());
    }

    #[test]
    fn sorting_puts_the_worst_first_and_keeps_config_order_on_ties() {
        let fleet = fixtures::fleet();
        let by_name = names(&fleet, &visible(&fleet, "", SortKey::Name));
        let mut expected = by_name.clone();
        expected.sort();
        assert_eq!(by_name, expected);
        for key in
            [SortKey::LatencyP95, SortKey::Queue, SortKey::GpuUtil, SortKey::Cost, SortKey::AlarmsFiring]
        {
            let rows = visible(&fleet, "", key);
            let values: Vec<Option<f64>> = rows.iter().map(|&i| key.value(&fleet.groups[i])).collect();
            for pair in values.windows(2) {
                match (pair[0], pair[1]) {
                    (Some(a), Some(b)) => assert!(a >= b, "{key:?}: {values:?}"),
                    (None, Some(_)) => panic!("{key:?}: a group without a value before one with: {values:?}"),
                    _ => {}
                }
            }
            // Equal values keep the config order.
            for pair in rows.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if key.value(&fleet.groups[a]) == key.value(&fleet.groups[b]) {
                    assert!(a < b, "{key:?}: {rows:?}");
                }
            }
        }
    }

    #[test]
    fn the_sort_cycles_through_every_key_and_back() {
        let mut key = SortKey::default();
        let mut seen = Vec::new();
        for _ in 0..SortKey::CYCLE.len() {
            seen.push(key);
            key = key.next();
        }
        assert_eq!(key, SortKey::Config);
        assert_eq!(seen, SortKey::CYCLE);
    }
}
