//! The `:` command line's language: what a submitted line means, and tab completion of
//! verbs and group names. Pure text in, meaning out; the app decides what to do with it.
//!
//! - `:sim VERB …` — provoke an incident in the simulator (grammar of [`SimCommand`]);
//! - `:q`, `:quit` — leave the console;
//! - `:panic` — debug builds only: panic inside the running console, so end-to-end tests
//!   can check the terminal is restored. Release builds call it an unknown command.

use std::str::FromStr;

use crate::protocol::SimCommand;

/// What a submitted line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Nothing typed: just close the line.
    Empty,
    Quit,
    Sim(SimCommand),
    /// Debug builds only.
    Panic,
}

/// Top-level commands, for completion and the help overlay.
pub const COMMANDS: [&str; 2] = ["sim", "quit"];
const SIM_VERBS: [&str; 4] = ["spike", "fail", "gap", "stockout"];

/// Whether the debug-only `:panic` command exists in this build.
pub const PANIC_COMMAND_ENABLED: bool = cfg!(debug_assertions);

/// Reads a submitted line (without the leading `:`). The error is shown to the user as is.
pub fn parse(line: &str) -> Result<Parsed, String> {
    let line = line.trim();
    let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    match word {
        "" => Ok(Parsed::Empty),
        "q" | "quit" if rest.trim().is_empty() => Ok(Parsed::Quit),
        "sim" => SimCommand::from_str(rest).map(Parsed::Sim).map_err(|e| e.to_string()),
        "panic" if PANIC_COMMAND_ENABLED => Ok(Parsed::Panic),
        other => Err(format!("unknown command `{other}` (commands: sim, q)")),
    }
}

/// Completes the last word of `line`: a command, a `sim` verb, or the group name after
/// `sim VERB`. Returns the new line, or `None` when there is nothing (unambiguous) to add.
pub fn complete(line: &str, groups: &[&str]) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let starting_word = line.is_empty() || line.ends_with(char::is_whitespace);
    let (done, partial) = if starting_word {
        (&words[..], "")
    } else {
        let (last, done) = words.split_last()?;
        (done, *last)
    };
    let candidates: Vec<&str> = match done {
        [] => COMMANDS.to_vec(),
        ["sim"] => SIM_VERBS.to_vec(),
        ["sim", verb] if SIM_VERBS.contains(verb) => groups.to_vec(),
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
    use std::time::Duration;

    use super::*;

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
        assert!(parse("scale vision 4").unwrap_err().contains("unknown command `scale`"));
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
        assert_eq!(complete("s", &groups).as_deref(), Some("sim "));
        assert_eq!(complete("sim st", &groups).as_deref(), Some("sim stockout "));
        assert_eq!(complete("sim fail v", &groups).as_deref(), Some("sim fail vision "));
        assert_eq!(complete("sim fail ", &groups).as_deref(), None, "ambiguous with nothing in common");
        assert_eq!(complete("sim fail l", &groups).as_deref(), Some("sim fail llm-c"));
        assert_eq!(complete("sim fail llm-c", &groups).as_deref(), None);
        assert_eq!(complete("sim fail vision 2", &groups), None);
        assert_eq!(complete("sim boom v", &groups), None);
    }
}
