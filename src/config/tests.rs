//! Tests of the whole loader: the fixtures in `tests/fixtures/`, the embedded demo, and
//! one test per rule that only an inline config shows clearly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::model::{Serving, WarmupRange};
use crate::sim::TrafficSpec;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn toml_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    files
}

/// The first line of an invalid fixture: `# expect: LINE:COL KEY` (`-` for no key).
fn expectation(path: &Path) -> (usize, usize, Option<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or_default();
    let rest = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} must start with `# expect: LINE:COL KEY`", path.display()));
    let (position, key) = rest.trim().split_once(' ').expect("`LINE:COL KEY`");
    let (line, column) = position.split_once(':').expect("`LINE:COL`");
    let key = (key != "-").then(|| key.to_string());
    (line.parse().expect("line number"), column.parse().expect("column number"), key)
}

#[test]
fn every_invalid_fixture_fails_at_its_expected_line_column_and_key() {
    let files = toml_files_in(&fixtures().join("invalid"));
    assert!(files.len() >= 10, "expected at least 10 invalid fixtures, found {}", files.len());
    for path in files {
        let (line, column, key) = expectation(&path);
        let err = load(&path).expect_err(&format!("{} should not load", path.display()));
        let shown = err.to_string();
        assert_eq!(
            (err.line, err.column, err.key.as_deref()),
            (line, column, key.as_deref()),
            "{}: got `{shown}`",
            path.display()
        );
        let prefix = format!("{}:{line}:{column}: ", path.display());
        assert!(shown.starts_with(&prefix), "{shown:?} should start with {prefix:?}");
        if let Some(key) = &key {
            assert!(err.message.starts_with(&format!("{key}: ")), "message names the key: {shown}");
        }
    }
}

#[test]
fn every_valid_fixture_and_the_demo_load() {
    let files = toml_files_in(&fixtures());
    assert!(files.len() >= 4, "expected the valid fixtures, found {files:?}");
    for path in files {
        let config = load(&path).unwrap_or_else(|err| panic!("{err}"));
        assert!(!config.groups.is_empty(), "{}", path.display());
    }
    parse(DEMO_TOML, DEMO_ORIGIN).unwrap_or_else(|err| panic!("{err}"));
}

#[test]
fn the_demo_has_three_lively_groups_and_scheduled_incidents() {
    let config = demo();
    let names: Vec<&str> = config.groups.iter().map(|g| g.spec.name.as_str()).collect();
    assert_eq!(names, ["llm-chat", "vision", "embeddings"]);
    assert_eq!(config.poll_interval, Duration::from_secs(1));
    assert_eq!(config.origin, DEMO_ORIGIN);
    let chat = config.group("llm-chat").unwrap();
    assert_eq!(chat.spec.serving, Serving::Vllm);
    assert_eq!(chat.spec.slo_p95, Some(Duration::from_secs(2)));
    assert!(
        matches!(chat.sim_or_default().traffic, TrafficSpec::Diurnal { period, .. } if period == Duration::from_secs(1800))
    );
    for group in &config.groups {
        assert_eq!(
            group.spec.warmup,
            WarmupRange::default(),
            "{}: demo warm-ups are realistic",
            group.spec.name
        );
    }
    assert!(config.sim_events.len() >= 2);
}

/// DESIGN.md's demo promise: the starting capacity runs at 50–70 % of its demand at start.
#[test]
fn the_demo_starts_every_group_between_half_and_seventy_percent_utilized() {
    for group in demo().groups {
        let demand_at_start = match group.sim_or_default().traffic {
            TrafficSpec::Constant { rps, .. } => rps,
            TrafficSpec::Diurnal { base_rps, peak_rps, peak_at, period, .. } => {
                let phase = -peak_at.as_secs_f64() / period.as_secs_f64() * std::f64::consts::TAU;
                base_rps + (peak_rps - base_rps) * (1.0 + phase.cos()) / 2.0
            }
            TrafficSpec::FlashCrowd { base_rps, .. } => base_rps,
            TrafficSpec::Ramp { from_rps, .. } => from_rps,
            TrafficSpec::Trace { .. } => unreachable!("the demo has no trace"),
        };
        let capacity = group.sim_or_default().capacity_rps_per_instance * f64::from(group.spec.desired);
        let utilization = demand_at_start / capacity;
        assert!((0.5..=0.7).contains(&utilization), "{}: {utilization:.2}", group.spec.name);
    }
}

#[test]
fn the_fast_profile_has_the_demo_groups_with_short_warmups_and_no_events() {
    let fast = load(&fixtures().join("fast.toml")).unwrap();
    let demo_names: Vec<String> = demo().groups.into_iter().map(|g| g.spec.name).collect();
    let fast_names: Vec<String> = fast.groups.iter().map(|g| g.spec.name.clone()).collect();
    assert_eq!(fast_names, demo_names);
    assert_eq!(fast.poll_interval, Duration::from_secs(1));
    assert!(fast.sim_events.is_empty());
    for group in &fast.groups {
        assert!(group.spec.warmup.max <= Duration::from_secs(10), "{}", group.spec.name);
    }
}

#[test]
fn minimal_config_gets_every_default() {
    let config = load(&fixtures().join("minimal.toml")).unwrap();
    assert_eq!(config.poll_interval, Duration::from_secs(1), "all-sim fleets poll every second");
    assert_eq!(config.stale_after, Duration::from_secs(3), "3 × poll_interval");
    assert_eq!(config.seed, 42);
    assert_eq!(config.operator, None);
    let group = &config.groups[0];
    assert_eq!(group.spec.desired, group.spec.min);
    assert_eq!(group.spec.warmup, WarmupRange::default());
    assert_eq!(group.spec.serving, Serving::Generic);
    assert_eq!(group.spec.slo_p95, None);
    assert_eq!(group.sim, Some(SimGroupSpec::default()));
    assert_eq!((config.call_timeout, config.max_backoff), (Duration::from_secs(10), Duration::from_secs(60)));
    assert_eq!(config.lease_ttl, Duration::from_secs(30), "3 call timeouts beat 3 one-second polls");
    assert_eq!(config.lease_skew_margin, Duration::from_secs(2));
    assert_eq!(config.breaker, crate::engine::breaker::BreakerSettings::default());
}

#[test]
fn engine_timings_and_breaker_thresholds_come_from_the_config() {
    let text = r#"
poll_interval = "60s"
call_timeout = "20s"
max_backoff = "5m"

[lease]
skew_margin = "3s"

[breaker]
max_failures = 5
window = "10m"

[[groups]]
name = "llm-chat"
instance_type = "p4d.24xlarge"
hourly_cost_usd = 32.77
min = 2
max = 16
"#;
    let config = super::parse(text, "fleet.toml").unwrap();
    assert_eq!(
        (config.call_timeout, config.max_backoff),
        (Duration::from_secs(20), Duration::from_secs(300))
    );
    assert_eq!(config.lease_ttl, Duration::from_secs(180), "three 60 s polls");
    assert_eq!(config.lease_skew_margin, Duration::from_secs(3));
    assert_eq!((config.breaker.max_failures, config.breaker.window), (5, Duration::from_secs(600)));
    assert_eq!(config.breaker.direction_changes, 4, "unset keys keep their defaults");
    let engine = crate::engine::Engine::simulated(
        &config,
        1,
        std::sync::Arc::new(crate::clock::ManualClock::default()),
        false,
        false,
    );
    let settings = engine.settings();
    assert_eq!((settings.call_timeout, settings.max_backoff), (config.call_timeout, config.max_backoff));
    assert_eq!(settings.lease.ttl, Duration::from_secs(180));
    assert_eq!(engine.core().groups[0].autoscaler.breaker.settings().max_failures, 5);
}

#[test]
fn full_config_reads_every_key_and_shape() {
    let config = load(&fixtures().join("full.toml")).unwrap();
    assert_eq!(config.poll_interval, Duration::from_secs(2));
    assert_eq!(config.stale_after, Duration::from_secs(10));
    assert_eq!((config.call_timeout, config.max_backoff), (Duration::from_secs(5), Duration::from_secs(30)));
    assert_eq!(
        (config.lease_ttl, config.lease_skew_margin),
        (Duration::from_secs(20), Duration::from_secs(1))
    );
    let breaker = crate::engine::breaker::BreakerSettings {
        direction_changes: 6,
        window: Duration::from_secs(1200),
        max_failures: 2,
        stale_after_ticks: 3,
    };
    assert_eq!(config.breaker, breaker);
    let slow = config.source("sim-slow").unwrap();
    assert_eq!((slow.poll_interval, slow.stale_after), (Duration::from_secs(4), Duration::from_secs(12)));
    assert_eq!(config.actuator("sim-asg").map(|a| a.max_concurrency), Some(4));
    assert_eq!(config.lease_store, LeaseStoreKind::Local);
    let notifiers: Vec<(&str, NotifierKind, String)> =
        config.notifiers.iter().map(|n| (n.name.as_str(), n.kind, n.secret.to_string())).collect();
    let token = fixtures().join("secrets/slack-token");
    assert_eq!(
        notifiers,
        [
            ("ops-slack", NotifierKind::Slack, format!("file {}", token.display())),
            ("pd", NotifierKind::Pagerduty, "env $FLEETDECK_FULL_EXAMPLE_ROUTING_KEY".to_string()),
        ]
    );
    let pd = config.notifiers.iter().find(|n| n.name == "pd").unwrap();
    let pd_settings = crate::config::PagerDutyConfig {
        events_url: "https://events.pagerduty.com".into(),
        throttle_wait: Duration::from_secs(30),
    };
    assert_eq!((pd.pagerduty.as_ref(), pd.api_url.as_deref()), (Some(&pd_settings), None), "the defaults");
    let slack = config.notifiers.iter().find(|n| n.name == "ops-slack").unwrap();
    assert_eq!((slack.pagerduty.as_ref(), slack.api_url.as_deref()), (None, Some("https://slack.com/api")));
    assert_eq!(config.group("daily").unwrap().notifiers, ["pd"], "a group names its own");
    assert_eq!(config.group("steady").unwrap().notifiers, ["ops-slack", "pd"], "else every notifier");
    assert_eq!(config.seed, 7);
    assert_eq!(
        config.operator,
        Some(Operator { name: "Ana Ops".into(), email: Some("ana@example.com".into()), auth: None })
    );
    assert!(config.group("steady").unwrap().shadow, "shadow = true");
    assert!(!config.group("daily").unwrap().shadow, "acts unless told");
    let steady = config.group("steady").unwrap().sim_or_default();
    assert_eq!(steady.capacity_rps_per_instance, 50.5);
    assert_eq!(steady.service_time, Duration::from_millis(40));
    assert_eq!(steady.instance_failures_per_hour, 0.25);
    assert_eq!(steady.metric_gap_probability, 0.01);
    assert_eq!(steady.launch_failure_probability, 0.05);
    assert_eq!(
        config.group("daily").unwrap().sim_or_default().traffic,
        TrafficSpec::Diurnal {
            base_rps: 10.0,
            peak_rps: 30.0,
            peak_at: Duration::from_secs(900),
            period: Duration::from_secs(1800),
            weekend_factor: 0.7,
            noise: 0.05,
        }
    );
    assert_eq!(
        config.group("crowd").unwrap().sim_or_default().traffic,
        TrafficSpec::FlashCrowd {
            base_rps: 40.0,
            factor: 3.0,
            at: Duration::from_secs(60),
            ramp: Duration::from_secs(20),
            hold: Duration::from_secs(120),
            noise: 0.1,
        }
    );
    assert_eq!(
        config.group("backfill").unwrap().sim_or_default().traffic,
        TrafficSpec::Ramp {
            from_rps: 0.0,
            to_rps: 200.0,
            start: Duration::from_secs(10),
            over: Duration::from_secs(1200),
            noise: 0.0,
        }
    );
    let events: Vec<(Duration, String)> =
        config.sim_events.iter().map(|e| (e.at, e.command.to_string())).collect();
    assert_eq!(
        events,
        [
            (Duration::from_secs(30), "spike daily x5 for 2m".to_string()),
            (Duration::from_secs(60), "fail crowd 2".to_string()),
            (Duration::from_secs(90), "gap steady 20s".to_string()),
            (Duration::from_secs(120), "stockout daily 5m".to_string()),
        ]
    );
}

#[test]
fn a_trace_path_is_read_relative_to_the_config_file() {
    let config = load(&fixtures().join("trace.toml")).unwrap();
    let TrafficSpec::Trace { trace, scale, looped } = config.groups[0].sim_or_default().traffic else {
        panic!("expected a trace shape, got {:?}", config.groups[0].sim_or_default().traffic);
    };
    assert_eq!(trace.points.len(), 8);
    assert_eq!(trace.points[3], (3.0, 9.0));
    assert_eq!((scale, looped), (2.5, false));
}

#[test]
fn a_bad_trace_names_the_trace_file_its_line_and_the_config_key() {
    let err = load(&fixtures().join("invalid/bad-trace.toml")).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.traffic.path"));
    assert!(err.message.contains("trace-bad.csv:4: `many`"), "{err}");
}

const GROUP: &str =
    "[[groups]]\nname = \"g\"\ninstance_type = \"t\"\nhourly_cost_usd = 1\nmin = 1\nmax = 4\n";

fn error_of(text: &str) -> ConfigError {
    parse(text, "inline.toml").expect_err("should be refused")
}

#[test]
fn stale_after_defaults_to_three_polls_of_the_given_interval() {
    let config = parse(&format!("poll_interval = \"5s\"\n{GROUP}"), "inline.toml").unwrap();
    assert_eq!(config.stale_after, Duration::from_secs(15));
}

#[test]
fn integers_are_accepted_where_numbers_are_expected() {
    let config = parse(&format!("{GROUP}[groups.sim]\ncapacity_rps_per_instance = 8\n"), "x").unwrap();
    assert_eq!(config.groups[0].sim_or_default().capacity_rps_per_instance, 8.0);
}

#[test]
fn min_greater_than_max_says_both_values() {
    let err = error_of(&GROUP.replace("min = 1", "min = 8"));
    assert_eq!(err.to_string(), "inline.toml:5:7: groups[0].min: min (8) is greater than max (4)");
}

#[test]
fn an_unknown_key_lists_the_keys_that_exist() {
    let err = error_of(&format!("{GROUP}[groups.sim]\nservice_tme = \"1s\"\n"));
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.service_tme"));
    assert!(err.message.contains("unknown key `service_tme`"), "{err}");
    assert!(err.message.contains("`service_time`"), "{err}");
}

#[test]
fn an_unknown_traffic_key_lists_only_the_written_shapes_keys() {
    let err = error_of(&format!("{GROUP}[groups.sim]\ntraffic = {{ shape = \"constant\", rpss = 3 }}\n"));
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.traffic.rpss"));
    assert!(
        err.message.ends_with("unknown key `rpss` for the `constant` traffic shape (its keys: rps, noise)"),
        "{err}"
    );
}

#[test]
fn a_syntax_error_inside_a_value_names_its_key() {
    let err = error_of(&GROUP.replace("min = 1", "min = 1 2"));
    assert_eq!(err.key.as_deref(), Some("groups[0].min"));
    assert!(err.message.contains("TOML syntax error"), "{err}");
}

#[test]
fn an_empty_operator_name_is_refused() {
    let err = error_of(&format!("[operator]\nname = \"  \"\n{GROUP}"));
    assert_eq!((err.line, err.column, err.key.as_deref()), (2, 8, Some("operator.name")));
}

#[test]
fn a_wrong_type_says_what_was_expected() {
    let err = error_of(&GROUP.replace("max = 4", "max = 4.5"));
    assert_eq!(err.key.as_deref(), Some("groups[0].max"));
    assert!(err.message.contains("expected a whole number ≥ 0"), "{err}");
}

#[test]
fn a_missing_required_key_is_named_at_its_table() {
    let err = error_of("[[groups]]\nname = \"g\"\ninstance_type = \"t\"\nmin = 1\nmax = 4\n");
    assert_eq!((err.line, err.column), (1, 1));
    assert_eq!(err.key.as_deref(), Some("groups[0].hourly_cost_usd"));
    assert!(err.message.contains("required key `hourly_cost_usd` is missing"), "{err}");
}

#[test]
fn an_empty_file_has_no_groups() {
    let err = error_of("");
    assert_eq!((err.line, err.column, err.key.as_deref()), (1, 1, Some("groups")));
}

#[test]
fn group_names_with_spaces_are_refused_because_commands_could_not_name_them() {
    let err = error_of(&GROUP.replace("name = \"g\"", "name = \"llm chat\""));
    assert_eq!(err.key.as_deref(), Some("groups[0].name"));
}

#[test]
fn a_diurnal_peak_below_its_base_is_refused() {
    let err = error_of(&format!(
        "{GROUP}[groups.sim]\ntraffic = {{ shape = \"diurnal\", base_rps = 10, peak_rps = 5, peak_at = \"1m\" }}\n"
    ));
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.traffic.peak_rps"));
}

#[test]
fn a_diurnal_peak_outside_its_period_is_refused() {
    let err = error_of(&format!(
        "{GROUP}[groups.sim]\ntraffic = {{ shape = \"diurnal\", base_rps = 1, peak_rps = 5, peak_at = \"2h\", period = \"1h\" }}\n"
    ));
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.traffic.peak_at"));
}

#[test]
fn a_zero_length_ramp_is_refused() {
    let err = error_of(&format!(
        "{GROUP}[groups.sim]\ntraffic = {{ shape = \"ramp\", from_rps = 1, to_rps = 5, over = \"0s\" }}\n"
    ));
    assert_eq!(err.key.as_deref(), Some("groups[0].sim.traffic.over"));
}

#[test]
fn a_fail_command_in_an_event_uses_the_sim_command_parser_message() {
    let err = error_of(&format!("{GROUP}[[sim.events]]\nat = \"1s\"\nfail = \"g many\"\n"));
    assert_eq!(err.key.as_deref(), Some("sim.events[0].fail"));
    assert!(err.message.contains("bad instance count `many`"), "{err}");
}

#[test]
fn an_unreadable_config_file_names_the_file() {
    let path = fixtures().join("does-not-exist.toml");
    let err = load(&path).unwrap_err();
    // No line or column: the mistake is not in the text.
    assert!(err.to_string().starts_with(&format!("{}: cannot read", path.display())), "{err}");
}

#[test]
fn user_config_is_found_only_when_the_file_exists() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(existing_config_in(dir.path()), None);
    std::fs::write(dir.path().join("config.toml"), GROUP).unwrap();
    assert_eq!(existing_config_in(dir.path()), Some(dir.path().join("config.toml")));
}

#[test]
fn the_demo_carries_the_seed_alarm_rules() {
    use crate::alarms::seeds;
    let demo = demo();
    let chat = &demo.group("llm-chat").unwrap().alarms;
    assert_eq!(
        chat,
        &vec![seeds::latency_p95_high(), seeds::kv_cache_high(), seeds::gpu_util_high(), seeds::queue_high()],
        "vLLM groups: KV-cache, not GPU memory"
    );
    for name in ["vision", "embeddings"] {
        let names: Vec<&str> = demo.group(name).unwrap().alarms.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["latency-p95-high", "gpu-mem-high", "gpu-util-high", "queue-high"], "{name}");
        let alarms = &demo.group(name).unwrap().alarms;
        assert_eq!(alarms[1], seeds::gpu_mem_high(), "{name}");
        assert_eq!(alarms[2], seeds::gpu_util_high(), "{name}");
        assert_eq!(alarms[3], seeds::queue_high(), "{name}");
    }
}

#[test]
fn every_demo_group_has_a_policy() {
    for group in &demo().groups {
        assert!(!group.policy.target_tracking.is_empty(), "{}", group.spec.name);
        assert!(group.policy.latency_guard.is_some(), "{}", group.spec.name);
    }
}

#[test]
fn the_fleet_name_defaults_to_the_file_stem_and_demo_for_the_demo() {
    assert_eq!(demo().fleet, "demo");
    assert_eq!(load(&fixtures().join("minimal.toml")).unwrap().fleet, "minimal");
    assert_eq!(load(&fixtures().join("full.toml")).unwrap().fleet, "full-example");
}

const CONNECTIONS: &str = r#"
poll_interval = "2s"

[sources.fast]
kind = "sim"
poll_interval = "500ms"

[sources.slow]
kind = "sim"
poll_interval = "10s"

[sources.unused]
kind = "sim"

[actuators.asg]
kind = "sim"
max_concurrency = 2

[[groups]]
name = "chat"
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

[[groups]]
name = "vision"
instance_type = "g5.xlarge"
hourly_cost_usd = 1.0
min = 1
max = 4
"#;

#[test]
fn named_connections_are_declared_once_and_used_by_many_groups() {
    let config = parse(CONNECTIONS, "connections.toml").unwrap();
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["fast", "slow", "sim"], "unused connections are dropped; `sim` is built in");
    let fast = config.source("fast").unwrap();
    assert_eq!(
        (fast.poll_interval, fast.stale_after),
        (Duration::from_millis(500), Duration::from_millis(1500))
    );
    let slow = config.source("slow").unwrap();
    assert_eq!((slow.poll_interval, slow.stale_after), (Duration::from_secs(10), Duration::from_secs(30)));
    let sim = config.source("sim").unwrap();
    assert_eq!(
        sim.poll_interval,
        Duration::from_secs(2),
        "the top-level poll_interval is every source's default"
    );
    assert_eq!(config.poll_interval, Duration::from_millis(500), "the engine ticks at its fastest source");
    let actuators: Vec<(&str, usize)> =
        config.actuators.iter().map(|a| (a.name.as_str(), a.max_concurrency)).collect();
    assert_eq!(actuators, [("asg", 2), ("sim", 8)]);
    assert_eq!(config.group("chat").unwrap().spec.actuator, "asg");
    assert_eq!(config.group("vision").unwrap().spec.source, crate::model::SIM);
    assert!(
        config.groups.iter().all(|g| g.sim.is_some()),
        "simulated groups get their [groups.sim] defaults"
    );
}

#[test]
fn a_top_level_stale_after_shorter_than_a_sources_poll_is_refused_at_the_top_level_key() {
    let text =
        CONNECTIONS.replacen("poll_interval = \"2s\"", "poll_interval = \"2s\"\nstale_after = \"6s\"", 1);
    let err = parse(&text, "connections.toml").unwrap_err();
    assert_eq!((err.line, err.column, err.key.as_deref()), (3, 15, Some("stale_after")), "{err}");
    assert!(err.message.contains("shorter than sources.slow.poll_interval (10s)"), "{err}");
}

#[test]
fn every_groups_type_error_is_reported_at_once_and_a_negative_duration_says_so() {
    let text = "[[groups]]\nname = \"a\"\ninstance_type = \"g5\"\nhourly_cost_usd = 1.0\nmin = \"x\"\nmax = 4\n\n\
                [[groups]]\nname = \"b\"\ninstance_type = \"g5\"\nhourly_cost_usd = 1.0\nmin = 1\nmax = 4\nslo_p95 = \"-5s\"\n";
    let err = error_of(text);
    assert_eq!((err.line, err.key.as_deref()), (5, Some("groups[0].min")), "{err}");
    assert_eq!(err.more.len(), 1, "{err}");
    assert_eq!((err.more[0].line, err.more[0].key.as_deref()), (14, Some("groups[1].slo_p95")), "{err}");
    assert!(err.more[0].message.contains("a duration cannot be negative"), "{err}");
    assert_eq!(err.to_string().lines().count(), 2, "{err}");
}

#[test]
fn every_broken_rule_is_reported_at_once_in_file_order() {
    let text = "[[groups]]\nname = \"a\"\ninstance_type = \"g5\"\nhourly_cost_usd = 1.0\nmin = 5\nmax = 4\n\n\
                [[groups]]\nname = \"b\"\ninstance_type = \"\"\nhourly_cost_usd = 1.0\nmin = 1\nmax = 4\n\n\
                [operator]\nname = \" \"\n";
    let err = error_of(text);
    let keys: Vec<Option<&str>> = std::iter::once(&err).chain(&err.more).map(|e| e.key.as_deref()).collect();
    assert_eq!(
        keys,
        [Some("groups[0].min"), Some("groups[1].instance_type"), Some("operator.name")],
        "{err}"
    );
}

#[test]
fn a_sim_http_actuator_needs_its_url_and_a_real_source_and_the_simulator_takes_none() {
    let without_url =
        CONNECTIONS.replace("[actuators.asg]\nkind = \"sim\"", "[actuators.asg]\nkind = \"sim-http\"");
    let err = parse(&without_url, "c.toml").unwrap_err().to_string();
    assert!(err.contains("needs `url`, the control API of `fleetdeck sim serve`"), "{err}");
    let sim_with_url =
        CONNECTIONS.replace("max_concurrency = 2", "max_concurrency = 2\nurl = \"http://127.0.0.1:9400\"");
    let err = parse(&sim_with_url, "c.toml").unwrap_err().to_string();
    assert!(err.contains("`url` is for kind = \"sim-http\""), "{err}");
    let with_sim_source =
        without_url.replace("max_concurrency = 2", "max_concurrency = 2\nurl = \"http://127.0.0.1:9400/\"");
    let err = parse(&with_sim_source, "c.toml").unwrap_err().to_string();
    assert!(err.contains("must both be simulators or both be real"), "{err}");
    let bad_url = with_sim_source.replace("http://127.0.0.1:9400/", "127.0.0.1:9400");
    let err = parse(&bad_url, "c.toml").unwrap_err().to_string();
    assert!(err.contains("`127.0.0.1:9400` is not an http:// or https:// URL"), "{err}");
}

#[test]
fn the_prometheus_example_config_loads_with_its_connections() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus.toml");
    let config = load(&path).unwrap();
    let prom = config.source("prom").and_then(|s| s.prometheus.clone()).expect("a prometheus source");
    assert_eq!((prom.url.as_str(), prom.rate_window), ("http://127.0.0.1:9090", Duration::from_secs(10)));
    assert_eq!(config.actuator("sim").and_then(|a| a.url.as_deref()), Some("http://127.0.0.1:9400"));
    assert!(config.groups.iter().all(|g| g.sim.is_none()), "no group is simulated in-process");
}

const PROMETHEUS: &str = "[sources.prom]\nkind = \"prometheus\"\nurl = \"https://prom.example:9090\"\n\n\
    [actuators.ctl]\nkind = \"sim-http\"\nurl = \"http://127.0.0.1:9400\"\n\n\
    [[groups]]\nname = \"g\"\ninstance_type = \"t\"\nhourly_cost_usd = 1\nmin = 1\nmax = 4\n\
    source = \"prom\"\nactuator = \"ctl\"\n";

#[test]
fn a_prometheus_source_takes_credentials_by_reference_headers_labels_and_a_ca_and_groups_their_own_queries() {
    let text = PROMETHEUS.replace(
        "url = \"https://prom.example:9090\"\n",
        "url = \"https://prom.example:9090\"\npod_labels = [\"pod\"]\ngroup_label = \"app\"\n\
         headers = { \"X-Scope-OrgID\" = \"team-gpu\" }\nbearer_token_file = \"token\"\nca_file = \"ca.pem\"\nalerts = true\n",
    ) + "[groups.prometheus]\nmatchers = 'cluster=\"eu-1\"'\n[groups.prometheus.queries]\n\
         latency_p95 = 'histogram_quantile(0.95, sum by (le) (rate(x_bucket[1m])))'\n\"custom:batch_size\" = 'avg(b)'\n";
    let config = parse(&text, "/etc/fleetdeck/prod.toml").unwrap();
    let prom = config.source("prom").and_then(|s| s.prometheus.clone()).unwrap();
    assert_eq!((prom.pod_labels, prom.group_label.as_deref()), (vec!["pod".to_string()], Some("app")));
    assert_eq!(prom.headers, [("X-Scope-OrgID".to_string(), "team-gpu".to_string())]);
    assert_eq!(prom.auth.unwrap().to_string(), "bearer token from file /etc/fleetdeck/token");
    assert_eq!(prom.ca_file.as_deref(), Some(Path::new("/etc/fleetdeck/ca.pem")));
    assert!(prom.alerts);
    let check = super::connection_lines(&config).join("\n");
    assert!(
        check.contains(
            "source prom: prometheus at https://prom.example:9090, bearer token from file /etc/fleetdeck/token \
             (NOT readable: cannot read /etc/fleetdeck/token"
        ) && check.contains("its alerts shown, polled every"),
        "{check}"
    );
    let own = config.groups[0].prometheus.clone().unwrap();
    assert_eq!(own.matchers.as_deref(), Some("cluster=\"eu-1\""));
    let kinds: Vec<String> = own.queries.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(kinds, ["custom:batch_size", "latency_p95"]);
    let basic = PROMETHEUS.replace(
        "url = \"https://prom.example:9090\"\n",
        "url = \"https://prom.example:9090\"\nbasic_auth = { username = \"fd\", password_env = \"PROM_PASSWORD\" }\n",
    );
    let basic = parse(&basic, "x.toml").unwrap().source("prom").unwrap().prometheus.clone().unwrap();
    assert_eq!(basic.auth.unwrap().to_string(), "basic auth as fd, password from env $PROM_PASSWORD");
    assert!(!basic.alerts, "alerts are off unless asked for");
}

#[test]
fn prometheus_keys_are_refused_where_they_would_leak_a_secret_or_cannot_work() {
    let with = |extra: &str| {
        PROMETHEUS.replace(
            "url = \"https://prom.example:9090\"\n",
            &format!("url = \"https://prom.example:9090\"\n{extra}\n"),
        )
    };
    let cases = [
        (
            with("bearer_token = \"abc\""),
            "sources.prom.bearer_token",
            "secrets are never written in the config",
        ),
        (
            with("headers = { Authorization = \"Bearer abc\" }"),
            "sources.prom.headers.Authorization",
            "credentials are never written in the config",
        ),
        (
            with("basic_auth = { username = \"u\", password = \"p\" }"),
            "sources.prom.basic_auth.password",
            "secrets are never written",
        ),
        (with("basic_auth = { username = \"u\" }"), "sources.prom.basic_auth", "needs `password_env`"),
        (
            with("bearer_token_env = \"T\"\nbasic_auth = { username = \"u\", password_env = \"P\" }"),
            "sources.prom.basic_auth",
            "not both",
        ),
        (with("group_label = \"app-name\""), "sources.prom.group_label", "is not a label name"),
        (with("pod_labels = []"), "sources.prom.pod_labels", "at least one label"),
        (
            PROMETHEUS.to_string() + "[groups.prometheus.queries]\nlatency_p959 = 'x'\n",
            "groups[0].prometheus.queries.latency_p959",
            "unknown metric `latency_p959`",
        ),
        (
            PROMETHEUS.to_string() + "[groups.prometheus.queries]\nready_capacity = 'x'\n",
            "groups[0].prometheus.queries.ready_capacity",
            "recorded from the actuator's observations",
        ),
        (
            format!("{GROUP}[groups.prometheus]\nmatchers = 'a=\"b\"'\n"),
            "groups[0].prometheus",
            "is for groups read from a Prometheus source",
        ),
        (
            format!("[sources.sim]\nkind = \"sim\"\nca_file = \"ca.pem\"\n{GROUP}"),
            "sources.sim.ca_file",
            "is for kind = \"prometheus\" sources",
        ),
        (
            format!(
                "[notifiers.team]\nkind = \"slack\"\ntoken_env = \"T\"\nchannel = \"#c\"\nchannels = {{ urgent = \"#u\" }}\n{GROUP}"
            ),
            "notifiers.team.channels.urgent",
            "is not a severity",
        ),
        (
            format!(
                "[notifiers.pd]\nkind = \"pagerduty\"\nrouting_key_env = \"K\"\napi_url = \"https://x\"\n{GROUP}"
            ),
            "notifiers.pd.api_url",
            "is not a pagerduty notifier's key",
        ),
        (
            format!(
                "[notifiers.pd]\nkind = \"pagerduty\"\nrouting_key_env = \"K\"\nevents_url = \"ftp://x\"\n{GROUP}"
            ),
            "notifiers.pd.events_url",
            "http",
        ),
        (
            format!(
                "[notifiers.team]\nkind = \"slack\"\ntoken_env = \"T\"\nchannel = \"#c\"\nthrottle_wait = \"1s\"\n{GROUP}"
            ),
            "notifiers.team.throttle_wait",
            "is not a slack notifier's key",
        ),
        (
            format!("[sources.sim]\nkind = \"sim\"\nalerts = true\n{GROUP}"),
            "sources.sim.alerts",
            "is for kind = \"prometheus\" sources",
        ),
    ];
    for (text, key, words) in cases {
        let err = error_of(&text);
        assert_eq!(err.key.as_deref(), Some(key), "{err}");
        assert!(err.message.contains(words), "{key}: {err}");
        assert!(err.line > 0, "{err}");
    }
}
