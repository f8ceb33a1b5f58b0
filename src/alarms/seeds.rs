//! The five built-in rules of the demo fleet, as constructors. The demo config
//! (`src/config/demo.toml`) writes them as `[[groups.alarms]]` tables; a config test
//! checks the two agree.
//!
//! "X for N min" rules use 1-minute periods, 1 of 1 datapoint, and a for-duration of N
//! min, rather than N of N periods: the alarm shows PENDING from the first breaching
//! minute (the console can say "firing in 4 min"), and since the for-duration counts from
//! the start of that minute, it fires after exactly N breaching minutes, as N-of-N would.
//! One good minute resolves it either way. Rules given in periods (GPU util: 2 of 2 × 5
//! min) are written as such, with no for-duration.

use std::time::Duration;

use super::rule::{AlarmRule, Comparison, MissingData, Statistic};
use crate::model::MetricKind;

fn held(name: &str, description: &str, metric: MetricKind, threshold: f64, for_minutes: u64) -> AlarmRule {
    AlarmRule {
        severity: crate::model::Severity::default(),
        runbook: None,
        name: name.into(),
        metric,
        statistic: Statistic::Average,
        comparison: Comparison::GreaterThan,
        threshold,
        period: Duration::from_secs(60),
        datapoints_to_alarm: 1,
        evaluation_periods: 1,
        for_duration: Duration::from_secs(for_minutes * 60),
        missing_data: MissingData::Missing,
        description: Some(description.into()),
    }
}

/// p95 latency > 2 s for 5 min. Missing data is *not breaching*: an idle group has no
/// latency percentile, and no traffic is not a latency problem (DESIGN: "no traffic is
/// not missing"). A dead source is caught by staleness, not by this alarm.
pub fn latency_p95_high() -> AlarmRule {
    AlarmRule {
        missing_data: MissingData::NotBreaching,
        ..held("latency-p95-high", "p95 latency above 2 s for 5 min", MetricKind::LatencyP95, 2.0, 5)
    }
}

/// GPU memory > 90 % for 3 min; for groups not served by vLLM (vLLM preallocates ~90 %).
pub fn gpu_mem_high() -> AlarmRule {
    held(
        "gpu-mem-high",
        "GPU memory above 90 % for 3 min (not for vLLM groups, which preallocate ~90 %)",
        MetricKind::GpuMem,
        0.9,
        3,
    )
}

/// vLLM KV-cache usage > 90 % for 3 min: the memory signal that moves with load on vLLM.
pub fn kv_cache_high() -> AlarmRule {
    held("kv-cache-high", "vLLM KV-cache usage above 90 % for 3 min", MetricKind::KvCacheUsage, 0.9, 3)
}

/// GPU utilization > 75 % in 2 of 2 five-minute periods. Missing data is *not
/// breaching* so that 2 of 2 always means two real breaching periods: under `missing`,
/// CloudWatch judges M of the datapoints present, and one breaching period after a gap
/// (or at start-up) would fire it.
pub fn gpu_util_high() -> AlarmRule {
    AlarmRule {
        missing_data: MissingData::NotBreaching,
        period: Duration::from_secs(300),
        datapoints_to_alarm: 2,
        evaluation_periods: 2,
        for_duration: Duration::ZERO,
        ..held(
            "gpu-util-high",
            "GPU utilization above 75 % for 2 of 2 periods of 5 min",
            MetricKind::GpuUtil,
            0.75,
            0,
        )
    }
}

/// More than 50 requests waiting for 2 min: the scale-out trigger.
pub fn queue_high() -> AlarmRule {
    held(
        "queue-high",
        "more than 50 requests waiting for 2 min (the scale-out trigger)",
        MetricKind::QueueLength,
        50.0,
        2,
    )
}

/// All five, in the order above.
pub fn seed_rules() -> Vec<AlarmRule> {
    vec![latency_p95_high(), gpu_mem_high(), kv_cache_high(), gpu_util_high(), queue_high()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_seed_rule_is_valid_and_named_uniquely() {
        let rules = seed_rules();
        for rule in &rules {
            assert_eq!(rule.validate(), Ok(()), "{}", rule.name);
        }
        let mut names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), rules.len());
    }
}
