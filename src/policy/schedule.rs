//! Scheduled actions: a 5-field cron expression read in an IANA time zone, whose
//! occurrences set the group's min, max or desired capacity (AWS scheduled scaling).
//!
//! Pure: no clock (`now` and the previous tick are passed in), no I/O. Cron parsing is
//! `croner`'s (vixie-cron semantics: day-of-month and day-of-week are OR-ed when both are
//! restricted); wall clock times are resolved in the action's zone with `chrono-tz`, so a
//! daily 08:00 Europe/Paris action fires at 07:00 UTC in winter and 06:00 UTC in summer.
//! Across DST changes croner's rules apply: a time the clock skips (02:30 on the spring
//! change) fires at the first instant after the gap; a repeated time fires once, at its
//! first instant.
//!
//! What [`scheduled_effect`] decides:
//! - `min`/`max`: the value of the most recent occurrence at or before `now` of any action
//!   that sets it, looking back at most [`LOOKBACK`] (31 days, so daily, weekly and
//!   monthly schedules stay in force between occurrences; an action that last fired longer
//!   ago no longer bounds the group).
//! - `desired`: only from an action whose most recent occurrence is in `(last_tick, now]`:
//!   AWS sets desired once, at the occurrence, and the other policies take over after.
//!   With no previous tick (`last_tick` None, the engine's first tick) no desired is set:
//!   an occurrence missed while the engine was down is not replayed. An engine that
//!   persists its last tick passes it in to catch up.
//! - Ties (two actions at the same instant): the one listed later wins, as a later line of
//!   a config file overrides an earlier one.

use std::str::FromStr as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::model::Timestamp;
use crate::policy::spec::ScheduledAction;

#[cfg(test)]
mod tests;

/// How far back an occurrence still sets min/max.
pub const LOOKBACK: Duration = Duration::from_secs(31 * 86_400);

/// What the schedule says at `now`. `min`/`max`: the value set by the most recent
/// occurrence (at or before `now`) of any action that sets it, with that action's name —
/// they stay in force until another action changes them. `desired`: set only by an
/// action that fired in `(last_tick, now]` (AWS sets desired once, at the occurrence).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScheduledEffect {
    pub min: Option<(u32, String)>,
    pub max: Option<(u32, String)>,
    pub desired: Option<(u32, String)>,
}

/// A scheduled action that cannot be evaluated (bad cron expression or time zone).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scheduled action `{action}`: {message}")]
pub struct ScheduleError {
    pub action: String,
    pub message: String,
}

pub fn scheduled_effect(
    actions: &[ScheduledAction],
    last_tick: Option<Timestamp>,
    now: Timestamp,
) -> Result<ScheduledEffect, ScheduleError> {
    let oldest = now.minus(LOOKBACK);
    // (occurrence, value, name); a later action replaces an earlier one at the same instant.
    let mut min: Option<(Timestamp, u32, &str)> = None;
    let mut max: Option<(Timestamp, u32, &str)> = None;
    let mut desired: Option<(Timestamp, u32, &str)> = None;
    for action in actions {
        let Some(at) = last_occurrence(action, now)? else { continue };
        if at < oldest {
            continue;
        }
        let fired_this_tick = last_tick.is_some_and(|last| last < at);
        for (slot, value, applies) in [
            (&mut min, action.min, true),
            (&mut max, action.max, true),
            (&mut desired, action.desired, fired_this_tick),
        ] {
            if let Some(value) = value.filter(|_| applies)
                && slot.is_none_or(|(seen, _, _)| seen <= at)
            {
                *slot = Some((at, value, &action.name));
            }
        }
    }
    let named = |slot: Option<(Timestamp, u32, &str)>| slot.map(|(_, value, name)| (value, name.to_string()));
    Ok(ScheduledEffect { min: named(min), max: named(max), desired: named(desired) })
}

/// Checks every action's cron expression and time zone (for config validation).
pub fn validate_actions(actions: &[ScheduledAction]) -> Result<(), ScheduleError> {
    actions.iter().try_for_each(|action| Schedule::parse(action).map(drop))
}

/// The action's first occurrence strictly after `after`, if any within croner's range
/// (for "next: 08:00" in the UI and in reasons).
pub fn next_occurrence(
    action: &ScheduledAction,
    after: Timestamp,
) -> Result<Option<Timestamp>, ScheduleError> {
    let schedule = Schedule::parse(action)?;
    let Some(local) = schedule.local(after) else { return Ok(None) };
    Ok(schedule
        .cron
        .find_next_occurrence(&local, false)
        .ok()
        .map(|t| Timestamp::from_millis(t.timestamp_millis())))
}

/// The action's latest occurrence at or before `now`, remembered per thread for the
/// minute `now` falls in: cron fires on whole minutes, so every `now` within one minute
/// has the same answer, and `decide` asks it for every group every tick. Like
/// [`parse_cron`]'s, the memo is invisible to callers. Errors are not remembered.
fn last_occurrence(action: &ScheduledAction, now: Timestamp) -> Result<Option<Timestamp>, ScheduleError> {
    use std::hash::{Hash, Hasher};
    /// By a hash of (expression, zone); the entry keeps both to rule out a collision.
    type Memo = std::collections::HashMap<u64, (String, String, i64, Option<Timestamp>)>;
    thread_local! {
        static LAST: std::cell::RefCell<Memo> = Default::default();
    }
    let minute = now.as_millis().div_euclid(60_000);
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&action.cron, &action.timezone).hash(&mut hasher);
    let key = hasher.finish();
    let remembered = LAST.with(|m| {
        m.borrow().get(&key).and_then(|(cron, zone, m, at)| {
            (*m == minute && *cron == action.cron && *zone == action.timezone).then_some(*at)
        })
    });
    if let Some(found) = remembered {
        return Ok(found);
    }
    let found = Schedule::parse(action)?.last_at_or_before(now)?;
    LAST.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= 1024 {
            m.clear();
        }
        m.insert(key, (action.cron.clone(), action.timezone.clone(), minute, found));
    });
    Ok(found)
}

/// Parses a 5-field expression, remembering the result per thread: `decide` runs every
/// tick for every group, and parsing dominated its cost. The memo is invisible to callers
/// (same text, same `Cron`), so the function stays pure in effect.
fn parse_cron(expression: &str) -> Result<Cron, String> {
    thread_local! {
        static PARSED: std::cell::RefCell<std::collections::HashMap<String, Cron>> = Default::default();
    }
    if let Some(cron) = PARSED.with(|m| m.borrow().get(expression).cloned()) {
        return Ok(cron);
    }
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    let cron = parser.parse(expression).map_err(|e| e.to_string())?;
    PARSED.with(|m| {
        let mut m = m.borrow_mut();
        // Configs hold a handful of expressions; bound the memo against a pathological caller.
        if m.len() >= 1024 {
            m.clear();
        }
        m.insert(expression.to_string(), cron.clone());
    });
    Ok(cron)
}

/// One action's parsed expression and zone.
struct Schedule<'a> {
    action: &'a ScheduledAction,
    cron: Cron,
    zone: Tz,
}

impl<'a> Schedule<'a> {
    fn parse(action: &'a ScheduledAction) -> Result<Self, ScheduleError> {
        let error = |message: String| ScheduleError { action: action.name.clone(), message };
        // Exactly five fields (minute hour day-of-month month day-of-week), as the config
        // documents: no seconds, no year.
        let cron = parse_cron(&action.cron).map_err(|e| {
            error(format!(
                "bad cron expression `{}`: {e} (expected 5 fields: minute hour day-of-month month day-of-week)",
                action.cron
            ))
        })?;
        let zone = Tz::from_str(&action.timezone).map_err(|_| {
            error(format!(
                "unknown time zone `{}` (expected an IANA name such as Europe/Paris)",
                action.timezone
            ))
        })?;
        Ok(Schedule { action, cron, zone })
    }

    fn local(&self, at: Timestamp) -> Option<DateTime<Tz>> {
        DateTime::<Utc>::from_timestamp_millis(at.as_millis()).map(|t| t.with_timezone(&self.zone))
    }

    /// The latest occurrence at or before `now` (None if there is none croner can find).
    fn last_at_or_before(&self, now: Timestamp) -> Result<Option<Timestamp>, ScheduleError> {
        let Some(local) = self.local(now) else {
            return Err(ScheduleError {
                action: self.action.name.clone(),
                message: format!("time {} ms is out of range", now.as_millis()),
            });
        };
        // Inclusive: an occurrence at `now` itself counts (also when `now` has milliseconds).
        let found = self.cron.find_previous_occurrence(&local, true).ok();
        Ok(found.map(|t| Timestamp::from_millis(t.timestamp_millis())).filter(|&t| t <= now))
    }
}
