//! [`PrometheusSource`]: every poll, one instant query per metric kind for all the groups
//! polled ([`queries`](super::queries)), sent at once, read into samples stamped with
//! their oldest raw sample's time and covering the instances behind them.
//!
//! Defaults for dcgm-exporter + vLLM + Triton (a group is one or the other: one query
//! serves both by `or`):
//!
//! | kind | PromQL (per group) | unit at the edge |
//! |---|---|---|
//! | gpu_util | avg `DCGM_FI_DEV_GPU_UTIL` | 0–100 → fraction |
//! | gpu_mem | avg `FB_USED / (FB_USED + FB_FREE)` | fraction |
//! | kv_cache_usage | avg `vllm:kv_cache_usage_perc` (or `gpu_cache_usage_perc`) | already 0–1 |
//! | queue_length | sum `vllm:num_requests_waiting` or `nv_inference_pending_request_count` | count |
//! | request_rate | sum of `rate()` of `vllm:request_success_total`, Triton's success + failure | /s |
//! | latency_mean | rate of `vllm:e2e_request_latency_seconds_sum` over `_count`; Triton's `nv_inference_request_duration_us` over success + failure | s (µs → s) |
//! | latency_p50/p95/p99 | `histogram_quantile` of `vllm:e2e_request_latency_seconds`; Triton's worst pod's `nv_inference_request_summary_us` quantile, where summaries are on | s |
//! | time_to_first_token | median of `vllm:time_to_first_token_seconds` | s |
//! | tokens_per_second | `rate()` of `vllm:generation_tokens_total` | /s |
//!
//! Not `nv_inference_count` for Triton's request rate: it counts batch items. A quantile
//! that is NaN (no request in the window) is left out, as a percentile of nothing is
//! undefined; the request rate of 0 beside it tells the engine the group is idle.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::{BoxFuture, join_all};

use super::queries::{self, Aggregate, GroupFigure, GroupQuery, Selection};
use super::response::{self, Answer, QueryResult};
use crate::backends::http::{self, HttpOptions};
use crate::clock::Clock;
use crate::config::{GroupPrometheus, PrometheusConfig};
use crate::model::{AlarmState, BackendError, GroupSpec, MetricKind, MetricSample, Sample, Timestamp};
use crate::sources::{
    GroupPoll, HistoryRange, HistorySeries, MetricSource, SourceAlert, SourceAlerts, SourceHistory,
    SourcePoll,
};

/// A query longer than this goes as a form POST (Prometheus accepts both), under the
/// 8 KiB request-line limits of common proxies.
const LONGEST_GET: usize = 4000;

/// The most steps one range query asks for: a week at one a minute, under the API's
/// limit of 11,000 points a series.
const MOST_STEPS: i64 = 10_080;

/// Range queries of a backfill in flight at once: a long history's answers are megabytes
/// each, and the backfill is no reason to load Prometheus.
const HISTORY_CONCURRENCY: usize = 2;

/// One query of a poll: the kinds it answers (each from its own value part: `value`, or
/// `p95` where one query answers several), the factor that brings it to our unit, and
/// the groups its answer is for.
struct Planned {
    kinds: Vec<(MetricKind, &'static str)>,
    promql: Promql,
    scale: f64,
    answers: Answers,
}

/// A planned query's PromQL: a default one's parts, or a group's own query.
enum Promql {
    Parts(GroupQuery),
    Own(String),
}

impl Promql {
    /// As an instant query (a default one's every part).
    fn instant(&self) -> String {
        match self {
            Promql::Parts(query) => query.instant(),
            Promql::Own(promql) => promql.clone(),
        }
    }

    /// As a range query over history (a default one's values alone).
    fn values(&self) -> String {
        match self {
            Promql::Parts(query) => query.values_only(),
            Promql::Own(promql) => promql.clone(),
        }
    }
}

/// Whom a query's answer is for (indices into the groups polled).
enum Answers {
    /// A default query: each group's figure by its `fleetdeck_group` label.
    Grouped(Vec<usize>),
    /// A group's own query: the whole answer, one series or a scalar, is its value.
    Whole(usize),
}

impl Planned {
    /// Its kinds' names, for messages: `latency_p95`, `latency_p50/latency_p95/latency_p99`.
    fn named(&self) -> String {
        self.kinds.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>().join("/")
    }

    /// `err` as this query's failure, its kinds named.
    fn failed(&self, err: &BackendError) -> BackendError {
        BackendError { message: format!("{}: {}", self.named(), err.message), ..err.clone() }
    }
}

impl Answers {
    fn groups(&self) -> &[usize] {
        match self {
            Answers::Grouped(members) => members,
            Answers::Whole(group) => std::slice::from_ref(group),
        }
    }
}

pub struct PrometheusSource {
    name: String,
    base: String,
    client: reqwest::Client,
    settings: PrometheusConfig,
    /// `[groups.prometheus]` of the groups that have one.
    own: HashMap<String, GroupPrometheus>,
    fresh_for: Duration,
    clock: Arc<dyn Clock>,
}

impl PrometheusSource {
    /// A source for `settings`; `own` holds the `[groups.prometheus]` tables of its groups.
    pub fn new(
        name: &str,
        settings: &PrometheusConfig,
        own: HashMap<String, GroupPrometheus>,
        fresh_for: Duration,
        options: &HttpOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let options = HttpOptions {
            ca_file: settings.ca_file.clone(),
            headers: settings.headers.clone(),
            ..options.clone()
        };
        Ok(PrometheusSource {
            name: name.to_string(),
            base: settings.url.trim_end_matches('/').to_string(),
            client: http::client(&options)?,
            settings: settings.clone(),
            own,
            fresh_for,
            clock,
        })
    }

    /// The poll's queries: the default ones once for every group that shares the
    /// source's selector, once more for each group with matchers of its own, and each
    /// group's own PromQL. A kind a group gives its own query for is not read from the
    /// defaults for it.
    fn plan(&self, groups: &[GroupSpec]) -> Vec<Planned> {
        let own = |i: usize| self.own.get(&groups[i].name);
        let mut batches: Vec<(String, Vec<usize>)> = vec![(self.settings.matchers.clone(), Vec::new())];
        for i in 0..groups.len() {
            match own(i).and_then(|o| o.matchers.as_deref()) {
                Some(matchers) => batches.push((joined(&self.settings.matchers, matchers), vec![i])),
                None => batches[0].1.push(i),
            }
        }
        let mut plan = Vec::new();
        for (matchers, members) in batches.into_iter().filter(|(_, members)| !members.is_empty()) {
            let mut selection =
                Selection::new(members.iter().map(|&i| groups[i].name.clone()), self.fresh_for);
            selection.matchers = matchers;
            selection.pod_labels = self.settings.pod_labels.clone();
            selection.group_label = self.settings.group_label.clone();
            for (kinds, promql, scale) in defaults(&selection, self.settings.rate_window) {
                // A group that replaces every kind of a query does not wait on it.
                let answered: Vec<usize> = members
                    .iter()
                    .copied()
                    .filter(|&i| kinds.iter().any(|(k, _)| !self.replaced(&groups[i], k)))
                    .collect();
                if !answered.is_empty() {
                    let promql = Promql::Parts(promql);
                    plan.push(Planned { kinds, promql, scale, answers: Answers::Grouped(answered) });
                }
            }
        }
        for i in 0..groups.len() {
            for (kind, promql) in own(i).map(|o| o.queries.as_slice()).unwrap_or_default() {
                plan.push(Planned {
                    kinds: vec![(kind.clone(), "value")],
                    promql: Promql::Own(promql.clone()),
                    scale: 1.0,
                    answers: Answers::Whole(i),
                });
            }
        }
        plan
    }

    /// Whether `group` gives its own query for `kind`.
    fn replaced(&self, group: &GroupSpec, kind: &MetricKind) -> bool {
        self.own.get(&group.name).is_some_and(|o| o.queries.iter().any(|(k, _)| k == kind))
    }

    /// One instant query, GET or (long) POST: its answer's body, read by the caller
    /// ([`read`](Self::read)) so the labels can be borrowed from it.
    async fn query(&self, promql: String) -> Result<impl AsRef<[u8]> + use<>, BackendError> {
        self.call("query", vec![("query", promql)]).await
    }

    /// One range query: `promql` at every `step` from `start` to `end` (both included, as
    /// the API counts them), its answer's body.
    async fn query_range(
        &self,
        promql: String,
        start: Timestamp,
        end: Timestamp,
        step: Duration,
    ) -> Result<impl AsRef<[u8]> + use<>, BackendError> {
        let secs = |t: Timestamp| format!("{:.3}", t.as_secs_f64());
        let params = vec![
            ("query", promql),
            ("start", secs(start)),
            ("end", secs(end)),
            ("step", format!("{}", step.as_secs_f64())),
        ];
        self.call("query_range", params).await
    }

    /// A call to `/api/v1/{endpoint}` with `params`, as a GET or, with a long query, a
    /// form POST; its answer's body, or the API's error.
    async fn call(
        &self,
        endpoint: &str,
        params: Vec<(&'static str, String)>,
    ) -> Result<impl AsRef<[u8]> + use<>, BackendError> {
        let url = format!("{}/api/v1/{endpoint}", self.base);
        let long = params.iter().map(|(_, v)| v.len()).sum::<usize>() > LONGEST_GET;
        let request =
            if long { self.client.post(&url).form(&params) } else { self.client.get(&url).query(&params) };
        let what = self.what();
        let request = http::authorize(request, self.settings.auth.as_ref(), &what)?;
        let response = request.send().await.map_err(|e| http::send_error(&what, &e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.map_err(|e| http::send_error(&what, &e))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(match response::parse_as::<queries::Parts>(&body) {
            // The API's own error envelope says more than the status.
            Err(failure @ response::ApiFailure::Error { .. }) => failure.into_backend_error(&what),
            _ => {
                let detail = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                http::status_error(&what, status, &headers, &detail, self.clock.now())
            }
        })
    }

    /// A successful answer's body read, its labels borrowed from it.
    fn read<'a>(&self, body: &'a [u8]) -> Result<Answer<queries::Parts<'a>>, BackendError> {
        response::parse_as(body).map_err(|failure| failure.into_backend_error(&self.what()))
    }

    fn what(&self) -> String {
        format!("Prometheus {}", self.base)
    }
}

/// Two sets of matchers as one.
fn joined(source: &str, group: &str) -> String {
    if source.is_empty() { group.to_string() } else { format!("{source}, {group}") }
}

/// A default query: the kinds it answers (with their value parts), its PromQL and the
/// factor to our unit.
type DefaultQuery = (Vec<(MetricKind, &'static str)>, GroupQuery, f64);

/// The default queries of `s`'s groups.
fn defaults(s: &Selection, window: Duration) -> Vec<DefaultQuery> {
    let one = |kind: MetricKind, query: GroupQuery, scale: f64| (vec![(kind, "value")], query, scale);
    // p50, p95 and p99 in one query: vLLM's histogram, or Triton's summary where it is
    // turned on (vLLM groups have no Triton series and the other way round).
    let quantiles = [(0.5, "p50"), (0.95, "p95"), (0.99, "p99")];
    let latencies = queries::histogram_quantiles(s, "vllm:e2e_request_latency_seconds", &quantiles, window)
        .or(queries::summary_quantiles(s, "nv_inference_request_summary_us", &quantiles, true));
    let fb = |m: &str| s.selector(m);
    // Every vLLM and Triton server writes these gauges on every scrape.
    let serving = s.serving_pods(&["vllm:num_requests_running", "nv_inference_pending_request_count"]);
    let util = fb("DCGM_FI_DEV_GPU_UTIL");
    let util_times = s.raw_times(&["DCGM_FI_DEV_GPU_UTIL"]);
    let used_share = format!(
        "{used} / ({used} + {free})",
        used = fb("DCGM_FI_DEV_FB_USED"),
        free = fb("DCGM_FI_DEV_FB_FREE")
    );
    let used_times = s.raw_times(&["DCGM_FI_DEV_FB_USED"]);
    vec![
        one(
            MetricKind::GpuUtil,
            queries::gauge_serving(s, &util, &util_times, Aggregate::Avg, "UUID", Some(&serving)),
            0.01,
        ),
        one(
            MetricKind::GpuMem,
            queries::gauge_serving(s, &used_share, &used_times, Aggregate::Avg, "UUID", Some(&serving)),
            1.0,
        ),
        one(
            MetricKind::KvCacheUsage,
            queries::gauge_of(
                s,
                &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                Aggregate::Avg,
                queries::POD_LABEL,
            ),
            1.0,
        ),
        one(
            MetricKind::QueueLength,
            queries::gauge_of(
                s,
                &["vllm:num_requests_waiting", "nv_inference_pending_request_count"],
                Aggregate::Sum,
                queries::POD_LABEL,
            ),
            1.0,
        ),
        one(
            MetricKind::RequestRate,
            queries::counter_rate(
                s,
                &[
                    "vllm:request_success_total",
                    "nv_inference_request_success",
                    "nv_inference_request_failure",
                ],
                window,
            ),
            1.0,
        ),
        one(
            MetricKind::LatencyMean,
            queries::counter_ratio(
                s,
                "vllm:e2e_request_latency_seconds_sum",
                &["vllm:e2e_request_latency_seconds_count"],
                1.0,
                window,
            )
            .or(queries::counter_ratio(
                s,
                "nv_inference_request_duration_us",
                &["nv_inference_request_success", "nv_inference_request_failure"],
                1e-6,
                window,
            )),
            1.0,
        ),
        (
            vec![
                (MetricKind::LatencyP50, "p50"),
                (MetricKind::LatencyP95, "p95"),
                (MetricKind::LatencyP99, "p99"),
            ],
            latencies,
            1.0,
        ),
        one(
            MetricKind::TimeToFirstToken,
            queries::histogram_quantile(s, "vllm:time_to_first_token_seconds", 0.5, window),
            1.0,
        ),
        one(
            MetricKind::TokensPerSecond,
            queries::counter_rate(s, &["vllm:generation_tokens_total"], window),
            1.0,
        ),
    ]
}

/// A group's own query's answer as its sample of `kind`: one series or a scalar, stamped
/// with the evaluation time (a hand-written query says nothing of its raw samples' age).
/// No series is no data; several are refused, as fleetdeck cannot know how to combine
/// them.
fn whole<L>(kind: &MetricKind, result: &QueryResult<L>) -> Result<Option<MetricSample>, String> {
    let point = match result {
        QueryResult::Scalar(point) => point,
        QueryResult::Vector(series) => match series.as_slice() {
            [] => return Ok(None),
            [(_, point)] => point,
            more => {
                return Err(format!(
                    "its query answers {} series; aggregate it to one (sum, avg or max)",
                    more.len()
                ));
            }
        },
        QueryResult::Matrix(_) | QueryResult::String(..) => {
            return Err("its query must answer an instant vector or a scalar".to_string());
        }
    };
    Ok(point
        .value
        .is_finite()
        .then(|| MetricSample::new(kind.clone(), Sample { at: point.at, value: point.value })))
}

/// A figure as a sample of `kind`, in our units; none when it has no finite value or no
/// time.
fn sample(kind: &MetricKind, figure: &GroupFigure, scale: f64) -> Option<MetricSample> {
    let value = figure.value.filter(|v| v.is_finite())? * scale;
    let sample = MetricSample::new(kind.clone(), Sample { at: figure.at?, value });
    Some(match figure.instances {
        Some(n) => sample.covering(n),
        None => sample,
    })
}

impl MetricSource for PrometheusSource {
    fn name(&self) -> &str {
        &self.name
    }

    /// Each group gets what its queries answered; a group any of whose queries failed
    /// gets that failure (the first, naming its kind) instead, as scaling on part of what
    /// it is configured to read could scale in on the signal that is missing. Only when
    /// every query failed is the whole poll failed (Prometheus down, credentials refused).
    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> BoxFuture<'a, SourcePoll> {
        Box::pin(async move {
            let plan = self.plan(groups);
            let answers = join_all(plan.iter().map(|q| self.query(q.promql.instant()))).await;
            let mut polls: Vec<GroupPoll> = vec![Ok(Vec::new()); groups.len()];
            let fail = |polls: &mut Vec<GroupPoll>, i: usize, err: &BackendError| {
                if polls[i].is_ok() {
                    polls[i] = Err(err.clone());
                }
            };
            // A sample joins its group's poll unless the group failed already.
            let add = |polls: &mut Vec<GroupPoll>, i: usize, sample: Option<MetricSample>| {
                if let (Ok(poll), Some(sample)) = (&mut polls[i], sample) {
                    poll.push(sample);
                }
            };
            // A failed query fails the groups it was for, its kinds named.
            let failure = |polls: &mut Vec<GroupPoll>, query: &Planned, err: &BackendError| {
                let named = query.failed(err);
                query.answers.groups().iter().for_each(|&i| fail(polls, i, &named));
            };
            let mut failed: Vec<BackendError> = Vec::new();
            for (query, body) in plan.iter().zip(answers) {
                let answer = body.as_ref().map_err(BackendError::clone).and_then(|b| self.read(b.as_ref()));
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(err) => {
                        failure(&mut polls, query, &err);
                        failed.push(err);
                        continue;
                    }
                };
                for warning in &answer.warnings {
                    tracing::warn!(source = %self.name, kind = %query.named(), %warning, "Prometheus warning");
                }
                match &query.answers {
                    Answers::Grouped(members) => {
                        for (kind, value_part) in &query.kinds {
                            let figures = queries::figures_of(&answer.result, value_part);
                            for &i in members.iter().filter(|&&i| !self.replaced(&groups[i], kind)) {
                                let sample =
                                    figures.get(&groups[i].name).and_then(|f| sample(kind, f, query.scale));
                                add(&mut polls, i, sample);
                            }
                        }
                    }
                    &Answers::Whole(i) => match whole(&query.kinds[0].0, &answer.result) {
                        Ok(sample) => add(&mut polls, i, sample),
                        Err(why) => {
                            let err = BackendError::rejected(format!("{}: {why}", query.named()));
                            fail(&mut polls, i, &err);
                        }
                    },
                }
            }
            if !plan.is_empty() && failed.len() == plan.len() {
                return Err(failed.swap_remove(0));
            }
            Ok(polls)
        })
    }

    fn history<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        range: &'a HistoryRange,
    ) -> BoxFuture<'a, SourceHistory> {
        Box::pin(self.read_history(groups, range))
    }

    fn alerts<'a>(&'a self, groups: &'a [GroupSpec]) -> Option<BoxFuture<'a, SourceAlerts>> {
        if !self.settings.alerts {
            return None;
        }
        Some(Box::pin(self.read_alerts(groups)))
    }
}

/// `range`'s evaluation times (the end of each step in `(since, until]`) cut into
/// chunks of at most [`MOST_STEPS`]: each chunk's first and last time, both evaluated.
fn chunks(range: &HistoryRange) -> Vec<(Timestamp, Timestamp)> {
    let step = i64::try_from(range.step.as_millis()).unwrap_or(i64::MAX).max(1);
    let until = range.until.as_millis();
    let mut out = Vec::new();
    let mut start = range.since.as_millis().saturating_add(step);
    while start <= until {
        let end = start.saturating_add((MOST_STEPS - 1).saturating_mul(step)).min(until);
        out.push((Timestamp::from_millis(start), Timestamp::from_millis(end)));
        start = end.saturating_add(step);
    }
    out
}

impl PrometheusSource {
    /// [`MetricSource::history`]: the poll's queries (those of the kinds asked for) as
    /// range queries, a chunk of steps at a time, oldest first. Failures are per group as
    /// in a poll: a group any of whose queries failed gets the first failure, and only
    /// when every query failed is the whole call failed.
    async fn read_history(&self, groups: &[GroupSpec], range: &HistoryRange) -> SourceHistory {
        let plan: Vec<Planned> =
            self.plan(groups).into_iter().filter(|q| q.kinds.iter().any(|(k, _)| range.wants(k))).collect();
        let mut series: Vec<Vec<HistorySeries>> = vec![Vec::new(); groups.len()];
        let mut failures: Vec<Option<BackendError>> = vec![None; groups.len()];
        let (mut asked, mut failed) = (0, Vec::new());
        for (start, end) in chunks(range) {
            let calls: Vec<_> =
                plan.iter().map(|q| self.query_range(q.promql.values(), start, end, range.step)).collect();
            let mut answers = futures::stream::iter(calls).buffered(HISTORY_CONCURRENCY).enumerate();
            while let Some((q, body)) = answers.next().await {
                let query = &plan[q];
                asked += 1;
                let read = body.and_then(|body| {
                    let answer = self.read(body.as_ref())?;
                    Ok(self.points_of(query, &answer, groups, range))
                });
                let per_group = match read {
                    Ok(per_group) => per_group,
                    Err(err) => {
                        let err = query.failed(&err);
                        query.answers.groups().iter().for_each(|&i| first(&mut failures[i], &err));
                        failed.push(err);
                        continue;
                    }
                };
                for (i, found) in per_group {
                    match found {
                        Ok(found) => {
                            found.into_iter().for_each(|(kind, points)| extend(&mut series[i], kind, points))
                        }
                        Err(err) => first(&mut failures[i], &err),
                    }
                }
            }
        }
        if asked > 0 && failed.len() == asked {
            return Err(failed.swap_remove(0));
        }
        Ok(series
            .into_iter()
            .zip(failures)
            .map(|(series, failure)| failure.map_or(Ok(series), Err))
            .collect())
    }

    /// One range answer's points of `query`'s kinds asked for, per group it answers, in
    /// our units; a group's own query that answers several series fails that group.
    fn points_of<L: queries::GroupLabels>(
        &self,
        query: &Planned,
        answer: &Answer<L>,
        groups: &[GroupSpec],
        range: &HistoryRange,
    ) -> Vec<(usize, Found)> {
        for warning in &answer.warnings {
            tracing::warn!(source = %self.name, kind = %query.named(), %warning, "Prometheus warning");
        }
        let samples = |points: &[response::Point]| -> Vec<Sample> {
            let finite = points.iter().filter(|p| p.value.is_finite());
            finite.map(|p| Sample { at: p.at, value: p.value * query.scale }).collect()
        };
        match &query.answers {
            Answers::Grouped(members) => members
                .iter()
                .map(|&i| {
                    let wanted =
                        query.kinds.iter().filter(|(k, _)| range.wants(k) && !self.replaced(&groups[i], k));
                    let found = wanted
                        .filter_map(|(kind, part)| {
                            let by_group = queries::history_of(&answer.result, part);
                            by_group
                                .get(groups[i].name.as_str())
                                .map(|points| (kind.clone(), samples(points)))
                        })
                        .collect();
                    (i, Ok(found))
                })
                .collect(),
            &Answers::Whole(i) => {
                let kind = query.kinds[0].0.clone();
                let found = match &answer.result {
                    QueryResult::Matrix(series) => match series.as_slice() {
                        [] => Ok(Vec::new()),
                        [(_, points)] => Ok(vec![(kind, samples(points))]),
                        more => Err(BackendError::rejected(format!(
                            "{}: its query answers {} series; aggregate it to one (sum, avg or max)",
                            query.named(),
                            more.len()
                        ))),
                    },
                    _ => Err(BackendError::rejected(format!(
                        "{}: a range query answered no matrix",
                        query.named()
                    ))),
                };
                vec![(i, found)]
            }
        }
    }
}

impl PrometheusSource {
    /// [`MetricSource::alerts`]: every active alert (`/api/v1/alerts`) that is one of
    /// `groups`' ([`alert_group`](Self::alert_group)), firing first.
    async fn read_alerts(&self, groups: &[GroupSpec]) -> SourceAlerts {
        let body = self.call("alerts", Vec::new()).await?;
        let (alerts, warnings) = response::parse_alerts(body.as_ref())
            .map_err(|failure| failure.into_backend_error(&self.what()))?;
        for warning in &warnings {
            tracing::warn!(source = %self.name, %warning, "Prometheus warning on its alerts");
        }
        let mut out: Vec<Vec<SourceAlert>> = vec![Vec::new(); groups.len()];
        for alert in &alerts {
            if let (Some(i), Some(read)) = (self.alert_group(&alert.labels, groups), source_alert(alert)) {
                out[i].push(read);
            }
        }
        for list in &mut out {
            list.sort_by(|a, b| {
                (b.state == AlarmState::Firing, &a.name).cmp(&(a.state == AlarmState::Firing, &b.name))
            });
        }
        Ok(out)
    }

    /// Whose an alert is: the group its `fleetdeck_group` label names, else the one the
    /// source's `group_label` names, else the one a pod label names a pod of (`llm-chat-…`,
    /// the longest name, a later pod label winning) — the rules the queries group series
    /// by. The source's `matchers` do not apply: the alerts API has no selector.
    fn alert_group(&self, labels: &response::Labels, groups: &[GroupSpec]) -> Option<usize> {
        let named = |label: &str| {
            let value = labels.get(label)?;
            groups.iter().position(|g| g.name == *value)
        };
        if let Some(i) = named(queries::GROUP_LABEL) {
            return Some(i);
        }
        if let Some(label) = &self.settings.group_label {
            return named(label);
        }
        let pod_of = |pod: &str| {
            let owners = groups.iter().enumerate().filter(|(_, g)| {
                pod.strip_prefix(g.name.as_str()).is_some_and(|rest| rest.len() > 1 && rest.starts_with('-'))
            });
            owners.max_by_key(|(_, g)| g.name.len()).map(|(i, _)| i)
        };
        let mut pods = self.settings.pod_labels.iter().rev().filter_map(|label| labels.get(label));
        pods.find_map(|pod| pod_of(pod))
    }
}

/// An alert as fleetdeck shows it; None for a state other than pending or firing.
fn source_alert(alert: &response::Alert) -> Option<SourceAlert> {
    let state = match alert.state.as_str() {
        "firing" => AlarmState::Firing,
        "pending" => AlarmState::Pending,
        _ => return None,
    };
    let since = alert.active_at.as_deref().and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok());
    let name = alert.labels.get("alertname").cloned().unwrap_or_else(|| "(no alertname)".to_string());
    let summary = match alert.annotations.get("summary").or_else(|| alert.annotations.get("description")) {
        Some(text) => text.clone(),
        None => {
            let labels = alert.labels.iter().filter(|(k, _)| k.as_str() != "alertname");
            labels.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
        }
    };
    Some(SourceAlert {
        name,
        state,
        since: since.map(|t| Timestamp::from_millis(t.timestamp_millis())),
        value: alert.value.as_deref().and_then(|v| response::value(v).ok()),
        summary,
    })
}

/// What one range answer holds for one group: its kinds' points, or why it failed.
type Found = Result<Vec<(MetricKind, Vec<Sample>)>, BackendError>;

/// Keeps the first failure a group had.
fn first(slot: &mut Option<BackendError>, err: &BackendError) {
    if slot.is_none() {
        *slot = Some(err.clone());
    }
}

/// Adds `points` (a later chunk) to `kind`'s series.
fn extend(series: &mut Vec<HistorySeries>, kind: MetricKind, points: Vec<Sample>) {
    match series.iter_mut().find(|s| s.kind == kind) {
        Some(held) => held.points.extend(points),
        None => series.push(HistorySeries { kind, points }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Serving, Timestamp, WarmupRange};
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn spec(name: &str) -> GroupSpec {
        GroupSpec {
            name: name.into(),
            source: "prom".into(),
            actuator: "sim-http".into(),
            min: 1,
            max: 8,
            hard_max: None,
            desired: 4,
            instance_type: "p5.48xlarge".into(),
            hourly_cost_usd: 98.0,
            warmup: WarmupRange::default(),
            serving: Serving::Vllm,
            slo_p95: None,
        }
    }

    type Script = dyn Fn(&str, &axum::http::HeaderMap) -> (axum::http::StatusCode, String) + Send + Sync;

    /// A stand-in for Prometheus's query API: `script` answers each request from its
    /// query (the URL's query string or the form body, still encoded) and headers.
    async fn scripted(script: Arc<Script>) -> String {
        let answer = move |raw: axum::extract::RawQuery, headers: axum::http::HeaderMap, body: String| {
            let (status, body) = script(&format!("{}{body}", raw.0.unwrap_or_default()), &headers);
            async move { (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        };
        let app = axum::Router::new()
            .route("/api/v1/query", axum::routing::get(answer.clone()).post(answer.clone()))
            .route("/api/v1/query_range", axum::routing::get(answer.clone()).post(answer.clone()))
            .route("/api/v1/alerts", axum::routing::get(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    /// A vector answer of one value part, one count part and one time part per group, as
    /// Prometheus answers the queries of `queries` (checked end to end in
    /// tests/it/prometheus.rs).
    fn parts(groups: &[&str], value: &str, count: &str) -> String {
        let series: Vec<String> = groups
            .iter()
            .flat_map(|g| {
                let parts = [("value", value), ("p50", value), ("p95", value), ("p99", value)];
                parts.into_iter().chain([("count", count), ("at", "1796579992.556")]).map(move |(part, v)| {
                    format!(
                        r#"{{"metric":{{"fleetdeck_group":"{g}","fleetdeck_part":"{part}"}},"value":[1796579993.25,"{v}"]}}"#
                    )
                })
            })
            .collect();
        vector(&series.join(","))
    }

    fn vector(series: &str) -> String {
        format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{series}]}}}}"#)
    }

    /// Every query answered with [`parts`] for `groups` groups `g0`, `g1`, …, requests
    /// counted.
    async fn canned(groups: usize, value: &'static str, count: &'static str) -> (String, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let names: Vec<String> = (0..groups).map(|g| format!("g{g}")).collect();
        let url = scripted(Arc::new(move |_: &str, _: &axum::http::HeaderMap| {
            counted.fetch_add(1, Ordering::SeqCst);
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            (axum::http::StatusCode::OK, parts(&names, value, count))
        }))
        .await;
        (url, requests)
    }

    fn settings(url: &str) -> PrometheusConfig {
        PrometheusConfig {
            url: url.into(),
            rate_window: Duration::from_secs(60),
            matchers: String::new(),
            pod_labels: vec!["pod".into(), "exported_pod".into()],
            group_label: None,
            headers: Vec::new(),
            auth: None,
            ca_file: None,
            alerts: false,
        }
    }

    fn source_with(settings: &PrometheusConfig, own: HashMap<String, GroupPrometheus>) -> PrometheusSource {
        let options = HttpOptions::within(Duration::from_secs(10));
        let clock = Arc::new(crate::clock::SystemClock);
        PrometheusSource::new("prom", settings, own, Duration::from_secs(45), &options, clock).unwrap()
    }

    fn source(url: &str) -> PrometheusSource {
        source_with(&settings(url), HashMap::new())
    }

    #[tokio::test]
    async fn one_poll_of_a_hundred_groups_makes_one_request_per_metric_kind() {
        let (url, requests) = canned(100, "50", "4").await;
        let groups: Vec<GroupSpec> = (0..100).map(|g| spec(&format!("g{g}"))).collect();
        let polls = source(&url).poll(&groups).await.unwrap();
        let plan = source(&url).plan(&groups);
        assert_eq!(requests.load(Ordering::SeqCst), plan.len());
        assert!(plan.len() <= 10, "{} requests a poll", plan.len());
        let kinds: usize = plan.iter().map(|q| q.kinds.len()).sum();
        assert_eq!(polls.len(), 100);
        for poll in &polls {
            assert_eq!(poll.as_ref().unwrap().len(), kinds, "every kind answered for every group");
        }
    }

    #[tokio::test]
    async fn per_instance_series_give_the_samples_their_coverage() {
        // 2 of a group's 4 pods report: the samples say they cover 2.
        let (url, _) = canned(1, "10", "2").await;
        let polls = source(&url).poll(&[spec("g0")]).await.unwrap();
        let samples = polls[0].as_ref().unwrap();
        let util = samples.iter().find(|s| s.kind == MetricKind::GpuUtil).unwrap();
        assert_eq!((util.sample.value, util.instances), (0.1, Some(2)));
        assert_eq!(util.sample.at, Timestamp(1_796_579_992_556));
    }

    #[tokio::test]
    async fn a_query_prometheus_refuses_is_refused_with_its_words_and_a_proxy_error_is_transient() {
        let bad_data = || async {
            let body =
                r#"{"status":"error","errorType":"bad_data","error":"1:10: parse error: unexpected \")\""}"#;
            (axum::http::StatusCode::BAD_REQUEST, body)
        };
        let gateway = || async { (axum::http::StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>") };
        let app = axum::Router::new()
            .route("/bad/api/v1/query", axum::routing::get(bad_data).post(bad_data))
            .route("/proxy/api/v1/query", axum::routing::get(gateway).post(gateway));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let err = source(&format!("http://{addr}/bad")).poll(&[spec("g0")]).await.unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Rejected);
        assert!(err.message.contains("bad_data: 1:10: parse error"), "{}", err.message);
        let err = source(&format!("http://{addr}/proxy")).poll(&[spec("g0")]).await.unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Transient);
        assert!(err.message.contains("HTTP 502 Bad Gateway: <html>502"), "{}", err.message);
    }

    #[tokio::test]
    async fn an_unreachable_prometheus_fails_the_poll_as_transient() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = source(&format!("http://127.0.0.1:{port}")).poll(&[spec("g0")]).await.unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Transient);
        assert!(err.message.contains("cannot connect"), "{}", err.message);
    }

    fn own(queries: &[(&str, &str)], matchers: Option<&str>) -> GroupPrometheus {
        GroupPrometheus {
            matchers: matchers.map(str::to_string),
            queries: queries.iter().map(|(k, q)| (k.parse().unwrap(), q.to_string())).collect(),
        }
    }

    /// `g1` replaces its p95 with its own query, `g2`'s own query is refused by
    /// Prometheus, `g3`'s answers two series: `g0` and `g1` are read, `g2` and `g3` fail
    /// alone, each with its own reason.
    #[tokio::test]
    async fn a_groups_own_query_answers_its_kind_and_one_that_fails_fails_that_group_alone() {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let url = scripted(Arc::new(move |query: &str, _: &axum::http::HeaderMap| {
            counted.fetch_add(1, Ordering::SeqCst);
            let ok = axum::http::StatusCode::OK;
            if query.contains("own_p95") {
                (ok, vector(r#"{"metric":{},"value":[1796579993.25,"0.7"]}"#))
            } else if query.contains("broken") {
                let refusal = r#"{"status":"error","errorType":"bad_data","error":"1:7: parse error: unclosed left parenthesis"}"#;
                (axum::http::StatusCode::BAD_REQUEST, refusal.to_string())
            } else if query.contains("several") {
                let two = r#"{"metric":{"a":"1"},"value":[1796579993.25,"1"]},{"metric":{"a":"2"},"value":[1796579993.25,"2"]}"#;
                (ok, vector(two))
            } else {
                (ok, parts(&["g0", "g1", "g2", "g3"], "50", "4"))
            }
        }))
        .await;
        let own = HashMap::from([
            ("g1".to_string(), own(&[("latency_p95", "own_p95")], None)),
            ("g2".to_string(), own(&[("custom:batch_size", "avg(broken")], None)),
            ("g3".to_string(), own(&[("queue_length", "several")], None)),
        ]);
        let source = source_with(&settings(&url), own);
        let groups: Vec<GroupSpec> = (0..4).map(|g| spec(&format!("g{g}"))).collect();
        let polls = source.poll(&groups).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 9 + 3, "the defaults once, each own query once");
        let p95 = |i: usize| {
            let samples = polls[i].as_ref().unwrap();
            samples
                .iter()
                .filter(|s| s.kind == MetricKind::LatencyP95)
                .map(|s| s.sample.value)
                .collect::<Vec<_>>()
        };
        assert_eq!(polls[0].as_ref().unwrap().len(), 11);
        assert_eq!((p95(0), p95(1)), (vec![50.0], vec![0.7]), "g1's own query, not the default");
        assert_eq!(polls[1].as_ref().unwrap().len(), 11);
        let err = polls[2].as_ref().unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Rejected);
        assert!(err.message.starts_with("custom:batch_size: Prometheus http://"), "{}", err.message);
        assert!(
            err.message.contains("bad_data: 1:7: parse error: unclosed left parenthesis"),
            "{}",
            err.message
        );
        let err = polls[3].as_ref().unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Rejected);
        assert!(err.message.contains("queue_length: its query answers 2 series"), "{}", err.message);
    }

    #[test]
    fn a_group_with_matchers_of_its_own_gets_its_own_default_queries() {
        let mut settings = settings("http://127.0.0.1:1");
        settings.matchers = "namespace=\"inference\"".into();
        let own =
            HashMap::from([("g1".to_string(), own(&[("gpu_util", "own_util")], Some("cluster=\"eu-1\"")))]);
        let source = source_with(&settings, own);
        let groups: Vec<GroupSpec> = (0..3).map(|g| spec(&format!("g{g}"))).collect();
        let plan = source.plan(&groups);
        let shared: Vec<&Planned> =
            plan.iter().filter(|q| matches!(&q.answers, Answers::Grouped(m) if m == &[0, 2])).collect();
        let alone: Vec<&Planned> =
            plan.iter().filter(|q| matches!(&q.answers, Answers::Grouped(m) if m == &[1])).collect();
        assert_eq!(
            (shared.len(), alone.len(), plan.len()),
            (9, 8, 9 + 8 + 1),
            "g1's gpu_util is its own query"
        );
        assert!(shared.iter().all(|q| q.promql.instant().contains("{namespace=\"inference\"}")
            && !q.promql.instant().contains("eu-1")));
        assert!(
            alone.iter().all(|q| q.promql.instant().contains("{namespace=\"inference\", cluster=\"eu-1\"}"))
        );
        assert!(alone.iter().all(|q| q.kinds.iter().all(|(k, _)| *k != MetricKind::GpuUtil)));
    }

    /// Credentials read from their files on each query, the configured headers sent; a
    /// token file that cannot be read fails the poll as an auth failure that says where.
    #[tokio::test]
    async fn queries_carry_the_configured_credentials_and_headers() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
        let record = seen.clone();
        let url = scripted(Arc::new(move |_: &str, headers: &axum::http::HeaderMap| {
            let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            record.lock().unwrap().push((get("authorization"), get("x-scope-orgid")));
            (axum::http::StatusCode::OK, parts(&["g0"], "50", "1"))
        }))
        .await;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "s3cret-token\n").unwrap();
        let mut bearer = settings(&url);
        bearer.headers = vec![("X-Scope-OrgID".into(), "team-gpu".into())];
        bearer.auth =
            Some(crate::config::HttpAuth::Bearer(crate::config::secret::Secret::File(token.clone())));
        source_with(&bearer, HashMap::new()).poll(&[spec("g0")]).await.unwrap();
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!(last, ("Bearer s3cret-token".to_string(), "team-gpu".to_string()));

        let password = dir.path().join("password");
        std::fs::write(&password, "pa55").unwrap();
        let mut basic = settings(&url);
        basic.auth = Some(crate::config::HttpAuth::Basic {
            username: "fleetdeck".into(),
            password: crate::config::secret::Secret::File(password),
        });
        source_with(&basic, HashMap::new()).poll(&[spec("g0")]).await.unwrap();
        // base64("fleetdeck:pa55")
        assert_eq!(seen.lock().unwrap().last().unwrap().0, "Basic ZmxlZXRkZWNrOnBhNTU=");

        std::fs::remove_file(&token).unwrap();
        let err = source_with(&bearer, HashMap::new()).poll(&[spec("g0")]).await.unwrap_err();
        assert_eq!(err.kind, crate::model::ErrorKind::Auth);
        assert!(err.message.contains("credentials: cannot read"), "{}", err.message);
        assert!(!err.message.contains("s3cret"), "{}", err.message);
    }

    /// A range query's parameter `name` from a request's (still encoded) query string.
    fn param(query: &str, name: &str) -> f64 {
        let value = query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}=")));
        value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name} in {query}"))
    }

    /// A matrix answer: `series` as (labels JSON, points as (Unix seconds, value)).
    fn matrix(series: &[(&str, &[(f64, &str)])]) -> String {
        let items: Vec<String> = series
            .iter()
            .map(|(labels, points)| {
                let values: Vec<String> = points.iter().map(|(t, v)| format!(r#"[{t},"{v}"]"#)).collect();
                format!(r#"{{"metric":{labels},"values":[{}]}}"#, values.join(","))
            })
            .collect();
        format!(r#"{{"status":"success","data":{{"resultType":"matrix","result":[{}]}}}}"#, items.join(","))
    }

    #[test]
    fn a_history_is_cut_into_chunks_of_at_most_a_week_of_minutes() {
        let t = |s: i64| Timestamp::from_millis(s * 1000);
        let range = |days: i64| HistoryRange {
            since: t(0),
            until: t(days * 86_400),
            step: Duration::from_secs(60),
            kinds: None,
        };
        assert_eq!(chunks(&range(1)), vec![(t(60), t(86_400))]);
        let week = 7 * 86_400;
        assert_eq!(chunks(&range(7)), vec![(t(60), t(week))], "10,080 steps fit one");
        assert_eq!(
            chunks(&range(14)),
            vec![(t(60), t(week)), (t(week + 60), t(2 * week))],
            "no step asked twice, none left out"
        );
        assert!(chunks(&HistoryRange { until: t(30), ..range(1) }).is_empty(), "no whole step");
    }

    /// Eight days of gpu_util for g0 and g1 (not g2: no series): two range queries of the
    /// one kind asked for, each a week at most, read into our units; g3's own query for
    /// gpu_util answers two series and fails g3 alone.
    #[tokio::test]
    async fn a_history_reads_each_groups_points_in_our_units_a_chunk_at_a_time() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::<(f64, f64, f64)>::new()));
        let record = asked.clone();
        let url = scripted(Arc::new(move |query: &str, _: &axum::http::HeaderMap| {
            let ok = axum::http::StatusCode::OK;
            let (start, end) = (param(query, "start"), param(query, "end"));
            if query.contains("several") {
                return (ok, matrix(&[(r#"{"a":"1"}"#, &[(start, "1")]), (r#"{"a":"2"}"#, &[(start, "2")])]));
            }
            record.lock().unwrap().push((start, end, param(query, "step")));
            let part = |g: &str| format!(r#"{{"fleetdeck_group":"{g}","fleetdeck_part":"value"}}"#);
            let (g0, g1) = (part("g0"), part("g1"));
            (ok, matrix(&[(&g0, &[(start, "50"), (end, "NaN")]), (&g1, &[(start, "20"), (end, "30")])]))
        }))
        .await;
        let own = HashMap::from([("g3".to_string(), own(&[("gpu_util", "several")], None))]);
        let source = source_with(&settings(&url), own);
        let groups: Vec<GroupSpec> = (0..4).map(|g| spec(&format!("g{g}"))).collect();
        let since = Timestamp::from_millis(1_795_392_000_000);
        let range = HistoryRange {
            since,
            until: since.plus(Duration::from_secs(8 * 86_400)),
            step: Duration::from_secs(60),
            kinds: Some(vec![MetricKind::GpuUtil]),
        };
        let history = source.history(&groups, &range).await.unwrap();
        let week_end = 1_795_392_000.0 + 7.0 * 86_400.0;
        assert_eq!(
            *asked.lock().unwrap(),
            vec![
                (1_795_392_060.0, week_end, 60.0),
                (week_end + 60.0, 1_795_392_000.0 + 8.0 * 86_400.0, 60.0)
            ],
            "gpu_util alone, two chunks"
        );
        let points = |i: usize| -> Vec<(i64, f64)> {
            let series = history[i].as_ref().unwrap();
            assert!(series.iter().all(|s| s.kind == MetricKind::GpuUtil), "{series:?}");
            series.iter().flat_map(|s| s.points.iter().map(|p| (p.at.as_millis() / 1000, p.value))).collect()
        };
        let first = 1_795_392_060;
        let second = first + 7 * 86_400;
        assert_eq!(points(0), vec![(first, 0.5), (second, 0.5)], "NaN is no point");
        assert_eq!(points(1).len(), 4);
        assert_eq!(points(1)[0], (first, 0.2));
        assert!(points(2).is_empty());
        let err = history[3].as_ref().unwrap_err();
        assert!(err.message.contains("gpu_util: its query answers 2 series"), "{}", err.message);
    }

    /// `/api/v1/alerts` as Prometheus answers it: each alert goes to the group its
    /// `fleetdeck_group` label or its pod names (the longest name), firing first; one of
    /// no group, and an inactive one, are not shown; without `alerts = true`, no request.
    #[tokio::test]
    async fn alerts_go_to_the_group_their_labels_name_firing_first() {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let url = scripted(Arc::new(move |_: &str, _: &axum::http::HeaderMap| {
            counted.fetch_add(1, Ordering::SeqCst);
            let alerts = r#"{"status":"success","data":{"alerts":[
                {"labels":{"alertname":"QueueBacklog","fleetdeck_group":"llm"},"annotations":{"summary":"llm has a backlog"},
                 "state":"pending","activeAt":"2026-12-06T21:50:00.5+00:00","value":"4.2e+01"},
                {"labels":{"alertname":"GpuXid","pod":"llm-chat-7d9f-0","gpu":"3"},"annotations":{},
                 "state":"firing","activeAt":"2026-12-06T21:40:00Z","value":"1e+00"},
                {"labels":{"alertname":"Backlog2","pod":"llm-chat-7d9f-1"},"annotations":{},
                 "state":"pending","activeAt":"2026-12-06T21:45:00Z","value":"3"},
                {"labels":{"alertname":"NodeDown","namespace":"kube-system"},"annotations":{},
                 "state":"firing","activeAt":"2026-12-06T21:00:00Z","value":"0"},
                {"labels":{"alertname":"Old","pod":"llm-0"},"annotations":{},"state":"inactive","value":"0"}
            ]}}"#;
            (axum::http::StatusCode::OK, alerts.to_string())
        }))
        .await;
        let groups = [spec("llm"), spec("llm-chat")];
        assert!(source(&url).alerts(&groups).is_none(), "not asked for");
        let mut asked = settings(&url);
        asked.alerts = true;
        let alerts = source_with(&asked, HashMap::new()).alerts(&groups).unwrap().await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        let names = |i: usize| alerts[i].iter().map(|a| a.name.as_str()).collect::<Vec<_>>();
        assert_eq!(names(0), vec!["QueueBacklog"]);
        assert_eq!(names(1), vec!["GpuXid", "Backlog2"], "llm-chat's pods are not llm's; firing first");
        let backlog = &alerts[0][0];
        assert_eq!(backlog.state, AlarmState::Pending);
        assert_eq!(backlog.since, Some(Timestamp::from_millis(1_796_593_800_500)));
        assert_eq!((backlog.value, backlog.summary.as_str()), (Some(42.0), "llm has a backlog"));
        let xid = &alerts[1][0];
        assert_eq!((xid.state, xid.summary.as_str()), (AlarmState::Firing, "gpu=3, pod=llm-chat-7d9f-0"));
    }

    #[test]
    fn a_figure_becomes_a_sample_in_our_units_covering_its_instances() {
        let figure = GroupFigure { value: Some(60.0), instances: Some(3), at: Some(Timestamp(5)) };
        let s = sample(&MetricKind::GpuUtil, &figure, 0.01).unwrap();
        assert_eq!((s.sample.value, s.sample.at, s.instances), (0.6, Timestamp(5), Some(3)));
    }

    #[test]
    fn a_nan_quantile_or_a_figure_without_time_is_no_sample() {
        let idle = GroupFigure { value: Some(f64::NAN), instances: Some(2), at: Some(Timestamp(5)) };
        assert_eq!(sample(&MetricKind::LatencyP95, &idle, 1.0), None);
        let timeless = GroupFigure { value: Some(1.0), instances: None, at: None };
        assert_eq!(sample(&MetricKind::QueueLength, &timeless, 1.0), None);
    }
}
