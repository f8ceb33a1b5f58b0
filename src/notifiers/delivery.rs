//! [`Delivery`]: one notifier's sender. Every round it claims that notifier's due rows
//! (oldest first, one at a time per order key: a resolve never overtakes its trigger),
//! sends each, and marks it at once — sent with the service's receipt, failed with when
//! to try again, or given up — so a crash loses at most the one message in flight, which
//! is sent again (at-least-once).
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
    /// The last failure: when, and the service's words. Cleared by the next success.
    pub failing: Option<(Timestamp, String)>,
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
        for message in due {
            let result =
                tokio::time::timeout(self.settings.call_timeout, self.notifier.deliver(&message)).await;
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
                        s.failing = Some((now, err.message.clone()));
                    });
                }
                Err(err) => {
                    self.store.mark_given_up(message.id, now, &err.message)?;
                    tracing::error!(notifier = %name, group = %message.group, message = %message.message_key, error = %err.message, "refused; given up");
                    self.status.send_modify(|s| {
                        s.given_up += 1;
                        s.failing = Some((now, err.message.clone()));
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
