//! What groups report: which series, in which units, and how they follow load.

use super::*;
use crate::model::MetricSample;

fn kinds(samples: &[MetricSample]) -> Vec<MetricKind> {
    samples.iter().map(|s| s.kind.clone()).collect()
}

fn vllm(name: &str, desired: u32) -> GroupSpec {
    GroupSpec { serving: Serving::Vllm, ..group(name, desired, (60, 60)) }
}

#[test]
fn a_generic_group_reports_load_latency_and_gpu_series() {
    let mut fleet = one_group(group("g", 2, (60, 60)), constant(10.0));
    fleet.advance_to(at(5));
    let samples = fleet.sample("g").unwrap();
    use MetricKind::*;
    assert_eq!(
        kinds(&samples),
        vec![RequestRate, ErrorRate, QueueLength, LatencyP50, LatencyP95, LatencyP99, GpuUtil, GpuMem]
    );
    assert_eq!(value(&mut fleet, "g", &RequestRate), Some(10.0));
    assert_eq!(value(&mut fleet, "g", &GpuUtil), Some(0.5));
    let mem = value(&mut fleet, "g", &GpuMem).unwrap();
    assert!((mem - (0.30 + 0.55 * 0.5)).abs() < 1e-9);
}

#[test]
fn a_vllm_group_reports_kv_cache_time_to_first_token_and_tokens() {
    let mut fleet = one_group(vllm("chat", 4), constant(20.0));
    fleet.advance_to(at(5));
    let util = value(&mut fleet, "chat", &MetricKind::GpuUtil).unwrap();
    assert!((util - 0.5).abs() < 1e-9);
    assert_eq!(value(&mut fleet, "chat", &MetricKind::GpuMem), Some(0.90));
    let kv = value(&mut fleet, "chat", &MetricKind::KvCacheUsage).unwrap();
    assert!((kv - (0.02 + 0.96 * 0.5)).abs() < 1e-9);
    let ttft = value(&mut fleet, "chat", &MetricKind::TimeToFirstToken).unwrap();
    let p50 = value(&mut fleet, "chat", &MetricKind::LatencyP50).unwrap();
    assert!(ttft > 0.0 && ttft < p50, "ttft {ttft}, p50 {p50}");
    assert_eq!(value(&mut fleet, "chat", &MetricKind::TokensPerSecond), Some(20.0 * 200.0));
}

#[test]
fn gpu_memory_of_vllm_stays_preallocated_while_generic_follows_load() {
    let mem_at = |spec: GroupSpec, rps: f64| {
        let mut fleet = one_group(spec, constant(rps));
        fleet.advance_to(at(5));
        value(&mut fleet, "g", &MetricKind::GpuMem).unwrap()
    };
    assert_eq!(mem_at(vllm("g", 2), 1.0), mem_at(vllm("g", 2), 19.0));
    assert!(mem_at(group("g", 2, (60, 60)), 19.0) > mem_at(group("g", 2, (60, 60)), 1.0) + 0.4);
}

#[test]
fn no_traffic_reports_a_zero_rate_and_no_latency() {
    let mut fleet = one_group(vllm("g", 2), constant(0.0));
    fleet.advance_to(at(5));
    let samples = fleet.sample("g").unwrap();
    assert_eq!(value(&mut fleet, "g", &MetricKind::RequestRate), Some(0.0));
    for kind in [MetricKind::LatencyP50, MetricKind::LatencyP95, MetricKind::LatencyP99] {
        assert!(!kinds(&samples).contains(&kind), "{kind} reported without traffic");
    }
    assert!(!kinds(&samples).contains(&MetricKind::TimeToFirstToken));
    assert_eq!(value(&mut fleet, "g", &MetricKind::GpuUtil), Some(0.0));
}

#[test]
fn no_ready_instance_reports_no_gpu_metrics_and_a_bounded_latency() {
    let mut fleet = one_group(vllm("g", 0), constant(5.0));
    fleet.set_desired("g", 2).unwrap();
    fleet.advance_to(at(30));
    let samples = fleet.sample("g").unwrap();
    for kind in [MetricKind::GpuUtil, MetricKind::GpuMem, MetricKind::KvCacheUsage] {
        assert!(!kinds(&samples).contains(&kind), "{kind} reported with only warming instances");
    }
    let p99 = value(&mut fleet, "g", &MetricKind::LatencyP99).unwrap();
    assert!(p99.is_finite() && p99 <= 0.3 * 2.1 + 60.0, "p99 {p99}");
    assert!(value(&mut fleet, "g", &MetricKind::QueueLength).unwrap() > 0.0);
    assert_eq!(value(&mut fleet, "g", &MetricKind::TokensPerSecond), Some(0.0));
}

#[test]
fn latency_and_queue_rise_with_load() {
    let read = |rps: f64| {
        let mut fleet = one_group(group("g", 4, (60, 60)), constant(rps));
        fleet.advance_to(at(5));
        let p95 = value(&mut fleet, "g", &MetricKind::LatencyP95).unwrap();
        let queue = value(&mut fleet, "g", &MetricKind::QueueLength).unwrap();
        (p95, queue)
    };
    let (light, busy, saturated) = (read(10.0), read(38.0), read(60.0));
    assert!(light.0 < busy.0 && busy.0 < saturated.0, "{light:?} {busy:?} {saturated:?}");
    assert!(light.1 < busy.1 && busy.1 < saturated.1, "{light:?} {busy:?} {saturated:?}");
    assert!(light.0 < 0.6, "p95 at 25 % load: {}", light.0);
}
