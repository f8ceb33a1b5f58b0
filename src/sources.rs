//! Metric sources: where groups' samples come from. [`MetricSource`] is the one trait the
//! engine polls, once per poll interval for all of a connection's groups at once, so a
//! backend can batch as its API allows (one PromQL query per metric kind, GetMetricData's
//! 500 queries a call). Sources report metrics only, never capacity (that is the
//! actuator's job), and stamp every sample with the time it describes so the engine can
//! judge freshness. Implementations live in [`backends`](crate::backends), one folder per
//! platform.
//!
//! A source never retries by itself and never sleeps: it maps its platform's failures to a
//! [`BackendError`] and the engine's one error policy backs off (per connection for
//! throttling and credentials, per group for a missing series).

use futures::future::BoxFuture;

use crate::model::{BackendError, GroupSpec, MetricSample};

/// One group's part of a poll: its newest samples (an empty list is no new data, not an
/// error) or why that group alone could not be read.
pub type GroupPoll = Result<Vec<MetricSample>, BackendError>;

/// A whole poll: one [`GroupPoll`] per group asked for, in the order asked; or the error
/// that failed the call for every group (unreachable, throttled, credentials refused).
pub type SourcePoll = Result<Vec<GroupPoll>, BackendError>;

pub trait MetricSource: Send + Sync {
    /// Short name for the UI and logs: the connection's name, e.g. `sim` or `prom-us-east`.
    fn name(&self) -> &str;

    /// The newest samples of each of `groups` (the connection's groups whose poll is due;
    /// the source knows each group's selector from how it was built). The answer must
    /// have one entry per group, in order: the engine counts a short answer as failed
    /// for the groups left out.
    fn poll<'a>(&'a self, groups: &'a [GroupSpec]) -> BoxFuture<'a, SourcePoll>;
}
