//! One group's autoscaling step, synchronous and pure: given the group's history and
//! observed capacity at `now`, evaluate its alarm rules, build the policy's [`Inputs`],
//! run [`policy::decide()`], and store what the next tick needs. The
//! [`tick`](super::tick) core calls it for every group every tick, live and in `replay`.
//!
//! Alarm rules are evaluated on the raw points in memory; rules whose window is longer
//! than the raw buffer covers (e.g. 2 × 5 min periods at fast polling) see fewer
//! datapoints than configured and treat the rest as missing, per their `missing_data`.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use crate::alarms::{self, AlarmRule, AlarmStatus};
use crate::model::{AlarmState, Capacity, GroupSpec, MetricKind, Timestamp};
use crate::policy::{
    self, ActivityCause, Decision, GroupState, Inputs, LoadProfile, MetricInput, PolicySpec, ScalingActivity,
    remember_recommendation,
};
use crate::policy::{Pause, PauseMode};
use crate::protocol::{AlarmView, ControlKind, ControlView, DecisionView, ForecastView};

use super::breaker::{Breaker, BreakerSettings, clears_itself, stricter_pause, trip_text};
use super::history::SeriesHistory;

/// The alarm raised while a scale-out is stalled (no capacity arrives).
pub const STALLED_ALARM: &str = "scale-out-stalled";

/// Whether decisions change capacity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutoscaleMode {
    /// Decide and show "would set N"; never act. How a team adopts an autoscaler
    /// (`--shadow`, or `:shadow GROUP on`).
    Shadow,
    /// Decide and act through the actuator.
    #[default]
    Act,
}

/// One alarm rule and its current status.
#[derive(Clone, Debug)]
pub struct Alarm {
    pub rule: AlarmRule,
    pub status: AlarmStatus,
    /// The rule in one line ([`AlarmRule::summary`]), worded once: snapshots show it
    /// every tick.
    pub summary: String,
    /// The last evaluation of the window, while it cannot have changed.
    window: Option<WindowResult>,
}

/// One evaluation of an alarm's window (its complete periods), kept while no sample in it
/// can have changed. Samples only ever arrive newer than the newest held (the history
/// refuses older ones), so once the newest is past the window's end nothing new lands in
/// it; and while the oldest sample held is not inside the window (or is the one held then),
/// nothing in it has been dropped. The state machine still runs every tick, on `now`.
#[derive(Clone, Debug)]
struct WindowResult {
    range: RangeInclusive<Timestamp>,
    /// The oldest sample held when evaluated.
    oldest: Timestamp,
    condition: alarms::Condition,
    newest: Option<alarms::Datapoint>,
}

impl WindowResult {
    /// What to keep of an evaluation: nothing unless every later sample is sure to fall
    /// after the window.
    fn remember(
        range: RangeInclusive<Timestamp>,
        history: Option<&SeriesHistory>,
        condition: alarms::Condition,
        newest: Option<alarms::Datapoint>,
    ) -> Option<Self> {
        let history = history?;
        let latest = history.newest()?.at;
        let oldest = history.raw().next()?.at;
        (latest > *range.end()).then_some(WindowResult { range, oldest, condition, newest })
    }

    fn still_valid(&self, range: &RangeInclusive<Timestamp>, history: Option<&SeriesHistory>) -> bool {
        let oldest = history.and_then(|h| h.raw().next()).map(|s| s.at);
        self.range == *range && oldest.is_some_and(|o| o == self.oldest || o <= *range.start())
    }
}

/// What the engine remembers of one group between ticks for autoscaling.
#[derive(Clone, Debug)]
pub struct Autoscaler {
    /// The policy's view of the group. `state.pause` is the *operator's* pause; the
    /// breaker's freeze is combined with it only for the call to `decide`.
    pub state: GroupState,
    pub breaker: Breaker,
    pub alarms: Vec<Alarm>,
    /// Shared with the tick's [`Step`] (and the decision log's record): not copied.
    pub last_decision: Option<Arc<Decision>>,
    pub mode: AutoscaleMode,
    /// Daily and weekly load profiles for predictive scaling (from the store's history).
    pub load_profile: Option<LoadProfile>,
    /// Capacity observed longer ago than this is unknown (the actuator's own staleness
    /// limit; None where capacity is always current, as in replay).
    pub capacity_stale_after: Option<Duration>,
    /// The pause marker found on the target (written by any console, or by hand):
    /// honoured like the operator's own pause.
    pub marker_pause: Option<Pause>,
    /// The bounds the target itself enforces (an ASG's MinSize/MaxSize), narrowing the
    /// configured ones for each decision.
    pub target_bounds: Option<(u32, u32)>,
}

/// The outcome of one step: the decision, and the desired capacity to set (only in
/// `Act` mode, only when it changes).
#[derive(Clone, Debug)]
pub struct Step {
    /// Exactly what `decide` was given: the decision log records these, so the line
    /// reproduces the decision in `fleetdeck decide`. The state is copied only when asked
    /// for (`record`): without a decision log nothing needs it.
    pub state: Option<GroupState>,
    pub inputs: Inputs,
    pub decision: Arc<Decision>,
    pub set_desired: Option<u32>,
    /// Alarms that changed state this tick: (name, from, to).
    pub transitions: Vec<(String, AlarmState, AlarmState)>,
    /// Why the breaker stopped this decision's change, if it did.
    pub vetoed: Option<String>,
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
            hard_max: spec.hard_max,
            ..GroupState::new(
                spec.name.clone(),
                (spec.min, spec.max),
                spec.hourly_cost_usd,
                spec.warmup.max,
                policy,
            )
        };
        let alarms = rules
            .into_iter()
            .map(|rule| Alarm {
                summary: rule.summary(),
                rule,
                status: AlarmStatus::new(start),
                window: None,
            })
            .collect();
        let breaker = Breaker::new(spec.name.clone(), BreakerSettings::default());
        Autoscaler {
            state,
            breaker,
            alarms,
            last_decision: None,
            mode,
            load_profile: None,
            capacity_stale_after: None,
            marker_pause: None,
            target_bounds: None,
        }
    }

    /// Replaces the alarm rules; a rule equal to one already there keeps its state.
    pub fn set_rules(&mut self, rules: Vec<AlarmRule>, now: Timestamp) {
        let mut old = std::mem::take(&mut self.alarms);
        self.alarms = rules
            .into_iter()
            .map(|rule| match old.iter().position(|a| a.rule == rule) {
                Some(i) => old.swap_remove(i),
                None => Alarm { summary: rule.summary(), rule, status: AlarmStatus::new(now), window: None },
            })
            .collect();
    }

    /// Evaluates alarms and decides at `now` on the group's history and capacity.
    /// `may_act`: this engine holds the group's lease (else it only observes); `record`:
    /// keep a copy of the state decided on, for the decision log.
    pub fn step(
        &mut self,
        series: &BTreeMap<MetricKind, SeriesHistory>,
        capacity: Capacity,
        stale_after: Duration,
        now: Timestamp,
        may_act: bool,
        record: bool,
    ) -> Step {
        let mut transitions = Vec::new();
        for alarm in &mut self.alarms {
            let history = series.get(&alarm.rule.metric);
            let range = alarms::window::evaluation_range(&alarm.rule, now);
            let (condition, newest) = match alarm.window.as_ref().filter(|w| w.still_valid(&range, history)) {
                Some(window) => (window.condition, window.newest),
                None => {
                    // Only the evaluation range's samples are data: the time-sorted raw
                    // buffer is read from its start to its end, found by binary search, a
                    // chunk at a time.
                    let chunks = history.map(|h| h.raw_in(range.clone())).into_iter().flatten();
                    let (condition, newest) = alarms::window::evaluate_sorted_range(&alarm.rule, chunks, now);
                    alarm.window = WindowResult::remember(range, history, condition, newest);
                    (condition, newest)
                }
            };
            let next = alarms::next_status(&alarm.rule, condition, newest, &alarm.status, now);
            if next.state != alarm.status.state {
                transitions.push((alarm.rule.name.clone(), alarm.status.state, next.state));
            }
            alarm.status = next;
        }
        let inputs = Inputs {
            // The capacity series are the console's; the policies read capacity itself.
            metrics: series
                .iter()
                .filter(|(kind, _)| !kind.is_capacity())
                .filter_map(|(kind, h)| {
                    h.newest().map(|s| MetricInput {
                        kind: kind.clone(),
                        at: s.at,
                        value: s.value,
                        instances: h.newest_instances(),
                    })
                })
                .collect(),
            stale_after,
            alarms: self.alarms.iter().map(|a| a.status.to_input(&a.rule)).collect(),
            // Only a predictive policy reads it; the decision log need not carry it otherwise.
            load_profile: self.load_profile.clone().filter(|_| self.state.policy.predictive.is_some()),
            capacity_stale_after: self.capacity_stale_after,
        };
        self.state.capacity = capacity;
        // decide sees the strictest of the operator's pause, the target's marker and the
        // breaker's freeze, within the configured bounds narrowed to the target's own; the
        // log records exactly that state, so the line reproduces the decision.
        let pause = stricter_pause(self.state.pause.clone(), self.marker_pause.clone(), now);
        let effective = stricter_pause(pause, self.breaker.effective_pause(now), now);
        let operator_pause = std::mem::replace(&mut self.state.pause, effective);
        let configured = (self.state.min, self.state.max);
        (self.state.min, self.state.max) = narrowed(configured, self.target_bounds);
        let decision = policy::decide(&self.state, &inputs, now);
        let state = record.then(|| self.state.clone());
        self.state.pause = operator_pause;
        (self.state.min, self.state.max) = configured;
        // A budget trip freezes scale-out, which no pause mode expresses: veto it here.
        let vetoed = self.breaker.veto(now, &decision).map(|trip| format!("blocked: breaker {}", trip.cause));
        let set_desired = match (self.mode, &vetoed, may_act) {
            (AutoscaleMode::Act, None, true) => decision.desired,
            _ => None,
        };
        self.remember(&decision, set_desired.is_some());
        // A stalled scale-out is an alarm of its own (DESIGN.md): it fires when the policy
        // first reports the stall and resolves when capacity catches up.
        let was_stalled = self.last_decision.as_ref().is_some_and(|d| d.stalled.is_some());
        match (was_stalled, decision.stalled.is_some()) {
            (false, true) => transitions.push((STALLED_ALARM.into(), AlarmState::Ok, AlarmState::Firing)),
            (true, false) => transitions.push((STALLED_ALARM.into(), AlarmState::Firing, AlarmState::Ok)),
            _ => {}
        }
        let decision = Arc::new(decision);
        self.last_decision = Some(decision.clone());
        Step { state, inputs, decision, set_desired, vetoed, transitions }
    }

    /// Drops every remembered window evaluation (tests compare against evaluating afresh).
    #[cfg(test)]
    pub(crate) fn forget_windows(&mut self) {
        for alarm in &mut self.alarms {
            alarm.window = None;
        }
    }

    /// Forgets the action taken at `at`: its actuator call failed or was never made, so
    /// capacity did not change and no warm-up or cooldown runs for it.
    pub fn forget_action(&mut self, at: Timestamp) {
        self.state.recent_activities.retain(|a| !(a.at == at && a.cause == ActivityCause::Policy));
    }

    /// Stores what the next tick's decision depends on. When nothing is acted on (shadow
    /// mode, a veto, no lease) only the recommendation (for the stabilization windows) is
    /// kept.
    fn remember(&mut self, decision: &Decision, acted: bool) {
        let updates = &decision.state_updates;
        let cutoff = decision.at.minus(updates.retain);
        let state = &mut self.state;
        remember_recommendation(&mut state.recent_recommendations, updates.recommendation, cutoff);
        state.scale_out_pending_since = updates.scale_out_pending_since;
        state.last_tick = Some(decision.at);
        if let (true, Some(to)) = (acted, decision.desired) {
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
        let rules = self.alarms.iter().map(|a| AlarmView {
            held_until: None,
            source: None,
            name: a.rule.name.clone(),
            state: a.status.state,
            since: a.status.since,
            value: a.status.value,
            summary: a.summary.clone(),
            metric: Some(a.rule.metric.clone()),
        });
        let stalled = self.last_decision.as_ref().and_then(|d| d.stalled.as_ref()).map(|s| AlarmView {
            held_until: None,
            source: None,
            name: STALLED_ALARM.into(),
            state: AlarmState::Firing,
            since: s.since,
            value: Some(f64::from(s.ready_plus_warming)),
            summary: format!(
                "desired {} but only {} ready or warming for longer than the maximum warm-up",
                s.desired, s.ready_plus_warming
            ),
            metric: None,
        });
        rules.chain(stalled).collect()
    }

    /// What stops or limits automation on this group now, in words.
    pub fn control_views(&self, now: Timestamp) -> Vec<ControlView> {
        let mut out = Vec::new();
        if let Some(pause) = self.state.pause.as_ref().filter(|p| p.is_active(now)) {
            out.push(ControlView { kind: ControlKind::Pause, text: pause_text(pause), clears_itself: false });
        }
        let own = self.state.pause.as_ref().filter(|p| p.is_active(now));
        if let Some(marker) = self.marker_pause.as_ref().filter(|m| m.is_active(now) && Some(*m) != own) {
            out.push(ControlView {
                kind: ControlKind::Pause,
                clears_itself: false,
                text: format!("{} (marker on the target)", pause_text(marker)),
            });
        }
        let configured = (self.state.min, self.state.max);
        let bounds = narrowed(configured, self.target_bounds);
        if bounds != configured {
            out.push(ControlView {
                kind: ControlKind::Hold,
                clears_itself: false,
                text: format!(
                    "the target allows only {}–{} of the configured {}–{}",
                    bounds.0, bounds.1, configured.0, configured.1
                ),
            });
        }
        if let Some(hold) = self.state.hold.as_ref().filter(|h| h.is_active(now)) {
            let beyond = if hold.beyond_max { " (beyond max)" } else { "" };
            out.push(ControlView {
                kind: ControlKind::Hold,
                clears_itself: false,
                text: format!(
                    "held at {}{beyond} by {} until {}",
                    hold.desired,
                    hold.by,
                    clock_text(hold.until)
                ),
            });
        }
        for trip in self.breaker.trips() {
            out.push(ControlView {
                kind: ControlKind::Breaker,
                text: trip_text(trip),
                clears_itself: clears_itself(trip.kind),
            });
        }
        if self.mode == AutoscaleMode::Shadow {
            out.push(ControlView {
                kind: ControlKind::Shadow,
                clears_itself: false,
                text: "shadow mode: decisions are shown, not acted on".into(),
            });
        }
        out
    }

    /// Predictive scaling's forecast from `from` to one lead time past `now` (the spec's
    /// lead, else `default_lead`), when the group has the policy and a usable profile.
    pub fn forecast_view(
        &self,
        from: Timestamp,
        now: Timestamp,
        default_lead: Duration,
    ) -> Option<ForecastView> {
        let spec = self.state.policy.predictive.as_ref()?;
        let until = now.plus(spec.lead.unwrap_or(default_lead));
        let points = policy::predictive::forecast_capacity(spec, self.load_profile.as_ref(), from, until);
        (!points.is_empty()).then(|| ForecastView {
            metric: spec.metric.clone(),
            acts: spec.mode == policy::PredictiveMode::ForecastAndScale,
            points,
            until,
        })
    }

    /// The last decision as front ends show it.
    pub fn decision_view(&self) -> Option<DecisionView> {
        self.last_decision.as_ref().map(|d| {
            // A stall matters even when this tick asks for nothing more: say so.
            let reason = match &d.stalled {
                Some(s) if !d.reason.contains("stalled") => format!(
                    "{} — scale-out stalled {}: {} asked, {} ready or warming",
                    d.reason,
                    crate::model::format_duration(s.waiting),
                    s.desired,
                    s.ready_plus_warming
                ),
                _ => d.reason.clone(),
            };
            DecisionView {
                at: d.at,
                current: d.current,
                desired: d.desired,
                reason,
                shadow: self.mode == AutoscaleMode::Shadow,
            }
        })
    }
}

/// "2026-11-23 14:09 UTC": minutes are what an operator reads; the day avoids doubt.
pub fn clock_text(t: Timestamp) -> String {
    format!("{} UTC", t.to_rfc3339().get(..16).unwrap_or_default().replace('T', " "))
}

/// "paused (scale-in only) by ana until 14:30: INC-123".
fn pause_text(pause: &Pause) -> String {
    let mode = match pause.mode {
        PauseMode::Full => "no automated changes",
        PauseMode::ScaleInOnly => "scale-in only",
    };
    let until = pause.until.map_or("until resumed".to_string(), |t| format!("until {}", clock_text(t)));
    let reason = if pause.reason.is_empty() { String::new() } else { format!(": {}", pause.reason) };
    format!("paused ({mode}) by {} {until}{reason}", pause.by)
}

/// The configured bounds narrowed to the target's own: a target refuses anything outside
/// its bounds, whatever the config says. Where the two do not overlap the target wins.
pub fn narrowed(configured: (u32, u32), target: Option<(u32, u32)>) -> (u32, u32) {
    let Some((target_min, target_max)) = target else { return configured };
    let max = configured.1.min(target_max).max(target_min.min(target_max));
    let min = configured.0.max(target_min).min(max);
    (min, max)
}
