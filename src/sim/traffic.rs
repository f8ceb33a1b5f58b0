//! Traffic shapes: the noiseless demand curve of each [`TrafficSpec`] as a pure function of
//! the time since the simulation started, and the smoothed multiplicative noise laid on
//! top of it. Knows nothing of instances or queues.

use std::f64::consts::TAU;
use std::time::Duration;

use super::TrafficSpec;
use super::rng::Rng;

/// Time constants of the two AR(1) noise components and the share of variance each carries.
/// A slow wander (2 min) plus a fast flicker (4 s) reads as real traffic on a sparkline;
/// pure white noise looks like static, a single slow component looks like a drawn curve.
const NOISE_SLOW_TAU_S: f64 = 120.0;
const NOISE_FAST_TAU_S: f64 = 4.0;
const NOISE_SLOW_SHARE: f64 = 0.7;

impl TrafficSpec {
    /// Demand in requests/s at `since_start`, before noise and scripted spikes.
    pub fn baseline_rps(&self, since_start: Duration) -> f64 {
        let t = since_start.as_secs_f64();
        let rps = match self {
            TrafficSpec::Constant { rps, .. } => *rps,
            TrafficSpec::Diurnal { base_rps, peak_rps, peak_at, period, weekend_factor, .. } => {
                let period_s = period.as_secs_f64().max(1.0);
                // Cosine between trough and peak, 1 at `peak_at` into each period.
                let phase = (t - peak_at.as_secs_f64()) / period_s;
                let shape = 0.5 * (1.0 + (TAU * phase).cos());
                let day = (t / period_s).floor() as i64;
                let weekday = day.rem_euclid(7);
                let factor = if weekday >= 5 { *weekend_factor } else { 1.0 };
                (base_rps + (peak_rps - base_rps) * shape) * factor
            }
            TrafficSpec::FlashCrowd { base_rps, factor, at, ramp, hold, .. } => {
                let into = t - at.as_secs_f64();
                let ramp_s = ramp.as_secs_f64();
                let hold_s = hold.as_secs_f64();
                // 0 before and after the crowd, 1 while it holds, linear on the ramps.
                let level = if into < 0.0 || into >= 2.0 * ramp_s + hold_s {
                    0.0
                } else if into < ramp_s {
                    into / ramp_s
                } else if into < ramp_s + hold_s {
                    1.0
                } else {
                    1.0 - (into - ramp_s - hold_s) / ramp_s
                };
                base_rps * (1.0 + (factor - 1.0) * level)
            }
            TrafficSpec::Ramp { from_rps, to_rps, start, over, .. } => {
                let into = t - start.as_secs_f64();
                let over_s = over.as_secs_f64();
                let done = if into <= 0.0 {
                    0.0
                } else if over_s <= 0.0 || into >= over_s {
                    1.0
                } else {
                    into / over_s
                };
                from_rps + (to_rps - from_rps) * done
            }
            TrafficSpec::Trace { trace, scale, looped } => {
                let t = if *looped { trace.looped_time(t) } else { t };
                trace.rate_at(t) * scale
            }
        };
        if rps.is_finite() { rps.max(0.0) } else { 0.0 }
    }

    /// Relative standard deviation of the noise on this shape (traces carry their own).
    pub fn noise(&self) -> f64 {
        let noise = match self {
            TrafficSpec::Constant { noise, .. }
            | TrafficSpec::Diurnal { noise, .. }
            | TrafficSpec::FlashCrowd { noise, .. }
            | TrafficSpec::Ramp { noise, .. } => *noise,
            TrafficSpec::Trace { .. } => 0.0,
        };
        if noise.is_finite() { noise.max(0.0) } else { 0.0 }
    }
}

/// Multiplicative demand noise: `exp(x − σ²/2)` where `x` is the sum of two AR(1)
/// processes in log space whose stationary variance is σ² = ln(1 + noise²). That makes the
/// factor lognormal with mean exactly 1 and relative standard deviation exactly `noise`,
/// whatever the step length, and never negative.
#[derive(Clone, Debug, Default)]
pub(crate) struct Noise {
    slow: f64,
    fast: f64,
}

impl Noise {
    /// Advances by `dt_s` seconds and returns the new factor. Draws nothing when
    /// `noise` is 0, so noiseless groups are exactly on their baseline.
    pub(crate) fn step(&mut self, noise: f64, dt_s: f64, rng: &mut Rng) -> f64 {
        if noise <= 0.0 {
            return 1.0;
        }
        let var = (1.0 + noise * noise).ln();
        let (z_slow, z_fast) = rng.normal_pair();
        self.slow = ar1(self.slow, var * NOISE_SLOW_SHARE, NOISE_SLOW_TAU_S, dt_s, z_slow);
        self.fast = ar1(self.fast, var * (1.0 - NOISE_SLOW_SHARE), NOISE_FAST_TAU_S, dt_s, z_fast);
        (self.slow + self.fast - var / 2.0).exp()
    }
}

/// One AR(1) (Ornstein–Uhlenbeck) step that keeps the stationary variance `var` for any `dt`.
fn ar1(x: f64, var: f64, tau_s: f64, dt_s: f64, z: f64) -> f64 {
    let a = (-dt_s / tau_s).exp();
    a * x + (var * (1.0 - a * a)).sqrt() * z
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn diurnal_peaks_at_peak_at_and_troughs_half_a_period_later() {
        let spec = TrafficSpec::Diurnal {
            base_rps: 10.0,
            peak_rps: 50.0,
            peak_at: secs(14 * 3600),
            period: DAY,
            weekend_factor: 0.5,
            noise: 0.0,
        };
        assert!((spec.baseline_rps(secs(14 * 3600)) - 50.0).abs() < 1e-9);
        assert!((spec.baseline_rps(secs(2 * 3600)) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn diurnal_scales_the_sixth_and_seventh_period_of_each_week() {
        let spec = TrafficSpec::Diurnal {
            base_rps: 10.0,
            peak_rps: 50.0,
            peak_at: secs(12 * 3600),
            period: DAY,
            weekend_factor: 0.5,
            noise: 0.0,
        };
        let noon = |day: u64| spec.baseline_rps(DAY * day as u32 + secs(12 * 3600));
        for day in [0, 4, 7, 11] {
            assert!((noon(day) - 50.0).abs() < 1e-9, "day {day}");
        }
        for day in [5, 6, 12, 13] {
            assert!((noon(day) - 25.0).abs() < 1e-9, "day {day}");
        }
    }

    #[test]
    fn flash_crowd_ramps_holds_and_returns_to_base() {
        let spec = TrafficSpec::FlashCrowd {
            base_rps: 10.0,
            factor: 5.0,
            at: secs(100),
            ramp: secs(60),
            hold: secs(120),
            noise: 0.0,
        };
        assert_eq!(spec.baseline_rps(secs(99)), 10.0);
        assert!((spec.baseline_rps(secs(130)) - 30.0).abs() < 1e-9);
        assert_eq!(spec.baseline_rps(secs(200)), 50.0);
        assert!((spec.baseline_rps(secs(310)) - 30.0).abs() < 1e-9);
        assert_eq!(spec.baseline_rps(secs(340)), 10.0);
    }

    #[test]
    fn ramp_is_flat_around_its_slope() {
        let spec =
            TrafficSpec::Ramp { from_rps: 10.0, to_rps: 30.0, start: secs(60), over: secs(100), noise: 0.0 };
        assert_eq!(spec.baseline_rps(secs(0)), 10.0);
        assert!((spec.baseline_rps(secs(110)) - 20.0).abs() < 1e-9);
        assert_eq!(spec.baseline_rps(secs(500)), 30.0);
    }

    #[test]
    fn noise_has_mean_one_and_the_requested_spread() {
        let mut rng = Rng::from_seed(9);
        let mut noise = Noise::default();
        let n = 200_000;
        let samples: Vec<f64> = (0..n).map(|_| noise.step(0.2, 1.0, &mut rng)).collect();
        let mean = samples.iter().sum::<f64>() / n as f64;
        let sd = (samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(samples.iter().all(|x| *x > 0.0));
        assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
        assert!((sd - 0.2).abs() < 0.04, "sd {sd}");
    }

    #[test]
    fn zero_noise_is_exactly_one() {
        let mut rng = Rng::from_seed(9);
        assert_eq!(Noise::default().step(0.0, 1.0, &mut rng), 1.0);
    }
}
