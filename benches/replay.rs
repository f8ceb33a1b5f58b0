//! Replay throughput: a week of `builtin:diurnal-week` through one demo group's configured
//! policy at 15 s ticks (40,320 group-ticks, with the simulator's 604,800 one-second steps
//! and their scoring). Criterion reports group-ticks per second; the replay issue's target
//! is ≥ 200,000.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fleetdeck::config;
use fleetdeck::replay::traces::builtin;
use fleetdeck::replay::{Contender, ReplaySpec, oracle, replay_with};

fn replay(c: &mut Criterion) {
    let mut config = config::demo();
    config.poll_interval = Duration::from_secs(15);
    config.stale_after = Duration::from_secs(45);
    let group = config.groups[0].clone();
    let trace = Arc::new(builtin("diurnal-week").unwrap());
    let spec =
        ReplaySpec { config: config.clone(), group: group.spec.name.clone(), trace, scale: 1.0, seed: 42 };
    let contender = Contender::configured(&config, &group);
    let oracle = oracle(&spec).unwrap();
    let ticks = 7 * 86_400 / 15;
    let mut bench = c.benchmark_group("replay");
    bench.sample_size(10).throughput(Throughput::Elements(ticks));
    bench.bench_function("a week of one group at 15 s ticks", |b| {
        b.iter(|| replay_with(&spec, &contender, &oracle).unwrap())
    });
    bench.finish();
}

criterion_group!(benches, replay);
criterion_main!(benches);
