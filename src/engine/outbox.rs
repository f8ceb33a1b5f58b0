//! The engine's side of the notifiers: what a queued page carries besides the alarm
//! (the group's context), and one [`Delivery`] task per notifier while the engine runs.
//! Only an engine that may act sends: a read-only one (a war-room screen) queues nothing
//! and sends nothing, and without a state file there is no outbox to send from.

use tokio::task::JoinHandle;

use super::io::ScaleFollowup;
use super::pager::Notification;
use super::*;
use crate::model::MetricKind;
use crate::notifiers::{Delivery, DeliverySettings};
use crate::protocol::Target;

/// The delivery tasks of a running engine.
#[derive(Default)]
pub(super) struct Deliveries {
    stop: Option<watch::Sender<bool>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Deliveries {
    /// Stops every task after its round in flight, waiting `grace` at most for each.
    pub async fn stop(self, grace: Duration) {
        if let Some(stop) = self.stop {
            let _ = stop.send(true);
        }
        for task in self.tasks {
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("a notifier's delivery did not stop in time");
            }
        }
    }
}

impl Engine {
    /// One delivery task per notifier, each on a store connection of its own.
    pub(super) fn start_deliveries(&mut self) -> Deliveries {
        if self.notifiers.is_empty() {
            return Deliveries::default();
        }
        if self.core.settings.readonly {
            tracing::info!("read-only: this engine sends no notifications");
            return Deliveries::default();
        }
        let Some(path) = self.store.as_ref().and_then(|s| s.path()).map(std::path::Path::to_path_buf) else {
            tracing::error!("no state file: notifications cannot be sent (the outbox lives in it)");
            return Deliveries::default();
        };
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let settings = DeliverySettings::new(self.settings.call_timeout, self.settings.max_backoff);
        for notifier in &self.notifiers {
            let name = notifier.name().to_string();
            let store = match Store::open(&path) {
                Ok(store) => store,
                Err(err) => {
                    tracing::error!(notifier = %name, %err, "opening the outbox: this notifier sends nothing");
                    continue;
                }
            };
            let delivery = Delivery::new(notifier.clone(), store, self.clock.clone(), settings.clone());
            self.notifier_status.push((name, delivery.status()));
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(delivery.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })));
        }
        Deliveries { stop: Some(stop), tasks }
    }

    /// What a responder should see with a page (`notifiers::message::Page`): the fleet,
    /// the trigger a resolve follows up (`thread_of`), and as details the group's newest
    /// value of each metric, its capacity and the autoscaler's last decision.
    pub(super) fn page_context(&self, payload: &mut serde_json::Value, notification: &Notification) {
        let group = notification.group.as_str();
        let Some(object) = payload.as_object_mut() else { return };
        object.insert("fleet".into(), self.settings.fleet.clone().into());
        if let Some(parent) = notification.thread_of() {
            object.insert("thread_of".into(), parent.into());
        }
        let Some(index) = self.core.index_of(group) else { return };
        let group = &self.core.groups[index];
        let mut details = serde_json::Map::new();
        for (kind, history) in &group.series {
            if let Some(newest) = history.newest().filter(|_| !kind.is_capacity()) {
                details.insert(kind.to_string(), newest.value.into());
            }
        }
        if let Some(capacity) = group.capacity {
            details.insert("desired".into(), capacity.desired.into());
            details.insert("ready".into(), capacity.ready.into());
        }
        if let Some(decision) = group.autoscaler.decision_view() {
            details.insert("last_decision".into(), decision.reason.into());
        }
        let rule = group.autoscaler.alarms.iter().find(|a| a.rule.name == notification.alarm);
        if let Some(runbook) = rule.and_then(|a| a.rule.runbook.as_ref()) {
            object.insert("links".into(), serde_json::json!([{"href": runbook, "text": "runbook"}]));
        }
        object.insert("details".into(), details.into());
    }

    /// How each notifier's deliveries stand, for the snapshot.
    pub(super) fn notifier_views(&self) -> Vec<crate::protocol::NotifierView> {
        let views = self.notifier_status.iter().map(|(name, status)| {
            let status = status.borrow();
            crate::protocol::NotifierView {
                name: name.clone(),
                sent: status.sent,
                failed: status.failed,
                given_up: status.given_up,
                waiting: status.waiting,
                failing: status
                    .failing
                    .as_ref()
                    .map(|(at, error)| crate::protocol::NotifierFailure { at: *at, error: error.clone() }),
            }
        });
        views.collect()
    }

    /// Queues an acted change of `group`'s desired for its notifiers (a Slack message, a
    /// PagerDuty Change Event), with the reason the autoscaler gave.
    pub(super) fn enqueue_scale(&mut self, index: usize, from: u32, to: u32, now: Timestamp) {
        let group = &self.core.groups[index];
        let name = &group.spec.name;
        let reason = group.autoscaler.decision_view().map(|d| d.reason).unwrap_or_default();
        let payload = serde_json::json!({
            "kind": "scale",
            "at": now,
            "group": name,
            "from": from,
            "to": to,
            "reason": reason,
            "fleet": self.settings.fleet,
            "instance_type": group.spec.instance_type,
            "hourly_cost_usd": group.spec.hourly_cost_usd,
        });
        let message_key = format!("fleetdeck:{name}:scale:{}", now.as_millis());
        match self.queue_scale_message(index, &message_key, &payload, now) {
            Ok(true) if to > from => {
                let p95_before = newest(group, &MetricKind::LatencyP95);
                let until = now.plus(group.spec.warmup.max);
                let followup = ScaleFollowup { message_key, at: now, from, to, p95_before, until };
                self.io[index].scale_followups.push(followup);
            }
            Ok(_) => {}
            Err(err) => tracing::error!(group = %name, %err, "queueing a scale message"),
        }
    }

    /// Queues a scale message or its follow-up for group `index`'s notifiers, in the
    /// order of the group's scale messages; false when there is nothing to queue for.
    fn queue_scale_message(
        &self,
        index: usize,
        message_key: &str,
        payload: &serde_json::Value,
        now: Timestamp,
    ) -> Result<bool, crate::store::StoreError> {
        let Some(store) = &self.store else { return Ok(false) };
        let notifiers = self.io[index].notifiers.as_ref().unwrap_or(&self.settings.notifiers);
        let notifiers: Vec<&str> = notifiers.iter().map(String::as_str).collect();
        if notifiers.is_empty() {
            return Ok(false);
        }
        let group = &self.core.groups[index].spec.name;
        let order_key = format!("fleetdeck:{group}:scale");
        let message = crate::store::NewMessage { group, message_key, order_key: &order_key, payload };
        store.enqueue(&notifiers, &message, now)?;
        Ok(true)
    }

    /// Tells the outcome of each scale-out whose new instances are all ready or whose
    /// maximum warm-up has passed, as a reply to its message: how many arrived, p95
    /// before and after, what it costs.
    pub(super) fn follow_up_scales(&mut self, now: Timestamp) {
        for index in 0..self.io.len() {
            if self.io[index].scale_followups.is_empty() {
                continue;
            }
            let group = &self.core.groups[index];
            let ready = group.capacity.map(|c| c.ready);
            let (done, waiting): (Vec<ScaleFollowup>, Vec<ScaleFollowup>) =
                std::mem::take(&mut self.io[index].scale_followups)
                    .into_iter()
                    .partition(|f| ready.is_some_and(|r| r >= f.to) || now >= f.until);
            self.io[index].scale_followups = waiting;
            for followup in done {
                self.enqueue_scale_outcome(index, &followup, ready.unwrap_or_default(), now);
            }
        }
    }

    fn enqueue_scale_outcome(&self, index: usize, followup: &ScaleFollowup, ready: u32, now: Timestamp) {
        let group = &self.core.groups[index];
        let name = &group.spec.name;
        let payload = serde_json::json!({
            "kind": "scale_outcome",
            "at": now,
            "group": name,
            "from": followup.from,
            "to": followup.to,
            "ready": ready,
            "warmed_for_ms": now.since(followup.at).as_millis() as u64,
            "p95_before": followup.p95_before,
            "p95_after": newest(group, &MetricKind::LatencyP95),
            "fleet": self.settings.fleet,
            "instance_type": group.spec.instance_type,
            "hourly_cost_usd": group.spec.hourly_cost_usd,
            "thread_of": followup.message_key,
        });
        let message_key = format!("{}#outcome", followup.message_key);
        if let Err(err) = self.queue_scale_message(index, &message_key, &payload, now) {
            tracing::error!(group = %name, %err, "queueing a scale's outcome");
        }
    }

    /// Acknowledges the open incidents of `target`'s groups (the store's open episodes,
    /// whoever paged them): an `acknowledge` of each for the group's notifiers, after its
    /// trigger. Refused where there is nothing open or nowhere to send it.
    pub(super) fn acknowledge(&self, request: &CommandRequest, target: &Target, now: Timestamp) -> Reply {
        let Some(store) = &self.store else {
            return Reply::Refused { reason: "no state file: there are no incidents to acknowledge".into() };
        };
        let by = request.operator.to_string();
        let (mut acknowledged, mut unrouted) = (Vec::new(), Vec::new());
        for (index, group) in
            self.core.groups.iter().enumerate().filter(|(_, g)| target.includes(&g.spec.name))
        {
            let name = &group.spec.name;
            let notifiers = self.io[index].notifiers.as_ref().unwrap_or(&self.settings.notifiers);
            let notifiers: Vec<&str> = notifiers.iter().map(String::as_str).collect();
            let open = match store.open_pages(name) {
                Ok(open) => open,
                Err(err) => return Reply::Failed { error: format!("reading {name}'s incidents: {err}") },
            };
            if notifiers.is_empty() {
                unrouted.extend(open.into_iter().map(|p| format!("{name}: {}", p.alarm)));
                continue;
            }
            for page in open {
                let payload = serde_json::json!({
                    "kind": "acknowledge",
                    "at": now,
                    "group": name,
                    "alarm": page.alarm,
                    "dedup_key": page.dedup_key,
                    "by": by,
                    "reason": request.reason,
                    "thread_of": Notification::trigger_key(&page.dedup_key),
                });
                let message_key = format!("{}#acknowledge:{}", page.dedup_key, now.as_millis());
                let order_key = Notification::order_key_of(name, &page.alarm);
                let message = crate::store::NewMessage {
                    group: name,
                    message_key: &message_key,
                    order_key: &order_key,
                    payload: &payload,
                };
                if let Err(err) = store.enqueue(&notifiers, &message, now) {
                    return Reply::Failed { error: format!("queueing the acknowledgement: {err}") };
                }
                acknowledged.push(format!("{name}: {}", page.alarm));
            }
        }
        if acknowledged.is_empty() {
            let reason = if unrouted.is_empty() {
                format!("no open incident of {target} that fleetdeck paged")
            } else {
                format!("no notifier to tell of {}", unrouted.join(", "))
            };
            return Reply::Refused { reason };
        }
        Reply::Ok { message: format!("acknowledged by {by}: {}", acknowledged.join(", ")) }
    }
}

/// The newest value of `group`'s `kind`, if it has one.
fn newest(group: &super::tick::CoreGroup, kind: &MetricKind) -> Option<f64> {
    group.series.get(kind).and_then(|h| h.newest()).map(|s| s.value)
}
