//! [`SimFleet`]: the groups, the simulation clock and the scripted incidents. It runs the
//! groups forward in whole steps when the caller says what time it is, and answers the
//! engine's source and actuator calls. It never reads a clock itself.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::model::{Capacity, GroupSpec, MetricSample, Timestamp, format_duration};
use crate::protocol::SimCommand;

use super::group::{GroupSim, MAX_INSTANCES_PER_GROUP};
use super::{SimError, SimGroupSpec, SimGroupState, metrics};

/// The simulation step.
pub const STEP: Duration = Duration::from_secs(1);

/// A jump up to this long is simulated in 1 s steps; before that, coarser steps are used.
pub const FINE_CATCH_UP: Duration = Duration::from_secs(3600);

/// The most coarse steps one catch-up takes; longer jumps take longer coarse steps.
pub const MAX_COARSE_STEPS: i64 = 10_000;

/// The shortest coarse step.
pub const MIN_COARSE_STEP: Duration = Duration::from_secs(60);

const STEP_MS: i64 = STEP.as_millis() as i64;

/// The whole simulated fleet.
pub struct SimFleet {
    seed: u64,
    start: Timestamp,
    now: Timestamp,
    groups: Vec<GroupSim>,
    by_name: HashMap<String, usize>,
    /// Scheduled incidents, by time then by order of scheduling.
    scheduled: VecDeque<(Timestamp, SimCommand)>,
    applied: Vec<(Timestamp, String)>,
    /// Model steps run since the start (fine and coarse): what catching up cost.
    steps_run: u64,
    /// The pause marker on each group's target, as written (the sim's ASG tag).
    markers: HashMap<String, String>,
}

impl SimFleet {
    /// A fleet whose groups start with `spec.desired` instances ready and an empty queue.
    /// If two groups share a name, the first is the one commands reach.
    pub fn new(groups: &[(GroupSpec, SimGroupSpec)], seed: u64, start: Timestamp) -> Self {
        let mut by_name = HashMap::new();
        let groups: Vec<GroupSim> = groups
            .iter()
            .enumerate()
            .map(|(i, (spec, sim))| {
                by_name.entry(spec.name.clone()).or_insert(i);
                GroupSim::new(spec, sim, seed, start)
            })
            .collect();
        SimFleet {
            seed,
            start,
            now: start,
            groups,
            by_name,
            scheduled: VecDeque::new(),
            applied: Vec::new(),
            steps_run: 0,
            markers: HashMap::new(),
        }
    }

    /// The simulation time: the end of the last step.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// How many model steps have run since the start, each stepping every group: the
    /// cost of [`advance_to`](Self::advance_to)'s catch-ups, bounded per jump.
    pub fn steps_run(&self) -> u64 {
        self.steps_run
    }

    /// The groups' names, in configuration order.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.spec.name.as_str())
    }

    /// Runs the simulation forward to `now` in whole steps; earlier instants are ignored
    /// and a fraction of a step is left for the next call.
    ///
    /// The last [`FINE_CATCH_UP`] of a jump is run in 1 s steps. Anything before it (a
    /// laptop waking after a night, a replay skipping ahead) is run in steps of
    /// [`MIN_COARSE_STEP`] or longer, at most [`MAX_COARSE_STEPS`] of them, so any jump
    /// costs at most ~13,600 steps per group. Coarse steps keep the model's invariants
    /// (same equations with a longer dt), only warm-ups end at the step after they are due.
    /// Steps never jump over a scheduled incident.
    pub fn advance_to(&mut self, now: Timestamp) {
        self.fire_due();
        let steps = now.0.saturating_sub(self.now.0) / STEP_MS;
        if steps <= 0 {
            return;
        }
        let end = Timestamp(self.now.0 + steps * STEP_MS);
        let fine_steps = FINE_CATCH_UP.as_millis() as i64 / STEP_MS;
        let min_coarse = MIN_COARSE_STEP.as_millis() as i64 / STEP_MS;
        let coarse = ((steps - fine_steps) / MAX_COARSE_STEPS + 1).max(min_coarse);
        while self.now < end {
            let remaining = (end.0 - self.now.0) / STEP_MS;
            let mut dt = if remaining > fine_steps { coarse.min(remaining - fine_steps) } else { 1 };
            if let Some(&(at, _)) = self.scheduled.front() {
                let until_event = (at.0 - self.now.0 + STEP_MS - 1) / STEP_MS;
                dt = dt.min(until_event.max(1));
            }
            let t = Timestamp(self.now.0 + dt * STEP_MS);
            let dt_s = (dt * STEP_MS) as f64 / 1000.0;
            for group in &mut self.groups {
                group.step(t, dt_s);
            }
            self.now = t;
            self.steps_run += 1;
            self.fire_due();
        }
    }

    pub fn capacity(&self, group: &str) -> Result<Capacity, SimError> {
        Ok(self.group(group)?.capacity(self.now))
    }

    /// Asks for `desired` instances: scale-in removes warming instances first (those
    /// furthest from ready), then ready ones; scale-out launches with drawn warm-ups.
    pub fn set_desired(&mut self, group: &str, desired: u32) -> Result<(), SimError> {
        let now = self.now;
        let target = self.group_mut(group)?;
        if desired > MAX_INSTANCES_PER_GROUP {
            return Err(SimError::TooManyInstances {
                group: group.to_string(),
                requested: desired,
                limit: MAX_INSTANCES_PER_GROUP,
            });
        }
        target.set_desired(now, desired);
        Ok(())
    }

    /// The pause marker on the group's target, if one is written.
    pub fn marker(&self, group: &str) -> Result<Option<&str>, SimError> {
        self.group(group)?;
        Ok(self.markers.get(group).map(String::as_str))
    }

    /// Writes (`Some`) or removes (`None`) the pause marker on the group's target.
    pub fn set_marker(&mut self, group: &str, marker: Option<String>) -> Result<(), SimError> {
        self.group(group)?;
        match marker {
            Some(text) => self.markers.insert(group.to_string(), text),
            None => self.markers.remove(group),
        };
        Ok(())
    }

    /// The group's metrics as a source would report them now, stamped with the time of
    /// the last step (gaps leave some or all out).
    pub fn sample(&mut self, group: &str) -> Result<Vec<MetricSample>, SimError> {
        Ok(metrics::sample(self.group_mut(group)?))
    }

    /// What the group's queue did in the last step: demand, served, dropped, backlog.
    pub fn state(&self, group: &str) -> Result<SimGroupState, SimError> {
        Ok(self.group(group)?.state())
    }

    /// [`SimFleet::state`] and [`SimFleet::capacity`] of a group in one lookup.
    pub fn state_and_capacity(&self, group: &str) -> Result<(SimGroupState, Capacity), SimError> {
        let group = self.group(group)?;
        Ok((group.state(), group.capacity(self.now)))
    }

    /// Applies an incident now; returns a one-line description of what was done.
    /// Spikes and gaps count from the next step.
    pub fn apply(&mut self, command: &SimCommand) -> Result<String, SimError> {
        let now = self.now;
        let name = command.group();
        let group = self.group_mut(name)?;
        let description = match command {
            SimCommand::Spike { factor, duration, .. } => {
                if !(factor.is_finite() && *factor >= 0.0) {
                    return Err(SimError::InvalidCommand(format!(
                        "spike factor must be a positive number, got {factor}"
                    )));
                }
                group.add_spike(now, *factor, *duration);
                format!("{name}: demand ×{factor} for {}", format_duration(*duration))
            }
            SimCommand::Fail { count, .. } => {
                let failed = group.fail_ready(now, *count);
                group.reconcile(now);
                let noun = if failed == 1 { "instance" } else { "instances" };
                if failed < *count {
                    format!("{name}: {failed} ready {noun} failed ({count} asked, only {failed} ready)")
                } else {
                    format!("{name}: {failed} ready {noun} failed, replacements requested")
                }
            }
            SimCommand::Gap { duration, .. } => {
                group.start_gap(now, *duration);
                format!("{name}: metrics missing for {}", format_duration(*duration))
            }
            SimCommand::Stockout { duration, .. } => {
                group.start_stockout(now, *duration);
                format!("{name}: no capacity for launches for {} (stockout)", format_duration(*duration))
            }
        };
        Ok(description)
    }

    /// Schedules an incident to be applied when the simulation reaches `at` (at the end of
    /// the first step at or after `at`; one already due fires at the next `advance_to`).
    pub fn schedule(&mut self, at: Timestamp, command: SimCommand) {
        let index = self.scheduled.partition_point(|&(t, _)| t <= at);
        self.scheduled.insert(index, (at, command));
    }

    /// Scheduled incidents applied since the last call, with when and what.
    pub fn take_applied(&mut self) -> Vec<(Timestamp, String)> {
        std::mem::take(&mut self.applied)
    }

    fn fire_due(&mut self) {
        while self.scheduled.front().is_some_and(|&(at, _)| at <= self.now) {
            let Some((_, command)) = self.scheduled.pop_front() else { break };
            let description = match self.apply(&command) {
                Ok(description) => description,
                Err(err) => format!("sim event `{command}` ignored: {err}"),
            };
            self.applied.push((self.now, description));
        }
    }

    fn group(&self, name: &str) -> Result<&GroupSim, SimError> {
        let index = self.by_name.get(name).ok_or_else(|| SimError::UnknownGroup(name.to_string()))?;
        Ok(&self.groups[*index])
    }

    fn group_mut(&mut self, name: &str) -> Result<&mut GroupSim, SimError> {
        let index = self.by_name.get(name).ok_or_else(|| SimError::UnknownGroup(name.to_string()))?;
        Ok(&mut self.groups[*index])
    }
}
