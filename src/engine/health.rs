//! The engine's one error policy for backend calls: how long a failing connection or
//! group waits before it is called again, by the kind of failure
//! ([`ErrorKind`](crate::model::ErrorKind)), and how that reads in the snapshot.
//!
//! - transient: exponential backoff from one poll interval, doubling up to `max_backoff`;
//! - throttled: the same, but never sooner than the service's retry-after (held to at
//!   most [`MAX_RETRY_AFTER`], so a bogus header cannot silence a connection for a day);
//! - credentials refused, target not found: `max_backoff` at once — retrying sooner
//!   cannot help, and hammering an API with refused calls gets a role locked out.

use std::time::Duration;

use crate::model::{BackendError, ErrorKind, Timestamp};
use crate::protocol::BackendHealth;

/// The longest a service's retry-after is honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// Consecutive failures of one connection or one group's call, and when to try again.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub failures: u32,
    pub since: Timestamp,
    pub last_error: String,
    pub retry_at: Timestamp,
}

impl Health {
    pub fn due(&self, now: Timestamp) -> bool {
        self.failures == 0 || now >= self.retry_at
    }

    pub fn failing(&self) -> bool {
        self.failures > 0
    }

    /// Records a failure; returns when the call will be tried again. `base` is the poll
    /// interval of what failed: the first retry waits that long.
    pub fn failed(
        &mut self,
        now: Timestamp,
        error: &BackendError,
        base: Duration,
        max_backoff: Duration,
    ) -> Timestamp {
        if self.failures == 0 {
            self.since = now;
        }
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(16);
        let exponential = base.saturating_mul(1 << doublings).min(max_backoff);
        let delay = match error.kind {
            ErrorKind::Transient => exponential,
            ErrorKind::Throttled => {
                exponential.max(error.retry_after.unwrap_or_default().min(MAX_RETRY_AFTER))
            }
            ErrorKind::Auth | ErrorKind::NotFound | ErrorKind::Rejected => max_backoff.max(base),
        };
        self.last_error = error.to_string();
        self.retry_at = now.plus(delay);
        self.retry_at
    }

    /// Records a success; returns whether it had been failing.
    pub fn succeeded(&mut self) -> bool {
        let was_failing = self.failing();
        *self = Health::default();
        was_failing
    }

    pub fn to_protocol(&self) -> BackendHealth {
        if self.failures == 0 {
            BackendHealth::Ok
        } else {
            BackendHealth::Failing {
                error: self.last_error.clone(),
                since: self.since,
                attempts: self.failures,
                retry_at: self.retry_at,
            }
        }
    }
}

/// Of two healths that both concern a group (its connection's and its own), the one to
/// show: a failing one, the connection's first.
pub fn worst<'a>(connection: &'a Health, group: &'a Health) -> &'a Health {
    if connection.failing() { connection } else { group }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_secs(15);
    const MAX: Duration = Duration::from_secs(300);

    fn delays(error: &BackendError, n: usize) -> Vec<u64> {
        let mut health = Health::default();
        let now = Timestamp(0);
        (0..n).map(|_| health.failed(now, error, POLL, MAX).since(now).as_secs()).collect()
    }

    #[test]
    fn transient_failures_back_off_exponentially_up_to_the_maximum() {
        assert_eq!(delays(&BackendError::transient("timeout"), 6), [15, 30, 60, 120, 240, 300]);
    }

    #[test]
    fn throttling_waits_at_least_the_retry_after_and_at_most_fifteen_minutes() {
        let throttled = BackendError::throttled("Rate exceeded", Some(Duration::from_secs(100)));
        assert_eq!(delays(&throttled, 4), [100, 100, 100, 120]);
        let absurd = BackendError::throttled("Rate exceeded", Some(Duration::from_secs(86_400)));
        assert_eq!(delays(&absurd, 1), [MAX_RETRY_AFTER.as_secs()]);
        assert_eq!(delays(&BackendError::throttled("slow down", None), 2), [15, 30]);
    }

    #[test]
    fn refused_credentials_and_missing_targets_wait_the_longest_backoff_at_once() {
        assert_eq!(delays(&BackendError::auth("ExpiredToken"), 2), [300, 300]);
        assert_eq!(delays(&BackendError::not_found("no such ASG"), 1), [300]);
    }

    #[test]
    fn a_success_forgets_the_failures_and_says_it_was_failing() {
        let mut health = Health::default();
        health.failed(Timestamp(0), &BackendError::auth("denied"), POLL, MAX);
        assert!(!health.due(Timestamp(1000)) && health.due(Timestamp(300_000)));
        assert!(
            matches!(health.to_protocol(), BackendHealth::Failing { attempts: 1, ref error, .. } if error == "credentials refused: denied")
        );
        assert!(health.succeeded());
        assert!(!health.succeeded());
        assert_eq!(health.to_protocol(), BackendHealth::Ok);
    }
}
