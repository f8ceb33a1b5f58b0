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
//! The same queries answer the history as range queries (`history.rs`); the alerts are
//! `alerts.rs`'s.
//!
//! Not `nv_inference_count` for Triton's request rate: it counts batch items. A quantile
//! that is NaN (no request in the window) is left out, as a percentile of nothing is
//! undefined; the request rate of 0 beside it tells the engine the group is idle.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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

mod alerts;
mod history;

/// A query longer than this goes as a form POST (Prometheus accepts both), under the
/// 8 KiB request-line limits of common proxies.
const LONGEST_GET: usize = 4000;

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

#[cfg(test)]
mod tests;
