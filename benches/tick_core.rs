//! The tick core alone — alarms, policy, breaker and paging for 100 simulated groups, on
//! samples already polled: the engine issue's "one tick for 100 groups, excluding I/O"
//! (target < 0.5 ms), without and with the copies of state kept for the decision log.
//! Polling the simulator, applying its actions and building the inputs happen in the
//! untimed setup. Raw buffers are full (600 points a series) before measuring, so alarm
//! windows see as much history as they ever will.

use std::cell::RefCell;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use fleetdeck::config;
use fleetdeck::engine::autoscale::AutoscaleMode;
use fleetdeck::engine::tick::{Action, CoreSettings, GroupInput, TickCore, TickInput};
use fleetdeck::model::Timestamp;
use fleetdeck::sim::SimFleet;

fn tick_core(c: &mut Criterion) {
    // Without a decision log the core does not copy each group's state for it; with one
    // (the console's default) it does, and the log's writes come after, off this bench.
    bench(c, "tick core, 100 groups, full buffers", false);
    bench(c, "tick core, 100 groups, full buffers, states kept for the decision log", true);
}

fn bench(c: &mut Criterion, name: &str, record_states: bool) {
    let config = config::demo_scaled(100);
    let start = Timestamp::from_millis(1_767_225_600_000);
    let fleet = RefCell::new(SimFleet::new(&config.sim_groups(), 42, start));
    let settings = CoreSettings {
        stale_after: config.stale_after,
        raw_points: 600,
        minute_points: 24 * 60,
        readonly: false,
        record_states,
        capacity_series: true,
    };
    let groups = config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone(), false));
    let mut core = TickCore::build(groups, AutoscaleMode::Act, settings, start);
    let names: Vec<String> = config.groups.iter().map(|g| g.spec.name.clone()).collect();
    let step = config.poll_interval;
    let now = RefCell::new(start);
    let pending: RefCell<Vec<Action>> = RefCell::new(Vec::new());
    // The world between two ticks: apply the last tick's actions, run the fleet a poll
    // interval forward, and poll every group.
    let next_input = || {
        let mut fleet = fleet.borrow_mut();
        for action in pending.borrow_mut().drain(..) {
            fleet.set_desired(&names[action.group], action.to).unwrap();
        }
        let at = now.borrow().plus(step);
        *now.borrow_mut() = at;
        fleet.advance_to(at);
        let groups = names
            .iter()
            .map(|name| GroupInput::acting(fleet.sample(name).unwrap(), fleet.capacity(name).ok()))
            .collect();
        TickInput { now: at, commands: Vec::new(), groups }
    };
    for _ in 0..600 {
        let output = core.tick(next_input());
        pending.borrow_mut().extend(output.actions);
    }
    c.bench_function(name, |b| {
        b.iter_batched(
            next_input,
            |input| {
                let output = core.tick(input);
                pending.borrow_mut().extend(output.actions);
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, tick_core);
criterion_main!(benches);
