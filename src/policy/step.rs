//! AWS step and simple scaling. PLACEHOLDER: signatures fixed, bodies being written.

use std::time::Duration;

use crate::model::{Capacity, Timestamp};
use crate::policy::spec::{AlarmInput, Proposal, ScalingActivity, SimpleRule, StepRule};

/// Step scaling (AWS semantics) for one rule: `alarm` is the rule's alarm (None if it
/// does not exist); `history` the group's recent activities, oldest first;
/// `default_warmup` applies when the rule has none.
pub fn step_proposal(
    _rule: &StepRule,
    _alarm: Option<&AlarmInput>,
    _capacity: &Capacity,
    _history: &[ScalingActivity],
    _default_warmup: Duration,
    _now: Timestamp,
) -> Proposal {
    unimplemented!("step scaling in progress")
}

/// Simple scaling (AWS semantics) for one rule, with its cooldown.
pub fn simple_proposal(
    _rule: &SimpleRule,
    _alarm: Option<&AlarmInput>,
    _capacity: &Capacity,
    _history: &[ScalingActivity],
    _now: Timestamp,
) -> Proposal {
    unimplemented!("simple scaling in progress")
}
