//! The `:sim` commands: incidents provoked in the simulated fleet, in the one grammar the
//! config's schedule, the console's command line and `fleetdeck ctl sim` share.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{duration_ms, format_duration};

/// Incidents on demand in the simulated fleet; the same grammar serves the config's
/// `[[sim.events]]` schedule and the console's `:sim` command line:
///
/// - `spike GROUP xFACTOR [for] DURATION` — demand × FACTOR for DURATION
/// - `fail GROUP COUNT` — COUNT ready instances fail now (and are replaced)
/// - `gap GROUP DURATION` — the group's metrics go missing for DURATION
/// - `stockout GROUP DURATION` — launches requested during DURATION never arrive
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SimCommand {
    Spike {
        group: String,
        factor: f64,
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    Fail {
        group: String,
        count: u32,
    },
    Gap {
        group: String,
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    Stockout {
        group: String,
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
}

impl SimCommand {
    pub fn group(&self) -> &str {
        match self {
            SimCommand::Spike { group, .. }
            | SimCommand::Fail { group, .. }
            | SimCommand::Gap { group, .. }
            | SimCommand::Stockout { group, .. } => group,
        }
    }

    /// Parses the spike form used in config schedules, `GROUP xFACTOR for DURATION`.
    pub fn parse_spike(text: &str) -> Result<Self, SimCommandError> {
        SimCommand::from_str(&format!("spike {text}"))
    }
}

impl fmt::Display for SimCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimCommand::Spike { group, factor, duration } => {
                write!(f, "spike {group} x{factor} for {}", format_duration(*duration))
            }
            SimCommand::Fail { group, count } => write!(f, "fail {group} {count}"),
            SimCommand::Gap { group, duration } => {
                write!(f, "gap {group} {}", format_duration(*duration))
            }
            SimCommand::Stockout { group, duration } => {
                write!(f, "stockout {group} {}", format_duration(*duration))
            }
        }
    }
}

/// A `:sim` command or scheduled event that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{message} (usage: spike GROUP xFACTOR [for] DURATION | fail GROUP COUNT | gap GROUP DURATION | stockout GROUP DURATION)"
)]
pub struct SimCommandError {
    pub message: String,
}

fn sim_err(message: impl Into<String>) -> SimCommandError {
    SimCommandError { message: message.into() }
}

fn parse_duration(word: Option<&str>) -> Result<Duration, SimCommandError> {
    let word = word.ok_or_else(|| sim_err("missing duration"))?;
    let d = humantime::parse_duration(word).map_err(|e| sim_err(format!("bad duration `{word}`: {e}")))?;
    if d.is_zero() {
        return Err(sim_err("duration must be more than zero"));
    }
    Ok(d)
}

impl FromStr for SimCommand {
    type Err = SimCommandError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut words = s.split_whitespace();
        let verb = words.next().ok_or_else(|| sim_err("empty command"))?;
        let group = words.next().ok_or_else(|| sim_err(format!("`{verb}` needs a group name")))?.to_string();
        let command = match verb {
            "spike" => {
                let factor_word = words.next().ok_or_else(|| sim_err("missing factor, e.g. x5"))?;
                let factor: f64 = factor_word
                    .strip_prefix(['x', '×'])
                    .unwrap_or(factor_word)
                    .parse()
                    .map_err(|_| sim_err(format!("bad factor `{factor_word}`, expected e.g. x5")))?;
                if !(factor.is_finite() && factor > 0.0) {
                    return Err(sim_err(format!("factor must be a positive number, got {factor}")));
                }
                let mut next = words.next();
                if next == Some("for") {
                    next = words.next();
                }
                SimCommand::Spike { group, factor, duration: parse_duration(next)? }
            }
            "fail" => {
                let word = words.next().ok_or_else(|| sim_err("missing instance count"))?;
                let count: u32 = word.parse().map_err(|_| sim_err(format!("bad instance count `{word}`")))?;
                SimCommand::Fail { group, count }
            }
            "gap" => SimCommand::Gap { group, duration: parse_duration(words.next())? },
            "stockout" => SimCommand::Stockout { group, duration: parse_duration(words.next())? },
            other => return Err(sim_err(format!("unknown sim command `{other}`"))),
        };
        if let Some(extra) = words.next() {
            return Err(sim_err(format!("unexpected `{extra}`")));
        }
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spike_with_and_without_for() {
        let a: SimCommand = "spike llm-chat x5 2m".parse().unwrap();
        let b = SimCommand::parse_spike("llm-chat x5 for 2m").unwrap();
        assert_eq!(a, b);
        assert_eq!(
            a,
            SimCommand::Spike { group: "llm-chat".into(), factor: 5.0, duration: Duration::from_secs(120) }
        );
    }

    #[test]
    fn parses_fail_gap_and_stockout() {
        assert_eq!(
            "fail vision 2".parse::<SimCommand>().unwrap(),
            SimCommand::Fail { group: "vision".into(), count: 2 }
        );
        assert_eq!(
            "gap vision 30s".parse::<SimCommand>().unwrap(),
            SimCommand::Gap { group: "vision".into(), duration: Duration::from_secs(30) }
        );
        assert_eq!(
            "stockout vision 10m".parse::<SimCommand>().unwrap(),
            SimCommand::Stockout { group: "vision".into(), duration: Duration::from_secs(600) }
        );
    }

    #[test]
    fn rejects_malformed_sim_commands_with_a_reason() {
        for (input, needle) in [
            ("", "empty"),
            ("spike", "group"),
            ("spike g five 2m", "bad factor"),
            ("spike g x0 2m", "positive"),
            ("spike g x2", "missing duration"),
            ("spike g x2 soon", "bad duration"),
            ("fail g -1", "bad instance count"),
            ("explode g", "unknown sim command"),
            ("fail g 2 now", "unexpected"),
        ] {
            let err = input.parse::<SimCommand>().unwrap_err();
            assert!(err.to_string().contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn sim_command_display_parses_back() {
        let cmd = SimCommand::Spike { group: "g".into(), factor: 2.5, duration: Duration::from_secs(90) };
        assert_eq!(cmd.to_string().parse::<SimCommand>().unwrap(), cmd);
    }
}
