//! The limits every decision ends inside: the effective [min, max] (the group's, replaced
//! by scheduled actions in force, max widened by a hold confirmed beyond max) and the
//! budget's cap on scale-out.

use crate::policy::decision::{BoundSource, Bounds};
use crate::policy::schedule::ScheduledEffect;
use crate::policy::state::Hold;

/// The effective bounds. A scheduled min or max replaces the group's while in force
/// (AWS scheduled actions); a hold with `beyond_max` raises max to its value for the
/// hold only (DESIGN.md, force scale), never past the group's hard cap. Should min end up above max, max wins: it is the
/// limit people set for quota and cost, and config validation refuses the case anyway.
pub fn effective_bounds(
    (min, max, hard_cap): (u32, u32, u32),
    schedule: &ScheduledEffect,
    hold: Option<&Hold>,
) -> Bounds {
    let (mut min, mut min_from) = (min, BoundSource::Group);
    let (mut max, mut max_from) = (max, BoundSource::Group);
    if let Some((v, action)) = &schedule.min {
        (min, min_from) = (*v, BoundSource::Scheduled { action: action.clone() });
    }
    if let Some((v, action)) = &schedule.max {
        (max, max_from) = (*v, BoundSource::Scheduled { action: action.clone() });
    }
    if let Some(hold) = hold.filter(|h| h.beyond_max && h.desired > max) {
        (max, max_from) = (hold.desired.min(hard_cap.max(max)), BoundSource::Hold { by: hold.by.clone() });
    }
    if min > max {
        (min, min_from) = (max, max_from.clone());
    }
    Bounds { min, max, min_from, max_from }
}

/// The most instances the hourly budget pays for: `floor(budget / cost)`; None when there
/// is no budget or the instance cost is unknown (≤ 0 or not a number).
pub fn budget_cap(hourly_budget_usd: Option<f64>, hourly_cost_usd: f64) -> Option<u32> {
    let budget = hourly_budget_usd.filter(|b| b.is_finite())?.max(0.0);
    if !(hourly_cost_usd.is_finite() && hourly_cost_usd > 0.0) {
        return None;
    }
    let n = budget / hourly_cost_usd;
    // 0.3 / 0.1 is 2.9999999999999996: a budget that pays exactly for 3 pays for 3.
    let n = if (n - n.round()).abs() < 1e-9 * n.max(1.0) { n.round() } else { n.floor() };
    Some(n.clamp(0.0, f64::from(u32::MAX)) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timestamp;

    #[test]
    fn budget_cap_pays_for_whole_instances_only() {
        assert_eq!(budget_cap(Some(100.0), 30.0), Some(3));
        assert_eq!(budget_cap(Some(0.3), 0.1), Some(3));
        assert_eq!(budget_cap(Some(100.0), 0.0), None);
        assert_eq!(budget_cap(None, 30.0), None);
    }

    #[test]
    fn a_hold_beyond_max_widens_max_only_when_confirmed() {
        let hold = |beyond_max| Hold { desired: 12, until: Timestamp(1), beyond_max, by: "ana".into() };
        let none = ScheduledEffect::default();
        assert_eq!(effective_bounds((1, 8, 16), &none, Some(&hold(true))).max, 12);
        assert_eq!(effective_bounds((1, 8, 16), &none, Some(&hold(false))).max, 8);
    }

    #[test]
    fn a_hold_beyond_max_stops_at_the_hard_cap() {
        let hold = Hold { desired: 1320, until: Timestamp(1), beyond_max: true, by: "ana".into() };
        let none = ScheduledEffect::default();
        assert_eq!(effective_bounds((1, 8, 16), &none, Some(&hold)).max, 16);
        // A scheduled max above the cap is the cap's floor: the schedule was configured too.
        let wide = ScheduledEffect { max: Some((20, "peak".into())), ..ScheduledEffect::default() };
        assert_eq!(effective_bounds((1, 8, 16), &wide, Some(&hold)).max, 20);
    }

    #[test]
    fn scheduled_bounds_replace_the_groups() {
        let schedule =
            ScheduledEffect { min: Some((4, "day".into())), max: Some((3, "day".into())), desired: None };
        let b = effective_bounds((1, 8, 16), &schedule, None);
        assert_eq!((b.min, b.max), (3, 3));
        assert_eq!(b.max_from, BoundSource::Scheduled { action: "day".into() });
    }
}
