//! Coalescing runs of identical "no change" decisions, in memory and without I/O: each
//! group has at most one pending run, and [`Runs::offer`] says which finished lines to
//! write now. The writer decides when to write and flush; this module only keeps runs.
//!
//! Two decisions are *identical* when their [`RunKey`]s are equal: same group, same
//! shadow flag, neither changes desired, and the same current desired, recommendation,
//! effective bounds (and where they come from), clamps, blocks, stalled scale-out,
//! pending-since mark, and the same policies proposing the same values — while the
//! timestamps and the measured values are left out: the tick's `at`, the state updates'
//! recommendation time, a stalled scale-out's `waiting`, a stale metric's age, a latency
//! block's measured value, and every number in the reasons' words (the decision's reason
//! and each proposal's quote metric values, e.g. "gpu_util 0.72 within 10 % of target
//! 0.70"; their words still count, so "stale" and "missing" are different runs).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::Timestamp;
use crate::policy::{Block, Bounds, Clamp, Decision, MetricProblem, PolicyKind, Problem};

use super::line::DecisionLine;

/// What makes two "no change" decisions the same run (see the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct RunKey {
    group: String,
    shadow: bool,
    current: u32,
    recommendation: u32,
    bounds: Bounds,
    clamps: Vec<Clamp>,
    blocked: Vec<Block>,
    /// `(since, desired, ready_plus_warming)`: not how long it has waited.
    stalled: Option<(Timestamp, u32, u32)>,
    scale_out_pending_since: Option<Timestamp>,
    proposals: Vec<(PolicyKind, Option<u32>, bool, String)>,
    reason: String,
}

impl RunKey {
    /// The key of a decision that may join a run; None for one that changes desired.
    pub fn of(decision: &Decision, shadow: bool) -> Option<RunKey> {
        if decision.desired.is_some() {
            return None;
        }
        Some(RunKey {
            group: decision.group.clone(),
            shadow,
            current: decision.current,
            recommendation: decision.recommendation,
            bounds: decision.bounds.clone(),
            clamps: decision.clamps.clone(),
            blocked: decision.blocked.iter().map(unmeasured).collect(),
            stalled: decision.stalled.as_ref().map(|s| (s.since, s.desired, s.ready_plus_warming)),
            scale_out_pending_since: decision.state_updates.scale_out_pending_since,
            proposals: decision
                .proposals
                .iter()
                .map(|p| (p.policy.clone(), p.desired, p.may_scale_in, without_numbers(&p.reason)))
                .collect(),
            reason: without_numbers(&decision.reason),
        })
    }
}

/// A block with its measured values zeroed. Every variant is listed, so a new one has to
/// say whether it carries a measurement.
fn unmeasured(block: &Block) -> Block {
    let mut block = block.clone();
    match &mut block {
        Block::Data { metrics } => {
            for MetricProblem { problem, .. } in metrics {
                if let Problem::Stale { age } = problem {
                    *age = Duration::ZERO;
                }
            }
        }
        Block::Latency { value_secs, .. } => *value_secs = 0.0,
        Block::CapacityUnknown { age, .. } => *age = Duration::ZERO,
        Block::Paused { .. }
        | Block::ScaleInPaused { .. }
        | Block::Held { .. }
        | Block::ScaleDownWindow { .. }
        | Block::ScaleUpWindow { .. }
        | Block::MaxStep { .. }
        | Block::Budget { .. }
        | Block::Stalled { .. }
        | Block::Schedule { .. } => {}
    }
    block
}

/// Text with every number ("0.72", "14:30", "1.40s") reduced to `#`.
fn without_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            // One `#` for the whole number, decimal point and clock colons included.
            // One `#` for the whole number: digits, and a point or colon between digits.
            loop {
                let mut ahead = chars.clone();
                match ahead.next() {
                    Some(n) if n.is_ascii_digit() => {}
                    Some('.' | ':') if ahead.next().is_some_and(|n| n.is_ascii_digit()) => {
                        chars.next();
                    }
                    _ => break,
                }
                chars.next();
            }
            out.push('#');
        } else {
            out.push(c);
        }
    }
    out
}

/// One group's pending run: the first decision's line (count and last_at kept current).
#[derive(Debug)]
struct Run {
    key: RunKey,
    line: DecisionLine,
}

/// The pending run of each group.
#[derive(Debug, Default)]
pub struct Runs {
    pending: BTreeMap<String, Run>,
    /// A run is written out once it spans this long, so a crash loses at most this much.
    max_span: Duration,
}

impl Runs {
    pub fn new(max_span: Duration) -> Self {
        Runs { pending: BTreeMap::new(), max_span }
    }

    /// Takes one decision; returns the lines to write now, oldest first. A "no change"
    /// decision joins its group's run when identical and the run is younger than
    /// `max_span`; otherwise it ends the run (which is returned) and starts one (which is
    /// not). A decision that changes desired ends the run and is returned after it.
    pub fn offer(&mut self, line: DecisionLine) -> Vec<DecisionLine> {
        let key = RunKey::of(&line.decision, line.shadow);
        let group = line.group.clone();
        let mut out = Vec::new();
        let max_span = self.max_span;
        let joins = |run: &Run| key.as_ref() == Some(&run.key) && line.at.since(run.line.at) < max_span;
        if let Some(run) = self.pending.get_mut(&group).filter(|run| joins(run)) {
            run.line.count += 1;
            run.line.last_at = line.at;
            return out;
        }
        out.extend(self.pending.remove(&group).map(|run| run.line));
        match key {
            Some(key) => {
                self.pending.insert(group, Run { key, line });
            }
            None => out.push(line),
        }
        out
    }

    /// Ends every pending run; returns their lines, ordered by group name.
    pub fn drain(&mut self) -> Vec<DecisionLine> {
        std::mem::take(&mut self.pending).into_values().map(|run| run.line).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_and_words_kept() {
        assert_eq!(
            without_numbers("no change at 4: gpu_util 0.72 within 10 % of target 0.70"),
            "no change at #: gpu_util # within # % of target #"
        );
        assert_eq!(without_numbers("paused by ana until 14:30 UTC"), "paused by ana until # UTC");
        assert_eq!(without_numbers("latency_p95 1.40s ≤ 1.60s"), "latency_p# #s ≤ #s");
        assert_ne!(without_numbers("gpu_util stale"), without_numbers("gpu_util missing"));
    }
}
