//! The `sim-http` actuator: a `fleetdeck sim serve` process driven through its control
//! API ([`crate::sim_serve::api`]), as the AWS and Kubernetes actuators drive theirs.
//! Another process, so it needs the lease like any real backend; its pause marker is
//! kept by `sim serve` and seen by every engine that observes it.

use futures::future::BoxFuture;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::http::{self, HttpOptions};
use crate::actuators::{Actuator, Observation, TargetBounds};
use crate::clock::Clock;
use crate::model::{BackendError, GroupSpec};
use crate::sim_serve::api::{ApiError, GroupView, SetDesired, SetMarker};
use std::sync::Arc;

pub struct SimHttpActuator {
    name: String,
    base: String,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl SimHttpActuator {
    /// `base`: the control API's URL, e.g. `http://127.0.0.1:9400`.
    pub fn new(name: &str, base: &str, options: &HttpOptions, clock: Arc<dyn Clock>) -> Result<Self, String> {
        Ok(SimHttpActuator {
            name: name.to_string(),
            base: base.trim_end_matches('/').to_string(),
            client: http::client(options)?,
            clock,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<T, BackendError> {
        let what = format!("{method} {path}");
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| http::send_error(&what, &e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| http::send_error(&what, &e))?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<ApiError>(&bytes)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(http::status_error(&what, status, &headers, &detail, self.clock.now()));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| BackendError::transient(format!("{what}: not a sim serve answer: {e}")))
    }

    fn group_path(group: &GroupSpec, rest: &str) -> String {
        format!("/v1/groups/{}{rest}", group.name)
    }
}

/// `:sim` incidents sent to a `sim serve` process (`POST /v1/sim`), for a fleet whose
/// simulator runs there rather than in this engine.
#[derive(Clone)]
pub struct SimHttpControl {
    actuator: Arc<SimHttpActuator>,
}

impl SimHttpControl {
    pub fn new(actuator: Arc<SimHttpActuator>) -> Self {
        SimHttpControl { actuator }
    }

    /// Applies an incident; what `sim serve` says it did.
    pub async fn apply(&self, command: &crate::protocol::SimCommand) -> Result<String, BackendError> {
        let body = crate::sim_serve::api::SimRequest { command: command.to_string() };
        let done: crate::sim_serve::api::Message =
            self.actuator.call(Method::POST, "/v1/sim", Some(&body)).await?;
        Ok(done.message)
    }
}

fn observation(view: GroupView) -> Observation {
    Observation {
        capacity: view.capacity,
        bounds: Some(TargetBounds { min: 0, max: view.max }),
        marker: view.marker,
        warnings: Vec::new(),
    }
}

impl Actuator for SimHttpActuator {
    fn name(&self) -> &str {
        &self.name
    }

    fn observe<'a>(&'a self, group: &'a GroupSpec) -> BoxFuture<'a, Result<Observation, BackendError>> {
        Box::pin(async move {
            let view: GroupView = self.call(Method::GET, &Self::group_path(group, ""), None::<&()>).await?;
            Ok(observation(view))
        })
    }

    fn set_desired<'a>(
        &'a self,
        group: &'a GroupSpec,
        desired: u32,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let path = Self::group_path(group, "/desired");
            let _: GroupView = self.call(Method::PUT, &path, Some(&SetDesired { desired })).await?;
            Ok(())
        })
    }

    fn write_marker<'a>(
        &'a self,
        group: &'a GroupSpec,
        marker: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(async move {
            let body = SetMarker { marker: marker.map(str::to_string) };
            let _: GroupView =
                self.call(Method::PUT, &Self::group_path(group, "/marker"), Some(&body)).await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::model::ErrorKind;
    use std::time::Duration;

    async fn served() -> (SimHttpActuator, tokio::sync::oneshot::Sender<()>) {
        let fast = include_str!("../../tests/fixtures/fast.toml");
        let (bound, stop) = crate::sim_serve::serve_for_test(fast, false).await;
        let options = HttpOptions::within(Duration::from_secs(10));
        let base = format!("http://{}/", bound.control);
        (SimHttpActuator::new("sim-http", &base, &options, Arc::new(SystemClock)).unwrap(), stop)
    }

    fn group(name: &str) -> GroupSpec {
        let config =
            crate::config::parse(include_str!("../../tests/fixtures/fast.toml"), "fast.toml").unwrap();
        let mut spec = config.groups[0].spec.clone();
        spec.name = name.to_string();
        spec
    }

    #[tokio::test]
    async fn observes_scales_and_marks_through_the_control_api() {
        let (actuator, _stop) = served().await;
        let observed = actuator.observe(&group("llm-chat")).await.unwrap();
        assert_eq!((observed.capacity.desired, observed.capacity.ready), (4, 4));
        assert_eq!(observed.bounds.map(|b| b.min), Some(0));
        actuator.set_desired(&group("llm-chat"), 6).await.unwrap();
        actuator.write_marker(&group("llm-chat"), Some("v1;full;ana;;INC-1")).await.unwrap();
        let observed = actuator.observe(&group("llm-chat")).await.unwrap();
        assert_eq!((observed.capacity.desired, observed.capacity.warming), (6, 2));
        assert_eq!(observed.marker.as_deref(), Some("v1;full;ana;;INC-1"));
    }

    #[tokio::test]
    async fn an_unknown_group_is_not_found_and_a_refused_count_says_why() {
        let (actuator, _stop) = served().await;
        let err = actuator.observe(&group("nosuch")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(err.message.contains("no group named `nosuch`"), "{}", err.message);
        let err = actuator.set_desired(&group("llm-chat"), 1_000_000).await.unwrap_err();
        assert!(err.message.contains("at most 100000"), "{}", err.message);
    }

    #[tokio::test]
    async fn no_sim_serve_listening_is_a_transient_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = HttpOptions::within(Duration::from_secs(5));
        let actuator = SimHttpActuator::new(
            "sim-http",
            &format!("http://127.0.0.1:{port}"),
            &options,
            Arc::new(SystemClock),
        )
        .unwrap();
        let err = actuator.observe(&group("llm-chat")).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(err.message.starts_with("GET /v1/groups/llm-chat: cannot connect"), "{}", err.message);
    }
}
