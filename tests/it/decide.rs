//! `fleetdeck decide`: the README's examples give the documented answers, JSON in and
//! out, mistakes in the file are reported with line and column, and a decision-log line
//! is replayed and compared with what it logged.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{fixture, run_fleetdeck};

const EXAMPLES: [&str; 9] = [
    "scale-out",
    "warming",
    "stale",
    "paused",
    "step",
    "idle",
    "alarm-step",
    "alarm-pending",
    "alarm-target",
];

#[test]
fn readme_examples_give_the_documented_decisions() {
    let home = tempfile::tempdir().unwrap();
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for name in EXAMPLES {
        let input = fixture(&format!("decide/{name}.toml"));
        let expected = std::fs::read_to_string(fixture(&format!("decide/{name}.out"))).unwrap();
        let output = run_fleetdeck(&["decide", input.to_str().unwrap()], home.path());
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(String::from_utf8_lossy(&output.stdout), expected, "{name}");
        // The README shows the same file and the same answer, so the two cannot drift.
        let text = std::fs::read_to_string(&input).unwrap();
        assert!(readme.contains(text.trim()), "README lacks the input of {name}");
        assert!(readme.contains(expected.trim()), "README lacks the answer of {name}");
    }
}

#[test]
fn json_in_and_out_gives_the_same_decision_as_toml() {
    let home = tempfile::tempdir().unwrap();
    let input = fixture("decide/step.toml");
    let toml_json = run_fleetdeck(&["decide", "--json", input.to_str().unwrap()], home.path());
    assert!(toml_json.status.success());
    let decision: serde_json::Value = serde_json::from_slice(&toml_json.stdout).unwrap();
    assert_eq!(decision["desired"], 6);
    assert_eq!(decision["group"], "llm-chat");

    // The same file as JSON on standard input.
    let file: toml::Value = toml::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let mut child = Command::new(crate::support::bin())
        .args(["decide", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(serde_json::to_string(&file).unwrap().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let from_stdin: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(from_stdin, decision);
}

#[test]
fn a_mistake_in_a_decide_file_names_line_and_column() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("bad.toml");
    std::fs::write(&path, "now = \"2026-11-23T08:00:00Z\"\n[group]\nname = \"g\"\nmin = 2\nmax = 4\ncapacity = { desired = 2 }\nmaxx = 5\n").unwrap();
    let output = run_fleetdeck(&["decide", path.to_str().unwrap()], home.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:7:1:") && stderr.contains("maxx"), "{stderr}");
}

#[test]
fn with_json_the_evaluated_alarms_go_to_stderr_and_stdout_is_the_decision() {
    let home = tempfile::tempdir().unwrap();
    let input = fixture("decide/alarm-step.toml");
    let output = run_fleetdeck(&["decide", "--json", input.to_str().unwrap()], home.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let decision: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(decision["desired"], 6, "the step rule read the evaluated FIRING alarm");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("alarm queue-high: FIRING since 2026-11-23T08:56:00Z\n"), "{stderr}");
}

#[test]
fn a_duration_beyond_a_year_in_a_decide_file_is_refused_with_its_line_and_column() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("long.toml");
    let text = "now = \"2026-11-23T08:00:00Z\"\n[group]\nname = \"g\"\nmin = 2\nmax = 4\nmax_warmup = \"500000000000y\"\ncapacity = { desired = 2 }\n";
    std::fs::write(&path, text).unwrap();
    let output = run_fleetdeck(&["decide", path.to_str().unwrap()], home.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("long.toml:6:14: duration `500000000000y` is too long: at most 1y"), "{stderr}");
    // The same in JSON.
    let json = home.path().join("long.json");
    std::fs::write(&json, r#"{"now": 0, "group": {"name": "g", "min": 1, "max": 2, "capacity": {}, "policy": {"stabilization": {"scale_down": "99999y"}}}}"#).unwrap();
    let output = run_fleetdeck(&["decide", json.to_str().unwrap()], home.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("long.json:1:") && stderr.contains("`99999y` is too long"), "{stderr}");
}

#[test]
fn a_json_mistake_at_a_line_end_is_placed_on_that_line() {
    // serde_json places an unterminated string at column 0 of the next line.
    let text = "{\n  \"now\": \"2026-11-23T08:00:00Z,\n  \"group\": {}\n}\n";
    let err = fleetdeck::decide_cmd::parse(text, true, "bad.json").unwrap_err().to_string();
    assert!(err.starts_with("bad.json:2:32: control character"), "{err}");
    assert!(!err.contains("column 0"), "one position, ours: {err}");
}

/// A decision log as the engine writes it: the scale-out fixture's decision (an action),
/// then the paused fixture's in shadow mode ("no change": a pending run, written on
/// drop), each with exactly the state and inputs it was decided on.
fn write_log(dir: &std::path::Path) -> std::path::PathBuf {
    use fleetdeck::audit::{AuditLog, AuditOptions};
    let path = dir.join("decisions.jsonl");
    let mut log = AuditLog::open(&path, AuditOptions::default()).unwrap();
    for name in ["scale-out", "paused"] {
        let file = fleetdeck::decide_cmd::read(&fixture(&format!("decide/{name}.toml"))).unwrap();
        let decision = fleetdeck::decide_cmd::run(&file);
        log.record_decision(&file.group, &file.inputs, &decision, name == "paused").unwrap();
    }
    drop(log);
    path
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_logged_decision_is_reproduced_and_says_it_matches() {
    let home = tempfile::tempdir().unwrap();
    let log = write_log(home.path());
    let log = log.to_str().unwrap();

    // By default the last decision line: the paused group, logged in shadow mode.
    let output = run_fleetdeck(&["decide", log], home.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let paused = std::fs::read_to_string(fixture("decide/paused.out")).unwrap();
    assert_eq!(
        stdout(&output),
        format!("{paused}logged: {log} line 2, shadow mode\nmatches the logged decision\n")
    );

    // --line 1: the scale-out, printed exactly as for its decide file.
    let output = run_fleetdeck(&["decide", "--line", "1", log], home.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let scale_out = std::fs::read_to_string(fixture("decide/scale-out.out")).unwrap();
    assert_eq!(stdout(&output), format!("{scale_out}logged: {log} line 1\nmatches the logged decision\n"));

    // One line on its own, as JSON: the verdict goes to stderr, stdout stays JSON.
    let first = std::fs::read_to_string(log).unwrap().lines().next().unwrap().to_string();
    let single = home.path().join("line.json");
    std::fs::write(&single, first).unwrap();
    let output = run_fleetdeck(&["decide", "--json", single.to_str().unwrap()], home.path());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let decision: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(decision["desired"], 6);
    assert!(String::from_utf8_lossy(&output.stderr).contains("matches the logged decision"));
}

#[test]
fn a_tampered_logged_decision_differs_and_exits_1() {
    let home = tempfile::tempdir().unwrap();
    let log = write_log(home.path());
    let text = std::fs::read_to_string(&log).unwrap();
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines[0]["decision"]["desired"] = 7.into();
    let tampered: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&log, tampered.join("\n") + "\n").unwrap();

    let output = run_fleetdeck(&["decide", "--line", "1", log.to_str().unwrap()], home.path());
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    assert!(out.contains("set desired 4 → 6"), "the decision made now is shown: {out}");
    assert!(
        out.ends_with("DIFFERS from the logged decision: desired\n  desired: logged 7, now 6\n"),
        "{out}"
    );
}

#[test]
fn a_bad_log_line_or_a_misplaced_line_option_is_named() {
    let home = tempfile::tempdir().unwrap();
    let log = write_log(home.path());
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"v\":1,\"kind\":\"deci\n");
    std::fs::write(&log, text).unwrap();
    let output = run_fleetdeck(&["decide", log.to_str().unwrap()], home.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("decisions.jsonl:3: not an audit line"), "{stderr}");

    let toml = fixture("decide/step.toml");
    let output = run_fleetdeck(&["decide", "--line", "2", toml.to_str().unwrap()], home.path());
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--line picks a line of a decision log"));
}
