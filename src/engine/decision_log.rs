//! The decision log the front ends show (protocol 1.3): which decisions become entries,
//! and each decision in the words of a [`DecisionEntry`].
//!
//! An entry is made for every change of desired, and whenever what holds the group where
//! it is changes: its desired or bounds, what blocks it (and who, for a pause or a hold),
//! a stalled scale-out, the metrics it cannot use, or shadow mode. A policy changing its
//! opinion without changing the outcome ("needs 3" then "needs 4" while staying at 4) is
//! not news to an operator. This is coarser than the audit log, which starts a new line
//! whenever a proposal's value or words change, since it must reproduce every decision.

use std::mem::{Discriminant, discriminant};

use crate::model::MetricKind;
use crate::policy::{self, AlarmInput, Block, Decision, Inputs, Problem, words};
use crate::protocol::{ClampView, DecisionEntry, InputView, ProposalView};

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

/// One group's current standing, which its newest entry stands for.
#[derive(Clone, Debug, Default)]
pub struct DecisionRuns {
    last: Option<Standing>,
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
        blocked: decision.blocked.iter().map(policy::block_text).collect(),
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
}
