//! Built-in traces (`--trace builtin:NAME`), generated, deterministic: the same name gives
//! the same points on every machine and build. Rates are absolute requests/s sized for
//! the demo's groups; `--scale` moves them to other fleets.
//!
//! | name | span | shape |
//! |---|---|---|
//! | `diurnal-week` | 7 days, a point a minute | 10 → 40 req/s daily, peak at 14:00 UTC, weekends × 0.6, 5 % noise |
//! | `two-weeks` | 14 days, a point a minute | the same, twice: a week to learn from, a week to forecast (predictive) |
//! | `flash-crowd` | 2 h, a point every 10 s | 15 req/s, ×4 from 0:30 (1 min ramp), held 20 min |
//! | `slow-ramp` | 6 h, a point a minute | 8 req/s, rising to 60 between 1:00 and 5:00 |
//! | `noisy-plateau` | 2 h, a point every 10 s | 25 req/s with 20 % noise |

use std::time::Duration;

use crate::sim::rng::{Rng, fnv1a};
use crate::sim::{Trace, TrafficSpec};

/// The names `builtin:NAME` accepts.
pub const BUILTIN: [&str; 5] = ["diurnal-week", "two-weeks", "flash-crowd", "slow-ramp", "noisy-plateau"];

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// The built-in trace called `name`, if there is one.
pub fn builtin(name: &str) -> Option<Trace> {
    let diurnal = TrafficSpec::Diurnal {
        base_rps: 10.0,
        peak_rps: 40.0,
        peak_at: Duration::from_secs(14 * HOUR),
        period: Duration::from_secs(DAY),
        weekend_factor: 0.6,
        noise: 0.0,
    };
    let (shape, span, step, noise) = match name {
        "diurnal-week" => (diurnal, 7 * DAY, 60, 0.05),
        "two-weeks" => (diurnal, 14 * DAY, 60, 0.05),
        "flash-crowd" => (
            TrafficSpec::FlashCrowd {
                base_rps: 15.0,
                factor: 4.0,
                at: Duration::from_secs(30 * 60),
                ramp: Duration::from_secs(60),
                hold: Duration::from_secs(20 * 60),
                noise: 0.0,
            },
            2 * HOUR,
            10,
            0.02,
        ),
        "slow-ramp" => (
            TrafficSpec::Ramp {
                from_rps: 8.0,
                to_rps: 60.0,
                start: Duration::from_secs(HOUR),
                over: Duration::from_secs(4 * HOUR),
                noise: 0.0,
            },
            6 * HOUR,
            60,
            0.02,
        ),
        "noisy-plateau" => (TrafficSpec::Constant { rps: 25.0, noise: 0.0 }, 2 * HOUR, 10, 0.2),
        _ => return None,
    };
    // Lognormal noise with mean 1 and relative standard deviation `noise`, seeded by name.
    let sigma = (1.0_f64 + noise * noise).ln().sqrt();
    let mut rng = Rng::from_seed(fnv1a(name.as_bytes()));
    let points = (0..span / step)
        .map(|i| {
            let t = i * step;
            let (z, _) = rng.normal_pair();
            let factor = (sigma * z - sigma * sigma / 2.0).exp();
            (t as f64, shape.baseline_rps(Duration::from_secs(t)) * factor)
        })
        .collect();
    Some(Trace { points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_exists_is_deterministic_and_has_the_documented_span() {
        let spans = [7 * DAY, 14 * DAY, 2 * HOUR, 6 * HOUR, 2 * HOUR];
        for (name, span) in BUILTIN.into_iter().zip(spans) {
            let trace = builtin(name).unwrap();
            assert_eq!(trace, builtin(name).unwrap(), "{name}");
            assert_eq!(trace.span_seconds() as u64, span, "{name}");
            assert!(trace.points.iter().all(|(_, r)| r.is_finite() && *r > 0.0), "{name}");
        }
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn the_flash_crowd_quadruples_demand_for_twenty_minutes() {
        let trace = builtin("flash-crowd").unwrap();
        let mean = |from: f64, to: f64| {
            let rates: Vec<f64> =
                trace.points.iter().filter(|(t, _)| *t >= from && *t < to).map(|p| p.1).collect();
            rates.iter().sum::<f64>() / rates.len() as f64
        };
        let (before, during) = (mean(0.0, 1800.0), mean(1900.0, 2900.0));
        assert!((before - 15.0).abs() < 1.0 && (during / before - 4.0).abs() < 0.3, "{before} {during}");
    }
}
