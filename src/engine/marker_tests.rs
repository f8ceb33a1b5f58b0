//! The target's own say (issue 14, point 13): the pause marker any console or a person
//! writes on the target is honoured like this engine's own pause, an unreadable one as a
//! full pause with a warning; a pause here writes the marker and a resume clears it; the
//! target's bounds narrow the configured ones. Each runs the real loop on the simulated
//! fast profile (a ×4 spike on llm-chat at 5 s), with a control run where it matters.

use super::scenario_tests::{Running, autoscaling_engine, clock};
use super::*;
use crate::actuators::{Actuator, Observation, TargetBounds};
use crate::backends::SimActuator;
use crate::model::{BackendError, GroupSpec, PauseMode};
use crate::protocol::Target;

fn set_marker(engine: &Engine, group: &str, text: Option<&str>) {
    let fleet = engine.sim.as_ref().unwrap().fleet().clone();
    fleet.lock().unwrap().set_marker(group, text.map(str::to_string)).unwrap();
}

/// llm-chat's desired capacity after 30 ticks through the spike, and its snapshot.
async fn through_the_spike(engine: Engine) -> Arc<Snapshot> {
    let mut running = Running::start(engine);
    let snapshot = running.until(30).await;
    running.stop().await;
    snapshot
}

fn desired(snapshot: &Snapshot) -> u32 {
    snapshot.group("llm-chat").unwrap().capacity.unwrap().desired
}

#[tokio::test(start_paused = true)]
async fn a_marker_written_by_hand_pauses_the_group_like_its_own_pause() {
    let control = through_the_spike(autoscaling_engine(clock(), AutoscaleMode::Act)).await;
    assert!(desired(&control) > 4, "without a marker the spike is scaled out");

    let engine = autoscaling_engine(clock(), AutoscaleMode::Act);
    set_marker(&engine, "llm-chat", Some("v1 mode=full by=bob why=INC-7%20drill"));
    let snapshot = through_the_spike(engine).await;
    assert_eq!(desired(&snapshot), 4, "the marker stops every automated change");
    let chat = snapshot.group("llm-chat").unwrap();
    let reason = &chat.decision.as_ref().unwrap().reason;
    assert!(reason.starts_with("blocked: paused by bob"), "{reason}");
    let control = chat.controls.iter().find(|c| c.kind == ControlKind::Pause).expect("shown as a pause");
    assert!(
        control.text.contains("by bob") && control.text.ends_with("(marker on the target)"),
        "{control:?}"
    );
    assert!(chat.warnings.is_empty(), "{:?}", chat.warnings);
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_marker_is_a_full_pause_with_a_warning() {
    let engine = autoscaling_engine(clock(), AutoscaleMode::Act);
    set_marker(&engine, "llm-chat", Some("DO NOT SCALE - ana"));
    let snapshot = through_the_spike(engine).await;
    assert_eq!(desired(&snapshot), 4);
    let chat = snapshot.group("llm-chat").unwrap();
    assert!(
        chat.decision.as_ref().unwrap().reason.starts_with("blocked: paused by unknown (unreadable marker)")
    );
    let warning = chat.warnings.first().expect("a warning");
    assert!(
        warning.contains("`DO NOT SCALE - ana`") && warning.contains("counted as a full pause"),
        "{warning}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pause_writes_the_marker_and_a_resume_clears_it() {
    let engine = autoscaling_engine(clock(), AutoscaleMode::Act);
    let fleet = engine.sim.as_ref().unwrap().fleet().clone();
    let mut running = Running::start(engine);
    running.until(2).await;
    let pause = Command::Pause {
        target: Target::Group("llm-chat".into()),
        duration: Some(Duration::from_secs(3600)),
        mode: PauseMode::ScaleInOnly,
    };
    assert!(matches!(running.command(pause).await, Reply::Ok { .. }));
    running.until(4).await;
    let text = fleet.lock().unwrap().marker("llm-chat").unwrap().map(str::to_string).expect("a marker");
    let written = crate::model::marker::parse(&text).unwrap();
    assert_eq!(
        (written.by.as_str(), written.mode, written.reason.as_str()),
        ("ana", PauseMode::ScaleInOnly, "drill")
    );
    assert!(written.until.is_some(), "{text}");
    assert_eq!(fleet.lock().unwrap().marker("vision").unwrap(), None, "other groups are untouched");
    assert!(matches!(running.command(Command::Resume { target: Target::All }).await, Reply::Ok { .. }));
    running.until(6).await;
    assert_eq!(fleet.lock().unwrap().marker("llm-chat").unwrap(), None, "the resume cleared it");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn resuming_here_clears_a_marker_another_console_wrote_and_scaling_resumes() {
    let engine = autoscaling_engine(clock(), AutoscaleMode::Act);
    set_marker(&engine, "llm-chat", Some("v1 mode=full by=bob"));
    let fleet = engine.sim.as_ref().unwrap().fleet().clone();
    let mut running = Running::start(engine);
    running.until(3).await;
    let reply = running.command(Command::Resume { target: Target::Group("llm-chat".into()) }).await;
    assert!(matches!(&reply, Reply::Ok { message } if message.contains("paused by bob")), "{reply:?}");
    let snapshot = running.until(30).await;
    assert_eq!(fleet.lock().unwrap().marker("llm-chat").unwrap(), None);
    assert!(desired(&snapshot) > 4, "the spike is scaled out once resumed");
    running.stop().await;
}

/// The simulator, reporting a MaxSize of 5 as an ASG would.
struct Capped(SimActuator);

impl Actuator for Capped {
    fn name(&self) -> &str {
        "capped"
    }
    fn needs_lease(&self) -> bool {
        false
    }
    fn observe<'a>(
        &'a self,
        g: &'a GroupSpec,
    ) -> futures::future::BoxFuture<'a, Result<Observation, BackendError>> {
        Box::pin(async move {
            let mut observation = self.0.observe(g).await?;
            observation.bounds = Some(TargetBounds { min: 1, max: 5 });
            observation
                .warnings
                .push("scaling policies are enabled on this ASG: another autoscaler acts on it".into());
            Ok(observation)
        })
    }
    fn set_desired<'a>(
        &'a self,
        g: &'a GroupSpec,
        d: u32,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        self.0.set_desired(g, d)
    }
    fn write_marker<'a>(
        &'a self,
        g: &'a GroupSpec,
        m: Option<&'a str>,
    ) -> futures::future::BoxFuture<'a, Result<(), BackendError>> {
        self.0.write_marker(g, m)
    }
}

#[tokio::test(start_paused = true)]
async fn the_targets_own_bounds_cap_the_decision_and_its_warnings_are_shown() {
    let control = through_the_spike(autoscaling_engine(clock(), AutoscaleMode::Act)).await;
    assert!(desired(&control) > 5, "uncapped, the spike takes llm-chat past 5");
    let clock = clock();
    let mut engine = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let fleet = engine.sim.as_ref().unwrap().fleet().clone();
    for actuator in &mut engine.actuators {
        actuator.conn.actuator = Arc::new(Capped(SimActuator::new("capped", fleet.clone(), clock.clone())));
    }
    let snapshot = through_the_spike(engine).await;
    let chat = snapshot.group("llm-chat").unwrap();
    assert_eq!(chat.capacity.unwrap().desired, 5, "the spike wants more than the target's MaxSize allows");
    assert!(
        chat.controls.iter().any(|c| c.text.starts_with("the target allows only")),
        "{:?}",
        chat.controls
    );
    assert_eq!(chat.warnings, ["scaling policies are enabled on this ASG: another autoscaler acts on it"]);
}

#[test]
fn the_targets_bounds_narrow_the_configured_ones_and_win_where_they_do_not_meet() {
    use super::autoscale::narrowed;
    assert_eq!(narrowed((2, 16), None), (2, 16));
    assert_eq!(narrowed((2, 16), Some((0, 1000))), (2, 16), "a roomier target changes nothing");
    assert_eq!(narrowed((2, 16), Some((3, 5))), (3, 5));
    assert_eq!(narrowed((2, 4), Some((6, 10))), (6, 6), "the target refuses anything below its MinSize");
    assert_eq!(narrowed((8, 16), Some((0, 4))), (4, 4), "nor above its MaxSize");
}
