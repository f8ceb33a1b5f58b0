//! The PromQL fleetdeck sends: one query per metric kind for all of a source's groups,
//! and the reading of its answer back into per-group figures. Pure: strings in, strings
//! and numbers out.
//!
//! # How a series finds its group
//!
//! By its pod's name: a Deployment's, StatefulSet's or LeaderWorkerSet's pods are named
//! `<workload>-…`, so `label_replace` copies the group's name out of the pod label into
//! `fleetdeck_group`, and one `… by (fleetdeck_group)` answers every group at once. GPU
//! series name the pod that uses the GPU as `pod`, or as `exported_pod` where the scrape
//! kept the exporter's own pod as the target's `pod` (dcgm-exporter's chart scrapes with
//! `honorLabels: false`); both are read, `exported_pod` winning. Group names are tried
//! longest first, so `llm-chat-…` is not taken for a group `llm`.
//!
//! # One query, three parts
//!
//! Each answer carries, per group, the value, how many instances it covers (the policy's
//! coverage) and the time of the oldest raw sample behind it, told apart by a
//! `fleetdeck_part` label (`value`, `count`, `at`). An instance series older than the
//! freshness limit is left out before anything is aggregated: without staleness markers
//! (a restarted Prometheus, Thanos, Mimir) a dead exporter's last value would otherwise
//! stay in the mean for the 5-minute lookback. `timestamp()` is applied to the raw
//! selector, the only place it gives the sample's own time (checked against Prometheus
//! 2.42: applied to an expression it gives the evaluation time).

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use super::response::{Labels, Point, QueryResult};
use crate::model::Timestamp;

/// The label the queries write each series' group into.
pub const GROUP_LABEL: &str = "fleetdeck_group";
/// The label the queries write each series' pod into, whichever label held it, so GPU
/// series (`exported_pod`) and serving series (`pod`) can be joined.
pub const POD_LABEL: &str = "fleetdeck_pod";
/// The label that tells an answer's parts apart.
pub const PART_LABEL: &str = "fleetdeck_part";

/// Which groups a query answers and how their series are found.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The groups' names, as their pods' names begin.
    pub groups: Vec<String>,
    /// The pod labels to read, in order; a later one that matches wins.
    pub pod_labels: Vec<String>,
    /// Group series by this label's value (the group's name) rather than by pod name.
    pub group_label: Option<String>,
    /// Extra matchers for every selector, e.g. `namespace="inference"` (may be empty).
    pub matchers: String,
    /// An instance series whose newest raw sample is older than this is left out.
    pub fresh_for: Duration,
}

impl Selection {
    pub fn new(groups: impl IntoIterator<Item = impl Into<String>>, fresh_for: Duration) -> Self {
        Selection {
            groups: groups.into_iter().map(Into::into).collect(),
            pod_labels: vec!["pod".into(), "exported_pod".into()],
            group_label: None,
            matchers: String::new(),
            fresh_for,
        }
    }

    /// `(a|b|c)` with the longest names first. Group names are letters, digits, `-` and
    /// `_` (config validation), none special in RE2.
    fn names_regex(&self) -> String {
        let mut names: Vec<&str> = self.groups.iter().map(String::as_str).collect();
        names.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        format!("({})", names.join("|"))
    }

    /// `metric{matchers}`, or `metric` alone.
    pub fn selector(&self, metric: &str) -> String {
        self.selector_with(metric, "")
    }

    /// `metric{matchers, extra}`: the selector with one more matcher (may be empty).
    pub fn selector_with(&self, metric: &str, extra: &str) -> String {
        match (self.matchers.is_empty(), extra.is_empty()) {
            (true, true) => metric.to_string(),
            (false, true) => format!("{metric}{{{}}}", self.matchers),
            (true, false) => format!("{metric}{{{extra}}}"),
            (false, false) => format!("{metric}{{{}, {extra}}}", self.matchers),
        }
    }

    /// `expr` with its series' group copied into [`GROUP_LABEL`] and its pod into
    /// [`POD_LABEL`]. By pod name, `((a|b)-.+)` gives `$1` the pod and `$2` its group;
    /// by a group label, that label's whole value must be a group's name.
    fn grouped(&self, expr: &str) -> String {
        let names = self.names_regex();
        let replace = |inner: &str, target: &str, with: &str, label: &str, regex: &str| {
            format!("label_replace({inner}, \"{target}\", \"{with}\", \"{label}\", \"{regex}\")")
        };
        match &self.group_label {
            None => {
                let regex = format!("({names}-.+)");
                self.pod_labels.iter().fold(expr.to_string(), |inner, label| {
                    let group = replace(&inner, GROUP_LABEL, "$2", label, &regex);
                    replace(&group, POD_LABEL, "$1", label, &regex)
                })
            }
            Some(group_label) => {
                let grouped = replace(expr, GROUP_LABEL, "$1", group_label, &names);
                self.pod_labels
                    .iter()
                    .fold(grouped, |inner, label| replace(&inner, POD_LABEL, "$1", label, "(.+)"))
            }
        }
    }

    /// The pods whose server answers now: a fresh sample of any of `metrics` (gauges every
    /// server writes), for GPU series to be joined with.
    pub fn serving_pods(&self, metrics: &[&str]) -> String {
        format!("group by ({GROUP_LABEL}, {POD_LABEL}) ({})", self.fresh(&self.raw_times(metrics)))
    }

    /// The raw samples' times of `metric`, grouped, fresh ones only.
    fn fresh_times(&self, metric: &str) -> String {
        self.fresh(&self.raw_times(&[metric]))
    }

    /// The raw samples' times of the first of `metrics` a series has, ungrouped:
    /// `timestamp()` of the raw selectors.
    pub fn raw_times(&self, metrics: &[&str]) -> String {
        let times: Vec<String> = metrics.iter().map(|m| format!("timestamp({})", self.selector(m))).collect();
        times.join(" or ")
    }

    /// `times` (an expression of raw sample times), grouped, fresh ones only.
    fn fresh(&self, times: &str) -> String {
        format!("({} > time() - {})", self.grouped(times), seconds(self.fresh_for))
    }
}

/// A duration as PromQL takes a number of seconds.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 { format!("{s:.0}") } else { format!("{s}") }
}

/// A duration as a PromQL range (`[30s]`, `[1500ms]`).
pub fn range(d: Duration) -> String {
    if d.subsec_millis() == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// `expr` tagged as part `part`.
fn part(expr: &str, part: &str) -> String {
    format!("label_replace({expr}, \"{PART_LABEL}\", \"{part}\", \"\", \"\")")
}

/// A query's parts before they are joined: its value parts (each named: `value`, or
/// `p95` where one query answers several kinds), the instances it covers and its oldest
/// raw sample's time. An instant query sends them all ([`GroupQuery::instant`]); a range
/// query over history needs the values only.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupQuery {
    pub values: Vec<(String, String)>,
    pub count: String,
    pub at: String,
}

impl GroupQuery {
    fn new(value: String, count: String, at: String) -> Self {
        GroupQuery { values: vec![("value".to_string(), value)], count, at }
    }

    /// Either query's series (`or`): vLLM's and Triton's names for one kind, each group
    /// having one of them. Value parts of the same name are joined.
    pub fn or(self, other: GroupQuery) -> GroupQuery {
        let values = self
            .values
            .into_iter()
            .map(|(name, expr)| match other.values.iter().find(|(n, _)| *n == name) {
                Some((_, theirs)) => (name, format!("{expr} or {theirs}")),
                None => (name, expr),
            })
            .collect();
        GroupQuery {
            values,
            count: format!("{} or {}", self.count, other.count),
            at: format!("{} or {}", self.at, other.at),
        }
    }

    /// Every part tagged with its [`PART_LABEL`], as one expression.
    pub fn instant(&self) -> String {
        let values = self.values.iter().map(|(name, expr)| part(expr, name));
        values.chain([part(&self.count, "count"), part(&self.at, "at")]).collect::<Vec<_>>().join(" or ")
    }

    /// The value parts alone, each tagged with its [`PART_LABEL`], as one expression: a
    /// range query over history, whose points are stamped with their step (no `at`) and
    /// whose coverage no decision reads (no `count`).
    pub fn values_only(&self) -> String {
        self.values.iter().map(|(name, expr)| part(expr, name)).collect::<Vec<_>>().join(" or ")
    }
}

/// How a gauge's instances make the group's figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Aggregate {
    /// A per-instance level (GPU utilization, KV-cache usage).
    Avg,
    /// A group total (requests waiting).
    Sum,
    /// The worst instance's (a quantile that cannot be merged across instances).
    Max,
}

impl Aggregate {
    fn word(self) -> &'static str {
        match self {
            Aggregate::Avg => "avg",
            Aggregate::Sum => "sum",
            Aggregate::Max => "max",
        }
    }
}

/// A gauge of every instance (`join` the labels that tell one instance's series from
/// another's: `UUID` for dcgm, `pod` for a server): value, count and oldest time.
pub fn gauge(selection: &Selection, metric: &str, aggregate: Aggregate, join: &str) -> GroupQuery {
    gauge_of(selection, &[metric], aggregate, join)
}

/// [`gauge`] of the first of `metrics` an instance has (vLLM's `kv_cache_usage_perc`, or
/// the older `gpu_cache_usage_perc` where a server still writes that one).
pub fn gauge_of(selection: &Selection, metrics: &[&str], aggregate: Aggregate, join: &str) -> GroupQuery {
    let values: Vec<String> = metrics.iter().map(|m| selection.selector(m)).collect();
    gauge_expr(selection, &values.join(" or "), &selection.raw_times(metrics), aggregate, join)
}

/// A gauge computed from raw series: `values` and the raw samples' `times`, ungrouped.
pub fn gauge_expr(
    selection: &Selection,
    values: &str,
    times: &str,
    aggregate: Aggregate,
    join: &str,
) -> GroupQuery {
    gauge_serving(selection, values, times, aggregate, join, None)
}

/// [`gauge_expr`] of the instances in `serving` only ([`Selection::serving_pods`]): a
/// GPU whose pod's server does not answer (still loading its model, or crashed behind a
/// live exporter) is not serving, and its idle utilization says nothing of the load.
pub fn gauge_serving(
    selection: &Selection,
    values: &str,
    times: &str,
    aggregate: Aggregate,
    join: &str,
    serving: Option<&str>,
) -> GroupQuery {
    let values = selection.grouped(values);
    let times = selection.fresh(times);
    let fresh = match serving {
        None => format!("({values} and on({GROUP_LABEL}, {join}) {times})"),
        Some(pods) => {
            format!(
                "({values} and on({GROUP_LABEL}, {join}) {times} and on({GROUP_LABEL}, {POD_LABEL}) {pods})"
            )
        }
    };
    let by = format!("by ({GROUP_LABEL})");
    GroupQuery::new(
        format!("{} {by} ({fresh})", aggregate.word()),
        format!("count {by} ({fresh})"),
        format!("min {by} ({times} and on({GROUP_LABEL}, {join}) {fresh})"),
    )
}

/// The group's `q`-quantile from a histogram's buckets over `window`, summed over every
/// fresh instance (and over vLLM's `engine` label), with the oldest `_count` time.
pub fn histogram_quantile(selection: &Selection, histogram: &str, q: f64, window: Duration) -> GroupQuery {
    histogram_quantiles(selection, histogram, &[(q, "value")], window)
}

/// [`histogram_quantile`] of several quantiles in one query, each its own value part
/// (`(0.95, "p95")`), with one count part and one time part: p50, p95 and p99 are one
/// request, not three.
pub fn histogram_quantiles(
    selection: &Selection,
    histogram: &str,
    quantiles: &[(f64, &str)],
    window: Duration,
) -> GroupQuery {
    let buckets = selection.grouped(&format!(
        "rate({}[{}])",
        selection.selector(&format!("{histogram}_bucket")),
        range(window)
    ));
    let times = selection.fresh_times(&format!("{histogram}_count"));
    let fresh = format!("({buckets} and on({GROUP_LABEL}, {POD_LABEL}) {times})");
    let values = quantiles
        .iter()
        .map(|(q, name)| {
            (name.to_string(), format!("histogram_quantile({q}, sum by (le, {GROUP_LABEL}) ({fresh}))"))
        })
        .collect();
    GroupQuery { values, count: pods(&times), at: format!("min by ({GROUP_LABEL}) ({times})") }
}

/// Triton's quantiles from its latency summary (`--metrics-config
/// summary_latencies=true`), in seconds where `micros`, each its own value part as in
/// [`histogram_quantiles`]: the worst instance's, as quantiles of separate instances
/// cannot be merged. Without Triton's summaries: no series, no sample.
pub fn summary_quantiles(
    selection: &Selection,
    summary: &str,
    quantiles: &[(f64, &str)],
    micros: bool,
) -> GroupQuery {
    let times = selection.fresh_times(&format!("{summary}_count"));
    let values = quantiles
        .iter()
        .map(|(q, name)| {
            let raw = selection.selector_with(summary, &format!("quantile=\"{q}\""));
            let values = selection.grouped(&if micros { format!("{raw} / 1e6") } else { raw });
            let worst =
                format!("max by ({GROUP_LABEL}) ({values} and on({GROUP_LABEL}, {POD_LABEL}) {times})");
            (name.to_string(), worst)
        })
        .collect();
    GroupQuery { values, count: pods(&times), at: format!("min by ({GROUP_LABEL}) ({times})") }
}

/// How many pods `expr` has series of, per group (a server writes several series of one
/// counter: vLLM one per `finished_reason` and `engine`).
fn pods(expr: &str) -> String {
    format!("count by ({GROUP_LABEL}) (count by ({GROUP_LABEL}, {POD_LABEL}) ({expr}))")
}

/// `counter`'s per-second rate over `window` per fresh instance, grouped.
fn fresh_rate(selection: &Selection, counter: &str, window: Duration) -> String {
    let rate = selection.grouped(&format!("rate({}[{}])", selection.selector(counter), range(window)));
    format!("({rate} and on({GROUP_LABEL}, {POD_LABEL}) {})", selection.fresh_times(counter))
}

/// The group's summed per-second rate of `counters` (several: vLLM and Triton names in
/// one query, each group has one of them) over `window`; `rate` handles counter resets.
pub fn counter_rate(selection: &Selection, counters: &[&str], window: Duration) -> GroupQuery {
    let fresh: Vec<String> = counters.iter().map(|c| fresh_rate(selection, c, window)).collect();
    let all_times: Vec<String> = counters.iter().map(|c| selection.fresh_times(c)).collect();
    let fresh = fresh.join(" or ");
    let all_times = all_times.join(" or ");
    GroupQuery::new(
        format!("sum by ({GROUP_LABEL}) ({fresh})"),
        pods(&all_times),
        format!("min by ({GROUP_LABEL}) ({all_times})"),
    )
}

/// `factor` × the group's rate of `numerator` over the summed rate of `denominators`
/// (Triton's mean latency: request time over requests; a histogram's `_sum` over its
/// `_count`), fresh instances only. An idle group's 0 / 0 is NaN, left out.
pub fn counter_ratio(
    selection: &Selection,
    numerator: &str,
    denominators: &[&str],
    factor: f64,
    window: Duration,
) -> GroupQuery {
    let by = format!("sum by ({GROUP_LABEL})");
    let over: Vec<String> = denominators.iter().map(|c| fresh_rate(selection, c, window)).collect();
    let value = format!(
        "({by} ({}) / {by} ({})) * {factor}",
        fresh_rate(selection, numerator, window),
        over.join(" or ")
    );
    let times: Vec<String> = std::iter::once(numerator)
        .chain(denominators.iter().copied())
        .map(|c| selection.fresh_times(c))
        .collect();
    let times = times.join(" or ");
    GroupQuery::new(value, pods(&times), format!("min by ({GROUP_LABEL}) ({times})"))
}

/// A group's figure from one answer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GroupFigure {
    pub value: Option<f64>,
    /// Instances behind the value.
    pub instances: Option<u32>,
    /// The oldest raw sample behind the value.
    pub at: Option<Timestamp>,
}

/// The two labels of the queries' answers, read in place from the body (a poll's
/// answers hold thousands of series; every other label is skipped).
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
pub struct Parts<'a> {
    #[serde(borrow, rename = "fleetdeck_group")]
    pub group: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "fleetdeck_part")]
    pub part: Option<Cow<'a, str>>,
}

/// Labels an answer of these queries can be read with: [`Parts`], or all of them.
pub trait GroupLabels {
    /// The series' group and part, where it has both.
    fn group_part(&self) -> Option<(&str, &str)>;
}

impl GroupLabels for Parts<'_> {
    fn group_part(&self) -> Option<(&str, &str)> {
        let group = self.group.as_deref().filter(|v| !v.is_empty())?;
        let part = self.part.as_deref().filter(|v| !v.is_empty())?;
        Some((group, part))
    }
}

impl GroupLabels for Labels {
    fn group_part(&self) -> Option<(&str, &str)> {
        Some((label(self, GROUP_LABEL)?, label(self, PART_LABEL)?))
    }
}

/// Reads an answer of the queries above into figures per group. Series without a group
/// (a pod of no configured group) or a part are ignored.
pub fn figures<L: GroupLabels>(result: &QueryResult<L>) -> HashMap<String, GroupFigure> {
    figures_of(result, "value")
}

/// [`figures`] with the value from the part named `value_part` (a query of several
/// kinds, as [`histogram_quantiles`]).
pub fn figures_of<L: GroupLabels>(result: &QueryResult<L>, value_part: &str) -> HashMap<String, GroupFigure> {
    let QueryResult::Vector(series) = result else { return HashMap::new() };
    // Three parts a group, or more.
    let mut out: HashMap<String, GroupFigure> = HashMap::with_capacity(series.len() / 3 + 1);
    for (labels, point) in series {
        let Some((group, which)) = labels.group_part() else { continue };
        let figure = match out.get_mut(group) {
            Some(figure) => figure,
            None => out.entry(group.to_string()).or_default(),
        };
        match which {
            "count" if point.value.is_finite() && point.value >= 0.0 => {
                figure.instances = Some(point.value as u32)
            }
            "at" if point.value.is_finite() => figure.at = Some(Timestamp::from_secs_f64(point.value)),
            which if which == value_part => figure.value = Some(point.value),
            _ => {}
        }
    }
    out
}

/// A range answer of these queries ([`GroupQuery::values_only`]) read into each group's
/// points of the part named `value_part`, oldest first. Series without a group or a part
/// are ignored.
pub fn history_of<'r, L: GroupLabels>(
    result: &'r QueryResult<L>,
    value_part: &str,
) -> HashMap<&'r str, &'r [Point]> {
    let QueryResult::Matrix(series) = result else { return HashMap::new() };
    series
        .iter()
        .filter_map(|(labels, points)| {
            let (group, part) = labels.group_part()?;
            (part == value_part).then_some((group, points.as_slice()))
        })
        .collect()
}

fn label<'a>(labels: &'a Labels, name: &str) -> Option<&'a str> {
    labels.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::prometheus::response::parse;

    fn selection() -> Selection {
        Selection::new(["vision", "llm-chat", "llm"], Duration::from_secs(3))
    }

    #[test]
    fn groups_are_found_by_pod_name_longest_first_exported_pod_winning() {
        let grouped = selection().grouped("X");
        let re = "((llm-chat|vision|llm)-.+)";
        let by = |inner: &str, label: &str| {
            format!(
                "label_replace(label_replace({inner}, \"fleetdeck_group\", \"$2\", \"{label}\", \"{re}\"), \"fleetdeck_pod\", \"$1\", \"{label}\", \"{re}\")"
            )
        };
        assert_eq!(grouped, by(&by("X", "pod"), "exported_pod"));
    }

    #[test]
    fn by_a_group_label_a_series_group_is_that_labels_whole_value() {
        let mut s = selection();
        s.group_label = Some("app".into());
        s.pod_labels = vec!["pod".into()];
        assert_eq!(
            s.grouped("X"),
            "label_replace(label_replace(X, \"fleetdeck_group\", \"$1\", \"app\", \"(llm-chat|vision|llm)\"), \
             \"fleetdeck_pod\", \"$1\", \"pod\", \"(.+)\")"
        );
    }

    /// The shape checked by hand against Prometheus 2.42 scraping `sim serve`.
    #[test]
    fn a_gauge_query_has_value_count_and_time_parts_over_fresh_instances_only() {
        let mut s = Selection::new(["g"], Duration::from_secs(3));
        s.pod_labels = vec!["pod".into()];
        let q = gauge(&s, "DCGM_FI_DEV_GPU_UTIL", Aggregate::Avg, "UUID").instant();
        let by = |inner: &str| {
            format!(
                "label_replace(label_replace({inner}, \"fleetdeck_group\", \"$2\", \"pod\", \"((g)-.+)\"), \"fleetdeck_pod\", \"$1\", \"pod\", \"((g)-.+)\")"
            )
        };
        let v = by("DCGM_FI_DEV_GPU_UTIL");
        let t = format!("({} > time() - 3)", by("timestamp(DCGM_FI_DEV_GPU_UTIL)"));
        let fresh = format!("({v} and on(fleetdeck_group, UUID) {t})");
        assert_eq!(
            q,
            format!(
                "label_replace(avg by (fleetdeck_group) ({fresh}), \"fleetdeck_part\", \"value\", \"\", \"\") or \
                 label_replace(count by (fleetdeck_group) ({fresh}), \"fleetdeck_part\", \"count\", \"\", \"\") or \
                 label_replace(min by (fleetdeck_group) ({t} and on(fleetdeck_group, UUID) {fresh}), \"fleetdeck_part\", \"at\", \"\", \"\")"
            )
        );
    }

    #[test]
    fn matchers_windows_and_several_counters_go_into_every_selector() {
        let mut s = selection();
        s.matchers = "namespace=\"inference\"".into();
        let q = counter_rate(
            &s,
            &["vllm:request_success_total", "nv_inference_request_success"],
            Duration::from_millis(1500),
        )
        .instant();
        assert!(q.contains("rate(vllm:request_success_total{namespace=\"inference\"}[1500ms])"), "{q}");
        assert!(q.contains("timestamp(nv_inference_request_success{namespace=\"inference\"})"), "{q}");
        let h = histogram_quantile(&s, "vllm:e2e_request_latency_seconds", 0.95, Duration::from_secs(30))
            .instant();
        assert!(h.contains("histogram_quantile(0.95, sum by (le, fleetdeck_group) ("), "{h}");
        assert!(
            h.contains("rate(vllm:e2e_request_latency_seconds_bucket{namespace=\"inference\"}[30s])"),
            "{h}"
        );
    }

    #[test]
    fn a_query_of_several_quantiles_keeps_its_value_parts_apart_until_sent() {
        let q = histogram_quantiles(
            &selection(),
            "vllm:e2e_request_latency_seconds",
            &[(0.5, "p50"), (0.95, "p95")],
            Duration::from_secs(30),
        );
        let names: Vec<&str> = q.values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["p50", "p95"]);
        assert!(
            q.values[1].1.starts_with("histogram_quantile(0.95, ") && !q.values[1].1.contains(PART_LABEL)
        );
        let sent = q.instant();
        for part in ["p50", "p95", "count", "at"] {
            assert!(sent.contains(&format!("\"{PART_LABEL}\", \"{part}\"")), "{part}: {sent}");
        }
    }

    #[test]
    fn or_joins_two_queries_part_by_part() {
        let s = selection();
        let vllm = counter_rate(&s, &["vllm:request_success_total"], Duration::from_secs(30));
        let triton = counter_rate(&s, &["nv_inference_request_success"], Duration::from_secs(30));
        let both = vllm.clone().or(triton.clone());
        assert_eq!(
            both.values,
            [("value".to_string(), format!("{} or {}", vllm.values[0].1, triton.values[0].1))]
        );
        assert_eq!(both.count, format!("{} or {}", vllm.count, triton.count));
        assert_eq!(both.at, format!("{} or {}", vllm.at, triton.at));
    }

    #[test]
    fn an_answer_reads_into_each_groups_value_coverage_and_time() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"fleetdeck_group":"vision","fleetdeck_part":"value"},"value":[1796579993.25,"60"]},
            {"metric":{"fleetdeck_group":"vision","fleetdeck_part":"count"},"value":[1796579993.25,"4"]},
            {"metric":{"fleetdeck_group":"vision","fleetdeck_part":"at"},"value":[1796579993.25,"1796579992.556"]},
            {"metric":{"fleetdeck_group":"llm-chat","fleetdeck_part":"value"},"value":[1796579993.25,"NaN"]},
            {"metric":{"fleetdeck_part":"value"},"value":[1796579993.25,"1"]}]}}"#;
        let figures = figures(&parse(body).unwrap().result);
        let vision = figures["vision"];
        assert_eq!(
            (vision.value, vision.instances, vision.at),
            (Some(60.0), Some(4), Some(Timestamp(1_796_579_992_556)))
        );
        assert!(figures["llm-chat"].value.is_some_and(f64::is_nan), "NaN is kept: an idle group's quantile");
        assert_eq!(figures.len(), 2, "a series without a group is ignored");
    }

    #[test]
    fn an_answer_read_with_borrowed_parts_gives_the_same_figures_escapes_included() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"fleetdeck_group":"vision","fleetdeck_part":"value","pod":"x"},"value":[1796579993.25,"60"]},
            {"metric":{"fleetdeck_group":"vision","fleetdeck_part":"count"},"value":[1796579993.25,"4"]},
            {"metric":{"fleetdeck_part":"at"},"value":[1796579993.25,"1"]}]}}"#;
        let all = figures(&parse(body).unwrap().result);
        let borrowed =
            figures(&crate::backends::prometheus::response::parse_as::<Parts>(body).unwrap().result);
        assert_eq!(all, borrowed);
        assert_eq!((all["vision"].value, all["vision"].instances), (Some(60.0), Some(4)));
    }
}
