//! fleetdeck: a terminal operations console for GPU inference fleets.
//!
//! One engine polls every scaling group's metrics and capacity and publishes
//! [`protocol::Snapshot`]s; front ends (the console today; a daemon and attachable
//! consoles later) read them and send [`protocol::Command`]s. With no configuration the
//! engine runs against a built-in simulated fleet.
//!
//! # Layout
//!
//! - [`model`]: domain types — groups, capacity, metric kinds, samples, timestamps. Pure data.
//! - [`protocol`]: the versioned Snapshot / Event / Command messages and the in-process
//!   channels that carry them.
//! - [`series`]: sequences of samples and 1-minute aggregates in shared immutable chunks,
//!   so the engine's history and every snapshot hold the same points without copying.
//! - [`sim`]: the simulated fleet: traffic generators, traces, queueing latency, warm-up,
//!   failures and scripted incidents, deterministic from a seed.
//! - [`sources`]: the `MetricSource` trait and its implementations (simulator for now).
//! - [`actuators`]: the `Actuator` trait (observe and change capacity) and its implementations.
//! - [`policy`]: pure autoscaling decisions: target tracking, step/simple scaling,
//!   scheduled and predictive scaling, stabilization, bounds, budget. No I/O, no clock.
//! - [`alarms`]: pure alarm evaluation: thresholds, M-of-N, for-duration, missing data.
//! - [`engine`]: polls sources and actuators on a clock, keeps bounded history, runs each
//!   group's autoscale step (alarms, `decide`, circuit breaker, lease) and acts, applies
//!   operator commands, publishes snapshots and events. Owns all mutable fleet state.
//! - [`store`]: the SQLite state that survives restarts: pauses, holds, breaker trips,
//!   silences, local leases, the notification outbox, 1-minute history. Sync; `now` passed in.
//! - [`audit`]: the decision/audit log: JSON lines of every decision (identical "no change"
//!   runs coalesced) and every operator command, synced, rotated by size, read back.
//! - [`decide_cmd`]: `fleetdeck decide FILE`: a group's state and inputs (and alarm
//!   rules with their datapoints, evaluated first) in, the policy's decision out.
//! - [`config`]: the TOML config: embedded demo, user file, validation with file:line:col.
//! - [`ui`]: the ratatui console; speaks only the protocol.
//! - [`clock`]: the injectable clock (system time, or virtual time for tests and replay).

pub mod actuators;
pub mod alarms;
pub mod audit;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod decide_cmd;
pub mod engine;
pub mod exporter;
pub mod model;
pub mod policy;
pub mod protocol;
pub mod remote;
pub mod replay;
pub mod series;
pub mod sim;
pub mod sources;
pub mod store;
pub mod ui;
