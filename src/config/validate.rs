//! From the file as written to a [`Config`] that can be trusted: defaults filled in and
//! every rule that serde cannot express checked (bounds, ordering, ranges, references
//! between keys). A failed rule names the key path it is about; `locate` turns that
//! path into a line and column, so this module never deals in text positions.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::file::{ConfigFile, EventFile, GroupFile, GroupSimFile};
use super::locate::KeyPath;
use super::traffic::traffic;
use super::{Config, GroupConfig, ScheduledSimEvent};
use crate::model::{GroupSpec, SourceKind, WarmupRange, format_duration};
use crate::protocol::{Operator, SimCommand};
use crate::sim::SimGroupSpec;

/// A broken rule: the key it is about and what was expected.
#[derive(Debug)]
pub(super) struct Invalid {
    pub path: KeyPath,
    pub message: String,
    /// Point at the key rather than its value (when the key itself should not be there).
    pub at_key: bool,
}

impl Invalid {
    pub fn new(path: KeyPath, message: String) -> Self {
        Invalid { path, message, at_key: false }
    }

    pub fn at_key(path: KeyPath, message: String) -> Self {
        Invalid { path, message, at_key: true }
    }
}

/// A finite number ≥ 0.
pub(super) fn non_negative(path: &KeyPath, value: f64) -> Result<f64, Invalid> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Invalid::new(path.clone(), format!("expected a finite number ≥ 0, got {value}")))
    }
}

/// A finite number > 0.
fn positive(path: &KeyPath, value: f64) -> Result<f64, Invalid> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Invalid::new(path.clone(), format!("expected a finite number > 0, got {value}")))
    }
}

/// A probability, 0 to 1 inclusive.
fn probability(path: &KeyPath, value: f64) -> Result<f64, Invalid> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::new(path.clone(), format!("expected a probability from 0 to 1, got {value}")))
    }
}

pub(super) fn positive_duration(path: &KeyPath, value: Duration) -> Result<Duration, Invalid> {
    if value.is_zero() {
        Err(Invalid::new(path.clone(), "expected a duration greater than zero".to_string()))
    } else {
        Ok(value)
    }
}

/// A duration no longer than `max`, a key's natural range.
fn at_most(path: &KeyPath, value: Duration, max: Duration) -> Result<Duration, Invalid> {
    if value <= max {
        Ok(value)
    } else {
        Err(Invalid::new(
            path.clone(),
            format!("{} is too long: at most {}", format_duration(value), format_duration(max)),
        ))
    }
}

/// Polling a simulator is free, so the demo can be lively; real backends (Prometheus,
/// CloudWatch) are scraped every 15 s or slower, so polling them faster only repeats data.
const SIM_POLL_INTERVAL: Duration = Duration::from_secs(1);
const BACKEND_POLL_INTERVAL: Duration = Duration::from_secs(15);
/// DESIGN.md's one definition of stale: no sample for 3 poll intervals.
const STALE_AFTER_POLLS: u32 = 3;
/// Tighter than the year every duration is held to: CloudWatch's longest common period is
/// an hour, and an autoscaler that looks less often than that is not one.
pub(super) const MAX_POLL_INTERVAL: Duration = Duration::from_secs(3600);
/// A series silent for a day is not stale, it is gone.
pub(super) const MAX_STALE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A GPU instance boots and loads its model in minutes; a day is far beyond any.
pub(super) const MAX_WARMUP: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_SEED: u64 = 42;
/// Backend calls: bounded, so a hung backend costs a tick, not the engine.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(300);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
const DEFAULT_SKEW_MARGIN: Duration = Duration::from_secs(2);

/// `[lease]`: the ttl (default three polls, at least three call timeouts, so a tick whose
/// calls all time out can still renew and act) and the skew margin. A ttl that does not
/// exceed `call_timeout + skew_margin` would let no engine ever act (the timing rule).
fn lease(
    file: Option<super::file::LeaseFile>,
    at: &KeyPath,
    poll_interval: Duration,
    call_timeout: Duration,
) -> Result<(Duration, Duration), Invalid> {
    let (ttl, skew) = file.map_or((None, None), |f| (f.ttl.map(|d| d.0), f.skew_margin.map(|d| d.0)));
    let skew = skew.unwrap_or(DEFAULT_SKEW_MARGIN);
    let needed = call_timeout.saturating_add(skew);
    match ttl {
        Some(ttl) if ttl <= needed => Err(Invalid::new(
            at.key("ttl"),
            format!(
                "lease ttl ({}) must exceed call_timeout + skew_margin ({} + {}): an engine acts only \
                 while more than that is left on its lease",
                format_duration(ttl),
                format_duration(call_timeout),
                format_duration(skew)
            ),
        )),
        Some(ttl) => Ok((ttl, skew)),
        None => {
            let ttl = poll_interval.saturating_mul(STALE_AFTER_POLLS).max(call_timeout.saturating_mul(3));
            // A large skew margin could still reach past the default: keep the rule.
            Ok((ttl.max(needed.saturating_add(Duration::from_secs(1))), skew))
        }
    }
}

pub(super) fn config(file: ConfigFile, origin: &str, config_dir: &Path) -> Result<Config, Invalid> {
    let root = KeyPath::root();
    let groups_path = root.key("groups");
    if file.groups.is_empty() {
        return Err(Invalid::new(
            groups_path,
            "no groups: add at least one [[groups]] table (name, instance_type, hourly_cost_usd, min, max)"
                .to_string(),
        ));
    }
    let mut groups = Vec::with_capacity(file.groups.len());
    let mut first_index_of: HashMap<String, usize> = HashMap::new();
    for (index, group_file) in file.groups.into_iter().enumerate() {
        let at = groups_path.index(index);
        let group = group(group_file, &at, config_dir)?;
        if let Some(first) = first_index_of.insert(group.spec.name.clone(), index) {
            return Err(Invalid::new(
                at.key("name"),
                format!("duplicate group name `{}` (also groups[{first}].name)", group.spec.name),
            ));
        }
        groups.push(group);
    }

    let all_sim = groups.iter().all(|g| g.spec.source == SourceKind::Sim);
    let poll_interval = match file.poll_interval {
        Some(d) => {
            let path = root.key("poll_interval");
            at_most(&path, positive_duration(&path, d.0)?, MAX_POLL_INTERVAL)?
        }
        None if all_sim => SIM_POLL_INTERVAL,
        None => BACKEND_POLL_INTERVAL,
    };
    let stale_after = match file.stale_after {
        Some(d) if d.0 < poll_interval => {
            return Err(Invalid::new(
                root.key("stale_after"),
                format!(
                    "stale_after ({}) is shorter than poll_interval ({}): every series would be stale \
                     between two polls",
                    format_duration(d.0),
                    format_duration(poll_interval)
                ),
            ));
        }
        Some(d) => at_most(&root.key("stale_after"), d.0, MAX_STALE_AFTER)?,
        // At most 3 h, as poll_interval is at most 1 h.
        None => poll_interval.saturating_mul(STALE_AFTER_POLLS),
    };

    let call_timeout = match file.call_timeout {
        Some(d) => {
            let path = root.key("call_timeout");
            at_most(&path, positive_duration(&path, d.0)?, MAX_CALL_TIMEOUT)?
        }
        None => DEFAULT_CALL_TIMEOUT,
    };
    let max_backoff = match file.max_backoff {
        Some(d) if d.0 < poll_interval => {
            return Err(Invalid::new(
                root.key("max_backoff"),
                format!(
                    "max_backoff ({}) is shorter than poll_interval ({}): a failing backend is retried \
                     no faster than it is polled",
                    format_duration(d.0),
                    format_duration(poll_interval)
                ),
            ));
        }
        Some(d) => d.0,
        None => DEFAULT_MAX_BACKOFF.max(poll_interval),
    };
    let (lease_ttl, lease_skew_margin) = lease(file.lease, &root.key("lease"), poll_interval, call_timeout)?;

    let operator = match file.operator {
        Some(op) if op.name.trim().is_empty() => {
            return Err(Invalid::new(
                root.key("operator").key("name"),
                "the operator name is empty".to_string(),
            ));
        }
        Some(op) => Some(Operator { name: op.name, email: op.email, auth: None }),
        None => None,
    };

    let events_path = root.key("sim").key("events");
    let sim_events = file
        .sim
        .events
        .into_iter()
        .enumerate()
        .map(|(index, event_file)| event(event_file, &events_path.index(index), &first_index_of))
        .collect::<Result<Vec<_>, _>>()?;

    let fleet = match file.fleet {
        Some(name) if valid_fleet_name(&name) => name,
        Some(name) => {
            return Err(Invalid::new(
                root.key("fleet"),
                format!(
                    "fleet name `{name}` must be letters, digits, `-`, `_` or `.` (it names a directory)"
                ),
            ));
        }
        None => default_fleet_name(origin),
    };

    Ok(Config {
        origin: origin.to_string(),
        fleet,
        poll_interval,
        stale_after,
        call_timeout,
        max_backoff,
        lease_ttl,
        lease_skew_margin,
        breaker: file.breaker.unwrap_or_default(),
        seed: file.seed.unwrap_or(DEFAULT_SEED),
        operator,
        groups,
        sim_events,
    })
}

fn valid_fleet_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Without a `fleet` key: the config file's name without its extension (`prod.toml` →
/// `prod`), `demo` for the embedded demo; characters a directory name should not carry
/// become `_`.
fn default_fleet_name(origin: &str) -> String {
    if origin == super::DEMO_ORIGIN {
        return "demo".to_string();
    }
    let stem = Path::new(origin).file_stem().and_then(|s| s.to_str()).unwrap_or("fleet");
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' })
        .collect();
    if name.is_empty() { "fleet".to_string() } else { name }
}

fn group(file: GroupFile, at: &KeyPath, config_dir: &Path) -> Result<GroupConfig, Invalid> {
    let name = file.name;
    // Sim commands (`:sim spike NAME x3 2m`) split on whitespace, so a name with a space
    // could never be named in one.
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(Invalid::new(
            at.key("name"),
            format!("group name `{name}` must be non-empty and without spaces (e.g. `llm-chat`)"),
        ));
    }
    if file.instance_type.trim().is_empty() {
        return Err(Invalid::new(at.key("instance_type"), "the instance type is empty".to_string()));
    }
    let hourly_cost_usd = non_negative(&at.key("hourly_cost_usd"), file.hourly_cost_usd)?;
    let (min, max) = (file.min, file.max);
    if max == 0 {
        return Err(Invalid::new(at.key("max"), "max must be at least 1".to_string()));
    }
    if min > max {
        return Err(Invalid::new(at.key("min"), format!("min ({min}) is greater than max ({max})")));
    }
    let desired = file.desired.unwrap_or(min);
    if !(min..=max).contains(&desired) {
        return Err(Invalid::new(
            at.key("desired"),
            format!("desired ({desired}) is outside [min, max] = [{min}, {max}]"),
        ));
    }
    let warmup = match file.warmup {
        Some(w) if w.min.0 > w.max.0 => {
            return Err(Invalid::new(
                at.key("warmup").key("min"),
                format!(
                    "warm-up min ({}) is greater than max ({})",
                    format_duration(w.min.0),
                    format_duration(w.max.0)
                ),
            ));
        }
        Some(w) => {
            WarmupRange { min: w.min.0, max: at_most(&at.key("warmup").key("max"), w.max.0, MAX_WARMUP)? }
        }
        None => WarmupRange::default(),
    };
    let slo_p95 = file.slo_p95.map(|d| positive_duration(&at.key("slo_p95"), d.0)).transpose()?;
    let sim = match file.sim {
        Some(sim) => group_sim(sim, &at.key("sim"), config_dir)?,
        None => SimGroupSpec::default(),
    };
    let policy = file.policy.unwrap_or_default();
    super::policy::alarms(&file.alarms, &at.key("alarms"))?;
    super::policy::policy(&policy, &file.alarms, &at.key("policy"))?;
    let spec = GroupSpec {
        name,
        source: file.source.unwrap_or_default(),
        actuator: file.actuator.unwrap_or_default(),
        min,
        max,
        desired,
        instance_type: file.instance_type,
        hourly_cost_usd,
        warmup,
        serving: file.serving.unwrap_or_default(),
        slo_p95,
    };
    Ok(GroupConfig { spec, sim, policy, alarms: file.alarms, shadow: file.shadow.unwrap_or(false) })
}

fn group_sim(file: GroupSimFile, at: &KeyPath, config_dir: &Path) -> Result<SimGroupSpec, Invalid> {
    let defaults = SimGroupSpec::default();
    let traffic = match file.traffic {
        Some(t) => traffic(t, &at.key("traffic"), config_dir)?,
        None => defaults.traffic,
    };
    Ok(SimGroupSpec {
        capacity_rps_per_instance: match file.capacity_rps_per_instance {
            Some(v) => positive(&at.key("capacity_rps_per_instance"), v)?,
            None => defaults.capacity_rps_per_instance,
        },
        service_time: match file.service_time {
            Some(d) => positive_duration(&at.key("service_time"), d.0)?,
            None => defaults.service_time,
        },
        traffic,
        instance_failures_per_hour: match file.instance_failures_per_hour {
            Some(v) => non_negative(&at.key("instance_failures_per_hour"), v)?,
            None => defaults.instance_failures_per_hour,
        },
        metric_gap_probability: match file.metric_gap_probability {
            Some(v) => probability(&at.key("metric_gap_probability"), v)?,
            None => defaults.metric_gap_probability,
        },
        launch_failure_probability: match file.launch_failure_probability {
            Some(v) => probability(&at.key("launch_failure_probability"), v)?,
            None => defaults.launch_failure_probability,
        },
    })
}

const COMMAND_KEYS: &str = "spike = \"GROUP xFACTOR for DURATION\", fail = \"GROUP COUNT\", \
                            gap = \"GROUP DURATION\" or stockout = \"GROUP DURATION\"";

fn event(
    file: EventFile,
    at: &KeyPath,
    groups: &HashMap<String, usize>,
) -> Result<ScheduledSimEvent, Invalid> {
    let written: Vec<(&str, String)> =
        [("spike", file.spike), ("fail", file.fail), ("gap", file.gap), ("stockout", file.stockout)]
            .into_iter()
            .filter_map(|(key, value)| value.map(|v| (key, v)))
            .collect();
    let (key, text) = match &written[..] {
        [] => return Err(Invalid::new(at.clone(), format!("an event needs one command: {COMMAND_KEYS}"))),
        [one] => one,
        [first, second, ..] => {
            return Err(Invalid::at_key(
                at.key(second.0),
                format!("an event has one command, but this one has both `{}` and `{}`", first.0, second.0),
            ));
        }
    };
    let path = at.key(key);
    let command = if *key == "spike" {
        SimCommand::parse_spike(text)
    } else {
        format!("{key} {text}").parse::<SimCommand>()
    }
    .map_err(|err| Invalid::new(path.clone(), err.to_string()))?;
    if !groups.contains_key(command.group()) {
        let mut names: Vec<&str> = groups.keys().map(String::as_str).collect();
        names.sort_unstable();
        return Err(Invalid::new(
            path,
            format!("no group named `{}` (groups: {})", command.group(), names.join(", ")),
        ));
    }
    Ok(ScheduledSimEvent { at: file.at.0, command })
}
