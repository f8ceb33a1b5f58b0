//! `fleetdeck decide`: the README's examples give the documented answers, JSON in and
//! out, and mistakes in the file are reported with line and column.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::support::{fixture, run_fleetdeck};

const EXAMPLES: [&str; 6] = ["scale-out", "warming", "stale", "paused", "step", "idle"];

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
