//! The injectable clock. Everything that needs "now" asks a [`Clock`]: the console uses
//! the system clock; tests use [`ManualClock`] (or tokio's paused time through
//! [`TokioClock`]), and replay drives a virtual clock, so no behaviour depends on the
//! wall clock of the machine running the tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::Timestamp;

pub trait Clock: Send + Sync {
    /// Wall-clock time: what timestamps, records and people read.
    fn now(&self) -> Timestamp;

    /// Time elapsed since an arbitrary origin of this clock, never going back: what
    /// durations that must not jump with the wall clock are measured on (how long our
    /// lease has left, how long another's record has stood unchanged).
    fn monotonic(&self) -> Duration;
}

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since_epoch.as_millis() as i64)
    }

    fn monotonic(&self) -> Duration {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        ORIGIN.get_or_init(std::time::Instant::now).elapsed()
    }
}

/// A clock that moves only when told to.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now_ms: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock { now_ms: Arc::new(AtomicI64::new(start.0)) }
    }

    pub fn advance(&self, d: Duration) {
        self.now_ms.fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn set(&self, t: Timestamp) {
        self.now_ms.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.now_ms.load(Ordering::SeqCst))
    }

    /// The manual time since the epoch: it moves exactly as `now` is moved (tests that
    /// set the clock back get what they asked for).
    fn monotonic(&self) -> Duration {
        Duration::from_millis(self.now_ms.load(Ordering::SeqCst).max(0) as u64)
    }
}

/// Time as tokio sees it, anchored at a fixed timestamp: under `start_paused` tests it
/// moves only with `tokio::time::advance`, so engine tests run on virtual time.
#[derive(Clone, Debug)]
pub struct TokioClock {
    anchor: tokio::time::Instant,
    anchor_ts: Timestamp,
}

impl TokioClock {
    pub fn new(anchor_ts: Timestamp) -> Self {
        TokioClock { anchor: tokio::time::Instant::now(), anchor_ts }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.anchor_ts.plus(self.anchor.elapsed())
    }

    fn monotonic(&self) -> Duration {
        self.anchor.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        clock.advance(Duration::from_millis(250));
        assert_eq!(clock.now(), Timestamp(1_250));
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = TokioClock::new(Timestamp(0));
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(clock.now(), Timestamp(3_000));
    }
}
