//! What [`decide`](super::decide()) reads: the group's remembered state ([`GroupState`]) and
//! this tick's observations ([`Inputs`]), plus the [`StateUpdates`] a decision hands back
//! for the engine to store before the next tick.
//!
//! These are also the input format of `fleetdeck decide FILE` (TOML or JSON), so they are
//! meant to be written by hand: defaults wherever one is sensible, durations as text
//! ("5m"), timestamps as milliseconds since the UNIX epoch. Nothing here reads a clock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::model::PauseMode;
use crate::model::{Capacity, MetricKind, MetricSample, Timestamp, duration_text};
use crate::policy::spec::{ActivityCause, AlarmInput, LoadProfile, PolicySpec, ScalingActivity};

/// A scaling group as the policy sees it: configuration, observed capacity, and the short
/// memory the rules need (recommendations for stabilization, activities for step limits,
/// operator holds and pauses, when a scale-out started waiting).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupState {
    pub name: String,
    pub min: u32,
    pub max: u32,
    /// The most a hold confirmed beyond max may reach; absent: twice max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_max: Option<u32>,
    /// Cost of one instance per hour; the budget cap divides by it.
    #[serde(default)]
    pub hourly_cost_usd: f64,
    /// The longest an instance takes from launch to serving; a scale-out still short of
    /// capacity after this long is stalled. Default 5 minutes.
    #[serde(default = "default_max_warmup", with = "duration_text")]
    pub max_warmup: Duration,
    #[serde(default)]
    pub policy: PolicySpec,
    pub capacity: Capacity,
    /// Past recommendations (before stabilization), oldest first; a run of equal ones is
    /// kept as its newest ([`remember_recommendation`]).
    #[serde(default)]
    pub recent_recommendations: Vec<Recommendation>,
    /// Past changes of desired capacity, oldest first.
    #[serde(default)]
    pub recent_activities: Vec<ScalingActivity>,
    #[serde(default)]
    pub hold: Option<Hold>,
    #[serde(default)]
    pub pause: Option<Pause>,
    /// When desired > ready + warming was first seen (None while capacity keeps up).
    #[serde(default)]
    pub scale_out_pending_since: Option<Timestamp>,
    /// The previous tick; scheduled actions fire in `(last_tick, now]`.
    #[serde(default)]
    pub last_tick: Option<Timestamp>,
}

fn default_max_warmup() -> Duration {
    Duration::from_secs(300)
}

/// One tick's recommendation, kept for the stabilization windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recommendation {
    pub at: Timestamp,
    pub desired: u32,
}

/// Adds `new` to `history` and drops what is not newer than `cutoff`. A run of equal
/// recommendations is kept as its newest tick: the stabilization windows ask only "the
/// highest (lowest) within `(now − window, now]`" and "any within it", which the newest
/// of a run answers as the whole run does for every `now` at or past it (ticks only move
/// forward). A steady group keeps one entry instead of a window's worth — 300 at a 1 s
/// poll and a 5-minute window, three quarters of each decision log line.
pub fn remember_recommendation(history: &mut Vec<Recommendation>, new: Recommendation, cutoff: Timestamp) {
    match history.last_mut() {
        Some(last) if last.desired == new.desired && last.at <= new.at => last.at = new.at,
        _ => history.push(new),
    }
    history.retain(|r| r.at > cutoff);
}

/// An operator's force-scale: desired is pinned to `desired` until `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    pub desired: u32,
    pub until: Timestamp,
    /// Confirmed twice: the effective max is raised to `desired` while the hold lasts.
    #[serde(default)]
    pub beyond_max: bool,
    pub by: String,
}

impl Hold {
    pub fn is_active(&self, now: Timestamp) -> bool {
        now < self.until
    }
}

pub use crate::model::Pause;

/// This tick's observations of one group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    /// The newest sample of each metric the source has; a metric not listed is missing.
    #[serde(default)]
    pub metrics: Vec<MetricInput>,
    /// A sample older than this at `now` is stale (the one definition, DESIGN.md).
    #[serde(default = "default_stale_after", with = "duration_text")]
    pub stale_after: Duration,
    #[serde(default)]
    pub alarms: Vec<AlarmInput>,
    #[serde(default)]
    pub load_profile: Option<LoadProfile>,
    /// Capacity observed longer ago than this at `now` is unknown: no change is made on
    /// it (the actuator's own staleness limit). None: capacity is taken as current.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration_text::option")]
    pub capacity_stale_after: Option<Duration>,
}

/// 3 × the 15 s poll interval of real sources (the config's default).
fn default_stale_after() -> Duration {
    Duration::from_secs(45)
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            metrics: Vec::new(),
            stale_after: default_stale_after(),
            alarms: Vec::new(),
            load_profile: None,
            capacity_stale_after: None,
        }
    }
}

/// The newest sample of one metric: `{ kind = "gpu_util", at = 1700000000000, value = 0.93 }`,
/// and `instances = 3` where the source said how many instances the value covers (the
/// rest of the ready instances reported nothing: partial coverage, DESIGN.md).
/// `value` may be NaN (a percentile over no requests); JSON has no NaN, so non-finite
/// values are written and read as the strings "NaN", "inf", "-inf".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricInput {
    pub kind: MetricKind,
    pub at: Timestamp,
    #[serde(with = "float_text")]
    pub value: f64,
    /// How many instances `value` covers; absent: every ready instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
}

impl MetricInput {
    /// A value that covers every ready instance.
    pub fn new(kind: MetricKind, at: Timestamp, value: f64) -> Self {
        MetricInput { kind, at, value, instances: None }
    }
}

impl From<&MetricSample> for MetricInput {
    fn from(s: &MetricSample) -> Self {
        MetricInput { kind: s.kind.clone(), at: s.sample.at, value: s.sample.value, instances: s.instances }
    }
}

/// What the engine stores after a decision so the next tick sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateUpdates {
    /// Append to `recent_recommendations`.
    pub recommendation: Recommendation,
    /// Replace `scale_out_pending_since` with this.
    pub scale_out_pending_since: Option<Timestamp>,
    /// Keep recommendations and activities newer than `now − retain` (the longest window
    /// any rule looks back over).
    #[serde(with = "duration_text::any")]
    pub retain: Duration,
}

impl GroupState {
    /// A group with no memory yet: no recommendations, activities, hold or pause.
    pub fn new(
        name: impl Into<String>,
        bounds: (u32, u32),
        hourly_cost_usd: f64,
        max_warmup: Duration,
        policy: PolicySpec,
    ) -> Self {
        GroupState {
            name: name.into(),
            min: bounds.0,
            max: bounds.1,
            hard_max: None,
            hourly_cost_usd,
            max_warmup,
            policy,
            capacity: Capacity::default(),
            recent_recommendations: Vec::new(),
            recent_activities: Vec::new(),
            hold: None,
            pause: None,
            scale_out_pending_since: None,
            last_tick: None,
        }
    }

    /// The hard cap: `hard_max`, else twice max.
    pub fn hard_cap(&self) -> u32 {
        crate::model::hard_cap(self.max, self.hard_max)
    }

    /// Store a decision as the engine does: the recommendation, the pending-since mark,
    /// the tick time, and (if desired changed) the new desired and a policy activity.
    /// Capacity other than `desired` is the actuator's to observe, so it is left alone.
    pub fn apply(&mut self, decision: &super::Decision) {
        let now = decision.at;
        let updates = &decision.state_updates;
        let cutoff = now.minus(updates.retain);
        remember_recommendation(&mut self.recent_recommendations, updates.recommendation, cutoff);
        if let Some(to) = decision.desired {
            let from = self.capacity.desired;
            self.recent_activities.push(ScalingActivity {
                at: now,
                from,
                to,
                cause: ActivityCause::Policy,
                policy: decision.driver.clone(),
            });
            self.capacity.desired = to;
        }
        self.recent_activities.retain(|a| a.at > cutoff);
        self.scale_out_pending_since = updates.scale_out_pending_since;
        self.last_tick = Some(now);
    }
}

/// Serde for an `f64` that may be non-finite: numbers as numbers, NaN/±inf as text.
mod float_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(f64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(v) => Ok(v),
            Either::Text(t) => match t.to_ascii_lowercase().as_str() {
                "nan" => Ok(f64::NAN),
                "inf" | "+inf" | "infinity" => Ok(f64::INFINITY),
                "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
                _ => {
                    Err(serde::de::Error::custom(format!("bad number `{t}` (a number, \"NaN\" or \"inf\")")))
                }
            },
        }
    }
}
