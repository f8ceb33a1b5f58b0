//! The two kinds of audit line as types, and their one JSON encoding: the writer and the
//! reader both go through [`AuditLine::to_json`] and [`AuditLine::parse`], so the format
//! has a single definition (documented in the [module doc](super)).
//!
//! Knows nothing of files, coalescing or rotation.

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;
use crate::policy::{Decision, GroupState, Inputs};
use crate::protocol::{Command, Operator, Reply};

/// The format version this build writes and reads (`"v"`).
pub const LINE_VERSION: u32 = 1;

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq)]
pub enum AuditLine {
    /// Boxed, both: a decision line carries a whole group state, a command line its
    /// operator's credentials as well as a few words.
    Decision(Box<DecisionLine>),
    Command(Box<CommandLine>),
}

/// A group's decision — or a run of identical "no change" decisions — with exactly the
/// state and inputs `decide` was called with, so `decide(state, inputs, at)` reproduces
/// `decision`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionLine {
    /// The (first) decision's instant; `decision.at`.
    pub at: Timestamp,
    pub group: String,
    pub state: GroupState,
    pub inputs: Inputs,
    pub decision: Decision,
    /// Decided in shadow mode: logged, not acted on.
    pub shadow: bool,
    /// How many ticks this line stands for (1 unless a coalesced run).
    pub count: u64,
    /// The last tick of the run (`at` when `count` is 1).
    pub last_at: Timestamp,
}

/// An operator command and the engine's reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommandLine {
    pub at: Timestamp,
    pub operator: Operator,
    pub command: Command,
    /// The reason the operator gave; `null` when none.
    pub reason: Option<String>,
    pub reply: Reply,
}

impl DecisionLine {
    /// A single decision (count 1).
    pub fn new(state: &GroupState, inputs: &Inputs, decision: &Decision, shadow: bool) -> Self {
        DecisionLine {
            at: decision.at,
            group: decision.group.clone(),
            state: state.clone(),
            inputs: inputs.clone(),
            decision: decision.clone(),
            shadow,
            count: 1,
            last_at: decision.at,
        }
    }
}

/// `{"v":1,"kind":…}` followed by the line's own fields, in that order.
#[derive(Serialize)]
struct Tagged<'a, T> {
    v: u32,
    kind: &'static str,
    #[serde(flatten)]
    line: &'a T,
}

/// Just enough of a line to know how to read the rest.
#[derive(Deserialize)]
struct Header {
    v: u32,
    kind: String,
}

impl AuditLine {
    /// The line's JSON, without the newline.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        match self {
            AuditLine::Decision(line) => {
                serde_json::to_string(&Tagged { v: LINE_VERSION, kind: "decision", line })
            }
            AuditLine::Command(line) => {
                serde_json::to_string(&Tagged { v: LINE_VERSION, kind: "command", line })
            }
        }
    }

    /// Reads one line (without its newline). The error says what is wrong, not where: the
    /// caller knows the file and line number.
    pub fn parse(text: &str) -> Result<AuditLine, String> {
        let header: Header = serde_json::from_str(text).map_err(|e| format!("not an audit line: {e}"))?;
        if header.v != LINE_VERSION {
            return Err(format!("audit line version {} (this build reads version {LINE_VERSION})", header.v));
        }
        match header.kind.as_str() {
            "decision" => serde_json::from_str(text).map(AuditLine::Decision),
            "command" => serde_json::from_str(text).map(|line| AuditLine::Command(Box::new(line))),
            other => return Err(format!("unknown kind `{other}` (expected `decision` or `command`)")),
        }
        .map_err(|e| format!("bad {} line: {e}", header.kind))
    }

    pub fn at(&self) -> Timestamp {
        match self {
            AuditLine::Decision(line) => line.at,
            AuditLine::Command(line) => line.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{CommandRequest, SimCommand};

    fn command_line() -> AuditLine {
        let request = CommandRequest {
            operator: Operator { name: "ana".into(), email: None, auth: None },
            reason: Some("INC-123".into()),
            command: Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 2 } },
        };
        AuditLine::Command(Box::new(CommandLine {
            at: Timestamp(1_700_000_000_000),
            operator: request.operator,
            command: request.command,
            reason: request.reason,
            reply: Reply::Ok { message: "2 instances of vision fail".into() },
        }))
    }

    #[test]
    fn a_command_line_starts_with_version_and_kind_and_parses_back() {
        let line = command_line();
        let json = line.to_json().unwrap();
        assert!(
            json.starts_with(r#"{"v":1,"kind":"command","at":1700000000000,"operator":{"name":"ana"}"#),
            "{json}"
        );
        assert!(json.contains(r#""reason":"INC-123","reply":{"reply":"ok""#), "{json}");
        assert_eq!(AuditLine::parse(&json).unwrap(), line);
    }

    #[test]
    fn another_version_or_kind_is_refused_by_name() {
        let json = command_line().to_json().unwrap();
        let v2 = json.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert!(AuditLine::parse(&v2).unwrap_err().contains("version 2"));
        let alarm = json.replacen(r#""kind":"command""#, r#""kind":"alarm""#, 1);
        assert!(AuditLine::parse(&alarm).unwrap_err().contains("unknown kind `alarm`"));
        assert!(
            AuditLine::parse(r#"{"v":1,"kind":"command","at":5}"#).unwrap_err().contains("bad command line")
        );
    }
}
