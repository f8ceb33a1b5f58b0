//! The decision/audit log: one JSON object per line recording every tick's decision per
//! group and every operator command, for humans and log shippers, and such that any
//! decision line fed back to `fleetdeck decide` reproduces the same decision.
//!
//! Synchronous std I/O (the engine calls it from a blocking task); no clock — decision
//! lines are stamped with the decision's `at`, command lines with the `at` passed in. It
//! knows nothing of the engine, and the policy knows nothing of it.
//!
//! # Line format (version 1)
//!
//! ```text
//! {"v":1,"kind":"decision","at":MS,"group":NAME,"state":GroupState,"inputs":Inputs,
//!  "decision":Decision,"shadow":BOOL,"count":N,"last_at":MS}
//! {"v":1,"kind":"command","at":MS,"operator":{"name":…,"email":…},"command":Command,
//!  "reason":TEXT|null,"reply":Reply}
//! ```
//!
//! (each on one line). Timestamps are milliseconds since the UNIX epoch; durations are
//! text ("5m"); non-finite metric values are "NaN"/"inf". `state` and `inputs` are
//! exactly what [`decide`](crate::policy::decide()) was called with, so
//! `decide(state, inputs, at)` gives `decision` again. A reader refuses another `v`;
//! version 1 readers ignore fields they do not know, so fields may be added.
//!
//! # Coalescing
//!
//! A run of identical "no change" decisions of one group (identical as defined in
//! [`coalesce`]: neither changes desired, same current, recommendation, bounds, clamps,
//! blocks and proposals, same words in the reasons — not the timestamps or measured
//! values) is one line with `count` = the ticks in the run and `last_at` = the last one;
//! the line holds the FIRST decision with its state and inputs, so it reproduces.
//!
//! The pending run of each group is kept in memory and appended — never rewritten in
//! place, so the file stays append-only for log shippers — when the run ends: a
//! different decision for that group (the run is written before it), a run spanning
//! [`AuditOptions::max_run`], [`AuditLog::flush`], or drop. Lines are therefore in write
//! order: within a group in tick order, but a coalesced line may follow later lines of
//! other groups. A crash (not a clean shutdown) loses at most `max_run` of a run;
//! actions and commands are synced as they are written.
//!
//! # Files
//!
//! Default: `$XDG_STATE_HOME/fleetdeck/<fleet>/decisions.jsonl` ([`default_path`]). Rotated by
//! size between lines to `decisions.jsonl.1` … `.{keep}` (newest first). Commands and
//! acted-on changes of desired also go to `decisions.actions.jsonl` ([`actions_path`]),
//! kept by age, weeks rather than hours: see [`writer`].
//!
//! # Layout
//!
//! - [`line`](mod@line): the line types and their JSON encoding.
//! - [`coalesce`]: what "identical" means and the pending runs.
//! - [`writer`]: [`AuditLog`]: writing, syncing, rotating.
//! - [`rotate`]: renaming the files.
//! - [`reader`]: reading a log back, line by line ([`read_lines`]).
//! - [`replay`]: finding a logged decision and comparing it with `decide` run again.

use std::path::PathBuf;

pub mod coalesce;
pub mod line;
pub mod reader;
pub mod replay;
pub mod rotate;
pub mod writer;

#[cfg(test)]
mod tests;

pub use line::{AuditLine, CommandLine, DecisionLine, LINE_VERSION};
pub use reader::{AuditLines, read_lines};
pub use replay::{LoggedDecision, differences, find_decision};
pub use rotate::rotated_path;
pub use writer::{AuditLog, AuditOptions, actions_path};

/// The audit log could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot encode an audit line: {source}")]
    Encode { path: PathBuf, source: serde_json::Error },
    #[error("{path}:{line}: {message}")]
    BadLine { path: PathBuf, line: usize, message: String },
}

/// A fleet's default decision log: `decisions.jsonl` in its state directory
/// ([`crate::config::state_dir`]); None without a home directory.
pub fn default_path(fleet: &str) -> Option<PathBuf> {
    crate::config::state_dir(fleet).map(|dir| dir.join("decisions.jsonl"))
}
