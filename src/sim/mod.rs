//! The simulated fleet: traffic, instances, queues and incidents for every group,
//! deterministic from a seed, on a caller-driven clock. The console passes real time,
//! tests and `replay` pass virtual time; the sim never reads a clock and knows nothing
//! of the engine, the policy or the screen. [`SimSource`](crate::sources::SimSource) and
//! [`SimActuator`](crate::actuators::SimActuator) call `advance_to(now)` and then
//! `sample()` / `capacity()` / `set_desired()`.
//!
//! # Layout
//!
//! - `fleet`: [`SimFleet`], the clock and step loop, scheduled incidents.
//! - `group`: one group's instances (ready, warming, failed), launches and retries.
//! - `traffic`: the noiseless demand curves and the demand noise.
//! - `queue`: the pure queueing and latency functions.
//! - `metrics`: the samples a group reports, and metric gaps.
//! - `trace`: CSV request-rate traces.
//! - `rng`: the seeded random number generator.
//!
//! # The model
//!
//! **Time.** The state advances in fixed steps of `dt` = 1 s; samples describe the end of
//! the last step. `advance_to(now)` runs the whole steps up to `now` (earlier instants are
//! ignored). A jump longer than [`FINE_CATCH_UP`] (1 h) runs the part before the last hour
//! in coarse steps of ≥ 60 s, at most [`MAX_COARSE_STEPS`] of them, so the first call
//! after a night costs milliseconds, not minutes. A step costs ~80 ns per group and
//! allocates nothing (bench `sim step, 100 groups`: ~8 µs), so stepping on every poll is free.
//!
//! **Incidents** (`SimCommand`) applied at sim time `T` for `D`: a spike multiplies the
//! demand of the steps in `(T, T + D]`; a gap empties the samples stamped in `[T, T + D)`;
//! a stockout fails the launch attempts in `[T, T + D)`; `fail N` removes N ready
//! instances at `T`. A scheduled incident is applied at the end of the first step at or
//! after its time, and reported by `take_applied()`.
//!
//! **Demand** (requests/s) = `baseline(t) × noise(t) × Π active spike factors`, with `t`
//! the time since start:
//! - constant: `rps`;
//! - diurnal: `base + (peak − base)·(1 + cos 2π(t − peak_at)/period)/2`, times
//!   `weekend_factor` in periods 6 and 7 of every 7;
//! - flash crowd: `base × (1 + (factor − 1)·level)`, `level` rising linearly 0 → 1 over
//!   `ramp` from `at`, held for `hold`, falling back over `ramp`;
//! - ramp: linear from `from_rps` to `to_rps` over `[start, start + over]`;
//! - trace: the trace's step function × `scale`, looped or held after its end.
//!
//! Noise is multiplicative and lognormal, `exp(x − σ²/2)` with σ² = ln(1 + noise²), so
//! its mean is 1 and its relative standard deviation is `noise`; `x` is the sum of two
//! AR(1) processes (τ = 120 s carrying 70 % of the variance, τ = 4 s the rest): traffic
//! that wanders and flickers like the real thing on a sparkline. Noise 0 is exactly 1.
//!
//! **Instances.** A group starts with `desired` instances ready. A launch becomes ready
//! after a warm-up drawn uniformly from `GroupSpec.warmup`; warming instances never
//! serve and their metrics are never read. Whenever `ready + warming < desired` the
//! shortfall is launched; each launch is lost with `launch_failure_probability` (always,
//! during a stockout) and then the shortfall is retried after a 30 s backoff, as an ASG
//! does. Ready instances fail at `instance_failures_per_hour` each (Poisson); a failed
//! instance is removed, shows in `Capacity.failed` for 5 minutes, and is replaced by
//! a new launch since desired did not change. Scale-in removes warming instances first
//! (furthest from ready first), then ready ones.
//!
//! **Queue** (fluid, per step): with capacity `μ = ready × capacity_rps_per_instance`
//! and demand `λ`, `backlog ← max(0, backlog + (λ − μ)·dt)`, capped at what `μ` drains
//! in the 60 s [`QUEUE_TIMEOUT`] (counting at least one instance); what exceeds the cap is
//! dropped and reported as the error rate. Served rate = `min(λ·dt + backlog, μ·dt)/dt`.
//!
//! **Latency** ([`estimate_latency`], pure): `p_q = s·e^{0.3·z_q} + min(W_q + B/μ, 60 s)`.
//! The first term is a lognormal service time around the idle median `s` (`service_time`).
//! `W_q` is the q-quantile of the M/M/c wait with `c = μ·s` servers (Little's law) and
//! utilization `ρ = min(λ/μ, 0.99)`: a wait happens with probability `P = ρ^(√(2(c+1))−1)`
//! (Sakasegawa's approximation, exact for c = 1) and is then exponential with rate
//! `c(1 − ρ)/s`, so `W_q = max(0, ln(P/(1 − q)))·s/(c(1 − ρ))`. `B/μ` is the time to drain
//! the backlog ahead of a new request. Latency thus stays near `s` at moderate load, rises
//! steeply as ρ → 1, keeps rising with the backlog beyond saturation, and never exceeds
//! the timeout (also when μ = 0). It is non-decreasing in ρ and p50 ≤ p95 ≤ p99.
//!
//! **Metrics** (units of [`crate::model`]), from the last step:
//! - `request_rate` = λ (also 0 when idle); `error_rate` = dropped requests/s;
//! - `queue_length` = backlog + λ × mean wait (Little's law on the steady-state wait);
//! - `latency_p50/p95/p99` as above, only when λ > 0 (a percentile of nothing is undefined);
//! - `gpu_util` = served / μ (busy fraction), only with ready instances;
//! - `gpu_mem`: generic servers 0.30 + 0.55 × gpu_util (weights plus load-dependent
//!   activations); vLLM 0.90 whatever the load (it preallocates);
//! - vLLM only: `kv_cache_usage` = 0.02 + 0.96 × gpu_util, `time_to_first_token` = 0.15·s +
//!   median wait (prefill is ~15 % of a request; queueing delays the first token fully),
//!   `tokens_per_second` = served × 200.
//!
//! Metric gaps: during a scripted gap `sample()` returns nothing; otherwise each series is
//! left out of one `sample()` call with `metric_gap_probability`.
//!
//! **Determinism.** The same seed and the same calls give the same samples and
//! capacities. Each group has its own random streams keyed by (seed, group name,
//! purpose): traffic noise, instance events and metric gaps draw from separate streams,
//! so adding a group, polling more often or scaling differently leaves every other
//! stream, and the group's own demand, unchanged.

use std::sync::Arc;
use std::time::Duration;

use crate::model::Timestamp;

mod fleet;
mod group;
mod metrics;
mod queue;
pub(crate) mod rng;
#[cfg(test)]
pub(crate) mod shared_traces;
mod trace;
mod traffic;

#[cfg(test)]
mod tests;

pub use fleet::{FINE_CATCH_UP, MAX_COARSE_STEPS, MIN_COARSE_STEP, STEP, SimFleet};
pub use group::{FAILED_VISIBLE_FOR, LAUNCH_RETRY_BACKOFF, MAX_INSTANCES_PER_GROUP};
pub use metrics::{
    GENERIC_GPU_MEM_IDLE, GENERIC_GPU_MEM_PER_UTIL, KV_CACHE_IDLE, KV_CACHE_PER_UTIL, PREFILL_SHARE,
    TOKENS_PER_REQUEST, VLLM_GPU_MEM,
};
pub use queue::{
    LatencyDistribution, LatencyEstimate, LatencyInputs, MAX_STEADY_UTILIZATION, QUEUE_TIMEOUT, QueueStep,
    SERVICE_TIME_SIGMA, estimate_latency, queue_limit, queue_step,
};
pub use trace::{Trace, TraceError, TraceFileError};

/// How one group behaves in the simulator (beyond its [`GroupSpec`](crate::model::GroupSpec)).
#[derive(Clone, Debug, PartialEq)]
pub struct SimGroupSpec {
    /// Requests per second one ready instance serves at 100 % utilization.
    pub capacity_rps_per_instance: f64,
    /// Median latency of a request on an idle instance.
    pub service_time: Duration,
    pub traffic: TrafficSpec,
    /// Random instance failures, per ready instance per hour (0 = none).
    pub instance_failures_per_hour: f64,
    /// Probability that one poll of one series finds no new sample (0 = never).
    pub metric_gap_probability: f64,
    /// Probability that a requested launch never arrives (no GPU capacity in the zone).
    pub launch_failure_probability: f64,
}

impl Default for SimGroupSpec {
    fn default() -> Self {
        SimGroupSpec {
            capacity_rps_per_instance: 10.0,
            service_time: Duration::from_millis(300),
            traffic: TrafficSpec::Constant { rps: 10.0, noise: 0.0 },
            instance_failures_per_hour: 0.0,
            metric_gap_probability: 0.0,
            launch_failure_probability: 0.0,
        }
    }
}

/// Demand (requests/s) over time. Offsets (`peak_at`, `at`, `start`) are measured from the
/// simulation start. `noise` is the relative standard deviation of multiplicative noise.
#[derive(Clone, Debug, PartialEq)]
pub enum TrafficSpec {
    Constant {
        rps: f64,
        noise: f64,
    },
    /// Daily cycle between `base_rps` (trough) and `peak_rps` (peak at `peak_at` into each
    /// `period`); days 6 and 7 of each week of periods are scaled by `weekend_factor`.
    Diurnal {
        base_rps: f64,
        peak_rps: f64,
        peak_at: Duration,
        period: Duration,
        weekend_factor: f64,
        noise: f64,
    },
    /// `base_rps`, then at `at` a rise to `base_rps × factor` over `ramp`, held for `hold`,
    /// then back down over `ramp`.
    FlashCrowd {
        base_rps: f64,
        factor: f64,
        at: Duration,
        ramp: Duration,
        hold: Duration,
        noise: f64,
    },
    /// Linear from `from_rps` to `to_rps` between `start` and `start + over`, flat around it.
    Ramp {
        from_rps: f64,
        to_rps: f64,
        start: Duration,
        over: Duration,
        noise: f64,
    },
    /// A recorded trace, rates × `scale`; after its end it loops if `looped`, else holds.
    Trace {
        trace: Arc<Trace>,
        scale: f64,
        looped: bool,
    },
}

/// A mistake in a request to the simulator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("no group named `{0}` in the simulated fleet")]
    UnknownGroup(String),
    #[error("group `{group}`: {requested} instances asked, the simulator allows at most {limit}")]
    TooManyInstances { group: String, requested: u32, limit: u32 },
    /// A command the simulator cannot carry out as given (e.g. a negative spike factor).
    #[error("{0}")]
    InvalidCommand(String),
}

/// What a group's queue did in the last step, for tests, the console's sim panel and
/// `replay`'s scoring.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimGroupState {
    /// The step this describes.
    pub at: Timestamp,
    /// The traffic shape's demand, before noise and spikes.
    pub baseline_rps: f64,
    /// Requests/s arriving (baseline × noise × spikes).
    pub demand_rps: f64,
    pub served_rps: f64,
    /// Requests/s dropped because the queue was full.
    pub dropped_rps: f64,
    /// Requests waiting at the end of the step.
    pub backlog: f64,
    /// What the ready instances could serve, requests/s.
    pub capacity_rps: f64,
    /// Instances that served in the step.
    pub ready: u32,
}
