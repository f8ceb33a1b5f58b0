//! The command line: config checking on fixtures, the demo config, completions, version.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{bin, fixture, run_fleetdeck};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_check_lists_connections_and_says_whether_a_secret_is_readable_without_printing_it() {
    let home = tempfile::tempdir().unwrap();
    let path = fixture("full.toml");
    let output = Command::new(bin())
        .args(["config", "check", path.to_str().unwrap()])
        .env("HOME", home.path())
        .env("FLEETDECK_FULL_EXAMPLE_ROUTING_KEY", "R0UT1NG-KEY-VALUE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout.contains("source sim-slow: sim, polled every 4s, stale after 12s"), "{stdout}");
    assert!(stdout.contains("actuator sim-asg: sim, at most 4 calls at once"), "{stdout}");
    assert!(
        stdout.contains(
            "notifier pd: pagerduty, secret from env $FLEETDECK_FULL_EXAMPLE_ROUTING_KEY (readable)"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("notifier ops-slack: slack to #gpu-oncall, secret from file "), "{stdout}");
    assert!(stdout.contains("(NOT readable: cannot read"), "the missing token file is named: {stdout}");
    assert!(!stdout.contains("R0UT1NG-KEY-VALUE") && !stderr(&output).contains("R0UT1NG-KEY-VALUE"));
}

#[test]
fn config_check_accepts_every_valid_fixture() {
    let home = tempfile::tempdir().unwrap();
    for name in ["fast.toml", "minimal.toml", "full.toml"] {
        let path = fixture(name);
        let output = run_fleetdeck(&["config", "check", path.to_str().unwrap()], home.path());
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("ok"), "{name}");
    }
}

#[test]
fn config_check_rejects_each_invalid_fixture_with_file_line_and_column() {
    let home = tempfile::tempdir().unwrap();
    let dir = fixture("invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Each fixture starts with `# expect: LINE:COL KEY`.
        let expect = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).expect("expect line");
        let position = expect.split_whitespace().next().unwrap();
        let output = run_fleetdeck(&["config", "check", path.to_str().unwrap()], home.path());
        let message = stderr(&output);
        // 1, a refusal; never 101, a panic (a huge poll_interval once overflowed).
        assert_eq!(output.status.code(), Some(1), "{}: {message}", path.display());
        let prefix = format!("{}:{position}:", path.display());
        assert!(message.starts_with(&prefix), "{}: expected `{prefix}…`, got {message}", path.display());
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} invalid fixtures found");
}

#[test]
fn config_default_prints_a_config_that_checks() {
    let home = tempfile::tempdir().unwrap();
    let output = run_fleetdeck(&["config", "default"], home.path());
    assert!(output.status.success());
    let path = home.path().join("demo.toml");
    std::fs::write(&path, &output.stdout).unwrap();
    let check = run_fleetdeck(&["config", "check", path.to_str().unwrap()], home.path());
    assert!(check.status.success(), "{}", stderr(&check));
    let listed = String::from_utf8_lossy(&check.stdout);
    for group in ["llm-chat", "vision", "embeddings"] {
        assert!(listed.contains(group), "{listed}");
    }
}

#[test]
fn completions_are_generated_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let output = run_fleetdeck(&["completions", shell], home.path());
        assert!(output.status.success(), "{shell}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("fleetdeck"), "{shell}");
    }
}

#[test]
fn version_and_help_with_examples() {
    let home = tempfile::tempdir().unwrap();
    let version = run_fleetdeck(&["--version"], home.path());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("fleetdeck {}", env!("CARGO_PKG_VERSION"))
    );
    let help = run_fleetdeck(&["--help"], home.path());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let output = run_fleetdeck(&["--config", "/nonexistent/fleet.toml"], home.path());
    assert!(!output.status.success());
    assert!(stderr(&output).contains("/nonexistent/fleet.toml"), "{}", stderr(&output));
}

#[test]
fn replay_prints_a_scorecard_and_identical_json_for_the_same_inputs() {
    let home = tempfile::tempdir().unwrap();
    let trace = fixture("trace-small.csv");
    let config = fixture("fast.toml");
    let args = ["--config", config.to_str().unwrap(), "replay", "--trace", trace.to_str().unwrap(), "--json"];
    let first = run_fleetdeck(&args, home.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let second = run_fleetdeck(&args, home.path());
    assert_eq!(first.stdout, second.stdout, "same trace, seed and config: same bytes");
    let backtest: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    let runs = &backtest["runs"];
    let policies: Vec<&str> =
        runs.as_array().unwrap().iter().map(|r| r["scorecard"]["policy"].as_str().unwrap()).collect();
    assert_eq!(policies, ["static peak", "AWS-like", "HPA-like", "fleetdeck"]);
    assert!(runs[0]["scorecard"]["seconds"].as_u64().is_some_and(|s| s > 0), "{runs}");
    assert_eq!(runs[0]["scorecard"]["actions"], 0, "static never scales");
    let oracle_cost = backtest["oracle"]["cost_usd"].as_f64().unwrap();
    assert!(oracle_cost > 0.0, "{backtest}");
    let ratio = runs[0]["scorecard"]["cost_vs_oracle"].as_f64().unwrap();
    let cost = runs[0]["scorecard"]["cost_usd"].as_f64().unwrap();
    assert!((ratio - cost / oracle_cost).abs() < 1e-9, "{backtest}");

    let table = run_fleetdeck(&args[..5], home.path());
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("SLO-violation minutes") && text.contains("instance-hours"), "{text}");
    assert!(text.contains("cost / oracle") && text.contains("infeasible minutes"), "{text}");

    let plot = home.path().join("small.svg");
    let plotted = run_fleetdeck(&[&args[..5], &["--plot", plot.to_str().unwrap()]].concat(), home.path());
    assert!(plotted.status.success(), "{}", stderr(&plotted));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("AWS-like:") && svg.contains("oracle"), "{svg:.200}");
    let pdf = home.path().join("small.pdf");
    let refused = run_fleetdeck(&[&args[..5], &["--plot", pdf.to_str().unwrap()]].concat(), home.path());
    assert!(!refused.status.success() && stderr(&refused).contains("a plot is written as .svg or .png"));
    assert!(!pdf.exists());

    let missing = run_fleetdeck(&["replay", "--trace", "/nonexistent/trace.csv"], home.path());
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/trace.csv"), "{}", stderr(&missing));
}

/// Runs the binary with its standard output a pipe whose reader is gone before it starts
/// (`fleetdeck … | head` once `head` has what it wanted): every write gets EPIPE.
fn run_with_closed_stdout(args: &[&str], home: &Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(bin())
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("RUST_BACKTRACE", "1")
        .env_remove("FLEETDECK_CONFIG")
        .stdout(writer)
        .output()
        .unwrap()
}

#[test]
fn a_command_whose_reader_went_away_exits_quietly_as_sigpipe_would() {
    let home = tempfile::tempdir().unwrap();
    let (step, config, trace) =
        (fixture("decide/step.toml"), fixture("fast.toml"), fixture("trace-small.csv"));
    let (step, config, trace) = (step.to_str().unwrap(), config.to_str().unwrap(), trace.to_str().unwrap());
    let commands: [&[&str]; 7] = [
        &["decide", "--json", step],
        &["decide", step],
        &["--config", config, "replay", "--trace", trace],
        &["--config", config, "replay", "--trace", trace, "--json"],
        &["config", "default"],
        &["config", "check", config],
        &["completions", "bash"],
    ];
    for args in commands {
        let output = run_with_closed_stdout(args, home.path());
        // 141 = 128 + SIGPIPE, what a shell reports for `cat` in the same place; a panic
        // would be 101 with its message and backtrace on stderr.
        assert_eq!(output.status.code(), Some(141), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), "", "{args:?}: nothing on stderr");
    }
}

/// Issue 15, point 13: `replay --plot /nonexistent/x.png` printed
/// `ImageError(IoError(Os{..}))` after seconds of work; the path is checked first.
#[test]
fn replay_refuses_a_plot_path_in_a_missing_directory_before_it_replays() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("nonexistent").join("x.png");
    let output = run_fleetdeck(
        &["replay", "--trace", "builtin:flash-crowd", "--plot", missing.to_str().unwrap()],
        home.path(),
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(message.contains("cannot write the plot there"), "{message}");
    assert!(message.contains("is not a directory"), "{message}");
    assert!(!message.contains("Error("), "no debug names: {message}");
    assert!(output.stdout.is_empty(), "no scorecard: nothing was replayed");
}
