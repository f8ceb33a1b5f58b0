//! The source against a scripted stand-in for Prometheus's API (axum): what each poll,
//! history and alerts call asks, and how each answer is read.

use super::history::chunks;
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
    assert!(err.message.contains("bad_data: 1:7: parse error: unclosed left parenthesis"), "{}", err.message);
    let err = polls[3].as_ref().unwrap_err();
    assert_eq!(err.kind, crate::model::ErrorKind::Rejected);
    assert!(err.message.contains("queue_length: its query answers 2 series"), "{}", err.message);
}

#[test]
fn a_group_with_matchers_of_its_own_gets_its_own_default_queries() {
    let mut settings = settings("http://127.0.0.1:1");
    settings.matchers = "namespace=\"inference\"".into();
    let own = HashMap::from([("g1".to_string(), own(&[("gpu_util", "own_util")], Some("cluster=\"eu-1\"")))]);
    let source = source_with(&settings, own);
    let groups: Vec<GroupSpec> = (0..3).map(|g| spec(&format!("g{g}"))).collect();
    let plan = source.plan(&groups);
    let shared: Vec<&Planned> =
        plan.iter().filter(|q| matches!(&q.answers, Answers::Grouped(m) if m == &[0, 2])).collect();
    let alone: Vec<&Planned> =
        plan.iter().filter(|q| matches!(&q.answers, Answers::Grouped(m) if m == &[1])).collect();
    assert_eq!((shared.len(), alone.len(), plan.len()), (9, 8, 9 + 8 + 1), "g1's gpu_util is its own query");
    assert!(
        shared.iter().all(|q| q.promql.instant().contains("{namespace=\"inference\"}")
            && !q.promql.instant().contains("eu-1"))
    );
    assert!(alone.iter().all(|q| q.promql.instant().contains("{namespace=\"inference\", cluster=\"eu-1\"}")));
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
    bearer.auth = Some(crate::config::HttpAuth::Bearer(crate::config::secret::Secret::File(token.clone())));
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
        vec![(1_795_392_060.0, week_end, 60.0), (week_end + 60.0, 1_795_392_000.0 + 8.0 * 86_400.0, 60.0)],
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
