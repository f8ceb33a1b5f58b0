//! [`Delivery`]: one notifier's sender. Every round it claims that notifier's due rows
//! (oldest first, one at a time per order key: a resolve never overtakes its trigger),
//! sends each, and marks it at once — sent with the service's receipt, failed with when
//! to try again, or given up — so a crash loses at most the one message in flight, which
//! is sent again (at-least-once).
//!
//! A row whose payload names another as `thread_of` (a resolve, its trigger) is sent
//! with that row's receipt, once it has one, so Slack threads the follow-up under it.
//! Consecutive sends keep the notifier's [`pace`](super::Notifier::pace).
//!
//! When to try again: after the service's own wait where it gave one (a 429's
//! `Retry-After`, PagerDuty's documented 30 s), else exponential backoff from
//! [`DeliverySettings::min_backoff`] doubling with each attempt up to
//! [`DeliverySettings::max_backoff`]. Refusals other than throttling (a 400, bad
//! credentials) are given up: retrying cannot help, and the service's words stay on the
//! row and in [`NotifierStatus`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::Notifier;
use crate::clock::Clock;
use crate::model::{ErrorKind, Timestamp};
use crate::store::{Store, StoreError};

/// How a [`Delivery`] paces itself.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliverySettings {
    /// How often it looks for due rows.
    pub every: Duration,
    /// Rows claimed a round at most.
    pub batch: usize,
    /// Longest a send may take; a row is claimed for twice this.
    pub call_timeout: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

impl DeliverySettings {
    pub fn new(call_timeout: Duration, max_backoff: Duration) -> Self {
        DeliverySettings {
            every: Duration::from_secs(1),
            batch: 20,
            call_timeout,
            min_backoff: Duration::from_secs(1),
            max_backoff,
        }
    }

    /// The wait before attempt `attempts + 1` of a row that failed without the
    /// service saying how long to wait.
    fn backoff(&self, attempts: u32) -> Duration {
        let doubled = self.min_backoff.saturating_mul(1u32 << attempts.min(20));
        doubled.min(self.max_backoff)
    }
}

/// How a notifier's deliveries stand, for the console and `/metrics`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotifierStatus {
    pub sent: u64,
    /// Attempts that failed and will be tried again.
    pub failed: u64,
    pub given_up: u64,
    /// Rows waiting to be sent, as of the last round.
    pub waiting: usize,
    /// Since when sends fail, and the service's last words. Cleared by the next success.
    pub failing: Option<(Timestamp, String)>,
}

impl NotifierStatus {
    fn fail(&mut self, now: Timestamp, error: &str) {
        let since = self.failing.as_ref().map_or(now, |(since, _)| *since);
        self.failing = Some((since, error.to_string()));
    }
}

/// One notifier's sender, on a store connection of its own.
pub struct Delivery {
    notifier: Arc<dyn Notifier>,
    store: Store,
    clock: Arc<dyn Clock>,
    settings: DeliverySettings,
    status: watch::Sender<NotifierStatus>,
}

impl Delivery {
    pub fn new(
        notifier: Arc<dyn Notifier>,
        store: Store,
        clock: Arc<dyn Clock>,
        settings: DeliverySettings,
    ) -> Self {
        let (status, _) = watch::channel(NotifierStatus::default());
        Delivery { notifier, store, clock, settings, status }
    }

    /// Where its status is published.
    pub fn status(&self) -> watch::Receiver<NotifierStatus> {
        self.status.subscribe()
    }

    /// Rounds every [`DeliverySettings::every`] until `shutdown` completes. A round
    /// under way when it does is finished first.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut interval = tokio::time::interval(self.settings.every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = interval.tick() => {
                    if let Err(err) = self.round().await {
                        tracing::error!(notifier = %self.notifier.name(), %err, "reading the outbox");
                    }
                }
            }
        }
    }

    /// Claims the due rows and sends each; how many were sent.
    pub async fn round(&mut self) -> Result<usize, StoreError> {
        let name = self.notifier.name().to_string();
        let claim_for = self.settings.call_timeout.saturating_mul(2);
        let due = self.store.claim_due(&name, self.clock.now(), self.settings.batch, claim_for)?;
        let mut sent = 0;
        let pace = self.notifier.pace();
        for (i, message) in due.into_iter().enumerate() {
            if i > 0 && !pace.is_zero() {
                tokio::time::sleep(pace).await;
            }
            let thread = match message.payload.get("thread_of").and_then(serde_json::Value::as_str) {
                Some(parent) => self.store.receipt(&name, parent)?,
                None => None,
            };
            let call = self.notifier.deliver(&message, thread.as_deref());
            let result = tokio::time::timeout(self.settings.call_timeout, call).await;
            let result = result.unwrap_or_else(|_| {
                let within = crate::model::format_duration(self.settings.call_timeout);
                Err(crate::model::BackendError::transient(format!("no answer within {within}")))
            });
            let now = self.clock.now();
            match result {
                Ok(delivered) => {
                    self.store.mark_sent(message.id, now, delivered.receipt.as_deref())?;
                    tracing::info!(notifier = %name, group = %message.group, message = %message.message_key, "sent");
                    sent += 1;
                    self.status.send_modify(|s| {
                        s.sent += 1;
                        s.failing = None;
                    });
                }
                Err(err) if matches!(err.kind, ErrorKind::Transient | ErrorKind::Throttled) => {
                    let wait = err.retry_after.unwrap_or_else(|| self.settings.backoff(message.attempts));
                    self.store.mark_failed(message.id, now.plus(wait), &err.message)?;
                    let retry = crate::model::format_duration(wait);
                    tracing::warn!(notifier = %name, group = %message.group, message = %message.message_key, error = %err.message, %retry, "not sent; trying again");
                    self.status.send_modify(|s| {
                        s.failed += 1;
                        s.fail(now, &err.message);
                    });
                }
                Err(err) => {
                    self.store.mark_given_up(message.id, now, &err.message)?;
                    tracing::error!(notifier = %name, group = %message.group, message = %message.message_key, error = %err.message, "refused; given up");
                    self.status.send_modify(|s| {
                        s.given_up += 1;
                        s.fail(now, &err.message);
                    });
                }
            }
        }
        let (waiting, _) = self.store.outbox_depth(&name)?;
        self.status.send_modify(|s| s.waiting = waiting);
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_least_up_to_the_most() {
        let settings = DeliverySettings::new(Duration::from_secs(10), Duration::from_secs(60));
        let waits: Vec<u64> = (0..8).map(|a| settings.backoff(a).as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(settings.backoff(u32::MAX), Duration::from_secs(60));
    }
}

/// The outbox through [`Delivery`] to a local mock of PagerDuty's Events API: the rows
/// as the engine queues them (`Notification`'s keys), the mock failing, then recovering.
#[cfg(test)]
mod delivery_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::backends::http::HttpOptions;
    use crate::clock::ManualClock;
    use crate::config::PagerDutyConfig;
    use crate::config::secret::Secret;
    use crate::engine::pager::{Notification, NotificationKind};
    use crate::notifiers::pagerduty::PagerDutyEvents;
    use crate::store::NewMessage;

    const T0: Timestamp = Timestamp(1_796_593_800_000);

    fn queue(store: &Store, kind: NotificationKind, since: Timestamp, at: Timestamp) {
        queue_for(store, "pd", kind, since, at);
    }

    /// Queues a page for `notifier` as the engine does: its keys, and for a resolve the
    /// trigger it follows up.
    fn queue_for(store: &Store, notifier: &str, kind: NotificationKind, since: Timestamp, at: Timestamp) {
        let n = Notification {
            at,
            group: "llm-chat".into(),
            alarm: "queue-high".into(),
            kind,
            dedup_key: Notification::dedup_key("llm-chat", "queue-high", since),
            summary: "llm-chat: queue-high".into(),
            severity: crate::model::Severity::Error,
            held_under: None,
        };
        let mut payload = serde_json::to_value(&n).unwrap();
        if let Some(parent) = n.thread_of() {
            payload["thread_of"] = json!(parent);
        }
        let (message_key, order_key) = (n.message_key(), n.order_key());
        let message = NewMessage {
            group: &n.group,
            message_key: &message_key,
            order_key: &order_key,
            payload: &payload,
        };
        store.enqueue(&[notifier], &message, at).unwrap();
    }

    fn pagerduty(server: &MockServer, clock: &ManualClock, dir: &std::path::Path) -> Arc<PagerDutyEvents> {
        let settings = PagerDutyConfig { events_url: server.uri(), throttle_wait: Duration::from_secs(2) };
        let file = dir.join("routing-key");
        std::fs::write(&file, "R0ut1ngK3yOfThe32CharactersAbcde").unwrap();
        let key = Secret::File(file);
        let options = HttpOptions::within(Duration::from_secs(5));
        Arc::new(PagerDutyEvents::new("pd", &settings, key, &options, Arc::new(clock.clone())).unwrap())
    }

    /// Trigger → resolve → trigger of one alarm while PagerDuty answers 500: after it
    /// recovers it has all three, in order, under two distinct dedup keys, each sent
    /// until it was taken and nothing after it overtaking it.
    #[tokio::test]
    async fn trigger_resolve_trigger_while_pagerduty_fails_arrive_in_order_once_it_recovers() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(ResponseTemplate::new(500).set_body_string("internal error"))
            .up_to_n_times(4)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v2/enqueue"))
            .respond_with(
                ResponseTemplate::new(202)
                    .set_body_json(json!({"status": "success", "message": "Event processed"})),
            )
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = Store::open(&db).unwrap();
        let first = T0.minus(Duration::from_secs(300));
        queue(&store, NotificationKind::Trigger, first, T0);
        queue(&store, NotificationKind::Resolve, first, T0.plus(Duration::from_secs(1)));
        queue(
            &store,
            NotificationKind::Trigger,
            T0.plus(Duration::from_secs(2)),
            T0.plus(Duration::from_secs(2)),
        );
        let clock = ManualClock::new(T0.plus(Duration::from_secs(3)));
        let settings = DeliverySettings::new(Duration::from_secs(5), Duration::from_secs(8));
        let mut delivery = Delivery::new(
            pagerduty(&server, &clock, dir.path()),
            Store::open(&db).unwrap(),
            Arc::new(clock.clone()),
            settings,
        );
        let status = delivery.status();
        for _ in 0..120 {
            delivery.round().await.unwrap();
            if store.outbox_depth("pd").unwrap() == (0, 0) {
                break;
            }
            clock.advance(Duration::from_secs(1));
        }
        assert_eq!(store.outbox_depth("pd").unwrap(), (0, 0), "everything sent");
        let seen: Vec<(String, String)> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
                (
                    body["event_action"].as_str().unwrap().to_string(),
                    body["dedup_key"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let ep1 = Notification::dedup_key("llm-chat", "queue-high", first);
        let ep2 = Notification::dedup_key("llm-chat", "queue-high", T0.plus(Duration::from_secs(2)));
        assert_ne!(ep1, ep2);
        let trigger1 = ("trigger".to_string(), ep1.clone());
        let mut expected = vec![trigger1; 5];
        expected.push(("resolve".to_string(), ep1));
        expected.push(("trigger".to_string(), ep2));
        assert_eq!(seen, expected, "the first trigger until taken (4 × 500), then the others in order");
        let status = status.borrow().clone();
        assert_eq!((status.sent, status.failed, status.given_up, status.waiting), (3, 4, 0, 0));
        assert_eq!(status.failing, None, "cleared by the sends that worked");
    }

    /// A resolve goes to Slack as a reply in its trigger's thread: addressed by the
    /// channel ID and `ts` Slack answered the trigger with.
    #[tokio::test]
    async fn a_resolve_is_sent_in_its_triggers_slack_thread() {
        use wiremock::matchers::body_partial_json;
        let server = MockServer::start().await;
        let posted = |ts: &str| {
            ResponseTemplate::new(200).set_body_json(json!({"ok": true, "channel": "C123ABC456", "ts": ts}))
        };
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .and(body_partial_json(json!({"thread_ts": "1503435956.000247"})))
            .respond_with(posted("1503435999.000100"))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/chat.postMessage"))
            .respond_with(posted("1503435956.000247"))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let store = Store::open(&db).unwrap();
        queue_for(&store, "team", NotificationKind::Trigger, T0, T0);
        queue_for(&store, "team", NotificationKind::Resolve, T0, T0.plus(Duration::from_secs(1)));
        let token = dir.path().join("token");
        std::fs::write(&token, "xoxb-planted").unwrap();
        let options = HttpOptions::within(Duration::from_secs(5));
        let clock = ManualClock::new(T0.plus(Duration::from_secs(2)));
        let slack = crate::notifiers::slack::SlackChat::new(
            "team",
            &server.uri(),
            Secret::File(token),
            "#gpu-oncall",
            &options,
            Arc::new(clock.clone()),
        )
        .unwrap();
        let settings = DeliverySettings::new(Duration::from_secs(5), Duration::from_secs(8));
        let mut delivery =
            Delivery::new(Arc::new(slack), Store::open(&db).unwrap(), Arc::new(clock.clone()), settings);
        delivery.round().await.unwrap();
        delivery.round().await.unwrap();
        let bodies: Vec<serde_json::Value> = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert_eq!((bodies[0]["channel"].as_str(), bodies[0].get("thread_ts")), (Some("#gpu-oncall"), None));
        assert_eq!(
            (bodies[1]["channel"].as_str(), bodies[1]["thread_ts"].as_str()),
            (Some("C123ABC456"), Some("1503435956.000247")),
            "the resolve replies in the trigger's thread"
        );
        let receipts: Vec<Option<String>> =
            store.outbox_messages("team").unwrap().into_iter().map(|m| m.receipt).collect();
        assert_eq!(
            receipts,
            vec![
                Some("C123ABC456/1503435956.000247".to_string()),
                Some("C123ABC456/1503435999.000100".to_string())
            ]
        );
    }
}
