//! One group's autoscaling step, synchronous and pure: given the group's history and
//! observed capacity at `now`, evaluate its alarm rules, build the policy's [`Inputs`],
//! run [`policy::decide`], and store what the next tick needs. The tokio engine calls it
//! every tick and applies the resulting action (or not, in shadow mode); `replay` will
//! call the same function on a virtual clock.
//!
//! Alarm rules are evaluated on the raw points in memory; rules whose window is longer
//! than the raw buffer covers (e.g. 2 × 5 min periods at fast polling) see fewer
//! datapoints than configured and treat the rest as missing, per their `missing_data`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::alarms::{self, AlarmRule, AlarmStatus};
use crate::model::{AlarmState, Capacity, GroupSpec, MetricKind, Timestamp};
use crate::policy::{
    self, ActivityCause, Decision, GroupState, Inputs, MetricInput, PolicySpec, Recommendation,
    ScalingActivity,
};
use crate::protocol::{AlarmView, DecisionView};

use super::history::SeriesHistory;

/// Whether decisions change capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoscaleMode {
    /// Decide and show "would set N"; never act. How a team adopts an autoscaler, and
    /// the console's mode until the circuit breaker and pause commands land.
    #[default]
    Shadow,
    /// Decide and act through the actuator.
    Act,
}

/// One alarm rule and its current status.
#[derive(Clone, Debug)]
pub struct Alarm {
    pub rule: AlarmRule,
    pub status: AlarmStatus,
}

/// What the engine remembers of one group between ticks for autoscaling.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    pub state: GroupState,
    pub alarms: Vec<Alarm>,
    pub last_decision: Option<Decision>,
    pub mode: AutoscaleMode,
}

/// The outcome of one step: the decision, and the desired capacity to set (only in
/// `Act` mode, only when it changes).
#[derive(Clone, Debug)]
pub struct Step {
    /// Exactly what `decide` was given: the decision log records these, so the line
    /// reproduces the decision in `fleetdeck decide`.
    pub state: GroupState,
    pub inputs: Inputs,
    pub decision: Decision,
    pub set_desired: Option<u32>,
    /// Alarms that changed state this tick: (name, from, to).
    pub transitions: Vec<(String, AlarmState, AlarmState)>,
}

impl Autoscaler {
    pub fn new(
        spec: &GroupSpec,
        policy: PolicySpec,
        rules: Vec<AlarmRule>,
        mode: AutoscaleMode,
        start: Timestamp,
    ) -> Self {
        let state = GroupState {
            name: spec.name.clone(),
            min: spec.min,
            max: spec.max,
            hourly_cost_usd: spec.hourly_cost_usd,
            max_warmup: spec.warmup.max,
            policy,
            capacity: Capacity::default(),
            recent_recommendations: Vec::new(),
            recent_activities: Vec::new(),
            hold: None,
            pause: None,
            scale_out_pending_since: None,
            last_tick: None,
        };
        let alarms = rules.into_iter().map(|rule| Alarm { rule, status: AlarmStatus::new(start) }).collect();
        Autoscaler { state, alarms, last_decision: None, mode }
    }

    /// Evaluates alarms and decides at `now` on the group's history and capacity.
    pub fn step(
        &mut self,
        series: &BTreeMap<MetricKind, SeriesHistory>,
        capacity: Capacity,
        stale_after: Duration,
        now: Timestamp,
    ) -> Step {
        let mut transitions = Vec::new();
        for alarm in &mut self.alarms {
            let samples = series.get(&alarm.rule.metric).into_iter().flat_map(|h| h.raw());
            let next = alarms::evaluate(&alarm.rule, samples, &alarm.status, now);
            if next.state != alarm.status.state {
                transitions.push((alarm.rule.name.clone(), alarm.status.state, next.state));
            }
            alarm.status = next;
        }
        let inputs = Inputs {
            metrics: series
                .iter()
                .filter_map(|(kind, h)| {
                    h.newest().map(|s| MetricInput { kind: kind.clone(), at: s.at, value: s.value })
                })
                .collect(),
            stale_after,
            alarms: self.alarms.iter().map(|a| a.status.to_input(&a.rule)).collect(),
            load_profile: None,
        };
        self.state.capacity = capacity;
        let decision = policy::decide(&self.state, &inputs, now);
        let state = self.state.clone();
        self.remember(&decision);
        let set_desired = match self.mode {
            AutoscaleMode::Act => decision.desired,
            AutoscaleMode::Shadow => None,
        };
        self.last_decision = Some(decision.clone());
        Step { state, inputs, decision, set_desired, transitions }
    }

    /// Stores what the next tick's decision depends on. In shadow mode nothing was
    /// changed, so only the recommendation (for the stabilization windows) is kept.
    fn remember(&mut self, decision: &Decision) {
        let updates = &decision.state_updates;
        let cutoff = decision.at.minus(updates.retain);
        let state = &mut self.state;
        state
            .recent_recommendations
            .push(Recommendation { at: updates.recommendation.at, desired: updates.recommendation.desired });
        state.recent_recommendations.retain(|r| r.at > cutoff);
        state.scale_out_pending_since = updates.scale_out_pending_since;
        state.last_tick = Some(decision.at);
        if let (AutoscaleMode::Act, Some(to)) = (self.mode, decision.desired) {
            // Step warm-up and simple-scaling cooldowns are accounted per policy.
            state.recent_activities.push(ScalingActivity {
                at: decision.at,
                from: decision.current,
                to,
                cause: ActivityCause::Policy,
                policy: decision.driver.clone(),
            });
        }
        state.recent_activities.retain(|a| a.at > cutoff);
    }

    /// The alarms as front ends show them.
    pub fn alarm_views(&self) -> Vec<AlarmView> {
        self.alarms
            .iter()
            .map(|a| AlarmView {
                name: a.rule.name.clone(),
                state: a.status.state,
                since: a.status.since,
                value: a.status.value,
                summary: a.rule.summary(),
            })
            .collect()
    }

    /// The last decision as front ends show it.
    pub fn decision_view(&self) -> Option<DecisionView> {
        self.last_decision.as_ref().map(|d| DecisionView {
            at: d.at,
            current: d.current,
            desired: d.desired,
            reason: d.reason.clone(),
            shadow: self.mode == AutoscaleMode::Shadow,
        })
    }
}
