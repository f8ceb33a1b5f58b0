//! The config file: one TOML file (the user's, `--config`, or the embedded demo) read
//! into a validated [`Config`], or refused with a [`ConfigError`] that names the file,
//! line, column and key and says what was expected.
//!
//! This module reads and checks text; it never starts a simulator or an engine (it only
//! fills in the plain [`SimGroupSpec`] / [`TrafficSpec`](crate::sim::TrafficSpec) types
//! they are built from), and it knows no terminal.
//!
//! # Format
//!
//! ```toml
//! poll_interval = "1s"   # optional; every source's default (a simulator's own: 1s)
//! stale_after = "3s"     # optional; every source's default (else per source, below)
//! call_timeout = "10s"   # optional; longest a backend call may take (at most 5m)
//! max_backoff = "60s"    # optional; longest wait between retries of a failing backend
//!
//! [sources.NAME]         # optional; a metric source connection (`sim` is built in)
//! kind = "sim"           # the only kind so far; real backends add theirs
//! poll_interval = "1s"   # default: the top-level poll_interval, else the kind's
//! stale_after = "3s"     # default: the top-level stale_after, else the larger of
//!                        # 3 × poll_interval and period + publication lag + poll_interval
//!
//! [actuators.NAME]       # optional; an actuator connection (`sim` is built in)
//! kind = "sim"
//! max_concurrency = 8    # calls in flight at once over all its groups, 1–64
//!
//! [notifiers.NAME]       # optional; where pages go (delivery lands with each backend)
//! kind = "pagerduty"     # pagerduty: routing_key_env | routing_key_file
//! routing_key_env = "PD_ROUTING_KEY"   # slack: token_env | token_file, and channel
//!                        # secrets only by variable name or path (`secret`)
//!
//! [lease]                # optional; one autoscaler per group (README, "Leases")
//! store = "local"        # the fleet's SQLite state file (the only store so far)
//! ttl = "30s"            # default 3 × poll_interval, at least 3 × call_timeout;
//!                        # must exceed call_timeout + skew_margin
//! skew_margin = "2s"     # default 2s
//!
//! [breaker]              # optional; the circuit breaker, for every group
//! direction_changes = 4  # reversals within `window` that count as flapping; 0: off
//! window = "30m"         # the flapping window and freeze
//! max_failures = 3       # failed actuator calls in a row before a full freeze; 0: off
//! stale_after_ticks = 1  # ticks of stale data before the scale-in freeze
//! seed = 7               # optional; default 42 (the CLI's --seed overrides it)
//!
//! [operator]             # optional; identity for the audit trail
//! name = "Ana Ops"
//! email = "ana@example.com"   # optional
//!
//! [[groups]]             # one or more
//! name = "llm-chat"      # unique, no spaces
//! instance_type = "p4d.24xlarge"
//! hourly_cost_usd = 32.77             # finite, ≥ 0
//! min = 2
//! max = 16                            # ≥ 1 and ≥ min
//! hard_max = 24                       # optional; default 2 × max; ≥ max: no command holds past it
//! desired = 4                         # optional; default min; within [min, max]
//! warmup = { min = "2m", max = "5m" } # optional; default 2–5 min
//! serving = "vllm"                    # "vllm" | "generic" (default)
//! slo_p95 = "2s"                      # optional
//! source = "sim"                      # a [sources.NAME], default "sim"
//! notifiers = ["pd"]                  # optional; default every [notifiers.NAME]
//! actuator = "sim"                    # an [actuators.NAME], default "sim"; a simulated
//!                                     # source needs a simulated actuator and vice versa
//!
//! [groups.sim]           # optional, simulated groups only; every key defaults to
//!                        # SimGroupSpec::default()
//! capacity_rps_per_instance = 8.0     # > 0
//! service_time = "900ms"              # > 0
//! instance_failures_per_hour = 0.0    # ≥ 0
//! metric_gap_probability = 0.0        # 0–1
//! launch_failure_probability = 0.0    # 0–1
//! traffic = { shape = "diurnal", base_rps = 10, peak_rps = 30, peak_at = "15m", period = "30m" }
//!
//! [[sim.events]]         # optional; incidents at offsets from the start
//! at = "30s"
//! spike = "llm-chat x5 for 2m"   # exactly one of spike | fail = "GROUP N" | gap = "GROUP DUR" | stockout = "GROUP DUR"
//! ```
//!
//! Traffic shapes (`noise`, the relative standard deviation of multiplicative noise,
//! defaults to 0 and is ≥ 0; integers are accepted where numbers are expected):
//!
//! | shape | keys (optional ones with their default) |
//! |---|---|
//! | `constant` | `rps`, `noise` |
//! | `diurnal` | `base_rps`, `peak_rps` (≥ base), `peak_at` (< period), `period` = 24h, `weekend_factor` = 1.0, `noise` |
//! | `flash-crowd` | `base_rps`, `factor` (> 1), `at`, `ramp` = 1m, `hold`, `noise` |
//! | `ramp` | `from_rps`, `to_rps`, `start` = 0s, `over` (> 0), `noise` |
//! | `trace` | `path` (CSV, relative to the config file's directory), `scale` = 1.0, `loop` = true |
//!
//! Durations are strings read by `humantime`: `"500ms"`, `"30s"`, `"2m"`, `"1h30m"`.
//!
//! # Limits
//!
//! Every duration is at most a year (`"1y"`, 365.25 days,
//! [`MAX_DURATION`](crate::model::MAX_DURATION)): policy windows, cooldowns, alarm periods
//! and for-durations, traffic periods, event offsets. Keys with a natural range are held
//! tighter: `poll_interval` at most `1h`, `stale_after` at most `24h` (so its default,
//! 3 × `poll_interval`, is at most 3 h), a group's `warmup.max` at most `24h`. A longer
//! value is refused at its own line and column, so no product of durations the engine
//! forms (a poll interval × the 600 raw points a chart spans, a period × the datapoints
//! an alarm evaluates) can overflow.
//!
//! # How errors are located
//!
//! The text is parsed twice: once into serde structs (`file`), whose errors toml already
//! places, and once into toml's span-preserving document (`locate`), which maps a key path
//! such as `groups[1].min` to the bytes of its value. Semantic rules (`validate`,
//! `traffic`) only name a key path; the document finds where it is written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{ActuatorKind, GroupSpec, SourceKind};
use crate::policy::PolicySpec;
use crate::protocol::{Operator, SimCommand};
use crate::sim::SimGroupSpec;

mod file;
mod locate;
mod notifiers;
mod policy;
mod prometheus;
pub mod secret;
mod trace;
mod traffic;
mod validate;

#[cfg(test)]
mod tests;

pub(crate) use locate::line_col;
use locate::{Document, KeyPath};

/// A fully validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where it was read from, for messages ("embedded demo config" or a path).
    pub origin: String,
    /// The fleet's name: its state (pauses, holds, leases, history) and decision log live
    /// under `$XDG_STATE_HOME/fleetdeck/<fleet>/`, so two fleets never share them. Set by
    /// the top-level `fleet` key; default: the config file's stem, `demo` for the demo.
    pub fleet: String,
    pub poll_interval: Duration,
    /// A series is stale when its newest sample is older than this (default 3 polls).
    pub stale_after: Duration,
    /// Longest a backend call may take before it counts as failed (default 10 s).
    pub call_timeout: Duration,
    /// Longest wait between retries of a failing backend (default 60 s).
    pub max_backoff: Duration,
    /// How long a group's lease lasts unrenewed (`[lease] ttl`; default three polls, at
    /// least three call timeouts).
    pub lease_ttl: Duration,
    /// Added to the call timeout when judging whether enough of a lease is left to act
    /// (`[lease] skew_margin`; default 2 s).
    pub lease_skew_margin: Duration,
    /// Where leases are kept (`[lease] store`).
    pub lease_store: LeaseStoreKind,
    /// Every metric source connection a group uses, the built-in `sim` included when a
    /// group uses it; in name order.
    pub sources: Vec<SourceConfig>,
    /// Every actuator connection a group uses, likewise.
    pub actuators: Vec<ActuatorConfig>,
    /// Every notifier declared (`[notifiers.NAME]`), in name order.
    pub notifiers: Vec<NotifierConfig>,
    /// The circuit breaker's thresholds (`[breaker]`), for every group.
    pub breaker: crate::engine::breaker::BreakerSettings,
    pub seed: u64,
    pub operator: Option<Operator>,
    pub groups: Vec<GroupConfig>,
    /// Incidents to play in the simulator, at offsets from start.
    pub sim_events: Vec<ScheduledSimEvent>,
}

impl Config {
    /// The group with this name, if configured.
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| g.spec.name == name)
    }

    /// The simulated groups as the simulator takes them (`SimFleet::new`).
    pub fn sim_groups(&self) -> Vec<(GroupSpec, SimGroupSpec)> {
        self.groups.iter().filter_map(|g| g.sim.clone().map(|sim| (g.spec.clone(), sim))).collect()
    }

    /// The source connection with this name.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The actuator connection with this name.
    pub fn actuator(&self, name: &str) -> Option<&ActuatorConfig> {
        self.actuators.iter().find(|a| a.name == name)
    }
}

/// A metric source connection (`[sources.NAME]`): declared once, used by many groups.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    pub name: String,
    pub kind: SourceKind,
    /// How often its groups are polled (default: the top-level `poll_interval`).
    pub poll_interval: Duration,
    /// A series is stale when its newest sample is older than this (default: the
    /// top-level `stale_after` if written, else the larger of 3 polls and the source's
    /// period + publication lag + a poll, so late-published data is not called stale).
    pub stale_after: Duration,
    /// How a `prometheus` source reaches its server and reads its series.
    pub prometheus: Option<PrometheusConfig>,
}

/// `[sources.NAME] kind = "prometheus"`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrometheusConfig {
    /// The server's base URL, without a trailing slash (`http://127.0.0.1:9090`).
    pub url: String,
    /// The window of `rate()` and of histogram quantiles (default 1m: four 15 s scrapes,
    /// the least that `rate` reads reliably).
    pub rate_window: Duration,
    /// Extra label matchers for every selector, e.g. `namespace="inference"`.
    pub matchers: String,
    /// The labels that hold a series' pod name, in order, a later one winning where both
    /// match (default `pod`, then `exported_pod`: dcgm-exporter scraped with
    /// `honorLabels: false`).
    pub pod_labels: Vec<String>,
    /// Group series by this label, whose value is the group's name (e.g. `app`), instead
    /// of by pod name prefix.
    pub group_label: Option<String>,
    /// Headers sent with every query, e.g. a tenant's `X-Scope-OrgID` for Mimir or Cortex.
    pub headers: Vec<(String, String)>,
    pub auth: Option<HttpAuth>,
    /// A CA (PEM) to trust besides the system's (relative paths: the config's directory).
    pub ca_file: Option<PathBuf>,
    /// Read its firing and pending alerts (`/api/v1/alerts`) each poll and show them
    /// beside fleetdeck's own alarms: read only, never paged by fleetdeck.
    pub alerts: bool,
}

/// How an HTTP backend proves who it is; secrets only by where they are read.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpAuth {
    /// `Authorization: Bearer …`.
    Bearer(secret::Secret),
    /// `Authorization: Basic …`.
    Basic { username: String, password: secret::Secret },
}

impl std::fmt::Display for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpAuth::Bearer(token) => write!(f, "bearer token from {token}"),
            HttpAuth::Basic { username, password } => {
                write!(f, "basic auth as {username}, password from {password}")
            }
        }
    }
}

/// `[groups.prometheus]`: how a Prometheus source reads one group, where the source's
/// defaults do not fit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupPrometheus {
    /// Matchers added to the source's for this group's default queries (its queries are
    /// then its own, not batched with the other groups').
    pub matchers: Option<String>,
    /// The group's own PromQL per metric kind, replacing the default for that kind or
    /// adding a kind (custom kinds included). Each must answer one series or a scalar.
    pub queries: Vec<(crate::model::MetricKind, String)>,
}

/// An actuator connection (`[actuators.NAME]`).
#[derive(Clone, Debug, PartialEq)]
pub struct ActuatorConfig {
    pub name: String,
    pub kind: ActuatorKind,
    /// How many of its calls (observe, set desired, markers) may be in flight at once,
    /// over all its groups (default 8).
    pub max_concurrency: usize,
    /// Where it is reached: the control API's base URL for `sim-http`; None for `sim`.
    pub url: Option<String>,
}

/// What `config check` says of each connection and notifier: kind, timings and where its
/// secret comes from (and whether it can be read there), never the secret itself.
pub fn connection_lines(config: &Config) -> Vec<String> {
    let text = crate::model::format_duration;
    let mut lines = Vec::new();
    let readable = |secret: &secret::Secret| match secret.resolve() {
        Ok(_) => "readable".to_string(),
        Err(why) => format!("NOT readable: {why}"),
    };
    for s in &config.sources {
        let at = match &s.prometheus {
            Some(p) => {
                let auth = match &p.auth {
                    Some(auth @ (HttpAuth::Bearer(secret) | HttpAuth::Basic { password: secret, .. })) => {
                        format!(", {auth} ({})", readable(secret))
                    }
                    None => String::new(),
                };
                let alerts = if p.alerts { ", its alerts shown" } else { "" };
                format!(" at {}{auth}{alerts}", p.url)
            }
            None => String::new(),
        };
        lines.push(format!(
            "source {}: {}{at}, polled every {}, stale after {}",
            s.name,
            s.kind,
            text(s.poll_interval),
            text(s.stale_after)
        ));
    }
    for a in &config.actuators {
        let at = a.url.as_deref().map(|u| format!(" at {u}")).unwrap_or_default();
        lines.push(format!(
            "actuator {}: {}{at}, at most {} calls at once",
            a.name, a.kind, a.max_concurrency
        ));
    }
    for n in &config.notifiers {
        let readable = readable(&n.secret);
        let channel = n.channel.as_deref().map(|c| format!(" to {c}")).unwrap_or_default();
        lines.push(format!(
            "notifier {}: {}{channel}, secret from {} ({readable})",
            n.name,
            n.kind.name(),
            n.secret
        ));
    }
    lines
}

/// A notifier (`[notifiers.NAME]`): where a group's pages and resolves are queued.
#[derive(Clone, Debug, PartialEq)]
pub struct NotifierConfig {
    pub name: String,
    pub kind: NotifierKind,
    /// The routing key (PagerDuty) or bot token (Slack): where to read it, never its value.
    pub secret: secret::Secret,
    /// Slack's channel.
    pub channel: Option<String>,
    /// Slack's channel for each severity that has its own (scale messages: `info`'s).
    pub channels: Vec<(crate::model::Severity, String)>,
    /// A PagerDuty notifier's Events API settings.
    pub pagerduty: Option<PagerDutyConfig>,
    /// A Slack notifier's Web API base URL, without a trailing slash.
    pub api_url: Option<String>,
}

/// Where a PagerDuty notifier's events go and how it waits when throttled.
#[derive(Clone, Debug, PartialEq)]
pub struct PagerDutyConfig {
    /// The Events API's base URL, without a trailing slash.
    pub events_url: String,
    /// The wait after a 429 (the Events API sends no `Retry-After`).
    pub throttle_wait: Duration,
}

/// What a notifier talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifierKind {
    /// PagerDuty Events API v2: `routing_key_env` or `routing_key_file`.
    Pagerduty,
    /// Slack's Web API: `token_env` or `token_file`, and `channel`.
    Slack,
}

impl NotifierKind {
    pub fn name(self) -> &'static str {
        match self {
            NotifierKind::Pagerduty => "pagerduty",
            NotifierKind::Slack => "slack",
        }
    }
}

/// Where the engine keeps its per-group leases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaseStoreKind {
    /// The fleet's SQLite state file: engines on one host (DynamoDB and Kubernetes
    /// `Lease` stores arrive with their backends).
    #[default]
    Local,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupConfig {
    pub spec: GroupSpec,
    /// How the simulator plays the group (`[groups.sim]`): present exactly when the
    /// group's source is a simulator connection.
    pub sim: Option<SimGroupSpec>,
    /// The group's autoscaling policy (`[groups.policy]`); empty: observe only.
    pub policy: PolicySpec,
    /// The group's alarm rules (`[[groups.alarms]]`).
    pub alarms: Vec<crate::alarms::AlarmRule>,
    /// How a Prometheus source reads it (`[groups.prometheus]`), where not by default.
    pub prometheus: Option<GroupPrometheus>,
    /// The notifiers its pages and resolves are queued for (`notifiers = [...]`; default:
    /// every declared one).
    pub notifiers: Vec<String>,
    /// `shadow = true`: decide and show "would …", never act (an operator's `:shadow`
    /// overrides it, and that override is kept across restarts).
    pub shadow: bool,
}

impl GroupConfig {
    /// How the simulator plays the group: its `[groups.sim]`, or the simulator's defaults
    /// for a group that is not simulated (replay plays any group's policy on a trace).
    pub fn sim_or_default(&self) -> SimGroupSpec {
        self.sim.clone().unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledSimEvent {
    pub at: Duration,
    pub command: SimCommand,
}

/// A config file that cannot be used: where, which key, and why; with the other
/// mistakes found in the same read, in file order. A syntax or type error (a string
/// where a number goes, `-5s`) stops the read, so it comes alone; the rules checked after
/// that are reported all at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    /// 1-based; 0 (and `column` 0) when the mistake is not in the text (the file
    /// cannot be read), and the message then names the file alone.
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending key (e.g. `groups[1].min`), when there is one.
    pub key: Option<String>,
    pub message: String,
    /// The further mistakes, each on a line of its own when shown.
    pub more: Vec<ConfigError>,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            0 => write!(f, "{}: {}", self.file, self.message)?,
            line => write!(f, "{}:{line}:{}: {}", self.file, self.column, self.message)?,
        }
        self.more.iter().try_for_each(|e| write!(f, "\n{e}"))
    }
}

impl std::error::Error for ConfigError {}

/// The embedded demo config (three groups), as TOML text.
pub const DEMO_TOML: &str = include_str!("demo.toml");

/// How the embedded demo config is named in messages.
pub const DEMO_ORIGIN: &str = "embedded demo config";

/// The embedded demo config.
pub fn demo() -> Config {
    // A test parses DEMO_TOML, so this cannot fail in a build that passed its tests.
    parse(DEMO_TOML, DEMO_ORIGIN).unwrap_or_else(|err| panic!("the embedded demo config is invalid: {err}"))
}

/// The demo's groups repeated to `n` groups (`llm-chat-000`, `vision-001`, …), without
/// scheduled incidents: the fleet the benchmarks and the memory measurement run.
pub fn demo_scaled(n: usize) -> Config {
    let mut config = demo();
    let templates = std::mem::take(&mut config.groups);
    config.sim_events.clear();
    config.groups = (0..n)
        .map(|i| {
            let mut group = templates[i % templates.len()].clone();
            group.spec.name = format!("{}-{i:03}", group.spec.name);
            group
        })
        .collect();
    config
}

/// Parses config text; `origin` names it in errors. A `trace` file path is resolved
/// against `origin`'s directory when `origin` is a path, else the working directory.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let config_dir = Path::new(origin).parent().unwrap_or(Path::new(""));
    parse_in(text, origin, config_dir)
}

/// Where a fleet's state lives: `$XDG_STATE_HOME/fleetdeck/<fleet>/` (usually
/// `~/.local/state/fleetdeck/<fleet>/`), or under the local data directory on systems
/// without a state directory (macOS, Windows); None without a home directory.
pub fn state_dir(fleet: &str) -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "fleetdeck")?;
    Some(dirs.state_dir().unwrap_or_else(|| dirs.data_local_dir()).join(fleet))
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
        file: origin.clone(),
        line: 0,
        column: 0,
        key: None,
        message: format!("cannot read the config file: {err}"),
        more: Vec::new(),
    })?;
    parse_in(&text, &origin, path.parent().unwrap_or(Path::new("")))
}

/// At most this many type errors are reported from one read.
const MAX_REPORTED: usize = 20;

/// The newest error of a report: the first, or the last of its `more`.
fn first_or_last(error: &ConfigError) -> &ConfigError {
    error.more.last().unwrap_or(error)
}

/// `i` of a key path `groups[i]…`.
fn group_index(key: &str) -> Option<usize> {
    let rest = key.strip_prefix("groups[")?;
    rest[..rest.find(']')?].parse().ok()
}

/// The bytes of the `i`th `[[groups]]` table with its sub-tables (`[groups.policy]` …),
/// from its header to the next header that is not one of its own.
fn group_region(text: &str, i: usize) -> Option<std::ops::Range<usize>> {
    let mut seen = 0;
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let header = line.trim_start();
        if header.starts_with('[') {
            let name = header.trim_start_matches('[').split(']').next().unwrap_or("").trim();
            let ours = name == "groups" && header.starts_with("[[");
            match start {
                Some(from) if ours || !name.starts_with("groups.") => return Some(from..offset),
                None if ours => {
                    if seen == i {
                        start = Some(offset);
                    }
                    seen += 1;
                }
                _ => {}
            }
        }
        offset += line.len();
    }
    start.map(|from| from..text.len())
}

/// `range` of `text` turned to spaces, its line breaks kept (so offsets stay put).
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let blanked: String = text[range.clone()]
        .chars()
        .map(|c| if c == '\n' { "\n".to_string() } else { " ".repeat(c.len_utf8()) })
        .collect();
    text.replace_range(range, &blanked);
}

/// `$XDG_CONFIG_HOME/fleetdeck/config.toml` (or the platform equivalent), if it exists.
pub fn user_config_path() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "fleetdeck")?;
    existing_config_in(dirs.config_dir())
}

fn existing_config_in(config_dir: &Path) -> Option<PathBuf> {
    let path = config_dir.join("config.toml");
    path.is_file().then_some(path)
}

fn parse_in(text: &str, origin: &str, config_dir: &Path) -> Result<Config, ConfigError> {
    let error_at = |offset: usize, key: Option<&KeyPath>, message: &str| {
        let (line, column) = line_col(text, offset);
        let key = key.filter(|k| !k.is_root()).map(KeyPath::to_string);
        let message = match &key {
            Some(key) => format!("{key}: {message}"),
            None => message.to_string(),
        };
        ConfigError { file: origin.to_string(), line, column, key, message, more: Vec::new() }
    };

    let (document, syntax_error) = Document::parse(text);
    if let Some(err) = syntax_error {
        let offset = err.span().map_or(0, |span| span.start);
        let path = document.path_at(offset);
        return Err(error_at(offset, Some(&path), &format!("TOML syntax error: {}", err.message())));
    }

    let serde_error = |err: toml::de::Error| {
        let offset = err.span().map_or(0, |span| span.start);
        let mut path = document.path_at(offset);
        let message = match missing_field(err.message()) {
            Some(field) => {
                path = path.key(field);
                format!("required key `{field}` is missing")
            }
            None if err.message().starts_with("unknown field") => {
                traffic::unknown_key_message(&document, &path)
                    .unwrap_or_else(|| plain_serde_message(err.message()))
            }
            None => plain_serde_message(err.message()),
        };
        error_at(offset, Some(&path), &message)
    };
    let file: file::ConfigFile = match toml::from_str(text) {
        Ok(file) => file,
        Err(err) => {
            // A type error stops serde at the first. When it is inside a group, that
            // group is blanked out (its offsets kept) and the rest read again, so each
            // group's first such mistake is reported in one go.
            let mut first = serde_error(err);
            let mut blanked = text.to_string();
            let mut at = (first.line, first.column);
            for _ in 0..MAX_REPORTED {
                let Some(region) = first_or_last(&first)
                    .key
                    .as_deref()
                    .and_then(group_index)
                    .and_then(|i| group_region(text, i))
                else {
                    break;
                };
                blank(&mut blanked, region);
                let Err(next) = toml::from_str::<file::ConfigFile>(&blanked) else { break };
                let next = serde_error(next);
                if (next.line, next.column) <= at {
                    break;
                }
                at = (next.line, next.column);
                first.more.push(next);
            }
            return Err(first);
        }
    };

    validate::config(file, origin, config_dir).map_err(|invalid| {
        let mut errors: Vec<ConfigError> = invalid
            .iter()
            .map(|invalid| {
                let key_span = if invalid.at_key { document.key_span_of(&invalid.path) } else { None };
                let span = key_span.unwrap_or_else(|| document.span_of(&invalid.path));
                error_at(span.start, Some(&invalid.path), &invalid.message)
            })
            .collect();
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        let mut errors = errors.into_iter();
        let mut first = errors.next().unwrap_or_else(|| error_at(0, None, "the config is invalid"));
        first.more = errors.collect();
        first
    })
}

/// serde reports an absent required key at its table as "missing field `name`".
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

/// serde speaks Rust (`u32`, `field`, `variant`); a config file's reader speaks TOML.
fn plain_serde_message(message: &str) -> String {
    [
        ("unknown field", "unknown key"),
        ("unknown variant", "unknown value"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array"),
        ("invalid type: map", "invalid type: table"),
    ]
    .iter()
    .fold(message.to_string(), |text, (rust, toml)| text.replace(rust, toml))
}

/// The fast test profile (`tests/fixtures/fast.toml`: the demo's groups with 1 s polls,
/// 5–10 s warm-ups and GPU target tracking at 0.7), for engine tests.
#[cfg(test)]
pub(crate) fn fast_profile() -> Config {
    load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fast.toml")).unwrap()
}
