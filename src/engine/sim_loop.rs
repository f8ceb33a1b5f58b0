//! The tick core closed over the simulated fleet, synchronously, on a virtual clock: what
//! `replay` runs for days of traffic in seconds, and what the core's tests drive. Each
//! [`SimLoop::step`] runs the fleet forward to `now`, samples every group, observes its
//! capacity, ticks the core, and makes the changes it asked for — the live engine's loop
//! without a runtime, a lease or a store. The fleet's actuator never fails unless a test
//! says so ([`SimLoop::fail_actions`]).

use crate::model::Timestamp;
use crate::protocol::CommandRequest;
use crate::sim::SimFleet;

use super::tick::{Authority, GroupInput, TickCore, TickInput, TickOutput};

pub struct SimLoop {
    pub core: TickCore,
    pub fleet: SimFleet,
    /// Per group, the outcome of the action the last step made.
    outcomes: Vec<Option<Result<(), String>>>,
    /// While set, every action fails with this error (and changes nothing).
    failing: Option<String>,
}

impl SimLoop {
    /// The core over the fleet's groups (same names, same order).
    pub fn new(core: TickCore, fleet: SimFleet) -> Self {
        let outcomes = vec![None; core.groups.len()];
        SimLoop { core, fleet, outcomes, failing: None }
    }

    /// Makes every later action fail with `error` (None: succeed again).
    pub fn fail_actions(&mut self, error: Option<String>) {
        self.failing = error;
    }

    /// One tick at `now`, with the operator commands to apply first.
    pub fn step(&mut self, now: Timestamp, commands: Vec<CommandRequest>) -> TickOutput {
        self.fleet.advance_to(now);
        let groups = self
            .core
            .groups
            .iter()
            .zip(&mut self.outcomes)
            .map(|(group, outcome)| GroupInput {
                // A name the fleet does not know is a wiring error, not data: no samples.
                samples: self.fleet.sample(&group.spec.name).unwrap_or_default(),
                capacity: self.fleet.capacity(&group.spec.name).ok(),
                authority: Authority::Act,
                action_outcome: outcome.take(),
                pages: true,
                target: None,
                skip: false,
            })
            .collect();
        let output = self.core.tick(TickInput { now, commands, groups });
        for action in &output.actions {
            let name = &self.core.groups[action.group].spec.name;
            let result = match &self.failing {
                Some(error) => Err(error.clone()),
                None => self.fleet.set_desired(name, action.to).map_err(|e| e.to_string()),
            };
            self.outcomes[action.group] = Some(result);
        }
        output
    }
}
