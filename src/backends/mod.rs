//! The builder: turns a config's named connections (`[sources.NAME]`,
//! `[actuators.NAME]`) into the engine's [`Backends`] — one client per connection, built
//! once and shared by that connection's groups — and hands out what only some backends
//! can do (the simulator's [`SimControl`]). One folder per platform, each behind its Cargo
//! feature as it lands; the simulator is always built.
//!
//! This module translates configuration into objects. It decides nothing and polls
//! nothing: the engine does.

pub mod http;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod sim;
pub mod sim_http;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::actuators::Actuator;
use crate::alarms::AlarmRule;
use crate::clock::Clock;
use crate::config::Config;
use crate::model::{ActuatorKind, GroupSpec, SourceKind};
use crate::policy::PolicySpec;
use crate::sim::SimFleet;
use crate::sources::MetricSource;
pub use sim::{SharedFleet, SimActuator, SimControl, SimSource};

/// A metric source connection and how the engine polls it.
#[derive(Clone)]
pub struct SourceConnection {
    pub source: Arc<dyn MetricSource>,
    /// How often its groups are polled.
    pub poll_interval: Duration,
    /// A series of one of its groups is stale when its newest sample is older than this.
    pub stale_after: Duration,
}

/// An actuator connection and how many of its calls may be in flight at once.
#[derive(Clone)]
pub struct ActuatorConnection {
    pub actuator: Arc<dyn Actuator>,
    pub max_concurrency: usize,
}

/// A group, which connections serve it, and how it scales.
pub struct GroupBackends {
    pub spec: GroupSpec,
    /// Index into [`Backends::sources`].
    pub source: usize,
    /// Index into [`Backends::actuators`].
    pub actuator: usize,
    pub policy: PolicySpec,
    pub alarms: Vec<AlarmRule>,
    /// Decide and show, never act (the group's `shadow` config key).
    pub shadow: bool,
    /// The notifiers its pages are queued for; None: the engine's
    /// ([`EngineSettings::notifiers`](crate::engine::EngineSettings::notifiers)).
    pub notifiers: Option<Vec<String>>,
}

/// Everything the engine runs against.
pub struct Backends {
    pub sources: Vec<SourceConnection>,
    pub actuators: Vec<ActuatorConnection>,
    pub groups: Vec<GroupBackends>,
    /// The simulator's control, when some groups are simulated.
    pub sim: Option<SimControl>,
    /// Where `:sim` goes when the simulator runs in a `sim serve` process (the first
    /// `sim-http` actuator connection), and none runs here.
    pub sim_http: Option<sim_http::SimHttpControl>,
}

impl Backends {
    /// Groups served by one source and one actuator connection (tests, tools).
    pub fn single(
        source: SourceConnection,
        actuator: ActuatorConnection,
        groups: impl IntoIterator<Item = (GroupSpec, PolicySpec, Vec<AlarmRule>, bool)>,
    ) -> Self {
        let groups = groups
            .into_iter()
            .map(|(spec, policy, alarms, shadow)| GroupBackends {
                spec,
                source: 0,
                actuator: 0,
                policy,
                alarms,
                shadow,
                notifiers: None,
            })
            .collect();
        Backends { sources: vec![source], actuators: vec![actuator], groups, sim: None, sim_http: None }
    }
}

/// Builds every connection the config declares and its groups use: the simulated fleet
/// (from `seed`, starting now, with the config's scheduled incidents) when some groups
/// are simulated.
///
/// Connections no group uses are not built. Config validation has checked every
/// reference; what fails here is a connection's own setup (a CA file that cannot be
/// read), said with the connection's name.
pub fn build(config: &Config, seed: u64, clock: Arc<dyn Clock>) -> Result<Backends, String> {
    let sim_groups: Vec<_> =
        config.groups.iter().filter_map(|g| g.sim.clone().map(|sim| (g.spec.clone(), sim))).collect();
    let sim = (!sim_groups.is_empty()).then(|| {
        let start = clock.now();
        let mut fleet = SimFleet::new(&sim_groups, seed, start);
        for event in &config.sim_events {
            fleet.schedule(start.plus(event.at), event.command.clone());
        }
        SimControl::new(Arc::new(Mutex::new(fleet)))
    });
    let fleet = || sim.as_ref().map(|s| s.fleet().clone()).expect("a sim connection serves simulated groups");

    let mut backends = Backends {
        sources: Vec::new(),
        actuators: Vec::new(),
        groups: Vec::new(),
        sim: None,
        sim_http: None,
    };
    let mut source_index: HashMap<&str, usize> = HashMap::new();
    let mut actuator_index: HashMap<&str, usize> = HashMap::new();
    for group in &config.groups {
        let source = match source_index.get(group.spec.source.as_str()) {
            Some(&i) => i,
            None => {
                let conn =
                    config.source(&group.spec.source).expect("validated: the group's source is declared");
                let source: Arc<dyn MetricSource> = match conn.kind {
                    SourceKind::Sim => Arc::new(SimSource::new(&conn.name, fleet(), clock.clone())),
                    SourceKind::Prometheus => prometheus_source(conn, config, clock.clone())?,
                };
                backends.sources.push(SourceConnection {
                    source,
                    poll_interval: conn.poll_interval,
                    stale_after: conn.stale_after,
                });
                source_index.insert(&conn.name, backends.sources.len() - 1);
                backends.sources.len() - 1
            }
        };
        let actuator = match actuator_index.get(group.spec.actuator.as_str()) {
            Some(&i) => i,
            None => {
                let conn = config
                    .actuator(&group.spec.actuator)
                    .expect("validated: the group's actuator is declared");
                let actuator: Arc<dyn Actuator> = match conn.kind {
                    ActuatorKind::Sim => Arc::new(SimActuator::new(&conn.name, fleet(), clock.clone())),
                    ActuatorKind::SimHttp => {
                        let url = conn.url.as_deref().expect("validated: sim-http has a url");
                        let options = http::HttpOptions::within(config.call_timeout);
                        let actuator =
                            sim_http::SimHttpActuator::new(&conn.name, url, &options, clock.clone())
                                .map_err(|e| format!("actuator {}: {e}", conn.name))?;
                        let actuator = Arc::new(actuator);
                        backends
                            .sim_http
                            .get_or_insert_with(|| sim_http::SimHttpControl::new(actuator.clone()));
                        actuator
                    }
                };
                backends
                    .actuators
                    .push(ActuatorConnection { actuator, max_concurrency: conn.max_concurrency });
                actuator_index.insert(&conn.name, backends.actuators.len() - 1);
                backends.actuators.len() - 1
            }
        };
        backends.groups.push(GroupBackends {
            spec: group.spec.clone(),
            source,
            actuator,
            policy: group.policy.clone(),
            alarms: group.alarms.clone(),
            shadow: group.shadow,
            // Every declared notifier is the engine's own list (EngineSettings::from_config).
            notifiers: (!group.notifiers.iter().eq(config.notifiers.iter().map(|n| &n.name)))
                .then(|| group.notifiers.clone()),
        });
    }
    backends.sim = sim;
    Ok(backends)
}

/// A `prometheus` source connection, or why this build or its settings cannot make one.
#[cfg(feature = "prometheus")]
fn prometheus_source(
    conn: &crate::config::SourceConfig,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn MetricSource>, String> {
    let settings = conn.prometheus.as_ref().expect("validated: a prometheus source has its settings");
    let options = http::HttpOptions::within(config.call_timeout);
    let own = config
        .groups
        .iter()
        .filter(|g| g.spec.source == conn.name)
        .filter_map(|g| g.prometheus.clone().map(|p| (g.spec.name.clone(), p)))
        .collect();
    let source =
        prometheus::PrometheusSource::new(&conn.name, settings, own, conn.stale_after, &options, clock)
            .map_err(|e| format!("source {}: {e}", conn.name))?;
    Ok(Arc::new(source))
}

#[cfg(not(feature = "prometheus"))]
fn prometheus_source(
    conn: &crate::config::SourceConfig,
    _: &Config,
    _: Arc<dyn Clock>,
) -> Result<Arc<dyn MetricSource>, String> {
    Err(format!(
        "source {}: this build has no Prometheus source (built without the `prometheus` feature)",
        conn.name
    ))
}

#[cfg(test)]
mod tests;
