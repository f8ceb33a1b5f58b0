//! The simulated fleet seen instance by instance, as exporters see it: every launched
//! instance is a pod with one GPU, its own labels and its own cumulative counters and
//! histograms. The simulator itself only counts instances; this roster gives them names
//! and splits the group's work evenly over the ready ones, so the mean of the instances'
//! gauges is exactly the group's figure.
//!
//! Pure: [`GroupRoster::update`] takes the group's state and the seconds since the last update;
//! nothing here reads a clock or does I/O.

use crate::model::{Capacity, MetricKind, MetricSample, Serving};
use crate::sim::{LatencyDistribution, LatencyInputs, PREFILL_SHARE, SimGroupState, TOKENS_PER_REQUEST};

/// Prompt tokens per request, for `vllm:prompt_tokens_total`: a chat prompt with its
/// context (the Azure LLM traces' conversation prompts are about a thousand tokens).
pub const PROMPT_TOKENS_PER_REQUEST: f64 = 1000.0;

/// Inferences per Triton request (its batch size), so `nv_inference_count` differs from
/// `nv_inference_request_success` as it does with batching clients.
pub const TRITON_BATCH: f64 = 4.0;

/// vLLM's `vllm:e2e_request_latency_seconds` buckets (vllm/v1/metrics/loggers.py).
pub const E2E_BUCKETS: [f64; 21] = [
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0,
    960.0, 1920.0, 7680.0,
];

/// vLLM's `vllm:time_to_first_token_seconds` buckets.
pub const TTFT_BUCKETS: [f64; 22] = [
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0,
    80.0, 160.0, 640.0, 2560.0,
];

/// vLLM's `vllm:inter_token_latency_seconds` buckets (those of time per output token).
pub const ITL_BUCKETS: [f64; 19] = [
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];

/// A cumulative histogram: per bucket the count of observations at most its bound, and
/// the `+Inf` count, which is the total.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    /// Cumulative counts, one per bound, as expected values: written rounded, which keeps
    /// them ordered, never falling and never above the count, and unbiased however few
    /// requests an update adds (rounding each update's share would not be).
    pub buckets: Vec<f64>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram { bounds, buckets: vec![0.0; bounds.len()], count: 0, sum: 0.0 }
    }

    /// Adds `n` observations spread as `spread` (worked out for these bounds); the `+Inf`
    /// bucket (the count) grows by exactly `n`.
    fn observe(&mut self, n: u64, spread: &Spread) {
        if n == 0 {
            return;
        }
        for (bucket, share) in self.buckets.iter_mut().zip(&spread.shares) {
            *bucket += n as f64 * share;
        }
        self.count += n;
        self.sum += n as f64 * spread.mean;
    }
}

/// How one update's observations spread over a histogram's buckets: the share at most
/// each bound, and their mean. The same for every instance of a group, so it is worked
/// out once an update, not once an instance.
struct Spread {
    shares: Vec<f64>,
    mean: f64,
}

impl Spread {
    fn new(bounds: &[f64], cdf: impl Fn(f64) -> f64, mean: f64) -> Self {
        Spread { shares: bounds.iter().map(|&b| cdf(b).clamp(0.0, 1.0)).collect(), mean }
    }
}

/// What one instance's server has counted since it started.
#[derive(Clone, Debug, PartialEq)]
pub struct Counters {
    /// Requests served (vLLM `request_success_total{finished_reason="stop"}`, Triton
    /// `nv_inference_request_success`).
    pub requests: u64,
    /// Requests dropped because the queue was full (vLLM `finished_reason="abort"`, Triton
    /// `nv_inference_request_failure`).
    pub failures: u64,
    pub prompt_tokens: u64,
    pub generation_tokens: u64,
    /// Triton's cumulative request and queue time, microseconds.
    pub request_duration_us: f64,
    pub queue_duration_us: f64,
    pub e2e: Histogram,
    pub ttft: Histogram,
    pub itl: Histogram,
    /// Fractions of a request carried to the next update (served, dropped).
    carry: (f64, f64),
}

impl Counters {
    fn new() -> Self {
        Counters {
            requests: 0,
            failures: 0,
            prompt_tokens: 0,
            generation_tokens: 0,
            request_duration_us: 0.0,
            queue_duration_us: 0.0,
            e2e: Histogram::new(&E2E_BUCKETS),
            ttft: Histogram::new(&TTFT_BUCKETS),
            itl: Histogram::new(&ITL_BUCKETS),
            carry: (0.0, 0.0),
        }
    }
}

/// One instance: a pod with one GPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub pod: String,
    pub hostname: String,
    pub uuid: String,
    pub pci_bus_id: String,
    /// Serving (its server answers); false while it warms up.
    pub ready: bool,
    /// The dcgm-exporter on its node is down: its GPU has no series, its server goes on.
    pub exporter_down: bool,
    pub counters: Counters,
}

/// The group's gauges as of the last update, per instance where they are per instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauges {
    /// GPU busy fraction of a ready instance (None: the group's series is missing now).
    pub gpu_util: Option<f64>,
    /// GPU memory used, fraction, of a ready instance.
    pub gpu_mem: Option<f64>,
    pub kv_cache: Option<f64>,
    /// Requests waiting, per ready instance.
    pub waiting: Option<f64>,
    /// Requests in service, per ready instance (Little's law: served × mean service time).
    pub running: Option<f64>,
    /// Latency quantiles (p50, p90, p95, p99, p999) for Triton's summaries, seconds
    /// (Triton groups only).
    pub quantiles: Option<[f64; 5]>,
}

/// The quantiles Triton's summaries report by default.
pub const SUMMARY_QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// One group's instances.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupRoster {
    pub name: String,
    pub serving: Serving,
    pub instance_type: String,
    /// Ready instances first (oldest first), then warming ones (oldest first).
    pub instances: Vec<Instance>,
    pub gauges: Gauges,
    /// No series at all now: a scripted gap (the exporters answer without this group).
    pub gap: bool,
    seed: u64,
    launched: u64,
}

impl GroupRoster {
    pub fn new(name: &str, serving: Serving, instance_type: &str, seed: u64) -> Self {
        GroupRoster {
            name: name.to_string(),
            serving,
            instance_type: instance_type.to_string(),
            instances: Vec::new(),
            gauges: Gauges::default(),
            gap: false,
            seed,
            launched: 0,
        }
    }

    pub fn ready(&self) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(|i| i.ready)
    }

    /// A new instance with names in Kubernetes' shapes: a Deployment's pod
    /// `GROUP-<10 hex>-<5 alphanumerics>`, a node name, a GPU UUID.
    fn launch(&mut self, ready: bool) -> Instance {
        self.launched += 1;
        let h = crate::sim::rng::fnv1a(format!("{}/{}/{}", self.seed, self.name, self.launched).as_bytes());
        let h = crate::sim::rng::Rng::from_seed(h).next_u64();
        let h2 = crate::sim::rng::Rng::from_seed(h).next_u64();
        const ALNUM: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let suffix: String =
            (0..5).map(|i| ALNUM[((h2 >> (i * 8)) % ALNUM.len() as u64) as usize] as char).collect();
        Instance {
            pod: format!("{}-{:010x}-{suffix}", self.name, h >> 24),
            hostname: format!("gpu-node-{:04x}", (h2 >> 48) & 0xffff),
            uuid: format!(
                "GPU-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                h >> 32,
                (h >> 16) & 0xffff,
                h & 0xffff,
                (h2 >> 32) & 0xffff,
                h2 & 0xffff_ffff_ffff
            ),
            pci_bus_id: format!("00000000:{:02X}:00.0", (h2 >> 8) & 0xff),
            ready,
            exporter_down: false,
            counters: Counters::new(),
        }
    }

    /// Makes the instances match the capacity: warming ones become ready oldest first
    /// (or new ready ones appear), the newest of either kind go first on a scale-in or a
    /// failure.
    fn reconcile(&mut self, capacity: &Capacity) {
        let count = |r: &GroupRoster, ready: bool| r.instances.iter().filter(|i| i.ready == ready).count();
        let (want_ready, want_warming) = (capacity.ready as usize, capacity.warming as usize);
        while count(self, true) > want_ready {
            let newest = self.instances.iter().rposition(|i| i.ready).unwrap_or_default();
            self.instances.remove(newest);
        }
        while count(self, true) < want_ready {
            match self.instances.iter().position(|i| !i.ready) {
                Some(oldest) => self.instances[oldest].ready = true,
                None => {
                    let instance = self.launch(true);
                    self.instances.push(instance);
                }
            }
        }
        while count(self, false) > want_warming {
            let newest = self.instances.iter().rposition(|i| !i.ready).unwrap_or_default();
            self.instances.remove(newest);
        }
        while count(self, false) < want_warming {
            let instance = self.launch(false);
            self.instances.push(instance);
        }
        self.instances.sort_by_key(|i| !i.ready);
    }

    /// Runs the group's instances `dt_s` seconds forward: the capacity, the group's last
    /// samples (a kind left out is missing now) and the queue state the simulator had.
    pub fn update(
        &mut self,
        capacity: &Capacity,
        samples: &[MetricSample],
        state: &SimGroupState,
        service_time_s: f64,
        dt_s: f64,
    ) {
        self.reconcile(capacity);
        let value = |kind: MetricKind| samples.iter().find(|s| s.kind == kind).map(|s| s.sample.value);
        let ready = self.ready().count();
        self.gap = samples.is_empty();
        let per_instance = |total: f64| if ready > 0 { total / ready as f64 } else { 0.0 };
        let utilization = if state.capacity_rps > 0.0 { state.demand_rps / state.capacity_rps } else { 0.0 };
        let dist = LatencyDistribution::new(&LatencyInputs {
            service_time_s,
            utilization,
            capacity_rps: state.capacity_rps,
            backlog: state.backlog,
        });
        let mean_service = dist.mean(1.0) - dist.mean_wait();
        self.gauges = Gauges {
            gpu_util: value(MetricKind::GpuUtil),
            gpu_mem: value(MetricKind::GpuMem),
            kv_cache: value(MetricKind::KvCacheUsage),
            waiting: value(MetricKind::QueueLength).map(per_instance),
            running: (!self.gap).then(|| per_instance(state.served_rps * mean_service)),
            // Only Triton writes summaries.
            quantiles: (!self.gap && state.demand_rps > 0.0 && self.serving == Serving::Generic)
                .then(|| SUMMARY_QUANTILES.map(|q| quantile(&dist, q))),
        };
        if ready == 0 || dt_s <= 0.0 {
            return;
        }
        let (served, dropped) =
            (per_instance(state.served_rps) * dt_s, per_instance(state.dropped_rps) * dt_s);
        let itl = (1.0 - PREFILL_SHARE) * mean_service / TOKENS_PER_REQUEST;
        let e2e = Spread::new(&E2E_BUCKETS, |x| dist.cdf(x, 1.0), dist.mean(1.0));
        let ttft = Spread::new(&TTFT_BUCKETS, |x| dist.cdf(x, PREFILL_SHARE), dist.mean(PREFILL_SHARE));
        let itl = Spread::new(&ITL_BUCKETS, |x| if x >= itl { 1.0 } else { 0.0 }, itl);
        for instance in self.instances.iter_mut().filter(|i| i.ready) {
            let c = &mut instance.counters;
            let (n, carry) = whole(served + c.carry.0);
            let (failed, carry_failed) = whole(dropped + c.carry.1);
            c.carry = (carry, carry_failed);
            c.requests += n;
            c.failures += failed;
            c.prompt_tokens += (n as f64 * PROMPT_TOKENS_PER_REQUEST) as u64;
            c.generation_tokens += (n as f64 * TOKENS_PER_REQUEST) as u64;
            c.request_duration_us += n as f64 * dist.mean(1.0) * 1e6;
            c.queue_duration_us += n as f64 * dist.mean_wait() * 1e6;
            c.e2e.observe(n, &e2e);
            c.ttft.observe(n, &ttft);
            c.itl.observe(n * (TOKENS_PER_REQUEST as u64 - 1), &itl);
        }
    }

    /// Restarts up to `count` ready instances in place (oldest first): same pod, counters
    /// from zero, as a container restart gives. Returns how many restarted.
    pub fn restart(&mut self, count: u32) -> u32 {
        let mut restarted = 0;
        for instance in self.instances.iter_mut().filter(|i| i.ready).take(count as usize) {
            instance.counters = Counters::new();
            restarted += 1;
        }
        restarted
    }

    /// The GPU exporters of the first `count` instances down (their GPUs leave the GPU
    /// page, their servers go on), the others' up. Returns how many are down.
    pub fn exporters_down(&mut self, count: u32) -> u32 {
        for (i, instance) in self.instances.iter_mut().enumerate() {
            instance.exporter_down = i < count as usize;
        }
        count.min(self.instances.len() as u32)
    }

    /// The instances whose GPU the exporters report.
    pub fn exported(&self) -> impl Iterator<Item = &Instance> {
        self.instances.iter().filter(|i| !i.exporter_down)
    }
}

/// The whole requests in `x`, and what is left over.
fn whole(x: f64) -> (u64, f64) {
    let n = x.max(0.0).floor();
    (n as u64, x.max(0.0) - n)
}

/// The distribution's q-quantile, by bisection on its distribution function.
fn quantile(dist: &LatencyDistribution, q: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 2.0 * crate::sim::QUEUE_TIMEOUT.as_secs_f64() + 100.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if dist.cdf(mid, 1.0) < q { lo = mid } else { hi = mid }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Sample, Timestamp};

    fn state(served_rps: f64, capacity_rps: f64) -> SimGroupState {
        SimGroupState {
            at: Timestamp(0),
            baseline_rps: served_rps,
            demand_rps: served_rps,
            served_rps,
            dropped_rps: 0.0,
            backlog: 0.0,
            capacity_rps,
            ready: 4,
        }
    }

    fn capacity(ready: u32, warming: u32) -> Capacity {
        Capacity { desired: ready + warming, ready, warming, failed: 0, observed_at: Timestamp(0) }
    }

    fn util(value: f64) -> Vec<MetricSample> {
        vec![MetricSample::new(MetricKind::GpuUtil, Sample { at: Timestamp(0), value })]
    }

    #[test]
    fn warming_instances_become_ready_oldest_first_and_scale_in_removes_the_newest() {
        let mut roster = GroupRoster::new("llm-chat", Serving::Vllm, "p5.48xlarge", 1);
        roster.update(&capacity(2, 2), &util(0.5), &state(10.0, 20.0), 0.3, 1.0);
        let pods: Vec<String> = roster.instances.iter().map(|i| i.pod.clone()).collect();
        assert_eq!(roster.ready().count(), 2);
        assert!(pods.iter().all(|p| p.starts_with("llm-chat-")), "{pods:?}");
        roster.update(&capacity(3, 1), &util(0.5), &state(10.0, 20.0), 0.3, 1.0);
        assert_eq!(roster.instances[2].pod, pods[2], "the oldest warming instance became ready");
        roster.update(&capacity(2, 0), &util(0.5), &state(10.0, 20.0), 0.3, 1.0);
        let left: Vec<&str> = roster.instances.iter().map(|i| i.pod.as_str()).collect();
        assert_eq!(left, [pods[0].as_str(), pods[1].as_str()]);
    }

    #[test]
    fn counters_split_the_served_requests_over_ready_instances_and_never_go_back() {
        let mut roster = GroupRoster::new("g", Serving::Vllm, "p5.48xlarge", 1);
        let mut last = vec![0; 4];
        for _ in 0..100 {
            roster.update(&capacity(4, 0), &util(0.5), &state(10.0, 20.0), 0.3, 1.0);
            let now: Vec<u64> = roster.instances.iter().map(|i| i.counters.requests).collect();
            assert!(now.iter().zip(&last).all(|(a, b)| a >= b));
            last = now;
        }
        // 10 req/s over 4 instances for 100 s: 250 each (fractions carried).
        assert!(last.iter().all(|&n| (249..=250).contains(&n)), "{last:?}");
        for c in roster.instances.iter().map(|i| &i.counters) {
            assert_eq!(c.e2e.count, c.requests, "+Inf is the count");
            assert!(
                c.e2e.buckets.windows(2).all(|w| w[0] <= w[1])
                    && *c.e2e.buckets.last().unwrap() <= c.e2e.count as f64
            );
        }
    }

    #[test]
    fn a_histogram_quantile_of_the_buckets_lands_in_the_bucket_of_the_models_p95() {
        let mut roster = GroupRoster::new("g", Serving::Vllm, "p5.48xlarge", 1);
        let s = state(18.0, 20.0);
        for _ in 0..600 {
            roster.update(&capacity(4, 0), &util(0.9), &s, 0.3, 1.0);
        }
        let inputs =
            LatencyInputs { service_time_s: 0.3, utilization: 0.9, capacity_rps: 20.0, backlog: 0.0 };
        let p95 = crate::sim::estimate_latency(&inputs).p95_s;
        let h = &roster.instances[0].counters.e2e;
        let rank = 0.95 * h.count as f64;
        let bucket = h.buckets.iter().position(|&c| c.round() >= rank).unwrap();
        let (lo, hi) = (if bucket == 0 { 0.0 } else { E2E_BUCKETS[bucket - 1] }, E2E_BUCKETS[bucket]);
        assert!(lo < p95 && p95 <= hi, "p95 {p95} outside bucket ({lo}, {hi}]");
    }

    #[test]
    fn a_restart_zeroes_the_counters_of_the_same_pod() {
        let mut roster = GroupRoster::new("g", Serving::Generic, "g5.xlarge", 1);
        for _ in 0..10 {
            roster.update(&capacity(2, 0), &util(0.5), &state(10.0, 20.0), 0.3, 1.0);
        }
        let pod = roster.instances[0].pod.clone();
        assert_eq!(roster.restart(1), 1);
        assert_eq!(
            (roster.instances[0].pod.as_str(), roster.instances[0].counters.requests),
            (pod.as_str(), 0)
        );
        assert!(roster.instances[1].counters.requests > 0);
    }

    #[test]
    fn a_scripted_gap_is_no_series_and_the_gauges_are_the_groups() {
        let mut roster = GroupRoster::new("g", Serving::Vllm, "p5.48xlarge", 1);
        roster.update(&capacity(2, 0), &[], &state(10.0, 20.0), 0.3, 1.0);
        assert!(roster.gap && roster.gauges.gpu_util.is_none());
        roster.update(&capacity(2, 0), &util(0.42), &state(10.0, 20.0), 0.3, 1.0);
        assert_eq!((roster.gap, roster.gauges.gpu_util), (false, Some(0.42)));
    }
}
