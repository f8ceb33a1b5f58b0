//! Predictive scaling: a seasonal forecast of a load metric from daily and weekly
//! profiles, turned into the capacity needed one lead time (a warm-up) ahead.
//!
//! Pure: the engine builds the [`LoadProfile`] from history (with [`build_load_profile`])
//! and passes it in with `now`; nothing here reads a clock or a store.
//!
//! The forecast, as implemented:
//! - It needs `days_of_history ≥ 7` so that every slot of the week has been seen once;
//!   with less the policy has no opinion and says so.
//! - A slot's forecast is the weekly profile's value for that slot of the week; where that
//!   is NaN (never observed) the daily profile's value for the slot of the day is used.
//!   No blend: the weekly slot already separates weekdays from weekends, and averaging it
//!   with the daily mean would raise quiet weekend mornings toward busy weekday ones.
//! - The load forecast is the maximum over every slot touching `[now, now + lead]`, so
//!   the capacity is asked for one lead before a ramp and held until it has passed.
//! - Capacity = `ceil(forecast / target_per_instance)`. It never asks to scale in
//!   (`may_scale_in` is false): the core treats it as a floor, and whether a
//!   forecast-only spec acts is the caller's decision (the mode is named in the reason).

use std::time::Duration;

use chrono::DateTime;

use crate::model::{Capacity, MetricKind, Timestamp, Unit, format_duration};
use crate::policy::spec::{LoadProfile, PolicyKind, PredictiveMode, PredictiveSpec, Proposal};

#[cfg(test)]
mod tests;

/// Days of history a profile needs before it is used.
pub const MIN_DAYS_OF_HISTORY: f64 = 7.0;

const DAY_MS: i64 = 86_400_000;
const WEEK_MS: i64 = 7 * DAY_MS;

/// The capacity the forecast load needs `lead` ahead of `now` (default `default_lead`,
/// the group's maximum warm-up). Never proposes scale-in (`may_scale_in` is false);
/// without a usable profile (< 7 days of history) it has no opinion. The caller decides
/// whether forecast-only mode acts.
pub fn predictive_proposal(
    spec: &PredictiveSpec,
    profile: Option<&LoadProfile>,
    capacity: &Capacity,
    default_lead: Duration,
    now: Timestamp,
) -> Proposal {
    let mode = match spec.mode {
        PredictiveMode::ForecastOnly => "forecast only",
        PredictiveMode::ForecastAndScale => "forecast and scale",
    };
    let no_opinion = |why: String| Proposal {
        policy: PolicyKind::Predictive,
        desired: None,
        may_scale_in: false,
        reason: format!("predictive ({mode}): {why}"),
    };
    let (profile, slot_ms) = match usable(spec, profile) {
        Ok(usable) => usable,
        Err(why) => return no_opinion(why),
    };
    let lead = spec.lead.unwrap_or(default_lead);
    let Some(peak) = peak_forecast(profile, slot_ms, now, now.plus(lead)) else {
        return no_opinion(format!("no data for any slot in the next {}", format_duration(lead)));
    };
    let desired = needed(peak.value, spec.target_per_instance);
    let reason = format!(
        "predictive ({mode}): forecast {} at {} UTC ({} slot {}) → {desired} instances at {} per instance \
         (peak of the next {}; now {})",
        load_text(&spec.metric, peak.value),
        clock_text(peak.at),
        peak.source,
        slot_label(peak.at, peak.source),
        num(spec.target_per_instance),
        format_duration(lead),
        capacity.desired,
    );
    Proposal { policy: PolicyKind::Predictive, desired: Some(desired), may_scale_in: false, reason }
}

/// The profile and its slot width in milliseconds, if the forecast can be used; else why
/// not, in words.
fn usable<'a>(
    spec: &PredictiveSpec,
    profile: Option<&'a LoadProfile>,
) -> Result<(&'a LoadProfile, i64), String> {
    let Some(profile) = profile else {
        return Err("no load profile yet".into());
    };
    if profile.days_of_history.is_nan() || profile.days_of_history < MIN_DAYS_OF_HISTORY {
        return Err(format!(
            "needs {MIN_DAYS_OF_HISTORY} days of history, has {:.1}",
            profile.days_of_history.max(0.0)
        ));
    }
    let Some(slot_ms) = slot_millis(profile.slot) else {
        return Err(format!("slot {} does not divide a day", format_duration(profile.slot)));
    };
    let per_day = (DAY_MS / slot_ms) as usize;
    if profile.daily.len() != per_day || profile.weekly.len() != 7 * per_day {
        return Err(format!(
            "profile has {} daily and {} weekly slots, expected {per_day} and {}",
            profile.daily.len(),
            profile.weekly.len(),
            7 * per_day
        ));
    }
    if !(spec.target_per_instance > 0.0 && spec.target_per_instance.is_finite()) {
        return Err(format!("target per instance {} is not a positive number", spec.target_per_instance));
    }
    Ok((profile, slot_ms))
}

/// The instances the forecast load needs in each slot touching `[from, to]`, as (slot
/// start, instances), oldest first, for the console to lay over what happened. Empty
/// when the policy would have no opinion (see [`predictive_proposal`]); a slot never
/// observed is left out.
pub fn forecast_capacity(
    spec: &PredictiveSpec,
    profile: Option<&LoadProfile>,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, u32)> {
    let Ok((profile, slot_ms)) = usable(spec, profile) else { return Vec::new() };
    let first = from.as_millis().div_euclid(slot_ms);
    let last = to.as_millis().div_euclid(slot_ms).min(first + WEEK_MS / slot_ms);
    (first..=last)
        .filter_map(|index| {
            let at = Timestamp::from_millis(index * slot_ms);
            let (value, _) = slot_forecast(profile, slot_ms, at)?;
            Some((at, needed(value, spec.target_per_instance)))
        })
        .collect()
}

/// Instances needed for `load` at `per_instance` each.
fn needed(load: f64, per_instance: f64) -> u32 {
    (load.max(0.0) / per_instance).ceil().min(f64::from(u32::MAX)) as u32
}

/// A profile's slot width could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile slot {0:?} must be whole milliseconds, above zero, and divide a day")]
pub struct ProfileSlotError(pub Duration);

/// Slot width of the load profiles the engine (and replay) build for predictive scaling.
pub const PROFILE_SLOT: Duration = Duration::from_secs(300);

/// Builds the daily and weekly load profiles from `(time, value)` points: the mean of the
/// finite values falling in each slot (of the day, and of the week from Monday 00:00
/// UTC), NaN for slots without data. `days_of_history` is the span the points cover, from
/// the start of the first point's slot to the end of the last one's, in days.
pub fn build_load_profile(
    points: &[(Timestamp, f64)],
    slot: Duration,
) -> Result<LoadProfile, ProfileSlotError> {
    let slot_ms = slot_millis(slot).ok_or(ProfileSlotError(slot))?;
    let per_day = (DAY_MS / slot_ms) as usize;
    let mut daily = vec![(0.0, 0u32); per_day];
    let mut weekly = vec![(0.0, 0u32); 7 * per_day];
    let mut span: Option<(i64, i64)> = None;
    for &(at, value) in points.iter().filter(|(_, value)| value.is_finite()) {
        let (day_slot, week_slot) = slot_indices(at, slot_ms);
        for (sum, count) in [&mut daily[day_slot], &mut weekly[week_slot]] {
            *sum += value;
            *count += 1;
        }
        let index = at.as_millis().div_euclid(slot_ms);
        span = Some(span.map_or((index, index), |(first, last)| (first.min(index), last.max(index))));
    }
    let mean = |slots: Vec<(f64, u32)>| {
        slots
            .into_iter()
            .map(|(sum, count)| if count == 0 { f64::NAN } else { sum / f64::from(count) })
            .collect()
    };
    let days_of_history =
        span.map_or(0.0, |(first, last)| ((last - first + 1) * slot_ms) as f64 / DAY_MS as f64);
    Ok(LoadProfile { slot, daily: mean(daily), weekly: mean(weekly), days_of_history })
}

/// The slot width in milliseconds, if it is usable (positive, divides a day).
fn slot_millis(slot: Duration) -> Option<i64> {
    let ms = i64::try_from(slot.as_millis()).ok()?;
    (ms > 0 && slot.subsec_nanos().is_multiple_of(1_000_000) && DAY_MS % ms == 0).then_some(ms)
}

/// (slot of the day, slot of the week from Monday 00:00 UTC) holding `at`.
fn slot_indices(at: Timestamp, slot_ms: i64) -> (usize, usize) {
    let ms = at.as_millis();
    // The UNIX epoch was a Thursday, three days after a Monday.
    let in_week = (ms + 3 * DAY_MS).rem_euclid(WEEK_MS);
    ((ms.rem_euclid(DAY_MS) / slot_ms) as usize, (in_week / slot_ms) as usize)
}

struct Peak {
    value: f64,
    /// Start of the slot the peak is in.
    at: Timestamp,
    source: &'static str,
}

/// The highest slot forecast among the slots touching `[from, to]`.
fn peak_forecast(profile: &LoadProfile, slot_ms: i64, from: Timestamp, to: Timestamp) -> Option<Peak> {
    let first = from.as_millis().div_euclid(slot_ms);
    let last = to.as_millis().div_euclid(slot_ms);
    let mut peak: Option<Peak> = None;
    // A lead longer than a week would only repeat slots.
    for index in first..=last.min(first + WEEK_MS / slot_ms) {
        let at = Timestamp::from_millis(index * slot_ms);
        if let Some((value, source)) = slot_forecast(profile, slot_ms, at)
            && peak.as_ref().is_none_or(|p| value > p.value)
        {
            peak = Some(Peak { value, at, source });
        }
    }
    peak
}

/// The forecast for the slot starting at `at`: the weekly profile's value, else the
/// daily one's, with which it is (None when neither slot was ever observed).
fn slot_forecast(profile: &LoadProfile, slot_ms: i64, at: Timestamp) -> Option<(f64, &'static str)> {
    let (day_slot, week_slot) = slot_indices(at, slot_ms);
    [(profile.weekly[week_slot], "weekly"), (profile.daily[day_slot], "daily")]
        .into_iter()
        .find(|(value, _)| value.is_finite())
}

fn load_text(metric: &MetricKind, value: f64) -> String {
    let suffix = match metric.unit() {
        Unit::PerSecond => "/s",
        Unit::Seconds => " s",
        _ => "",
    };
    format!("{} {}{suffix}", metric.name(), num(value))
}

/// `09:05`, the UTC wall clock of `at`.
fn clock_text(at: Timestamp) -> String {
    DateTime::from_timestamp_millis(at.as_millis())
        .map_or_else(String::new, |t| t.format("%H:%M").to_string())
}

/// `Mon 09:05` for a weekly slot, `09:05` for a daily one.
fn slot_label(at: Timestamp, source: &str) -> String {
    let format = if source == "weekly" { "%a %H:%M" } else { "%H:%M" };
    DateTime::from_timestamp_millis(at.as_millis()).map_or_else(String::new, |t| t.format(format).to_string())
}

/// A number as people write it: at most two decimals, no trailing zeros.
fn num(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}
