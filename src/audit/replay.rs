//! Replaying a logged decision: picking a decision line out of a log, and comparing the
//! decision `decide` gives now with the one logged. Pure apart from reading the file;
//! `fleetdeck decide` does the printing.

use std::path::Path;

use serde_json::Value;

use crate::policy::{self, Decision};

use super::AuditError;
use super::line::{AuditLine, DecisionLine};
use super::reader::read_lines;

/// A decision line and where it was found.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedDecision {
    /// The 1-based line number in its file.
    pub line: usize,
    pub record: DecisionLine,
}

impl LoggedDecision {
    /// Runs the policy again on the logged state and inputs, at the logged instant.
    pub fn decide_again(&self) -> Decision {
        policy::decide(&self.record.state, &self.record.inputs, self.record.at)
    }
}

/// The decision line numbered `line` of the log at `path`, or with None its last decision
/// line. Lines other than the one asked for are not read with `line`, so a torn line
/// elsewhere does not stand in the way; without it, any bad line is an error that names
/// it.
pub fn find_decision(path: &Path, line: Option<usize>) -> Result<LoggedDecision, AuditError> {
    let fail = |line: usize, message: String| AuditError::BadLine { path: path.to_path_buf(), line, message };
    let mut lines = read_lines(path);
    let mut last = None;
    while let Some(item) = lines.next() {
        let number = lines.line_number();
        match (item, line) {
            (Err(err), None) => return Err(err),
            (Err(err), Some(wanted)) if wanted == number || matches!(err, AuditError::Io { .. }) => {
                return Err(err);
            }
            (Ok(AuditLine::Decision(record)), Some(wanted)) if wanted == number => {
                return Ok(LoggedDecision { line: number, record: *record });
            }
            (Ok(AuditLine::Command(_)), Some(wanted)) if wanted == number => {
                return Err(fail(number, "a command line, not a decision line".into()));
            }
            (Ok(AuditLine::Decision(record)), None) => {
                last = Some(LoggedDecision { line: number, record: *record })
            }
            _ => {}
        }
    }
    match line {
        Some(wanted) => {
            Err(fail(wanted, format!("no such line (the log has {} lines)", lines.line_number())))
        }
        None => last.ok_or_else(|| fail(lines.line_number(), "no decision line in the log".into())),
    }
}

/// How `now` differs from `logged`: one entry per top-level field of the decision whose
/// JSON differs, as `field: logged X, now Y`. Empty when they serialise identically.
pub fn differences(logged: &Decision, now: &Decision) -> Vec<String> {
    let (Ok(Value::Object(logged)), Ok(Value::Object(now))) =
        (serde_json::to_value(logged), serde_json::to_value(now))
    else {
        return vec!["the decisions cannot be compared as JSON".to_string()];
    };
    logged
        .keys()
        .chain(now.keys().filter(|k| !logged.contains_key(*k)))
        .filter_map(|field| {
            let (was, is) =
                (logged.get(field).unwrap_or(&Value::Null), now.get(field).unwrap_or(&Value::Null));
            (was != is).then(|| format!("{field}: logged {was}, now {is}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditLog, AuditOptions};
    use crate::decide_cmd;

    fn logged_fixtures(path: &Path) {
        let mut log = AuditLog::open(path, AuditOptions::default()).unwrap();
        for name in ["scale-out", "paused"] {
            let fixture =
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/decide/{name}.toml"));
            let file = decide_cmd::read(&fixture).unwrap();
            log.record_decision(&file.group, &file.inputs, &decide_cmd::run(&file), false).unwrap();
        }
        let (request, reply) = (
            crate::protocol::CommandRequest {
                operator: crate::protocol::Operator { name: "ana".into(), email: None, auth: None },
                reason: None,
                command: crate::protocol::Command::Sim {
                    action: crate::protocol::SimCommand::Fail { group: "g".into(), count: 1 },
                },
            },
            crate::protocol::Reply::Ok { message: "ok".into() },
        );
        log.record_command(crate::model::Timestamp(0), &request, &reply).unwrap();
    }

    #[test]
    fn the_last_decision_line_or_the_one_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        logged_fixtures(&path);
        // scale-out is an action (line 1); paused is a pending run, written on drop after
        // the command (line 3).
        let last = find_decision(&path, None).unwrap();
        assert_eq!(
            (last.line, last.record.group.as_str(), last.record.decision.desired),
            (3, "llm-chat", None)
        );
        assert_eq!(find_decision(&path, Some(1)).unwrap().record.decision.desired, Some(6));
        let err = find_decision(&path, Some(2)).unwrap_err().to_string();
        assert!(err.ends_with(":2: a command line, not a decision line"), "{err}");
        let err = find_decision(&path, Some(9)).unwrap_err().to_string();
        assert!(err.ends_with(":9: no such line (the log has 3 lines)"), "{err}");
    }

    #[test]
    fn a_torn_line_is_an_error_unless_another_line_is_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        logged_fixtures(&path);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"v\":1,\"kind\":\"deci");
        std::fs::write(&path, text).unwrap();
        assert!(find_decision(&path, None).unwrap_err().to_string().contains(":4: not an audit line"));
        assert_eq!(find_decision(&path, Some(3)).unwrap().line, 3);
    }

    #[test]
    fn differences_name_each_field_with_both_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        logged_fixtures(&path);
        let logged = find_decision(&path, Some(1)).unwrap();
        let again = logged.decide_again();
        assert_eq!(differences(&logged.record.decision, &again), Vec::<String>::new());
        let mut tampered = again.clone();
        tampered.desired = Some(7);
        assert_eq!(differences(&tampered, &again), ["desired: logged 7, now 6"]);
    }
}
