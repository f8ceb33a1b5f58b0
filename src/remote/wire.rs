//! The protocol on a socket: one JSON object a line, each way.
//!
//! A client opens with [`Hello`] (its protocol version, what it wants to receive, and a
//! token where the listener needs one); the daemon answers [`ServerMsg::Welcome`] or
//! [`ServerMsg::Refused`] (and closes). Then the daemon sends what was asked for —
//! snapshots, events — and a [`ServerMsg::Reply`] to each [`ClientMsg::Command`], matched
//! by the command's `id`.
//!
//! Versions: the major versions must be equal; a client newer in the minor version may
//! send commands this daemon does not know, which it refuses by name (the line does not
//! parse as a command it knows) without closing the connection. New commands (say,
//! acknowledge and post) are added as new [`crate::protocol::Command`] variants with a
//! minor version bump: older daemons refuse them plainly, older clients never send them.

use serde::{Deserialize, Serialize};

use crate::model::{Sample, Timestamp};
use crate::protocol::{
    CommandRequest, Event, MinutePoint, PROTOCOL_VERSION, ProtocolVersion, Reply, SharedMinutes, Snapshot,
};

/// Longest line either side accepts: a full snapshot of a large fleet fits; a peer that
/// sends more is cut off instead of filling memory.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// How a client wants snapshots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotWish {
    /// None at all (a client that only sends commands or follows events).
    #[default]
    None,
    /// The newest one, once, right after the welcome.
    Once,
    /// Every one the engine publishes.
    Every,
}

/// The client's first line. Its `Debug` shows whether a token came, never the token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    pub version: ProtocolVersion,
    /// For a TCP listener: the bearer token. Never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default)]
    pub snapshots: SnapshotWish,
    /// Snapshots without the series' history: the newest point of each series only (what
    /// `ctl status` needs, a few kilobytes instead of megabytes).
    #[serde(default)]
    pub summary: bool,
    /// Every engine event from now on.
    #[serde(default)]
    pub events: bool,
    /// First the decision log's recent entries (up to [`BACKLOG`]), as `decided` events.
    #[serde(default)]
    pub backlog: bool,
    /// With `snapshots: every`: after the first snapshot, only what changed
    /// ([`ServerMsg::Update`]) — an attached console's traffic is then a few kilobytes a
    /// tick instead of the whole history.
    #[serde(default)]
    pub updates: bool,
}

/// Decision-log entries a daemon keeps for clients that ask for the recent ones.
pub const BACKLOG: usize = 1_000;

impl std::fmt::Debug for Hello {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Hello { version, token, snapshots, summary, events, backlog, updates } = self;
        f.debug_struct("Hello")
            .field("version", version)
            .field("token", &token.as_ref().map(|_| "<redacted>"))
            .field("snapshots", snapshots)
            .field("summary", summary)
            .field("events", events)
            .field("backlog", backlog)
            .field("updates", updates)
            .finish()
    }
}

impl Hello {
    pub fn new(snapshots: SnapshotWish, events: bool) -> Hello {
        Hello {
            version: PROTOCOL_VERSION,
            token: None,
            snapshots,
            summary: false,
            events,
            backlog: false,
            updates: false,
        }
    }
}

/// A line from the client.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientMsg {
    Hello(Hello),
    Command { id: u64, request: CommandRequest },
}

/// The daemon's answer to a hello it accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub version: ProtocolVersion,
    /// The daemon's engine, `user@host:pid`.
    pub engine: String,
    /// The engine refuses every mutating command.
    pub readonly: bool,
    /// Raw points and 1-minute aggregates the engine keeps a series: what a client that
    /// merges updates keeps too.
    #[serde(default)]
    pub raw_points: usize,
    #[serde(default)]
    pub minute_points: usize,
}

/// A line from the daemon.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerMsg {
    Welcome(Welcome),
    /// The hello was refused (wrong version, wrong token, another user); the daemon
    /// closes the connection after this line.
    Refused {
        reason: String,
    },
    Snapshot(Box<Snapshot>),
    /// A snapshot whose series hold only the raw points newer than the last sent and the
    /// minutes closed since; everything else in full. [`merge`] makes the whole one.
    Update(Box<Snapshot>),
    Event(Box<Event>),
    Reply {
        id: u64,
        reply: Reply,
    },
}

/// Whether the daemon speaks `client`'s version; the refusal in words if not.
pub fn check_version(client: ProtocolVersion) -> Result<(), String> {
    if client.major == PROTOCOL_VERSION.major {
        Ok(())
    } else {
        Err(format!(
            "protocol version {client} is not spoken here: this daemon speaks {PROTOCOL_VERSION} (major versions must match; \
             use a fleetdeck of the same major version)"
        ))
    }
}

/// `snapshot` with only the newest point of each series and no minutes.
pub fn summary(snapshot: &Snapshot) -> Snapshot {
    let mut out = snapshot.clone();
    for group in &mut out.groups {
        for series in &mut group.series {
            let newest: Vec<_> = series.points.last().copied().into_iter().collect();
            series.points = newest.into();
            series.minutes = Default::default();
        }
    }
    out
}

/// What a client was last sent of each series: the newest raw point's time and the end
/// of the last closed minute.
#[derive(Clone, Debug, Default)]
pub struct Sent(
    std::collections::HashMap<(String, crate::model::MetricKind), (Timestamp, Option<Timestamp>)>,
);

impl Sent {
    /// `snapshot` as an update on what was sent before, and remembers it as sent.
    pub fn update(&mut self, snapshot: &Snapshot) -> Snapshot {
        let mut out = snapshot.clone();
        for group in &mut out.groups {
            for series in &mut group.series {
                let key = (group.spec.name.clone(), series.kind.clone());
                let (newest, minutes_end) = self.0.get(&key).copied().unwrap_or((Timestamp(i64::MIN), None));
                let points: Vec<Sample> = series.points.iter().filter(|p| p.at > newest).copied().collect();
                let minutes: Vec<(Timestamp, MinutePoint)> = series
                    .minutes
                    .iter()
                    .filter(|(at, _)| minutes_end.is_none_or(|end| *at >= end))
                    .collect();
                let start = minutes.first().map(|(at, _)| *at).unwrap_or_default();
                series.minutes =
                    SharedMinutes::new(start, minutes.into_iter().map(|(_, p)| p).collect::<Vec<_>>().into());
                series.points = points.into();
            }
        }
        self.remember(snapshot);
        out
    }

    /// Remembers `snapshot` as sent in full.
    pub fn remember(&mut self, snapshot: &Snapshot) {
        for group in &snapshot.groups {
            for series in &group.series {
                let newest = series.points.last().map_or(Timestamp(i64::MIN), |p| p.at);
                let minutes_end =
                    series.minutes.last().map(|(at, _)| at.plus(std::time::Duration::from_secs(60)));
                self.0.insert((group.spec.name.clone(), series.kind.clone()), (newest, minutes_end));
            }
        }
    }
}

/// The whole snapshot from the one before it and an update, each series keeping at most
/// `raw_points` raw points and `minute_points` minutes (the engine's own limits).
pub fn merge(previous: &Snapshot, update: Snapshot, raw_points: usize, minute_points: usize) -> Snapshot {
    let mut out = update;
    for group in &mut out.groups {
        let Some(before) = previous.group(&group.spec.name) else { continue };
        for series in &mut group.series {
            let Some(old) = before.series(&series.kind) else { continue };
            let mut points: Vec<Sample> = old.points.iter().copied().collect();
            points.extend(series.points.iter().copied());
            let drop = points.len().saturating_sub(raw_points.max(1));
            series.points = points.split_off(drop).into();
            // Old minutes up to where the new ones start, gaps for any minute between.
            let mut minutes: Vec<(Timestamp, MinutePoint)> = old.minutes.iter().collect();
            if let Some((start, _)) = series.minutes.first() {
                minutes.retain(|(at, _)| *at < start);
                let mut next = minutes.last().map(|(at, _)| at.plus(std::time::Duration::from_secs(60)));
                while let Some(at) = next.filter(|at| *at < start) {
                    minutes.push((at, MinutePoint::GAP));
                    next = Some(at.plus(std::time::Duration::from_secs(60)));
                }
                minutes.extend(series.minutes.iter());
            }
            let drop = minutes.len().saturating_sub(minute_points.max(1));
            let minutes = minutes.split_off(drop);
            series.minutes = match minutes.first() {
                Some(&(start, _)) => {
                    SharedMinutes::new(start, minutes.into_iter().map(|(_, p)| p).collect::<Vec<_>>().into())
                }
                None => old.minutes.clone(),
            };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_as_written() {
        let hello =
            ClientMsg::Hello(Hello { token: Some("t".into()), ..Hello::new(SnapshotWish::Once, true) });
        let line = serde_json::to_string(&hello).unwrap();
        assert!(!line.contains('\n'));
        assert_eq!(serde_json::from_str::<ClientMsg>(&line).unwrap(), hello);
        let refused = ServerMsg::Refused { reason: "no".into() };
        let line = serde_json::to_string(&refused).unwrap();
        assert_eq!(line, r#"{"refused":{"reason":"no"}}"#);
        assert_eq!(serde_json::from_str::<ServerMsg>(&line).unwrap(), refused);
    }

    #[test]
    fn a_hellos_debug_shows_no_token() {
        let hello = Hello { token: Some("alice-s3cre".into()), ..Hello::new(SnapshotWish::Once, true) };
        let shown = format!("{:?}", ClientMsg::Hello(hello));
        assert!(!shown.contains("alice-s3cre") && shown.contains("token: Some(\"<redacted>\")"), "{shown}");
    }

    #[test]
    fn only_the_same_major_version_is_spoken() {
        assert!(check_version(PROTOCOL_VERSION).is_ok());
        let newer_minor = ProtocolVersion { minor: PROTOCOL_VERSION.minor + 1, ..PROTOCOL_VERSION };
        assert!(check_version(newer_minor).is_ok());
        let other = ProtocolVersion { major: PROTOCOL_VERSION.major + 1, minor: 0 };
        let refusal = check_version(other).unwrap_err();
        assert!(refusal.contains(&format!("protocol version {other} is not spoken here")), "{refusal}");
        assert!(refusal.contains(&PROTOCOL_VERSION.to_string()), "{refusal}");
    }

    #[test]
    fn a_summary_keeps_the_newest_point_of_each_series() {
        let fleet = crate::ui::fixtures::fleet();
        let small = summary(&fleet);
        for (full, summed) in fleet.groups.iter().zip(&small.groups) {
            for (a, b) in full.series.iter().zip(&summed.series) {
                assert_eq!(b.points.len(), 1);
                assert_eq!(b.points.last(), a.points.last());
                assert!(b.minutes.is_empty());
            }
        }
        let (big, little) = (serde_json::to_string(&fleet).unwrap(), serde_json::to_string(&small).unwrap());
        assert!(little.len() * 10 < big.len(), "{} vs {}", little.len(), big.len());
    }

    #[test]
    fn updates_carry_only_what_is_new_and_merge_back_into_the_whole() {
        let fleet = crate::ui::fixtures::fleet();
        // The client had the fleet as it was 10 points (50 s) earlier, and 2 minutes fewer.
        let earlier = {
            let mut s = fleet.clone();
            for group in &mut s.groups {
                for series in &mut group.series {
                    let n = series.points.len();
                    let points: Vec<Sample> =
                        series.points.iter().take(n.saturating_sub(10)).copied().collect();
                    series.points = points.into();
                    let m = series.minutes.len();
                    let kept: Vec<(Timestamp, MinutePoint)> =
                        series.minutes.iter().take(m.saturating_sub(2)).collect();
                    let start = kept.first().map(|(at, _)| *at).unwrap_or_default();
                    series.minutes = SharedMinutes::new(
                        start,
                        kept.into_iter().map(|(_, p)| p).collect::<Vec<_>>().into(),
                    );
                }
            }
            s
        };
        let mut sent = Sent::default();
        sent.remember(&earlier);
        let update = sent.update(&fleet);
        let chat = update.group("llm-chat").unwrap().series(&crate::model::MetricKind::GpuUtil).unwrap();
        assert_eq!(chat.points.len(), 10);
        assert_eq!(chat.minutes.len(), 2);
        let (small, big) = (serde_json::to_string(&update).unwrap(), serde_json::to_string(&fleet).unwrap());
        assert!(small.len() * 5 < big.len(), "{} vs {}", small.len(), big.len());
        // Compared as JSON: gap minutes are NaN, which is never equal to itself.
        let json = |s: &Snapshot| serde_json::to_string(s).unwrap();
        let merged = merge(&earlier, update, 60, 24 * 60);
        assert!(json(&merged) == json(&fleet), "the merge is not the whole snapshot");
        // Nothing new: an update of empty series, and the merge is unchanged.
        let again = sent.update(&fleet);
        assert!(
            again.groups.iter().all(|g| g.series.iter().all(|s| s.points.is_empty() && s.minutes.is_empty()))
        );
        assert!(json(&merge(&fleet, again, 60, 24 * 60)) == json(&fleet));
    }
}
