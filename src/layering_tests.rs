//! The dependency rules of DESIGN.md ("Modules", "Rules that keep the house easy to
//! change"), enforced on the sources: each layer may name only the crate modules on its
//! allow-list, and the pure layers (`model`, `policy`, `alarms`) no runtime, terminal,
//! database or HTTP crate and no I/O or clock of `std`. A failure names the file, the line
//! and the rule.
//!
//! The scan reads code, not comments: a `//` comment (doc links included) is no
//! dependency. It finds `crate::name` wherever it is written — `use` lines, brace groups
//! over several lines, paths inline in expressions — and external crates as `name::`.

use std::path::{Path, PathBuf};

/// One layer: where its sources are, which crate modules it may name, which external
/// paths it must not.
struct Layer {
    name: &'static str,
    /// Files or folders under `src/`.
    sources: &'static [&'static str],
    /// Crate modules it may name (`crate::model`, …); any other is a violation.
    may_use: &'static [&'static str],
    /// Paths it must not name (`tokio::`, `std::fs`, `thread_local!`).
    forbidden: &'static [&'static str],
    why: &'static str,
}

/// What a pure core must not touch: runtimes, terminals, databases, HTTP, cloud SDKs,
/// and std's I/O, processes, threads and clocks (time is passed in).
const IMPURE: &[&str] = &[
    "tokio::",
    "futures::",
    "ratatui::",
    "crossterm::",
    "tui_logger::",
    "rusqlite::",
    "reqwest::",
    "axum::",
    "hyper::",
    "kube::",
    "aws_config::",
    "aws_sdk_",
    "prometheus_client::",
    "nvml_wrapper::",
    "tracing::",
    "std::fs",
    "std::net",
    "std::io",
    "std::env",
    "std::process",
    "std::thread",
    "std::time::SystemTime",
    "std::time::Instant",
    "SystemTime::now",
    "Instant::now",
    "thread_local!",
];

const LAYERS: &[Layer] = &[
    Layer {
        name: "model",
        sources: &["model.rs", "model"],
        may_use: &["model"],
        forbidden: IMPURE,
        why: "model is pure data: std and serde only",
    },
    Layer {
        name: "alarms",
        sources: &["alarms"],
        may_use: &["alarms", "model"],
        forbidden: IMPURE,
        why: "alarms are pure evaluation over model types; the policy reads their output, not the reverse",
    },
    Layer {
        name: "policy",
        sources: &["policy"],
        may_use: &["policy", "model"],
        forbidden: IMPURE,
        why: "the policy is pure: model types in, a decision out, `now` passed in",
    },
    Layer {
        name: "protocol",
        sources: &["protocol"],
        may_use: &["protocol", "model", "series"],
        forbidden: &["rusqlite::", "reqwest::", "ratatui::"],
        why: "the protocol is serialisable messages over model types",
    },
    Layer {
        name: "ui",
        sources: &["ui"],
        may_use: &["ui", "model", "protocol", "config", "series"],
        forbidden: &["rusqlite::", "reqwest::", "axum::", "kube::", "aws_config::", "aws_sdk_"],
        why: "the console speaks only the protocol, so it runs the same in-process or attached",
    },
];

/// A dependency found in a source text: 1-based line and what was named.
#[derive(Debug, PartialEq)]
struct Found {
    line: usize,
    what: String,
}

/// The text with `//` comments blanked out (line breaks kept, so offsets keep their line).
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Every crate module named in `text`: `crate::name…` and each first name of a
/// `crate::{a, b::c, …}` group (nested groups and line breaks allowed).
fn crate_modules(text: &str) -> Vec<Found> {
    let code = code_only(text);
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == ':') {
            continue; // `fleetdeck_crate::` or `$crate::`-like, not ours
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level names of the brace group.
            let (mut depth, mut start, mut offset) = (0usize, true, at + "crate::{".len());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && is_ident(c) => {
                        let name: String = code[offset..].chars().take_while(|&c| is_ident(c)).collect();
                        out.push(Found { line: line_of(&code, offset), what: format!("crate::{name}") });
                        start = false;
                    }
                    c if !c.is_whitespace() => start = false,
                    _ => {}
                }
                offset += c.len_utf8();
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                out.push(Found { line: line_of(&code, at), what: format!("crate::{name}") });
            }
        }
    }
    out
}

/// Every occurrence of a forbidden path in `text`, not preceded by a name character (so
/// `tokio::` does not match `my_tokio::`).
fn forbidden_paths(text: &str, forbidden: &[&str]) -> Vec<Found> {
    let code = code_only(text);
    let mut out = Vec::new();
    for path in forbidden {
        for (at, _) in code.match_indices(path) {
            if code[..at].chars().next_back().is_some_and(|c| is_ident(c) || c == ':') {
                continue;
            }
            out.push(Found { line: line_of(&code, at), what: path.to_string() });
        }
    }
    out
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<_> = std::fs::read_dir(path).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for entry in entries {
            rust_files(&entry, out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// The violations of one layer over the files given, as `file:line: …` lines.
fn violations(layer: &Layer, files: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, text) in files {
        for found in crate_modules(text) {
            let module = found.what.trim_start_matches("crate::");
            if !layer.may_use.contains(&module) {
                out.push(format!(
                    "{name}:{}: `{}` — {} may use only {:?}: {}",
                    found.line, found.what, layer.name, layer.may_use, layer.why
                ));
            }
        }
        for found in forbidden_paths(text, layer.forbidden) {
            out.push(format!(
                "{name}:{}: `{}` — forbidden in {}: {}",
                found.line, found.what, layer.name, layer.why
            ));
        }
    }
    out
}

#[test]
fn every_layer_names_only_what_design_md_allows() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    for layer in LAYERS {
        let mut paths = Vec::new();
        for source in layer.sources {
            rust_files(&src.join(source), &mut paths);
        }
        assert!(!paths.is_empty(), "no sources found for layer {}", layer.name);
        let files: Vec<(String, String)> = paths
            .iter()
            .map(|p| {
                let name = p.strip_prefix(src.parent().unwrap()).unwrap().display().to_string();
                (name, std::fs::read_to_string(p).unwrap())
            })
            .collect();
        all.extend(violations(layer, &files));
    }
    assert!(all.is_empty(), "layering violations:\n{}", all.join("\n"));
}

#[test]
fn the_scan_finds_imports_in_groups_across_lines_and_inline_paths_but_not_in_comments() {
    let text = "use crate::model::Timestamp;\n\
                use crate::{\n    alarms::AlarmRule,\n    policy::{PauseMode, spec},\n};\n\
                // crate::engine in a comment is no dependency\n\
                let t = crate::store::Store::open(path);\n\
                /// [`crate::sources`] in a doc link neither\n";
    let found: Vec<(usize, String)> = crate_modules(text).into_iter().map(|f| (f.line, f.what)).collect();
    assert_eq!(
        found,
        [
            (1, "crate::model".to_string()),
            (3, "crate::alarms".to_string()),
            (4, "crate::policy".to_string()),
            (7, "crate::store".to_string())
        ]
    );
    let impure =
        "use std::time::Duration;\nuse std::time::Instant;\n#[tokio::test]\nmy_tokio::x();\nInstant::now()";
    let found: Vec<(usize, String)> =
        forbidden_paths(impure, IMPURE).into_iter().map(|f| (f.line, f.what)).collect();
    assert_eq!(
        found,
        [(3, "tokio::".to_string()), (2, "std::time::Instant".to_string()), (5, "Instant::now".to_string())]
    );
}

#[test]
fn a_layer_that_names_a_module_off_its_list_is_reported_with_file_and_line() {
    let ui = LAYERS.iter().find(|l| l.name == "ui").unwrap();
    let files = [(
        "src/ui/x.rs".to_string(),
        "use crate::protocol::Snapshot;\nuse crate::policy::PauseMode;\n".to_string(),
    )];
    let found = violations(ui, &files);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("src/ui/x.rs:2: `crate::policy` — ui may use only"), "{}", found[0]);
}
