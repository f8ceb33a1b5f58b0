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
//! | latency_p50/p95/p99 | `histogram_quantile` of `vllm:e2e_request_latency_seconds` | s |
//! | time_to_first_token | median of `vllm:time_to_first_token_seconds` | s |
//! | tokens_per_second | `rate()` of `vllm:generation_tokens_total` | /s |
//!
//! Not `nv_inference_count` for Triton's request rate: it counts batch items. A quantile
//! that is NaN (no request in the window) is left out, as a percentile of nothing is
//! undefined; the request rate of 0 beside it tells the engine the group is idle.

use std::time::Duration;

use futures::future::{BoxFuture, join_all};

use super::queries::{self, Aggregate, GroupFigure, Selection};
use super::response::{self, Answer};
use crate::backends::http::{self, HttpOptions};
use crate::clock::Clock;
use crate::config::PrometheusConfig;
use crate::model::{BackendError, GroupSpec, MetricKind, MetricSample, Sample};
use crate::sources::{MetricSource, SourcePoll};
use std::sync::Arc;

/// A query longer than this goes as a form POST (Prometheus accepts both), under the
/// 8 KiB request-line limits of common proxies.
const LONGEST_GET: usize = 4000;

/// One default query: the kind it answers and the factor that brings it to our unit.
struct KindQuery {
    kind: MetricKind,
    promql: String,
    scale: f64,
}

pub struct PrometheusSource {
    name: String,
    base: String,
    client: reqwest::Client,
    settings: PrometheusConfig,
    fresh_for: Duration,
    clock: Arc<dyn Clock>,
}

impl PrometheusSource {
    pub fn new(
        name: &str,
        settings: &PrometheusConfig,
        fresh_for: Duration,
        options: &HttpOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(PrometheusSource {
            name: name.to_string(),
            base: settings.url.trim_end_matches('/').to_string(),
            client: http::client(options)?,
            settings: settings.clone(),
            fresh_for,
            clock,
        })
    }

    /// The default queries for `groups`.
    fn plan(&self, groups: &[GroupSpec]) -> Vec<KindQuery> {
        let mut selection = Selection::new(groups.iter().map(|g| g.name.clone()), self.fresh_for);
        selection.matchers = self.settings.matchers.clone();
        let s = &selection;
        let window = self.settings.rate_window;
        let latency = |q: f64| queries::histogram_quantile(s, "vllm:e2e_request_latency_seconds", q, window);
        let fb = |m: &str| s.selector(m);
        let q = |kind, promql, scale| KindQuery { kind, promql, scale };
        // Every vLLM and Triton server writes these gauges on every scrape.
        let serving = s.serving_pods(&["vllm:num_requests_running", "nv_inference_pending_request_count"]);
        let util = fb("DCGM_FI_DEV_GPU_UTIL");
        let util_times = format!("timestamp({util})");
        vec![
            q(
                MetricKind::GpuUtil,
                queries::gauge_serving(s, &util, &util_times, Aggregate::Avg, "UUID", Some(&serving)),
                0.01,
            ),
            q(
                MetricKind::GpuMem,
                queries::gauge_serving(
                    s,
                    &format!(
                        "{used} / ({used} + {free})",
                        used = fb("DCGM_FI_DEV_FB_USED"),
                        free = fb("DCGM_FI_DEV_FB_FREE")
                    ),
                    &format!("timestamp({})", fb("DCGM_FI_DEV_FB_USED")),
                    Aggregate::Avg,
                    "UUID",
                    Some(&serving),
                ),
                1.0,
            ),
            q(
                MetricKind::KvCacheUsage,
                queries::gauge_of(
                    s,
                    &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
                    Aggregate::Avg,
                    "pod",
                ),
                1.0,
            ),
            q(
                MetricKind::QueueLength,
                queries::gauge_of(
                    s,
                    &["vllm:num_requests_waiting", "nv_inference_pending_request_count"],
                    Aggregate::Sum,
                    "pod",
                ),
                1.0,
            ),
            q(
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
            q(MetricKind::LatencyP50, latency(0.5), 1.0),
            q(MetricKind::LatencyP95, latency(0.95), 1.0),
            q(MetricKind::LatencyP99, latency(0.99), 1.0),
            q(
                MetricKind::TimeToFirstToken,
                queries::histogram_quantile(s, "vllm:time_to_first_token_seconds", 0.5, window),
                1.0,
            ),
            q(
                MetricKind::TokensPerSecond,
                queries::counter_rate(s, &["vllm:generation_tokens_total"], window),
                1.0,
            ),
        ]
    }

    /// One instant query, GET or (long) POST.
    async fn query(&self, promql: &str) -> Result<Answer, BackendError> {
        let url = format!("{}/api/v1/query", self.base);
        let request = if promql.len() > LONGEST_GET {
            self.client.post(&url).form(&[("query", promql)])
        } else {
            self.client.get(&url).query(&[("query", promql)])
        };
        let what = format!("Prometheus {}", self.base);
        let response = request.send().await.map_err(|e| http::send_error(&what, &e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.map_err(|e| http::send_error(&what, &e))?;
        match (status.is_success(), response::parse(&body)) {
            (true, Ok(answer)) => Ok(answer),
            // The API's own error envelope says more than the status.
            (_, Err(failure @ response::ApiFailure::Error { .. })) => Err(failure.into_backend_error(&what)),
            (false, _) => {
                let detail = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                Err(http::status_error(&what, status, &headers, &detail, self.clock.now()))
            }
            (true, Err(failure)) => Err(failure.into_backend_error(&what)),
        }
    }
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

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> BoxFuture<'a, SourcePoll> {
        Box::pin(async move {
            let plan = self.plan(groups);
            let answers = join_all(plan.iter().map(|q| self.query(&q.promql))).await;
            let mut polls: Vec<Vec<MetricSample>> = vec![Vec::new(); groups.len()];
            for (query, answer) in plan.iter().zip(answers) {
                let answer = answer?;
                for warning in &answer.warnings {
                    tracing::warn!(source = %self.name, kind = %query.kind, %warning, "Prometheus warning");
                }
                let figures = queries::figures(&answer.result);
                for (group, poll) in groups.iter().zip(&mut polls) {
                    if let Some(s) =
                        figures.get(&group.name).and_then(|f| sample(&query.kind, f, query.scale))
                    {
                        poll.push(s);
                    }
                }
            }
            Ok(polls.into_iter().map(Ok).collect())
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

    /// A stand-in for Prometheus's query API that counts requests and answers every query
    /// with one value part, one count part and one time part per group, as the real one
    /// answers the queries of `queries` (checked end to end in tests/it/prometheus.rs).
    async fn canned(groups: usize, value: &'static str, count: &'static str) -> (String, Arc<AtomicUsize>) {
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        let answer = move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let series: Vec<String> = (0..groups)
                .flat_map(|g| {
                    [("value", value), ("count", count), ("at", "1796579992.556")].map(|(part, v)| {
                        format!(
                            r#"{{"metric":{{"fleetdeck_group":"g{g}","fleetdeck_part":"{part}"}},"value":[1796579993.25,"{v}"]}}"#
                        )
                    })
                })
                .collect();
            let body = format!(
                r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#,
                series.join(",")
            );
            async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], body) }
        };
        let app = axum::Router::new().route("/api/v1/query", axum::routing::get(answer.clone()).post(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), requests)
    }

    fn source(url: &str) -> PrometheusSource {
        let settings = PrometheusConfig {
            url: url.into(),
            rate_window: Duration::from_secs(60),
            matchers: String::new(),
        };
        let options = HttpOptions::within(Duration::from_secs(10));
        let clock = Arc::new(crate::clock::SystemClock);
        PrometheusSource::new("prom", &settings, Duration::from_secs(45), &options, clock).unwrap()
    }

    #[tokio::test]
    async fn one_poll_of_a_hundred_groups_makes_one_request_per_metric_kind() {
        let (url, requests) = canned(100, "50", "4").await;
        let groups: Vec<GroupSpec> = (0..100).map(|g| spec(&format!("g{g}"))).collect();
        let polls = source(&url).poll(&groups).await.unwrap();
        let kinds = source(&url).plan(&groups).len();
        assert_eq!(requests.load(Ordering::SeqCst), kinds);
        assert!(kinds <= 10, "{kinds} requests a poll");
        assert_eq!(polls.len(), 100);
        let first = polls[0].as_ref().unwrap();
        assert_eq!(first.len(), kinds, "every kind answered for every group");
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
