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
//! `[[alarms]]` entries add alarm rules with their datapoints: each is evaluated at `now`
//! and its state joins `inputs.alarms`, so the policy's step rules and gated targets read
//! it (see [`alarms`]):
//!
//! ```toml
//! [[alarms]]
//! datapoints = [40, "-", 180]     # one per period, oldest first; "-": no data
//! previous = "OK"                 # optional; default INSUFFICIENT_DATA
//! [alarms.rule]                   # as [[groups.alarms]] in the config
//! name = "queue-high"
//! # metric, statistic, comparison, threshold, period, datapoints_to_alarm, …
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

pub mod alarms;

pub use alarms::{AlarmCase, EvaluatedAlarm};

/// What a decide file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "DecideFileText")]
pub struct DecideFile {
    pub now: Timestamp,
    pub group: GroupState,
    #[serde(default)]
    pub inputs: Inputs,
    /// Alarm rules to evaluate on their datapoints; their states join `inputs.alarms`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<AlarmCase>,
}

/// [`DecideFile`] as written, before the checks that span its parts.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideFileText {
    #[serde(deserialize_with = "decision_instant")]
    now: Timestamp,
    group: GroupState,
    #[serde(default)]
    inputs: Inputs,
    #[serde(default)]
    alarms: Vec<AlarmCase>,
}

impl TryFrom<DecideFileText> for DecideFile {
    type Error = String;

    /// Each alarm is named once: by one `[[alarms]]` rule or one `inputs.alarms` entry.
    fn try_from(text: DecideFileText) -> Result<Self, String> {
        let evaluated = text.alarms.iter().map(|case| case.rule.name.as_str());
        let given = text.inputs.alarms.iter().map(|input| input.name.as_str());
        let mut names: Vec<&str> = evaluated.chain(given).collect();
        names.sort_unstable();
        if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!(
                "alarm `{}` is named twice (in [[alarms]] or inputs.alarms): an alarm has one state",
                pair[0]
            ));
        }
        let DecideFileText { now, group, inputs, alarms } = text;
        Ok(DecideFile { now, group, inputs, alarms })
    }
}

/// `now`, between 1970 and the end of 9999 (what RFC 3339 text can say): the alarms'
/// periods are counted from the epoch, and no arithmetic on them may run off the ends of
/// a [`Timestamp`].
fn decision_instant<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let now = Timestamp::deserialize(d)?;
    if (0..=Timestamp::LAST_RFC3339.as_millis()).contains(&now.as_millis()) {
        Ok(now)
    } else {
        Err(serde::de::Error::custom(format!(
            "`now` ({} ms since the epoch) must be from 1970-01-01T00:00:00Z to {}",
            now.as_millis(),
            Timestamp::LAST_RFC3339.to_rfc3339()
        )))
    }
}

/// What `fleetdeck decide` answers: each evaluated alarm, then the decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub alarms: Vec<EvaluatedAlarm>,
    pub decision: Decision,
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
        serde_json::from_str(text).map_err(|e| {
            let (line, column) = json_position(text, e.line(), e.column());
            // serde_json's text ends with its own " at line L column C"; ours leads.
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message).to_string();
            DecideError::Parse { path: origin.to_string(), line, column, message }
        })
    } else {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |span| crate::config::line_col(text, span.start));
            DecideError::Parse { path: origin.to_string(), line, column, message: e.message().to_string() }
        })
    }
}

/// serde_json's position as a 1-based line and column: it reports an error found at a
/// line's end as column 0 of the next line (or line 0 for an empty text); that is the end
/// of the line before.
fn json_position(text: &str, line: usize, column: usize) -> (usize, usize) {
    if line == 0 {
        return (1, 1);
    }
    if column > 0 {
        return (line, column);
    }
    match line.checked_sub(2).and_then(|before| text.split('\n').nth(before)) {
        Some(previous) => (line - 1, previous.chars().count() + 1),
        None => (line, 1),
    }
}

/// Runs the policy on a decide file.
pub fn run(file: &DecideFile) -> Decision {
    answer(file).decision
}

/// Evaluates a decide file's alarms at `now`, then runs the policy with their states
/// among its alarm inputs.
pub fn answer(file: &DecideFile) -> Answer {
    let alarms: Vec<EvaluatedAlarm> =
        file.alarms.iter().map(|case| alarms::evaluate(case, file.now)).collect();
    let decision = if alarms.is_empty() {
        policy::decide(&file.group, &file.inputs, file.now)
    } else {
        let mut inputs = file.inputs.clone();
        inputs.alarms.extend(alarms.iter().map(|a| a.status.to_input(&a.case.rule)));
        policy::decide(&file.group, &inputs, file.now)
    };
    Answer { alarms, decision }
}

/// Runs the policy on whatever `fleetdeck decide` was given.
pub fn run_input(input: &DecideInput) -> Decision {
    answer_input(input).decision
}

/// [`answer`] for whatever `fleetdeck decide` was given (a logged decision has no alarms
/// to evaluate: its alarm states are logged with its inputs).
pub fn answer_input(input: &DecideInput) -> Answer {
    match input {
        DecideInput::File(file) => answer(file),
        DecideInput::Logged { logged, .. } => Answer { alarms: Vec::new(), decision: logged.decide_again() },
    }
}

/// The evaluated alarms as an on-call engineer reads them, one block each:
///
/// ```text
/// alarm queue-high: FIRING since 2026-11-23T09:00:00Z
///   rule: queue_length average > 50 for 2 of 3 × 1m, missing data treated as breaching
///   datapoints: 40 - 180 (the newest from 2026-11-23T08:59:00Z)
///   history: INSUFFICIENT_DATA → OK at 08:58 UTC, OK → FIRING at 09:00 UTC
/// ```
pub fn render_alarms(alarms: &[EvaluatedAlarm]) -> String {
    // A long run of datapoints can change state many times; the newest changes tell.
    const CHANGES_SHOWN: usize = 6;
    let mut out = String::new();
    for alarm in alarms {
        let (rule, status) = (&alarm.case.rule, &alarm.status);
        let state = words::alarm_state(status.state);
        out.push_str(&format!("alarm {}: {state} since {}\n", rule.name, status.since.to_rfc3339()));
        out.push_str(&format!("  rule: {}, {}\n", rule.summary(), missing_data_words(rule.missing_data)));
        let values: Vec<String> = alarm
            .case
            .datapoints
            .iter()
            .map(|v| v.filter(|v| v.is_finite()).map_or("-".into(), |v| format!("{v}")))
            .collect();
        if values.is_empty() {
            out.push_str("  datapoints: none\n");
        } else {
            let newest = alarm.newest_period.to_rfc3339();
            out.push_str(&format!("  datapoints: {} (the newest from {newest})\n", values.join(" ")));
        }
        let changes = &alarm.transitions;
        if changes.is_empty() {
            out.push_str(&format!("  history: {} throughout\n", words::alarm_state(alarm.case.previous)));
            continue;
        }
        let earlier = changes.len().saturating_sub(CHANGES_SHOWN);
        let mut shown: Vec<String> = changes[earlier..]
            .iter()
            .map(|t| {
                format!(
                    "{} → {} at {}",
                    words::alarm_state(t.from),
                    words::alarm_state(t.to),
                    words::clock(t.at)
                )
            })
            .collect();
        if earlier > 0 {
            shown.insert(0, format!("({earlier} earlier changes)"));
        }
        out.push_str(&format!("  history: {}\n", shown.join(", ")));
    }
    out
}

/// CloudWatch's `TreatMissingData`, in words.
fn missing_data_words(treatment: crate::alarms::MissingData) -> &'static str {
    use crate::alarms::MissingData;
    match treatment {
        MissingData::Missing => "missing data treated as missing",
        MissingData::Ignore => "missing data ignored",
        MissingData::Breaching => "missing data treated as breaching",
        MissingData::NotBreaching => "missing data treated as not breaching",
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
