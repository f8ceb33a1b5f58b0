//! The daemon's own metrics and health, over HTTP on `--metrics-listen ADDR`:
//!
//! - `/metrics`: Prometheus text exposition (prometheus-client) — per group the desired,
//!   ready and warming capacity, decisions and actions counters, whether the breaker is
//!   open and automation paused, each alarm's state (one-hot on `state`), the lease
//!   holder (`ours` 1 when this daemon holds it); per notifier the messages sent, the
//!   attempts failed, the messages given up and the outbox's depth; and
//!   `fleetdeck_last_tick_timestamp_seconds`.
//! - `/healthz`: 200 while ticks come; 503 once the last one is older than three poll
//!   intervals (the tick loop is stuck). A stalled metric *source* is not that: the engine
//!   still ticks, marks the data stale and freezes scale-in, and `/healthz` stays 200.
//!
//! Everything is read from the engine's snapshots and events, as any front end would.
//! Time comes from the injected [`Clock`] (the engine's), never from the machine's clock
//! directly, so the health rule is tested on a manual clock.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;

use crate::clock::Clock;
use crate::model::{AlarmState, Timestamp};
use crate::protocol::{Connector, ControlKind, Event, Snapshot};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GroupLabels {
    group: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    group: String,
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlarmLabels {
    group: String,
    alarm: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    group: String,
    holder: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotifierLabels {
    notifier: String,
}

type Gauges<L> = Family<L, Gauge>;

/// The registry and what the daemon last saw.
pub struct Exporter {
    registry: Registry,
    desired: Gauges<GroupLabels>,
    ready: Gauges<GroupLabels>,
    warming: Gauges<GroupLabels>,
    decisions: Family<GroupLabels, Counter>,
    actions: Family<ActionLabels, Counter>,
    breaker_open: Gauges<GroupLabels>,
    paused: Gauges<GroupLabels>,
    alarm_state: Gauges<AlarmLabels>,
    lease: Gauges<LeaseLabels>,
    notifications_sent: Family<NotifierLabels, Counter>,
    notifications_failed: Family<NotifierLabels, Counter>,
    notifications_given_up: Family<NotifierLabels, Counter>,
    outbox_waiting: Gauges<NotifierLabels>,
    last_tick: Gauge<f64, std::sync::atomic::AtomicU64>,
    seen: Mutex<Seen>,
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Seen {
    seq: u64,
    /// When the newest snapshot arrived (on the exporter's clock).
    at: Option<Timestamp>,
    poll_interval: Duration,
    /// The alarm and lease series of the last snapshot: one not in the next is removed
    /// (an alarm rule dropped by a reload, another lease holder), the others are set in
    /// place, so a scrape never finds them missing.
    alarms: HashSet<AlarmLabels>,
    leases: HashSet<LeaseLabels>,
    /// Each notifier's (sent, failed, given up) as last counted.
    notifiers: std::collections::HashMap<String, (u64, u64, u64)>,
}

impl Exporter {
    /// An exporter that tells the age of the newest tick on `clock` (the engine's).
    pub fn new(clock: Arc<dyn Clock>) -> Exporter {
        let mut registry = Registry::with_prefix("fleetdeck");
        let exporter = Exporter {
            desired: Family::default(),
            ready: Family::default(),
            warming: Family::default(),
            decisions: Family::default(),
            actions: Family::default(),
            breaker_open: Family::default(),
            paused: Family::default(),
            alarm_state: Family::default(),
            lease: Family::default(),
            notifications_sent: Family::default(),
            notifications_failed: Family::default(),
            notifications_given_up: Family::default(),
            outbox_waiting: Family::default(),
            last_tick: Gauge::default(),
            seen: Mutex::new(Seen::default()),
            registry: Registry::default(),
            clock,
        };
        registry.register("desired_capacity", "Desired instances", exporter.desired.clone());
        registry.register("ready_capacity", "Instances ready (in service)", exporter.ready.clone());
        registry.register("warming_capacity", "Instances launched, not yet ready", exporter.warming.clone());
        registry.register(
            "decisions",
            "Autoscaler decisions (one a group a tick)",
            exporter.decisions.clone(),
        );
        registry.register("actions", "Changes of desired acted on, by direction", exporter.actions.clone());
        registry.register(
            "breaker_open",
            "1 while a circuit-breaker trip is open",
            exporter.breaker_open.clone(),
        );
        registry.register("paused", "1 while an operator pause is in force", exporter.paused.clone());
        registry.register("alarm_state", "1 for each alarm's current state", exporter.alarm_state.clone());
        registry.register("lease_holder", "1 for the group's lease holder", exporter.lease.clone());
        registry.register(
            "notifications_sent",
            "Outbox messages a notifier's service took",
            exporter.notifications_sent.clone(),
        );
        registry.register(
            "notifications_failed",
            "Delivery attempts that failed and are tried again",
            exporter.notifications_failed.clone(),
        );
        registry.register(
            "notifications_given_up",
            "Outbox messages a notifier's service refused for good",
            exporter.notifications_given_up.clone(),
        );
        registry.register(
            "outbox_waiting",
            "Outbox messages waiting to be sent",
            exporter.outbox_waiting.clone(),
        );
        registry.register(
            "last_tick_timestamp_seconds",
            "When the engine's newest tick was taken (engine clock)",
            exporter.last_tick.clone(),
        );
        Exporter { registry, ..exporter }
    }

    /// Takes in a snapshot: gauges set, decisions counted by ticks since the last one.
    pub fn observe_snapshot(&self, snapshot: &Snapshot) {
        let ticks = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            let ticks = snapshot.seq.saturating_sub(seen.seq);
            seen.seq = seen.seq.max(snapshot.seq);
            seen.at = Some(self.clock.now());
            seen.poll_interval = snapshot.poll_interval;
            ticks
        };
        let (mut alarms, mut leases) = (HashSet::new(), HashSet::new());
        for group in &snapshot.groups {
            let labels = GroupLabels { group: group.spec.name.clone() };
            if let Some(c) = group.capacity {
                self.desired.get_or_create(&labels).set(i64::from(c.desired));
                self.ready.get_or_create(&labels).set(i64::from(c.ready));
                self.warming.get_or_create(&labels).set(i64::from(c.warming));
            }
            if group.decision.is_some() {
                self.decisions.get_or_create(&labels).inc_by(ticks);
            }
            let has = |kind: ControlKind| i64::from(group.controls.iter().any(|c| c.kind == kind));
            self.breaker_open.get_or_create(&labels).set(has(ControlKind::Breaker));
            self.paused.get_or_create(&labels).set(has(ControlKind::Pause));
            for alarm in &group.alarms {
                for state in
                    [AlarmState::Ok, AlarmState::Pending, AlarmState::Firing, AlarmState::InsufficientData]
                {
                    let labels = AlarmLabels {
                        group: group.spec.name.clone(),
                        alarm: alarm.name.clone(),
                        state: crate::model::words::alarm_state(state).to_string(),
                    };
                    self.alarm_state.get_or_create(&labels).set(i64::from(alarm.state == state));
                    alarms.insert(labels);
                }
            }
            if let Some(lease) = &group.lease {
                let labels = LeaseLabels { group: group.spec.name.clone(), holder: lease.holder.clone() };
                self.lease.get_or_create(&labels).set(1);
                leases.insert(labels);
            }
        }
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for gone in seen.alarms.difference(&alarms) {
            self.alarm_state.remove(gone);
        }
        for gone in seen.leases.difference(&leases) {
            self.lease.remove(gone);
        }
        (seen.alarms, seen.leases) = (alarms, leases);
        // The snapshot's counts are the engine's since it started: counted here by how
        // far each moved (a restarted engine starts again from zero).
        for n in &snapshot.notifiers {
            let labels = NotifierLabels { notifier: n.name.clone() };
            let (sent, failed, given_up) = seen.notifiers.get(&n.name).copied().unwrap_or_default();
            let moved = |now: u64, before: u64| if now >= before { now - before } else { now };
            self.notifications_sent.get_or_create(&labels).inc_by(moved(n.sent, sent));
            self.notifications_failed.get_or_create(&labels).inc_by(moved(n.failed, failed));
            self.notifications_given_up.get_or_create(&labels).inc_by(moved(n.given_up, given_up));
            self.outbox_waiting.get_or_create(&labels).set(i64::try_from(n.waiting).unwrap_or(i64::MAX));
            seen.notifiers.insert(n.name.clone(), (n.sent, n.failed, n.given_up));
        }
        drop(seen);
        self.last_tick.set(snapshot.taken_at.as_millis() as f64 / 1000.0);
    }

    /// Takes in an event: changes of desired acted on are counted.
    pub fn observe_event(&self, event: &Event) {
        if let Event::Scaled { group, from, to, shadow: false, .. } = event {
            let direction = if to > from { "out" } else { "in" };
            self.actions
                .get_or_create(&ActionLabels { group: group.clone(), direction: direction.into() })
                .inc();
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Ok while ticks come; why not otherwise.
    pub fn health(&self) -> Result<(), String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Some(at) = seen.at else { return Err("no tick yet".into()) };
        let limit = seen.poll_interval.saturating_mul(3);
        let age = self.clock.now().since(at);
        if age > limit {
            Err(format!(
                "the last tick (#{}) was {} ago, over three poll intervals ({}): the tick loop is stuck",
                seen.seq,
                crate::model::format_duration(age),
                crate::model::format_duration(limit)
            ))
        } else {
            Ok(())
        }
    }

    /// Keeps this exporter up to date from `connector` until the engine stops.
    pub fn follow(self: &Arc<Self>, connector: &Connector) -> tokio::task::JoinHandle<()> {
        let exporter = self.clone();
        let mut connection = connector.connect();
        tokio::spawn(async move {
            exporter.observe_snapshot(&connection.snapshots.borrow_and_update().clone());
            loop {
                tokio::select! {
                    changed = connection.snapshots.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let snapshot = connection.snapshots.borrow_and_update().clone();
                        exporter.observe_snapshot(&snapshot);
                    }
                    event = connection.events.recv() => match event {
                        Ok(event) => exporter.observe_event(&event),
                        Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "metrics fell behind the events"),
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        })
    }
}

/// Serves `/metrics` and `/healthz` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, exporter: Arc<Exporter>) -> std::io::Result<()> {
    use axum::http::{StatusCode, header};
    use axum::routing::get;
    let metrics = {
        let exporter = exporter.clone();
        move || {
            let exporter = exporter.clone();
            async move {
                let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                ([(header::CONTENT_TYPE, content_type)], exporter.encode())
            }
        }
    };
    let healthz = move || {
        let exporter = exporter.clone();
        async move {
            match exporter.health() {
                Ok(()) => (StatusCode::OK, "ok\n".to_string()),
                Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
            }
        }
    };
    let app = axum::Router::new().route("/metrics", get(metrics)).route("/healthz", get(healthz));
    axum::serve(listener, app).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_fleet_reads_as_metrics() {
        let exporter = Exporter::new(Arc::new(crate::clock::ManualClock::new(Timestamp(0))));
        let fleet = crate::ui::fixtures::fleet();
        exporter.observe_snapshot(&fleet);
        exporter.observe_event(&Event::Scaled {
            at: fleet.taken_at,
            group: "vision".into(),
            from: 2,
            to: 3,
            reason: String::new(),
            shadow: false,
        });
        exporter.observe_event(&Event::Scaled {
            at: fleet.taken_at,
            group: "llm-chat".into(),
            from: 8,
            to: 10,
            reason: String::new(),
            shadow: true,
        });
        let mut fleet = fleet;
        fleet.notifiers = vec![crate::protocol::NotifierView {
            name: "pd".into(),
            sent: 5,
            failed: 2,
            given_up: 1,
            waiting: 3,
            failing: None,
        }];
        exporter.observe_snapshot(&fleet);
        let mut next = fleet.clone();
        next.notifiers[0].sent = 7;
        exporter.observe_snapshot(&next);
        let text = exporter.encode();
        for line in [
            r#"fleetdeck_notifications_sent_total{notifier="pd"} 7"#,
            r#"fleetdeck_notifications_failed_total{notifier="pd"} 2"#,
            r#"fleetdeck_notifications_given_up_total{notifier="pd"} 1"#,
            r#"fleetdeck_outbox_waiting{notifier="pd"} 3"#,
            r#"fleetdeck_desired_capacity{group="llm-chat"} 8"#,
            r#"fleetdeck_ready_capacity{group="llm-chat"} 4"#,
            r#"fleetdeck_warming_capacity{group="llm-chat"} 2"#,
            r#"fleetdeck_breaker_open{group="vision"} 1"#,
            r#"fleetdeck_paused{group="embeddings"} 1"#,
            r#"fleetdeck_alarm_state{group="llm-chat",alarm="queue-high",state="FIRING"} 1"#,
            r#"fleetdeck_alarm_state{group="llm-chat",alarm="queue-high",state="OK"} 0"#,
            r#"fleetdeck_lease_holder{group="embeddings",holder="engine-b"} 1"#,
            r#"fleetdeck_actions_total{group="vision",direction="out"} 1"#,
            "fleetdeck_last_tick_timestamp_seconds 1767225600.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(!text.contains(r#"group="llm-chat",direction"#), "a shadow change is not an action:\n{text}");
        // Another holder and a dropped alarm rule: their old series go, the rest stay.
        let mut later = fleet.clone();
        later.groups[2].lease.as_mut().unwrap().holder = "engine-c".into();
        later.groups[0].alarms.retain(|a| a.name != "kv-cache-high");
        exporter.observe_snapshot(&later);
        let text = exporter.encode();
        assert!(text.contains(r#"fleetdeck_lease_holder{group="embeddings",holder="engine-c"} 1"#), "{text}");
        assert!(!text.contains(r#"holder="engine-b""#), "{text}");
        assert!(!text.contains("kv-cache-high"), "{text}");
        assert!(text.contains(r#"alarm="queue-high",state="FIRING"} 1"#), "{text}");
    }

    #[test]
    fn decisions_count_ticks_and_health_follows_the_newest_tick() {
        let clock = crate::clock::ManualClock::new(Timestamp(1_767_225_600_000));
        let exporter = Exporter::new(Arc::new(clock.clone()));
        assert!(exporter.health().is_err(), "no tick yet");
        let mut fleet = crate::ui::fixtures::fleet();
        fleet.seq = 5;
        exporter.observe_snapshot(&fleet);
        fleet.seq = 8; // two snapshots coalesced: three ticks
        exporter.observe_snapshot(&fleet);
        assert!(exporter.encode().lines().any(|l| l == r#"fleetdeck_decisions_total{group="vision"} 8"#));
        assert!(exporter.health().is_ok());
        // Healthy up to three poll intervals after the newest tick, stuck past them.
        clock.advance(fleet.poll_interval * 3);
        assert!(exporter.health().is_ok(), "{:?}", exporter.health());
        clock.advance(Duration::from_millis(1));
        let why = exporter.health().unwrap_err();
        assert!(why.contains("tick loop is stuck"), "{why}");
        // A new tick: healthy again.
        fleet.seq = 9;
        exporter.observe_snapshot(&fleet);
        assert!(exporter.health().is_ok());
    }
}
