//! Paging and the notifiers' outbox in the engine's real loop (as `scenario_tests`, on
//! tokio's paused clock): who queues a page, where it goes, what it carries, and the
//! scale messages with their follow-ups.

use super::lease::Identity;
use super::scenario_tests::{Running, autoscaling_engine, clock, rewired};
use super::*;
use crate::model::MetricKind;

/// llm-chat's GPU above 0.75 for one 1-second datapoint: fires within a tick of the spike.
fn gpu_hot_rule() -> crate::alarms::AlarmRule {
    use crate::alarms::{Comparison, MissingData, Statistic};
    crate::alarms::AlarmRule {
        severity: crate::model::Severity::Critical,
        runbook: Some("https://runbooks.example/gpu-hot".into()),
        name: "gpu-hot".into(),
        metric: MetricKind::GpuUtil,
        statistic: Statistic::Maximum,
        comparison: Comparison::GreaterThan,
        threshold: 0.75,
        period: Duration::from_secs(1),
        datapoints_to_alarm: 1,
        evaluation_periods: 1,
        for_duration: Duration::ZERO,
        missing_data: MissingData::Missing,
        description: None,
    }
}

#[tokio::test(start_paused = true)]
async fn two_engines_see_one_alarm_fire_and_only_the_lease_holder_queues_the_page() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let base = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    let mut engines = Vec::new();
    for (name, shadow) in [("daemon@host:1", false), ("console@host:2", false), ("trial@host:3", true)] {
        let (mut engine, _) = rewired(&base, clock.clone());
        engine.identity = Identity { holder: name.into(), host: format!("{name}-host") };
        engine.settings.notifiers = vec!["pagerduty".into(), "slack".into()];
        let chat = engine.core.index_of("llm-chat").unwrap();
        engine.core.groups[chat].autoscaler.set_rules(vec![gpu_hot_rule()], clock.now());
        if shadow {
            // A shadow-mode engine started last: it would page too if it took the lease.
            engine.core.groups[chat].autoscaler.mode = AutoscaleMode::Shadow;
        }
        engine.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
        engines.push(engine);
    }
    let mut running: Vec<Running> = engines.into_iter().map(Running::start).collect();
    let mut fired = Vec::new();
    for r in &mut running {
        let seen = r.until(20).await;
        let alarm = seen.group("llm-chat").unwrap().alarms.iter().find(|a| a.name == "gpu-hot").cloned();
        fired.push(alarm.map(|a| a.state));
    }
    assert!(
        fired.iter().all(|s| *s == Some(crate::model::AlarmState::Firing)),
        "every engine evaluates the alarm: {fired:?}"
    );
    let store = crate::store::Store::open(&path).unwrap();
    for notifier in ["pagerduty", "slack"] {
        let pages: Vec<_> = store
            .outbox_messages(notifier)
            .unwrap()
            .into_iter()
            .filter(|m| m.payload["alarm"] == "gpu-hot" && m.payload["kind"] == "trigger")
            .collect();
        assert_eq!(pages.len(), 1, "{notifier}: one page from the holder, not one per engine: {pages:?}");
    }
    let open = store.open_pages("llm-chat").unwrap();
    assert_eq!(open.iter().filter(|p| p.alarm == "gpu-hot").count(), 1, "{open:?}");
    for r in running {
        r.stop().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_groups_own_notifier_list_is_where_its_pages_go() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut engine = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    // The engine's list is every notifier; llm-chat names only Slack (`notifiers = ["slack"]`).
    engine.settings.notifiers = vec!["pagerduty".into(), "slack".into()];
    let chat = engine.core.index_of("llm-chat").unwrap();
    engine.io[chat].notifiers = Some(vec!["slack".into()]);
    engine.core.groups[chat].autoscaler.set_rules(vec![gpu_hot_rule()], clock.now());
    engine.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let mut running = Running::start(engine);
    let seen = running.until(20).await;
    let alarm = seen.group("llm-chat").unwrap().alarms.iter().find(|a| a.name == "gpu-hot").cloned();
    assert_eq!(alarm.map(|a| a.state), Some(crate::model::AlarmState::Firing));
    running.stop().await;
    let store = crate::store::Store::open(&path).unwrap();
    let pages = |notifier: &str| {
        let messages = store.outbox_messages(notifier).unwrap();
        messages
            .into_iter()
            .filter(|m| m.payload["alarm"] == "gpu-hot" && m.payload["kind"] == "trigger")
            .count()
    };
    assert_eq!((pages("slack"), pages("pagerduty")), (1, 0), "only the group's own notifier is paged");
    let page = store
        .outbox_messages("slack")
        .unwrap()
        .into_iter()
        .find(|m| m.payload["alarm"] == "gpu-hot")
        .unwrap();
    let read = crate::notifiers::message::Outgoing::read(&page.payload).unwrap();
    let crate::notifiers::message::Outgoing::Page(page) = read else { panic!("{read:?}") };
    assert_eq!(page.severity, "critical");
    assert_eq!(
        page.links.iter().map(|l| (l.text.as_str(), l.href.as_str())).collect::<Vec<_>>(),
        vec![("runbook", "https://runbooks.example/gpu-hot")]
    );
    assert!(
        page.details.contains_key("gpu_util") && page.details.contains_key("desired"),
        "{:?}",
        page.details
    );
}

/// The flash crowd's scale-out, acted on, is queued for every notifier as a scale
/// message with the autoscaler's reason (a Slack message, a PagerDuty Change Event).
#[tokio::test(start_paused = true)]
async fn an_acted_scale_out_is_queued_for_the_notifiers_with_its_reason() {
    let clock = clock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut engine = autoscaling_engine(clock.clone(), AutoscaleMode::Act);
    engine.settings.notifiers = vec!["pagerduty".into()];
    engine.settings.fleet = "fast".into();
    engine.set_store(crate::store::Store::open(&path).unwrap()).unwrap();
    let mut running = Running::start(engine);
    let mut grown = false;
    running.run_until(40, |s| grown |= s.group("llm-chat").unwrap().capacity.unwrap().desired > 4).await;
    assert!(grown, "the spike was scaled out");
    running.stop().await;
    let store = crate::store::Store::open(&path).unwrap();
    let scales: Vec<_> = store
        .outbox_messages("pagerduty")
        .unwrap()
        .into_iter()
        .filter(|m| m.payload["kind"] == "scale" && m.group == "llm-chat")
        .collect();
    let first = scales.first().expect("a scale message");
    assert_eq!((first.payload["from"].as_u64(), first.payload["fleet"].as_str()), (Some(4), Some("fast")));
    assert!(first.payload["to"].as_u64().unwrap() > 4, "{:?}", first.payload);
    assert!(first.payload["reason"].as_str().unwrap().starts_with("scale out 4→"), "{:?}", first.payload);
    assert!(first.message_key.starts_with("fleetdeck:llm-chat:scale:"), "{}", first.message_key);
    let read = crate::notifiers::message::Outgoing::read(&first.payload).unwrap();
    assert!(
        matches!(read, crate::notifiers::message::Outgoing::Scale(s) if s.instance_type == "p4d.24xlarge")
    );
    // Once its instances are ready (warm-ups of 5–10 s here), its outcome follows it up,
    // threaded under it.
    let outcome = store
        .outbox_messages("pagerduty")
        .unwrap()
        .into_iter()
        .find(|m| {
            m.payload["kind"] == "scale_outcome" && m.payload["thread_of"] == first.message_key.as_str()
        })
        .expect("the scale-out's outcome");
    let read = crate::notifiers::message::Outgoing::read(&outcome.payload).unwrap();
    let crate::notifiers::message::Outgoing::ScaleOutcome(told) = read else { panic!("{read:?}") };
    assert_eq!((told.from, told.to), (4, first.payload["to"].as_u64().unwrap() as u32));
    assert!(told.complete(), "all ready within the warm-up: {told:?}");
    assert!(told.p95_before.is_some() && told.p95_after.is_some(), "{told:?}");
    let words = told.words();
    assert!(words.starts_with(&format!("added {} × p4d.24xlarge in ", told.to - 4)), "{words}");
    assert!(words.contains("; p95 ") && words.contains(" s → "), "{words}");
}
