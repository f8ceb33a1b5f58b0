//! The automatic circuit breaker (DESIGN.md, "Circuit breaker and operator actions"): a
//! pure, per-group state machine the engine feeds once a tick with that tick's decision,
//! the actuator's outcome and the measured cost. It opens trips — each with a mode, a
//! cause and a reset condition, at most one per kind — and closes them when the condition
//! holds:
//!
//! | kind              | trips when                                            | freezes   | resets                              |
//! |-------------------|-------------------------------------------------------|-----------|-------------------------------------|
//! | stale data        | `stale_after_ticks` decisions in a row with data [`problems`](Decision::problems) | scale-in  | first decision whose data is all fresh |
//! | budget            | measured hourly cost above the hourly budget          | scale-out | cost at or under budget, or no budget |
//! | flapping          | `direction_changes` reversals of actions within `window` | all    | `window` after the trip             |
//! | actuator failures | `max_failures` failed calls in a row                  | all       | an operator only ([`Breaker::reset`]) |
//!
//! It never sees a clock (`now` comes in [`TickFacts`]), does no I/O and knows nothing of
//! the store, the protocol or the UI: it returns [`BreakerEvent`]s, which the engine
//! persists (`Store::set_trip` / `clear_trip`), logs and raises as alarms.
//!
//! # How a freeze reaches `decide`
//!
//! [`Breaker::effective_pause`] is the policy [`Pause`] the open trips amount to. The
//! policy's pause can block everything or scale-in only; a *scale-out-only* freeze (the
//! budget trip) has no [`PauseMode`], so:
//! - budget alone → no pause; the engine must not act on a decision that raises desired
//!   while [`Breaker::veto`] names the trip (the policy's budget cap already stops
//!   scale-out past `budget / instance cost`; the trip adds the case where the *measured*
//!   bill is over budget while the configured count still fits);
//! - budget with a scale-in freeze (stale data) → both directions are frozen → `Full`;
//! - any full trip → `Full`, which beats `ScaleInOnly`.
//!
//! A stale-data trip on its own is never more than `ScaleInOnly`, so it never freezes a
//! fleet that needs to grow.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Timestamp, duration_text, format_duration};
use crate::policy::{Decision, MetricProblem, Pause, PauseMode, Problem};
use crate::store::breaker::{BreakerKind, BreakerTrip, TripMode};

#[cfg(test)]
mod tests;

/// Who a breaker pause is shown as paused by ("blocked: paused by breaker").
pub const BREAKER: &str = "breaker";

/// When the breaker trips. Every field has a default, so `[breaker]` may be empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerSettings {
    /// Reversals (out→in or in→out) of actions within `window` that count as flapping.
    /// Default 4; 0 turns flapping detection off.
    pub direction_changes: u32,
    /// The flapping window, and how long a flapping trip freezes. Default 30 minutes.
    #[serde(with = "duration_text")]
    pub window: Duration,
    /// Consecutive failed actuator calls before a full freeze. Default 3; 0 turns it off.
    /// Retries in between are the engine's backoff, not the breaker's.
    pub max_failures: u32,
    /// Consecutive ticks the data problem must last before the stale trip. Default 1
    /// (immediate); 0 means the same.
    pub stale_after_ticks: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            direction_changes: 4,
            window: Duration::from_secs(30 * 60),
            max_failures: 3,
            stale_after_ticks: 1,
        }
    }
}

/// What the breaker learns from one tick of one group.
#[derive(Clone, Copy, Debug)]
pub struct TickFacts<'a> {
    pub now: Timestamp,
    /// This tick's decision (a change of desired counts as an action).
    pub decision: &'a Decision,
    /// The outcome of this tick's actuator call: Some(true) failed, Some(false) succeeded,
    /// None when there was no call.
    pub actuator_failed: Option<bool>,
    /// What the group costs per hour now, as measured (NaN when unknown).
    pub hourly_cost_usd_now: f64,
    /// The group's hourly budget, if it has one.
    pub hourly_budget_usd: Option<f64>,
}

/// A trip opened or closed; the engine stores, logs and announces each.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BreakerEvent {
    Tripped { trip: BreakerTrip },
    Reset { group: String, kind: BreakerKind, why: String },
}

impl fmt::Display for BreakerEvent {
    /// "breaker tripped: scale-in frozen — gpu_util stale (no sample since 14:03:12 UTC); resets when
    /// fresh data returns for every metric"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakerEvent::Tripped { trip } => write!(
                f,
                "breaker tripped: {} — {}; resets when {}",
                mode_text(trip.mode),
                trip.cause,
                trip.reset_condition
            ),
            BreakerEvent::Reset { kind, why, .. } => {
                write!(f, "breaker reset: {} trip closed — {why}", kind_text(*kind))
            }
        }
    }
}

/// What an operator's reset did: the trips it closed, and why the others stay open.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reset {
    pub closed: Vec<BreakerEvent>,
    /// One sentence per trip left open: "the budget trip stays open (hourly cost $524.32
    /// over budget $400.00): it closes by itself when cost is under budget ($400.00/h)".
    pub kept: Vec<String>,
}

/// Whether a trip of `kind` closes only by its condition (fresh data, cost under
/// budget), never by an operator's reset.
pub fn clears_itself(kind: BreakerKind) -> bool {
    matches!(kind, BreakerKind::StaleData | BreakerKind::Budget)
}

/// Which trips an operator resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetScope {
    Kind(BreakerKind),
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    Out,
    In,
}

/// One group's breaker: its open trips and the counters that lead to the next.
#[derive(Clone, Debug)]
pub struct Breaker {
    group: String,
    settings: BreakerSettings,
    /// Open trips, oldest first, at most one per kind.
    trips: Vec<BreakerTrip>,
    /// Decisions in a row with a data block.
    stale_ticks: u32,
    /// Actuator calls in a row that failed.
    failures: u32,
    /// Actions within the flapping window, oldest first.
    actions: Vec<(Timestamp, Direction)>,
}

impl Breaker {
    /// The thresholds it trips at.
    pub fn settings(&self) -> &BreakerSettings {
        &self.settings
    }

    /// New thresholds from a reloaded config; open trips and the counts toward the next
    /// stay as they are (a lower threshold trips on the next decision that meets it).
    pub fn set_settings(&mut self, settings: BreakerSettings) {
        self.settings = settings;
    }

    pub fn new(group: impl Into<String>, settings: BreakerSettings) -> Self {
        Breaker {
            group: group.into(),
            settings,
            trips: Vec::new(),
            stale_ticks: 0,
            failures: 0,
            actions: Vec::new(),
        }
    }

    /// The open trips, oldest first (a flapping trip past its window stays listed until
    /// the next [`observe`](Self::observe) closes it, but no longer freezes anything).
    pub fn trips(&self) -> &[BreakerTrip] {
        &self.trips
    }

    /// Reopens the trips the store remembered. Trips of other groups are ignored; a trip
    /// of a kind already open replaces it. Counters start from zero.
    pub fn restore(&mut self, trips: impl IntoIterator<Item = BreakerTrip>) {
        for trip in trips.into_iter().filter(|t| t.group == self.group) {
            self.trips.retain(|t| t.kind != trip.kind);
            self.trips.push(trip);
        }
        self.trips.sort_by_key(|t| t.since);
    }

    /// Feeds one tick; returns the trips closed and opened by it, in that order per kind.
    pub fn observe(&mut self, facts: TickFacts<'_>) -> Vec<BreakerEvent> {
        let mut events = Vec::new();
        self.observe_stale(&facts, &mut events);
        self.observe_budget(&facts, &mut events);
        self.observe_flapping(&facts, &mut events);
        self.observe_actuator(facts.now, facts.actuator_failed, &mut events);
        events
    }

    /// The operator's reset: closes the chosen flapping and failure trips and clears the
    /// counters behind them, so they do not reopen on the next tick. A stale-data or
    /// budget trip is open because its condition held at the last tick, and closes by
    /// itself the tick the condition is gone: a reset would only see it reopen at once,
    /// so it stays open and `kept` says why.
    pub fn reset(&mut self, scope: ResetScope, by: &str) -> Reset {
        let kinds = [
            BreakerKind::StaleData,
            BreakerKind::Budget,
            BreakerKind::Flapping,
            BreakerKind::ActuatorFailures,
        ];
        let mut out = Reset::default();
        for kind in kinds.into_iter().filter(|k| scope == ResetScope::All || scope == ResetScope::Kind(*k)) {
            if clears_itself(kind) {
                if let Some(trip) = self.trip(kind) {
                    out.kept.push(format!(
                        "the {} trip stays open ({}): it closes by itself when {}",
                        kind_text(kind),
                        trip.cause,
                        trip.reset_condition
                    ));
                }
                continue;
            }
            match kind {
                BreakerKind::Flapping => self.actions.clear(),
                BreakerKind::ActuatorFailures => self.failures = 0,
                BreakerKind::StaleData | BreakerKind::Budget => {}
            }
            self.close(kind, format!("reset by {by}"), &mut out.closed);
        }
        out
    }

    /// The pause the open trips amount to at `now` (see the module doc for how the
    /// scale-out-only budget freeze maps). Shown as paused by [`BREAKER`], with the
    /// causes as the reason; `until` is set only when every trip behind it ends by time.
    pub fn effective_pause(&self, now: Timestamp) -> Option<Pause> {
        let in_force: Vec<&BreakerTrip> = self.trips.iter().filter(|t| self.in_force(t, now)).collect();
        let has = |mode| in_force.iter().any(|t| t.mode == mode);
        let full = has(TripMode::Full) || (has(TripMode::ScaleInOnly) && has(TripMode::ScaleOutOnly));
        let (mode, behind): (PauseMode, Vec<&BreakerTrip>) = if full {
            (PauseMode::Full, in_force)
        } else if has(TripMode::ScaleInOnly) {
            (
                PauseMode::ScaleInOnly,
                in_force.into_iter().filter(|t| t.mode == TripMode::ScaleInOnly).collect(),
            )
        } else {
            return None;
        };
        let ends: Option<Vec<Timestamp>> = behind.iter().map(|t| self.ends_at(t)).collect();
        let reason = behind.iter().map(|t| format!("{}: {}", kind_text(t.kind), t.cause)).collect::<Vec<_>>();
        Some(Pause {
            mode,
            by: BREAKER.to_string(),
            until: ends.and_then(|e| e.into_iter().max()),
            reason: reason.join("; "),
        })
    }

    /// The trip that forbids acting on `decision` at `now` although `decide` allowed it:
    /// a scale-out while the budget trip freezes scale-out (the one freeze a [`Pause`]
    /// cannot carry). The engine records the decision but does not set desired.
    pub fn veto(&self, now: Timestamp, decision: &Decision) -> Option<&BreakerTrip> {
        let raises = decision.desired.is_some_and(|to| to > decision.current);
        self.trips.iter().find(|t| raises && t.mode == TripMode::ScaleOutOnly && self.in_force(t, now))
    }

    fn observe_stale(&mut self, facts: &TickFacts<'_>, events: &mut Vec<BreakerEvent>) {
        let problems = &facts.decision.problems;
        if problems.is_empty() {
            self.stale_ticks = 0;
            self.close(BreakerKind::StaleData, "fresh data returned".into(), events);
            return;
        }
        self.stale_ticks = self.stale_ticks.saturating_add(1);
        if self.stale_ticks >= self.settings.stale_after_ticks.max(1) {
            let cause = problems.iter().map(|p| problem_text(p, facts.now)).collect::<Vec<_>>().join(", ");
            let reset = "fresh data returns for every metric".to_string();
            self.open(facts.now, BreakerKind::StaleData, TripMode::ScaleInOnly, cause, reset, events);
        }
    }

    fn observe_budget(&mut self, facts: &TickFacts<'_>, events: &mut Vec<BreakerEvent>) {
        let cost = facts.hourly_cost_usd_now;
        match facts.hourly_budget_usd.filter(|b| b.is_finite()) {
            None => self.close(BreakerKind::Budget, "no hourly budget is set".into(), events),
            // An unknown cost proves nothing either way: the trip stays as it is.
            Some(_) if !cost.is_finite() => {}
            Some(budget) if cost > budget => {
                let cause = format!("hourly cost ${cost:.2} over budget ${budget:.2}");
                let reset = format!("cost is under budget (${budget:.2}/h)");
                self.open(facts.now, BreakerKind::Budget, TripMode::ScaleOutOnly, cause, reset, events);
            }
            Some(budget) => {
                let why = format!("hourly cost ${cost:.2} within budget ${budget:.2}");
                self.close(BreakerKind::Budget, why, events);
            }
        }
    }

    fn observe_flapping(&mut self, facts: &TickFacts<'_>, events: &mut Vec<BreakerEvent>) {
        let window = self.settings.window;
        if let Some(trip) = self.trip(BreakerKind::Flapping)
            && facts.now >= trip.since.plus(window)
        {
            self.actions.clear();
            let why = format!("{} passed since the trip", format_duration(window));
            self.close(BreakerKind::Flapping, why, events);
        }
        let cutoff = facts.now.minus(window);
        self.actions.retain(|(at, _)| *at > cutoff);
        let decision = facts.decision;
        match decision.desired {
            Some(to) if to > decision.current => self.actions.push((facts.now, Direction::Out)),
            Some(to) if to < decision.current => self.actions.push((facts.now, Direction::In)),
            _ => {}
        }
        let changes = self.actions.windows(2).filter(|w| w[0].1 != w[1].1).count();
        let limit = self.settings.direction_changes as usize;
        if limit > 0 && changes >= limit {
            let cause = format!("{changes} direction changes in {}", format_duration(window));
            let until = facts.now.plus(window);
            let reset = format!("{} have passed ({})", format_duration(window), until.to_rfc3339());
            self.open(facts.now, BreakerKind::Flapping, TripMode::Full, cause, reset, events);
        }
    }

    /// Feeds the outcome of an actuator call made after the last [`observe`](Self::observe)
    /// (the tick core learns it at the start of the next tick, before deciding).
    pub fn observe_outcome(&mut self, now: Timestamp, failed: bool) -> Vec<BreakerEvent> {
        let mut events = Vec::new();
        self.observe_actuator(now, Some(failed), &mut events);
        events
    }

    fn observe_actuator(&mut self, now: Timestamp, failed: Option<bool>, events: &mut Vec<BreakerEvent>) {
        match failed {
            None => {}
            Some(false) => self.failures = 0,
            Some(true) => {
                self.failures = self.failures.saturating_add(1);
                let limit = self.settings.max_failures;
                if limit > 0 && self.failures >= limit {
                    let cause = format!("{} actuator calls in a row failed", self.failures);
                    let reset = "an operator resets the breaker".to_string();
                    self.open(now, BreakerKind::ActuatorFailures, TripMode::Full, cause, reset, events);
                }
            }
        }
    }

    fn trip(&self, kind: BreakerKind) -> Option<&BreakerTrip> {
        self.trips.iter().find(|t| t.kind == kind)
    }

    /// When a trip stops freezing by itself: only a flapping trip does, a window after it.
    fn ends_at(&self, trip: &BreakerTrip) -> Option<Timestamp> {
        (trip.kind == BreakerKind::Flapping).then(|| trip.since.plus(self.settings.window))
    }

    fn in_force(&self, trip: &BreakerTrip, now: Timestamp) -> bool {
        self.ends_at(trip).is_none_or(|end| now < end)
    }

    /// Opens a trip unless one of its kind is open (the first cause stands).
    fn open(
        &mut self,
        now: Timestamp,
        kind: BreakerKind,
        mode: TripMode,
        cause: String,
        reset_condition: String,
        events: &mut Vec<BreakerEvent>,
    ) {
        if self.trip(kind).is_some() {
            return;
        }
        let trip = BreakerTrip { group: self.group.clone(), kind, mode, since: now, cause, reset_condition };
        self.trips.push(trip.clone());
        events.push(BreakerEvent::Tripped { trip });
    }

    fn close(&mut self, kind: BreakerKind, why: String, events: &mut Vec<BreakerEvent>) {
        if self.trip(kind).is_some() {
            self.trips.retain(|t| t.kind != kind);
            events.push(BreakerEvent::Reset { group: self.group.clone(), kind, why });
        }
    }
}

/// The stricter of an operator's pause and the breaker's, as `decide` takes one: an
/// inactive pause counts as none, `Full` beats `ScaleInOnly`, and on a tie the operator's
/// is kept (the UI then shows who paused).
pub fn stricter_pause(operator: Option<Pause>, breaker: Option<Pause>, now: Timestamp) -> Option<Pause> {
    let operator = operator.filter(|p| p.is_active(now));
    let breaker = breaker.filter(|p| p.is_active(now));
    match (operator, breaker) {
        (Some(o), Some(b)) if o.mode != PauseMode::Full && b.mode == PauseMode::Full => Some(b),
        (Some(o), _) => Some(o),
        (None, b) => b,
    }
}

/// An open trip as the console lists it, in words: "breaker actuator failures open (all
/// scaling frozen): 3 actuator calls in a row failed; resets when an operator resets the
/// breaker".
pub fn trip_text(trip: &BreakerTrip) -> String {
    format!(
        "breaker {} open ({}): {}; resets when {}",
        kind_text(trip.kind),
        mode_text(trip.mode),
        trip.cause,
        trip.reset_condition
    )
}

fn mode_text(mode: TripMode) -> &'static str {
    match mode {
        TripMode::Full => "all scaling frozen",
        TripMode::ScaleInOnly => "scale-in frozen",
        TripMode::ScaleOutOnly => "scale-out frozen",
    }
}

fn kind_text(kind: BreakerKind) -> &'static str {
    match kind {
        BreakerKind::StaleData => "stale data",
        BreakerKind::Budget => "budget",
        BreakerKind::Flapping => "flapping",
        BreakerKind::ActuatorFailures => "actuator failures",
    }
}

/// "gpu_util stale (no sample since 14:03:12 UTC)". A trip keeps its cause while it is
/// open, so a stale sample is named by its time, which stays true, not by its age at the
/// trip, which would read "3s ago" for as long as the trip lasts.
fn problem_text(p: &MetricProblem, now: Timestamp) -> String {
    let metric = &p.metric;
    match &p.problem {
        Problem::Missing => format!("{metric} missing (no sample)"),
        Problem::Stale { age } => {
            // To the second, as the UI shows times.
            let at = now.minus(Duration::from_secs(age.as_secs()));
            format!("{metric} stale (no sample since {})", crate::model::words::clock(at))
        }
        Problem::Invalid => format!("{metric} invalid (NaN, infinite or negative)"),
        Problem::BadTarget => format!("{metric} has no usable target (not a positive number)"),
    }
}
