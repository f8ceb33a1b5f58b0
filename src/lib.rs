//! fleetdeck: a terminal operations console for GPU inference fleets.
//!
//! One engine polls every scaling group's metrics and capacity and publishes
//! [`protocol::Snapshot`]s; front ends (the console, the war-room screen, consoles
//! attached to a daemon, `fleetdeck ctl`) read them and send [`protocol::Command`]s. With
//! no configuration the engine runs against a built-in simulated fleet.
//!
//! # Layout
//!
//! - [`model`]: domain types — groups, capacity, metric kinds, samples, timestamps, pause
//!   modes, the alarm inputs the policy reads — and how values and times read in words
//!   ([`model::words`]). Pure data.
//! - [`protocol`]: the versioned Snapshot / Event / Command messages and the in-process
//!   channels that carry them.
//! - [`series`]: sequences of samples and 1-minute aggregates in shared immutable chunks,
//!   so the engine's history and every snapshot hold the same points without copying.
//! - [`sim`]: the simulated fleet: traffic generators, traces, queueing latency, warm-up,
//!   failures and scripted incidents, deterministic from a seed.
//! - [`sim_serve`]: `fleetdeck sim serve`, the simulated fleet as dcgm-exporter, vLLM and
//!   Triton pages and a control API, so the loop can run through a real Prometheus.
//! - [`sources`]: the `MetricSource` trait: one batch poll of a connection's groups,
//!   typed errors ([`model::BackendError`]).
//! - [`actuators`]: the `Actuator` trait: observe capacity, the target's bounds, pause
//!   marker and warnings; set desired; write the marker; its staleness limit and whether
//!   acting needs a lease.
//! - [`backends`]: builds each group's connections from the config's `[sources.NAME]` /
//!   `[actuators.NAME]`, one room per platform (`sim`, `sim_http`, `prometheus/`), the
//!   one HTTP client they share (`http`), and hands out what only one backend can do (the
//!   simulator's control).
//! - [`lease`]: the `LeaseStore` trait (per-group lease records, compare-and-swap writes,
//!   the fencing version); the engine judges who holds one (`engine::lease`).
//! - [`policy`]: pure autoscaling decisions: target tracking, step/simple scaling,
//!   scheduled and predictive scaling, stabilization, bounds, budget. No I/O, no clock.
//! - [`alarms`]: pure alarm evaluation: thresholds, M-of-N, for-duration, missing data.
//! - [`engine`]: polls sources and actuators on a clock, keeps bounded history, runs each
//!   group's autoscale step (alarms, `decide`, circuit breaker, lease) and acts, applies
//!   operator commands, publishes snapshots and events. Owns all mutable fleet state.
//! - [`store`]: the SQLite state that survives restarts: pauses, holds, breaker trips,
//!   silences, local leases, the notification outbox per notifier and the open page
//!   episodes, 1-minute history. Sync; `now` passed in.
//! - [`audit`]: the decision/audit log: JSON lines of every decision (identical "no change"
//!   runs coalesced) and every operator command, synced, rotated by size, read back.
//! - [`decide_cmd`]: `fleetdeck decide FILE`: a group's state, inputs and alarm
//!   datapoints in; each alarm's state and the policy's decision out.
//! - [`replay`]: backtests a trace through the simulator and the same tick core on a
//!   virtual clock, against baselines and a clairvoyant oracle; scorecards and plots.
//! - [`daemon`]: `fleetdeck --auto`: the engine headless, JSON lines, signals, the control
//!   socket; [`remote`]: the socket/TCP protocol and attached consoles; [`ctl`]:
//!   `fleetdeck ctl`; [`exporter`]: the daemon's `/metrics` and `/healthz`.
//! - [`config`]: the TOML config: embedded demo, user file, validation with file:line:col.
//! - [`ui`]: the ratatui console; speaks only the protocol.
//! - [`clock`]: the injectable clock (system time, or virtual time for tests and replay).
//!
//! Which layer may use which is enforced by a test (`layering_tests.rs`): `model`,
//! `policy` and `alarms` name no runtime, terminal, database or I/O; `ui` names only
//! `model`, `protocol`, `config` and `series`.

pub mod actuators;
pub mod alarms;
pub mod audit;
pub mod backends;
pub mod clock;
pub mod config;
pub mod ctl;
pub mod daemon;
pub mod decide_cmd;
pub mod engine;
pub mod exporter;
pub mod lease;
pub mod model;
pub mod notifiers;
pub mod policy;
pub mod protocol;
pub mod remote;
pub mod replay;
pub mod series;
pub mod sim;
pub mod sim_serve;
pub mod sources;
pub mod store;
pub mod ui;

#[cfg(test)]
mod layering_tests;
