//! `fleetdeck sim serve`: the simulated fleet as a process of its own, so the whole loop
//! can run through real peers (a real Prometheus scraping it, fleetdeck reading that
//! Prometheus and scaling through the control API).
//!
//! Three listeners, as in a cluster where dcgm-exporter and the model servers are
//! separate processes (two scrape jobs, each with its own `up`):
//! - the GPU page (`/metrics`, dcgm-exporter's names and labels),
//! - the serving page (`/metrics`, vLLM's and Triton's), which `PUT /v1/serving`
//!   can take down while the GPU page goes on (a crashed server behind a live exporter),
//! - the control API ([`api`]): observe capacity, set desired, the pause marker, `:sim`
//!   incidents, in-place restarts (counter resets).
//!
//! The fleet and its [`roster`] advance once a second on the machine's clock; the pages
//! are written from what the last advance left. Nothing here decides anything.

pub mod api;
mod control;
pub mod exposition;
pub mod roster;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Config;
use crate::model::Timestamp;
use crate::sim::SimFleet;
use roster::GroupRoster;

/// How often the fleet and its counters advance.
pub const UPDATE_EVERY: Duration = Duration::from_secs(1);

/// Where `sim serve` listens and what it exposes.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The control API.
    pub listen: SocketAddr,
    /// The GPU page; default: `listen`'s port + 1 (any free port when that is 0).
    pub gpu_listen: Option<SocketAddr>,
    /// The serving page; default: `listen`'s port + 2 (any free port when that is 0).
    pub serving_listen: Option<SocketAddr>,
    /// Triton's latency summaries, as its `--metrics-config summary_latencies=true`.
    pub triton_summaries: bool,
    pub seed: u64,
}

/// The addresses actually bound (port 0 picks one), printed as the first line.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Bound {
    pub control: SocketAddr,
    pub gpu: SocketAddr,
    pub serving: SocketAddr,
}

/// The fleet, its instances, and whether the serving listener is up.
pub(crate) struct State {
    pub fleet: SimFleet,
    pub rosters: Vec<GroupRoster>,
    /// Per group, the simulator's service time, seconds (for the latency distribution).
    service_times: Vec<f64>,
    last_update: Timestamp,
    pub serving_up: bool,
}

impl State {
    pub fn new(config: &Config, seed: u64, start: Timestamp) -> Self {
        let groups = config.sim_groups();
        let mut fleet = SimFleet::new(&groups, seed, start);
        for event in &config.sim_events {
            fleet.schedule(start.plus(event.at), event.command.clone());
        }
        let rosters = groups
            .iter()
            .map(|(spec, _)| GroupRoster::new(&spec.name, spec.serving, &spec.instance_type, seed))
            .collect();
        let service_times = groups.iter().map(|(_, sim)| sim.service_time.as_secs_f64()).collect();
        let mut state = State { fleet, rosters, service_times, last_update: start, serving_up: true };
        state.update(start);
        state
    }

    /// Runs the fleet to `now` and the instances' counters with it.
    pub fn update(&mut self, now: Timestamp) {
        self.fleet.advance_to(now);
        let dt_s = now.since(self.last_update).as_secs_f64();
        self.last_update = self.last_update.max(now);
        for (roster, service_s) in self.rosters.iter_mut().zip(&self.service_times) {
            let name = roster.name.clone();
            let (Ok(samples), Ok((state, capacity))) =
                (self.fleet.sample(&name), self.fleet.state_and_capacity(&name))
            else {
                continue;
            };
            roster.update(&capacity, &samples, &state, *service_s, dt_s);
        }
    }

    pub fn roster_mut(&mut self, group: &str) -> Option<&mut GroupRoster> {
        self.rosters.iter_mut().find(|r| r.name == group)
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state; a panic elsewhere left it as it was, which is still a fleet.
pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The port after `addr`'s, on the same host; 0 stays 0.
fn next_port(addr: SocketAddr, by: u16) -> SocketAddr {
    let port = if addr.port() == 0 { 0 } else { addr.port().saturating_add(by) };
    SocketAddr::new(addr.ip(), port)
}

/// Binds the three listeners, reports them through `bound`, and serves until `shutdown`.
pub async fn serve(
    config: &Config,
    options: ServeOptions,
    clock: Arc<dyn Clock>,
    bound: impl FnOnce(Bound),
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let control = tokio::net::TcpListener::bind(options.listen).await?;
    let gpu =
        tokio::net::TcpListener::bind(options.gpu_listen.unwrap_or(next_port(options.listen, 1))).await?;
    let serving =
        tokio::net::TcpListener::bind(options.serving_listen.unwrap_or(next_port(options.listen, 2))).await?;
    let addrs =
        Bound { control: control.local_addr()?, gpu: gpu.local_addr()?, serving: serving.local_addr()? };
    let state: Shared = Arc::new(Mutex::new(State::new(config, options.seed, clock.now())));
    bound(addrs);

    let updater = {
        let (state, clock) = (state.clone(), clock.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPDATE_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                lock(&state).update(clock.now());
            }
        })
    };
    let gpu_task = tokio::spawn(axum::serve(gpu, control::gpu_router(state.clone())).into_future());
    let serving_listener = control::ServingListener::start(serving, state.clone(), options.triton_summaries);
    let router = control::control_router(state.clone(), serving_listener, clock);
    tokio::select! {
        result = axum::serve(control, router).into_future() => result?,
        _ = shutdown => {}
    }
    updater.abort();
    gpu_task.abort();
    Ok(())
}

/// Serves `config_text`'s simulated groups on free ports of 127.0.0.1 until the returned
/// sender is dropped (tests of the pages, the control API and its clients).
#[cfg(test)]
pub(crate) async fn serve_for_test(
    config_text: &str,
    summaries: bool,
) -> (Bound, tokio::sync::oneshot::Sender<()>) {
    let config = crate::config::parse(config_text, "test.toml").expect("a valid test config");
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        listen: "127.0.0.1:0".parse().expect("an address"),
        gpu_listen: None,
        serving_listen: None,
        triton_summaries: summaries,
        seed: 7,
    };
    tokio::spawn(async move {
        let stop = async move {
            let _ = stop_rx.await;
        };
        let bound = |b| {
            let _ = bound_tx.send(b);
        };
        serve(&config, options, Arc::new(crate::clock::SystemClock), bound, stop).await
    });
    (bound_rx.await.expect("sim serve binds its listeners"), stop_tx)
}

#[cfg(test)]
mod tests;
