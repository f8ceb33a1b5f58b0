//! Notifiers: what sends the store's outbox to PagerDuty and Slack. The engine only
//! queues (`engine/durable.rs`, in the same breath as the decision that caused it); a
//! [`Delivery`] per notifier drains that notifier's rows on its own store connection,
//! so a slow or failing service never holds up a tick, and a crash between queueing and
//! sending loses nothing (at-least-once: PagerDuty's `dedup_key` makes a repeat harmless).
//!
//! A [`Notifier`] turns one outbox row into one request and says what became of it; the
//! policy of what to do then is [`Delivery`]'s alone: sent (with the service's receipt),
//! tried again later (5xx, timeouts, 429 after the service's wait), or given up (any
//! other refusal: retrying cannot help, and the service's words are kept on the row).
//!
//! Front ends never call a notifier: they send commands to the engine.

pub mod delivery;
pub mod message;
pub mod pagerduty;
pub mod slack;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::backends::http::HttpOptions;
use crate::clock::Clock;
use crate::config::{Config, NotifierKind};
use crate::model::BackendError;
use crate::store::OutboxMessage;

pub use delivery::{Delivery, DeliverySettings, NotifierStatus};

/// What a service answered a message it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// What to keep of its answer for follow-ups (Slack's channel ID and `ts`), if any.
    pub receipt: Option<String>,
}

/// One notifier connection: a `[notifiers.NAME]` of the config.
pub trait Notifier: Send + Sync {
    /// Its name in the config, which names its outbox rows.
    fn name(&self) -> &str;

    /// Sends one outbox row; `thread`: the receipt of the message it follows up (the
    /// row its payload names as `thread_of`, once sent), for a service that threads
    /// replies. A failure's kind decides what happens to the row: throttled and transient
    /// ones are tried again (after the service's `retry_after`, if it gave one), any
    /// other is given up.
    fn deliver<'a>(
        &'a self,
        message: &'a OutboxMessage,
        thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Delivered, BackendError>>;

    /// The least time between two of its sends (Slack takes about one message a second
    /// per channel); zero by default.
    fn pace(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// A sender for each of the config's notifiers.
pub fn build(config: &Config, clock: Arc<dyn Clock>) -> Result<Vec<Arc<dyn Notifier>>, String> {
    let options = HttpOptions::within(config.call_timeout);
    let mut out: Vec<Arc<dyn Notifier>> = Vec::new();
    for notifier in &config.notifiers {
        match (notifier.kind, &notifier.pagerduty) {
            (NotifierKind::Pagerduty, Some(settings)) => {
                let events = pagerduty::PagerDutyEvents::new(
                    &notifier.name,
                    settings,
                    notifier.secret.clone(),
                    &options,
                    clock.clone(),
                )
                .map_err(|e| format!("notifier {}: {e}", notifier.name))?;
                out.push(Arc::new(events));
            }
            (NotifierKind::Slack, _) => {
                let api_url = (notifier.api_url.as_deref())
                    .ok_or_else(|| format!("notifier {}: Slack without its api_url", notifier.name))?;
                let channel = notifier.channel.as_deref().unwrap_or_default();
                let chat = slack::SlackChat::new(
                    &notifier.name,
                    api_url,
                    notifier.secret.clone(),
                    channel,
                    &options,
                    clock.clone(),
                )
                .map_err(|e| format!("notifier {}: {e}", notifier.name))?;
                out.push(Arc::new(chat.with_channels(notifier.channels.clone())));
            }
            (NotifierKind::Pagerduty, None) => {
                return Err(format!("notifier {}: PagerDuty without its settings", notifier.name));
            }
        }
    }
    Ok(out)
}

/// An unsent outbox row of `notifier` holding `payload`, for the senders' tests.
#[cfg(test)]
pub(crate) fn test_row(notifier: &str, payload: serde_json::Value) -> OutboxMessage {
    use crate::model::Timestamp;
    OutboxMessage {
        id: 1,
        created_at: Timestamp(0),
        notifier: notifier.into(),
        group: "llm-chat".into(),
        message_key: "k#trigger".into(),
        order_key: "k".into(),
        payload,
        attempts: 0,
        next_attempt_at: Timestamp(0),
        claimed_until: None,
        sent_at: None,
        last_error: None,
        given_up_at: None,
        receipt: None,
    }
}
