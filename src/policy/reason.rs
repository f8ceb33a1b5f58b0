//! The one line an on-call engineer reads at 3 a.m.: what happened, the proposal that
//! drove it, and what cut or blocked it.
//!
//! "scale out 4→6: gpu_util 0.93 > target 0.70 (needs 6)";
//! "no change at 4: gpu_util 0.72 within 10 % of target 0.70";
//! "blocked: paused by ana until 14:30 UTC — stays at 6; gpu_util 0.95 > target 0.70 (needs 9)".

use crate::model::format_duration;
use crate::policy::decision::{Block, Clamp, ClampBy};
use crate::policy::spec::Proposal;
use crate::policy::words;

/// The decision's reason.
pub fn sentence(
    current: u32,
    desired: Option<u32>,
    driver: Option<&Proposal>,
    proposals: &[Proposal],
    clamps: &[Clamp],
    blocked: &[Block],
) -> String {
    // Bounds alone moved desired (a min raised, a max lowered): that is the reason.
    let by_bounds =
        clamps.last().filter(|c| c.from == current && matches!(c.by, ClampBy::Min | ClampBy::Max));
    let why = match driver {
        _ if desired.is_some() && by_bounds.is_some() => by_bounds.and_then(clamp_text).unwrap_or_default(),
        Some(p) => p.reason.clone(),
        None if clamps.iter().any(|c| c.by == ClampBy::ColdStart) => {
            "demand with no instance ready or warming".to_string()
        }
        None => {
            let opinions: Vec<&str> =
                proposals.iter().filter(|p| p.desired.is_some()).map(|p| p.reason.as_str()).collect();
            if opinions.is_empty() { "no policy has an opinion".to_string() } else { opinions.join("; ") }
        }
    };
    let limits: Vec<String> = clamps
        .iter()
        .filter(|c| desired.is_none() || by_bounds.is_none_or(|b| !std::ptr::eq(*c, b)))
        .filter_map(clamp_text)
        .collect();
    // A change made by an operator's hold is theirs, not the policies': "forced by ana".
    let forced = blocked.iter().find_map(|b| match b {
        Block::Held { desired: held, by, until } if desired.is_some() => Some((*held, by, *until)),
        _ => None,
    });
    let blocks: Vec<String> = blocked
        .iter()
        .filter(|b| forced.is_none() || !matches!(b, Block::Held { .. }))
        .map(block_text)
        .collect();
    let mut out = match (desired, forced) {
        (Some(to), Some((held, by, until))) => {
            let verb = if to > current { "scale out" } else { "scale in" };
            let asked = if held == to { String::new() } else { format!(" to {held}") };
            format!("{verb} {current}→{to}: forced by {by}{asked}, held until {}", words::clock(until))
        }
        (Some(to), None) => {
            let verb = if to > current { "scale out" } else { "scale in" };
            format!("{verb} {current}→{to}: {why}")
        }
        // "blocked: <why>" first (DESIGN.md), then where it stays and what was asked.
        (None, _) if !blocks.is_empty() => {
            format!("blocked: {} — stays at {current}; {why}", blocks.join("; "))
        }
        (None, _) => format!("no change at {current}: {why}"),
    };
    if desired.is_some() && !blocks.is_empty() {
        out.push_str(&format!(" — {}", blocks.join("; ")));
    }
    if !limits.is_empty() {
        out.push_str(&format!(" ({})", limits.join(", ")));
    }
    out
}

/// Clamps a block does not already explain: bounds and the cold start.
fn clamp_text(c: &Clamp) -> Option<String> {
    match &c.by {
        ClampBy::Min => Some(format!("raised to min {}", c.to)),
        ClampBy::Max => Some(format!("capped at max {}", c.to)),
        ClampBy::ColdStart => Some("at least 1 while there is demand".to_string()),
        ClampBy::ScheduledDesired { action } => Some(format!("scheduled action `{action}` set {}", c.to)),
        _ => None,
    }
}

/// One block in words, with what only the decision's expansion shows: a window's figure
/// before the bounds cut it.
pub fn block_detail(b: &Block) -> String {
    match b {
        Block::ScaleDownWindow { unclamped: Some(n), .. }
        | Block::ScaleUpWindow { unclamped: Some(n), .. } => {
            format!("{} ({n} before the bounds)", block_text(b))
        }
        _ => block_text(b),
    }
}

/// One block in words.
pub fn block_text(b: &Block) -> String {
    let until = |until: &Option<crate::model::Timestamp>| match until {
        Some(t) => format!(" until {}", words::clock(*t)),
        None => String::new(),
    };
    let because = |reason: &str| if reason.is_empty() { String::new() } else { format!(" ({reason})") };
    match b {
        Block::Paused { by, until: u, reason } => format!("paused by {by}{}{}", until(u), because(reason)),
        Block::ScaleInPaused { by, until: u, reason } => {
            format!("scale-in paused by {by}{}{}", until(u), because(reason))
        }
        Block::Held { desired, by, until } => {
            format!("held at {desired} by {by} until {}", words::clock(*until))
        }
        Block::ScaleDownWindow { window, highest, .. } => {
            format!("scale-down window {}: highest recommendation {highest}", format_duration(*window))
        }
        Block::ScaleUpWindow { window, lowest, .. } => {
            format!("scale-up window {}: lowest recommendation {lowest}", format_duration(*window))
        }
        Block::MaxStep { limit, period } => {
            format!("max step: at most {limit} within {}", format_duration(*period))
        }
        Block::Budget { hourly_budget_usd, max_instances } => {
            format!("budget ${}/h pays for {max_instances}", words::number(*hourly_budget_usd))
        }
        Block::Data { metrics } => format!("no scale-in: {}", words::problems(metrics)),
        Block::Latency { metric, value_secs, limit_secs } => format!(
            "no scale-in: {metric} {} > {}",
            words::value(metric, *value_secs),
            words::value(metric, *limit_secs)
        ),
        Block::Stalled { since } => {
            format!("scale-out stalled since {}: no further increase", words::clock(*since))
        }
        Block::Schedule { message } => format!("schedule ignored: {message}"),
        Block::CapacityUnknown { age, .. } => {
            format!("capacity unknown (last observed {} ago): no change", format_duration(*age))
        }
    }
}
