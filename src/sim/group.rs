//! One simulated group: its instances (ready, warming, recently failed), its launch
//! retries, its scripted incidents, its demand and queue, stepped by the fleet.
//!
//! Per step the work is constant apart from instances that change state in that step:
//! warming instances are a sorted queue of ready-at times (only the front is looked at),
//! failures are counted with one Poisson draw, recently failed instances are kept as
//! `(expiry, count)` batches. Nothing here allocates per step.

use std::collections::VecDeque;
use std::time::Duration;

use crate::model::{Capacity, GroupSpec, Timestamp};

use super::queue::{self, QueueStep};
use super::rng::{Rng, Stream};
use super::traffic::Noise;
use super::{SimGroupSpec, SimGroupState};

/// A failed instance is counted in `Capacity.failed` for this long.
pub const FAILED_VISIBLE_FOR: Duration = Duration::from_secs(300);

/// How long the sim waits before retrying launches that did not arrive (an ASG's
/// launch-failure backoff is of this order; it grows there, it is fixed here).
pub const LAUNCH_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// The most instances one group may ask for; beyond it `set_desired` is refused (an ASG
/// refuses desired above its max too), so a stray number cannot exhaust memory.
pub const MAX_INSTANCES_PER_GROUP: u32 = 100_000;

/// What the last step saw and did; samples are computed from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepRecord {
    pub at: Timestamp,
    pub baseline_rps: f64,
    pub demand_rps: f64,
    /// Ready instances during the step (warming ones never count).
    pub ready: u32,
    pub queue: QueueStep,
}

pub(crate) struct GroupSim {
    pub spec: GroupSpec,
    pub sim: SimGroupSpec,
    start: Timestamp,
    traffic_rng: Rng,
    instance_rng: Rng,
    pub sample_rng: Rng,
    noise: Noise,
    desired: u32,
    ready: u32,
    /// Ready-at times of launched instances, ascending.
    warming: VecDeque<Timestamp>,
    /// Batches of recently failed instances: (no longer counted at, how many), oldest first.
    failed: VecDeque<(Timestamp, u32)>,
    failed_count: u32,
    /// Unmet desired is not retried before this.
    retry_at: Timestamp,
    /// Active spikes: (last instant they apply, factor).
    spikes: Vec<(Timestamp, f64)>,
    /// No samples at sim times before this.
    pub gap_until: Timestamp,
    /// Launch attempts before this fail.
    stockout_until: Timestamp,
    pub last: StepRecord,
}

impl GroupSim {
    pub(crate) fn new(spec: &GroupSpec, sim: &SimGroupSpec, seed: u64, start: Timestamp) -> Self {
        let ready = spec.desired.min(MAX_INSTANCES_PER_GROUP);
        // Sampling before the first step sees the start state with an empty queue.
        let baseline = sim.traffic.baseline_rps(Duration::ZERO);
        let served_rps = baseline.min(f64::from(ready) * sim.capacity_rps_per_instance.max(0.0));
        let queue = QueueStep { backlog: 0.0, served_rps, dropped_rps: 0.0 };
        GroupSim {
            spec: spec.clone(),
            sim: sim.clone(),
            start,
            traffic_rng: Rng::for_group(seed, &spec.name, Stream::Traffic),
            instance_rng: Rng::for_group(seed, &spec.name, Stream::Instances),
            sample_rng: Rng::for_group(seed, &spec.name, Stream::Samples),
            noise: Noise::default(),
            desired: ready,
            ready,
            warming: VecDeque::new(),
            failed: VecDeque::new(),
            failed_count: 0,
            retry_at: start,
            spikes: Vec::new(),
            gap_until: start,
            stockout_until: start,
            last: StepRecord { at: start, baseline_rps: baseline, demand_rps: baseline, ready, queue },
        }
    }

    fn capacity_rps(&self, ready: u32) -> f64 {
        f64::from(ready) * self.sim.capacity_rps_per_instance.max(0.0)
    }

    /// Runs the group from the previous step to `now`, `dt_s` seconds later.
    pub(crate) fn step(&mut self, now: Timestamp, dt_s: f64) {
        while self.failed.front().is_some_and(|&(until, _)| until <= now) {
            let (_, count) = self.failed.pop_front().unwrap_or_default();
            self.failed_count -= count;
        }
        while self.warming.front().is_some_and(|&at| at <= now) {
            self.warming.pop_front();
            self.ready += 1;
        }
        if self.sim.instance_failures_per_hour > 0.0 && self.ready > 0 {
            let mean = f64::from(self.ready) * self.sim.instance_failures_per_hour * dt_s / 3600.0;
            let failures = self.instance_rng.poisson(mean).min(u64::from(self.ready)) as u32;
            self.fail_ready(now, failures);
        }
        self.reconcile(now);

        let since_start = now.since(self.start);
        let baseline = self.sim.traffic.baseline_rps(since_start);
        let noise = self.noise.step(self.sim.traffic.noise(), dt_s, &mut self.traffic_rng);
        self.spikes.retain(|&(until, _)| until >= now);
        let spike: f64 = self.spikes.iter().map(|&(_, factor)| factor).product();
        let demand = baseline * noise * spike;

        let capacity = self.capacity_rps(self.ready);
        let limit = queue::queue_limit(self.ready, self.sim.capacity_rps_per_instance);
        let queue = queue::queue_step(self.last.queue.backlog, demand, capacity, dt_s, limit);
        self.last =
            StepRecord { at: now, baseline_rps: baseline, demand_rps: demand, ready: self.ready, queue };
    }

    /// Removes up to `count` ready instances as failed; returns how many failed.
    pub(crate) fn fail_ready(&mut self, now: Timestamp, count: u32) -> u32 {
        let count = count.min(self.ready);
        if count > 0 {
            self.ready -= count;
            self.failed_count += count;
            self.failed.push_back((now.plus(FAILED_VISIBLE_FOR), count));
        }
        count
    }

    /// Launches what desired still lacks, unless a retry backoff is running.
    pub(crate) fn reconcile(&mut self, now: Timestamp) {
        let shortfall = self.desired.saturating_sub(self.ready + self.warming.len() as u32);
        if shortfall == 0 || now < self.retry_at {
            return;
        }
        let stockout = now < self.stockout_until;
        let (min, max) = (self.spec.warmup.min.as_secs_f64(), self.spec.warmup.max.as_secs_f64());
        let mut lost = 0;
        for _ in 0..shortfall {
            if stockout || self.instance_rng.chance(self.sim.launch_failure_probability) {
                lost += 1;
                continue;
            }
            let warmup_s = self.instance_rng.uniform_between(min, max.max(min));
            // Config bounds warm-ups to a day; a value from elsewhere must not panic either.
            let warmup = Duration::try_from_secs_f64(warmup_s).unwrap_or(self.spec.warmup.max);
            self.warming.push_back(now.plus(warmup));
        }
        self.warming.make_contiguous().sort_unstable();
        if lost > 0 {
            self.retry_at = now.plus(LAUNCH_RETRY_BACKOFF);
        }
    }

    /// Sets desired: scale-in removes warming instances (furthest from ready first), then
    /// ready ones; scale-out launches at once (a raised desired is not held back by the
    /// retry backoff of earlier failed launches, as with an ASG).
    pub(crate) fn set_desired(&mut self, now: Timestamp, desired: u32) {
        if desired > self.desired {
            self.retry_at = now;
        }
        self.desired = desired;
        let mut excess = (self.ready + self.warming.len() as u32).saturating_sub(desired);
        while excess > 0 && self.warming.pop_back().is_some() {
            excess -= 1;
        }
        self.ready -= excess;
        self.reconcile(now);
    }

    pub(crate) fn add_spike(&mut self, now: Timestamp, factor: f64, duration: Duration) {
        self.spikes.push((now.plus(duration), factor));
    }

    pub(crate) fn start_stockout(&mut self, now: Timestamp, duration: Duration) {
        self.stockout_until = self.stockout_until.max(now.plus(duration));
    }

    pub(crate) fn start_gap(&mut self, now: Timestamp, duration: Duration) {
        self.gap_until = self.gap_until.max(now.plus(duration));
    }

    pub(crate) fn capacity(&self, now: Timestamp) -> Capacity {
        Capacity {
            desired: self.desired,
            ready: self.ready,
            warming: self.warming.len() as u32,
            failed: self.failed_count,
            observed_at: now,
        }
    }

    pub(crate) fn state(&self) -> SimGroupState {
        let last = &self.last;
        SimGroupState {
            at: last.at,
            baseline_rps: last.baseline_rps,
            demand_rps: last.demand_rps,
            served_rps: last.queue.served_rps,
            dropped_rps: last.queue.dropped_rps,
            backlog: last.queue.backlog,
            capacity_rps: self.capacity_rps(last.ready),
            ready: last.ready,
        }
    }
}
