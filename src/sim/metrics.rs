//! What a group's metrics read, derived from its last step: request and error rates,
//! queue length, latency percentiles, GPU utilization and memory, and the vLLM signals
//! (KV-cache usage, time to first token, tokens/s). Also where scripted and random metric
//! gaps leave series out. The model behind the numbers is in the `sim` module docs.

use crate::model::{MetricKind, MetricSample, Sample, Serving};

use super::group::GroupSim;
use super::queue::{LatencyInputs, estimate_latency};

/// Output tokens per request, for tokens/s: a round middle of chat (a few hundred) and
/// code completion (tens) in the Azure LLM traces.
pub const TOKENS_PER_REQUEST: f64 = 200.0;

/// Share of an idle request's service time spent before its first token (prefill).
pub const PREFILL_SHARE: f64 = 0.15;

/// GPU memory a vLLM server holds whatever the load (`gpu_memory_utilization` = 0.9).
pub const VLLM_GPU_MEM: f64 = 0.90;

/// A generic server's GPU memory: the model's weights, plus activations that grow with load.
pub const GENERIC_GPU_MEM_IDLE: f64 = 0.30;
pub const GENERIC_GPU_MEM_PER_UTIL: f64 = 0.55;

/// vLLM KV-cache usage: a little held at idle (prefix cache), then proportional to load.
pub const KV_CACHE_IDLE: f64 = 0.02;
pub const KV_CACHE_PER_UTIL: f64 = 0.96;

/// The group's metrics as of its last step, before gaps. Latency (and time to first
/// token) is left out when no request arrives, since a percentile of nothing is undefined;
/// GPU metrics are left out when no instance is ready, since warming GPUs are not read.
pub(crate) fn metrics(group: &GroupSim) -> Vec<(MetricKind, f64)> {
    let state = group.state();
    let service_s = group.sim.service_time.as_secs_f64();
    let vllm = group.spec.serving == Serving::Vllm;
    let mut out = Vec::with_capacity(11);
    let utilization = if state.capacity_rps > 0.0 { state.demand_rps / state.capacity_rps } else { 0.0 };
    let latency = estimate_latency(&LatencyInputs {
        service_time_s: service_s,
        utilization,
        capacity_rps: state.capacity_rps,
        backlog: state.backlog,
    });
    out.push((MetricKind::RequestRate, state.demand_rps));
    out.push((MetricKind::ErrorRate, state.dropped_rps));
    // Waiting requests: the fluid backlog plus, by Little's law, those the steady-state
    // wait holds (arrival rate × mean wait), so the queue is not zero just below saturation.
    let steady_queue = if state.capacity_rps > 0.0 { state.demand_rps * latency.mean_wait_s } else { 0.0 };
    out.push((MetricKind::QueueLength, state.backlog + steady_queue));
    if state.demand_rps > 0.0 {
        out.push((MetricKind::LatencyP50, latency.p50_s));
        out.push((MetricKind::LatencyP95, latency.p95_s));
        out.push((MetricKind::LatencyP99, latency.p99_s));
        if vllm {
            out.push((MetricKind::TimeToFirstToken, PREFILL_SHARE * service_s + latency.wait_p50_s));
        }
    }
    if state.ready > 0 {
        let busy =
            if state.capacity_rps > 0.0 { (state.served_rps / state.capacity_rps).min(1.0) } else { 0.0 };
        out.push((MetricKind::GpuUtil, busy));
        if vllm {
            out.push((MetricKind::GpuMem, VLLM_GPU_MEM));
            out.push((MetricKind::KvCacheUsage, (KV_CACHE_IDLE + KV_CACHE_PER_UTIL * busy).min(1.0)));
        } else {
            out.push((MetricKind::GpuMem, GENERIC_GPU_MEM_IDLE + GENERIC_GPU_MEM_PER_UTIL * busy));
        }
    }
    if vllm {
        out.push((MetricKind::TokensPerSecond, state.served_rps * TOKENS_PER_REQUEST));
    }
    out
}

/// The samples one poll finds: nothing during a scripted gap, otherwise every series
/// except those a random gap leaves out (each independently, with the group's probability).
pub(crate) fn sample(group: &mut GroupSim) -> Vec<MetricSample> {
    let at = group.last.at;
    if at < group.gap_until {
        return Vec::new();
    }
    let mut metrics = metrics(group);
    let gap_probability = group.sim.metric_gap_probability;
    if gap_probability > 0.0 {
        metrics.retain(|_| !group.sample_rng.chance(gap_probability));
    }
    metrics.into_iter().map(|(kind, value)| MetricSample::new(kind, Sample { at, value })).collect()
}
