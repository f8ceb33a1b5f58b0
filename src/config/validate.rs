//! From the file as written to a [`Config`] that can be trusted: defaults filled in and
//! every rule that serde cannot express checked (bounds, ordering, ranges, references
//! between keys). A failed rule names the key path it is about; `locate` turns that
//! path into a line and column, so this module never deals in text positions.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use super::file::{ActuatorFile, SourceFile};
use super::file::{ConfigFile, EventFile, GroupFile, GroupSimFile};
use super::locate::KeyPath;
use super::secret::Secret;
use super::traffic::traffic;
use super::{ActuatorConfig, Config, GroupConfig, ScheduledSimEvent, SourceConfig};
use crate::model::{ActuatorKind, GroupSpec, SIM, SourceKind, WarmupRange, format_duration};
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
pub(super) fn at_most(path: &KeyPath, value: Duration, max: Duration) -> Result<Duration, Invalid> {
    if value <= max {
        Ok(value)
    } else {
        Err(Invalid::new(
            path.clone(),
            format!("{} is too long: at most {}", format_duration(value), format_duration(max)),
        ))
    }
}

/// Polling a simulator is free, so the demo can be lively. (Real backends — Prometheus,
/// CloudWatch — are scraped every 15 s or slower, so their kinds will default to 15 s or
/// their period: polling faster only repeats data.)
const SIM_POLL_INTERVAL: Duration = Duration::from_secs(1);
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

/// The value of `result`, or None with its error kept in `errors`: so that one run
/// reports every broken rule of the parts that do not depend on each other.
fn keep<T>(errors: &mut Vec<Invalid>, result: Result<T, Invalid>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Every rule checked; the errors in file order of the parts checked. Parts that need
/// others (a group's source binding needs the sources) are checked once those are good,
/// so one mistake is not reported again as its consequences.
pub(super) fn config(file: ConfigFile, origin: &str, config_dir: &Path) -> Result<Config, Vec<Invalid>> {
    let root = KeyPath::root();
    let groups_path = root.key("groups");
    if file.groups.is_empty() {
        return Err(vec![Invalid::new(
            groups_path,
            "no groups: add at least one [[groups]] table (name, instance_type, hourly_cost_usd, min, max)"
                .to_string(),
        )]);
    }
    let mut errors = Vec::new();
    let mut groups = Vec::with_capacity(file.groups.len());
    let mut sim_tables = Vec::with_capacity(file.groups.len());
    let mut notifier_lists = Vec::with_capacity(file.groups.len());
    let mut first_index_of: HashMap<String, usize> = HashMap::new();
    for (index, group_file) in file.groups.into_iter().enumerate() {
        let at = groups_path.index(index);
        let has_notifiers = group_file.notifiers.is_some();
        let Some((group, sim_table)) = keep(&mut errors, group(group_file, &at, config_dir)) else {
            continue;
        };
        if let Some(first) = first_index_of.insert(group.spec.name.clone(), index) {
            errors.push(Invalid::new(
                at.key("name"),
                format!("duplicate group name `{}` (also groups[{first}].name)", group.spec.name),
            ));
            continue;
        }
        notifier_lists.push(has_notifiers);
        sim_tables.push(sim_table);
        groups.push((at, group));
    }

    let top_poll = file.poll_interval.and_then(|d| {
        let path = root.key("poll_interval");
        keep(&mut errors, positive_duration(&path, d.0).and_then(|d| at_most(&path, d, MAX_POLL_INTERVAL)))
    });
    let top_stale = match (file.stale_after, top_poll) {
        (Some(d), Some(poll)) => {
            keep(&mut errors, stale_limit(&root.key("stale_after"), d.0, poll, "poll_interval"))
        }
        (Some(d), None) => keep(&mut errors, at_most(&root.key("stale_after"), d.0, MAX_STALE_AFTER)),
        (None, _) => None,
    };
    let sources =
        keep(&mut errors, sources(file.sources, &root.key("sources"), top_poll, top_stale, config_dir));
    let actuators = keep(&mut errors, actuators(file.actuators, &root.key("actuators")));
    let notifiers =
        keep(&mut errors, super::notifiers::notifiers(file.notifiers, &root.key("notifiers"), config_dir));
    let call_timeout = match file.call_timeout {
        Some(d) => {
            let path = root.key("call_timeout");
            keep(&mut errors, positive_duration(&path, d.0).and_then(|d| at_most(&path, d, MAX_CALL_TIMEOUT)))
        }
        None => Some(DEFAULT_CALL_TIMEOUT),
    };
    let operator = match file.operator {
        Some(op) if op.name.trim().is_empty() => {
            errors.push(Invalid::new(
                root.key("operator").key("name"),
                "the operator name is empty".to_string(),
            ));
            None
        }
        Some(op) => Some(Operator { name: op.name, email: op.email, auth: None }),
        None => None,
    };
    let events_path = root.key("sim").key("events");
    let sim_events: Vec<ScheduledSimEvent> = file
        .sim
        .events
        .into_iter()
        .enumerate()
        .filter_map(|(index, e)| keep(&mut errors, event(e, &events_path.index(index), &first_index_of)))
        .collect();
    let fleet = match file.fleet {
        Some(name) if valid_fleet_name(&name) => name,
        Some(name) => {
            errors.push(Invalid::new(
                root.key("fleet"),
                format!(
                    "fleet name `{name}` must be letters, digits, `-`, `_` or `.` (it names a directory)"
                ),
            ));
            name
        }
        None => default_fleet_name(origin),
    };
    let (Some(sources), Some(actuators), Some(notifiers), Some(call_timeout)) =
        (sources, actuators, notifiers, call_timeout)
    else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }

    // What needs the parts above: each group's bindings, then the timings that follow
    // from the sources' polls.
    for ((at, group), (sim_table, has_notifiers)) in
        groups.iter_mut().zip(sim_tables.into_iter().zip(notifier_lists))
    {
        if keep(&mut errors, bind(group, at, &sources, &actuators, sim_table)).is_none() {
            continue;
        }
        if !has_notifiers {
            group.notifiers = notifiers.iter().map(|n| n.name.clone()).collect();
            continue;
        }
        for (i, name) in group.notifiers.iter().enumerate() {
            if !notifiers.iter().any(|n| n.name == *name) {
                let declared: Vec<&str> = notifiers.iter().map(|n| n.name.as_str()).collect();
                let declared =
                    if declared.is_empty() { "none declared".to_string() } else { declared.join(", ") };
                errors.push(Invalid::new(
                    at.key("notifiers").index(i),
                    format!("no notifier named `{name}` (notifiers: {declared})"),
                ));
            }
        }
    }
    let groups: Vec<GroupConfig> = groups.into_iter().map(|(_, group)| group).collect();
    // Only connections some group uses are kept (and built).
    let sources: Vec<SourceConfig> =
        sources.into_iter().filter(|s| groups.iter().any(|g| g.spec.source == s.name)).collect();
    let actuators: Vec<ActuatorConfig> =
        actuators.into_iter().filter(|a| groups.iter().any(|g| g.spec.actuator == a.name)).collect();
    // The engine ticks at its fastest source's interval; every source polls on its own.
    let poll_interval = sources.iter().map(|s| s.poll_interval).min().unwrap_or(SIM_POLL_INTERVAL);
    let slowest_poll = sources.iter().map(|s| s.poll_interval).max().unwrap_or(poll_interval);
    // At most 3 h, as poll_interval is at most 1 h.
    let stale_after = top_stale.unwrap_or(poll_interval.saturating_mul(STALE_AFTER_POLLS));
    let max_backoff = match file.max_backoff {
        Some(d) if d.0 < poll_interval => {
            errors.push(Invalid::new(
                root.key("max_backoff"),
                format!(
                    "max_backoff ({}) is shorter than poll_interval ({}): a failing backend is retried \
                     no faster than it is polled",
                    format_duration(d.0),
                    format_duration(poll_interval)
                ),
            ));
            d.0
        }
        Some(d) => d.0,
        None => DEFAULT_MAX_BACKOFF.max(slowest_poll),
    };
    let lease_store = file.lease.as_ref().and_then(|l| l.store).unwrap_or_default();
    let lease = keep(&mut errors, lease(file.lease, &root.key("lease"), poll_interval, call_timeout));
    let Some((lease_ttl, lease_skew_margin)) = lease.filter(|_| errors.is_empty()) else {
        return Err(errors);
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
        lease_store,
        sources,
        actuators,
        notifiers,
        breaker: file.breaker.unwrap_or_default(),
        seed: file.seed.unwrap_or(DEFAULT_SEED),
        operator,
        groups,
        sim_events,
    })
}

/// A staleness limit: at least the poll interval it is judged against (else every series
/// would be stale between two polls), at most [`MAX_STALE_AFTER`].
fn stale_limit(path: &KeyPath, stale: Duration, poll: Duration, poll_key: &str) -> Result<Duration, Invalid> {
    if stale < poll {
        return Err(Invalid::new(
            path.clone(),
            format!(
                "stale_after ({}) is shorter than {poll_key} ({}): every series would be stale between two polls",
                format_duration(stale),
                format_duration(poll)
            ),
        ));
    }
    at_most(path, stale, MAX_STALE_AFTER)
}

/// How a source kind publishes: the period its datapoints aggregate over and how late
/// they arrive. The simulator publishes each second's state at once. (CloudWatch's 60 s
/// periods arrive 1–2 minutes late: its kind will say 60 s and 120 s.)
fn publication(kind: SourceKind) -> (Duration, Duration) {
    match kind {
        SourceKind::Sim => (Duration::ZERO, Duration::ZERO),
        // An instant query reads the newest scrape, up to one scrape interval old.
        SourceKind::Prometheus => (Duration::ZERO, PROMETHEUS_SCRAPE_INTERVAL),
    }
}

/// How often a kind is polled when nothing says: a simulator is free to poll, so the demo
/// can be lively; real backends are scraped every 15 s or slower.
fn default_poll(kind: SourceKind) -> Duration {
    match kind {
        SourceKind::Sim => SIM_POLL_INTERVAL,
        SourceKind::Prometheus => PROMETHEUS_SCRAPE_INTERVAL,
    }
}

/// The scrape interval most Prometheus setups use (kube-prometheus's default is 30 s,
/// dcgm-exporter's ServiceMonitor 15 s): polling faster reads the same samples again.
const PROMETHEUS_SCRAPE_INTERVAL: Duration = Duration::from_secs(15);

/// Connection names, like group names, appear in messages and commands: no spaces.
pub(super) fn connection_name(path: &KeyPath, name: &str) -> Result<(), Invalid> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
        Ok(())
    } else {
        Err(Invalid::at_key(
            path.clone(),
            format!("connection name `{name}` must be letters, digits, `-` or `_` (e.g. `prom-us-east`)"),
        ))
    }
}

/// `[sources.NAME]` tables, plus the built-in `sim` connection unless one is declared.
/// Each polls at its own `poll_interval` (default: the top-level one, else its kind's)
/// and calls a series stale after its own `stale_after` (default: the top-level one,
/// else the larger of three polls and period + publication lag + one poll).
fn sources(
    files: BTreeMap<String, SourceFile>,
    at: &KeyPath,
    top_poll: Option<Duration>,
    top_stale: Option<Duration>,
    config_dir: &Path,
) -> Result<Vec<SourceConfig>, Invalid> {
    let mut out = Vec::with_capacity(files.len() + 1);
    for (name, mut file) in files {
        let path = at.key(&name);
        connection_name(&path, &name)?;
        let prometheus = super::prometheus::source_keys(&path, &mut file, config_dir)?;
        let poll_interval = match file.poll_interval {
            Some(d) => {
                let key = path.key("poll_interval");
                at_most(&key, positive_duration(&key, d.0)?, MAX_POLL_INTERVAL)?
            }
            None => top_poll.unwrap_or(default_poll(file.kind)),
        };
        let stale_after = match (file.stale_after, top_stale) {
            (Some(d), _) => stale_limit(&path.key("stale_after"), d.0, poll_interval, "its poll_interval")?,
            (None, Some(top)) => {
                let poll_key = format!("sources.{name}.poll_interval");
                stale_limit(&KeyPath::root().key("stale_after"), top, poll_interval, &poll_key)?
            }
            (None, None) => default_stale(file.kind, poll_interval),
        };
        out.push(SourceConfig { name, kind: file.kind, poll_interval, stale_after, prometheus });
    }
    if !out.iter().any(|s| s.name == SIM) {
        let poll_interval = top_poll.unwrap_or(SIM_POLL_INTERVAL);
        let stale_after = top_stale.unwrap_or_else(|| default_stale(SourceKind::Sim, poll_interval));
        out.push(SourceConfig {
            name: SIM.to_string(),
            kind: SourceKind::Sim,
            poll_interval,
            stale_after,
            prometheus: None,
        });
    }
    Ok(out)
}

/// DESIGN.md's stale rule (three polls), stretched for sources that publish late: a
/// datapoint is complete a period after it starts, arrives a lag later and is read at
/// the next poll, so anything shorter would call every such series stale.
fn default_stale(kind: SourceKind, poll_interval: Duration) -> Duration {
    let (period, lag) = publication(kind);
    let late = period.saturating_add(lag).saturating_add(poll_interval);
    poll_interval.saturating_mul(STALE_AFTER_POLLS).max(late).min(MAX_STALE_AFTER)
}

/// The most calls one actuator connection may have in flight.
const MAX_CONCURRENCY: u32 = 64;
const DEFAULT_CONCURRENCY: usize = 8;

/// `[actuators.NAME]` tables, plus the built-in `sim` connection unless one is declared.
fn actuators(files: BTreeMap<String, ActuatorFile>, at: &KeyPath) -> Result<Vec<ActuatorConfig>, Invalid> {
    let mut out = Vec::with_capacity(files.len() + 1);
    for (name, file) in files {
        let path = at.key(&name);
        connection_name(&path, &name)?;
        let max_concurrency = match file.max_concurrency {
            Some(n) if n == 0 || n > MAX_CONCURRENCY => {
                return Err(Invalid::new(
                    path.key("max_concurrency"),
                    format!("max_concurrency must be from 1 to {MAX_CONCURRENCY}, got {n}"),
                ));
            }
            Some(n) => n as usize,
            None => DEFAULT_CONCURRENCY,
        };
        let url = match (file.kind, file.url) {
            (ActuatorKind::Sim, Some(_)) => {
                return Err(Invalid::at_key(
                    path.key("url"),
                    "`url` is for kind = \"sim-http\"; the built-in simulator runs in this process"
                        .to_string(),
                ));
            }
            (ActuatorKind::Sim, None) => None,
            (ActuatorKind::SimHttp, Some(url)) => Some(http_url(&path.key("url"), &url)?),
            (ActuatorKind::SimHttp, None) => {
                return Err(Invalid::at_key(
                    path.clone(),
                    "kind = \"sim-http\" needs `url`, the control API of `fleetdeck sim serve` (e.g. \"http://127.0.0.1:9400\")"
                        .to_string(),
                ));
            }
        };
        out.push(ActuatorConfig { name, kind: file.kind, max_concurrency, url });
    }
    if !out.iter().any(|a| a.name == SIM) {
        out.push(ActuatorConfig {
            name: SIM.to_string(),
            kind: ActuatorKind::Sim,
            max_concurrency: DEFAULT_CONCURRENCY,
            url: None,
        });
    }
    Ok(out)
}

/// An `http://` or `https://` URL, without a trailing slash.
pub(super) fn http_url(path: &KeyPath, url: &str) -> Result<String, Invalid> {
    let trimmed = url.trim_end_matches('/');
    let host = trimmed.strip_prefix("http://").or_else(|| trimmed.strip_prefix("https://"));
    match host {
        Some(rest) if !rest.is_empty() => Ok(trimmed.to_string()),
        _ => Err(Invalid::new(path.clone(), format!("`{url}` is not an http:// or https:// URL"))),
    }
}

/// A secret written in the config as its value: refused, naming the keys to use.
pub(super) fn refuse_inline(path: &KeyPath, key: &str, present: bool) -> Result<(), Invalid> {
    if !present {
        return Ok(());
    }
    Err(Invalid::at_key(
        path.clone(),
        format!(
            "secrets are never written in the config: use `{key}_env = \"VARIABLE\"` or `{key}_file = \"PATH\"`"
        ),
    ))
}

/// The secret of `{key}_env` (a variable's name) or `{key}_file` (a path, relative to the
/// config's directory), never both; None when neither is given.
pub(super) fn secret(
    at: &KeyPath,
    key: &str,
    env: Option<String>,
    file: Option<String>,
    config_dir: &Path,
) -> Result<Option<Secret>, Invalid> {
    match (env, file) {
        (Some(_), Some(_)) => Err(Invalid::at_key(
            at.key(&format!("{key}_file")),
            format!("give `{key}_env` or `{key}_file`, not both"),
        )),
        (Some(var), None) if var.trim().is_empty() => {
            Err(Invalid::new(at.key(&format!("{key}_env")), "the variable's name is empty".to_string()))
        }
        (None, Some(file)) if file.trim().is_empty() => {
            Err(Invalid::new(at.key(&format!("{key}_file")), "the path is empty".to_string()))
        }
        (Some(var), None) => Ok(Some(Secret::Env(var))),
        (None, Some(file)) => Ok(Some(Secret::File(config_dir.join(file)))),
        (None, None) => Ok(None),
    }
}

/// Checks a group's `source` and `actuator` name declared connections, and gives a
/// simulated group its `[groups.sim]` (written or default). A simulated group is one
/// whose source is a simulator: its capacity is then the simulator's too, so its
/// actuator must be one; `[groups.sim]` belongs to simulated groups only.
fn bind(
    group: &mut GroupConfig,
    at: &KeyPath,
    sources: &[SourceConfig],
    actuators: &[ActuatorConfig],
    sim_table: Option<SimGroupSpec>,
) -> Result<(), Invalid> {
    let spec = &group.spec;
    let names = |names: Vec<&str>| names.join(", ");
    let Some(source) = sources.iter().find(|s| s.name == spec.source) else {
        return Err(Invalid::new(
            at.key("source"),
            format!(
                "no source named `{}` (sources: {}); declare it as [sources.{}]",
                spec.source,
                names(sources.iter().map(|s| s.name.as_str()).collect()),
                spec.source
            ),
        ));
    };
    let Some(actuator) = actuators.iter().find(|a| a.name == spec.actuator) else {
        return Err(Invalid::new(
            at.key("actuator"),
            format!(
                "no actuator named `{}` (actuators: {}); declare it as [actuators.{}]",
                spec.actuator,
                names(actuators.iter().map(|a| a.name.as_str()).collect()),
                spec.actuator
            ),
        ));
    };
    let simulated = source.kind == SourceKind::Sim;
    if simulated != (actuator.kind == ActuatorKind::Sim) {
        return Err(Invalid::new(
            at.key("actuator"),
            format!(
                "source `{}` and actuator `{}` must both be simulators or both be real: the simulator \
                 reports the capacity it is asked for",
                source.name, actuator.name
            ),
        ));
    }
    group.sim = match sim_table {
        Some(sim) if simulated => Some(sim),
        None if simulated => Some(SimGroupSpec::default()),
        Some(_) => {
            return Err(Invalid::at_key(
                at.key("sim"),
                format!(
                    "[groups.sim] is for simulated groups; this group's source `{}` is not a simulator",
                    source.name
                ),
            ));
        }
        None => None,
    };
    if group.prometheus.is_some() && source.kind != SourceKind::Prometheus {
        return Err(Invalid::at_key(
            at.key("prometheus"),
            format!(
                "[groups.prometheus] is for groups read from a Prometheus source; this group's source `{}` is not one",
                source.name
            ),
        ));
    }
    Ok(())
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

/// One group as written; its `[groups.sim]` table (parsed, if written) comes back beside
/// it, for `bind` to accept or refuse once the group's source is known.
fn group(
    file: GroupFile,
    at: &KeyPath,
    config_dir: &Path,
) -> Result<(GroupConfig, Option<SimGroupSpec>), Invalid> {
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
    if let Some(hard_max) = file.hard_max.filter(|&h| h < max) {
        return Err(Invalid::new(
            at.key("hard_max"),
            format!(
                "hard_max ({hard_max}) is below max ({max}): it caps holds beyond max, so it is at least max"
            ),
        ));
    }
    let hard_max = file.hard_max;
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
    let sim = file.sim.map(|sim| group_sim(sim, &at.key("sim"), config_dir)).transpose()?;
    let prometheus =
        file.prometheus.map(|p| super::prometheus::group_table(p, &at.key("prometheus"))).transpose()?;
    let policy = file.policy.unwrap_or_default();
    super::policy::alarms(&file.alarms, &at.key("alarms"))?;
    super::policy::policy(&policy, &file.alarms, &at.key("policy"))?;
    let spec = GroupSpec {
        name,
        source: file.source.unwrap_or_else(|| SIM.to_string()),
        actuator: file.actuator.unwrap_or_else(|| SIM.to_string()),
        min,
        max,
        hard_max,
        desired,
        instance_type: file.instance_type,
        hourly_cost_usd,
        warmup,
        serving: file.serving.unwrap_or_default(),
        slo_p95,
    };
    let config = GroupConfig {
        spec,
        sim: None,
        policy,
        alarms: file.alarms,
        prometheus,
        notifiers: file.notifiers.unwrap_or_default(),
        shadow: file.shadow.unwrap_or(false),
    };
    Ok((config, sim))
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
