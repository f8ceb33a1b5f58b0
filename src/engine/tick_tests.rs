//! The tick core on the simulated fleet, synchronously, on a virtual clock: every
//! assertion is about tick numbers, never wall time.

use std::time::Duration;

use super::*;
use crate::alarms::{Comparison, MissingData, Statistic};
use crate::config::Config;
use crate::engine::sim_loop::SimLoop;
use crate::model::MetricKind;
use crate::protocol::{DecisionEntry, Event, Operator, SimCommand};
use crate::sim::SimFleet;

use super::super::pager::NotificationKind;

const START: Timestamp = Timestamp(1_767_225_600_000);
const CHAT: usize = 0;

/// The fast profile (1 s polls, 5–10 s warm-ups) with GPU target tracking at 0.7 on
/// every group, and on llm-chat a latency alarm that needs 3 breaching seconds in a row.
fn config() -> Config {
    let mut config = crate::config::fast_profile();
    config.groups[CHAT].alarms = vec![AlarmRule {
        severity: crate::model::Severity::default(),
        runbook: None,
        name: "p95-over-slo".into(),
        metric: MetricKind::LatencyP95,
        statistic: Statistic::Maximum,
        comparison: Comparison::GreaterThan,
        threshold: 2.0,
        period: Duration::from_secs(1),
        datapoints_to_alarm: 3,
        evaluation_periods: 3,
        for_duration: Duration::ZERO,
        missing_data: MissingData::Missing,
        description: None,
    }];
    config
}

/// A loop over the fast fleet; `spike`: llm-chat's demand × factor from 5 s on.
fn sim_loop(mode: AutoscaleMode, spike: Option<f64>) -> SimLoop {
    let config = config();
    let mut fleet = SimFleet::new(&config.sim_groups(), config.seed, START);
    if let Some(factor) = spike {
        let spike =
            SimCommand::Spike { group: "llm-chat".into(), factor, duration: Duration::from_secs(600) };
        fleet.schedule(START.plus(Duration::from_secs(5)), spike);
    }
    let settings = CoreSettings {
        stale_after: config.stale_after,
        raw_points: 600,
        minute_points: 60,
        readonly: false,
        record_states: true,
        capacity_series: true,
    };
    let groups = config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone(), false));
    SimLoop::new(TickCore::build(groups, mode, settings, START), fleet)
}

fn at(tick: u64) -> Timestamp {
    START.plus(Duration::from_secs(tick))
}

/// Runs ticks `from..to` (one a second), no commands.
fn run(sim: &mut SimLoop, ticks: std::ops::Range<u64>) -> Vec<(u64, TickOutput)> {
    ticks.map(|t| (t, sim.step(at(t), Vec::new()))).collect()
}

fn request(command: Command) -> CommandRequest {
    CommandRequest {
        operator: Operator { name: "ana".into(), email: None, auth: None },
        reason: Some("drill".into()),
        command,
    }
}

fn chat_actions(outputs: &[(u64, TickOutput)]) -> Vec<(u64, u32, u32)> {
    outputs
        .iter()
        .flat_map(|(t, out)| out.actions.iter().filter(|a| a.group == CHAT).map(move |a| (*t, a.from, a.to)))
        .collect()
}

fn chat_util(out: &TickOutput) -> Option<f64> {
    let record = out.decisions.iter().find(|d| d.group == CHAT)?;
    record.inputs.metrics.iter().find(|m| m.kind == MetricKind::GpuUtil).map(|m| m.value)
}

#[test]
fn a_flash_crowd_scales_out_once_in_the_tick_it_is_seen_and_waits_for_the_warm_up() {
    let mut sim = sim_loop(AutoscaleMode::Act, Some(4.0));
    let outputs = run(&mut sim, 0..60);
    // The condition: utilization beyond target tracking's 10 % tolerance over 0.7.
    let seen = outputs.iter().find(|(_, out)| chat_util(out).is_some_and(|u| u > 0.77)).map(|(t, _)| *t);
    let seen = seen.expect("the spike shows in llm-chat's utilization");
    let actions = chat_actions(&outputs);
    let (first_tick, from, to) = actions[0];
    assert_eq!(first_tick, seen, "acts in the tick that first sees the condition: {actions:?}");
    assert!(to > from, "{actions:?}");
    // While a scale-out warms, the next one waits for new capacity to show: asking again
    // on the same ready count would stack launches on data that has not changed.
    let warmup = sim.core.groups[CHAT].spec.warmup.max.as_secs();
    let ready = |tick: u64| {
        let out = &outputs[tick as usize].1;
        out.decisions
            .iter()
            .find(|d| d.group == CHAT)
            .map(|d| d.state.as_ref().unwrap().capacity.ready)
            .unwrap()
    };
    for pair in actions.windows(2) {
        let ((before, ..), (after, ..)) = (pair[0], pair[1]);
        assert!(
            after >= before + warmup || ready(after) > ready(before),
            "tick {after} scaled again {}s into the warm-up of tick {before}'s scale-out with ready still {}: {actions:?}",
            after - before,
            ready(after)
        );
    }
    assert!(actions.len() >= 2, "after the warm-up it keeps up with the ×4 crowd: {actions:?}");
    let desired = sim.fleet.capacity("llm-chat").unwrap().desired;
    assert!(desired >= 12, "×4 demand at 60 % needs ~14 instances, has {desired}");
}

#[test]
fn in_shadow_mode_the_core_decides_and_never_acts() {
    let mut sim = sim_loop(AutoscaleMode::Shadow, Some(4.0));
    let outputs = run(&mut sim, 0..30);
    assert!(outputs.iter().all(|(_, out)| out.actions.is_empty()));
    let would: Vec<&DecisionRecord> = outputs
        .iter()
        .flat_map(|(_, out)| &out.decisions)
        .filter(|d| d.group == CHAT && d.decision.desired.is_some())
        .collect();
    assert!(!would.is_empty() && would.iter().all(|d| d.shadow), "logged as would-scale");
    assert_eq!(sim.fleet.capacity("llm-chat").unwrap().desired, 4);
}

#[test]
fn an_alarm_raised_while_the_scale_out_warms_is_held_back_and_pages_when_the_warm_up_ends() {
    let mut sim = sim_loop(AutoscaleMode::Act, Some(4.0));
    let outputs = run(&mut sim, 0..40);
    let (scaled_at, from, to) = chat_actions(&outputs)[0];
    let fired_at = outputs
        .iter()
        .find(|(_, out)| {
            out.events.iter().any(|e| matches!(e, Event::Alarm { alarm, to: AlarmState::Firing, .. } if alarm == "p95-over-slo"))
        })
        .map(|(t, _)| *t)
        .expect("the latency alarm fires");
    assert!(fired_at > scaled_at, "3 breaching seconds come after the scale-out ({fired_at} vs {scaled_at})");
    let pages: Vec<(u64, &Notification)> = outputs
        .iter()
        .flat_map(|(t, out)| out.notifications.iter().map(move |n| (*t, n)))
        .filter(|(_, n)| n.alarm == "p95-over-slo")
        .collect();
    let (paged_at, page) = pages.first().expect("still firing after the warm-up: it pages");
    assert_eq!(page.kind, NotificationKind::Trigger);
    let warming = page.held_under.as_ref().expect("grouped under the scale-out");
    assert_eq!((warming.at, warming.from, warming.to), (at(scaled_at), from, to));
    let warmup = sim.core.groups[CHAT].spec.warmup;
    assert!(
        *paged_at >= scaled_at + warmup.min.as_secs() && *paged_at <= scaled_at + warmup.max.as_secs(),
        "paged at {paged_at}: when {from}→{to} finished warming (between {} and {} s after {scaled_at})",
        warmup.min.as_secs(),
        warmup.max.as_secs()
    );
    // The episode's key: group, alarm and when it went FIRING (the tick the alarm fired).
    assert_eq!(page.dedup_key, format!("fleetdeck:llm-chat:p95-over-slo:{}", at(fired_at).as_millis()));
}

#[test]
fn a_silence_mutes_pages_and_one_still_firing_when_it_is_lifted_pages_then() {
    let mut sim = sim_loop(AutoscaleMode::Shadow, Some(4.0));
    let silence =
        Command::Silence { target: Target::Group("llm-chat".into()), duration: Duration::from_secs(3600) };
    let first = sim.step(at(0), vec![request(silence)]);
    assert!(matches!(&first.replies[..], [Reply::Ok { message }] if message.contains("silenced llm-chat")));
    assert!(first.operator_state_changed);
    let outputs = run(&mut sim, 1..30);
    assert!(
        outputs.iter().any(|(_, out)| out
            .events
            .iter()
            .any(|e| matches!(e, Event::Alarm { to: AlarmState::Firing, .. }))),
        "the alarm is evaluated and fires"
    );
    assert!(outputs.iter().all(|(_, out)| out.notifications.is_empty()), "but nothing pages");
    let lifted =
        sim.step(at(30), vec![request(Command::Unsilence { target: Target::Group("llm-chat".into()) })]);
    assert!(matches!(&lifted.replies[..], [Reply::Ok { .. }]), "{:?}", lifted.replies);
    let kinds: Vec<_> = lifted.notifications.iter().map(|n| (n.alarm.as_str(), n.kind)).collect();
    assert_eq!(kinds, vec![("p95-over-slo", NotificationKind::Trigger)]);
}

#[test]
fn failed_actions_are_forgotten_and_k_in_a_row_freeze_the_group_until_reset() {
    let mut sim = sim_loop(AutoscaleMode::Act, Some(4.0));
    sim.fail_actions(Some("UpdateAutoScalingGroup: access denied".into()));
    let outputs = run(&mut sim, 0..40);
    let actions = chat_actions(&outputs);
    assert_eq!(actions.len(), 3, "K = 3 failed calls, then the breaker freezes: {actions:?}");
    assert!(
        actions.windows(2).all(|w| w[1].0 == w[0].0 + 1),
        "a failed call is retried next tick: {actions:?}"
    );
    let tripped_at = outputs
        .iter()
        .find(|(_, out)| out.events.iter().any(|e| matches!(e, Event::Breaker { tripped: true, .. })))
        .map(|(t, _)| *t)
        .unwrap();
    assert_eq!(tripped_at, actions[2].0 + 1, "the trip comes with the outcome of the third call");
    let by = |out: &TickOutput, who: &str| -> Vec<String> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Decided(entry) if entry.by.as_deref() == Some(who) => Some(entry.reason.clone()),
                _ => None,
            })
            .collect()
    };
    let trip = by(&outputs[tripped_at as usize].1, "circuit breaker");
    assert!(
        matches!(&trip[..], [t] if t.starts_with("breaker tripped: all scaling frozen — 3 actuator calls")),
        "the decision log names the breaker: {trip:?}"
    );
    let group = &sim.core.groups[CHAT];
    assert!(group.autoscaler.state.recent_activities.is_empty(), "no failed call counts as a change");
    assert_eq!(sim.fleet.capacity("llm-chat").unwrap().desired, 4);
    let paged = outputs
        .iter()
        .flat_map(|(_, out)| &out.notifications)
        .any(|n| n.alarm == "breaker-actuator-failures");
    assert!(paged, "a trip that needs a human pages");
    // An operator fixes IAM and resets: the next tick scales out.
    sim.fail_actions(None);
    let reset =
        sim.step(at(40), vec![request(Command::ResetBreaker { target: Target::Group("llm-chat".into()) })]);
    assert!(matches!(&reset.replies[..], [Reply::Ok { .. }]), "{:?}", reset.replies);
    let closed = by(&reset, "ana");
    assert!(matches!(&closed[..], [c] if c.starts_with("breaker reset: actuator")), "{closed:?}");
    assert!(reset.actions.iter().any(|a| a.group == CHAT && a.to > a.from), "{:?}", reset.actions);
}

/// Issue 15, point 10: a reset on a budget trip said "ok: breaker reset" and the trip
/// reopened on the next tick. It is refused with the reason, and the trip stays.
#[test]
fn a_reset_on_a_budget_trip_is_refused_with_what_closes_it() {
    let mut sim = sim_loop(AutoscaleMode::Act, None);
    // 4 × $32.77 an hour, against $50.
    sim.core.groups[CHAT].autoscaler.state.policy.hourly_budget_usd = Some(50.0);
    let outputs = run(&mut sim, 0..3);
    assert!(
        outputs
            .iter()
            .flat_map(|(_, o)| &o.events)
            .any(|e| matches!(e, Event::Breaker { tripped: true, .. })),
        "the budget trip opens"
    );
    let reset =
        sim.step(at(3), vec![request(Command::ResetBreaker { target: Target::Group("llm-chat".into()) })]);
    let [Reply::Refused { reason }] = &reset.replies[..] else { panic!("{:?}", reset.replies) };
    assert_eq!(
        reason,
        "nothing to reset: llm-chat: the budget trip stays open (hourly cost $131.08 over budget $50.00): \
         it closes by itself when cost is under budget ($50.00/h)"
    );
    let trips = sim.core.groups[CHAT].autoscaler.breaker.trips();
    assert_eq!(
        trips.iter().map(|t| t.kind).collect::<Vec<_>>(),
        [crate::store::breaker::BreakerKind::Budget]
    );
    assert!(!reset.events.iter().any(|e| matches!(e, Event::Breaker { .. })), "nothing closed or reopened");
}

#[test]
fn a_read_only_core_refuses_commands_and_never_acts() {
    let config = config();
    let fleet = SimFleet::new(&config.sim_groups(), config.seed, START);
    let settings = CoreSettings {
        stale_after: config.stale_after,
        raw_points: 60,
        minute_points: 10,
        readonly: true,
        record_states: true,
        capacity_series: true,
    };
    let groups = config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone(), false));
    let mut sim = SimLoop::new(TickCore::build(groups, AutoscaleMode::Act, settings, START), fleet);
    let pause = Command::Pause { target: Target::All, duration: None, mode: crate::policy::PauseMode::Full };
    let out = sim.step(at(0), vec![request(pause)]);
    assert!(matches!(&out.replies[..], [Reply::Refused { reason }] if reason.contains("read-only")));
    assert!(!out.operator_state_changed);
    sim.fleet
        .apply(&SimCommand::Spike {
            group: "llm-chat".into(),
            factor: 4.0,
            duration: Duration::from_secs(60),
        })
        .unwrap();
    let outputs = run(&mut sim, 1..20);
    assert!(outputs.iter().all(|(_, out)| out.actions.is_empty()));
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let trace = |sim: &mut SimLoop| {
        run(sim, 0..60)
            .into_iter()
            .map(|(_, out)| format!("{:?}{:?}{:?}", out.actions, out.events, out.notifications))
            .collect::<Vec<_>>()
    };
    let first = trace(&mut sim_loop(AutoscaleMode::Act, Some(4.0)));
    let second = trace(&mut sim_loop(AutoscaleMode::Act, Some(4.0)));
    assert_eq!(first, second);
}

#[test]
fn remembered_alarm_windows_give_exactly_what_evaluating_afresh_gives() {
    // The demo: seed alarms with 1- and 5-minute periods, its scheduled spikes and gaps,
    // random instance failures; 1 s polls for 40 minutes, so windows slide, periods
    // complete and data goes missing; a 2-minute raw buffer, so samples inside the
    // 5-minute windows are dropped as it rolls over.
    let config = crate::config::demo();
    let run = |afresh: bool| {
        let mut fleet = SimFleet::new(&config.sim_groups(), 11, START);
        for event in &config.sim_events {
            fleet.schedule(START.plus(event.at), event.command.clone());
        }
        let settings = CoreSettings {
            stale_after: config.stale_after,
            raw_points: 120,
            minute_points: 60,
            readonly: false,
            record_states: false,
            capacity_series: true,
        };
        let groups =
            config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone(), false));
        let mut sim = SimLoop::new(TickCore::build(groups, AutoscaleMode::Act, settings, START), fleet);
        let mut trace = Vec::new();
        for t in 0..2400 {
            if afresh {
                sim.core.groups.iter_mut().for_each(|g| g.autoscaler.forget_windows());
            }
            let out = sim.step(at(t), Vec::new());
            let statuses: Vec<String> = sim
                .core
                .groups
                .iter()
                .flat_map(|g| g.autoscaler.alarms.iter().map(|a| format!("{:?}", a.status)))
                .collect();
            trace.push(format!("{t}: {statuses:?} {:?}", out.actions));
        }
        trace
    };
    let (remembered, afresh) = (run(false), run(true));
    let fired = remembered.iter().filter(|line| line.contains("Firing")).count();
    assert!(fired > 0, "the run must exercise firing alarms to mean anything");
    for (a, b) in remembered.iter().zip(&afresh) {
        assert_eq!(a, b);
    }
}

#[test]
fn a_remembered_window_is_not_reused_when_late_samples_can_still_land_in_it() {
    use crate::engine::history::SeriesHistory;
    use crate::model::Sample;
    // queue > 10 for 1 of 1 one-minute periods; the source reports with a delay, so at
    // 2:05 its newest sample is from 0:50 and the minute 1:00–2:00 is still to come.
    let rule = AlarmRule {
        severity: crate::model::Severity::default(),
        runbook: None,
        name: "queue-high".into(),
        metric: MetricKind::QueueLength,
        statistic: Statistic::Maximum,
        comparison: Comparison::GreaterThan,
        threshold: 10.0,
        period: Duration::from_secs(60),
        datapoints_to_alarm: 1,
        evaluation_periods: 1,
        for_duration: Duration::ZERO,
        missing_data: MissingData::NotBreaching,
        description: None,
    };
    let spec = config().groups[CHAT].spec.clone();
    let mut autoscaler =
        Autoscaler::new(&spec, PolicySpec::default(), vec![rule], AutoscaleMode::Shadow, START);
    let mut series = BTreeMap::new();
    let mut history = SeriesHistory::new(600, 60);
    history.push(Sample { at: at(50), value: 1.0 });
    series.insert(MetricKind::QueueLength, history);
    let capacity = crate::model::Capacity { desired: 4, ready: 4, ..Default::default() };
    autoscaler.step(&series, capacity, Duration::from_secs(300), at(125), false, false);
    assert_ne!(autoscaler.alarms[0].status.state, AlarmState::Firing);
    // The late minute arrives, breaching: the same window, evaluated again, fires.
    series.get_mut(&MetricKind::QueueLength).unwrap().push(Sample { at: at(110), value: 50.0 });
    autoscaler.step(&series, capacity, Duration::from_secs(300), at(126), false, false);
    assert_eq!(autoscaler.alarms[0].status.state, AlarmState::Firing);
}

/// The decision log's entries: every change of desired, and the first decision of each
/// run of identical ones — not one per tick.
#[test]
fn the_decision_log_gets_every_change_and_the_first_of_each_run() {
    let mut sim = sim_loop(AutoscaleMode::Act, Some(4.0));
    let mut outputs = run(&mut sim, 0..40);
    let pause = Command::Pause { target: Target::All, duration: None, mode: crate::policy::PauseMode::Full };
    let paused = sim.step(at(40), vec![request(pause)]);
    outputs.push((40, paused));
    outputs.extend(run(&mut sim, 41..60));
    let entries: Vec<(u64, &DecisionEntry)> = outputs
        .iter()
        .flat_map(|(t, out)| {
            out.events.iter().filter_map(move |e| match e {
                Event::Decided(entry) if entry.group == "llm-chat" => Some((*t, &**entry)),
                _ => None,
            })
        })
        .collect();
    let decisions: Vec<(u64, &DecisionRecord)> = outputs
        .iter()
        .flat_map(|(t, out)| out.decisions.iter().filter(|d| d.group == CHAT).map(move |d| (*t, d)))
        .collect();
    assert_eq!(decisions.len(), 60, "one decision a tick");
    assert!(entries.len() < decisions.len() / 2, "runs are not repeated: {} entries", entries.len());
    // Every change of desired has its entry, in the tick it was decided, with its words.
    for (tick, record) in decisions.iter().filter(|(_, d)| d.decision.desired.is_some()) {
        let entry = entries.iter().find(|(t, _)| t == tick).map(|(_, e)| e);
        let entry = entry.unwrap_or_else(|| panic!("tick {tick}'s change has no entry"));
        assert_eq!((entry.current, entry.desired), (record.decision.current, record.decision.desired));
        assert_eq!(entry.reason, record.decision.reason);
        assert!(!entry.proposals.is_empty() && !entry.inputs.is_empty(), "{entry:?}");
        assert!(entry.is_action() && !entry.shadow);
    }
    // A tick whose decision differs from the one before it (other than in measured
    // values) starts an entry: the pause shows as one "blocked" entry, not one per tick.
    let blocked: Vec<&(u64, &DecisionEntry)> =
        entries.iter().filter(|(_, e)| e.reason.starts_with("blocked: paused by ana")).collect();
    assert!(!blocked.is_empty(), "the pause blocks the spike's scale-out: {entries:#?}");
    assert!(blocked.iter().all(|(t, _)| *t >= 40));
    assert!(blocked[0].1.blocked.iter().any(|b| b.starts_with("paused by ana")), "{:?}", blocked[0].1);
    let blocked_ticks =
        decisions.iter().filter(|(_, d)| d.decision.reason.starts_with("blocked: paused")).count();
    assert!(blocked.len() < blocked_ticks, "{} entries for {blocked_ticks} blocked ticks", blocked.len());
}

/// Issue 15, point 11: the decision log is the timeline of who did what.
#[test]
fn operator_commands_that_change_a_group_are_entries_of_the_decision_log_with_who() {
    let mut sim = sim_loop(AutoscaleMode::Act, None);
    run(&mut sim, 0..5);
    let entries = |out: &TickOutput| -> Vec<(String, Option<String>, String)> {
        out.events
            .iter()
            .filter_map(|e| match e {
                Event::Decided(entry) => Some((entry.group.clone(), entry.by.clone(), entry.reason.clone())),
                _ => None,
            })
            .collect()
    };
    let chat = || Target::Group("llm-chat".into());
    let pause = Command::Pause {
        target: chat(),
        duration: Some(Duration::from_secs(1800)),
        mode: crate::policy::PauseMode::Full,
    };
    let out = sim.step(at(5), vec![request(pause)]);
    let paused = entries(&out);
    assert!(
        paused.contains(&(
            "llm-chat".into(),
            Some("ana".into()),
            "paused by ana for 30m (until 00:30:05 UTC): drill".into()
        )),
        "{paused:?}"
    );
    assert!(paused.iter().all(|(g, ..)| g == "llm-chat"), "only the group it paused: {paused:?}");
    // A resume of a group that is not paused changes nothing: no entry.
    let out = sim.step(at(6), vec![request(Command::Resume { target: Target::Group("vision".into()) })]);
    assert!(entries(&out).iter().all(|(_, by, _)| by.is_none()), "{:?}", entries(&out));
    let out = sim.step(at(7), vec![request(Command::Resume { target: chat() })]);
    assert!(entries(&out).contains(&("llm-chat".into(), Some("ana".into()), "resumed by ana: drill".into())));
    let shadow = || request(Command::Shadow { target: chat(), on: true });
    let out = sim.step(at(8), vec![shadow()]);
    assert!(entries(&out).iter().any(|(_, by, r)| by.is_some() && r.starts_with("shadow mode on by ana")));
    let out = sim.step(at(9), vec![shadow()]);
    assert!(entries(&out).iter().all(|(_, by, _)| by.is_none()), "already on: {:?}", entries(&out));
    sim.step(at(10), vec![request(Command::Shadow { target: chat(), on: false })]);
    // A forced scale is the decision that applies its hold, in the operator's name.
    let force = Command::ForceScale {
        group: "llm-chat".into(),
        desired: 7,
        hold: Duration::from_secs(600),
        beyond_max: false,
    };
    let out = sim.step(at(11), vec![request(force)]);
    let forced = entries(&out);
    assert!(
        forced.iter().any(|(g, by, r)| g == "llm-chat"
            && by.is_none()
            && r.starts_with("scale out 4→7: forced by ana, held until 00:10:11 UTC")),
        "{forced:?}"
    );
}

#[test]
fn a_reload_changes_bounds_policy_and_rules_in_place_and_names_what_needs_a_restart() {
    let mut sim = sim_loop(AutoscaleMode::Act, None);
    run(&mut sim, 0..5);
    let before = sim.core.groups[CHAT].autoscaler.alarms[0].status.clone();
    let mut config = config();
    config.groups[1].spec.max = 24;
    config.groups[1].policy.tolerance = 0.2;
    config.groups.remove(2);
    let mut extra = config.groups[0].clone();
    extra.spec.name = "new-group".into();
    config.groups.push(extra);
    let groups: Vec<_> =
        config.groups.iter().map(|g| (g.spec.clone(), g.policy.clone(), g.alarms.clone())).collect();
    let outcome = sim.core.reconfigure(&groups, at(5));
    assert_eq!(outcome.applied, ["vision: bounds 2-20 → 2-24, policy"]);
    assert_eq!(outcome.restart_needed, ["new group new-group", "group embeddings removed"]);
    let vision = &sim.core.groups[1];
    assert_eq!((vision.spec.max, vision.autoscaler.state.max), (24, 24));
    assert_eq!(vision.autoscaler.state.policy.tolerance, 0.2);
    assert_eq!(sim.core.groups.len(), 3, "the set of groups waits for a restart");
    // An unchanged rule keeps its state: llm-chat's alarm did not start over.
    assert_eq!(sim.core.groups[CHAT].autoscaler.alarms[0].status, before);
    let outputs = run(&mut sim, 6..8);
    assert!(outputs.iter().all(|(_, out)| out.decisions.len() == 3), "it keeps ticking");
}
