//! Predictive scaling. PLACEHOLDER: signature fixed, body being written.

use std::time::Duration;

use crate::model::{Capacity, Timestamp};
use crate::policy::spec::{LoadProfile, PredictiveSpec, Proposal};

/// The capacity the forecast load needs `lead` ahead of `now` (default `default_lead`,
/// the group's maximum warm-up). Never proposes scale-in (`may_scale_in` is false);
/// without a usable profile (< 7 days of history) it has no opinion. The caller decides
/// whether forecast-only mode acts.
pub fn predictive_proposal(
    _spec: &PredictiveSpec,
    _profile: Option<&LoadProfile>,
    _capacity: &Capacity,
    _default_lead: Duration,
    _now: Timestamp,
) -> Proposal {
    unimplemented!("predictive in progress")
}
