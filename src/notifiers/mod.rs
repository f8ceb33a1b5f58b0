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

    /// Sends one outbox row. A failure's kind decides what happens to the row: throttled
    /// and transient ones are tried again (after the service's `retry_after`, if it gave
    /// one), any other is given up.
    fn deliver<'a>(&'a self, message: &'a OutboxMessage) -> BoxFuture<'a, Result<Delivered, BackendError>>;
}

/// The config's notifiers this build can send for. A Slack notifier has no sender yet:
/// its rows wait in the outbox (kept 7 days), and the log says so.
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
            (kind, _) => tracing::warn!(
                notifier = %notifier.name,
                kind = kind.name(),
                "this build has no sender for this kind yet: its messages wait in the outbox (kept 7 days)"
            ),
        }
    }
    Ok(out)
}
