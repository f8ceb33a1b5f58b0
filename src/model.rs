//! Domain types shared by every part of fleetdeck: scaling groups, observed capacity,
//! metric kinds and samples, and the instant type everything is stamped with.
//!
//! This module is pure data: no I/O, no clock, no runtime. Time is a [`Timestamp`]
//! passed in by the caller (the engine's clock, or a virtual clock in tests and replay).
//!
//! Units are explicit and fixed here so no other module has to guess:
//! utilizations and usages are fractions 0–1 (shown as % by the UI), latencies are
//! seconds, rates are per second, queue length is a count of waiting requests.

pub mod backend;
pub mod marker;
pub mod words;

pub use backend::{BackendError, ErrorKind};

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since the UNIX epoch. The one instant type of fleetdeck: samples,
/// snapshots and decisions carry it, so a virtual clock and a real one look the same.
///
/// Written as an integer of milliseconds; read from that or, for files people write
/// (`fleetdeck decide` inputs), from RFC 3339 text such as `"2026-11-23T08:00:00Z"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Millis(i64),
            Text(String),
        }
        match Written::deserialize(deserializer)? {
            Written::Millis(ms) => Ok(Timestamp(ms)),
            Written::Text(text) => Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom),
        }
    }
}

impl Timestamp {
    /// Parses RFC 3339 UTC text (`2026-11-23T08:00:00Z`, fractional seconds allowed).
    pub fn parse_rfc3339(text: &str) -> Result<Self, String> {
        let time = humantime::parse_rfc3339(text).map_err(|e| {
            format!("bad timestamp `{text}`: {e} (expected RFC 3339 in UTC, e.g. \"2026-11-23T08:00:00Z\", or milliseconds since the epoch)")
        })?;
        let since = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("timestamp `{text}` is before 1970"))?;
        Ok(Timestamp(since.as_millis() as i64))
    }

    /// RFC 3339 UTC text, to the second (milliseconds when there are any). RFC 3339 has
    /// four-digit years: an instant before 1970 is written as the epoch and one after
    /// 9999 as [`Timestamp::LAST_RFC3339`] (humantime formats nothing else).
    pub fn to_rfc3339(self) -> String {
        let ms = self.0.clamp(0, Self::LAST_RFC3339.0);
        let time = std::time::UNIX_EPOCH + Duration::from_millis(ms as u64);
        if ms % 1000 == 0 {
            humantime::format_rfc3339_seconds(time).to_string()
        } else {
            humantime::format_rfc3339_millis(time).to_string()
        }
    }

    /// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    pub const LAST_RFC3339: Timestamp = Timestamp(253_402_300_799_999);

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Seconds since the epoch, to the nearest millisecond; `as` saturates, so a huge or
    /// infinite value is the first or last instant and NaN is the epoch, never a panic.
    pub fn from_secs_f64(secs: f64) -> Self {
        Timestamp((secs * 1000.0).round() as i64)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// `self + d`, saturating.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_add(d.as_millis().min(i64::MAX as u128) as i64))
    }

    /// `self - d`, saturating.
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(d.as_millis().min(i64::MAX as u128) as i64))
    }

    /// How long after `earlier` this instant is; zero if it is not after it.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

/// The range a new instance's warm-up is drawn from (launch → serving).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmupRange {
    #[serde(with = "duration_ms")]
    pub min: Duration,
    #[serde(with = "duration_ms")]
    pub max: Duration,
}

impl Default for WarmupRange {
    /// 2–5 minutes: a GPU instance boot plus model load, as seen on p4d/g5 fleets.
    fn default() -> Self {
        WarmupRange { min: Duration::from_secs(120), max: Duration::from_secs(300) }
    }
}

/// The kind of a metric source connection (`[sources.NAME] kind = …`). Each real
/// backend adds its kind with its Cargo feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    #[default]
    Sim,
    /// The Prometheus HTTP API (dcgm-exporter, vLLM and Triton series); feature `prometheus`.
    Prometheus,
}

impl fmt::Display for SourceKind {
    /// As the config spells it (`kind = "sim"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Sim => "sim",
            SourceKind::Prometheus => "prometheus",
        })
    }
}

/// The kind of an actuator connection (`[actuators.NAME] kind = …`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActuatorKind {
    #[default]
    Sim,
    /// A `fleetdeck sim serve` process, through its control API (`url`).
    SimHttp,
}

impl fmt::Display for ActuatorKind {
    /// As the config spells it (`kind = "sim"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ActuatorKind::Sim => "sim",
            ActuatorKind::SimHttp => "sim-http",
        })
    }
}

/// The name of the built-in simulator connection, source and actuator: what a group with
/// no `source` or `actuator` key uses.
pub const SIM: &str = "sim";

/// What a group serves; decides which memory signal is meaningful.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Serving {
    /// An LLM server that preallocates GPU memory (vLLM: ~90 %); KV-cache usage is the
    /// memory signal that moves with load.
    Vllm,
    /// Any other model server: GPU memory follows load.
    #[default]
    Generic,
}

/// A scaling group as configured: what it is, what bounds it, what it costs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    /// The metric source connection it reads (`[sources.NAME]`, or [`SIM`]).
    pub source: String,
    /// The actuator connection that observes and changes it (`[actuators.NAME]`, or [`SIM`]).
    pub actuator: String,
    pub min: u32,
    pub max: u32,
    /// The most instances any command may hold the group at, even confirmed beyond max;
    /// None: twice max ([`GroupSpec::hard_cap`]). Since protocol 1.6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_max: Option<u32>,
    /// Desired capacity at start (the sim launches this many, already warm).
    pub desired: u32,
    pub instance_type: String,
    pub hourly_cost_usd: f64,
    pub warmup: WarmupRange,
    pub serving: Serving,
    /// The latency objective on p95, if the group has one; drawn as a line on charts.
    #[serde(default, with = "opt_duration_ms")]
    pub slo_p95: Option<Duration>,
}

impl GroupSpec {
    /// The hard cap: `hard_max`, else twice `max`. A force-scale confirmed beyond max
    /// stops here; nothing passes it.
    pub fn hard_cap(&self) -> u32 {
        hard_cap(self.max, self.hard_max)
    }
}

/// `hard_max`, else twice `max` (never below `max`).
pub fn hard_cap(max: u32, hard_max: Option<u32>) -> u32 {
    hard_max.unwrap_or_else(|| max.saturating_mul(2)).max(max)
}

/// Capacity as the actuator observes it. `desired` is what was asked for; `ready`
/// instances serve; `warming` are launched but not yet serving; `failed` failed
/// recently (health checks, spot loss) and are being replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capacity {
    pub desired: u32,
    pub ready: u32,
    pub warming: u32,
    pub failed: u32,
    pub observed_at: Timestamp,
}

impl Capacity {
    /// Instances that serve now or will once warm: what a new proposal is compared with.
    pub fn pending_total(&self) -> u32 {
        // Saturating: a decide file may say any u32 for either.
        self.ready.saturating_add(self.warming)
    }
}

/// A kind of metric. The set is open: anything not built in is `Custom(name)`.
///
/// Serialised as a stable snake_case name (`gpu_util`, `latency_p95`, `custom:NAME`), the
/// same name used in config files and on the wire.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MetricKind {
    /// GPU utilization, fraction 0–1.
    GpuUtil,
    /// GPU memory used, fraction 0–1 of the device's memory.
    GpuMem,
    /// Request latency percentiles, seconds.
    LatencyP50,
    LatencyP95,
    LatencyP99,
    /// Mean request latency, seconds (what Triton reports by default: total request
    /// time over requests).
    LatencyMean,
    /// Requests waiting to be served (count).
    QueueLength,
    /// Requests arriving per second.
    RequestRate,
    /// Failed requests per second.
    ErrorRate,
    /// vLLM KV-cache usage, fraction 0–1.
    KvCacheUsage,
    /// Time to first token, seconds.
    TimeToFirstToken,
    /// Generated tokens per second, whole group.
    TokensPerSecond,
    /// The group's own capacity, recorded by the engine from each observation (not read
    /// from a source): desired, ready (in service) and warming (launched, not yet ready),
    /// as CloudWatch's GroupDesiredCapacity, GroupInServiceInstances and
    /// GroupPendingInstances.
    DesiredCapacity,
    ReadyCapacity,
    WarmingCapacity,
    Custom(String),
}

/// How a metric's values are to be read and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Fraction,
    Seconds,
    Count,
    PerSecond,
    Unknown,
}

impl MetricKind {
    /// Every built-in kind, in display order.
    pub const BUILTIN: [MetricKind; 15] = [
        MetricKind::GpuUtil,
        MetricKind::GpuMem,
        MetricKind::KvCacheUsage,
        MetricKind::LatencyP50,
        MetricKind::LatencyP95,
        MetricKind::LatencyP99,
        MetricKind::LatencyMean,
        MetricKind::QueueLength,
        MetricKind::RequestRate,
        MetricKind::ErrorRate,
        MetricKind::TimeToFirstToken,
        MetricKind::TokensPerSecond,
        MetricKind::DesiredCapacity,
        MetricKind::ReadyCapacity,
        MetricKind::WarmingCapacity,
    ];

    /// The capacity kinds the engine records itself, in the order charts draw them.
    pub const CAPACITY: [MetricKind; 3] =
        [MetricKind::DesiredCapacity, MetricKind::ReadyCapacity, MetricKind::WarmingCapacity];

    /// One of the capacity series the engine records itself.
    pub fn is_capacity(&self) -> bool {
        MetricKind::CAPACITY.contains(self)
    }

    pub fn name(&self) -> &str {
        match self {
            MetricKind::GpuUtil => "gpu_util",
            MetricKind::GpuMem => "gpu_mem",
            MetricKind::LatencyP50 => "latency_p50",
            MetricKind::LatencyP95 => "latency_p95",
            MetricKind::LatencyP99 => "latency_p99",
            MetricKind::LatencyMean => "latency_mean",
            MetricKind::QueueLength => "queue_length",
            MetricKind::RequestRate => "request_rate",
            MetricKind::ErrorRate => "error_rate",
            MetricKind::KvCacheUsage => "kv_cache_usage",
            MetricKind::TimeToFirstToken => "time_to_first_token",
            MetricKind::TokensPerSecond => "tokens_per_second",
            MetricKind::DesiredCapacity => "desired_capacity",
            MetricKind::ReadyCapacity => "ready_capacity",
            MetricKind::WarmingCapacity => "warming_capacity",
            MetricKind::Custom(name) => name,
        }
    }

    pub fn unit(&self) -> Unit {
        match self {
            MetricKind::GpuUtil | MetricKind::GpuMem | MetricKind::KvCacheUsage => Unit::Fraction,
            MetricKind::LatencyP50
            | MetricKind::LatencyP95
            | MetricKind::LatencyP99
            | MetricKind::LatencyMean
            | MetricKind::TimeToFirstToken => Unit::Seconds,
            MetricKind::QueueLength
            | MetricKind::DesiredCapacity
            | MetricKind::ReadyCapacity
            | MetricKind::WarmingCapacity => Unit::Count,
            MetricKind::RequestRate | MetricKind::ErrorRate | MetricKind::TokensPerSecond => Unit::PerSecond,
            MetricKind::Custom(_) => Unit::Unknown,
        }
    }
}

impl fmt::Display for MetricKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricKind::Custom(name) => write!(f, "custom:{name}"),
            other => f.write_str(other.name()),
        }
    }
}

/// The name was not a built-in metric and had no `custom:` prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown metric `{0}` (built-in names: gpu_util, gpu_mem, kv_cache_usage, latency_p50, latency_p95, latency_p99, latency_mean, queue_length, request_rate, error_rate, time_to_first_token, tokens_per_second, desired_capacity, ready_capacity, warming_capacity; or custom:NAME)"
)]
pub struct UnknownMetric(pub String);

impl FromStr for MetricKind {
    type Err = UnknownMetric;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(name) = s.strip_prefix("custom:")
            && !name.is_empty()
        {
            return Ok(MetricKind::Custom(name.to_string()));
        }
        MetricKind::BUILTIN
            .iter()
            .find(|k| k.name() == s)
            .cloned()
            .ok_or_else(|| UnknownMetric(s.to_string()))
    }
}

impl Serialize for MetricKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MetricKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One observation, stamped with the time it describes (not the time it was fetched).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub at: Timestamp,
    pub value: f64,
}

/// One metric sample of one group, as a source reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    pub kind: MetricKind,
    pub sample: Sample,
    /// How many instances the value covers, where the source sees instances (a mean over
    /// 3 of 4 GPUs says 3); None when it cannot tell, read as every ready instance. The
    /// policy applies the HPA's rule to the instances not covered (DESIGN.md, "Partial
    /// coverage").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u32>,
}

impl MetricSample {
    /// A sample that covers every ready instance, as far as the source can tell.
    pub fn new(kind: MetricKind, sample: Sample) -> Self {
        MetricSample { kind, sample, instances: None }
    }

    /// The same sample, covering `instances` instances.
    pub fn covering(self, instances: u32) -> Self {
        MetricSample { instances: Some(instances), ..self }
    }
}

/// A duration in the compact form people type and config files use: `90s` → `1m30s`,
/// `500ms`, `2h`. Parses back with `humantime::parse_duration`.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms == 0 {
        return "0s".to_string();
    }
    let (h, rem) = (total_ms / 3_600_000, total_ms % 3_600_000);
    let (m, rem) = (rem / 60_000, rem % 60_000);
    let (s, ms) = (rem / 1000, rem % 1000);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s"), (ms, "ms")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

/// The state of an alarm rule (CloudWatch's states plus PENDING, Prometheus-style: the
/// condition holds but not yet for the rule's duration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Pending,
    Firing,
    #[default]
    InsufficientData,
}

/// How urgent an alarm is, in PagerDuty's four words; a Slack notifier may route by it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    #[default]
    Error,
    Warning,
    Info,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::Error, Severity::Warning, Severity::Info];

    /// The severity a word names (`critical`, `error`, `warning`, `info`).
    pub fn from_word(word: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.word() == word)
    }

    pub fn word(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// The longest duration fleetdeck reads from a file people write (the config, alarm
/// rules, policies, `fleetdeck decide` inputs): a year, humantime's `1y` (365.25 days).
/// Nothing fleetdeck waits for or looks back over is longer, and every sum or product of
/// such durations it forms (a poll interval × the raw points kept, a period × the
/// datapoints evaluated) stays far inside what `Duration`, [`Timestamp`] and the
/// runtime's clock can hold, so none of that arithmetic can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

/// `d` if it is at most [`MAX_DURATION`]; else the message for the file's reader.
pub fn bounded_duration(text: &str, d: Duration) -> Result<Duration, String> {
    if d <= MAX_DURATION {
        Ok(d)
    } else {
        Err(format!("duration `{text}` is too long: at most 1y ({})", format_duration(MAX_DURATION)))
    }
}

/// What a pause stops: every automated change, or only scale-in. An operator's pause and a
/// circuit-breaker trip share it; the policy, the protocol and the console all speak it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseMode {
    /// No automated change at all.
    #[default]
    Full,
    /// Scale-out continues, scale-in is blocked (the usual incident need).
    ScaleInOnly,
}

/// The circuit breaker, opened by an operator, an automatic trip, or a marker on the
/// target ([`marker`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pause {
    #[serde(default)]
    pub mode: PauseMode,
    pub by: String,
    /// Auto-resume time; None pauses until someone resumes.
    #[serde(default)]
    pub until: Option<Timestamp>,
    #[serde(default)]
    pub reason: String,
}

impl Pause {
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// An alarm as the policy sees it: state, the latest value and the threshold. The alarm
/// evaluation ([`crate::alarms`]) produces it; the policy's rules read it. It lives here so
/// that neither of the two needs the other.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmInput {
    pub name: String,
    pub state: AlarmState,
    #[serde(default)]
    pub value: Option<f64>,
    /// The start of the period `value` summarises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_at: Option<Timestamp>,
    pub threshold: f64,
    /// When it entered its current state.
    #[serde(default)]
    pub since: Option<Timestamp>,
}

/// Serde helpers: durations as human text (`"300s"`, `"5m"`, `"1h30m"`), for files people
/// write (config, `fleetdeck decide` inputs), at most [`MAX_DURATION`]. Written back in
/// the same compact form.
pub mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        let d = parse(&text).map_err(serde::de::Error::custom)?;
        super::bounded_duration(&text, d).map_err(serde::de::Error::custom)
    }

    fn parse(text: &str) -> Result<Duration, String> {
        humantime::parse_duration(text)
            .map_err(|e| format!("bad duration `{text}`: {e} (e.g. \"30s\", \"5m\")"))
    }

    /// For durations fleetdeck computes and writes (the age of a stale sample, how long a
    /// scale-out has waited), read back from a decision log: any length humantime reads.
    pub mod any {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
            super::serialize(d, s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
            super::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
        }
    }

    /// The same for `Option<Duration>`; use with `#[serde(default)]`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] Duration);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|Wrapped(d)| d))
        }
    }
}

/// Serde helpers: durations as integer milliseconds on the wire.
pub mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u64::MAX as u128) as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Serde helpers: optional durations as integer milliseconds on the wire.
pub mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis().min(u64::MAX as u128) as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_round_trip() {
        for kind in MetricKind::BUILTIN {
            assert_eq!(kind.to_string().parse::<MetricKind>().unwrap(), kind);
        }
        let custom = MetricKind::Custom("batch_size".into());
        assert_eq!(custom.to_string(), "custom:batch_size");
        assert_eq!("custom:batch_size".parse::<MetricKind>().unwrap(), custom);
    }

    #[test]
    fn unknown_metric_names_are_rejected() {
        assert!("gpu_utilisation".parse::<MetricKind>().is_err());
        assert!("custom:".parse::<MetricKind>().is_err());
    }

    #[test]
    fn metric_kind_serialises_as_its_name() {
        let json = serde_json::to_string(&MetricKind::LatencyP95).unwrap();
        assert_eq!(json, "\"latency_p95\"");
    }

    #[test]
    fn compact_durations_parse_back() {
        for ms in [1, 500, 1000, 90_000, 3_600_000, 3_723_004] {
            let d = Duration::from_millis(ms);
            assert_eq!(humantime::parse_duration(&format_duration(d)).unwrap(), d, "{}", format_duration(d));
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }

    #[test]
    fn timestamps_read_from_millis_or_rfc3339_text() {
        let from_text: Timestamp = serde_json::from_str("\"2026-11-23T08:00:00Z\"").unwrap();
        let from_ms: Timestamp = serde_json::from_str("1795420800000").unwrap();
        assert_eq!(from_text, from_ms);
        assert_eq!(from_text.to_rfc3339(), "2026-11-23T08:00:00Z");
        assert_eq!(serde_json::to_string(&from_text).unwrap(), "1795420800000");
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn a_timestamp_beyond_year_9999_is_written_as_the_last_rfc3339_instant() {
        // humantime refuses to format past 9999 (its Display errs, which `to_string` turns
        // into a panic); a decide file may say `now = 9223372036854775807`.
        assert_eq!(Timestamp(i64::MAX).to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::LAST_RFC3339.to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(i64::MIN).to_rfc3339(), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn a_duration_in_a_file_is_at_most_a_year() {
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[serde(with = "duration_text")]
            d: Duration,
        }
        let year: Holder = serde_json::from_str(r#"{"d":"1y"}"#).unwrap();
        assert_eq!(year.d, MAX_DURATION);
        let err = serde_json::from_str::<Holder>(r#"{"d":"500000000000y"}"#).unwrap_err();
        assert!(err.to_string().contains("duration `500000000000y` is too long: at most 1y"), "{err}");
        assert_eq!((err.line(), err.column()), (1, 21), "{err}");
    }

    #[test]
    fn a_computed_duration_reads_back_at_any_length() {
        #[derive(Debug, Deserialize)]
        struct Holder {
            #[serde(with = "duration_text::any")]
            d: Duration,
        }
        let long: Holder = serde_json::from_str(r#"{"d":"491400h"}"#).unwrap();
        assert_eq!(long.d, Duration::from_secs(491_400 * 3600));
    }

    #[test]
    fn pending_capacity_saturates_rather_than_overflows() {
        let capacity = Capacity { ready: u32::MAX, warming: u32::MAX, ..Capacity::default() };
        assert_eq!(capacity.pending_total(), u32::MAX);
    }

    #[test]
    fn timestamp_since_never_goes_negative() {
        assert_eq!(Timestamp(5).since(Timestamp(10)), Duration::ZERO);
        assert_eq!(Timestamp(1500).since(Timestamp(500)), Duration::from_secs(1));
    }
}
