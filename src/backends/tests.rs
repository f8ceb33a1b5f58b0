//! The builder over a config with named connections, and the engine it feeds.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::model::{MetricKind, Timestamp};

const CONFIG: &str = r#"
[sources.fast]
kind = "sim"
poll_interval = "1s"

[sources.slow]
kind = "sim"
poll_interval = "5s"

[actuators.asg]
kind = "sim"
max_concurrency = 3

[[groups]]
name = "chat"
instance_type = "g5.xlarge"
hourly_cost_usd = 1.0
min = 1
max = 4
source = "fast"
actuator = "asg"

[[groups]]
name = "vision"
instance_type = "g5.xlarge"
hourly_cost_usd = 1.0
min = 1
max = 4
source = "fast"
actuator = "asg"

[[groups]]
name = "batch"
instance_type = "g5.xlarge"
hourly_cost_usd = 1.0
min = 1
max = 4
source = "slow"
"#;

#[test]
fn each_connection_is_built_once_and_shared_by_its_groups() {
    let config = crate::config::parse(CONFIG, "fleet.toml").unwrap();
    let clock = ManualClock::new(Timestamp(1_000_000));
    let backends = build(&config, 7, Arc::new(clock)).unwrap();
    let sources: Vec<(&str, Duration)> =
        backends.sources.iter().map(|s| (s.source.name(), s.poll_interval)).collect();
    assert_eq!(sources, [("fast", Duration::from_secs(1)), ("slow", Duration::from_secs(5))]);
    let actuators: Vec<(&str, usize)> =
        backends.actuators.iter().map(|a| (a.actuator.name(), a.max_concurrency)).collect();
    assert_eq!(actuators, [("asg", 3), ("sim", 8)]);
    let bound: Vec<(&str, usize, usize)> =
        backends.groups.iter().map(|g| (g.spec.name.as_str(), g.source, g.actuator)).collect();
    assert_eq!(bound, [("chat", 0, 0), ("vision", 0, 0), ("batch", 1, 1)]);
    let sim = backends.sim.expect("simulated groups come with the simulator's control");
    let fleet = sim.fleet().lock().unwrap();
    assert_eq!(fleet.group_names().collect::<Vec<_>>(), ["chat", "vision", "batch"]);
}

#[tokio::test]
async fn the_engine_polls_each_built_source_on_its_own_interval() {
    let config = crate::config::parse(CONFIG, "fleet.toml").unwrap();
    let clock = ManualClock::new(Timestamp(1_000_000));
    let mut engine = crate::engine::Engine::simulated(&config, 7, Arc::new(clock.clone()), false, false);
    for _ in 0..10 {
        engine.tick().await;
        clock.advance(Duration::from_secs(1));
    }
    let points = |group: &str| {
        let snapshot = engine.snapshot();
        let group = snapshot.group(group).unwrap();
        group.series.iter().find(|s| s.kind == MetricKind::GpuUtil).map_or(0, |s| s.points.len())
    };
    assert_eq!(points("chat"), 10);
    assert_eq!(points("batch"), 2, "the 5 s source was polled at 0 and 5 s");
}

#[test]
fn a_reload_applies_timings_limits_and_thresholds_in_place_and_names_what_needs_a_restart() {
    let config = crate::config::parse(CONFIG, "fleet.toml").unwrap();
    let clock = ManualClock::new(Timestamp(1_000_000));
    let mut engine = crate::engine::Engine::simulated(&config, 7, Arc::new(clock), false, false);
    let edited = CONFIG
        .replace("poll_interval = \"5s\"", "poll_interval = \"5s\"\nstale_after = \"20s\"")
        .replace("max_concurrency = 3", "max_concurrency = 5")
        .replacen(
            "[sources.fast]",
            "call_timeout = \"4s\"\n\n[breaker]\nmax_failures = 5\n\n[sources.fast]",
            1,
        )
        .replace("source = \"slow\"", "source = \"other\"\n[groups.sim]\ncapacity_rps_per_instance = 3.0")
        .replacen("[sources.slow]", "[sources.other]\nkind = \"sim\"\n\n[sources.slow]", 1);
    let outcome = engine.reload(&crate::config::parse(&edited, "fleet.toml").unwrap());
    let applied = outcome.applied.join("; ");
    assert!(applied.contains("call timeout 10s → 4s"), "{applied}");
    assert!(applied.contains("breaker thresholds"), "{applied}");
    assert!(applied.contains("actuator asg: max concurrency 3 → 5"), "{applied}");
    assert_eq!(engine.settings().call_timeout, Duration::from_secs(4));
    assert_eq!(engine.core().groups[0].autoscaler.breaker.settings().max_failures, 5);
    let restart = outcome.restart_needed.join("; ");
    assert!(restart.contains("batch: another source or actuator"), "{restart}");
    assert!(restart.contains("source slow removed") && restart.contains("new source other"), "{restart}");
}

#[test]
fn a_reload_changes_which_notifiers_are_queued_for_in_place() {
    let with_pd = CONFIG.replacen(
        "[sources.fast]",
        "[notifiers.pd]\nkind = \"pagerduty\"\nrouting_key_env = \"PD_KEY\"\n\n[sources.fast]",
        1,
    );
    let config = crate::config::parse(&with_pd, "fleet.toml").unwrap();
    let clock = ManualClock::new(Timestamp(1_000_000));
    let mut engine = crate::engine::Engine::simulated(&config, 7, Arc::new(clock), false, false);
    assert_eq!(engine.settings().notifiers, ["pd"]);
    let edited = with_pd
        .replacen(
            "[sources.fast]",
            "[notifiers.chat-slack]\nkind = \"slack\"\ntoken_env = \"SLACK_TOKEN\"\nchannel = \"#ops\"\n\n[sources.fast]",
            1,
        )
        .replace("name = \"vision\"", "name = \"vision\"\nnotifiers = [\"chat-slack\"]");
    let outcome = engine.reload(&crate::config::parse(&edited, "fleet.toml").unwrap());
    let applied = outcome.applied.join("; ");
    assert!(applied.contains("notifiers pd → chat-slack, pd"), "{applied}");
    assert!(applied.contains("vision: notifiers chat-slack"), "{applied}");
    assert!(!applied.contains("chat: notifiers") && !applied.contains("batch: notifiers"), "{applied}");
    assert_eq!(engine.settings().notifiers, ["chat-slack", "pd"]);
    assert!(outcome.restart_needed.is_empty(), "{:?}", outcome.restart_needed);
}
