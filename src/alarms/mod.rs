//! Alarm evaluation: threshold rules over a per-period statistic with M-of-N datapoints, a
//! for-duration, and CloudWatch's treatment of missing data; states OK, PENDING, FIRING
//! and INSUFFICIENT_DATA, resolve being FIRING → OK.
//!
//! Pure and deterministic: [`evaluate`] is a function of the rule, the samples, the
//! previous [`AlarmStatus`] and `now`, which is passed in. This module never sees a clock,
//! a runtime, I/O, notifiers or the engine; it does not know where samples come from, nor
//! what a firing alarm leads to (paging, scaling, grouping under a warm-up, silences).
//!
//! - [`rule`]: the rule as configured ([`AlarmRule`]) and its validation.
//! - [`window`]: samples → datapoints of complete periods → whether M of N breach, with
//!   missing data treated as CloudWatch does.
//! - [`seeds`]: the five built-in rules of the demo fleet.
//! - here: the state machine and the conversion to the [`AlarmInput`] the policy reads
//!   (a `model` type: alarms never import the policy).

pub mod rule;
pub mod seeds;
pub mod window;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use rule::{AlarmRule, AlarmRuleError, Comparison, MissingData, Statistic};
pub use window::{Condition, Datapoint};

use crate::model::{AlarmInput, AlarmState, Sample, Timestamp};

/// An alarm's state after an evaluation; the input of the next one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmStatus {
    pub state: AlarmState,
    /// When it entered `state`.
    pub since: Timestamp,
    /// The newest datapoint's statistic in the evaluation range, if any period had data.
    pub value: Option<f64>,
    /// The start of that datapoint's period.
    #[serde(default)]
    pub value_at: Option<Timestamp>,
    /// While PENDING or FIRING: the start of the newest complete period at the evaluation
    /// where the condition began to hold. The for-duration is counted from here, so a
    /// rule of 1-of-1 one-minute periods held for 5 min fires after five breaching minutes.
    pub breaching_since: Option<Timestamp>,
    /// Set by the evaluation that changed the state; `None` when the state was kept.
    pub transition: Option<Transition>,
}

impl AlarmStatus {
    /// A new alarm: INSUFFICIENT_DATA until its first evaluation, as CloudWatch starts.
    pub fn new(at: Timestamp) -> Self {
        AlarmStatus {
            state: AlarmState::InsufficientData,
            since: at,
            value: None,
            value_at: None,
            breaching_since: None,
            transition: None,
        }
    }

    /// The alarm as the policy sees it (step and simple scaling read it by name).
    pub fn to_input(&self, rule: &AlarmRule) -> AlarmInput {
        AlarmInput {
            name: rule.name.clone(),
            state: self.state,
            value: self.value,
            value_at: self.value_at,
            threshold: rule.threshold,
            since: Some(self.since),
        }
    }
}

impl Default for AlarmStatus {
    fn default() -> Self {
        AlarmStatus::new(Timestamp::default())
    }
}

/// A change of state, for notifiers and the event log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub from: AlarmState,
    pub to: AlarmState,
    pub at: Timestamp,
}

impl Transition {
    /// The alarm started firing: page.
    pub fn is_fire(&self) -> bool {
        self.to == AlarmState::Firing
    }

    /// FIRING → OK: send the resolve. (FIRING → INSUFFICIENT_DATA is not a resolve: the
    /// problem may still be there, the data is not.)
    pub fn is_resolve(&self) -> bool {
        self.from == AlarmState::Firing && self.to == AlarmState::Ok
    }
}

/// Evaluates `rule` at `now` over `samples` (any order; oldest first is how history holds
/// them), given the status the previous evaluation returned.
///
/// - Condition met (M of N datapoints breach, missing data treated per the rule): PENDING,
///   or FIRING once the condition has held for `for_duration` since `breaching_since`
///   (straight to FIRING when that is already so — always for a zero for-duration).
///   A FIRING alarm stays FIRING while the condition holds.
/// - Not met: OK; from FIRING this is the resolve.
/// - Every datapoint missing, treatment `missing`: INSUFFICIENT_DATA.
/// - Treatment `ignore` and the data present cannot decide: the state is kept as it is
///   (PENDING is not promoted to FIRING on no evidence).
///
/// NaN samples are missing data, never a breach.
pub fn evaluate<'a>(
    rule: &AlarmRule,
    samples: impl IntoIterator<Item = &'a Sample>,
    previous: &AlarmStatus,
    now: Timestamp,
) -> AlarmStatus {
    // `window::condition` of `window::datapoints`, and the newest datapoint's value,
    // without collecting either.
    let (condition, newest) = window::evaluate_range(rule, samples, now);
    next_status(rule, condition, newest, previous, now)
}

/// [`evaluate`] of samples in time order (oldest first), given as slices, as the engine's
/// history holds them: the same status, found faster.
pub fn evaluate_sorted<'a>(
    rule: &AlarmRule,
    chunks: impl IntoIterator<Item = &'a [Sample]>,
    previous: &AlarmStatus,
    now: Timestamp,
) -> AlarmStatus {
    let (condition, newest) = window::evaluate_sorted_range(rule, chunks, now);
    next_status(rule, condition, newest, previous, now)
}

/// The state machine alone: `previous` and this evaluation's condition → the new status.
pub fn next_status(
    rule: &AlarmRule,
    condition: Condition,
    newest: Option<Datapoint>,
    previous: &AlarmStatus,
    now: Timestamp,
) -> AlarmStatus {
    let (state, breaching_since) = match condition {
        Condition::Met => {
            let already = matches!(previous.state, AlarmState::Pending | AlarmState::Firing);
            let since = previous
                .breaching_since
                .filter(|_| already)
                .unwrap_or_else(|| window::newest_complete_period(rule, now));
            let held = now.since(since) >= rule.for_duration;
            let state = if previous.state == AlarmState::Firing || held {
                AlarmState::Firing
            } else {
                AlarmState::Pending
            };
            (state, Some(since))
        }
        Condition::NotMet => (AlarmState::Ok, None),
        Condition::Insufficient => (AlarmState::InsufficientData, None),
        // Only PENDING and FIRING carry a start of breach, even if `previous` was
        // handed in with one on another state.
        Condition::Undecided => (
            previous.state,
            previous
                .breaching_since
                .filter(|_| matches!(previous.state, AlarmState::Pending | AlarmState::Firing)),
        ),
    };
    let changed = state != previous.state;
    AlarmStatus {
        state,
        since: if changed { now } else { previous.since },
        value: newest.and_then(|d| d.value),
        value_at: newest.map(|d| d.start),
        breaching_since,
        transition: changed.then_some(Transition { from: previous.state, to: state, at: now }),
    }
}
