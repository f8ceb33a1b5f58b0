//! The control API of `sim serve`, as JSON over HTTP: what the `sim-http` actuator and
//! tests send and read. Errors are `{"error": "..."}` with 400 (a bad request), 404 (no
//! such group) or 409 (the simulator refuses the value).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /v1/groups` | | `[GroupView]` |
//! | `GET /v1/groups/{group}` | | `GroupView` |
//! | `PUT /v1/groups/{group}/desired` | `{"desired": N}` | `GroupView` |
//! | `PUT /v1/groups/{group}/marker` | `{"marker": "..."}` or `{"marker": null}` | `GroupView` |
//! | `POST /v1/groups/{group}/restart` | `{"instances": N}` | `Message` |
//! | `PUT /v1/groups/{group}/exporters` | `{"down": N}`: the first N instances' GPU exporters down | `Message` |
//! | `POST /v1/sim` | `{"command": "spike llm-chat x5 2m"}` | `Message` |
//! | `PUT /v1/serving` | `{"up": false}` | `Message` |
//! | `GET /healthz` | | `ok` |

use serde::{Deserialize, Serialize};

use crate::model::Capacity;

/// A group as the control API shows it: its capacity (stamped with the simulator's time)
/// and the pause marker on it, as an ASG shows its counts and tags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    pub name: String,
    pub capacity: Capacity,
    /// The most instances the simulator launches for a group.
    pub max: u32,
    pub marker: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetDesired {
    pub desired: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetMarker {
    pub marker: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Restart {
    pub instances: u32,
}

/// How many of a group's instances have their node's GPU exporter down (0: all up).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportersDown {
    pub down: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimRequest {
    /// A `:sim` command without its `:sim` (`spike GROUP xFACTOR DURATION`, …).
    pub command: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetServing {
    pub up: bool,
}

/// What was done, in words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
