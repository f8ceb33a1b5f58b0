//! `fleetdeck decide FILE`: one group's state and one tick's inputs in, the policy's
//! [`Decision`] out — the same pure [`policy::decide`](crate::policy::decide()) the
//! engine runs, so an on-call engineer can ask "what would it do, and why?" offline.
//!
//! The file is TOML or JSON (chosen by extension; `-` reads JSON from standard input):
//!
//! ```toml
//! now = "2026-11-23T08:00:00Z"   # or milliseconds since the epoch
//!
//! [group]                         # policy::GroupState
//! name = "llm-chat"
//! min = 2
//! max = 16
//! capacity = { desired = 4, ready = 4, warming = 0, failed = 0 }
//! policy = { target_tracking = [{ metric = "gpu_util", target = 0.7 }] }
//!
//! [inputs]                        # policy::Inputs
//! stale_after = "45s"
//! metrics = [{ kind = "gpu_util", at = "2026-11-23T07:59:50Z", value = 0.93 }]
//! ```
//!
//! FILE may also be a line of the decision log ([`crate::audit`]): a `.jsonl` log (its
//! last decision line, or `--line N`), or one decision line as a JSON object
//! (`"kind":"decision"`). The policy runs on the logged state and inputs at the logged
//! instant, and the answer says whether it matches the logged decision.
//!
//! This module reads and writes; the decision itself is pure.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditError, AuditLine, LoggedDecision};
use crate::model::{Timestamp, format_duration};
use crate::policy::{self, Decision, GroupState, Inputs, words};

/// What a decide file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideFile {
    pub now: Timestamp,
    pub group: GroupState,
    #[serde(default)]
    pub inputs: Inputs,
}

/// What `fleetdeck decide` was given: a decide file, or a logged decision to replay.
#[derive(Clone, Debug, PartialEq)]
pub enum DecideInput {
    File(Box<DecideFile>),
    /// `origin` is the file as named (`<stdin>` for `-`); `line` is 1 for a lone line.
    Logged {
        origin: String,
        logged: Box<LoggedDecision>,
    },
}

/// A decide file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
    #[error(transparent)]
    Log(#[from] AuditError),
    #[error("{path}: --line picks a line of a decision log (a .jsonl file)")]
    LineWithoutLog { path: String },
}

/// Reads a decide file: JSON for `.json` or `-` (standard input), TOML otherwise.
pub fn read(path: &Path) -> Result<DecideFile, DecideError> {
    let (text, json) = read_text(path)?;
    parse(&text, json, &path.display().to_string())
}

/// Reads what `fleetdeck decide FILE [--line N]` was given: a decision log for
/// `decisions.jsonl` (and its rotations `decisions.jsonl.N`), a decision line for a JSON
/// object with `"kind":"decision"`, a decide file otherwise.
pub fn read_input(path: &Path, line: Option<usize>) -> Result<DecideInput, DecideError> {
    let origin = if path == Path::new("-") { "<stdin>".to_string() } else { path.display().to_string() };
    if is_log(path) {
        let logged = audit::find_decision(path, line)?;
        return Ok(DecideInput::Logged { origin, logged: Box::new(logged) });
    }
    if line.is_some() {
        return Err(DecideError::LineWithoutLog { path: origin });
    }
    let (text, json) = read_text(path)?;
    if is_decision_line(&text) {
        return match AuditLine::parse(&text) {
            Ok(AuditLine::Decision(record)) => Ok(DecideInput::Logged {
                origin,
                logged: Box::new(LoggedDecision { line: 1, record: *record }),
            }),
            Ok(AuditLine::Command(_)) => unreachable!("is_decision_line checked the kind"),
            Err(message) => Err(AuditError::BadLine { path: origin.into(), line: 1, message }.into()),
        };
    }
    parse(&text, json, &origin).map(|file| DecideInput::File(Box::new(file)))
}

/// `decisions.jsonl`, `x.jsonl`, or a rotated `x.jsonl.3`.
fn is_log(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    name.ends_with(".jsonl") || (base.len() < name.len() && base.ends_with(".jsonl."))
}

/// A JSON object whose `kind` is "decision" (a decide file has no `kind`).
fn is_decision_line(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Kind {
        kind: Option<String>,
    }
    text.trim_start().starts_with('{')
        && serde_json::from_str::<Kind>(text).is_ok_and(|k| k.kind.as_deref() == Some("decision"))
}

/// The text of FILE, and whether it is JSON by name (`.json`, or `-` for standard input).
fn read_text(path: &Path) -> Result<(String, bool), DecideError> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|source| DecideError::Read { path: "<stdin>".into(), source })?;
        Ok((text, true))
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DecideError::Read { path: path.display().to_string(), source })?;
        Ok((text, path.extension().is_some_and(|e| e == "json")))
    }
}

/// Parses decide-file text; errors carry line and column.
pub fn parse(text: &str, json: bool, origin: &str) -> Result<DecideFile, DecideError> {
    if json {
        serde_json::from_str(text).map_err(|e| DecideError::Parse {
            path: origin.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| crate::config::line_col(text, span.start));
            DecideError::Parse { path: origin.to_string(), line, column, message: e.message().to_string() }
        })
    }
}

/// Runs the policy on a decide file.
pub fn run(file: &DecideFile) -> Decision {
    policy::decide(&file.group, &file.inputs, file.now)
}

/// Runs the policy on whatever `fleetdeck decide` was given.
pub fn run_input(input: &DecideInput) -> Decision {
    match input {
        DecideInput::File(file) => run(file),
        DecideInput::Logged { logged, .. } => logged.decide_again(),
    }
}

/// For a logged decision: where it came from and whether `decided` matches it, with one
/// line per differing field. Empty `differences` means it matches.
pub fn render_verdict(origin: &str, logged: &LoggedDecision, differences: &[String]) -> String {
    let record = &logged.record;
    let mut out = format!("logged: {origin} line {}", logged.line);
    if record.count > 1 {
        out.push_str(&format!(", {} identical ticks until {}", record.count, record.last_at.to_rfc3339()));
    }
    if record.shadow {
        out.push_str(", shadow mode");
    }
    out.push('\n');
    if differences.is_empty() {
        out.push_str("matches the logged decision\n");
    } else {
        let fields: Vec<&str> = differences.iter().map(|d| d.split(':').next().unwrap_or(d)).collect();
        out.push_str(&format!("DIFFERS from the logged decision: {}\n", fields.join(", ")));
        for difference in differences {
            out.push_str(&format!("  {difference}\n"));
        }
    }
    out
}

/// The decision as an on-call engineer reads it.
pub fn render(decision: &Decision) -> String {
    let mut out = String::new();
    let outcome = match decision.desired {
        Some(to) => format!("set desired {} → {to}", decision.current),
        None => format!("keep desired at {}", decision.current),
    };
    out.push_str(&format!("{} at {}: {outcome}\n", decision.group, decision.at.to_rfc3339()));
    out.push_str(&format!("reason: {}\n", decision.reason));
    out.push_str("proposals:\n");
    if decision.proposals.is_empty() {
        out.push_str("  (no policy configured)\n");
    }
    for p in &decision.proposals {
        let desired = p.desired.map_or("-".to_string(), |d| d.to_string());
        out.push_str(&format!("  {:<28} {:>4}  {}\n", words::policy_name(&p.policy), desired, p.reason));
    }
    out.push_str(&format!("recommendation: {}\n", decision.recommendation));
    let b = &decision.bounds;
    out.push_str(&format!("bounds: [{}, {}]\n", b.min, b.max));
    for c in &decision.clamps {
        out.push_str(&format!("clamp: {} → {} by {}\n", c.from, c.to, words::clamp_name(&c.by)));
    }
    for block in &decision.blocked {
        out.push_str(&format!("blocked: {}\n", policy::block_text(block)));
    }
    if let Some(s) = &decision.stalled {
        out.push_str(&format!(
            "stalled: desired {} but {} ready or warming, for {} (since {})\n",
            s.desired,
            s.ready_plus_warming,
            format_duration(s.waiting),
            s.since.to_rfc3339()
        ));
    }
    out
}
