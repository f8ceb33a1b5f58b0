//! One engine tick for 100 simulated groups, without I/O (no decision log, no store):
//! polling the simulator, alarm evaluation and `decide` for every group, and publishing
//! the snapshot. Measured with full raw buffers (600 points a series), so the snapshot
//! is as large as it gets. Target from the engine issue: < 0.5 ms.

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use fleetdeck::clock::ManualClock;
use fleetdeck::config;
use fleetdeck::engine::Engine;
use fleetdeck::model::Timestamp;

fn tick(c: &mut Criterion) {
    let config = config::demo_scaled(100);
    let clock = ManualClock::new(Timestamp::from_millis(1_767_225_600_000));
    let mut engine = Engine::simulated(&config, 42, Arc::new(clock.clone()), false, false);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for _ in 0..600 {
            engine.tick().await;
            clock.advance(Duration::from_secs(1));
        }
    });
    c.bench_function("engine tick, 100 groups, full buffers", |b| {
        b.iter(|| {
            clock.advance(Duration::from_secs(1));
            runtime.block_on(engine.tick());
        })
    });
}

criterion_group!(benches, tick);
criterion_main!(benches);
