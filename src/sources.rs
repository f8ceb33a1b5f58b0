//! Metric sources: where groups' samples come from. [`MetricSource`] is the one trait the
//! engine polls, once per poll interval for all of a connection's groups at once, so a
//! backend can batch as its API allows (one PromQL query per metric kind, GetMetricData's
//! 500 queries a call). Sources report metrics only, never capacity (that is the
//! actuator's job), and stamp every sample with the time it describes so the engine can
//! judge freshness. Implementations live in [`backends`](crate::backends), one folder per
//! platform.
//!
//! A source that keeps history also answers [`MetricSource::history`], which the engine
//! asks once at start so the charts are full on the first frame and predictive scaling
//! learns its load profile from real history (the backfill); one whose platform has
//! alerts of its own may answer [`MetricSource::alerts`] with each poll, shown beside
//! fleetdeck's alarms and never paged by fleetdeck.
//!
//! A source never retries by itself and never sleeps: it maps its platform's failures to a
//! [`BackendError`] and the engine's one error policy backs off (per connection for
//! throttling and credentials, per group for a missing series).

use std::time::Duration;

use futures::future::BoxFuture;

use crate::model::{AlarmState, BackendError, GroupSpec, MetricKind, MetricSample, Sample, Timestamp};

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

    /// What `groups` reported over `range`, for the engine to fill its charts and its
    /// load profiles with at start (a source that keeps history: Prometheus's range
    /// queries, CloudWatch's GetMetricData). The answer has one entry per group, in
    /// order. A source without history answers nothing, which is not an error; this is
    /// the default.
    fn history<'a>(
        &'a self,
        groups: &'a [GroupSpec],
        range: &'a HistoryRange,
    ) -> BoxFuture<'a, SourceHistory> {
        let _ = range;
        Box::pin(async move { Ok(vec![Ok(Vec::new()); groups.len()]) })
    }

    /// The platform's own alerts on each of `groups` (Prometheus's alerting rules), asked
    /// with every poll, for the console to show beside fleetdeck's alarms: read only,
    /// never paged by fleetdeck (the platform routes its own). One list per group, in
    /// order; None: the source reads no alerts (the default).
    fn alerts<'a>(&'a self, groups: &'a [GroupSpec]) -> Option<BoxFuture<'a, SourceAlerts>> {
        let _ = groups;
        None
    }
}

/// A platform's alert on a group, as it stands.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceAlert {
    /// Its rule's name (`alertname`).
    pub name: String,
    /// Firing or Pending.
    pub state: AlarmState,
    /// Since when it is active, where the platform says.
    pub since: Option<Timestamp>,
    /// The value its expression had when last evaluated.
    pub value: Option<f64>,
    /// In words: its `summary` annotation, else its labels.
    pub summary: String,
}

/// Every group's alerts, or why none could be read.
pub type SourceAlerts = Result<Vec<Vec<SourceAlert>>, BackendError>;

/// A stretch of history asked of a source ([`MetricSource::history`]): one point per
/// `step` for the steps ending in `(since, until]`, of `kinds` only where given.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRange {
    pub since: Timestamp,
    pub until: Timestamp,
    pub step: Duration,
    /// The kinds wanted (None: every kind the source reads for the groups).
    pub kinds: Option<Vec<MetricKind>>,
}

impl HistoryRange {
    /// Whether `kind` is asked for.
    pub fn wants(&self, kind: &MetricKind) -> bool {
        self.kinds.as_ref().is_none_or(|kinds| kinds.contains(kind))
    }
}

/// One series of a group's history: a point per step, oldest first, each stamped with
/// the end of the step it describes (the time it was evaluated at). Steps without data
/// have no point.
#[derive(Clone, Debug, PartialEq)]
pub struct HistorySeries {
    pub kind: MetricKind,
    pub points: Vec<Sample>,
}

/// One group's part of a history answer, or why that group alone could not be read.
pub type GroupHistory = Result<Vec<HistorySeries>, BackendError>;

/// A whole history answer: one [`GroupHistory`] per group asked for, in order; or the
/// error that failed the call for every group.
pub type SourceHistory = Result<Vec<GroupHistory>, BackendError>;
