//! Damping, after the Kubernetes HPA's `behavior`
//! (<https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#stabilization-window>
//! and `#scaling-policies`): stabilization windows over past recommendations, and the
//! maximum change per period counted from past activities.
//!
//! Pure functions of the history handed in; they never see a clock.

use std::time::Duration;

use crate::model::Timestamp;
use crate::policy::decision::Block;
use crate::policy::spec::{MaxStep, ScalingActivity, Stabilization};
use crate::policy::state::Recommendation;
use crate::policy::target::ceil_count;

/// The recommendation after the stabilization windows, and what held it back.
///
/// As the HPA's `stabilizeRecommendationWithBehaviors`: within the scale-down window the
/// HIGHEST recommendation (this one included) is the lowest desired may go; within the
/// scale-up window the LOWEST is the highest it may go (a 0 s window: this tick only, so
/// scale-out is immediate). A recommendation belongs to a window when
/// `now − window < at ≤ now`.
pub fn stabilize(
    recommendation: u32,
    current: u32,
    history: &[Recommendation],
    windows: &Stabilization,
    now: Timestamp,
) -> (u32, Option<Block>) {
    let within = |window: Duration| {
        let cutoff = now.minus(window);
        history.iter().filter(move |r| r.at > cutoff && r.at <= now && !window.is_zero()).map(|r| r.desired)
    };
    let lowest_up = within(windows.scale_up).fold(recommendation, u32::min);
    let highest_down = within(windows.scale_down).fold(recommendation, u32::max);
    let stabilized = current.max(lowest_up).min(highest_down);
    let block = if recommendation > current && stabilized < recommendation {
        Some(Block::ScaleUpWindow { window: windows.scale_up, lowest: lowest_up, unclamped: None })
    } else if recommendation < current && stabilized > recommendation {
        Some(Block::ScaleDownWindow { window: windows.scale_down, highest: highest_down, unclamped: None })
    } else {
        None
    };
    (stabilized, block)
}

/// `target` limited to the largest change allowed in the current period, and the limit
/// when it cut.
///
/// As the HPA's `calculateScaleUpLimitWithScalingRules` / `…ScaleDownLimit…` with
/// `selectPolicy: Max` over a Pods and a Percent policy of the same period: the period's
/// starting capacity is `current − added + removed` by the activities within the period;
/// the allowed change is the larger of `instances` and `ceil(start × percent / 100)`; a
/// limit never reverses direction (it stops at `current`).
pub fn limit_step(
    target: u32,
    current: u32,
    step: &MaxStep,
    activities: &[ScalingActivity],
    now: Timestamp,
) -> (u32, Option<Block>) {
    if target == current {
        return (target, None);
    }
    let cutoff = now.minus(step.period);
    let (mut added, mut removed) = (0i64, 0i64);
    for a in activities.iter().filter(|a| a.at > cutoff && a.at <= now) {
        let change = i64::from(a.to) - i64::from(a.from);
        if change > 0 { added += change } else { removed -= change }
    }
    let current_i = i64::from(current);
    let percent = if step.percent.is_finite() { step.percent.max(0.0) } else { 0.0 };
    let allowed = |start: i64| {
        let by_percent = ceil_count(start.max(0) as f64 * percent / 100.0);
        i64::from(step.instances.max(by_percent))
    };
    let limit = if target > current {
        let start = current_i - added + removed;
        (start + allowed(start)).max(current_i)
    } else {
        let start = current_i + removed - added;
        (start - allowed(start)).min(current_i).max(0)
    };
    let limit = limit.clamp(0, i64::from(u32::MAX)) as u32;
    let cut = if target > current { target > limit } else { target < limit };
    if cut { (limit, Some(Block::MaxStep { limit, period: step.period })) } else { (target, None) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::spec::ActivityCause;

    fn rec(at_secs: i64, desired: u32) -> Recommendation {
        Recommendation { at: Timestamp::from_millis(at_secs * 1000), desired }
    }

    #[test]
    fn a_zero_scale_up_window_lets_scale_out_through_at_once() {
        let history = [rec(90, 2), rec(95, 3)];
        let (v, block) =
            stabilize(9, 4, &history, &Stabilization::default(), Timestamp::from_millis(100_000));
        assert_eq!((v, block), (9, None));
    }

    #[test]
    fn a_scale_up_window_holds_scale_out_at_the_lowest_recommendation() {
        let windows =
            Stabilization { scale_up: Duration::from_secs(60), scale_down: Duration::from_secs(300) };
        let history = [rec(30, 9), rec(50, 6), rec(90, 8)];
        let (v, block) = stabilize(10, 4, &history, &windows, Timestamp::from_millis(100_000));
        assert_eq!(v, 6);
        assert!(matches!(block, Some(Block::ScaleUpWindow { lowest: 6, .. })));
    }

    #[test]
    fn a_scale_down_limit_never_raises_desired() {
        let step = MaxStep { instances: 1, percent: 0.0, period: Duration::from_secs(60) };
        let history = [ScalingActivity {
            at: Timestamp::from_millis(50_000),
            from: 4,
            to: 10,
            cause: ActivityCause::Operator,
            policy: None,
        }];
        // Period start is 4 (10 − 6 added): the limit would be 3, which stays a scale-in.
        let (v, _) = limit_step(2, 10, &step, &history, Timestamp::from_millis(60_000));
        assert_eq!(v, 3);
    }
}
