//! The examples table of CloudWatch's "How alarm state is evaluated when data is missing",
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data>,
//! run end to end through [`evaluate`](crate::alarms::evaluate).
//!
//! Each row is the 5 newest complete periods (the page's evaluation range for N = 3),
//! oldest on the left: `0` a good datapoint, `X` a breaching one, `-` missing. Columns are
//! the state for each treatment of missing data: MISSING, IGNORE, BREACHING,
//! NOT BREACHING. ALARM is FIRING here (for_duration 0), "retain" is "Retain current state".
//!
//! The rows are reproduced from the page as we know it (it could not be consulted while
//! writing this): the first table (3 of 3) is as we remember it; of the second (2 of 3),
//! the `0 0 X 0 X` row may not be on the current page. Every row was also checked by hand
//! against the page's three rules (enough real datapoints → newest N real ones; otherwise
//! fill N − real with the treatment), which is what `m_of_n` implements.

use std::time::Duration;

use crate::alarms::rule::{AlarmRule, Comparison, MissingData, Statistic};
use crate::alarms::{AlarmStatus, evaluate};
use crate::model::{AlarmState, MetricKind, Sample, Timestamp};

const PERIOD_MS: i64 = 60_000;
/// An evaluation instant on a period boundary: minute 100 is incomplete, 95..=99 are
/// the range.
const NOW: Timestamp = Timestamp::from_millis(100 * PERIOD_MS);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Ok,
    Alarm,
    InsufficientData,
    Retain,
}
use Expect::*;

const TREATMENTS: [MissingData; 4] =
    [MissingData::Missing, MissingData::Ignore, MissingData::Breaching, MissingData::NotBreaching];

fn rule(m: u32, n: u32, missing_data: MissingData) -> AlarmRule {
    AlarmRule {
        severity: crate::model::Severity::default(),
        runbook: None,
        name: "table".into(),
        metric: MetricKind::GpuUtil,
        statistic: Statistic::Average,
        comparison: Comparison::GreaterThan,
        threshold: 0.5,
        period: Duration::from_millis(PERIOD_MS as u64),
        datapoints_to_alarm: m,
        evaluation_periods: n,
        for_duration: Duration::ZERO,
        missing_data,
        description: None,
    }
}

/// `"0 - X - X"` → one sample in the middle of each present period of minutes 95..=99.
fn samples(row: &str) -> Vec<Sample> {
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.len(), 5, "{row}");
    cells
        .iter()
        .enumerate()
        .filter_map(|(i, cell)| {
            let value = match *cell {
                "0" => 0.1,
                "X" => 0.9,
                "-" => return None,
                other => panic!("bad cell {other} in {row}"),
            };
            Some(Sample { at: Timestamp::from_millis((95 + i as i64) * PERIOD_MS + 30_000), value })
        })
        .collect()
}

fn check_table(m: u32, n: u32, table: &[(&str, [Expect; 4])]) {
    for (row, expected) in table {
        for (treatment, expect) in TREATMENTS.iter().zip(expected) {
            for previous in [AlarmState::Ok, AlarmState::Firing, AlarmState::InsufficientData] {
                let prev = AlarmStatus { state: previous, ..AlarmStatus::new(Timestamp::from_millis(0)) };
                let got = evaluate(&rule(m, n, *treatment), &samples(row), &prev, NOW).state;
                let want = match expect {
                    Ok => AlarmState::Ok,
                    Alarm => AlarmState::Firing,
                    InsufficientData => AlarmState::InsufficientData,
                    Retain => previous,
                };
                assert_eq!(got, want, "{m} of {n}, `{row}`, {treatment:?}, previously {previous:?}");
            }
        }
    }
}

/// First table of the page: Datapoints to Alarm = Evaluation Periods = 3.
#[test]
fn cloudwatch_missing_data_table_three_of_three() {
    // Source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data
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

/// Second table of the page: Datapoints to Alarm = 2, Evaluation Periods = 3.
#[test]
fn cloudwatch_missing_data_table_two_of_three() {
    // Source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data
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

/// The page's first rule: with enough real datapoints in the range, older real ones
/// stand in for missing recent ones and the treatment does not matter.
#[test]
fn real_datapoints_from_farther_back_replace_missing_recent_ones() {
    // Source: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsData.html#alarms-evaluating-missing-data
    // `X X X - -`: the newest two periods are missing, the three real ones all breach.
    for treatment in TREATMENTS {
        let got = evaluate(&rule(3, 3, treatment), &samples("X X X - -"), &AlarmStatus::default(), NOW);
        assert_eq!(got.state, AlarmState::Firing, "{treatment:?}");
    }
}
