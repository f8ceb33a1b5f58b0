//! The versioned protocol between the engine and every front end: [`Snapshot`]s and
//! [`Event`]s flow out of the engine, [`CommandRequest`]s flow in and each gets a
//! [`Reply`].
//!
//! Every type here is serialisable: in-process the messages travel over tokio channels
//! bundled in a [`Connection`] (`channels.rs`); to a daemon they cross a socket as JSON
//! lines ([`crate::remote`]). Front ends know nothing else of the engine: the console
//! only ever reads snapshots and events and sends commands. `sim_command.rs` holds the
//! `:sim` grammar.
//!
//! Versioning: [`PROTOCOL_VERSION`] is `major.minor`. New optional fields and new command
//! variants bump the minor version; a peer with another major version is refused.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::PauseMode;
use crate::model::{
    AlarmState, Capacity, GroupSpec, MetricKind, Sample, Timestamp, duration_ms, format_duration,
};
pub use crate::series::{MinutePoint, SharedMinutes, SharedPoints};

mod channels;
mod sim_command;

pub use channels::{CommandReceiver, CommandSender, Connection, Connector, LinkState};
pub use sim_command::{SimCommand, SimCommandError};

/// Protocol version spoken by this build.
/// 1.1 added each group's alarms and last decision.
/// 1.2 added `silence` / `unsilence`, the `silence` control, alarms' `held_until` and
/// each series' closed 1-minute aggregates ([`SeriesSnapshot::minutes`]).
/// 1.3 added the decision log's [`Event::Decided`], the capacity series
/// ([`MetricKind::CAPACITY`]) and predictive scaling's [`ForecastView`].
/// 1.4 added [`Operator::auth`]: how a daemon's listener established who sent a command,
/// and [`GroupSnapshot::capacity_stale`].
/// 1.5 added [`GroupSnapshot::warnings`].
/// 1.6 added the group's hard cap ([`GroupSpec::hard_max`](crate::model::GroupSpec::hard_max))
/// and [`GroupSnapshot::hourly_budget_usd`], for the scale dialog's guard-rails.
/// 1.7 added [`DecisionEntry::by`]: the decision log's entries for operator actions and
/// circuit-breaker trips and resets.
/// 1.8 added [`AlarmView::metric`]: which metric an alarm watches, so a console marks
/// that metric's cell as firing.
/// 1.9 added [`AlarmView::source`]: a metric source's own alerts beside fleetdeck's.
/// 1.10 added [`Snapshot::notifiers`]: how each notifier's deliveries stand.
/// 1.11 added [`Command::Acknowledge`].
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion { major: 1, minor: 11 };

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolVersion {
    pub major: u16,
    pub minor: u16,
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The whole fleet as the engine sees it after one tick.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: ProtocolVersion,
    /// Tick number; increases by one per engine tick. Compare ticks, not wall time.
    pub seq: u64,
    pub taken_at: Timestamp,
    /// The engine refuses every mutating command.
    pub readonly: bool,
    #[serde(with = "duration_ms")]
    pub poll_interval: Duration,
    /// A series is stale when its newest sample is older than this.
    #[serde(with = "duration_ms")]
    pub stale_after: Duration,
    pub groups: Vec<GroupSnapshot>,
    /// Each notifier this engine sends for, and how its deliveries stand (since 1.10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifiers: Vec<NotifierView>,
}

/// A notifier's deliveries since the engine started, for display and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifierView {
    pub name: String,
    pub sent: u64,
    /// Attempts that failed and are tried again.
    pub failed: u64,
    /// Messages the service refused for good.
    pub given_up: u64,
    /// Messages waiting to be sent.
    pub waiting: usize,
    /// Since when it has been failing, and the service's last words; None while sends
    /// succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing: Option<NotifierFailure>,
}

/// A notifier's last failure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifierFailure {
    pub at: Timestamp,
    pub error: String,
}

impl Snapshot {
    /// An empty snapshot, shown before the first tick.
    pub fn empty(readonly: bool, poll_interval: Duration, stale_after: Duration) -> Self {
        Snapshot {
            version: PROTOCOL_VERSION,
            seq: 0,
            taken_at: Timestamp::default(),
            readonly,
            poll_interval,
            stale_after,
            groups: Vec::new(),
            notifiers: Vec::new(),
        }
    }

    /// The freshness of the fleet's data: the oldest of the groups' newest samples.
    /// One group whose source went quiet makes the whole header say so.
    pub fn data_as_of(&self) -> Option<Timestamp> {
        self.groups.iter().map(GroupSnapshot::newest_sample_at).min().flatten()
    }

    pub fn group(&self, name: &str) -> Option<&GroupSnapshot> {
        self.groups.iter().find(|g| g.spec.name == name)
    }
}

/// One scaling group: its configuration, observed capacity, recent metrics and the
/// health of the backends that feed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub spec: GroupSpec,
    /// `None` until the actuator has been observed once.
    pub capacity: Option<Capacity>,
    /// The capacity shown was observed longer ago than the actuator's staleness limit:
    /// it is unknown, and the autoscaler changes nothing on it (since 1.4).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub capacity_stale: bool,
    /// Recent raw points per metric, oldest first, ordered by kind.
    pub series: Vec<SeriesSnapshot>,
    pub source: BackendHealth,
    pub actuator: BackendHealth,
    /// The group's alarm rules and their states (since 1.1).
    #[serde(default)]
    pub alarms: Vec<AlarmView>,
    /// The autoscaler's last decision (since 1.1).
    #[serde(default)]
    pub decision: Option<DecisionView>,
    /// Who may act on the group (since 1.1); None when no lease store is in use.
    #[serde(default)]
    pub lease: Option<LeaseView>,
    /// What an operator should know about the group's target, in words: another
    /// autoscaler acting on it, an unreadable pause marker (since 1.5).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What stops or limits automation now (since 1.1): pauses, holds, breaker trips,
    /// shadow mode — each in words, with who, until when and what resets it.
    #[serde(default)]
    pub controls: Vec<ControlView>,
    /// What predictive scaling expects, when the group has it and it has a usable
    /// profile (since 1.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastView>,
    /// The policy's hourly budget, which caps automated scale-out (since 1.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hourly_budget_usd: Option<f64>,
}

/// Predictive scaling's forecast as capacity: the instances its load forecast needs,
/// slot by slot, from the oldest raw point shown to one lead time ahead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForecastView {
    /// The load metric forecast.
    pub metric: MetricKind,
    /// Forecast and scale (true), or forecast only (false).
    pub acts: bool,
    /// (slot start, instances needed), oldest first.
    pub points: Vec<(Timestamp, u32)>,
    /// One lead time past the snapshot: how far ahead the policy looks.
    pub until: Timestamp,
}

/// One thing that stops or limits the autoscaler on a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlView {
    pub kind: ControlKind,
    /// e.g. "paused (scale-in only) by ana until 14:30 UTC: INC-123".
    pub text: String,
    /// A breaker trip that only its condition closes (cost back under budget, fresh
    /// data): an operator's reset leaves it open (since 1.6).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clears_itself: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlKind {
    Pause,
    Hold,
    Breaker,
    Shadow,
    /// Notifications muted (since 1.2).
    Silence,
}

/// The holder of a group's lease: only the holder's engine acts; others observe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseView {
    pub holder: String,
    pub host: String,
    pub expires_at: Timestamp,
    /// This engine holds it.
    pub ours: bool,
}

/// An alarm rule's state, for display.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlarmView {
    pub name: String,
    pub state: AlarmState,
    /// When it entered that state.
    pub since: Timestamp,
    /// The latest datapoint's statistic.
    pub value: Option<f64>,
    /// The rule in one line, e.g. `queue_length average > 50 for 1 of 1 × 1m, held 2m`.
    pub summary: String,
    /// The metric the rule watches; None for the engine's own alarms (stalled scale-out)
    /// and from peers before 1.8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<MetricKind>,
    /// Firing, but its page is held back until then: it was raised while a scale-out
    /// warms (since 1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_until: Option<Timestamp>,
    /// Not fleetdeck's own: the metric source whose platform raised it (a Prometheus
    /// alerting rule), shown beside fleetdeck's alarms, never paged by fleetdeck (since
    /// 1.9). None: one of fleetdeck's rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The autoscaler's last decision, for display.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionView {
    pub at: Timestamp,
    pub current: u32,
    /// The new desired capacity, if the decision changes it.
    pub desired: Option<u32>,
    pub reason: String,
    /// Decided but not acted on ("would set N").
    pub shadow: bool,
}

/// One entry of the decision log (since 1.3): a decision that changes desired, or one
/// that holds the group where it is for another reason than the entry before it (other
/// desired or bounds, another block, a stall, unusable data, shadow mode). An entry stands
/// until the group's next one. Everything an operator asks of a decision is here, already
/// in words: what it read, what each policy proposed, what cut the recommendation and
/// what blocked it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionEntry {
    pub at: Timestamp,
    pub group: String,
    /// Desired capacity before the decision.
    pub current: u32,
    /// The new desired capacity, if the decision changes it.
    pub desired: Option<u32>,
    /// The decision in one line (the same words as the audit log's).
    pub reason: String,
    /// Decided but not acted on: shadow mode, observing without the lease, a breaker veto
    /// or an actuator backing off. A change is then shown as "would …".
    pub shadow: bool,
    /// Why a change was not acted on, when something other than shadow mode stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_acted: Option<String>,
    /// The newest sample of each metric the policies read.
    pub inputs: Vec<InputView>,
    /// The alarms the policies read, in words ("queue-high FIRING at 63 (threshold 50)").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// What each policy proposed, in the order they are configured.
    pub proposals: Vec<ProposalView>,
    /// What the policies recommend together, before stabilization, limits and bounds.
    pub recommendation: u32,
    /// The effective bounds and where each comes from ("group", "scheduled peak", "hold by ana").
    pub min: (u32, String),
    pub max: (u32, String),
    /// Each cut on the way from the recommendation to desired, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clamps: Vec<ClampView>,
    /// What stopped a change or part of it, in words ("paused by ana until 14:30 UTC").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Who made the entry when it is not the policies' decision (since 1.7): the operator
    /// whose command changed the group ("ana"), or "circuit breaker" for a trip, or a trip
    /// that closed by itself. Such an entry keeps desired; its reason says what was done
    /// and why; it reads nothing and has no proposals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// See [`DecisionEntry::key`].
pub type EntryKey = (String, Timestamp, String);

impl DecisionEntry {
    /// Whether it changes desired (acted on or not).
    pub fn is_action(&self) -> bool {
        self.desired.is_some_and(|d| d != self.current)
    }

    /// What tells one entry from another: its group, time and words (a breaker's trip
    /// and the decision it froze share a group and a time).
    pub fn key(&self) -> EntryKey {
        (self.group.clone(), self.at, self.reason.clone())
    }

    /// Whether it is an operator's action or the breaker's, not a decision.
    pub fn is_operator_or_breaker(&self) -> bool {
        self.by.is_some()
    }

    /// The reason as a log line says it: a change not acted on reads "would …", followed
    /// by why it was not acted on when that is not shadow mode.
    pub fn reason_line(&self) -> String {
        let would = if self.shadow && self.is_action() { "would " } else { "" };
        let why_not = self.not_acted.as_ref().map_or(String::new(), |why| format!(" — {why}"));
        format!("{would}{}{why_not}", self.reason)
    }
}

/// One metric a decision read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputView {
    pub kind: MetricKind,
    pub value: f64,
    /// When it was sampled.
    pub at: Timestamp,
}

/// One policy's proposal: `desired: None` when it has no opinion this tick.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalView {
    /// "target tracking gpu_util", "latency guard", "step scaling on queue-high" ...
    pub policy: String,
    pub desired: Option<u32>,
    pub reason: String,
}

/// One cut on the way from the recommendation to desired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClampView {
    pub from: u32,
    pub to: u32,
    /// "max step", "scale-down window", "hold by ana", "max" ...
    pub by: String,
}

impl GroupSnapshot {
    pub fn series(&self, kind: &MetricKind) -> Option<&SeriesSnapshot> {
        self.series.iter().find(|s| &s.kind == kind)
    }

    pub fn latest(&self, kind: &MetricKind) -> Option<Sample> {
        self.series(kind).and_then(|s| s.points.last().copied())
    }

    /// The newest sample of any series, if there is one.
    /// The newest sample of the group's source: the capacity series, which the engine
    /// records itself every tick, say nothing of how fresh the metrics are.
    pub fn newest_sample_at(&self) -> Option<Timestamp> {
        self.series
            .iter()
            .filter(|s| !s.kind.is_capacity())
            .filter_map(|s| s.points.last().map(|p| p.at))
            .max()
    }

    pub fn any_stale(&self) -> bool {
        self.series.iter().any(|s| s.stale)
    }

    /// Alarms currently firing.
    pub fn firing(&self) -> impl Iterator<Item = &AlarmView> {
        self.alarms.iter().filter(|a| a.state == AlarmState::Firing)
    }
}

/// One metric of a group. The points are shared with the engine's history, not copied
/// (cloning a snapshot clones a few `Arc`s); on the wire they are plain arrays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesSnapshot {
    pub kind: MetricKind,
    /// Recent raw samples, oldest first: a flat array of samples on the wire.
    pub points: SharedPoints,
    /// Newest sample older than the snapshot's `stale_after` (or no sample at all).
    pub stale: bool,
    /// Closed 1-minute aggregates (mean and max), oldest first, up to 24 h, including
    /// minutes restored from before the engine started (since 1.2).
    #[serde(default)]
    pub minutes: SharedMinutes,
}

/// Whether calls to a backend succeed; failing ones are retried with backoff.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum BackendHealth {
    #[default]
    Ok,
    Failing {
        error: String,
        since: Timestamp,
        attempts: u32,
        retry_at: Timestamp,
    },
}

/// Which backend of a group an event speaks of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Source,
    Actuator,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Source => "source",
            Backend::Actuator => "actuator",
        })
    }
}

/// Something that happened, for logs and notifications in the front ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        at: Timestamp,
        groups: Vec<String>,
    },
    BackendFailed {
        at: Timestamp,
        group: String,
        backend: Backend,
        error: String,
        retry_at: Timestamp,
    },
    BackendRecovered {
        at: Timestamp,
        group: String,
        backend: Backend,
    },
    /// A simulator event was applied (scheduled in the config or by `:sim`).
    Sim {
        at: Timestamp,
        description: String,
    },
    /// An alarm rule changed state (since 1.1).
    Alarm {
        at: Timestamp,
        group: String,
        alarm: String,
        from: AlarmState,
        to: AlarmState,
    },
    /// The autoscaler decided a change of desired capacity (since 1.1); `shadow`: it was
    /// not acted on.
    Scaled {
        at: Timestamp,
        group: String,
        from: u32,
        to: u32,
        reason: String,
        shadow: bool,
    },
    /// A circuit breaker tripped or reset (since 1.1), in words: mode, cause and what
    /// resets it.
    Breaker {
        at: Timestamp,
        group: String,
        message: String,
        tripped: bool,
    },
    /// A new entry of the decision log (since 1.3): every change of desired, and the first
    /// decision of each run of identical ones (see [`DecisionEntry`]).
    Decided(Box<DecisionEntry>),
    /// A command was answered (accepted or refused); every command gets one.
    CommandHandled {
        at: Timestamp,
        operator: String,
        command: String,
        reply: Reply,
    },
}

/// Who sent a command, for the audit trail.
///
/// In-process (the console's own engine) the operator is the console's, from its config
/// or `$USER`, and `auth` is None. A command that came through the daemon's listener has
/// the operator the listener *recorded* ([`crate::remote::token`]): over TCP a named
/// token's operator replaces whatever the client claimed; an anonymous token keeps the
/// claim, marked as claimed; over the owner-only Unix socket the claim is the socket
/// owner's own. The listener sets `auth` on every command, replacing any a client sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// How the daemon knows who this is (since 1.4); None in-process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<OperatorAuth>,
}

/// How a daemon's listener established a command's operator. Tokens are named by their
/// place (`line 3 of FILE`, `$FLEETDECK_TOKEN`), never by their text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum OperatorAuth {
    /// A TCP token that names its operator: name and email are the token's. `claimed`: the
    /// name the client claimed, where it was another.
    Token {
        token: String,
        peer: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claimed: Option<String>,
    },
    /// A TCP token that names nobody: name and email are only what the client claimed.
    Claimed { token: String, peer: String },
    /// The owner-only Unix socket: the client runs as the daemon's own user (its uid
    /// checked by the kernel), so the name is that user's own claim.
    Socket { uid: u32 },
}

impl fmt::Display for Operator {
    /// "ana <ana@example.com>"; "mallory (claimed)" where only the client says so.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(email) = &self.email {
            write!(f, " <{email}>")?;
        }
        if matches!(self.auth, Some(OperatorAuth::Claimed { .. })) {
            f.write_str(" (claimed)")?;
        }
        Ok(())
    }
}

/// A command with who sent it and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandRequest {
    pub operator: Operator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub command: Command,
}

/// What a front end may ask of the engine. The operator commands (pause, resume, force
/// scale, shadow) came with 1.1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Provoke an incident in the simulated fleet.
    Sim { action: SimCommand },
    /// Stop automated changes to the target, fully or only scale-in, until `duration` has
    /// passed (None: until someone resumes).
    Pause {
        target: Target,
        #[serde(default, with = "crate::model::opt_duration_ms", skip_serializing_if = "Option::is_none")]
        duration: Option<Duration>,
        #[serde(default)]
        mode: PauseMode,
    },
    /// Lift the target's pause.
    Resume { target: Target },
    /// Set the group's desired capacity now and hold it for `hold`; above the group's max
    /// only with `beyond_max` (the operator confirmed it).
    ForceScale {
        group: String,
        desired: u32,
        #[serde(with = "duration_ms")]
        hold: Duration,
        #[serde(default)]
        beyond_max: bool,
    },
    /// Shadow on: decide and show "would …" without acting; off: act on decisions.
    Shadow { target: Target, on: bool },
    /// Close every open circuit-breaker trip of the target (the actuator-failure trip
    /// closes only this way).
    ResetBreaker { target: Target },
    /// Mute the target's notifications for `duration` (since 1.2); alarms are still
    /// evaluated and shown, and one still firing when the silence ends pages then.
    Silence {
        target: Target,
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    /// Lift the target's silence (since 1.2).
    Unsilence { target: Target },
    /// Acknowledge the target's open incidents, those fleetdeck paged (since 1.11): an
    /// `acknowledge` of each episode's dedup key to PagerDuty, a reply in its Slack
    /// thread. The alarm is still evaluated; its resolve still goes out when it clears.
    Acknowledge { target: Target },
}

impl Command {
    /// Whether the command changes anything; read-only engines refuse these.
    pub fn is_mutating(&self) -> bool {
        match self {
            // Changing the simulated world is still a change made by this console.
            Command::Sim { .. } => true,
            Command::Pause { .. } | Command::Resume { .. } | Command::ForceScale { .. } => true,
            Command::Shadow { .. } | Command::ResetBreaker { .. } => true,
            Command::Silence { .. } | Command::Unsilence { .. } => true,
            Command::Acknowledge { .. } => true,
        }
    }
}

/// The command as it is typed on the console's command line (without the reason).
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Sim { action } => write!(f, "sim {action}"),
            Command::Pause { target, duration, mode } => {
                write!(f, "pause {target}")?;
                if let Some(duration) = duration {
                    write!(f, " {}", format_duration(*duration))?;
                }
                match mode {
                    PauseMode::Full => Ok(()),
                    PauseMode::ScaleInOnly => f.write_str(" --scale-in-only"),
                }
            }
            Command::Resume { target } => write!(f, "resume {target}"),
            Command::ResetBreaker { target } => write!(f, "reset {target}"),
            Command::ForceScale { group, desired, hold, beyond_max } => {
                write!(f, "scale {group} {desired} --hold {}", format_duration(*hold))?;
                if *beyond_max {
                    f.write_str(" --beyond-max")?;
                }
                Ok(())
            }
            Command::Shadow { target, on } => write!(f, "shadow {target} {}", if *on { "on" } else { "off" }),
            Command::Silence { target, duration } => {
                write!(f, "silence {target} {}", format_duration(*duration))
            }
            Command::Unsilence { target } => write!(f, "unsilence {target}"),
            Command::Acknowledge { target } => write!(f, "ack {target}"),
        }
    }
}

/// What an operator command applies to: one group, or every group of the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Group(String),
    All,
}

impl Target {
    /// Whether the target names this group.
    pub fn includes(&self, group: &str) -> bool {
        match self {
            Target::All => true,
            Target::Group(name) => name == group,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Group(name) => f.write_str(name),
            Target::All => f.write_str("all"),
        }
    }
}

/// The engine's answer to a command.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Ok { message: String },
    Refused { reason: String },
    Failed { error: String },
}

impl fmt::Display for Reply {
    /// As the console's status line words it: "ok: …", "refused: …", "failed: …".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Ok { message } => write!(f, "ok: {message}"),
            Reply::Refused { reason } => write!(f, "refused: {reason}"),
            Reply::Failed { error } => write!(f, "failed: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_points_stay_a_flat_array_and_a_1_1_series_reads_without_minutes() {
        let points = r#"[{"at":1000,"value":0.5},{"at":2000,"value":0.75}]"#;
        let json = format!(r#"{{"kind":"gpu_util","points":{points},"stale":false}}"#);
        let series: SeriesSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!((series.points.len(), series.minutes.len()), (2, 0));
        let written = serde_json::to_value(&series).unwrap();
        assert_eq!(written["points"], serde_json::from_str::<serde_json::Value>(points).unwrap());
        assert_eq!(serde_json::from_value::<SeriesSnapshot>(written).unwrap(), series);
    }

    /// Issue 15, point 13: the text log printed Rust's debug names.
    #[test]
    fn replies_and_backends_read_in_words() {
        assert_eq!(Reply::Refused { reason: "read-only".into() }.to_string(), "refused: read-only");
        assert_eq!(Reply::Ok { message: "paused".into() }.to_string(), "ok: paused");
        assert_eq!(Backend::Actuator.to_string(), "actuator");
    }

    #[test]
    fn commands_serialise_with_a_tag() {
        let req = CommandRequest {
            operator: Operator { name: "ana".into(), email: None, auth: None },
            reason: None,
            command: Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 1 } },
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"command\":\"sim\""), "{json}");
        let back: CommandRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn operator_commands_serialise_with_a_tag_and_read_back() {
        let commands = [
            Command::Pause {
                target: Target::Group("llm-chat".into()),
                duration: Some(Duration::from_secs(1800)),
                mode: PauseMode::ScaleInOnly,
            },
            Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full },
            Command::Resume { target: Target::All },
            Command::ForceScale {
                group: "vision".into(),
                desired: 9,
                hold: Duration::from_secs(1200),
                beyond_max: true,
            },
            Command::Shadow { target: Target::Group("vision".into()), on: false },
        ];
        for command in commands {
            let json = serde_json::to_string(&command).unwrap();
            let back: Command = serde_json::from_str(&json).unwrap();
            assert_eq!(back, command, "{json}");
            assert!(command.is_mutating());
        }
        let json = r#"{"command":"pause","target":"all"}"#;
        assert_eq!(
            serde_json::from_str::<Command>(json).unwrap(),
            Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full },
            "duration and mode are optional"
        );
    }

    #[test]
    fn operator_commands_display_as_typed_on_the_command_line() {
        let pause = Command::Pause {
            target: Target::Group("llm-chat".into()),
            duration: Some(Duration::from_secs(1800)),
            mode: PauseMode::ScaleInOnly,
        };
        assert_eq!(pause.to_string(), "pause llm-chat 30m --scale-in-only");
        assert_eq!(
            Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full }.to_string(),
            "pause all"
        );
        assert_eq!(Command::Resume { target: Target::All }.to_string(), "resume all");
        let scale = Command::ForceScale {
            group: "g".into(),
            desired: 12,
            hold: Duration::from_secs(1200),
            beyond_max: true,
        };
        assert_eq!(scale.to_string(), "scale g 12 --hold 20m --beyond-max");
        assert_eq!(Command::Shadow { target: Target::All, on: true }.to_string(), "shadow all on");
    }
}
