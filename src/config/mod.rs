//! Configuration. PLACEHOLDER: the public surface below is fixed; the loader is being
//! written (TOML with file:line:col errors, embedded demo config, XDG lookup).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::GroupSpec;
use crate::protocol::{Operator, SimCommand};
use crate::sim::SimGroupSpec;

/// A fully validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where it was read from, for messages ("embedded demo config" or a path).
    pub origin: String,
    pub poll_interval: Duration,
    /// A series is stale when its newest sample is older than this (default 3 polls).
    pub stale_after: Duration,
    pub seed: u64,
    pub operator: Option<Operator>,
    pub groups: Vec<GroupConfig>,
    /// Incidents to play in the simulator, at offsets from start.
    pub sim_events: Vec<ScheduledSimEvent>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupConfig {
    pub spec: GroupSpec,
    pub sim: SimGroupSpec,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledSimEvent {
    pub at: Duration,
    pub command: SimCommand,
}

/// A config file that cannot be used: where, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending key (e.g. `groups[1].min`), when there is one.
    pub key: Option<String>,
    pub message: String,
}

/// The embedded demo config (three groups), as TOML text.
pub const DEMO_TOML: &str = "";

/// The embedded demo config.
pub fn demo() -> Config {
    unimplemented!("config in progress")
}

/// Parses config text; `origin` names it in errors.
pub fn parse(_text: &str, _origin: &str) -> Result<Config, ConfigError> {
    unimplemented!("config in progress")
}

/// Reads and parses a config file.
pub fn load(_path: &Path) -> Result<Config, ConfigError> {
    unimplemented!("config in progress")
}

/// `$XDG_CONFIG_HOME/fleetdeck/config.toml` (or the platform equivalent), if it exists.
pub fn user_config_path() -> Option<PathBuf> {
    None
}
