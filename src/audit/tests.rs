//! The log end to end through real files: coalescing, syncing, rotation, torn lines, and
//! the round trip that is the point of it all — a line read back and decided again gives
//! the same decision.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::decide_cmd::{self, DecideFile};
use crate::model::{MetricKind, Timestamp};
use crate::policy::{self, Decision, GroupState, Inputs, MetricInput};
use crate::protocol::{Command, CommandRequest, Operator, Reply, SimCommand};

fn fixture(name: &str) -> DecideFile {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decide").join(format!("{name}.toml"));
    decide_cmd::read(&path).unwrap()
}

fn log_in(dir: &Path, options: AuditOptions) -> (PathBuf, AuditLog) {
    let path = dir.join("state/fleetdeck/decisions.jsonl");
    let log = AuditLog::open(&path, options).unwrap();
    (path, log)
}

fn read_all(path: &Path) -> Vec<AuditLine> {
    read_lines(path).collect::<Result<_, _>>().unwrap()
}

fn decisions(path: &Path) -> Vec<DecisionLine> {
    read_all(path)
        .into_iter()
        .map(|l| match l {
            AuditLine::Decision(d) => *d,
            other => panic!("expected a decision line, got {other:?}"),
        })
        .collect()
}

fn json(decision: &Decision) -> String {
    serde_json::to_string(decision).unwrap()
}

/// The scale-out group ticking every 15 s with GPU utilization `value` (0.70 ± 10 % is
/// no change; above 0.77 is a scale-out). State is stored after each tick as the engine
/// does, so every tick's state differs from the first; new instances are ready at once.
struct Ticker {
    file: DecideFile,
}

impl Ticker {
    fn new() -> Self {
        Ticker { file: fixture("scale-out") }
    }

    fn tick(&mut self, log: &mut AuditLog, gpu_util: f64) -> (GroupState, Inputs, Decision) {
        self.tick_as(log, gpu_util, false)
    }

    /// Returns what `decide` was given, and what it decided.
    fn tick_as(&mut self, log: &mut AuditLog, gpu_util: f64, shadow: bool) -> (GroupState, Inputs, Decision) {
        let now = self.file.now;
        for m in &mut self.file.inputs.metrics {
            m.at = now.minus(Duration::from_secs(5));
            if m.kind == MetricKind::GpuUtil {
                m.value = gpu_util;
            }
        }
        let decision = policy::decide(&self.file.group, &self.file.inputs, now);
        log.record_decision(&self.file.group, &self.file.inputs, &decision, shadow).unwrap();
        let given = (self.file.group.clone(), self.file.inputs.clone());
        self.file.group.apply(&decision);
        self.file.group.capacity.ready = self.file.group.capacity.desired;
        self.file.now = now.plus(Duration::from_secs(15));
        (given.0, given.1, decision)
    }
}

#[test]
fn identical_no_change_ticks_are_one_line_with_the_first_state_and_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    let mut ticker = Ticker::new();
    let (first_state, first_inputs, _) = ticker.tick(&mut log, 0.71);
    let mut ticks =
        vec![policy::decide(&first_state, &first_inputs, ticker.file.now.minus(Duration::from_secs(15)))];
    for value in [0.68, 0.74, 0.70, 0.66] {
        ticks.push(ticker.tick(&mut log, value).2);
    }
    assert!(ticks.iter().all(|d| d.desired.is_none()), "{:?}", ticks.last());
    assert_ne!(ticks[0].reason, ticks[1].reason, "the values differ, so do the words");
    log.flush().unwrap();

    let lines = decisions(&path);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!((line.count, line.at, line.last_at), (5, ticks[0].at, ticks[4].at));
    assert_eq!(line.state, first_state);
    assert_eq!(line.inputs, first_inputs);
    assert_eq!(json(&line.decision), json(&ticks[0]));
}

#[test]
fn an_action_ends_the_run_and_both_reach_the_disk_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    let mut ticker = Ticker::new();
    for _ in 0..3 {
        ticker.tick(&mut log, 0.72);
    }
    let (_, _, action) = ticker.tick(&mut log, 0.93);
    assert_eq!(action.desired, Some(6));
    // Synced with the action, before any flush: the run that it ended, then the action.
    let on_disk = decisions(&path);
    assert_eq!(
        on_disk.iter().map(|l| (l.count, l.decision.desired)).collect::<Vec<_>>(),
        [(3, None), (1, Some(6))]
    );

    for _ in 0..2 {
        ticker.tick(&mut log, 0.72);
    }
    drop(log);
    let lines = decisions(&path);
    assert_eq!(lines.len(), 3, "drop writes the pending run");
    assert_eq!((lines[2].count, lines[2].decision.current), (2, 6));
}

#[test]
fn flush_writes_a_pending_run_and_the_next_tick_starts_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    let mut ticker = Ticker::new();
    ticker.tick(&mut log, 0.72);
    ticker.tick(&mut log, 0.72);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "", "a run is pending in memory");
    log.flush().unwrap();
    assert_eq!(decisions(&path).iter().map(|l| l.count).collect::<Vec<_>>(), [2]);
    ticker.tick(&mut log, 0.72);
    log.flush().unwrap();
    assert_eq!(decisions(&path).iter().map(|l| l.count).collect::<Vec<_>>(), [2, 1]);
}

#[test]
fn shadow_and_words_and_long_runs_split_runs() {
    let dir = tempfile::tempdir().unwrap();
    let options = AuditOptions { max_run: Duration::from_secs(60), ..AuditOptions::default() };
    let (path, mut log) = log_in(dir.path(), options);
    let mut ticker = Ticker::new();
    ticker.tick(&mut log, 0.72);
    ticker.tick_as(&mut log, 0.72, true); // shadow: another run
    ticker.tick_as(&mut log, 0.72, true);
    ticker.tick_as(&mut log, f64::NAN, true); // "invalid" is other words than "within"
    for _ in 0..6 {
        ticker.tick(&mut log, 0.72); // 90 s of ticks: split after 60 s
    }
    log.flush().unwrap();
    let runs: Vec<(u64, bool)> = decisions(&path).iter().map(|l| (l.count, l.shadow)).collect();
    assert_eq!(runs, [(1, false), (2, true), (1, true), (4, false), (2, false)]);
}

#[test]
fn actions_and_commands_are_synced_and_no_change_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    let mut ticker = Ticker::new();
    ticker.tick(&mut log, 0.72);
    assert_eq!(log.syncs(), 0);
    ticker.tick(&mut log, 0.93);
    assert_eq!(log.syncs(), 1);
    assert_eq!(read_all(&path).len(), 2);

    let request = CommandRequest {
        operator: Operator { name: "ana".into(), email: Some("ana@example.com".into()), auth: None },
        reason: Some("INC-123".into()),
        command: Command::Sim { action: SimCommand::Fail { group: "llm-chat".into(), count: 1 } },
    };
    let reply = Reply::Ok { message: "1 instance of llm-chat fails".into() };
    log.record_command(Timestamp(1_800_000_000_000), &request, &reply).unwrap();
    assert_eq!(log.syncs(), 2);
    match read_all(&path).pop().unwrap() {
        AuditLine::Command(c) => {
            assert_eq!(
                (c.at, &c.operator, &c.command, &c.reason),
                (Timestamp(1_800_000_000_000), &request.operator, &request.command, &request.reason)
            );
            assert_eq!(c.reply, reply);
        }
        other => panic!("{other:?}"),
    }
}

fn command(n: usize) -> (CommandRequest, Reply) {
    let request = CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some(format!("n={n}")),
        command: Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 1 } },
    };
    (request, Reply::Ok { message: "ok".into() })
}

fn reason_number(line: &AuditLine) -> usize {
    match line {
        AuditLine::Command(c) => c.reason.as_deref().unwrap()[2..].parse().unwrap(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rotation_keeps_at_most_keep_files_and_never_splits_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let options = AuditOptions { max_bytes: 1000, keep: 3, ..AuditOptions::default() };
    let (path, mut log) = log_in(dir.path(), options);
    for n in 0..60 {
        let (request, reply) = command(n);
        log.record_command(Timestamp(n as i64), &request, &reply).unwrap();
    }
    drop(log);

    assert!(!rotated_path(&path, 4).exists());
    let files = [rotated_path(&path, 3), rotated_path(&path, 2), rotated_path(&path, 1), path.clone()];
    let mut numbers = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.len() <= 1000 && text.ends_with('\n'), "{}: {} bytes", file.display(), text.len());
        numbers.extend(read_all(file).iter().map(reason_number));
    }
    // Oldest file first, the newest lines in order, nothing missing between them.
    assert_eq!(numbers.last(), Some(&59));
    assert_eq!(numbers, (numbers[0]..60).collect::<Vec<_>>());
    assert!(numbers[0] > 0, "older files were dropped");
}

#[test]
fn commands_and_acted_changes_are_also_kept_in_the_actions_log_and_nothing_else_is() {
    // Issue 15, point 20: weeks of who did what, apart from every tick's line.
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    assert_eq!(log.actions_path(), path.with_file_name("decisions.actions.jsonl"));
    let mut ticker = Ticker::new();
    ticker.tick(&mut log, 0.72); // no change
    let (_, _, acted) = ticker.tick(&mut log, 0.93); // a scale-out, acted on
    ticker.tick_as(&mut log, 0.99, true); // a scale-out in shadow mode: not done
    let (request, reply) = command(7);
    log.record_command(Timestamp(1_800_000_000_000), &request, &reply).unwrap();
    ticker.tick(&mut log, 0.72);
    drop(log);

    assert_eq!(read_all(&path).len(), 5, "the full log has every line");
    let kept = read_all(&actions_path(&path));
    assert_eq!(kept.len(), 2, "{kept:?}");
    match &kept[0] {
        AuditLine::Decision(d) => assert_eq!((d.decision.desired, d.shadow), (acted.desired, false)),
        other => panic!("{other:?}"),
    }
    assert_eq!(reason_number(&kept[1]), 7);
}

#[test]
fn rotated_actions_files_go_when_older_than_the_retention_and_newer_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let day = Duration::from_secs(24 * 3600);
    let options =
        AuditOptions { actions_max_bytes: 1000, actions_retention: 30 * day, ..AuditOptions::default() };
    let (path, mut log) = log_in(dir.path(), options);
    let actions = actions_path(&path);
    let rotated =
        || -> Vec<PathBuf> { (1..).map(|n| rotated_path(&actions, n)).take_while(|p| p.exists()).collect() };
    let start = Timestamp(1_800_000_000_000);
    let record = |log: &mut AuditLog, n: usize, at: Timestamp| {
        let (request, reply) = command(n);
        log.record_command(at, &request, &reply).unwrap();
    };
    // A command a day for 40 days: about four lines a file.
    let n = 40;
    for k in 0..n {
        record(&mut log, k, start.plus(day * k as u32));
    }
    // Every rotated file has lines newer than 30 days before the newest line but the
    // oldest ones: those went.
    let newest = start.plus(day * 39);
    let files = rotated();
    assert!(files.len() >= 3, "{} rotated files", files.len());
    let last_of = |file: &Path| read_all(file).iter().map(AuditLine::at).max().unwrap();
    for file in &files {
        assert!(last_of(file) >= newest.minus(day * 30 + day * 5), "{}: too old to be kept", file.display());
    }
    assert!(last_of(files.last().unwrap()) < newest.minus(day * 25), "the kept span reaches back weeks");
    // The full log lost nothing.
    assert_eq!(
        read_all(&path).len()
            + (1..)
                .map(|k| rotated_path(&path, k))
                .take_while(|p| p.exists())
                .map(|p| read_all(&p).len())
                .sum::<usize>(),
        n
    );
}

#[test]
fn a_torn_last_line_stays_alone_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    std::fs::write(&path, r#"{"v":1,"kind":"comm"#).unwrap();
    let mut log = AuditLog::open(&path, AuditOptions::default()).unwrap();
    let (request, reply) = command(7);
    log.record_command(Timestamp(7), &request, &reply).unwrap();
    let mut lines = read_lines(&path);
    let err = lines.next().unwrap().unwrap_err();
    assert!(matches!(err, AuditError::BadLine { line: 1, .. }), "{err}");
    assert_eq!(reason_number(&lines.next().unwrap().unwrap()), 7);
}

#[test]
fn logged_decisions_read_back_and_decided_again_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut log) = log_in(dir.path(), AuditOptions::default());
    let mut expected = Vec::new();
    for name in ["scale-out", "paused", "idle", "stale", "step", "warming"] {
        let file = fixture(name);
        let decision = decide_cmd::run(&file);
        log.record_decision(&file.group, &file.inputs, &decision, false).unwrap();
        expected.push(decision);
    }
    // A NaN latency percentile (no requests), written as text.
    let mut nan = fixture("scale-out");
    nan.inputs.metrics.push(MetricInput::new(MetricKind::LatencyP99, nan.now, f64::NAN));
    let decision = decide_cmd::run(&nan);
    log.record_decision(&nan.group, &nan.inputs, &decision, true).unwrap();
    expected.push(decision);
    log.flush().unwrap();

    let lines = decisions(&path);
    assert_eq!(lines.len(), expected.len());
    let mut logged: Vec<String> = lines.iter().map(|l| json(&l.decision)).collect();
    let mut again: Vec<String> =
        lines.iter().map(|l| json(&policy::decide(&l.state, &l.inputs, l.at))).collect();
    assert_eq!(again, logged, "a logged line reproduces its decision");
    // Pending runs are written by group name on flush, so compare as sets.
    let mut decided: Vec<String> = expected.iter().map(json).collect();
    decided.sort();
    logged.sort();
    again.sort();
    assert_eq!(logged, decided);
    assert!(expected.iter().any(|d| d.desired.is_some()) && expected.iter().any(|d| !d.blocked.is_empty()));
}
