//! Mutated inputs, in process: a few thousand config files and decide files derived from
//! the valid fixtures and the embedded demo by a seeded, deterministic mutator (values
//! swapped for huge, negative, non-finite or wrongly typed ones, durations of every size,
//! keys added, dropped or duplicated, tables repeated, bytes garbled, text cut short).
//! Each config is loaded as `config check` loads it and, if accepted, ticked by an
//! in-memory engine as `--auto` would; each decide file is parsed, decided and printed as
//! `fleetdeck decide` does. Nothing may panic, and every refusal must say
//! `FILE:LINE:COL: ` with a line and column inside the text.
//!
//! The seed is fixed, so a failure is reproduced by running the test again; the failing
//! text is printed in full.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;

use fleetdeck::clock::ManualClock;
use fleetdeck::engine::Engine;
use fleetdeck::model::Timestamp;

use crate::support::fixture;

/// splitmix64: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values a mutant puts where a value was: extremes of every type the files hold.
const VALUES: &[&str] = &[
    "0",
    "-1",
    "1",
    "-0.0",
    "4294967295",
    "4294967296",
    "-4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e308",
    "-1e308",
    "1e-320",
    "nan",
    "inf",
    "-inf",
    "3.5",
    "true",
    "\"\"",
    "\"x\"",
    "\"é ∞\"",
    "\"0s\"",
    "\"1ns\"",
    "\"1ms\"",
    "\"-5s\"",
    "\"1.5s\"",
    "\"59s\"",
    "\"1h\"",
    "\"2h\"",
    "\"25h\"",
    "\"1y\"",
    "\"2y\"",
    "\"8766h\"",
    "\"500000000000y\"",
    "\"584942417355y\"",
    "\"18446744073709551615s\"",
    "\"99999999999999999999999d\"",
    "\"NaN\"",
    "\"inf\"",
    "\"-\"",
    "\"FIRING\"",
    "\"OK\"",
    "\"2026-11-23T08:00:00Z\"",
    "\"9999-12-31T23:59:59Z\"",
    "\"1969-12-31T23:59:59Z\"",
    "1979-05-27T07:32:00Z",
    "[]",
    "[1, \"-\", nan, -1e308]",
    "[\"-\", \"-\", \"-\"]",
    "{}",
    "{ desired = 4294967295, ready = 4294967295, warming = 4294967295 }",
    "{ min = \"0s\", max = \"500000000000y\" }",
    "{ shape = \"ramp\", from_rps = 1e308, to_rps = -1, over = \"1ns\" }",
];

/// Keys a mutant may add, besides those it finds in the seed.
const KEYS: &[&str] = &[
    "poll_interval",
    "stale_after",
    "period",
    "for_duration",
    "max_warmup",
    "cooldown",
    "warmup",
    "lead",
    "slot",
    "retain",
    "now",
    "last_tick",
    "datapoints",
    "previous",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "target",
    "x-unknown",
    "\"quoted key\"",
];

/// Text that may be dropped in anywhere: headers, garbage, stray syntax.
const SNIPPETS: &[&str] = &[
    "[[groups]]",
    "[groups.sim]",
    "[[sim.events]]",
    "[[alarms]]",
    "[alarms.rule]",
    "[group]",
    "[inputs]",
    "[[group.policy.step_scaling]]",
    "[",
    "]]",
    "= =",
    "\"",
    "'''",
    "\u{0}",
    "\u{feff}",
    "\u{fffd}\u{fffd}",
    "{",
    "}",
    ",",
    "#",
];

/// Mutates `text` a few times: half the time in its parsed form, so the result is still
/// well-formed TOML or JSON and reaches the checks behind the parser, else as text.
fn mutate(text: &str, keys: &[String], rng: &mut Rng) -> String {
    if rng.below(2) == 0
        && let Some(mutant) = mutate_tree(text, keys, rng)
    {
        return mutant;
    }
    let mut text = text.to_string();
    for _ in 0..1 + rng.below(3) {
        text = mutate_once(&text, keys, rng);
    }
    text
}

/// Values a mutant puts in a parsed file's tree.
fn tree_value(rng: &mut Rng) -> serde_json::Value {
    use serde_json::json;
    match rng.below(4) {
        0 => json!(*rng.pick(&[0.0, -1.0, 1e308, -1e308, 0.5, -0.0, 1e-320, 4294967295.0, 4294967296.0])),
        1 => json!(*rng.pick(&[0i64, -1, 1, 4294967295, 4294967296, i64::MAX, i64::MIN, 1795420800000])),
        2 => {
            let text = *rng.pick(&[
                "",
                "-",
                "NaN",
                "inf",
                "x",
                "0s",
                "1ns",
                "1ms",
                "59s",
                "2h",
                "25h",
                "1y",
                "2y",
                "8766h",
                "500000000000y",
                "584942417355y",
                "18446744073709551615s",
                "FIRING",
                "PENDING",
                "OK",
                "2026-11-23T08:00:00Z",
                "9999-12-31T23:59:59Z",
                "0 0 * * *",
                "Mars/Olympus",
                "gpu_util",
                "custom:",
                "breaching",
                "full",
                "scale_in_only",
                "change_in_capacity",
                "exact_capacity",
                "percent_change_in_capacity",
            ]);
            json!(text)
        }
        _ => match rng.below(5) {
            0 => json!(u64::MAX),
            1 => json!([]),
            2 => json!({}),
            3 => json!([1e308, "-", -1, 0]),
            _ => json!(rng.below(2) == 0),
        },
    }
}

/// Durations of every size, for a value that was a duration.
/// Durations of every size, for a value that was a duration; the huge ones twice, as
/// they are the ones that overflow.
const DURATIONS: &[&str] = &[
    "0s",
    "1ns",
    "1ms",
    "999ms",
    "59s",
    "1h",
    "61m",
    "2h",
    "24h",
    "25h",
    "2d",
    "1y",
    "366d",
    "2y",
    "8766h",
    "8767h",
    "-1s",
    "1.5h",
    "",
    "500000000000y",
    "584942417355y",
    "18446744073709551615s",
    "500000000000y",
    "584942417355y",
    "18446744073709551615s",
];

/// A value of the same kind as `node`, at an edge: a duration for a duration, an extreme
/// for a number, another word for a word.
fn like(node: &serde_json::Value, rng: &mut Rng) -> serde_json::Value {
    use serde_json::{Value, json};
    match node {
        Value::String(text) if humantime::parse_duration(text).is_ok() => json!(*rng.pick(DURATIONS)),
        Value::Bool(b) => json!(!b),
        Value::Number(_) | Value::String(_) | Value::Null | Value::Array(_) | Value::Object(_) => {
            tree_value(rng)
        }
    }
}

/// One or two changes to the parsed tree of `text` (a value replaced, a key removed or
/// added, an array element repeated), written back in the same format; None when the
/// text does not parse or the result cannot be written as TOML.
fn mutate_tree(text: &str, keys: &[String], rng: &mut Rng) -> Option<String> {
    let json = text.trim_start().starts_with('{');
    let mut tree: serde_json::Value = if json {
        serde_json::from_str(text).ok()?
    } else {
        serde_json::to_value(toml::from_str::<toml::Value>(text).ok()?).ok()?
    };
    // Mostly one change, so that a file mostly still passes the checks before the one
    // that matters.
    for _ in 0..if rng.below(3) == 0 { 2 } else { 1 } {
        let mut nodes = Vec::new();
        collect(&tree, String::new(), &mut nodes);
        // Half the time a duration: products and sums of durations are where values
        // that parse can still overflow.
        let durations: Vec<String> = nodes
            .iter()
            .filter(|p| {
                tree.pointer(p).and_then(|v| v.as_str()).is_some_and(|t| humantime::parse_duration(t).is_ok())
            })
            .cloned()
            .collect();
        // Each kind of key as often as any other: a key name first, then one of its places
        // (a fleet has many `period`s and one `poll_interval`).
        let candidates = if !durations.is_empty() && rng.below(2) == 0 { &durations } else { &nodes };
        let name = |p: &String| p.rsplit('/').next().unwrap_or_default().to_string();
        let mut names: Vec<String> = candidates.iter().map(name).collect();
        names.sort();
        names.dedup();
        let chosen = rng.pick(&names).clone();
        let places: Vec<&String> = candidates.iter().filter(|p| name(p) == chosen).collect();
        let pointer = (*rng.pick(&places)).clone();
        let node = tree.pointer_mut(&pointer)?;
        match (rng.below(4), node) {
            (0, serde_json::Value::Object(map)) => {
                let key = if keys.is_empty() || rng.below(4) == 0 {
                    "x-unknown".to_string()
                } else {
                    rng.pick(keys).clone()
                };
                map.insert(key, tree_value(rng));
            }
            (1, serde_json::Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len()))?.clone();
                map.remove(&key);
            }
            (1, serde_json::Value::Array(items)) if !items.is_empty() => {
                let item = items[rng.below(items.len())].clone();
                items.push(item);
            }
            (2, node) => *node = tree_value(rng),
            (_, node) => *node = like(node, rng),
        }
    }
    if json {
        serde_json::to_string_pretty(&tree).ok()
    } else {
        toml::to_string(&serde_json::from_value::<toml::Value>(tree).ok()?).ok()
    }
}

/// The JSON pointer of every node below the root.
fn collect(node: &serde_json::Value, here: String, out: &mut Vec<String>) {
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    match node {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                let path = format!("{here}/{}", escape(key));
                out.push(path.clone());
                collect(value, path, out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                let path = format!("{here}/{i}");
                out.push(path.clone());
                collect(value, path, out);
            }
        }
        _ => {}
    }
}

fn mutate_once(text: &str, keys: &[String], rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let at = rng.below(lines.len());
    match rng.below(10) {
        // A value replaced (TOML `key = value`, JSON `"key": value,`).
        0..=3 => {
            let line = &lines[at];
            let was_duration =
                line.split_once(" = ").or_else(|| line.split_once("\": ")).is_some_and(|(_, v)| {
                    humantime::parse_duration(v.trim_end_matches(',').trim_matches('"')).is_ok()
                });
            let duration;
            let value = if was_duration && rng.below(2) == 0 {
                duration = format!("\"{}\"", rng.pick(DURATIONS));
                duration.as_str()
            } else {
                *rng.pick(VALUES)
            };
            if let Some(eq) = line.find(" = ") {
                lines[at] = format!("{} = {value}", &line[..eq]);
            } else if let Some(colon) = line.find("\": ") {
                let comma = if line.trim_end().ends_with(',') { "," } else { "" };
                lines[at] = format!("{}\": {}{comma}", &line[..colon], json_value(value));
            } else {
                lines[at] = format!("{line} {value}");
            }
        }
        // A key added, with any value.
        4 => {
            let key = match rng.below(3) {
                0 => rng.pick(KEYS).to_string(),
                _ if keys.is_empty() => rng.pick(KEYS).to_string(),
                _ => rng.pick(keys).clone(),
            };
            let value = *rng.pick(VALUES);
            let json = text.trim_start().starts_with('{');
            let line = if json {
                format!("\"{}\": {},", key.trim_matches('"'), json_value(value))
            } else {
                format!("{key} = {value}")
            };
            lines.insert(at, line);
        }
        5 => {
            lines.remove(at);
        }
        6 => {
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        7 => lines.insert(at, rng.pick(SNIPPETS).to_string()),
        // A character garbled.
        8 => {
            let mut chars: Vec<char> = lines[at].chars().collect();
            if !chars.is_empty() {
                let i = rng.below(chars.len());
                chars[i] = char::from_u32((rng.next() % 0x2FF) as u32).unwrap_or('?');
            }
            lines[at] = chars.into_iter().collect();
        }
        // Cut short.
        _ => {
            let joined = lines.join("\n");
            let mut cut = rng.below(joined.len() + 1);
            while !joined.is_char_boundary(cut) {
                cut -= 1;
            }
            return joined[..cut].to_string();
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// A TOML value as JSON, roughly (what JSON cannot say stays as it is: a syntax error).
fn json_value(value: &str) -> String {
    match value {
        "1979-05-27T07:32:00Z" => "\"1979-05-27T07:32:00Z\"".to_string(),
        "nan" | "inf" | "-inf" => format!("\"{value}\""),
        "{}" => "{}".to_string(),
        other if other.starts_with('{') => "{\"desired\": 4294967295}".to_string(),
        other => other.replace(", nan", ", \"NaN\""),
    }
}

/// Every key written `key = …` (TOML) or `"key": …` (JSON) in the seeds.
fn keys_of(texts: &[String]) -> Vec<String> {
    let key = |line: &str| {
        let (key, _) = line.split_once(" = ").or_else(|| line.split_once("\": "))?;
        Some(key.trim().trim_matches('"').to_string())
    };
    let mut keys: Vec<String> = texts
        .iter()
        .flat_map(|t| t.lines())
        .filter_map(key)
        .filter(|k| !k.is_empty() && !k.starts_with('#'))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `ORIGIN:LINE:COL: …` with a line and column inside `text` (a line past the last is
/// allowed: an error at the very end).
fn located(message: &str, origin: &str, text: &str) -> bool {
    let Some(rest) = message.strip_prefix(origin).and_then(|r| r.strip_prefix(':')) else { return false };
    let mut parts = rest.splitn(3, ':');
    let (Some(line), Some(column), Some(after)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(line), Ok(column)) = (line.parse::<usize>(), column.parse::<usize>()) else { return false };
    let lines = text.split('\n').count();
    line >= 1 && column >= 1 && line <= lines + 1 && after.starts_with(' ')
}

/// Runs `check` on each mutant; panics listing every failure (a panic, or a refusal that
/// is not located), with the text that caused it.
fn run_mutants(
    what: &str,
    seeds: &[String],
    count: usize,
    seed: u64,
    check: impl Fn(&str) -> Result<(), String>,
) {
    let keys = keys_of(seeds);
    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for case in 0..count {
        let source = rng.pick(seeds).clone();
        let text = mutate(&source, &keys, &mut rng);
        match catch_unwind(AssertUnwindSafe(|| check(&text))) {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(problem)) if problem.is_empty() => refused += 1,
            Ok(Err(problem)) => failures.push(format!("case {case}: {problem}\n--- text ---\n{text}\n---")),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                failures.push(format!("case {case}: PANIC {message}\n--- text ---\n{text}\n---"));
            }
        }
        if failures.len() >= 5 {
            break;
        }
    }
    assert!(failures.is_empty(), "{what}: {} failures:\n{}", failures.len(), failures.join("\n\n"));
    // A mutator that breaks everything, or nothing, tests little.
    assert!(accepted > count / 50 && refused > count / 10, "{what}: {accepted} accepted, {refused} refused");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn toml_files(dir: &Path) -> Vec<String> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths.iter().map(|p| read(p)).collect()
}

#[test]
fn thousands_of_mutated_configs_never_panic_and_every_refusal_names_file_line_and_column() {
    let mut seeds = toml_files(&fixture(""));
    seeds.push(fleetdeck::config::DEMO_TOML.to_string());
    assert!(seeds.len() >= 5, "the valid fixtures and the demo");
    // In the fixtures' directory, so that a trace shape's relative path resolves.
    let origin = fixture("mutant.toml").display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    run_mutants("config", &seeds, 3000, 0xF1EE7DEC, |text| match fleetdeck::config::parse(text, &origin) {
        // What `--auto` does with a config `config check` accepts: a few ticks of its engine
        // (in memory: no store, no decision log), each one poll interval on.
        Ok(config) => {
            let clock = ManualClock::new(Timestamp::from_millis(1_795_420_800_000));
            let mut engine = Engine::simulated(&config, config.seed, Arc::new(clock.clone()), false, false);
            runtime.block_on(async {
                for _ in 0..3 {
                    engine.tick().await;
                    clock.advance(config.poll_interval);
                }
            });
            Ok(())
        }
        Err(err) => {
            let shown = err.to_string();
            if located(&shown, &origin, text) {
                Err(String::new())
            } else {
                Err(format!("not located: {shown}"))
            }
        }
    });
}

#[test]
fn thousands_of_mutated_decide_files_never_panic_and_every_refusal_names_file_line_and_column() {
    let tomls = toml_files(&fixture("decide"));
    // The same files as JSON, as `decide -` and `.json` files read them.
    let jsons: Vec<String> = tomls
        .iter()
        .map(|t| serde_json::to_string_pretty(&toml::from_str::<toml::Value>(t).unwrap()).unwrap())
        .collect();
    assert!(tomls.len() >= 9, "the decide fixtures");
    for (json, seeds, seed) in [(false, &tomls, 0xDEC1DE), (true, &jsons, 0x15_0DEC)] {
        let origin = if json { "mutant.json" } else { "mutant.toml" };
        let what = if json { "decide (JSON)" } else { "decide (TOML)" };
        run_mutants(what, seeds, 2000, seed, |text| match fleetdeck::decide_cmd::parse(text, json, origin) {
            Ok(file) => {
                // What `fleetdeck decide` does with a file it accepts: decide and print.
                let answer = fleetdeck::decide_cmd::answer(&file);
                let _ = fleetdeck::decide_cmd::render_alarms(&answer.alarms);
                let _ = fleetdeck::decide_cmd::render(&answer.decision);
                serde_json::to_string_pretty(&answer.decision)
                    .map_err(|err| format!("JSON of the decision: {err}"))?;
                Ok(())
            }
            Err(err) => {
                let shown = err.to_string();
                if located(&shown, origin, text) {
                    Err(String::new())
                } else {
                    Err(format!("not located: {shown}"))
                }
            }
        });
    }
}
