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

use futures::future::{BoxFuture, join_all};

use super::queries::{self, Aggregate, GroupFigure, GroupQuery, Selection};
use super::response::{self, Answer, QueryResult};
use crate::backends::http::{self, HttpOptions};
use crate::clock::Clock;
use crate::config::{GroupPrometheus, PrometheusConfig};
use crate::model::{BackendError, GroupSpec, MetricKind, MetricSample, Sample};
use crate::sources::{GroupPoll, MetricSource, SourcePoll};

/// A query longer than this goes as a form POST (Prometheus accepts both), under the
/// 8 KiB request-line limits of common proxies.
const LONGEST_GET: usize = 4000;

/// One query of a poll: the kinds it answers (each from its own value part: `value`, or
/// `p95` where one query answers several), the factor that brings it to our unit, and
/// the groups its answer is for.
struct Planned {
    kinds: Vec<(MetricKind, &'static str)>,
    promql: String,
    scale: f64,
    answers: Answers,
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
                    plan.push(Planned { kinds, promql, scale, answers: Answers::Grouped(answered) });
                }
            }
        }
        for i in 0..groups.len() {
            for (kind, promql) in own(i).map(|o| o.queries.as_slice()).unwrap_or_default() {
                plan.push(Planned {
                    kinds: vec![(kind.clone(), "value")],
                    promql: promql.clone(),
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
    async fn query(&self, promql: &str) -> Result<impl AsRef<[u8]> + use<>, BackendError> {
        let url = format!("{}/api/v1/query", self.base);
        let request = if promql.len() > LONGEST_GET {
            self.client.post(&url).form(&[("query", promql)])
        } else {
            self.client.get(&url).query(&[("query", promql)])
        };
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
type DefaultQuery = (Vec<(MetricKind, &'static str)>, String, f64);

/// The default queries of `s`'s groups.
fn defaults(s: &Selection, window: Duration) -> Vec<DefaultQuery> {
    let one =
        |kind: MetricKind, query: GroupQuery, scale: f64| (vec![(kind, "value")], query.instant(), scale);
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
            latencies.instant(),
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
            let answers = join_all(plan.iter().map(|q| self.query(&q.promql))).await;
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
                let named =
                    BackendError { message: format!("{}: {}", query.named(), err.message), ..err.clone() };
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
        let app = axum::Router::new().route("/api/v1/query", axum::routing::get(answer.clone()).post(answer));
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
        assert!(
            shared
                .iter()
                .all(|q| q.promql.contains("{namespace=\"inference\"}") && !q.promql.contains("eu-1"))
        );
        assert!(alone.iter().all(|q| q.promql.contains("{namespace=\"inference\", cluster=\"eu-1\"}")));
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
