//! The config file as written: serde structs that mirror the TOML one to one.
//!
//! Everything the file may leave out is an `Option` here; defaults and cross-field rules
//! are applied by `validate`, which knows each value's key path. Every table denies
//! unknown keys, so a typo is an error that toml locates, not a silently ignored line.
//! Durations are strings read with `humantime` as they are deserialised, so a bad one is
//! reported at its own value.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::{ActuatorKind, Serving, SourceKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a config table")]
pub(super) struct ConfigFile {
    pub fleet: Option<String>,
    pub poll_interval: Option<DurationText>,
    pub stale_after: Option<DurationText>,
    pub call_timeout: Option<DurationText>,
    pub max_backoff: Option<DurationText>,
    pub lease: Option<LeaseFile>,
    /// Metric source connections by name.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceFile>,
    /// Actuator connections by name.
    #[serde(default)]
    pub actuators: BTreeMap<String, ActuatorFile>,
    /// Notifiers by name.
    #[serde(default)]
    pub notifiers: BTreeMap<String, NotifierFile>,
    /// The circuit breaker's settings, read as the engine's own type.
    pub breaker: Option<crate::engine::breaker::BreakerSettings>,
    pub seed: Option<u64>,
    pub operator: Option<OperatorFile>,
    #[serde(default)]
    pub groups: Vec<GroupFile>,
    #[serde(default)]
    pub sim: SimFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [lease] table with `store`, `ttl` and `skew_margin`")]
pub(super) struct LeaseFile {
    pub store: Option<crate::config::LeaseStoreKind>,
    pub ttl: Option<DurationText>,
    pub skew_margin: Option<DurationText>,
}

/// `[sources.NAME]`: a metric source connection. Keys of one kind only are checked by
/// `validate` once kinds with keys of their own exist.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [sources.NAME] table with `kind`")]
pub(super) struct SourceFile {
    pub kind: SourceKind,
    pub poll_interval: Option<DurationText>,
    pub stale_after: Option<DurationText>,
    /// Prometheus: the server's base URL.
    pub url: Option<String>,
    /// Prometheus: the window of `rate()` and histogram quantiles.
    pub rate_window: Option<DurationText>,
    /// Prometheus: extra label matchers for every selector (`namespace="inference"`).
    pub matchers: Option<String>,
    /// Prometheus: the labels that hold a series' pod name, in order.
    pub pod_labels: Option<Vec<String>>,
    /// Prometheus: group series by this label's value instead of by pod name.
    pub group_label: Option<String>,
    /// Prometheus: headers sent with every query (a tenant's `X-Scope-OrgID`).
    pub headers: Option<BTreeMap<String, String>>,
    /// Prometheus: a bearer token's variable name or file path.
    pub bearer_token_env: Option<String>,
    pub bearer_token_file: Option<String>,
    /// Prometheus: basic auth, its password by variable name or file path.
    pub basic_auth: Option<BasicAuthFile>,
    /// Prometheus: a CA (PEM) to trust besides the system's.
    pub ca_file: Option<String>,
    /// Prometheus: show its firing and pending alerts beside fleetdeck's own.
    pub alerts: Option<bool>,
    /// Read only to refuse it.
    pub bearer_token: Option<toml::Value>,
}

/// `basic_auth = { username = "…", password_env = "…" }`.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table such as { username = \"fleetdeck\", password_env = \"PROM_PASSWORD\" }"
)]
pub(super) struct BasicAuthFile {
    pub username: String,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    /// Read only to refuse it.
    pub password: Option<toml::Value>,
}

/// `[groups.prometheus]`: how a Prometheus source reads this one group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [groups.prometheus] table with `matchers` and `queries`")]
pub(super) struct GroupPrometheusFile {
    /// This group's own matchers, added to the source's (its default queries are then
    /// its own).
    pub matchers: Option<String>,
    /// PromQL by metric kind name, custom kinds included.
    #[serde(default)]
    pub queries: BTreeMap<String, String>,
}

/// `[notifiers.NAME]`: where pages and updates go. Each kind has one secret, given only
/// as an environment variable's name or a file's path; a secret written in the file
/// itself (`routing_key`, `token`) is refused with a message saying so.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [notifiers.NAME] table with `kind`")]
pub(super) struct NotifierFile {
    pub kind: crate::config::NotifierKind,
    pub routing_key_env: Option<String>,
    pub routing_key_file: Option<String>,
    pub token_env: Option<String>,
    pub token_file: Option<String>,
    pub channel: Option<String>,
    /// Slack: the channel for each severity, where it is not `channel`.
    pub channels: Option<BTreeMap<String, String>>,
    /// Slack: the Web API's base URL (default `https://slack.com/api`).
    pub api_url: Option<String>,
    /// PagerDuty: the Events API's base URL (default `https://events.pagerduty.com`;
    /// `https://events.eu.pagerduty.com` for the EU region).
    pub events_url: Option<String>,
    /// PagerDuty: how long to wait after a 429 of the Events API, which says no
    /// `Retry-After` (default 30 s, as its documentation suggests).
    pub throttle_wait: Option<DurationText>,
    /// Read only to refuse it.
    pub routing_key: Option<toml::Value>,
    /// Read only to refuse it.
    pub token: Option<toml::Value>,
}

/// `[actuators.NAME]`: an actuator connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [actuators.NAME] table with `kind`")]
pub(super) struct ActuatorFile {
    pub kind: ActuatorKind,
    pub max_concurrency: Option<u32>,
    /// The control API's base URL (`sim-http`).
    pub url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "an [operator] table with `name` and optionally `email`")]
pub(super) struct OperatorFile {
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[groups]] table")]
pub(super) struct GroupFile {
    pub name: String,
    pub instance_type: String,
    pub hourly_cost_usd: f64,
    pub min: u32,
    pub max: u32,
    /// The hard cap no command passes (default 2 × max).
    pub hard_max: Option<u32>,
    pub desired: Option<u32>,
    pub warmup: Option<WarmupFile>,
    pub serving: Option<Serving>,
    pub slo_p95: Option<DurationText>,
    /// A `[sources.NAME]` name, or `sim`.
    pub source: Option<String>,
    /// An `[actuators.NAME]` name, or `sim`.
    pub actuator: Option<String>,
    /// The `[notifiers.NAME]` its pages go to (default: every one).
    pub notifiers: Option<Vec<String>>,
    pub sim: Option<GroupSimFile>,
    pub prometheus: Option<GroupPrometheusFile>,
    /// Decide, never act.
    pub shadow: Option<bool>,
    /// The autoscaling policy, read as the policy module's own type.
    pub policy: Option<crate::policy::PolicySpec>,
    /// Alarm rules, read as the alarms module's own type.
    #[serde(default)]
    pub alarms: Vec<crate::alarms::AlarmRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { min = \"2m\", max = \"5m\" }")]
pub(super) struct WarmupFile {
    pub min: DurationText,
    pub max: DurationText,
}

/// `[groups.sim]`: how the simulator plays this group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [groups.sim] table")]
pub(super) struct GroupSimFile {
    pub capacity_rps_per_instance: Option<f64>,
    pub service_time: Option<DurationText>,
    pub instance_failures_per_hour: Option<f64>,
    pub metric_gap_probability: Option<f64>,
    pub launch_failure_probability: Option<f64>,
    pub traffic: Option<TrafficFile>,
}

/// The traffic shapes a group's demand can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(super) enum Shape {
    Constant,
    Diurnal,
    FlashCrowd,
    Ramp,
    Trace,
}

impl Shape {
    const ALL: [Shape; 5] = [Shape::Constant, Shape::Diurnal, Shape::FlashCrowd, Shape::Ramp, Shape::Trace];

    pub fn from_name(name: &str) -> Option<Shape> {
        Shape::ALL.into_iter().find(|shape| shape.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shape::Constant => "constant",
            Shape::Diurnal => "diurnal",
            Shape::FlashCrowd => "flash-crowd",
            Shape::Ramp => "ramp",
            Shape::Trace => "trace",
        }
    }
}

/// `traffic = { shape = "…", … }`: the union of every shape's keys. Which keys belong to
/// which shape is checked in `traffic`, so a key of another shape gets a message that
/// names the shape rather than serde's list of every key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table such as { shape = \"constant\", rps = 10 }")]
pub(super) struct TrafficFile {
    pub shape: Shape,
    pub rps: Option<f64>,
    pub base_rps: Option<f64>,
    pub peak_rps: Option<f64>,
    pub peak_at: Option<DurationText>,
    pub period: Option<DurationText>,
    pub weekend_factor: Option<f64>,
    pub factor: Option<f64>,
    pub at: Option<DurationText>,
    pub ramp: Option<DurationText>,
    pub hold: Option<DurationText>,
    pub from_rps: Option<f64>,
    pub to_rps: Option<f64>,
    pub start: Option<DurationText>,
    pub over: Option<DurationText>,
    pub path: Option<String>,
    pub scale: Option<f64>,
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
    pub noise: Option<f64>,
}

impl TrafficFile {
    /// The keys written in the file, besides `shape`.
    pub fn present_keys(&self) -> Vec<&'static str> {
        let keys = [
            ("rps", self.rps.is_some()),
            ("base_rps", self.base_rps.is_some()),
            ("peak_rps", self.peak_rps.is_some()),
            ("peak_at", self.peak_at.is_some()),
            ("period", self.period.is_some()),
            ("weekend_factor", self.weekend_factor.is_some()),
            ("factor", self.factor.is_some()),
            ("at", self.at.is_some()),
            ("ramp", self.ramp.is_some()),
            ("hold", self.hold.is_some()),
            ("from_rps", self.from_rps.is_some()),
            ("to_rps", self.to_rps.is_some()),
            ("start", self.start.is_some()),
            ("over", self.over.is_some()),
            ("path", self.path.is_some()),
            ("scale", self.scale.is_some()),
            ("loop", self.looped.is_some()),
            ("noise", self.noise.is_some()),
        ];
        keys.into_iter().filter_map(|(key, present)| present.then_some(key)).collect()
    }
}

/// The top-level `[sim]` table: only the incident schedule for now.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [sim] table with `events`")]
pub(super) struct SimFile {
    #[serde(default)]
    pub events: Vec<EventFile>,
}

/// One `[[sim.events]]` entry: an offset and exactly one command key (checked later, so
/// the message can say which keys were expected).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [[sim.events]] table with `at` and one command")]
pub(super) struct EventFile {
    pub at: DurationText,
    pub spike: Option<String>,
    pub fail: Option<String>,
    pub gap: Option<String>,
    pub stockout: Option<String>,
}

/// A duration written as text (`"500ms"`, `"30s"`, `"1h30m"`), parsed with `humantime`,
/// at most [`MAX_DURATION`](crate::model::MAX_DURATION) (a year): a longer one is refused
/// at its own value, before any arithmetic on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct DurationText(pub Duration);

const DURATION_EXPECTED: &str = "a duration string such as \"500ms\", \"30s\", \"2m\" or \"1h30m\"";

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = DurationText;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DURATION_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DurationText, E> {
                if text.trim_start().starts_with('-') {
                    return Err(E::custom(format!(
                        "bad duration `{text}`: a duration cannot be negative, expected {DURATION_EXPECTED}"
                    )));
                }
                let d = humantime::parse_duration(text).map_err(|err| {
                    E::custom(format!("bad duration `{text}` ({err}), expected {DURATION_EXPECTED}"))
                })?;
                crate::model::bounded_duration(text, d).map(DurationText).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(DurationVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Holder {
        d: DurationText,
    }

    #[test]
    fn durations_read_humantime_text() {
        let holder: Holder = toml::from_str("d = \"1h30m\"").unwrap();
        assert_eq!(holder.d.0, Duration::from_secs(5400));
    }

    #[test]
    fn a_bad_duration_quotes_the_text_and_the_expected_form() {
        let err = toml::from_str::<Holder>("d = \"5 parsecs\"").unwrap_err();
        assert!(err.message().contains("bad duration `5 parsecs`"), "{}", err.message());
        assert!(err.message().contains("\"30s\""), "{}", err.message());
    }

    #[test]
    fn a_duration_longer_than_a_year_is_refused_at_its_value() {
        let err = toml::from_str::<Holder>("d = \"500000000000y\"").unwrap_err();
        assert!(
            err.message().contains("duration `500000000000y` is too long: at most 1y"),
            "{}",
            err.message()
        );
        assert_eq!(err.span(), Some(4..19));
        let year: Holder = toml::from_str("d = \"1y\"").unwrap();
        assert_eq!(year.d.0, crate::model::MAX_DURATION);
    }

    #[test]
    fn a_number_is_not_a_duration() {
        let err = toml::from_str::<Holder>("d = 30").unwrap_err();
        assert!(err.message().contains("expected a duration string"), "{}", err.message());
    }
}
