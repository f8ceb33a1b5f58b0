//! The tick core (DESIGN.md, "Data flow"): one synchronous, deterministic function from
//! the engine's state, this tick's samples and observed capacity, the operators' commands
//! and `now` to decisions, actions, events and notifications. No I/O, no clock, no
//! runtime: the live [`Engine`](super::Engine) wraps it with polling, the actuator calls,
//! the lease, the store and the decision log; `replay` drives the very same function on a
//! virtual clock, so a backtest scores exactly the production loop.
//!
//! One tick, per group, in order:
//! 1. commands given with the tick are applied first (as between ticks, through
//!    [`TickCore::command`]);
//! 2. the new samples go into the group's bounded history, the observed capacity replaces
//!    the last one;
//! 3. the outcome of the action the previous tick asked for is settled: a failed call is
//!    forgotten by the policy (capacity did not change) and counted by the breaker, which
//!    trips after K failures in a row *before* this tick decides;
//! 4. alarms are evaluated and the policy decides ([`Autoscaler::step`]) under the
//!    operator's pause or hold and the breaker's freeze;
//! 5. the breaker sees the decision (stale data, budget, flapping);
//! 6. the action, if this engine acts on the group ([`Authority::Act`], not shadow, not
//!    vetoed);
//! 7. paging: alarms firing (rules, a stalled scale-out, open breaker trips) are
//!    reconciled into notifications, under silences and the warm-up hold-back
//!    ([`pager`](super::pager)).
//!
//! A group whose capacity has never been observed is recorded but not decided on.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::alarms::AlarmRule;
use crate::model::{AlarmState, Capacity, GroupSpec, MetricKind, MetricSample, Sample, Timestamp};
use crate::policy::{Decision, GroupState, Inputs, LoadProfile, PolicySpec};
use crate::protocol::{Command, CommandRequest, Event, Operator, Reply, Target};
use crate::store::Silence;

use super::autoscale::{AutoscaleMode, Autoscaler, STALLED_ALARM};
use super::breaker::{BreakerEvent, ResetScope, TickFacts};
use super::decision_log::{self, DecisionRuns};
use super::history::SeriesHistory;
use super::operator;
use super::pager::{Firing, Notification, Pager, Warming};

/// What the core needs to know of how the engine runs.
#[derive(Clone, Debug)]
pub struct CoreSettings {
    /// A series is stale when its newest sample is older than this.
    pub stale_after: Duration,
    /// Raw points kept per series.
    pub raw_points: usize,
    /// 1-minute aggregates kept per series.
    pub minute_points: usize,
    /// Refuse every mutating command and never act.
    pub readonly: bool,
    /// Copy into each [`DecisionRecord`] the state it was decided on (the decision log
    /// writes it, so a line reproduces its decision); off when nothing logs.
    pub record_states: bool,
    /// Record each observed capacity as the group's desired, ready and warming series
    /// ([`MetricKind::CAPACITY`]) for the console's capacity chart; replay does without.
    pub capacity_series: bool,
}

/// One group as the core keeps it between ticks.
#[derive(Clone, Debug)]
pub struct CoreGroup {
    pub spec: GroupSpec,
    /// A series of this group is stale when its newest sample is older than this (its
    /// source's limit; the core's own setting unless the engine says otherwise).
    pub stale_after: Duration,
    pub series: BTreeMap<MetricKind, SeriesHistory>,
    /// The capacity last observed (None until the actuator first answers).
    pub capacity: Option<Capacity>,
    pub autoscaler: Autoscaler,
    /// Notifications are muted while this is in force.
    pub silence: Option<Silence>,
    pub pager: Pager,
    /// The action the previous tick asked for, until its outcome comes in.
    pending: Option<Action>,
    /// The run of identical decisions the decision log's newest entry stands for.
    runs: DecisionRuns,
}

impl CoreGroup {
    pub fn new(spec: GroupSpec, autoscaler: Autoscaler, stale_after: Duration) -> Self {
        CoreGroup {
            spec,
            stale_after,
            series: BTreeMap::new(),
            capacity: None,
            autoscaler,
            silence: None,
            pager: Pager::default(),
            pending: None,
            runs: DecisionRuns::default(),
        }
    }

    /// The decision log's entry for `what` an operator or the breaker (`by`) did to the
    /// group.
    fn action_event(&self, now: Timestamp, by: &str, what: String) -> Event {
        let entry = decision_log::action_entry(now, &self.spec.name, &self.autoscaler.state, by, what);
        Event::Decided(Box::new(entry))
    }

    /// The silence in force at `now`, if any.
    pub fn silence_at(&self, now: Timestamp) -> Option<&Silence> {
        self.silence.as_ref().filter(|s| now < s.until)
    }

    /// The newest scale-out acted on that is still warming at `now`: its maximum warm-up
    /// has not passed and ready capacity has not reached it.
    pub fn warming(&self, now: Timestamp) -> Option<Warming> {
        let state = &self.autoscaler.state;
        let ready = self.capacity.map_or(0, |c| c.ready);
        state
            .recent_activities
            .iter()
            .rev()
            .find(|a| a.to > a.from)
            .map(|a| Warming { at: a.at, from: a.from, to: a.to, until: a.at.plus(self.spec.warmup.max) })
            .filter(|w| now < w.until && ready < w.to)
    }

    /// This group's part of [`TickCore::tick`], in the order the module doc gives.
    fn tick(
        &mut self,
        index: usize,
        input: GroupInput,
        now: Timestamp,
        settings: &CoreSettings,
        out: &mut TickOutput,
    ) {
        if input.skip {
            return;
        }
        if let Some(target) = input.target {
            self.autoscaler.target_bounds = target.bounds;
            self.autoscaler.marker_pause = target.marker;
        }
        self.record(input.samples, settings);
        if let Some(capacity) = input.capacity {
            self.capacity = Some(capacity);
            if settings.capacity_series {
                let counts = [capacity.desired, capacity.ready, capacity.warming];
                for (kind, count) in MetricKind::CAPACITY.iter().zip(counts) {
                    let sample = Sample { at: now, value: f64::from(count) };
                    match self.series.get_mut(kind) {
                        Some(history) => {
                            history.push(sample);
                        }
                        None => self.record(vec![MetricSample::new(kind.clone(), sample)], settings),
                    }
                }
            }
        }
        let name = self.spec.name.clone();
        let mut breaker_events = Vec::new();
        if let Some(action) = self.pending.take() {
            match input.action_outcome {
                Some(Ok(())) => breaker_events.extend(self.autoscaler.breaker.observe_outcome(now, false)),
                Some(Err(_)) => {
                    self.autoscaler.forget_action(action.at);
                    breaker_events.extend(self.autoscaler.breaker.observe_outcome(now, true));
                }
                None => self.autoscaler.forget_action(action.at),
            }
        }
        let Some(capacity) = self.capacity else {
            for event in &breaker_events {
                out.events.push(breaker_event(now, &name, event));
                out.events.push(self.action_event(now, BREAKER, event.to_string()));
            }
            out.breaker_changes.extend(breaker_events);
            return;
        };
        let may_act = input.authority == Authority::Act && !settings.readonly;
        let record = settings.record_states;
        let step = self.autoscaler.step(&self.series, capacity, self.stale_after, now, may_act, record);
        // Not acted on: shadow mode, observing or backing off, or vetoed (a change asked
        // for is acted on exactly when none of these holds).
        let shadow = self.autoscaler.mode == AutoscaleMode::Shadow || !may_act || step.vetoed.is_some();
        for (alarm, from, to) in step.transitions {
            out.events.push(Event::Alarm { at: now, group: name.clone(), alarm, from, to });
        }
        let decision = &step.decision;
        // Why a change asked for is not acted on, when shadow mode is not the reason.
        let why_not = match (&step.vetoed, &input.authority) {
            _ if decision.desired.is_none() => None,
            (Some(veto), _) => Some(veto.clone()),
            (None, Authority::Observe { holder }) if self.autoscaler.mode == AutoscaleMode::Act => {
                Some(format!("observing: automation owned by {holder}"))
            }
            (None, Authority::BackingOff { until }) if self.autoscaler.mode == AutoscaleMode::Act => {
                Some(format!("actuator backing off until {}", until.to_rfc3339()))
            }
            (None, Authority::NoLease { why }) if self.autoscaler.mode == AutoscaleMode::Act => {
                Some(why.clone())
            }
            _ => None,
        };
        if let Some(to) = decision.desired {
            let reason = match &why_not {
                Some(why) => format!("{} — {why}", decision.reason),
                None => decision.reason.clone(),
            };
            out.events.push(Event::Scaled {
                at: now,
                group: name.clone(),
                from: decision.current,
                to,
                reason,
                shadow,
            });
        }
        if self.runs.starts_entry(decision, shadow) {
            let entry = decision_log::entry(decision, &step.inputs, shadow, why_not);
            if self.runs.is_news(&entry) {
                out.events.push(Event::Decided(Box::new(entry)));
            }
        }
        out.decisions.push(DecisionRecord {
            group: index,
            state: step.state,
            inputs: step.inputs,
            decision: step.decision.clone(),
            shadow,
        });
        let running = capacity.ready + capacity.warming + capacity.failed;
        let facts = TickFacts {
            now,
            decision,
            actuator_failed: None,
            hourly_cost_usd_now: f64::from(running) * self.spec.hourly_cost_usd,
            hourly_budget_usd: self.autoscaler.state.policy.hourly_budget_usd,
        };
        breaker_events.extend(self.autoscaler.breaker.observe(facts));
        if let Some(to) = step.set_desired {
            let action = Action { group: index, at: now, from: decision.current, to };
            self.pending = Some(action.clone());
            out.actions.push(action);
        }
        for event in &breaker_events {
            out.events.push(breaker_event(now, &name, event));
            out.events.push(self.action_event(now, BREAKER, event.to_string()));
        }
        out.breaker_changes.extend(breaker_events);
        // Only the engine that holds the lease pages (a shadow-mode group's holder too);
        // observers and read-only screens leave the pager as it is.
        if input.pages && !settings.readonly {
            let firing = self.firing();
            let undecided: Vec<&str> = (self.autoscaler.alarms.iter())
                .filter(|a| a.status.state == AlarmState::InsufficientData)
                .map(|a| a.rule.name.as_str())
                .collect();
            let warming = self.warming(now);
            let silenced = self.silence_at(now).is_some();
            let notifications =
                self.pager.reconcile(&name, &firing, &undecided, warming.as_ref(), silenced, now);
            out.notifications.extend(notifications);
        }
    }

    fn record(&mut self, samples: Vec<MetricSample>, settings: &CoreSettings) {
        for MetricSample { kind, sample, instances } in samples {
            self.series
                .entry(kind)
                .or_insert_with(|| SeriesHistory::new(settings.raw_points, settings.minute_points))
                .push_covering(sample, instances);
        }
    }

    /// What fires now: the rules' alarms, a stalled scale-out, open breaker trips. Built
    /// every tick, so only what fires is put in words.
    fn firing(&self) -> Vec<Firing> {
        let group = &self.spec.name;
        let autoscaler = &self.autoscaler;
        let rules =
            autoscaler.alarms.iter().filter(|a| a.status.state == AlarmState::Firing).map(|a| Firing {
                name: a.rule.name.clone(),
                since: a.status.since,
                summary: format!("{group}: {} — {}", a.rule.name, a.summary),
                severity: a.rule.severity,
            });
        let stalled = autoscaler.last_decision.as_ref().and_then(|d| d.stalled.as_ref()).map(|s| Firing {
            name: STALLED_ALARM.to_string(),
            since: s.since,
            summary: format!(
                "{group}: {STALLED_ALARM} — desired {} but only {} ready or warming",
                s.desired, s.ready_plus_warming
            ),
            severity: crate::model::Severity::Error,
        });
        let trips = autoscaler.breaker.trips().iter().map(|t| Firing {
            name: t.kind.alarm_name().to_string(),
            since: t.since,
            summary: format!(
                "{group}: {} — {}; resets when {}",
                t.kind.alarm_name(),
                t.cause,
                t.reset_condition
            ),
            severity: crate::model::Severity::Error,
        });
        rules.chain(stalled).chain(trips).collect()
    }
}

/// Whether this engine may act on a group this tick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authority {
    /// It holds the group's lease.
    Act,
    /// Another engine holds the lease: decide and show, never act.
    Observe { holder: String },
    /// The actuator is failing and backing off: decide, act once it is due again.
    BackingOff { until: Timestamp },
    /// Nobody's lease allows this engine to act: no store, no lease yet, or too little of
    /// ours left for a call (the timing rule). Decide and show, never act.
    NoLease { why: String },
}

/// One group's part of a tick's input.
#[derive(Clone, Debug)]
pub struct GroupInput {
    /// Samples polled this tick (none when the source was not due or failed).
    pub samples: Vec<MetricSample>,
    /// Capacity observed this tick (None when not observed: the last one stands).
    pub capacity: Option<Capacity>,
    pub authority: Authority,
    /// The outcome of the action the previous tick asked for: `Some(Err)` failed, `None`
    /// when it was not attempted. Ignored when none was asked for.
    pub action_outcome: Option<Result<(), String>>,
    /// This engine pages for the group: it holds the group's lease (or the group needs
    /// none). Observers and read-only engines never page.
    pub pages: bool,
    /// What the actuator saw on the target this tick besides capacity (None when not
    /// observed: the last stands).
    pub target: Option<TargetInput>,
    /// Not this group's turn: its source polls less often than the engine ticks and its
    /// poll is not due. The group is left exactly as it is (deciding again on the same
    /// data could only repeat the last decision, or act twice on one observation).
    pub skip: bool,
}

impl GroupInput {
    /// Samples and capacity, acting, after a successful previous action (what replay and
    /// tests feed).
    pub fn acting(samples: Vec<MetricSample>, capacity: Option<Capacity>) -> Self {
        GroupInput {
            samples,
            capacity,
            authority: Authority::Act,
            action_outcome: Some(Ok(())),
            pages: true,
            target: None,
            skip: false,
        }
    }

    /// Not this group's turn ([`GroupInput::skip`]).
    pub fn idle() -> Self {
        GroupInput {
            samples: Vec::new(),
            capacity: None,
            authority: Authority::Observe { holder: "nobody (not polled)".into() },
            action_outcome: None,
            pages: false,
            target: None,
            skip: true,
        }
    }
}

/// The target's own bounds and pause marker, as the engine read them off an observation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetInput {
    pub bounds: Option<(u32, u32)>,
    /// The marker's pause (an unreadable marker is a full pause: `model::marker`).
    pub marker: Option<crate::policy::Pause>,
}

/// Everything one tick takes.
#[derive(Clone, Debug)]
pub struct TickInput {
    pub now: Timestamp,
    /// Operator commands to apply before deciding, in order.
    pub commands: Vec<CommandRequest>,
    /// One per group, in the core's group order.
    pub groups: Vec<GroupInput>,
}

/// A change of desired capacity to make through the group's actuator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Index of the group in the core.
    pub group: usize,
    pub at: Timestamp,
    pub from: u32,
    pub to: u32,
}

/// One group's decision, with exactly what it was decided on: the decision log records
/// these, and a line reproduces its decision in `fleetdeck decide`.
#[derive(Clone, Debug)]
pub struct DecisionRecord {
    pub group: usize,
    /// None unless [`CoreSettings::record_states`].
    pub state: Option<GroupState>,
    pub inputs: Inputs,
    pub decision: Arc<Decision>,
    /// Not acted on (shadow mode, observing, vetoed, backing off).
    pub shadow: bool,
}

/// What a config reload changed, and what it could not (in words, a line a group).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconfigured {
    pub applied: Vec<String>,
    pub restart_needed: Vec<String>,
}

/// What a command did.
#[derive(Clone, Debug)]
pub struct CommandOutcome {
    pub reply: Reply,
    pub events: Vec<Event>,
    /// Trips closed by it, for the store.
    pub breaker_changes: Vec<BreakerEvent>,
    /// Whether pauses, holds, silences or shadow modes changed (the store should save them).
    pub operator_state_changed: bool,
}

/// Everything one tick produced.
#[derive(Clone, Debug, Default)]
pub struct TickOutput {
    /// One per input command, in order.
    pub replies: Vec<Reply>,
    pub decisions: Vec<DecisionRecord>,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    pub notifications: Vec<Notification>,
    /// Trips opened and closed, for the store.
    pub breaker_changes: Vec<BreakerEvent>,
    pub operator_state_changed: bool,
}

impl TickOutput {
    fn absorb(&mut self, outcome: CommandOutcome) {
        self.replies.push(outcome.reply);
        self.events.extend(outcome.events);
        self.breaker_changes.extend(outcome.breaker_changes);
        self.operator_state_changed |= outcome.operator_state_changed;
    }
}

/// The engine's deterministic state: every group's history, autoscaler, breaker, pager.
#[derive(Clone, Debug)]
pub struct TickCore {
    pub groups: Vec<CoreGroup>,
    pub settings: CoreSettings,
}

impl TickCore {
    pub fn new(groups: Vec<CoreGroup>, settings: CoreSettings) -> Self {
        TickCore { groups, settings }
    }

    /// The core over groups with their policies, alarm rules and whether each is in shadow
    /// mode by config; `mode` applies to the rest (a read-only core is always in shadow).
    pub fn build(
        groups: impl IntoIterator<Item = (GroupSpec, PolicySpec, Vec<AlarmRule>, bool)>,
        mode: AutoscaleMode,
        settings: CoreSettings,
        start: Timestamp,
    ) -> Self {
        let groups = groups
            .into_iter()
            .map(|(spec, policy, alarms, shadow)| {
                let mode = if settings.readonly || shadow { AutoscaleMode::Shadow } else { mode };
                let autoscaler = Autoscaler::new(&spec, policy, alarms, mode, start);
                CoreGroup::new(spec, autoscaler, settings.stale_after)
            })
            .collect();
        TickCore::new(groups, settings)
    }

    /// Applies a reloaded config's groups, matched by name: bounds, cost, warm-up, SLO,
    /// policy and alarm rules change in place (an unchanged alarm rule keeps its state).
    /// What cannot change while running — the set of groups, a group's backends — is
    /// left as it is and named in `restart_needed`.
    pub fn reconfigure(
        &mut self,
        groups: &[(GroupSpec, PolicySpec, Vec<AlarmRule>)],
        now: Timestamp,
    ) -> Reconfigured {
        let mut out = Reconfigured::default();
        for (spec, policy, rules) in groups {
            let Some(group) = self.groups.iter_mut().find(|g| g.spec.name == spec.name) else {
                out.restart_needed.push(format!("new group {}", spec.name));
                continue;
            };
            if (&group.spec.source, &group.spec.actuator) != (&spec.source, &spec.actuator) {
                out.restart_needed.push(format!("{}: another source or actuator", spec.name));
                continue;
            }
            let mut changed = Vec::new();
            if (group.spec.min, group.spec.max) != (spec.min, spec.max) {
                changed.push(format!(
                    "bounds {}-{} → {}-{}",
                    group.spec.min, group.spec.max, spec.min, spec.max
                ));
            }
            if group.spec != *spec && changed.is_empty() {
                changed.push("group settings".to_string());
            }
            let state = &mut group.autoscaler.state;
            if state.policy != *policy {
                changed.push("policy".to_string());
            }
            (state.min, state.max, state.hard_max, state.hourly_cost_usd, state.max_warmup) =
                (spec.min, spec.max, spec.hard_max, spec.hourly_cost_usd, spec.warmup.max);
            state.policy = policy.clone();
            group.spec = spec.clone();
            let before: Vec<&AlarmRule> = group.autoscaler.alarms.iter().map(|a| &a.rule).collect();
            if before.len() != rules.len() || before.iter().zip(rules).any(|(a, b)| *a != b) {
                changed.push("alarm rules".to_string());
                group.autoscaler.set_rules(rules.clone(), now);
            }
            if !changed.is_empty() {
                out.applied.push(format!("{}: {}", spec.name, changed.join(", ")));
            }
        }
        for group in &self.groups {
            if !groups.iter().any(|(spec, ..)| spec.name == group.spec.name) {
                out.restart_needed.push(format!("group {} removed", group.spec.name));
            }
        }
        out
    }

    pub fn index_of(&self, group: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.spec.name == group)
    }

    /// Sets the load profile predictive scaling forecasts from (the engine computes it
    /// from the store's history).
    pub fn set_load_profile(&mut self, group: usize, profile: Option<LoadProfile>) {
        if let Some(g) = self.groups.get_mut(group) {
            g.autoscaler.load_profile = profile;
        }
    }

    /// One tick. `input.groups` must have one entry per group, in order (missing entries
    /// count as nothing polled, observing).
    pub fn tick(&mut self, input: TickInput) -> TickOutput {
        let now = input.now;
        let mut out = TickOutput::default();
        for request in &input.commands {
            let outcome = self.command(request, now);
            out.absorb(outcome);
        }
        let mut inputs = input.groups.into_iter();
        for (index, group) in self.groups.iter_mut().enumerate() {
            let input = inputs.next().unwrap_or(GroupInput {
                authority: Authority::Observe { holder: "nobody (no input)".into() },
                skip: false,
                ..GroupInput::idle()
            });
            group.tick(index, input, now, &self.settings, &mut out);
        }
        out
    }

    /// Answers one operator command at `now`: applied at once (between ticks in the live
    /// engine, at the start of a tick in replay). Refused whole in read-only mode.
    pub fn command(&mut self, request: &CommandRequest, now: Timestamp) -> CommandOutcome {
        let mut breaker_changes = Vec::new();
        let mut events = Vec::new();
        let before: Vec<OperatorState> = self.groups.iter().map(OperatorState::of).collect();
        let reply = if self.settings.readonly && request.command.is_mutating() {
            Reply::Refused {
                reason: "read-only: this fleetdeck changes nothing (started with --readonly)".into(),
            }
        } else {
            match &request.command {
                Command::Sim { .. } => {
                    Reply::Failed { error: "`sim` is the simulator's business, not the autoscaler's".into() }
                }
                Command::Acknowledge { .. } => {
                    Reply::Failed { error: "`ack` is the notifiers' business, not the autoscaler's".into() }
                }
                Command::ResetBreaker { target } => match self.reset_breakers(target, &request.operator) {
                    Ok((closed, kept)) => {
                        let mut groups: Vec<&str> = closed.iter().map(|(g, _)| g.as_str()).collect();
                        groups.dedup();
                        let mut message =
                            format!("breaker reset on {} by {}", groups.join(", "), request.operator);
                        for kept in &kept {
                            message.push_str(&format!("; {kept}"));
                        }
                        let reply = Reply::Ok { message };
                        let by = request.operator.to_string();
                        for (group, event) in closed {
                            events.push(breaker_event(now, &group, &event));
                            if let Some(group) = self.groups.iter().find(|g| g.spec.name == group) {
                                events.push(group.action_event(now, &by, event.to_string()));
                            }
                            breaker_changes.push(event);
                        }
                        reply
                    }
                    Err(refused) => refused,
                },
                Command::Silence { .. } | Command::Unsilence { .. } => {
                    let groups = self.groups.iter_mut().map(|g| (&g.spec.name, &mut g.silence));
                    operator::silence(groups, request, now)
                }
                Command::Pause { .. }
                | Command::Resume { .. }
                | Command::ForceScale { .. }
                | Command::Shadow { .. } => {
                    operator::apply(self.groups.iter_mut().map(|g| &mut g.autoscaler), request, now)
                }
            }
        };
        let operator_state_changed = matches!(reply, Reply::Ok { .. })
            && !matches!(request.command, Command::Sim { .. } | Command::ResetBreaker { .. });
        if let Some(what) = decision_log::command_words(request, now).filter(|_| operator_state_changed) {
            let by = request.operator.to_string();
            for (group, before) in self.groups.iter().zip(&before) {
                if OperatorState::of(group) != *before {
                    events.push(group.action_event(now, &by, what.clone()));
                }
            }
        }
        events.push(Event::CommandHandled {
            at: now,
            operator: request.operator.to_string(),
            command: request.command.to_string(),
            reply: reply.clone(),
        });
        CommandOutcome { reply, events, breaker_changes, operator_state_changed }
    }

    /// Closes every open trip of the target groups: the (group, reset) pairs, or the
    /// refusal when the target is unknown or nothing was open.
    fn reset_breakers(&mut self, target: &Target, operator: &Operator) -> Result<Resets, Reply> {
        let chosen: Vec<usize> = match target {
            Target::All => (0..self.groups.len()).collect(),
            Target::Group(name) => match self.index_of(name) {
                Some(i) => vec![i],
                None => {
                    let known: Vec<&str> = self.groups.iter().map(|g| g.spec.name.as_str()).collect();
                    return Err(Reply::Refused {
                        reason: format!("unknown group `{name}` (groups: {})", known.join(", ")),
                    });
                }
            },
        };
        let by = operator.to_string();
        let (mut closed, mut kept) = (Vec::new(), Vec::new());
        for i in chosen {
            let group = &mut self.groups[i];
            let reset = group.autoscaler.breaker.reset(ResetScope::All, &by);
            closed.extend(reset.closed.into_iter().map(|e| (group.spec.name.clone(), e)));
            kept.extend(reset.kept.into_iter().map(|why| format!("{}: {why}", group.spec.name)));
        }
        match (closed.is_empty(), kept.is_empty()) {
            (true, true) => Err(Reply::Refused { reason: format!("no breaker trip is open on {target}") }),
            (true, false) => Err(Reply::Refused { reason: format!("nothing to reset: {}", kept.join("; ")) }),
            (false, _) => Ok((closed, kept)),
        }
    }
}

/// What a reset command did: each trip closed (with its group), and a sentence per trip
/// left open.
type Resets = (Vec<(String, BreakerEvent)>, Vec<String>);

/// What an operator's command may change on a group: a command that leaves it as it was
/// (resuming a group that was not paused) is no entry of the decision log.
#[derive(PartialEq)]
struct OperatorState {
    pause: Option<crate::model::Pause>,
    hold: Option<crate::policy::Hold>,
    mode: AutoscaleMode,
    silence: Option<Silence>,
}

impl OperatorState {
    fn of(group: &CoreGroup) -> OperatorState {
        let autoscaler = &group.autoscaler;
        OperatorState {
            pause: autoscaler.state.pause.clone(),
            hold: autoscaler.state.hold.clone(),
            mode: autoscaler.mode,
            silence: group.silence.clone(),
        }
    }
}

/// Who the decision log names for what the breaker did by itself.
const BREAKER: &str = "circuit breaker";

/// A breaker trip or reset as front ends see it.
fn breaker_event(now: Timestamp, group: &str, event: &BreakerEvent) -> Event {
    let tripped = matches!(event, BreakerEvent::Tripped { .. });
    Event::Breaker { at: now, group: group.to_string(), message: event.to_string(), tripped }
}

#[cfg(test)]
#[path = "tick_tests.rs"]
mod tests;
