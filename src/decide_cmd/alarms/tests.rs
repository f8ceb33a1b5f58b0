//! Alarms in decide files: CloudWatch's missing-data table through whole decide files
//! (mirroring `alarms/cloudwatch_table_tests.rs`), the for-duration across datapoints, and
//! refusals that name line and column.

use crate::decide_cmd::{DecideFile, answer, parse};
use crate::model::AlarmState;

/// A decide file at minute 100 (on a period boundary, so the datapoints are minutes
/// 95..=99 when five are given) with one alarm and a step rule on it.
fn file(rule: &str, datapoints: &str, previous: AlarmState) -> String {
    let previous = serde_json::to_string(&previous).unwrap();
    format!(
        r#"now = 6000000
[group]
name = "g"
min = 1
max = 10
capacity = {{ desired = 4, ready = 4 }}
[[group.policy.step_scaling]]
alarm = "table"
adjustment_type = "change_in_capacity"
steps = [{{ lower = 0, adjustment = 1 }}]
[[alarms]]
datapoints = {datapoints}
previous = {previous}
[alarms.rule]
name = "table"
metric = "gpu_util"
statistic = "average"
comparison = "greater_than"
threshold = 0.5
period = "1m"
{rule}
"#
    )
}

fn read(text: &str) -> DecideFile {
    parse(text, false, "case.toml").unwrap_or_else(|err| panic!("{err}\n{text}"))
}

/// `"0 - X"` → `[0.1, "-", 0.9]`.
fn datapoints(row: &str) -> String {
    let cells: Vec<&str> = row
        .split_whitespace()
        .map(|cell| match cell {
            "0" => "0.1",
            "X" => "0.9",
            "-" => "\"-\"",
            other => panic!("bad cell {other}"),
        })
        .collect();
    format!("[{}]", cells.join(", "))
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    Ok,
    Alarm,
    InsufficientData,
    Retain,
}
use Expect::*;

const TREATMENTS: [&str; 4] = ["missing", "ignore", "breaching", "not_breaching"];

fn check_table(m: u32, n: u32, table: &[(&str, [Expect; 4])]) {
    for (row, expected) in table {
        for (treatment, expect) in TREATMENTS.iter().zip(expected) {
            for previous in [AlarmState::Ok, AlarmState::Firing, AlarmState::InsufficientData] {
                let rule = format!(
                    "datapoints_to_alarm = {m}\nevaluation_periods = {n}\nmissing_data = \"{treatment}\""
                );
                let text = file(&rule, &datapoints(row), previous);
                let answer = answer(&read(&text));
                let want = match expect {
                    Ok => AlarmState::Ok,
                    Alarm => AlarmState::Firing,
                    InsufficientData => AlarmState::InsufficientData,
                    Retain => previous,
                };
                let got = answer.alarms[0].status.state;
                assert_eq!(got, want, "{m} of {n}, `{row}`, {treatment}, previously {previous:?}");
                // The policy reads the evaluated state: the step rule acts on FIRING only
                // (and then on the newest datapoint with a value, if there is one).
                // (and then by the step its newest datapoint falls in: `lower = 0`, at or
                // above the threshold).
                let acted = answer.decision.desired == Some(5);
                let above = answer.alarms[0].status.value.is_some_and(|v| v >= 0.5);
                assert_eq!(
                    acted,
                    got == AlarmState::Firing && above,
                    "{row} {treatment}: {}",
                    answer.decision.reason
                );
            }
        }
    }
}

/// The first table of CloudWatch's "How alarm state is evaluated when data is missing"
/// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data>),
/// as in `alarms/cloudwatch_table_tests.rs`: 3 of 3.
#[test]
fn the_cloudwatch_missing_data_table_three_of_three_holds_for_decide_files() {
    check_table(
        3,
        3,
        &[
            //              MISSING           IGNORE  BREACHING NOT BREACHING
            ("0 - X - X", [Ok, Ok, Ok, Ok]),
            ("- - - - 0", [Ok, Ok, Ok, Ok]),
            ("- - - - -", [InsufficientData, Retain, Alarm, Ok]),
            ("0 X X - X", [Alarm, Alarm, Alarm, Alarm]),
            ("- - X - -", [Alarm, Retain, Alarm, Ok]),
        ],
    );
}

/// The second table: 2 of 3.
#[test]
fn the_cloudwatch_missing_data_table_two_of_three_holds_for_decide_files() {
    check_table(
        2,
        3,
        &[
            //              MISSING           IGNORE  BREACHING NOT BREACHING
            ("0 - X - X", [Alarm, Alarm, Alarm, Alarm]),
            ("0 0 X 0 X", [Alarm, Alarm, Alarm, Alarm]),
            ("0 - X - -", [Ok, Ok, Alarm, Ok]),
            ("- - - - 0", [Ok, Ok, Alarm, Ok]),
            ("- - X - -", [Alarm, Retain, Alarm, Ok]),
        ],
    );
}

fn one_of_one(for_duration: &str, datapoints: &str) -> String {
    let rule = format!("datapoints_to_alarm = 1\nevaluation_periods = 1\nfor_duration = \"{for_duration}\"");
    file(&rule, datapoints, AlarmState::InsufficientData)
}

#[test]
fn the_for_duration_counts_from_the_first_breaching_period_across_the_datapoints() {
    // Breaching since minute 96: at minute 100, four minutes of a five-minute hold.
    let pending = answer(&read(&one_of_one("5m", "[0.1, 0.9, 0.9, 0.9, 0.9]")));
    let alarm = &pending.alarms[0];
    assert_eq!(alarm.status.state, AlarmState::Pending);
    assert_eq!(alarm.status.breaching_since.map(|t| t.as_millis()), Some(96 * 60_000));
    assert_eq!(pending.decision.desired, None, "a PENDING alarm does not scale");
    // One more breaching minute (96..=100, judged at 101): five minutes held, FIRING.
    let text = one_of_one("5m", "[0.1, 0.9, 0.9, 0.9, 0.9, 0.9]").replace("now = 6000000", "now = 6060000");
    let firing = answer(&read(&text));
    assert_eq!(firing.alarms[0].status.state, AlarmState::Firing);
    assert_eq!(firing.decision.desired, Some(5));
    let changes: Vec<(AlarmState, i64)> =
        firing.alarms[0].transitions.iter().map(|t| (t.to, t.at.as_millis() / 60_000)).collect();
    assert_eq!(changes, [(AlarmState::Ok, 96), (AlarmState::Pending, 97), (AlarmState::Firing, 101)]);
}

#[test]
fn an_alarm_whose_hold_runs_out_between_period_ends_fires_then_and_ignore_keeps_it_firing() {
    // 2 of 2, missing data ignored, held 150 s: the two breaching minutes (94, 95) meet
    // the condition from minute 96 (breaching since 95); the hold runs out at 97:30, in
    // the middle of a period, where a ticking engine fires it. From minute 98 on, too
    // few datapoints decide nothing and `ignore` keeps the state: FIRING, not PENDING.
    let rule =
        "datapoints_to_alarm = 2\nevaluation_periods = 2\nfor_duration = \"150s\"\nmissing_data = \"ignore\"";
    let text = file(rule, r#"[0.9, 0.9, "-", "-", "-", "-"]"#, AlarmState::Ok);
    let answer = answer(&read(&text));
    let alarm = &answer.alarms[0];
    assert_eq!(alarm.status.state, AlarmState::Firing, "{:?}", alarm.transitions);
    assert_eq!(alarm.transitions.last().map(|t| t.at.as_millis()), Some(97 * 60_000 + 30_000));
}

#[test]
fn without_datapoints_an_alarm_is_evaluated_once_at_now() {
    let rule = "datapoints_to_alarm = 1\nevaluation_periods = 1\nmissing_data = \"breaching\"";
    let answer = answer(&read(&file(rule, "[]", AlarmState::Ok)));
    assert_eq!(answer.alarms[0].status.state, AlarmState::Firing);
    assert_eq!(answer.alarms[0].transitions.len(), 1);
}

#[test]
fn a_sample_count_datapoint_is_the_count_not_one_sample() {
    // The datapoints are statistics: 7 requests in a minute breach `> 5` as written.
    let rule = "datapoints_to_alarm = 1\nevaluation_periods = 1";
    let text = file(rule, "[7]", AlarmState::Ok)
        .replace("statistic = \"average\"", "statistic = \"sample_count\"")
        .replace("threshold = 0.5", "threshold = 5");
    assert_eq!(answer(&read(&text)).alarms[0].status.state, AlarmState::Firing);
}

#[test]
fn json_decide_files_carry_alarms_with_null_for_no_data() {
    let toml_text = file("datapoints_to_alarm = 1\nevaluation_periods = 1", r#"["-", 0.9]"#, AlarmState::Ok);
    let value: toml::Value = toml::from_str(&toml_text).unwrap();
    let json = serde_json::to_string(&value).unwrap().replace(r#""-""#, "null");
    let from_json = parse(&json, true, "case.json").unwrap();
    assert_eq!(from_json, read(&toml_text));
    assert_eq!(from_json.alarms[0].datapoints, [None, Some(0.9)]);
}

/// The error of `text` as `fleetdeck decide` prints it.
fn refusal(text: &str, json: bool) -> String {
    parse(text, json, "case").expect_err("refused").to_string()
}

#[test]
fn a_bad_alarm_case_is_refused_with_its_line_and_column() {
    let m_above_n =
        refusal(&file("datapoints_to_alarm = 3\nevaluation_periods = 2", "[1]", AlarmState::Ok), false);
    assert!(m_above_n.starts_with("case:14:1: ") && m_above_n.contains("datapoints_to_alarm"), "{m_above_n}");
    let bad_value = refusal(
        &file("datapoints_to_alarm = 1\nevaluation_periods = 1", r#"[1, "x"]"#, AlarmState::Ok),
        false,
    );
    assert!(bad_value.starts_with("case:12:18: ") && bad_value.contains("bad datapoint `x`"), "{bad_value}");
    let long = refusal(
        &file(
            "datapoints_to_alarm = 1\nevaluation_periods = 1\nfor_duration = \"2y\"",
            "[1]",
            AlarmState::Ok,
        ),
        false,
    );
    assert!(long.contains("duration `2y` is too long: at most 1y") && long.starts_with("case:23:"), "{long}");
    let many = format!("[{}]", vec!["1"; super::MAX_DATAPOINTS + 1].join(", "));
    let too_many =
        refusal(&file("datapoints_to_alarm = 1\nevaluation_periods = 1", &many, AlarmState::Ok), false);
    assert!(
        too_many.contains("more than 10080 datapoints") && too_many.starts_with("case:12:"),
        "{too_many}"
    );
}

#[test]
fn an_alarm_named_twice_is_refused() {
    let text = file("datapoints_to_alarm = 1\nevaluation_periods = 1", "[1]", AlarmState::Ok).replace(
        "[[group.policy.step_scaling]]",
        "[inputs]\nalarms = [{ name = \"table\", state = \"OK\", threshold = 1 }]\n[[group.policy.step_scaling]]",
    );
    let err = refusal(&text, false);
    assert!(err.contains("alarm `table` is named twice") && err.starts_with("case:1:1: "), "{err}");
}

#[test]
fn a_now_before_1970_or_after_9999_is_refused_at_its_value() {
    // An alarm's periods are counted from the epoch: at i64::MIN ms the newest complete
    // period of a 1 ms rule lies before what a Timestamp holds.
    let rule = "datapoints_to_alarm = 1\nevaluation_periods = 1";
    for now in ["-9223372036854775808", "-1", "253402300800000"] {
        let text = file(rule, "[1]", AlarmState::Ok).replace("now = 6000000", &format!("now = {now}"));
        let err = refusal(&text, false);
        assert!(err.starts_with("case:1:7: `now`") && err.contains("must be from 1970"), "{err}");
    }
    let last = file(rule, "[1]", AlarmState::Ok).replace("now = 6000000", "now = \"9999-12-31T23:59:59Z\"");
    assert_eq!(answer(&read(&last)).alarms.len(), 1);
}
