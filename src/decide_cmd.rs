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
//! This module reads and writes; the decision itself is pure.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{Timestamp, format_duration};
use crate::policy::{self, Decision, GroupState, Inputs};

/// What a decide file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideFile {
    pub now: Timestamp,
    pub group: GroupState,
    #[serde(default)]
    pub inputs: Inputs,
}

/// A decide file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Parse { path: String, line: usize, column: usize, message: String },
}

/// Reads a decide file: JSON for `.json` or `-` (standard input), TOML otherwise.
pub fn read(path: &Path) -> Result<DecideFile, DecideError> {
    let shown = path.display().to_string();
    let (text, json) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|source| DecideError::Read { path: "<stdin>".into(), source })?;
        (text, true)
    } else {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DecideError::Read { path: shown.clone(), source })?;
        (text, path.extension().is_some_and(|e| e == "json"))
    };
    parse(&text, json, &shown)
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
            let (line, column) = e.span().map_or((1, 1), |span| line_col(text, span.start));
            DecideError::Parse { path: origin.to_string(), line, column, message: e.message().to_string() }
        })
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Runs the policy on a decide file.
pub fn run(file: &DecideFile) -> Decision {
    policy::decide(&file.group, &file.inputs, file.now)
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
        out.push_str(&format!("  {:<28} {:>4}  {}\n", policy_name(&p.policy), desired, p.reason));
    }
    out.push_str(&format!("recommendation: {}\n", decision.recommendation));
    let b = &decision.bounds;
    out.push_str(&format!("bounds: [{}, {}]\n", b.min, b.max));
    for c in &decision.clamps {
        out.push_str(&format!("clamp: {} → {} by {}\n", c.from, c.to, clamp_name(&c.by)));
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

fn policy_name(kind: &policy::PolicyKind) -> String {
    use policy::PolicyKind::*;
    match kind {
        TargetTracking { metric } => format!("target tracking {metric}"),
        LatencyGuard => "latency guard".to_string(),
        StepScaling { alarm } => format!("step scaling on {alarm}"),
        SimpleScaling { alarm } => format!("simple scaling on {alarm}"),
        Scheduled { action } => format!("scheduled {action}"),
        Predictive => "predictive".to_string(),
    }
}

fn clamp_name(by: &policy::ClampBy) -> String {
    use policy::ClampBy::*;
    match by {
        ColdStart => "cold start (at least 1 with demand)".to_string(),
        ScaleDownWindow => "scale-down window".to_string(),
        ScaleUpWindow => "scale-up window".to_string(),
        MaxStep => "max step".to_string(),
        Budget => "budget".to_string(),
        ScaleInPaused => "scale-in pause".to_string(),
        Stalled => "stalled scale-out".to_string(),
        ScheduledDesired { action } => format!("scheduled action {action}"),
        Hold { by } => format!("hold by {by}"),
        Min => "min".to_string(),
        Max => "max".to_string(),
    }
}
