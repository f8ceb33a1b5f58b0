//! Scheduled actions: a 5-field cron expression read in an IANA time zone, whose
//! occurrences set the group's min, max or desired capacity (AWS scheduled scaling).
//!
//! Pure: no clock (`now` and the previous tick are passed in), no I/O, no memo. An action's
//! expression and zone are parsed once, when the spec is read ([`CronExpr`], [`TimeZone`]:
//! config validation, `fleetdeck decide` files, audit lines), and written back as the
//! text they were read from; `decide` only evaluates them. Cron parsing is
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

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Timestamp;
use crate::policy::spec::ScheduledAction;

#[cfg(test)]
mod tests;

/// How far back an occurrence still sets min/max.
pub const LOOKBACK: Duration = Duration::from_secs(31 * 86_400);

/// A 5-field cron expression (minute hour day-of-month month day-of-week), parsed when
/// it is read; shown and serialised as the text it was read from.
#[derive(Clone)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

/// A cron expression that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad cron expression `{text}`: {message} (expected 5 fields: minute hour day-of-month month day-of-week)"
)]
pub struct CronError {
    pub text: String,
    pub message: String,
}

impl CronExpr {
    /// Exactly five fields, as the config documents: no seconds, no year.
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
        let cron = parser.parse(text).map_err(|e| CronError {
            text: text.to_string(),
            message: out_of_range(text).unwrap_or_else(|| e.to_string()),
        })?;
        Ok(CronExpr { text: text.to_string(), cron })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The first number outside its field's range ("hour 25 is outside 0–23"), said in
/// the field's name where croner only says "Number out of bounds".
fn out_of_range(text: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day-of-month", 1, 31),
        ("month", 1, 12),
        ("day-of-week", 0, 7),
    ];
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != FIELDS.len() {
        return None;
    }
    fields.iter().zip(FIELDS).find_map(|(field, (name, low, high))| {
        // The values of each list item and range; a step (after `/`) counts in the field's units.
        let values = field.split(',').flat_map(|item| item.split('/').next().unwrap_or("").split('-'));
        values
            .filter_map(|v| v.parse::<u32>().ok())
            .find(|v| !(low..=high).contains(v))
            .map(|v| format!("{name} {v} is outside {low}–{high}"))
    })
}

/// An IANA time zone ("Europe/Paris"), parsed when it is read; shown and serialised as
/// the name it was read as.
#[derive(Clone)]
pub struct TimeZone {
    name: String,
    zone: Tz,
}

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{0}` (expected an IANA name such as Europe/Paris)")]
pub struct TimeZoneError(pub String);

impl TimeZone {
    pub fn parse(name: &str) -> Result<TimeZone, TimeZoneError> {
        let zone = Tz::from_str(name).map_err(|_| TimeZoneError(name.to_string()))?;
        Ok(TimeZone { name: name.to_string(), zone })
    }

    pub fn utc() -> TimeZone {
        TimeZone { name: "UTC".to_string(), zone: Tz::UTC }
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }
}

/// Equality, display, debug and serde of the two parsed texts: by their text, which is
/// what a person wrote and what a decision line must reproduce.
macro_rules! parsed_text {
    ($type:ty, $parse:path, $expecting:literal) => {
        impl PartialEq for $type {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.as_str(), f)
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                $parse(text).map_err(|e| e.to_string())
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visitor;

                impl serde::de::Visitor<'_> for Visitor {
                    type Value = $type;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$type, E> {
                        $parse(text).map_err(E::custom)
                    }
                }

                d.deserialize_str(Visitor)
            }
        }
    };
}

parsed_text!(CronExpr, CronExpr::parse, "a cron expression of 5 fields, e.g. \"0 8 * * 1-5\"");
parsed_text!(TimeZone, TimeZone::parse, "an IANA time zone name, e.g. \"Europe/Paris\"");

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

/// A scheduled action that cannot be evaluated at the time asked (a time outside what the
/// calendar library represents; expressions and zones are checked when read).
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
        let Some(at) = last_at_or_before(action, now)? else { continue };
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

/// The action's first occurrence strictly after `after`, if any within croner's range
/// (for "next: 08:00" in the UI and in reasons).
pub fn next_occurrence(action: &ScheduledAction, after: Timestamp) -> Option<Timestamp> {
    let local = local(action, after)?;
    let next = action.cron.cron.find_next_occurrence(&local, false).ok()?;
    Some(Timestamp::from_millis(next.timestamp_millis()))
}

/// `at` on the wall clock of the action's zone.
fn local(action: &ScheduledAction, at: Timestamp) -> Option<DateTime<Tz>> {
    DateTime::<Utc>::from_timestamp_millis(at.as_millis()).map(|t| t.with_timezone(&action.timezone.zone))
}

/// The action's latest occurrence at or before `now` (None if there is none croner can
/// find).
fn last_at_or_before(action: &ScheduledAction, now: Timestamp) -> Result<Option<Timestamp>, ScheduleError> {
    let Some(local) = local(action, now) else {
        return Err(ScheduleError {
            action: action.name.clone(),
            message: format!("time {} ms is out of range", now.as_millis()),
        });
    };
    // Inclusive: an occurrence at `now` itself counts (also when `now` has milliseconds).
    let found = action.cron.cron.find_previous_occurrence(&local, true).ok();
    Ok(found.map(|t| Timestamp::from_millis(t.timestamp_millis())).filter(|&t| t <= now))
}
