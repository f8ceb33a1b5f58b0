//! The HTTP side of `sim serve`: the two metric pages and the control API's routes
//! ([`super::api`] documents them).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State as With};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};

use super::api::{
    ApiError, ExportersDown, GroupView, Message, Restart, SetDesired, SetMarker, SetServing, SimRequest,
};
use super::roster::GroupRoster;
use super::{Shared, State, exposition, lock};
use crate::clock::Clock;
use crate::model::marker::MAX_MARKER_LEN;
use crate::protocol::SimCommand;
use crate::sim::{MAX_INSTANCES_PER_GROUP, SimError};

/// The text format's content type, as the exporters send it.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn page(text: String) -> Response {
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], text).into_response()
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(ApiError { error: error.into() })).into_response()
}

fn sim_refusal(err: SimError) -> Response {
    let status = match err {
        SimError::UnknownGroup(_) => StatusCode::NOT_FOUND,
        SimError::TooManyInstances { .. } => StatusCode::CONFLICT,
        SimError::InvalidCommand(_) => StatusCode::BAD_REQUEST,
    };
    refuse(status, err.to_string())
}

/// The GPU listener's routes: `/metrics` as dcgm-exporter serves it.
pub(super) fn gpu_router(state: Shared) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|With(state): With<Shared>| async move { page(exposition::gpu_page(&lock(&state).rosters)) }),
        )
        .with_state(state)
}

fn serving_router(state: Shared, summaries: bool) -> Router {
    let metrics = move |With(state): With<Shared>| async move {
        let state = lock(&state);
        // Connections already open when the server was taken down still get an answer:
        // an error, as a dying server gives, so their scrape fails too.
        if !state.serving_up {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "the serving listener is down");
        }
        page(exposition::serving_page(&state.rosters, summaries))
    };
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// The serving listener, which the control API stops (connections refused) and starts
/// again on the same address.
pub(super) struct ServingListener {
    addr: SocketAddr,
    state: Shared,
    summaries: bool,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ServingListener {
    pub(super) fn start(
        listener: tokio::net::TcpListener,
        state: Shared,
        summaries: bool,
    ) -> Arc<Mutex<Self>> {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let mut this = ServingListener { addr, state, summaries, task: None };
        this.spawn(listener);
        Arc::new(Mutex::new(this))
    }

    fn spawn(&mut self, listener: tokio::net::TcpListener) {
        let router = serving_router(self.state.clone(), self.summaries);
        self.task = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        }));
        lock(&self.state).serving_up = true;
    }

    async fn set(this: &Mutex<Self>, up: bool) -> Result<String, String> {
        let (addr, running) = {
            let this = this.lock().unwrap_or_else(|p| p.into_inner());
            (this.addr, this.task.is_some())
        };
        match (up, running) {
            (true, true) => Ok(format!("the serving listener is already up on {addr}")),
            (false, false) => Ok("the serving listener is already down".into()),
            (false, true) => {
                let mut this = this.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(task) = this.task.take() {
                    task.abort();
                }
                lock(&this.state).serving_up = false;
                Ok(format!("the serving listener on {addr} is down (the GPU page goes on)"))
            }
            (true, false) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("binding the serving listener again on {addr}: {e}"))?;
                this.lock().unwrap_or_else(|p| p.into_inner()).spawn(listener);
                Ok(format!("the serving listener is up again on {addr}"))
            }
        }
    }
}

#[derive(Clone)]
struct Control {
    state: Shared,
    serving: Arc<Mutex<ServingListener>>,
    clock: Arc<dyn Clock>,
}

impl Control {
    /// The state, run forward to now, so an answer is never older than the request.
    fn current(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = lock(&self.state);
        state.update(self.clock.now());
        state
    }
}

fn view(state: &State, group: &str) -> Result<GroupView, SimError> {
    Ok(GroupView {
        name: group.to_string(),
        capacity: state.fleet.capacity(group)?,
        max: MAX_INSTANCES_PER_GROUP,
        marker: state.fleet.marker(group)?.map(str::to_string),
    })
}

fn answer(result: Result<GroupView, SimError>) -> Response {
    match result {
        Ok(view) => Json(view).into_response(),
        Err(err) => sim_refusal(err),
    }
}

/// `change` made to a group's instances, answered with what it says was done; 404 for
/// no such group.
fn on_roster(c: &Control, group: String, change: impl FnOnce(&mut GroupRoster) -> String) -> Response {
    let mut state = c.current();
    match state.roster_mut(&group) {
        None => sim_refusal(SimError::UnknownGroup(group)),
        Some(roster) => Json(Message { message: change(roster) }).into_response(),
    }
}

pub(super) fn control_router(
    state: Shared,
    serving: Arc<Mutex<ServingListener>>,
    clock: Arc<dyn Clock>,
) -> Router {
    let groups = |With(c): With<Control>| async move {
        let state = c.current();
        let names: Vec<String> = state.fleet.group_names().map(str::to_string).collect();
        let views: Result<Vec<GroupView>, SimError> = names.iter().map(|g| view(&state, g)).collect();
        match views {
            Ok(views) => Json(views).into_response(),
            Err(err) => sim_refusal(err),
        }
    };
    let group =
        |With(c): With<Control>, Path(group): Path<String>| async move { answer(view(&c.current(), &group)) };
    let desired = |With(c): With<Control>, Path(group): Path<String>, Json(body): Json<SetDesired>| async move {
        let mut state = c.current();
        let result = state.fleet.set_desired(&group, body.desired);
        // The roster follows at once: the pages show the new instances on the next scrape.
        state.update(c.clock.now());
        answer(result.and_then(|()| view(&state, &group)))
    };
    let marker = |With(c): With<Control>, Path(group): Path<String>, Json(body): Json<SetMarker>| async move {
        if body.marker.as_ref().is_some_and(|m| m.len() > MAX_MARKER_LEN) {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("a marker is at most {MAX_MARKER_LEN} characters"),
            );
        }
        let mut state = c.current();
        answer(state.fleet.set_marker(&group, body.marker).and_then(|()| view(&state, &group)))
    };
    let restart = |With(c): With<Control>, Path(group): Path<String>, Json(body): Json<Restart>| async move {
        on_roster(&c, group, |roster| {
            let n = roster.restart(body.instances);
            format!("{}: {n} instances restarted in place (counters reset)", roster.name)
        })
    };
    let exporters = |With(c): With<Control>, Path(group): Path<String>, Json(body): Json<ExportersDown>| async move {
        on_roster(&c, group, |roster| {
            let n = roster.exporters_down(body.down);
            format!("{}: the GPU exporters of {n} instances down", roster.name)
        })
    };
    let sim = |With(c): With<Control>, Json(body): Json<SimRequest>| async move {
        let command: SimCommand = match body.command.parse() {
            Ok(command) => command,
            Err(err) => return refuse(StatusCode::BAD_REQUEST, err.to_string()),
        };
        let mut state = c.current();
        let result = state.fleet.apply(&command);
        state.update(c.clock.now());
        match result {
            Ok(message) => Json(Message { message }).into_response(),
            Err(err) => sim_refusal(err),
        }
    };
    let serving_switch = |With(c): With<Control>, Json(body): Json<SetServing>| async move {
        match ServingListener::set(&c.serving, body.up).await {
            Ok(message) => Json(Message { message }).into_response(),
            Err(error) => refuse(StatusCode::INTERNAL_SERVER_ERROR, error),
        }
    };
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/groups", get(groups))
        .route("/v1/groups/{group}", get(group))
        .route("/v1/groups/{group}/desired", put(desired))
        .route("/v1/groups/{group}/marker", put(marker))
        .route("/v1/groups/{group}/restart", post(restart))
        .route("/v1/groups/{group}/exporters", put(exporters))
        .route("/v1/sim", post(sim))
        .route("/v1/serving", put(serving_switch))
        .with_state(Control { state, serving, clock })
}
