//! Which groups the fleet table lists, in what order: the `/` filter and the sort.
//!
//! The filter, as in k9s, is a regular expression matched anywhere in a group's name or
//! instance type, ignoring case (`chat|vision`, `^llm`, `p4d`); a leading `!` keeps the
//! groups it does not match (`!^embed`). Text that is not a valid expression — yet, as
//! `llm(` while it is typed — is matched as plain text, and the prompt says so.
//!
//! The sort puts the group that needs attention first (worst first: most alarms firing,
//! highest p95, longest queue, busiest GPU, most expensive), or by name, or as the config
//! lists them (the default); reversed, best (or z) first. Ties keep the config order, so
//! rows never shuffle between equal values. A group with no value for the sort key goes
//! last either way.

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};

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

    /// How the header names it, in its usual direction.
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

    /// The column's name in `:sort COLUMN`.
    pub fn column(self) -> &'static str {
        match self {
            SortKey::Config => "config",
            SortKey::Name => "name",
            SortKey::AlarmsFiring => "alarms",
            SortKey::LatencyP95 => "p95",
            SortKey::Queue => "queue",
            SortKey::GpuUtil => "gpu",
            SortKey::Cost => "cost",
        }
    }

    /// The key whose [`SortKey::column`] is `name`.
    pub fn from_column(name: &str) -> Option<SortKey> {
        SortKey::CYCLE.into_iter().find(|k| k.column() == name)
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

/// The table's order: a key, and whether it is reversed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub reversed: bool,
}

impl Sort {
    /// How the header names it ("p95 ↓", reversed "p95 ↑"; "name", reversed "name z→a").
    pub fn label(self) -> String {
        let label = self.key.label();
        match (self.reversed, self.key) {
            (false, _) => label.to_string(),
            (true, SortKey::Config) => "config order, reversed".to_string(),
            (true, SortKey::Name) => "name z→a".to_string(),
            (true, _) => label.replace('↓', "↑"),
        }
    }
}

/// The `/` filter, made once per listing: see the module doc.
#[derive(Clone, Debug)]
pub struct Filter {
    /// None: everything passes.
    regex: Option<Regex>,
    invert: bool,
    /// The text was not a valid expression and is matched as it is.
    literal: bool,
}

impl Filter {
    pub fn new(text: &str) -> Filter {
        let text = text.trim();
        let (invert, pattern) = match text.strip_prefix('!') {
            Some(rest) => (true, rest.trim_start()),
            None => (false, text),
        };
        if pattern.is_empty() {
            return Filter { regex: None, invert: false, literal: false };
        }
        let build = |p: &str| RegexBuilder::new(p).case_insensitive(true).size_limit(1 << 20).build();
        match build(pattern) {
            Ok(regex) => Filter { regex: Some(regex), invert, literal: false },
            Err(_) => Filter { regex: build(&regex::escape(pattern)).ok(), invert, literal: true },
        }
    }

    /// Whether the text is matched as plain text, not being a valid expression.
    pub fn is_literal(&self) -> bool {
        self.literal
    }

    pub fn matches(&self, group: &GroupSnapshot) -> bool {
        self.matches_any(&[&group.spec.name, &group.spec.instance_type])
    }

    /// For a group known only by name (one gone from the fleet).
    pub fn matches_name(&self, name: &str) -> bool {
        self.matches_any(&[name])
    }

    fn matches_any(&self, texts: &[&str]) -> bool {
        let Some(regex) = &self.regex else { return true };
        texts.iter().any(|t| regex.is_match(t)) != self.invert
    }
}

/// Indexes into `snapshot.groups` of the rows to show, in order.
pub fn visible(snapshot: &Snapshot, filter: &str, sort: Sort) -> Vec<usize> {
    let groups = &snapshot.groups;
    let filter = Filter::new(filter);
    let mut rows: Vec<usize> = (0..groups.len()).filter(|&i| filter.matches(&groups[i])).collect();
    let flip = |o: Ordering| if sort.reversed { o.reverse() } else { o };
    match sort.key {
        SortKey::Config => {
            if sort.reversed {
                rows.reverse();
            }
        }
        SortKey::Name => rows.sort_by(|&a, &b| flip(groups[a].spec.name.cmp(&groups[b].spec.name))),
        key => rows.sort_by(|&a, &b| match (key.value(&groups[a]), key.value(&groups[b])) {
            (Some(x), Some(y)) => flip(y.total_cmp(&x)),
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

    const CONFIG: Sort = Sort { key: SortKey::Config, reversed: false };

    fn by(key: SortKey) -> Sort {
        Sort { key, reversed: false }
    }

    fn names(snapshot: &Snapshot, rows: &[usize]) -> Vec<String> {
        rows.iter().map(|&i| snapshot.groups[i].spec.name.clone()).collect()
    }

    #[test]
    fn the_filter_matches_name_or_instance_type_ignoring_case() {
        let fleet = fixtures::fleet();
        let all = visible(&fleet, "", CONFIG);
        assert_eq!(all, (0..fleet.groups.len()).collect::<Vec<_>>());
        let chat = visible(&fleet, "CHAT", CONFIG);
        assert_eq!(names(&fleet, &chat), ["llm-chat"]);
        let by_type = &fleet.groups[1].spec.instance_type;
        let typed = visible(&fleet, by_type, CONFIG);
        assert!(typed.contains(&1), "{by_type}: {typed:?}");
        assert!(visible(&fleet, "no such group", CONFIG).is_empty());
    }

    #[test]
    fn sorting_puts_the_worst_first_and_keeps_config_order_on_ties() {
        let fleet = fixtures::fleet();
        let by_name = names(&fleet, &visible(&fleet, "", by(SortKey::Name)));
        let mut expected = by_name.clone();
        expected.sort();
        assert_eq!(by_name, expected);
        for key in
            [SortKey::LatencyP95, SortKey::Queue, SortKey::GpuUtil, SortKey::Cost, SortKey::AlarmsFiring]
        {
            let rows = visible(&fleet, "", by(key));
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

    #[test]
    fn the_filter_is_a_case_blind_regex_and_a_bang_inverts_it() {
        let fleet = fixtures::fleet();
        let shown = |filter: &str| names(&fleet, &visible(&fleet, filter, CONFIG));
        assert_eq!(shown("chat|VISION"), ["llm-chat", "vision"]);
        assert_eq!(shown("^e"), ["embeddings"]);
        assert_eq!(shown("!^e"), ["llm-chat", "vision"]);
        assert_eq!(shown("! chat"), ["vision", "embeddings"]);
        assert_eq!(shown("!"), ["llm-chat", "vision", "embeddings"], "nothing after ! yet");
        assert!(shown("!.").is_empty());
        // Not an expression (yet): matched as text, and the prompt can say so.
        assert!(Filter::new("llm(").is_literal() && !Filter::new("llm").is_literal());
        assert!(shown("llm(").is_empty());
        assert_eq!(shown("-chat"), ["llm-chat"]);
    }

    #[test]
    fn a_reversed_sort_puts_the_best_first_and_still_the_valueless_last() {
        let fleet = fixtures::fleet();
        for key in SortKey::CYCLE {
            let forward = visible(&fleet, "", by(key));
            let reversed = visible(&fleet, "", Sort { key, reversed: true });
            let with_value = |rows: &[usize]| -> Vec<usize> {
                rows.iter().copied().filter(|&i| key.value(&fleet.groups[i]).is_some()).collect()
            };
            if matches!(key, SortKey::Config | SortKey::Name) {
                assert_eq!(reversed, forward.iter().rev().copied().collect::<Vec<_>>(), "{key:?}");
            } else {
                // Distinct values come the other way round; groups without one stay last.
                let values = |rows: &[usize]| -> Vec<f64> {
                    rows.iter().filter_map(|&i| key.value(&fleet.groups[i])).collect()
                };
                assert!(
                    values(&reversed).windows(2).all(|w| w[0] <= w[1]),
                    "{key:?}: {:?}",
                    values(&reversed)
                );
                assert_eq!(values(&reversed).len(), values(&forward).len());
                let valued = with_value(&reversed);
                assert_eq!(reversed[..valued.len()].to_vec(), valued, "{key:?}: the valueless last");
            }
        }
        assert_eq!(Sort { key: SortKey::LatencyP95, reversed: true }.label(), "p95 ↑");
        assert_eq!(Sort { key: SortKey::Name, reversed: true }.label(), "name z→a");
        assert_eq!(by(SortKey::Queue).label(), "queue ↓");
    }

    #[test]
    fn every_sort_key_has_a_column_name_for_the_sort_command() {
        for key in SortKey::CYCLE {
            assert_eq!(SortKey::from_column(key.column()), Some(key));
        }
        assert_eq!(SortKey::from_column("latency"), None);
    }
}
