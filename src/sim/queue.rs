//! The queueing model as pure functions: the fluid backlog step and the latency
//! estimate. No state, no randomness, no clock: everything they need is passed in, so
//! they can be property-tested and reused by `replay`'s oracle. The equations and why
//! they were chosen are in the `sim` module docs.

use std::time::Duration;

/// How long a request may wait before the load balancer gives up on it (AWS ALB's default
/// idle timeout). Bounds both the queue (backlog beyond what drains in this time is
/// dropped) and any latency the model reports.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(60);

/// Spread of an idle instance's service time: lognormal with this σ around the median,
/// so p95 ≈ 1.64 × and p99 ≈ 2.01 × the median — typical of LLM generations of varying length.
pub const SERVICE_TIME_SIGMA: f64 = 0.3;

/// The utilization the steady-state wait formula is capped at. At and beyond it the
/// fluid backlog takes over, so latency stays finite and continuous.
pub const MAX_STEADY_UTILIZATION: f64 = 0.99;

/// Standard normal quantiles of p50, p95, p99.
const Z: [f64; 3] = [0.0, 1.644_853_626_951_472_2, 2.326_347_874_040_840_8];
const QUANTILES: [f64; 3] = [0.50, 0.95, 0.99];

/// One fluid step of a group's queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueStep {
    /// Requests waiting after the step (never negative, never above the limit).
    pub backlog: f64,
    /// Requests/s actually served during the step.
    pub served_rps: f64,
    /// Requests/s dropped because the queue was full (the error rate).
    pub dropped_rps: f64,
}

/// The largest backlog the group holds: what its capacity drains in [`QUEUE_TIMEOUT`],
/// counting at least one instance so an outage still shows a queue building up.
pub fn queue_limit(ready: u32, capacity_rps_per_instance: f64) -> f64 {
    QUEUE_TIMEOUT.as_secs_f64() * f64::from(ready.max(1)) * capacity_rps_per_instance.max(0.0)
}

/// Runs the queue for `dt_s` seconds: `backlog += (demand − capacity)·dt`, floored at 0
/// and capped at `limit`; what exceeds the cap is dropped.
pub fn queue_step(backlog: f64, demand_rps: f64, capacity_rps: f64, dt_s: f64, limit: f64) -> QueueStep {
    let (demand, capacity) = (demand_rps.max(0.0), capacity_rps.max(0.0));
    let backlog = backlog.max(0.0);
    if dt_s <= 0.0 {
        return QueueStep { backlog, served_rps: 0.0, dropped_rps: 0.0 };
    }
    let work = backlog + demand * dt_s;
    let served = work.min(capacity * dt_s);
    let left = work - served;
    let kept = left.min(limit.max(0.0));
    QueueStep { backlog: kept, served_rps: served / dt_s, dropped_rps: (left - kept) / dt_s }
}

/// What the latency estimate depends on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyInputs {
    /// Median service time on an idle instance, seconds.
    pub service_time_s: f64,
    /// Offered load over ready capacity (demand / capacity); may exceed 1.
    pub utilization: f64,
    /// Ready capacity, requests/s; 0 means nothing serves.
    pub capacity_rps: f64,
    /// Requests already waiting (the fluid backlog).
    pub backlog: f64,
}

/// Latency percentiles (seconds) and the mean steady-state wait that produced them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyEstimate {
    pub p50_s: f64,
    pub p95_s: f64,
    pub p99_s: f64,
    /// Median time spent waiting before service starts (for time to first token).
    pub wait_p50_s: f64,
    /// Mean steady-state wait, for Little's-law queue length (excludes backlog drain).
    pub mean_wait_s: f64,
}

/// The latency model: service-time percentile + the M/M/c waiting-time percentile
/// (Sakasegawa's approximation) + the time to drain the backlog, the wait capped at
/// [`QUEUE_TIMEOUT`]. Non-decreasing in utilization and in backlog; p50 ≤ p95 ≤ p99.
pub fn estimate_latency(inputs: &LatencyInputs) -> LatencyEstimate {
    let dist = LatencyDistribution::new(inputs);
    let [p50, p95, p99] = [0, 1, 2].map(|i| dist.at(Z[i], QUANTILES[i], 1.0));
    LatencyEstimate {
        p50_s: p50,
        p95_s: p95,
        p99_s: p99,
        wait_p50_s: dist.wait_quantile(QUANTILES[0]),
        mean_wait_s: dist.mean_wait(),
    }
}

/// The whole distribution behind [`estimate_latency`], for what needs more than three
/// percentiles (`sim serve`'s histograms). A request's latency at normal score `z` is
/// `share · s·e^{σz} + W(Φ(z))`: service and wait taken at the same quantile (the
/// comonotone sum, which is how the three percentiles are formed), with `share` the part
/// of the service time counted (1 for the whole request; the prefill share for the time
/// to first token).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyDistribution {
    service_s: f64,
    /// The wait when it does not depend on the quantile (nothing serves: the timeout).
    fixed_wait_s: Option<f64>,
    p_wait: f64,
    wait_rate: f64,
    drain_s: f64,
}

impl LatencyDistribution {
    pub fn new(inputs: &LatencyInputs) -> Self {
        let service_s = if inputs.service_time_s > 0.0 { inputs.service_time_s } else { 0.0 };
        let timeout = QUEUE_TIMEOUT.as_secs_f64();
        let idle =
            LatencyDistribution { service_s, fixed_wait_s: None, p_wait: 0.0, wait_rate: 1.0, drain_s: 0.0 };
        if inputs.capacity_rps.is_nan() || inputs.capacity_rps <= 0.0 || service_s == 0.0 {
            // Nothing serves (or nothing takes time): every request waits out the timeout.
            let wait = if inputs.capacity_rps > 0.0 { 0.0 } else { timeout };
            return LatencyDistribution { fixed_wait_s: Some(wait), ..idle };
        }
        let rho = if inputs.utilization > 0.0 { inputs.utilization.min(MAX_STEADY_UTILIZATION) } else { 0.0 };
        // Little's law: an instance serving `capacity` req/s at `service` s each has
        // capacity × service requests in flight; the group is an M/M/c queue with that many servers.
        let servers = (inputs.capacity_rps * service_s).max(1.0);
        LatencyDistribution {
            // Sakasegawa (1977): P(wait) ≈ ρ^(√(2(c+1)) − 1); exact for c = 1 (M/M/1).
            p_wait: rho.powf((2.0 * (servers + 1.0)).sqrt() - 1.0),
            // Given a wait, it is exponential with rate c(1 − ρ)/service.
            wait_rate: servers * (1.0 - rho) / service_s,
            drain_s: inputs.backlog.max(0.0) / inputs.capacity_rps,
            ..idle
        }
    }

    /// The wait's q-quantile: the steady-state wait plus the backlog's drain, capped at
    /// the timeout.
    pub fn wait_quantile(&self, q: f64) -> f64 {
        if let Some(wait) = self.fixed_wait_s {
            return wait;
        }
        let steady =
            if self.p_wait > 1.0 - q { (self.p_wait / (1.0 - q)).ln() / self.wait_rate } else { 0.0 };
        (steady + self.drain_s).min(QUEUE_TIMEOUT.as_secs_f64())
    }

    /// The mean wait (steady state plus drain), for Little's-law queue length.
    pub fn mean_wait(&self) -> f64 {
        self.fixed_wait_s
            .unwrap_or_else(|| (self.p_wait / self.wait_rate + self.drain_s).min(QUEUE_TIMEOUT.as_secs_f64()))
    }

    /// Mean latency counting `share` of the service time: the lognormal's mean
    /// `s·e^{σ²/2}` plus the mean wait.
    pub fn mean(&self, share: f64) -> f64 {
        share * self.service_s * (SERVICE_TIME_SIGMA * SERVICE_TIME_SIGMA / 2.0).exp() + self.mean_wait()
    }

    /// The latency at normal score `z`, which is the `q` = Φ(z) quantile.
    fn at(&self, z: f64, q: f64, share: f64) -> f64 {
        share * self.service_s * (SERVICE_TIME_SIGMA * z).exp() + self.wait_quantile(q)
    }

    /// The share of requests at most `x` seconds long: the quantile function inverted by
    /// bisection on the normal score (it is non-decreasing in it).
    pub fn cdf(&self, x: f64, share: f64) -> f64 {
        let (mut lo, mut hi) = (-8.0_f64, 8.0_f64);
        let latency = |z: f64| self.at(z, normal_cdf(z), share);
        if latency(lo) > x {
            return 0.0;
        }
        if latency(hi) <= x {
            return 1.0;
        }
        for _ in 0..48 {
            let mid = (lo + hi) / 2.0;
            if latency(mid) <= x { lo = mid } else { hi = mid }
        }
        normal_cdf(lo)
    }
}

/// Φ(z), the standard normal distribution function, from erfc by Abramowitz and Stegun
/// 7.1.26 (absolute error below 1.5e-7: far finer than any histogram bucket).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 { 1.0 - erfc / 2.0 } else { erfc / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(utilization: f64) -> LatencyInputs {
        LatencyInputs { service_time_s: 0.3, utilization, capacity_rps: 40.0, backlog: 0.0 }
    }

    #[test]
    fn idle_latency_is_the_service_time_spread() {
        let idle = estimate_latency(&inputs(0.0));
        assert!((idle.p50_s - 0.3).abs() < 1e-12);
        assert!((idle.p95_s / idle.p50_s - 1.638).abs() < 0.01);
        assert!((idle.p99_s / idle.p50_s - 2.010).abs() < 0.01);
    }

    #[test]
    fn latency_rises_sharply_near_full_utilization() {
        let p95 = |u| estimate_latency(&inputs(u)).p95_s;
        assert!(p95(0.5) < 0.6, "{}", p95(0.5));
        assert!(p95(0.95) > 2.0 * p95(0.5), "{} vs {}", p95(0.95), p95(0.5));
        assert!(p95(5.0).is_finite());
    }

    #[test]
    fn backlog_adds_its_drain_time() {
        let without = estimate_latency(&inputs(1.0));
        let with = estimate_latency(&LatencyInputs { backlog: 400.0, ..inputs(1.0) });
        assert!((with.p50_s - without.p50_s - 10.0).abs() < 1e-9);
    }

    #[test]
    fn latency_is_bounded_by_the_timeout_when_nothing_serves() {
        let none =
            estimate_latency(&LatencyInputs { capacity_rps: 0.0, backlog: 1e9, ..inputs(f64::INFINITY) });
        assert!((none.p99_s - (0.3 * (SERVICE_TIME_SIGMA * Z[2]).exp() + 60.0)).abs() < 1e-9);
    }

    #[test]
    fn queue_grows_by_the_excess_and_drops_beyond_the_limit() {
        let step = queue_step(0.0, 15.0, 10.0, 1.0, 100.0);
        assert_eq!(step, QueueStep { backlog: 5.0, served_rps: 10.0, dropped_rps: 0.0 });
        let full = queue_step(98.0, 15.0, 10.0, 1.0, 100.0);
        assert_eq!(full, QueueStep { backlog: 100.0, served_rps: 10.0, dropped_rps: 3.0 });
        let drain = queue_step(3.0, 5.0, 10.0, 1.0, 100.0);
        assert_eq!(drain, QueueStep { backlog: 0.0, served_rps: 8.0, dropped_rps: 0.0 });
    }

    #[test]
    fn the_distribution_agrees_with_the_three_percentiles() {
        for (u, backlog) in [(0.0, 0.0), (0.5, 0.0), (0.95, 0.0), (1.0, 400.0)] {
            let inputs = LatencyInputs { backlog, ..inputs(u) };
            let (estimate, dist) = (estimate_latency(&inputs), LatencyDistribution::new(&inputs));
            for (q, p) in [(0.50, estimate.p50_s), (0.95, estimate.p95_s), (0.99, estimate.p99_s)] {
                let share = dist.cdf(p, 1.0);
                assert!((share - q).abs() < 1e-3, "u {u}: F({p}) = {share}, not {q}");
            }
            assert!(dist.cdf(0.0, 1.0) == 0.0 && dist.cdf(1e6, 1.0) == 1.0);
            assert!(dist.mean(1.0) > estimate.p50_s * 0.9 && dist.mean(1.0) < estimate.p99_s);
        }
    }

    #[test]
    fn the_normal_distribution_function_is_accurate() {
        for (z, phi) in [(0.0, 0.5), (1.644_853_6, 0.95), (-2.326_347_9, 0.01), (3.0, 0.998_650_1)] {
            assert!((normal_cdf(z) - phi).abs() < 2e-7, "Φ({z}) = {}", normal_cdf(z));
        }
    }

    proptest! {
        #[test]
        fn latency_is_monotone_in_utilization_and_percentiles_are_ordered(
            service in 0.001f64..30.0,
            capacity in 0.0f64..10_000.0,
            backlog in 0.0f64..100_000.0,
            u1 in 0.0f64..3.0,
            u2 in 0.0f64..3.0,
        ) {
            let (lo, hi) = if u1 <= u2 { (u1, u2) } else { (u2, u1) };
            let at = |u| estimate_latency(
                &LatencyInputs { service_time_s: service, utilization: u, capacity_rps: capacity, backlog },
            );
            let (a, b) = (at(lo), at(hi));
            for (x, y) in [(a.p50_s, b.p50_s), (a.p95_s, b.p95_s), (a.p99_s, b.p99_s)] {
                prop_assert!(x <= y, "u {lo} → {hi}: {x} > {y}");
            }
            for e in [a, b] {
                prop_assert!(e.p50_s <= e.p95_s && e.p95_s <= e.p99_s, "{e:?}");
                prop_assert!(e.p99_s.is_finite() && e.p50_s >= service);
            }
        }

        #[test]
        fn backlog_is_never_negative_nor_above_its_limit(
            steps in proptest::collection::vec((0.0f64..1000.0, 0.0f64..1000.0, 0.1f64..60.0), 1..200),
            limit in 0.0f64..10_000.0,
        ) {
            let mut backlog = 0.0;
            for (demand, capacity, dt) in steps {
                let step = queue_step(backlog, demand, capacity, dt, limit);
                prop_assert!(step.backlog >= 0.0 && step.backlog <= limit);
                prop_assert!(step.served_rps <= capacity + 1e-9 && step.dropped_rps >= 0.0);
                backlog = step.backlog;
            }
        }
    }
}
