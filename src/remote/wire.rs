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

use crate::protocol::{CommandRequest, Event, PROTOCOL_VERSION, ProtocolVersion, Reply, Snapshot};

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

/// The client's first line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
}

/// Decision-log entries a daemon keeps for clients that ask for the recent ones.
pub const BACKLOG: usize = 1_000;

impl Hello {
    pub fn new(snapshots: SnapshotWish, events: bool) -> Hello {
        Hello { version: PROTOCOL_VERSION, token: None, snapshots, summary: false, events, backlog: false }
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
}
