//! The scorecard table `fleetdeck replay` prints: a column per contender, then the oracle.

use std::fmt::Write as _;

use super::{Backtest, Scorecard};

/// Width of a contender's column.
const COLUMN: usize = 13;

/// The table of a backtest, under a heading line.
pub fn table(heading: &str, backtest: &Backtest) -> String {
    let cards: Vec<&Scorecard> = backtest.runs.iter().map(|r| &r.scorecard).collect();
    let oracle = &backtest.oracle;
    let mut out = format!("{heading}\n");
    let mut row = |label: &str, cell: &dyn Fn(&Scorecard) -> String, oracle_cell: String| {
        let _ = write!(out, "{label:<24}");
        for card in &cards {
            let _ = write!(out, "{:>COLUMN$}", cell(card));
        }
        let _ = writeln!(out, "{oracle_cell:>COLUMN$}");
    };
    let none = || "—".to_string();
    row("", &|c| c.policy.clone(), "oracle".into());
    row("SLO-violation minutes", &|c| c.slo_violation_minutes.to_string(), "0".into());
    row("latency p50 (s)", &|c| format!("{:.3}", c.latency_p50_s), none());
    row("latency p95 (s)", &|c| format!("{:.3}", c.latency_p95_s), none());
    row("latency p99 (s)", &|c| format!("{:.3}", c.latency_p99_s), none());
    row("requests served", &|c| format!("{:.0}", c.requests), none());
    row("requests dropped", &|c| format!("{:.0}", c.dropped), none());
    row("longest queue", &|c| format!("{:.0}", c.max_queued), none());
    row("instance-hours", &|c| format!("{:.2}", c.instance_hours), format!("{:.2}", oracle.instance_hours));
    row("cost (USD)", &|c| format!("{:.2}", c.cost_usd), format!("{:.2}", oracle.cost_usd));
    row("cost / oracle", &|c| format!("{:.2}×", c.cost_vs_oracle), "1.00×".into());
    row("scaling actions", &|c| c.actions.to_string(), none());
    row("direction changes", &|c| c.direction_changes.to_string(), none());
    row("time to recover (s)", &|c| c.time_to_recover_s.to_string(), none());
    let _ = writeln!(
        out,
        "infeasible minutes (no capacity up to max meets the SLO; not counted above): {}",
        oracle.infeasible_minutes
    );
    out
}
