//! The decision log the front ends show (protocol 1.3): which decisions become entries,
//! and each decision in the words of a [`DecisionEntry`].
//!
//! An entry is made for every change of desired, and whenever what holds the group where
//! it is changes: its desired or bounds, what blocks it (and who, for a pause or a hold),
//! a stalled scale-out, the metrics it cannot use, or shadow mode. A policy changing its
//! opinion without changing the outcome ("needs 3" then "needs 4" while staying at 4) is
//! not news to an operator. This is coarser than the audit log, which starts a new line
//! whenever a proposal's value or words change, since it must reproduce every decision.
//! An entry that would say word for word what the group's previous one said is no news
//! either (a shadow-mode group "would scale out 4→6" tick after tick): it is not made.
//!
//! Operator actions (pause, resume, shadow, silence; a reset closing trips) and the
//! circuit breaker's trips and closes are entries too ([`action_entry`], `by` set), so
//! the log is the timeline of who did what. A forced scale is the decision that applies
//! its hold, in the words "forced by ana, held until …" (`policy::reason`).

use std::mem::{Discriminant, discriminant};

use crate::model::{MetricKind, PauseMode, Timestamp, format_duration};
use crate::policy::{self, AlarmInput, Block, Decision, GroupState, Inputs, Problem, words};
use crate::protocol::{ClampView, Command, CommandRequest, DecisionEntry, InputView, ProposalView};

/// What an entry stands for: decisions with equal standings are one entry.
#[derive(Clone, Debug, PartialEq)]
struct Standing {
    shadow: bool,
    current: u32,
    bounds: (u32, u32),
    /// Each block's kind, with who for a pause or a hold.
    blocked: Vec<(Discriminant<Block>, Option<String>)>,
    stalled: bool,
    problems: Vec<(MetricKind, Discriminant<Problem>)>,
}

impl Standing {
    /// None for a decision that changes desired: that is always an entry of its own.
    fn of(decision: &Decision, shadow: bool) -> Option<Standing> {
        if decision.desired.is_some() {
            return None;
        }
        let who = |block: &Block| match block {
            Block::Paused { by, .. } | Block::ScaleInPaused { by, .. } | Block::Held { by, .. } => {
                Some(by.clone())
            }
            _ => None,
        };
        Some(Standing {
            shadow,
            current: decision.current,
            bounds: (decision.bounds.min, decision.bounds.max),
            blocked: decision.blocked.iter().map(|b| (discriminant(b), who(b))).collect(),
            stalled: decision.stalled.is_some(),
            problems: decision
                .problems
                .iter()
                .map(|p| (p.metric.clone(), discriminant(&p.problem)))
                .collect(),
        })
    }
}

/// One group's current standing, which its newest entry stands for, and what that entry
/// said.
#[derive(Clone, Debug, Default)]
pub struct DecisionRuns {
    last: Option<Standing>,
    /// The newest decision entry's outcome and words.
    said: Option<(u32, Option<u32>, String)>,
}

impl DecisionRuns {
    /// Whether `decision` starts a new entry: it changes desired, or what holds the group
    /// changed (see the module doc).
    pub fn starts_entry(&mut self, decision: &Decision, shadow: bool) -> bool {
        let standing = Standing::of(decision, shadow);
        let new = standing.is_none() || standing != self.last;
        self.last = standing;
        new
    }

    /// Whether `entry` says something the group's previous entry did not: false for the
    /// same outcome in the same words.
    pub fn is_news(&mut self, entry: &DecisionEntry) -> bool {
        let said = Some((entry.current, entry.desired, entry.reason_line()));
        let news = said != self.said;
        self.said = said;
        news
    }
}

/// An entry that is not a decision: `what` an operator or the breaker (`by`) did to the
/// group, which keeps its desired and bounds.
pub fn action_entry(at: Timestamp, group: &str, state: &GroupState, by: &str, what: String) -> DecisionEntry {
    let current = state.capacity.desired;
    DecisionEntry {
        at,
        group: group.to_string(),
        current,
        desired: None,
        reason: what,
        shadow: false,
        not_acted: None,
        inputs: Vec::new(),
        alarms: Vec::new(),
        proposals: Vec::new(),
        recommendation: current,
        min: (state.min, "group".into()),
        max: (state.max, "group".into()),
        clamps: Vec::new(),
        blocked: Vec::new(),
        by: Some(by.to_string()),
    }
}

/// What an accepted command did to each group it changed, in words ("paused by ana for
/// 30m (until 14:30 UTC): deploy"); None for the commands whose entries come otherwise:
/// a forced scale (the decision applying its hold), a reset (the trips it closed), the
/// simulator's.
pub fn command_words(request: &CommandRequest, now: Timestamp) -> Option<String> {
    let who = &request.operator;
    let lasting = |d: Option<std::time::Duration>| match d {
        Some(d) => format!(" for {} (until {})", format_duration(d), words::clock(now.plus(d))),
        None => String::new(),
    };
    let what = match &request.command {
        Command::Pause { duration, mode, .. } => {
            let verb = if *mode == PauseMode::ScaleInOnly { "scale-in paused" } else { "paused" };
            format!("{verb} by {who}{}", lasting(*duration))
        }
        Command::Resume { .. } => format!("resumed by {who}"),
        Command::Shadow { on: true, .. } => format!("shadow mode on by {who}: decides, does not act"),
        Command::Shadow { on: false, .. } => format!("shadow mode off by {who}: acts again"),
        Command::Silence { duration, .. } => format!("alarms silenced by {who}{}", lasting(Some(*duration))),
        Command::Unsilence { .. } => format!("alarms unsilenced by {who}"),
        Command::ForceScale { .. }
        | Command::ResetBreaker { .. }
        | Command::Sim { .. }
        | Command::Acknowledge { .. } => return None,
    };
    Some(match request.reason.as_deref().map(str::trim) {
        Some(reason) if !reason.is_empty() => format!("{what}: {reason}"),
        _ => what,
    })
}

/// The decision as the log shows it.
pub fn entry(decision: &Decision, inputs: &Inputs, shadow: bool, not_acted: Option<String>) -> DecisionEntry {
    let alarms = inputs.alarms.iter().map(alarm_text).collect();
    let inputs =
        inputs.metrics.iter().map(|m| InputView { kind: m.kind.clone(), value: m.value, at: m.at }).collect();
    DecisionEntry {
        at: decision.at,
        group: decision.group.clone(),
        current: decision.current,
        desired: decision.desired,
        reason: decision.reason.clone(),
        shadow,
        not_acted,
        inputs,
        alarms,
        proposals: decision
            .proposals
            .iter()
            .map(|p| ProposalView {
                policy: words::policy_name(&p.policy),
                desired: p.desired,
                reason: p.reason.clone(),
            })
            .collect(),
        recommendation: decision.recommendation,
        min: (decision.bounds.min, words::bound_source(&decision.bounds.min_from)),
        max: (decision.bounds.max, words::bound_source(&decision.bounds.max_from)),
        clamps: decision
            .clamps
            .iter()
            .map(|c| ClampView { from: c.from, to: c.to, by: words::clamp_name(&c.by) })
            .collect(),
        blocked: decision.blocked.iter().map(policy::block_detail).collect(),
        by: None,
    }
}

/// "queue-high FIRING at 63 (threshold 50)".
fn alarm_text(alarm: &AlarmInput) -> String {
    let value = alarm.value.map_or("no data".to_string(), |v| format!("at {}", words::number(v)));
    format!(
        "{} {} {value} (threshold {})",
        alarm.name,
        words::alarm_state(alarm.state),
        words::number(alarm.threshold)
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::MetricProblem;

    /// A "no change" decision of the scale-out fixture group, inside its tolerance.
    fn no_change() -> Decision {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decide/scale-out.toml");
        let mut file = crate::decide_cmd::read(&path).unwrap();
        for m in &mut file.inputs.metrics {
            if m.kind == MetricKind::GpuUtil {
                m.value = 0.71;
            }
        }
        let decision = policy::decide(&file.group, &file.inputs, file.now);
        assert_eq!(decision.desired, None, "{}", decision.reason);
        decision
    }

    fn paused_by(by: &str) -> Block {
        Block::Paused { by: by.into(), until: None, reason: String::new() }
    }

    #[test]
    fn an_entry_is_news_of_a_change_or_of_what_holds_the_group_not_of_opinions() {
        let mut runs = DecisionRuns::default();
        let first = no_change();
        assert!(runs.starts_entry(&first, false), "the first decision is an entry");
        assert!(!runs.starts_entry(&first, false), "the same again is not");
        // A policy changing its mind without changing the outcome is not news.
        let mut opinion = first.clone();
        for p in &mut opinion.proposals {
            p.desired = Some(first.current + 1);
            p.reason = "gpu_util 0.76 within 10 % of target 0.70".into();
        }
        opinion.recommendation += 1;
        opinion.reason = "no change: another opinion".into();
        assert!(!runs.starts_entry(&opinion, false));
        // What holds it is: a pause, another operator's pause, unusable data, shadow mode.
        let mut paused = first.clone();
        paused.blocked = vec![paused_by("ana")];
        assert!(runs.starts_entry(&paused, false));
        let mut until_later = paused.clone();
        until_later.reason = "blocked: paused by ana — stays; gpu_util 0.95 > target 0.70 (needs 9)".into();
        assert!(!runs.starts_entry(&until_later, false), "same pause, other numbers");
        let mut by_bob = paused.clone();
        by_bob.blocked = vec![paused_by("bob")];
        assert!(runs.starts_entry(&by_bob, false));
        let mut stale = by_bob.clone();
        stale.problems = vec![MetricProblem { metric: MetricKind::GpuUtil, problem: Problem::Missing }];
        assert!(runs.starts_entry(&stale, false));
        assert!(runs.starts_entry(&stale, true), "shadow mode");
        // Every change of desired is an entry, and so is the first decision after it.
        let mut change = first.clone();
        change.desired = Some(first.current + 2);
        assert!(runs.starts_entry(&change, false));
        assert!(runs.starts_entry(&change, false), "two changes in a row are two entries");
        assert!(runs.starts_entry(&first, false));
    }

    #[test]
    fn the_entry_carries_the_decision_in_words() {
        let mut decision = no_change();
        decision.blocked = vec![paused_by("ana")];
        let inputs = Inputs {
            metrics: vec![policy::MetricInput::new(MetricKind::GpuUtil, decision.at, 0.71)],
            ..Inputs::default()
        };
        let entry = entry(&decision, &inputs, true, Some("observing: automation owned by b".into()));
        assert_eq!((entry.current, entry.desired, entry.shadow), (decision.current, None, true));
        assert_eq!(entry.blocked, ["paused by ana"]);
        assert_eq!(entry.inputs.len(), 1);
        assert_eq!(entry.proposals.len(), decision.proposals.len());
        assert!(entry.proposals[0].policy.starts_with("target tracking"), "{:?}", entry.proposals);
        assert_eq!(entry.min, (decision.bounds.min, "group".to_string()));
        assert_eq!(entry.not_acted.as_deref(), Some("observing: automation owned by b"));
    }

    #[test]
    fn an_entry_saying_word_for_word_what_the_previous_one_said_is_not_made() {
        let decision = no_change();
        let inputs = crate::policy::Inputs::default();
        let mut runs = DecisionRuns::default();
        let mut would = entry(&decision, &inputs, true, None);
        would.desired = Some(would.current + 2);
        would.reason = "scale out 4→6: gpu_util 0.95 > target 0.70 (needs 6)".into();
        assert!(runs.is_news(&would));
        assert!(!runs.is_news(&would.clone()), "a shadow group's would-scale, tick after tick");
        let mut more = would.clone();
        more.reason = "scale out 4→7: gpu_util 0.99 > target 0.70 (needs 7)".into();
        more.desired = Some(7);
        assert!(runs.is_news(&more));
        assert!(runs.is_news(&would), "back to what it said before: news again");
    }

    #[test]
    fn commands_in_words_say_who_for_how_long_and_why() {
        use crate::protocol::{Operator, Target};
        let now = crate::model::Timestamp(1_767_225_600_000); // 00:00 UTC
        let request = |command: Command, reason: Option<&str>| CommandRequest {
            operator: Operator { name: "ana".into(), email: None, auth: None },
            reason: reason.map(str::to_string),
            command,
        };
        let pause = Command::Pause {
            target: Target::All,
            duration: Some(std::time::Duration::from_secs(1800)),
            mode: PauseMode::ScaleInOnly,
        };
        assert_eq!(
            command_words(&request(pause, Some(" deploy ")), now).as_deref(),
            Some("scale-in paused by ana for 30m (until 00:30 UTC): deploy")
        );
        let silence = Command::Silence { target: Target::All, duration: std::time::Duration::from_secs(600) };
        assert_eq!(
            command_words(&request(silence, Some("  ")), now).as_deref(),
            Some("alarms silenced by ana for 10m (until 00:10 UTC)")
        );
        let force = Command::ForceScale {
            group: "g".into(),
            desired: 3,
            hold: std::time::Duration::from_secs(60),
            beyond_max: false,
        };
        assert_eq!(command_words(&request(force, None), now), None, "the decision applying the hold says it");
    }
}
