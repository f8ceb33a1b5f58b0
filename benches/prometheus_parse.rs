//! Reading one poll's answers: 100 groups sharing a grouping label × the 11 default
//! metric kinds are 9 instant queries (counted in the source's tests): 8 answered with a
//! value, a count and a time part per group, and the latency one with p50, p95, p99, a
//! count and a time part, as Prometheus answers them (the shape of
//! tests/it/prometheus.rs's real answers). This is the API parse (labels
//! borrowed from the body, as the source reads them) and the reading into per-group
//! figures, for all ten bodies. Target: < 1 ms (issue 16).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::backends::prometheus::{queries, response};

const GROUPS: usize = 100;
/// Queries of one value part, and the latency query's value parts.
const SINGLE: usize = 8;
const LATENCIES: [&str; 3] = ["p50", "p95", "p99"];

/// One body: every group's value parts, a count and a time part, values as Prometheus
/// writes them.
fn body(kind: usize, values: &[&str]) -> String {
    let series: Vec<String> = (0..GROUPS)
        .flat_map(|g| {
            let value = format!("{}", 0.37 + (g * 16 + kind) as f64 / 1013.0);
            let count = format!("{}", 2 + g % 7);
            let at = format!("{:.3}", 1_796_579_992.556 - (g % 5) as f64);
            let parts: Vec<(&str, String)> = values.iter().map(|p| (*p, value.clone())).collect();
            parts.into_iter().chain([("count", count), ("at", at)]).map(move |(part, v)| {
                format!(
                    r#"{{"metric":{{"fleetdeck_group":"inference-group-{g:03}","fleetdeck_part":"{part}"}},"value":[1796579993.25,"{v}"]}}"#
                )
            })
        })
        .collect();
    format!(r#"{{"status":"success","data":{{"resultType":"vector","result":[{}]}}}}"#, series.join(","))
}

fn bench(c: &mut Criterion) {
    let mut bodies: Vec<(Vec<u8>, Vec<&str>)> =
        (0..SINGLE).map(|k| (body(k, &["value"]).into_bytes(), vec!["value"])).collect();
    bodies.push((body(SINGLE, &LATENCIES).into_bytes(), LATENCIES.to_vec()));
    c.bench_function("prometheus: parse one poll, 100 groups x 11 kinds in 9 queries", |b| {
        b.iter(|| {
            let mut read = 0;
            for (body, parts) in &bodies {
                let answer = response::parse_as::<queries::Parts>(black_box(body)).expect("a valid answer");
                for part in parts {
                    read += queries::figures_of(&answer.result, part).len();
                }
            }
            assert_eq!(read, GROUPS * (SINGLE + LATENCIES.len()));
            read
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
