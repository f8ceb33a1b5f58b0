//! Scheduled actions (cron + time zone). PLACEHOLDER: signatures fixed, bodies being written.

use crate::model::Timestamp;
use crate::policy::spec::ScheduledAction;

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
    _actions: &[ScheduledAction],
    _last_tick: Option<Timestamp>,
    _now: Timestamp,
) -> Result<ScheduledEffect, ScheduleError> {
    unimplemented!("scheduled actions in progress")
}
