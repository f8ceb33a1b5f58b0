//! The shared Azure LLM traces (Azure LLM inference 2023, CC-BY-4.0) the tests replay:
//! in `../shared/traces` beside the repository, or `$FLEETDECK_SHARED_TRACES`.
//!
//! A test that needs them checks every trace that is there and names every one that is
//! not. A missing trace fails the test where `CI` is set (CI must have them); elsewhere it
//! is announced on the terminal itself — not the test's captured output, which a passing
//! test never shows — so a skipped check is never silent.

use std::io::Write as _;
use std::path::PathBuf;

use super::Trace;

/// The Azure traces the tests expect: coding assistant, conversation.
pub const AZURE_CODE: &str = "azure-llm-2023-code-per-second.csv";
pub const AZURE_CONV: &str = "azure-llm-2023-conv-per-second.csv";

/// Where the shared traces are looked for.
pub fn dir() -> PathBuf {
    match std::env::var_os("FLEETDECK_SHARED_TRACES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/traces"),
    }
}

/// Each trace of `wanted` (a name and what the test checks it with) that loads, in order;
/// each one that does not is named, with why, in a panic when `CI` is set, else in a
/// warning on the terminal. `test` names the test in both.
pub fn load<T: Copy>(test: &str, wanted: &[(&'static str, T)]) -> Vec<(&'static str, T, Trace)> {
    let dir = dir();
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for &(name, with) in wanted {
        let path = dir.join(name);
        match Trace::from_path(&path) {
            Ok(trace) => found.push((name, with, trace)),
            Err(err) => missing.push(err.to_string()), // names the path
        }
    }
    if !missing.is_empty() {
        let list = missing.join("\n  ");
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: shared traces missing (CI must have them):\n  {list}"
        );
        // Straight to the terminal: libtest captures print!/eprint!, not writes to stderr.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** WARNING: {test} did NOT check {} of {} shared traces (missing or unreadable; \
             set FLEETDECK_SHARED_TRACES or fetch ../shared/traces):\n  {list}\n",
            missing.len(),
            wanted.len()
        );
    }
    found
}
