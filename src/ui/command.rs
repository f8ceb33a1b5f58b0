//! The `:` command line's language: what a submitted line means, and tab completion of
//! verbs and group names. Pure text in, meaning out; the app decides what to do with it.
//!
//! - `:sim VERB …` — provoke an incident in the simulator (grammar of [`SimCommand`]);
//! - `:pause GROUP|all [DURATION] [--scale-in-only]` — stop automated changes (all of
//!   them, or only scale-in) for DURATION, or until resumed;
//! - `:resume GROUP|all` — lift a pause;
//! - `:scale GROUP N [--hold DURATION] [--beyond-max]` — set desired to N now and hold it
//!   (20 minutes unless told); above the group's max only with `--beyond-max`;
//! - `:shadow GROUP|all on|off` — decide without acting, or act again;
//! - `:reset GROUP|all` — close the target's circuit-breaker trips;
//! - `:silence GROUP|all DURATION` — mute the target's pages for DURATION (alarms are still
//!   evaluated and shown); `:unsilence GROUP|all` lifts it;
//! - `:sort COLUMN [asc|desc]` — sort the fleet table by COLUMN (config, name, alarms,
//!   p95, queue, gpu, cost): by default worst first (name a→z, config as listed);
//!   `asc`/`desc` say which way;
//! - `:q`, `:quit` — leave the console;
//! - `:panic` — debug builds only: panic inside the running console, so end-to-end tests
//!   can check the terminal is restored. Release builds call it an unknown command.
//!
//! An operator command may end with ` -- REASON`: everything after a lone `--` word is
//! the reason recorded with it (e.g. `:pause llm-chat 30m -- INC-123 deploy rollback`);
//! without one the reason is empty. `all` is a keyword, not a group name.
//!
//! Mutating commands are confirmed by typing them: a `:` line typed in full and submitted
//! with enter is its own confirmation (and `--beyond-max` the second one that going past
//! max needs). Confirmation dialogs for keys that act at once come later.

use std::str::FromStr;
use std::time::Duration;

use crate::model::PauseMode;
use crate::protocol::{Command, SimCommand, Target};

use super::order::{Sort, SortKey};

/// What a submitted line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Nothing typed: just close the line.
    Empty,
    Quit,
    Sim(SimCommand),
    /// An operator command for the engine, with the reason typed after ` -- `.
    Operator {
        command: Command,
        reason: Option<String>,
    },
    /// The console's own: the fleet table's order.
    Sort(Sort),
    /// Debug builds only.
    Panic,
}

/// Top-level commands, for completion and the help overlay.
pub const COMMANDS: [&str; 11] =
    ["sim", "pause", "resume", "scale", "shadow", "reset", "silence", "unsilence", "ack", "sort", "quit"];
const SIM_VERBS: [&str; 4] = ["spike", "fail", "gap", "stockout"];

/// How long `:scale` holds desired when no `--hold` is given.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(20 * 60);

/// Whether the debug-only `:panic` command exists in this build.
pub const PANIC_COMMAND_ENABLED: bool = cfg!(debug_assertions);

const PAUSE_USAGE: &str = "pause GROUP|all [DURATION] [--scale-in-only] [-- REASON]";
const RESUME_USAGE: &str = "resume GROUP|all [-- REASON]";
const SCALE_USAGE: &str = "scale GROUP N [--hold DURATION] [--beyond-max] [-- REASON]";
const SHADOW_USAGE: &str = "shadow GROUP|all on|off [-- REASON]";
const RESET_USAGE: &str = "reset GROUP|all [-- REASON]";
const SILENCE_USAGE: &str = "silence GROUP|all DURATION [-- REASON]";
const UNSILENCE_USAGE: &str = "unsilence GROUP|all [-- REASON]";
const ACK_USAGE: &str = "ack GROUP|all [-- REASON]";
const SORT_USAGE: &str = "sort config|name|alarms|p95|queue|gpu|cost [asc|desc]";

/// Reads a submitted line (without the leading `:`). The error is shown to the user as is.
pub fn parse(line: &str) -> Result<Parsed, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let operator = |usage: &str, parse: fn(&[&str]) -> Result<Command, String>| {
        let (args, reason) = split_reason(rest);
        let words: Vec<&str> = args.split_whitespace().collect();
        match parse(&words) {
            Ok(command) => Ok(Parsed::Operator { command, reason }),
            Err(message) => Err(format!("{message} (usage: {usage})")),
        }
    };
    match word {
        "" => Ok(Parsed::Empty),
        "q" | "quit" if rest.trim().is_empty() => Ok(Parsed::Quit),
        "sim" => SimCommand::from_str(rest).map(Parsed::Sim).map_err(|e| e.to_string()),
        "pause" => operator(PAUSE_USAGE, parse_pause),
        "resume" => operator(RESUME_USAGE, parse_resume),
        "scale" => operator(SCALE_USAGE, parse_scale),
        "shadow" => operator(SHADOW_USAGE, parse_shadow),
        "reset" => operator(RESET_USAGE, parse_reset),
        "silence" => operator(SILENCE_USAGE, parse_silence),
        "unsilence" => operator(UNSILENCE_USAGE, parse_unsilence),
        "ack" => operator(ACK_USAGE, parse_ack),
        "sort" => parse_sort(rest).map(Parsed::Sort).map_err(|e| format!("{e} (usage: {SORT_USAGE})")),
        "panic" if PANIC_COMMAND_ENABLED => Ok(Parsed::Panic),
        other => Err(format!(
            "unknown command `{other}` (commands: sim, pause, resume, scale, shadow, reset, silence, unsilence, ack, sort, q)"
        )),
    }
}

/// `COLUMN [asc|desc]`. Each column has its usual way (worst first; name a→z, config as
/// listed); the other is the sort reversed.
fn parse_sort(rest: &str) -> Result<Sort, String> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let (column, direction) = match words.as_slice() {
        [column] => (*column, None),
        [column, direction] => (*column, Some(*direction)),
        [] => return Err("which column?".into()),
        [_, _, extra, ..] => return Err(format!("unexpected `{extra}`")),
    };
    let key = SortKey::from_column(column).ok_or_else(|| format!("no column `{column}`"))?;
    let ascending_first = matches!(key, SortKey::Config | SortKey::Name);
    let reversed = match direction {
        None => false,
        Some("asc") => !ascending_first,
        Some("desc") => ascending_first,
        Some(other) => return Err(format!("`{other}` is not asc or desc")),
    };
    Ok(Sort { key, reversed })
}

/// Splits `ARGS -- REASON` at the first lone `--`; an empty reason is none.
fn split_reason(rest: &str) -> (&str, Option<String>) {
    let mut offset = 0;
    for word in rest.split_inclusive(char::is_whitespace) {
        if word.trim_end() == "--" {
            let reason = rest[offset + word.len()..].trim();
            return (&rest[..offset], (!reason.is_empty()).then(|| reason.to_string()));
        }
        offset += word.len();
    }
    (rest, None)
}

fn target(word: Option<&&str>) -> Result<Target, String> {
    match word.copied() {
        None => Err("missing group name (or `all`)".into()),
        Some(flag) if flag.starts_with("--") => Err(format!("expected a group name before `{flag}`")),
        Some("all") => Ok(Target::All),
        Some(name) => Ok(Target::Group(name.to_string())),
    }
}

fn duration(word: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(word).map_err(|e| format!("bad duration `{word}`: {e}"))?;
    if d.is_zero() {
        return Err("duration must be more than zero".into());
    }
    Ok(d)
}

fn parse_pause(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    let (mut duration_given, mut mode) = (None, PauseMode::Full);
    for &word in &words[1..] {
        match word {
            "--scale-in-only" => mode = PauseMode::ScaleInOnly,
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            _ if duration_given.is_some() => return Err(format!("unexpected `{word}`")),
            _ => duration_given = Some(duration(word)?),
        }
    }
    Ok(Command::Pause { target, duration: duration_given, mode })
}

fn parse_resume(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    match words.get(1) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::Resume { target }),
    }
}

/// `reset GROUP|all`: close the target's open circuit-breaker trips.
fn parse_reset(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    match words.get(1) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::ResetBreaker { target }),
    }
}

fn parse_silence(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    let word = words.get(1).ok_or("missing how long, e.g. 1h")?;
    let duration = duration(word)?;
    match words.get(2) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::Silence { target, duration }),
    }
}

fn parse_unsilence(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    match words.get(1) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::Unsilence { target }),
    }
}

fn parse_ack(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    match words.get(1) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::Acknowledge { target }),
    }
}

fn parse_scale(words: &[&str]) -> Result<Command, String> {
    let group = match target(words.first())? {
        Target::Group(name) => name,
        Target::All => return Err("force scale takes one group, not `all`".into()),
    };
    let word = words.get(1).ok_or("missing the desired instance count")?;
    let desired: u32 = word.parse().map_err(|_| format!("bad instance count `{word}`"))?;
    let (mut hold, mut beyond_max) = (DEFAULT_HOLD, false);
    let mut rest = words[2..].iter();
    while let Some(&word) = rest.next() {
        match word {
            "--beyond-max" => beyond_max = true,
            "--hold" => hold = duration(rest.next().ok_or("`--hold` needs a duration, e.g. 30m")?)?,
            flag if flag.starts_with('-') => return Err(format!("unknown option `{flag}`")),
            _ => return Err(format!("unexpected `{word}`")),
        }
    }
    Ok(Command::ForceScale { group, desired, hold, beyond_max })
}

fn parse_shadow(words: &[&str]) -> Result<Command, String> {
    let target = target(words.first())?;
    let on = match words.get(1).copied() {
        Some("on") => true,
        Some("off") => false,
        Some(other) => return Err(format!("expected on or off, got `{other}`")),
        None => return Err("missing on or off".into()),
    };
    match words.get(2) {
        Some(extra) => Err(format!("unexpected `{extra}`")),
        None => Ok(Command::Shadow { target, on }),
    }
}

/// Completes the last word of `line`: a command, a `sim` verb, a group name (or `all`)
/// after a verb, `on`/`off` after `shadow GROUP`, or an option of `pause` and `scale`.
/// Returns the new line, or `None` when there is nothing (unambiguous) to add.
pub fn complete(line: &str, groups: &[&str]) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let starting_word = line.is_empty() || line.ends_with(char::is_whitespace);
    let (done, partial) = if starting_word {
        (&words[..], "")
    } else {
        let (last, done) = words.split_last()?;
        (done, *last)
    };
    let with_all = || groups.iter().copied().chain(["all"]).collect::<Vec<_>>();
    let candidates: Vec<&str> = match done {
        [] => COMMANDS.to_vec(),
        ["sim"] => SIM_VERBS.to_vec(),
        ["sim", verb] if SIM_VERBS.contains(verb) => groups.to_vec(),
        ["pause" | "resume" | "shadow" | "reset" | "silence" | "unsilence"] => with_all(),
        ["scale"] => groups.to_vec(),
        ["shadow", _] => vec!["on", "off"],
        ["sort"] => SortKey::CYCLE.iter().map(|k| k.column()).collect(),
        ["sort", _] => vec!["asc", "desc"],
        _ if done.contains(&"--") => return None,
        ["pause", _, ..] if partial.starts_with('-') => vec!["--scale-in-only"],
        ["scale", _, _, ..] if partial.starts_with('-') => vec!["--hold", "--beyond-max"],
        _ => return None,
    };
    let matching: Vec<&str> = candidates.into_iter().filter(|c| c.starts_with(partial)).collect();
    let completed = match matching.as_slice() {
        [] => return None,
        [one] => format!("{one} "),
        many => common_prefix(many).to_string(),
    };
    if completed.len() <= partial.len() {
        return None;
    }
    let head = &line[..line.len() - partial.len()];
    Some(format!("{head}{completed}"))
}

fn common_prefix<'a>(words: &[&'a str]) -> &'a str {
    let first = words[0];
    let mut end = first.len();
    for w in &words[1..] {
        end = first.char_indices().zip(w.chars()).take_while(|((_, a), b)| a == b).count().min(end);
    }
    // `end` counts chars; turn it back into a byte index.
    first.char_indices().nth(end).map_or(first, |(i, _)| &first[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_takes_a_target_and_a_duration_and_unsilence_a_target() {
        assert_eq!(
            parse("silence vision 1h -- known noisy deploy"),
            Ok(Parsed::Operator {
                command: Command::Silence {
                    target: Target::Group("vision".into()),
                    duration: Duration::from_secs(3600)
                },
                reason: Some("known noisy deploy".into())
            })
        );
        assert_eq!(
            parse("unsilence all"),
            Ok(Parsed::Operator { command: Command::Unsilence { target: Target::All }, reason: None })
        );
        let missing = parse("silence vision").unwrap_err();
        assert!(missing.contains("missing how long") && missing.contains(SILENCE_USAGE), "{missing}");
        assert!(parse("silence vision 0s").unwrap_err().contains("more than zero"));
        assert_eq!(complete("sil", &["vision"]).as_deref(), Some("silence "));
        assert_eq!(complete("unsilence vi", &["vision"]).as_deref(), Some("unsilence vision "));
    }

    #[test]
    fn sim_commands_parse_with_the_protocol_grammar() {
        assert_eq!(
            parse("sim spike llm-chat x5 2m"),
            Ok(Parsed::Sim(SimCommand::Spike {
                group: "llm-chat".into(),
                factor: 5.0,
                duration: Duration::from_secs(120)
            }))
        );
        assert_eq!(
            parse("sim fail vision 2"),
            Ok(Parsed::Sim(SimCommand::Fail { group: "vision".into(), count: 2 }))
        );
    }

    #[test]
    fn bad_sim_commands_carry_the_parser_error() {
        let err = parse("sim spike llm-chat five 2m").unwrap_err();
        assert!(err.contains("bad factor"), "{err}");
        assert!(err.contains("usage"), "{err}");
    }

    #[test]
    fn quit_and_unknown_commands() {
        assert_eq!(parse("q"), Ok(Parsed::Quit));
        assert_eq!(parse(" quit "), Ok(Parsed::Quit));
        assert_eq!(parse(""), Ok(Parsed::Empty));
        assert!(parse("scal vision 4").unwrap_err().contains("unknown command `scal`"));
    }

    #[test]
    fn panic_command_exists_only_in_debug_builds() {
        if cfg!(debug_assertions) {
            assert_eq!(parse("panic"), Ok(Parsed::Panic));
        } else {
            assert!(parse("panic").unwrap_err().contains("unknown command"));
        }
    }

    #[test]
    fn completes_commands_verbs_and_group_names() {
        let groups = ["llm-chat", "llm-code", "vision"];
        assert_eq!(complete("si", &groups).as_deref(), None, "sim, silence");
        assert_eq!(complete("sim", &groups).as_deref(), Some("sim "));
        assert_eq!(complete("s", &groups).as_deref(), None, "sim, scale, shadow, silence");
        assert_eq!(complete("sim st", &groups).as_deref(), Some("sim stockout "));
        assert_eq!(complete("sim fail v", &groups).as_deref(), Some("sim fail vision "));
        assert_eq!(complete("sim fail ", &groups).as_deref(), None, "ambiguous with nothing in common");
        assert_eq!(complete("sim fail l", &groups).as_deref(), Some("sim fail llm-c"));
        assert_eq!(complete("sim fail llm-c", &groups).as_deref(), None);
        assert_eq!(complete("sim fail vision 2", &groups), None);
        assert_eq!(complete("sim boom v", &groups), None);
    }

    fn operator(command: Command, reason: Option<&str>) -> Result<Parsed, String> {
        Ok(Parsed::Operator { command, reason: reason.map(Into::into) })
    }

    fn group(name: &str) -> Target {
        Target::Group(name.into())
    }

    #[test]
    fn pause_parses_target_duration_mode_and_reason() {
        assert_eq!(
            parse("pause llm-chat 30m --scale-in-only -- INC-123  rollback "),
            operator(
                Command::Pause {
                    target: group("llm-chat"),
                    duration: Some(Duration::from_secs(1800)),
                    mode: PauseMode::ScaleInOnly
                },
                Some("INC-123  rollback")
            )
        );
        assert_eq!(
            parse("pause all"),
            operator(Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full }, None)
        );
        assert_eq!(
            parse("pause vision --scale-in-only 1h"),
            operator(
                Command::Pause {
                    target: group("vision"),
                    duration: Some(Duration::from_secs(3600)),
                    mode: PauseMode::ScaleInOnly
                },
                None
            ),
            "options in any order"
        );
        assert_eq!(
            parse("pause vision --"),
            operator(Command::Pause { target: group("vision"), duration: None, mode: PauseMode::Full }, None),
            "an empty reason is none"
        );
    }

    #[test]
    fn resume_and_shadow_parse_a_target() {
        assert_eq!(parse("resume vision"), operator(Command::Resume { target: group("vision") }, None));
        assert_eq!(
            parse("reset llm-chat -- IAM fixed"),
            operator(Command::ResetBreaker { target: group("llm-chat") }, Some("IAM fixed"))
        );
        assert_eq!(
            parse("resume all -- incident over"),
            operator(Command::Resume { target: Target::All }, Some("incident over"))
        );
        assert_eq!(
            parse("shadow vision off"),
            operator(Command::Shadow { target: group("vision"), on: false }, None)
        );
        assert_eq!(
            parse("shadow all on -- rollout"),
            operator(Command::Shadow { target: Target::All, on: true }, Some("rollout"))
        );
    }

    #[test]
    fn scale_holds_twenty_minutes_unless_told() {
        assert_eq!(
            parse("scale vision 6"),
            operator(
                Command::ForceScale {
                    group: "vision".into(),
                    desired: 6,
                    hold: DEFAULT_HOLD,
                    beyond_max: false
                },
                None
            )
        );
        assert_eq!(
            parse("scale vision 14 --beyond-max --hold 1h -- launch day"),
            operator(
                Command::ForceScale {
                    group: "vision".into(),
                    desired: 14,
                    hold: Duration::from_secs(3600),
                    beyond_max: true
                },
                Some("launch day")
            )
        );
    }

    #[test]
    fn operator_commands_display_as_they_parse() {
        for line in [
            "pause llm-chat 30m --scale-in-only",
            "pause all",
            "resume all",
            "scale g 3 --hold 20m",
            "shadow g on",
        ] {
            let Ok(Parsed::Operator { command, .. }) = parse(line) else { panic!("{line}") };
            assert_eq!(command.to_string(), line);
        }
    }

    #[test]
    fn malformed_operator_commands_say_what_is_wrong_and_the_usage() {
        for (input, needle) in [
            ("pause", "missing group name"),
            ("pause --scale-in-only", "expected a group name before `--scale-in-only`"),
            ("pause g soon", "bad duration `soon`"),
            ("pause g 0s", "more than zero"),
            ("pause g 5m 10m", "unexpected `10m`"),
            ("pause g --full", "unknown option `--full`"),
            ("resume", "missing group name"),
            ("resume g now", "unexpected `now`"),
            ("scale g", "missing the desired instance count"),
            ("scale g -2", "bad instance count `-2`"),
            ("scale all 4", "not `all`"),
            ("scale g 4 --hold", "`--hold` needs a duration"),
            ("scale g 4 --hold later", "bad duration `later`"),
            ("scale g 4 --force", "unknown option `--force`"),
            ("scale g 4 5", "unexpected `5`"),
            ("shadow g", "missing on or off"),
            ("shadow g maybe", "expected on or off, got `maybe`"),
            ("shadow g on now", "unexpected `now`"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(needle), "{input:?}: {err}");
            assert!(err.contains("(usage: "), "{input:?}: {err}");
        }
    }

    #[test]
    fn completes_operator_verbs_targets_and_options() {
        let groups = ["llm-chat", "llm-code", "vision"];
        assert_eq!(complete("p", &groups).as_deref(), Some("pause "));
        assert_eq!(complete("sh", &groups).as_deref(), Some("shadow "));
        assert_eq!(complete("sc", &groups).as_deref(), Some("scale "));
        assert_eq!(complete("pause v", &groups).as_deref(), Some("pause vision "));
        assert_eq!(complete("resume a", &groups).as_deref(), Some("resume all "));
        assert_eq!(complete("scale a", &groups), None, "scale takes one group");
        assert_eq!(complete("shadow vision o", &groups), None, "on or off");
        assert_eq!(complete("shadow vision of", &groups).as_deref(), Some("shadow vision off "));
        assert_eq!(
            complete("pause vision 30m --s", &groups).as_deref(),
            Some("pause vision 30m --scale-in-only ")
        );
        assert_eq!(complete("scale vision 9 --b", &groups).as_deref(), Some("scale vision 9 --beyond-max "));
        assert_eq!(complete("pause vision -- v", &groups), None, "the reason is free text");
    }

    #[test]
    fn sort_takes_a_column_and_a_direction() {
        let sort = |key, reversed| Ok(Parsed::Sort(Sort { key, reversed }));
        assert_eq!(parse("sort p95"), sort(SortKey::LatencyP95, false));
        assert_eq!(parse("sort p95 desc"), sort(SortKey::LatencyP95, false));
        assert_eq!(parse("sort p95 asc"), sort(SortKey::LatencyP95, true));
        assert_eq!(parse("sort name"), sort(SortKey::Name, false));
        assert_eq!(parse("sort name desc"), sort(SortKey::Name, true));
        assert_eq!(parse("sort cost"), sort(SortKey::Cost, false));
        for (input, needle) in [
            ("sort", "which column?"),
            ("sort latency", "no column `latency`"),
            ("sort gpu up", "`up` is not asc or desc"),
            ("sort gpu asc now", "unexpected `now`"),
        ] {
            let err = parse(input).unwrap_err();
            assert!(err.contains(needle) && err.contains("usage: sort "), "{input}: {err}");
        }
        assert_eq!(complete("sort q", &[]), Some("sort queue ".into()));
        assert_eq!(complete("sort gpu d", &[]), Some("sort gpu desc ".into()));
    }
}
