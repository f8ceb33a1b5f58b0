//! The autoscaling policy: pure functions from a group's state and this tick's inputs to
//! a [`Decision`](decide) — no I/O, no clock (`now` is passed in), no runtime. The engine
//! calls it every tick; `fleetdeck decide` and `replay` call it the same way.
//!
//! PLACEHOLDER LAYOUT (being written): `spec` (the vocabulary, fixed), `step` (AWS step
//! and simple scaling), `schedule` (cron actions), `predictive` (seasonal forecast), and
//! the core `decide` with target tracking, latency guard, stabilization, bounds, budget.

pub mod predictive;
pub mod schedule;
pub mod spec;
pub mod step;

pub use spec::*;
