//! Operator commands on plain autoscalers at a fixed `now`, what the next decision makes
//! of them, and the engine refusing them when read-only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::actuators::{Actuator, Observation};
use crate::backends::{ActuatorConnection, Backends, SourceConnection};
use crate::clock::ManualClock;
use crate::engine::history::SeriesHistory;
use crate::engine::{Engine, EngineSettings};
use crate::model::{BackendError, Capacity, GroupSpec, MetricKind, Sample, Serving, WarmupRange};
use crate::policy::PolicySpec;
use crate::protocol::Operator;
use crate::sources::{MetricSource, SourcePoll};

/// 2026-11-23 14:00 UTC.
const NOW: Timestamp = Timestamp::from_millis(1_795_442_400_000);

fn spec(name: &str) -> GroupSpec {
    GroupSpec {
        name: name.into(),
        source: crate::model::SIM.into(),
        actuator: crate::model::SIM.into(),
        min: 2,
        max: 8,
        hard_max: None,
        desired: 4,
        instance_type: "g5.xlarge".into(),
        hourly_cost_usd: 1.0,
        warmup: WarmupRange::default(),
        serving: Serving::Generic,
        slo_p95: None,
    }
}

fn fleet() -> Vec<Autoscaler> {
    ["llm-chat", "vision"]
        .into_iter()
        .map(|name| Autoscaler::new(&spec(name), PolicySpec::default(), Vec::new(), AutoscaleMode::Act, NOW))
        .collect()
}

fn request(command: Command, reason: Option<&str>) -> CommandRequest {
    CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: reason.map(Into::into),
        command,
    }
}

fn run(fleet: &mut [Autoscaler], command: Command, reason: Option<&str>) -> Reply {
    apply(fleet.iter_mut(), &request(command, reason), NOW)
}

fn group(name: &str) -> Target {
    Target::Group(name.into())
}

fn ok(reply: Reply) -> String {
    match reply {
        Reply::Ok { message } => message,
        other => panic!("expected ok, got {other:?}"),
    }
}

fn refused(reply: Reply) -> String {
    match reply {
        Reply::Refused { reason } => reason,
        other => panic!("expected refused, got {other:?}"),
    }
}

fn force(group: &str, desired: u32, beyond_max: bool) -> Command {
    Command::ForceScale { group: group.into(), desired, hold: Duration::from_secs(20 * 60), beyond_max }
}

#[test]
fn pause_sets_the_pause_on_the_group_and_says_until_when_and_why() {
    let mut fleet = fleet();
    let pause = Command::Pause {
        target: group("llm-chat"),
        duration: Some(Duration::from_secs(30 * 60)),
        mode: PauseMode::ScaleInOnly,
    };
    let message = ok(run(&mut fleet, pause, Some("INC-123")));
    assert_eq!(message, "paused llm-chat (scale-in only) until 14:30 UTC by ana: INC-123");
    assert_eq!(
        fleet[0].state.pause,
        Some(Pause {
            mode: PauseMode::ScaleInOnly,
            by: "ana".into(),
            until: Some(NOW.plus(Duration::from_secs(1800))),
            reason: "INC-123".into(),
        })
    );
    assert_eq!(fleet[1].state.pause, None, "only the named group");
}

#[test]
fn pause_all_without_duration_pauses_every_group_until_resumed() {
    let mut fleet = fleet();
    let pause = Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full };
    let message = ok(run(&mut fleet, pause, None));
    assert_eq!(message, "paused llm-chat, vision (no automated changes) until resumed by ana");
    for autoscaler in &fleet {
        let pause = autoscaler.state.pause.as_ref().unwrap();
        assert_eq!((pause.mode, pause.until), (PauseMode::Full, None));
    }
}

#[test]
fn a_pause_lasting_past_midnight_names_the_day() {
    let mut fleet = fleet();
    let pause = Command::Pause {
        target: group("vision"),
        duration: Some(Duration::from_secs(12 * 3600)),
        mode: PauseMode::Full,
    };
    assert!(ok(run(&mut fleet, pause, None)).contains("until 2026-11-24 02:00 UTC"));
}

#[test]
fn resume_clears_the_pause_and_says_whose_it_was() {
    let mut fleet = fleet();
    let pause = Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full };
    ok(run(&mut fleet, pause, Some("deploy")));
    let message = ok(run(&mut fleet, Command::Resume { target: group("vision") }, None));
    assert_eq!(message, "resumed vision (paused by ana: deploy) by ana");
    assert_eq!(fleet[1].state.pause, None);
    assert!(fleet[0].state.pause.is_some(), "the other group stays paused");

    let message = ok(run(&mut fleet, Command::Resume { target: Target::All }, None));
    assert_eq!(message, "resumed llm-chat (paused by ana: deploy) by ana; vision was not paused");
}

#[test]
fn resume_when_nothing_is_paused_is_refused() {
    let mut fleet = fleet();
    let reason = refused(run(&mut fleet, Command::Resume { target: group("vision") }, None));
    assert_eq!(reason, "nothing to resume: vision was not paused");
    let reason = refused(run(&mut fleet, Command::Resume { target: Target::All }, None));
    assert_eq!(reason, "nothing to resume: llm-chat, vision were not paused");
}

#[test]
fn an_expired_pause_counts_as_not_paused() {
    let mut fleet = fleet();
    fleet[0].state.pause = Some(Pause {
        mode: PauseMode::Full,
        by: "bob".into(),
        until: Some(NOW.minus(Duration::from_secs(1))),
        reason: String::new(),
    });
    refused(run(&mut fleet, Command::Resume { target: group("llm-chat") }, None));
    assert_eq!(fleet[0].state.pause, None, "cleared all the same");
}

#[test]
fn unknown_groups_are_refused_naming_the_known_ones() {
    let mut fleet = fleet();
    for command in [
        Command::Pause { target: group("nope"), duration: None, mode: PauseMode::Full },
        Command::Resume { target: group("nope") },
        force("nope", 4, false),
        Command::Shadow { target: group("nope"), on: true },
    ] {
        let reason = refused(run(&mut fleet, command, None));
        assert_eq!(reason, "unknown group `nope` (groups: llm-chat, vision)");
    }
    assert!(fleet.iter().all(|a| a.state.pause.is_none() && a.state.hold.is_none()));
}

#[test]
fn force_scale_sets_a_hold_for_the_chosen_time() {
    let mut fleet = fleet();
    let message = ok(run(&mut fleet, force("vision", 6, false), Some("load test")));
    assert_eq!(message, "holding vision at 6 for 20m (until 14:20 UTC) by ana: load test");
    assert_eq!(
        fleet[1].state.hold,
        Some(Hold {
            desired: 6,
            until: NOW.plus(Duration::from_secs(1200)),
            beyond_max: false,
            by: "ana".into()
        })
    );
}

#[test]
fn force_scale_beyond_max_needs_confirmation() {
    let mut fleet = fleet();
    let reason = refused(run(&mut fleet, force("vision", 12, false), None));
    assert!(reason.contains("12 is above vision's max of 8"), "{reason}");
    assert!(reason.contains("confirm beyond max"), "{reason}");
    assert_eq!(fleet[1].state.hold, None);

    let message = ok(run(&mut fleet, force("vision", 12, true), None));
    assert!(message.contains("at 12 (beyond max 8)"), "{message}");
    assert!(fleet[1].state.hold.as_ref().unwrap().beyond_max);
}

/// Issue 15, point 6: `ctl scale llm-chat 1320 --beyond-max` was accepted; nothing
/// passes the hard cap (default 2 × max), confirmed or not.
#[test]
fn force_scale_past_the_hard_cap_is_refused_even_confirmed() {
    let mut fleet = fleet();
    let reason = refused(run(&mut fleet, force("vision", 1320, true), None));
    assert!(reason.contains("1320 is above vision's hard cap of 16"), "{reason}");
    assert_eq!(fleet[1].state.hold, None);
    assert!(ok(run(&mut fleet, force("vision", 16, true), None)).contains("at 16 (beyond max 8)"));
    // A configured hard_max replaces the default.
    fleet[1].state.hard_max = Some(10);
    let reason = refused(run(&mut fleet, force("vision", 11, true), None));
    assert!(reason.contains("hard cap of 10"), "{reason}");
}

#[test]
fn force_scale_below_min_is_refused() {
    let mut fleet = fleet();
    let reason = refused(run(&mut fleet, force("vision", 1, true), None));
    assert!(reason.contains("1 is below vision's min of 2"), "{reason}");
    assert_eq!(fleet[1].state.hold, None);
}

#[test]
fn force_scale_on_a_fully_paused_group_warns_that_nothing_changes() {
    let mut fleet = fleet();
    ok(run(
        &mut fleet,
        Command::Pause { target: group("vision"), duration: None, mode: PauseMode::Full },
        None,
    ));
    let message = ok(run(&mut fleet, force("vision", 6, false), None));
    assert!(message.contains("vision is paused by ana, nothing changes until it is resumed"), "{message}");
}

#[test]
fn shadow_switches_the_mode_and_says_when_it_already_was() {
    let mut fleet = fleet();
    let message = ok(run(&mut fleet, Command::Shadow { target: group("vision"), on: true }, None));
    assert_eq!(message, "vision: shadow on: decisions are shown, not acted on (by ana)");
    assert_eq!((fleet[0].mode, fleet[1].mode), (AutoscaleMode::Act, AutoscaleMode::Shadow));

    let message = ok(run(&mut fleet, Command::Shadow { target: Target::All, on: true }, None));
    assert_eq!(message, "llm-chat: shadow on: decisions are shown, not acted on (by ana); vision already so");

    let message = ok(run(&mut fleet, Command::Shadow { target: Target::All, on: true }, None));
    assert_eq!(message, "llm-chat, vision already in shadow");

    ok(run(&mut fleet, Command::Shadow { target: Target::All, on: false }, None));
    assert!(fleet.iter().all(|a| a.mode == AutoscaleMode::Act));
}

fn one_tick(autoscaler: &mut Autoscaler) -> super::super::autoscale::Step {
    let mut history = SeriesHistory::new(16, 16);
    history.push(Sample { at: NOW, value: 0.5 });
    let series = BTreeMap::from([(MetricKind::GpuUtil, history)]);
    let capacity = Capacity { desired: 4, ready: 4, ..Capacity::default() };
    autoscaler.step(&series, capacity, Duration::from_secs(45), NOW, true, true)
}

#[test]
fn a_held_group_is_scaled_to_the_hold_on_the_next_step() {
    let mut fleet = fleet();
    ok(run(&mut fleet, force("vision", 6, false), None));
    let step = one_tick(&mut fleet[1]);
    assert_eq!(step.decision.desired, Some(6), "{}", step.decision.reason);
    assert_eq!(step.set_desired, Some(6), "acted on: the group is not in shadow");
}

#[test]
fn a_paused_group_decides_nothing_and_says_who_paused_it() {
    let mut fleet = fleet();
    // Both groups held at 6; only vision is paused. llm-chat is the control: the same
    // hold, unpaused, is acted on.
    ok(run(&mut fleet, force("llm-chat", 6, false), None));
    ok(run(&mut fleet, force("vision", 6, false), None));
    let pause = Command::Pause { target: group("vision"), duration: None, mode: PauseMode::Full };
    ok(run(&mut fleet, pause, Some("INC-9")));
    let control = one_tick(&mut fleet[0]);
    assert_eq!(
        (control.decision.desired, control.set_desired),
        (Some(6), Some(6)),
        "{}",
        control.decision.reason
    );
    let step = one_tick(&mut fleet[1]);
    assert_eq!((step.decision.desired, step.set_desired), (None, None));
    assert!(step.decision.reason.contains("paused by ana"), "{}", step.decision.reason);
}

#[test]
fn shadow_on_stops_acting_on_the_next_step() {
    let mut fleet = fleet();
    ok(run(&mut fleet, force("vision", 6, false), None));
    ok(run(&mut fleet, Command::Shadow { target: group("vision"), on: true }, None));
    let step = one_tick(&mut fleet[1]);
    assert_eq!((step.decision.desired, step.set_desired), (Some(6), None));
}

/// Answers nothing useful: the read-only test never ticks.
struct Idle;

impl MetricSource for Idle {
    fn name(&self) -> &str {
        "idle"
    }

    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> futures::future::BoxFuture<'a, SourcePoll> {
        Box::pin(std::future::ready(Ok(groups.iter().map(|_| Ok(Vec::new())).collect())))
    }
}

impl Actuator for Idle {
    fn name(&self) -> &str {
        "idle"
    }

    fn observe<'a>(
        &'a self,
        _: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Observation, BackendError>> {
        Box::pin(std::future::ready(Ok(Observation::of(Capacity::default()))))
    }

    fn set_desired<'a>(
        &'a self,
        _: &'a GroupSpec,
        _: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn write_marker<'a>(
        &'a self,
        _: &'a GroupSpec,
        _: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

fn engine(readonly: bool) -> Engine {
    let source = SourceConnection {
        source: Arc::new(Idle),
        poll_interval: Duration::from_secs(1),
        stale_after: Duration::from_secs(3),
    };
    let actuator = ActuatorConnection { actuator: Arc::new(Idle), max_concurrency: 1 };
    let backends =
        Backends::single(source, actuator, [(spec("vision"), PolicySpec::default(), Vec::new(), false)]);
    let mut settings = EngineSettings::new(Duration::from_secs(1), Duration::from_secs(3));
    settings.readonly = readonly;
    Engine::new(backends, Arc::new(ManualClock::new(NOW)), settings)
}

#[test]
fn a_readonly_engine_refuses_every_operator_command_and_changes_nothing() {
    let mut engine = engine(true);
    for command in [
        Command::Pause { target: Target::All, duration: None, mode: PauseMode::Full },
        Command::Resume { target: Target::All },
        force("vision", 4, false),
        Command::Shadow { target: Target::All, on: false },
    ] {
        let reason = refused(engine.handle_command(request(command, None)));
        assert!(reason.starts_with("read-only"), "{reason}");
    }
    let autoscaler = &engine.core.groups[0].autoscaler;
    assert_eq!((&autoscaler.state.pause, &autoscaler.state.hold), (&None, &None));
    assert_eq!(autoscaler.mode, AutoscaleMode::Shadow);
}

#[test]
fn the_engine_delegates_operator_commands_and_announces_them() {
    let mut engine = engine(false);
    let mut events = engine.connect().events;
    let pause = Command::Pause { target: group("vision"), duration: None, mode: PauseMode::ScaleInOnly };
    let message = ok(engine.handle_command(request(pause, Some("INC-1"))));
    assert_eq!(message, "paused vision (scale-in only) until resumed by ana: INC-1");
    assert!(engine.core.groups[0].autoscaler.state.pause.is_some());
    // The decision log's entry, then the announcement.
    match events.try_recv() {
        Ok(crate::protocol::Event::Decided(entry)) => {
            assert_eq!((entry.group.as_str(), entry.by.as_deref()), ("vision", Some("ana")));
            assert_eq!(entry.reason, "scale-in paused by ana: INC-1");
        }
        other => panic!("expected the decision log's entry, got {other:?}"),
    }
    match events.try_recv() {
        Ok(crate::protocol::Event::CommandHandled { command, .. }) => {
            assert_eq!(command, "pause vision --scale-in-only")
        }
        other => panic!("expected the command to be announced, got {other:?}"),
    }
}
