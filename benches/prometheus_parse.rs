//! Reading one poll's answers: 100 groups sharing a grouping label × the 10 default
//! metric kinds are 10 instant queries (counted in the source's tests), each answered
//! with a value, a count and a time part per group, as Prometheus answers them (the
//! shape of tests/it/prometheus.rs's real answers). This is the API parse (labels
//! borrowed from the body, as the source reads them) and the reading into per-group
//! figures, for all ten bodies. Target: < 1 ms (issue 16).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::backends::prometheus::{queries, response};

const GROUPS: usize = 100;
const KINDS: usize = 10;

/// One body: `groups` groups' three parts, values as Prometheus writes them.
fn body(kind: usize) -> String {
    let series: Vec<String> = (0..GROUPS)
        .flat_map(|g| {
            let value = format!("{}", 0.37 + (g * KINDS + kind) as f64 / 1013.0);
            let count = format!("{}", 2 + g % 7);
            let at = format!("{:.3}", 1_796_579_992.556 - (g % 5) as f64);
            [("value", value), ("count", count), ("at", at)].map(|(part, v)| {
                format!(
                    r#"{{"metric":{{"fleetdeck_group":"inference-group-{g:03}","fleetdeck_part":"{part}"}},"value":[1796579993.25,"{v}"]}}"#
                )
            })
        })
        .collect();
    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, series.join(","))
}

fn bench(c: &mut Criterion) {
    let bodies: Vec<Vec<u8>> = (0..KINDS).map(|k| body(k).into_bytes()).collect();
    c.bench_function("prometheus: parse one poll, 100 groups x 10 kinds", |b| {
        b.iter(|| {
            let mut read = 0;
            for body in &bodies {
                let answer = response::parse_as::<queries::Parts>(black_box(body)).expect("a valid answer");
                read += queries::figures(&answer.result).len();
            }
            assert_eq!(read, GROUPS * KINDS);
            read
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
