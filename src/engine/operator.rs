//! Operator commands — pause, resume, force scale, shadow on/off, silence — applied to the groups'
//! [`Autoscaler`]s. Pure: the engine passes the autoscalers, the request and `now`; this
//! module answers with the [`Reply`] and knows nothing of channels, clocks or actuators.
//! The next tick's [`decide`](crate::policy::decide()) honours what it stored: a full pause
//! freezes, a scale-in-only pause blocks scale-in, a hold pins desired (past max only
//! when the operator confirmed `beyond_max`).
//!
//! Read-only refusal is the engine's, before it calls [`apply`]: nothing here checks it.
//!
//! `all` is stored per group: pausing all writes the same [`Pause`] on every group, and
//! resuming one group afterwards lifts only that group's. Groups added later start
//! unpaused; a fleet-wide marker can come with the store, which persists pauses anyway.

use std::time::Duration;

use crate::model::{Timestamp, format_duration};
use crate::policy::{Hold, Pause, PauseMode};
use crate::protocol::{Command, CommandRequest, Reply, Target};
use crate::store::Silence;

use super::autoscale::{AutoscaleMode, Autoscaler};

/// Applies an operator command to the autoscalers it targets (found by group name) and
/// says what happened. Any other command is answered `Failed`: the engine handles it.
pub fn apply<'a>(
    autoscalers: impl IntoIterator<Item = &'a mut Autoscaler>,
    request: &CommandRequest,
    now: Timestamp,
) -> Reply {
    let mut autoscalers: Vec<&mut Autoscaler> = autoscalers.into_iter().collect();
    let who = Who { by: request.operator.to_string(), reason: request.reason.clone().unwrap_or_default() };
    let autoscalers = &mut autoscalers;
    match &request.command {
        Command::Pause { target, duration, mode } => on_targets(autoscalers, target, |targets| {
            Ok(pause(targets, *mode, duration.map(|d| now.plus(d)), &who, now))
        }),
        Command::Resume { target } => on_targets(autoscalers, target, |targets| resume(targets, &who, now)),
        Command::ForceScale { group, desired, hold, beyond_max } => {
            let order = Force { desired: *desired, hold: *hold, beyond_max: *beyond_max };
            // A group's name selects exactly one autoscaler.
            on_targets(autoscalers, &Target::Group(group.clone()), |targets| {
                targets.into_iter().try_fold(String::new(), |_, a| force_scale(a, &order, &who, now))
            })
        }
        Command::Shadow { target, on } => {
            on_targets(autoscalers, target, |targets| Ok(shadow(targets, *on, &who)))
        }
        // The simulator, the breaker (whose resets are announced and stored) and silences
        // (kept beside the autoscaler) are handled elsewhere.
        Command::Sim { .. }
        | Command::ResetBreaker { .. }
        | Command::Silence { .. }
        | Command::Unsilence { .. }
        | Command::Acknowledge { .. } => {
            Reply::Failed { error: format!("`{}` is not handled here", request.command) }
        }
    }
}

/// Runs `act` on the autoscalers `target` names: its message is the reply, its error the
/// refusal.
fn on_targets(
    autoscalers: &mut [&mut Autoscaler],
    target: &Target,
    act: impl FnOnce(Vec<&mut Autoscaler>) -> Result<String, String>,
) -> Reply {
    match select(autoscalers, target).map(act) {
        Err(refused) => refused,
        Ok(Ok(message)) => Reply::Ok { message },
        Ok(Err(reason)) => Reply::Refused { reason },
    }
}

/// Who gave a command, and why (empty: no reason given).
struct Who {
    by: String,
    reason: String,
}

fn pause(
    targets: Vec<&mut Autoscaler>,
    mode: PauseMode,
    until: Option<Timestamp>,
    who: &Who,
    now: Timestamp,
) -> String {
    let Who { by, reason } = who;
    let names = names(&targets);
    for autoscaler in targets {
        autoscaler.state.pause = Some(Pause { mode, by: by.clone(), until, reason: reason.clone() });
        // This pause replaces whatever marker the target carries.
        autoscaler.marker_pause = None;
    }
    let mode = match mode {
        PauseMode::Full => "no automated changes",
        PauseMode::ScaleInOnly => "scale-in only",
    };
    let until = until.map_or_else(|| "until resumed".to_string(), |t| format!("until {}", clock(t, now)));
    format!("paused {names} ({mode}) {until} by {by}{}", because(reason))
}

fn resume(targets: Vec<&mut Autoscaler>, who: &Who, now: Timestamp) -> Result<String, String> {
    let mut resumed = Vec::new();
    let mut idle = Vec::new();
    for autoscaler in targets {
        // An expired pause is cleared too, but it had already stopped pausing. The
        // target's marker (another console's pause, or one written by hand) is
        // resumed with it: the engine then clears the marker.
        let own = autoscaler.state.pause.take().filter(|p| p.is_active(now));
        let marker = autoscaler.marker_pause.take().filter(|p| p.is_active(now));
        match own.or(marker) {
            Some(pause) => resumed.push(format!(
                "{} (paused by {}{})",
                autoscaler.state.name,
                pause.by,
                because(&pause.reason)
            )),
            None => idle.push(autoscaler.state.name.clone()),
        }
    }
    let by = &who.by;
    match (resumed.is_empty(), idle.is_empty()) {
        (true, _) => Err(format!("nothing to resume: {} not paused", was(&idle))),
        (false, true) => Ok(format!("resumed {} by {by}", resumed.join(", "))),
        (false, false) => Ok(format!("resumed {} by {by}; {} not paused", resumed.join(", "), was(&idle))),
    }
}

/// A force-scale's order: hold `desired` for `hold`.
struct Force {
    desired: u32,
    hold: Duration,
    beyond_max: bool,
}

fn force_scale(
    autoscaler: &mut Autoscaler,
    order: &Force,
    who: &Who,
    now: Timestamp,
) -> Result<String, String> {
    let Force { desired, hold, beyond_max } = *order;
    let Who { by, reason } = who;
    let state = &autoscaler.state;
    let group = &state.name;
    if desired < state.min {
        return Err(format!(
            "{desired} is below {group}'s min of {}; a hold never goes below min",
            state.min
        ));
    }
    if desired > state.max && !beyond_max {
        return Err(format!(
            "{desired} is above {group}'s max of {}; confirm beyond max to hold it there (:scale {group} {desired} --beyond-max)",
            state.max
        ));
    }
    let cap = state.hard_cap();
    if desired > cap {
        return Err(format!(
            "{desired} is above {group}'s hard cap of {cap} (hard_max, default 2 × max): no command holds it past that"
        ));
    }
    if hold.is_zero() {
        return Err("a hold must last more than zero".into());
    }
    let until = now.plus(hold);
    let beyond = if desired > state.max { format!(" (beyond max {})", state.max) } else { String::new() };
    let frozen = match state.pause.as_ref().filter(|p| p.is_active(now) && p.mode == PauseMode::Full) {
        Some(pause) => {
            format!("; note: {group} is paused by {}, nothing changes until it is resumed", pause.by)
        }
        None => String::new(),
    };
    let message = format!(
        "holding {group} at {desired}{beyond} for {} (until {}) by {by}{}{frozen}",
        format_duration(hold),
        clock(until, now),
        because(reason)
    );
    autoscaler.state.hold = Some(Hold { desired, until, beyond_max, by: by.clone() });
    Ok(message)
}

fn shadow(targets: Vec<&mut Autoscaler>, on: bool, who: &Who) -> String {
    let mode = if on { AutoscaleMode::Shadow } else { AutoscaleMode::Act };
    let mut changed = Vec::new();
    let mut already = Vec::new();
    for autoscaler in targets {
        let name = autoscaler.state.name.clone();
        if std::mem::replace(&mut autoscaler.mode, mode) == mode {
            already.push(name)
        } else {
            changed.push(name)
        }
    }
    let what = if on {
        "shadow on: decisions are shown, not acted on"
    } else {
        "shadow off: decisions are acted on"
    };
    let mut message = if changed.is_empty() {
        format!("{} already in {}", already.join(", "), if on { "shadow" } else { "act" })
    } else {
        format!("{}: {what} (by {}{})", changed.join(", "), who.by, because(&who.reason))
    };
    if !changed.is_empty() && !already.is_empty() {
        message.push_str(&format!("; {} already so", already.join(", ")));
    }
    message
}

/// Applies `silence` / `unsilence` to the targeted groups' silences (by group name).
/// Any other command is answered `Failed`.
pub fn silence<'a>(
    groups: impl IntoIterator<Item = (&'a String, &'a mut Option<Silence>)>,
    request: &CommandRequest,
    now: Timestamp,
) -> Reply {
    let groups: Vec<(&String, &mut Option<Silence>)> = groups.into_iter().collect();
    let target = match &request.command {
        Command::Silence { target, .. } | Command::Unsilence { target } => target,
        other => return Reply::Failed { error: format!("`{other}` is not a silence") },
    };
    let known = groups.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
    if let Target::Group(name) = target
        && !groups.iter().any(|(g, _)| *g == name)
    {
        return Reply::Refused { reason: format!("unknown group `{name}` (groups: {known})") };
    }
    let chosen = groups.into_iter().filter(|(g, _)| match target {
        Target::All => true,
        Target::Group(name) => *g == name,
    });
    let by = request.operator.to_string();
    let reason = request.reason.clone().unwrap_or_default();
    match &request.command {
        Command::Silence { duration, .. } => {
            if duration.is_zero() {
                return Reply::Refused { reason: "a silence must last more than zero".into() };
            }
            let until = now.plus(*duration);
            let mut names = Vec::new();
            for (group, silence) in chosen {
                *silence =
                    Some(Silence { group: group.clone(), until, by: by.clone(), reason: reason.clone() });
                names.push(group.as_str());
            }
            Reply::Ok {
                message: format!(
                    "silenced {} for {} (until {}) by {by}{}: alarms are still evaluated and shown",
                    names.join(", "),
                    format_duration(*duration),
                    clock(until, now),
                    because(&reason)
                ),
            }
        }
        _ => {
            let mut lifted = Vec::new();
            let mut idle = Vec::new();
            for (group, silence) in chosen {
                match silence.take().filter(|s| now < s.until) {
                    Some(s) => lifted.push(format!("{group} (silenced by {})", s.by)),
                    None => idle.push(group.clone()),
                }
            }
            if lifted.is_empty() {
                return Reply::Refused {
                    reason: format!("nothing to unsilence: {} not silenced", was(&idle)),
                };
            }
            Reply::Ok { message: format!("unsilenced {} by {by}", lifted.join(", ")) }
        }
    }
}

/// The autoscalers a target names, or the refusal naming the known groups.
fn select<'s>(
    autoscalers: &'s mut [&mut Autoscaler],
    target: &Target,
) -> Result<Vec<&'s mut Autoscaler>, Reply> {
    let known = || autoscalers.iter().map(|a| a.state.name.as_str()).collect::<Vec<_>>().join(", ");
    match target {
        Target::All if autoscalers.is_empty() => Err(Reply::Refused { reason: "there are no groups".into() }),
        Target::All => Ok(autoscalers.iter_mut().map(|a| &mut **a).collect()),
        Target::Group(name) => {
            if !autoscalers.iter().any(|a| &a.state.name == name) {
                return Err(Reply::Refused {
                    reason: format!("unknown group `{name}` (groups: {})", known()),
                });
            }
            Ok(autoscalers.iter_mut().filter(|a| &a.state.name == name).map(|a| &mut **a).collect())
        }
    }
}

fn names(targets: &[&mut Autoscaler]) -> String {
    targets.iter().map(|a| a.state.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// `: REASON`, or nothing when no reason was given.
fn because(reason: &str) -> String {
    if reason.is_empty() { String::new() } else { format!(": {reason}") }
}

fn was(names: &[String]) -> String {
    match names {
        [one] => format!("{one} was"),
        many => format!("{} were", many.join(", ")),
    }
}

/// `14:30 UTC` on `now`'s day, else `2026-11-24 14:30 UTC`.
fn clock(at: Timestamp, now: Timestamp) -> String {
    let text = at.to_rfc3339();
    let (date, time) = (&text[..10], &text[11..16]);
    if now.to_rfc3339().starts_with(date) { format!("{time} UTC") } else { format!("{date} {time} UTC") }
}

#[cfg(test)]
#[path = "operator_tests.rs"]
mod tests;
