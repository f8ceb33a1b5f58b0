//! The backfill: at start, each source that keeps history ([`MetricSource::history`]) is
//! asked what its groups reported before fleetdeck ran, so the charts are full on the
//! first frame and predictive scaling learns its load profile from real history:
//!
//! - the charts' span ([`CHART_SPAN`], 24 h) of every kind, one point a minute;
//! - for predictive groups, their load metric over the rest of the store's retention
//!   (14 days), which the weekly profile needs.
//!
//! What comes back fills the minutes the store lacks — a minute fleetdeck recorded itself
//! keeps what it recorded ([`Store::fill_minutes_batch`]) — and is then loaded into the
//! charts as after a restart, gaps filled and live minutes kept, and the load profiles are
//! rebuilt. Without a store the minutes go straight into the charts and the profiles.
//!
//! Bounded and never in the way: the first tick waits for the backfill at most one call
//! timeout (so the first frame normally has it); after that it goes on beside the ticks,
//! each source's call bounded by [`HISTORY_TIMEOUTS`] call timeouts, and lands whenever it
//! is done. A source that fails is logged, and its charts start from what the store has.
//!
//! A point of a source's history stands for the step that ends at its time: a point at
//! 10:05:00 of a 1-minute step is the minute 10:04. The minute's mean and max are both
//! that value; bursts inside a minute are smoothed by the source's own window.

use std::collections::BTreeMap;

use super::history::{MinutePoint, SeriesHistory};
use super::*;
use crate::model::{GroupSpec, MetricKind};
use crate::sources::{HistoryRange, SourceHistory};
use crate::store::MinuteAggregate;

/// How far back the charts are filled.
pub const CHART_SPAN: Duration = Duration::from_secs(86_400);
/// One point a minute: the store's and the charts' resolution.
pub const HISTORY_STEP: Duration = Duration::from_secs(60);
/// A history call may take this many call timeouts: a range query over days is heavier
/// than a poll.
pub const HISTORY_TIMEOUTS: u32 = 6;

/// One history call to make: the connection, the groups (index in the core, spec) and
/// the range. Owned, so running it borrows nothing of the engine.
pub(super) struct HistoryOrder {
    source: String,
    conn: crate::backends::SourceConnection,
    groups: Vec<(usize, GroupSpec)>,
    range: HistoryRange,
}

/// A history call made: whom it was for and what came back.
pub(super) struct HistoryCall {
    order: HistoryOrder,
    result: SourceHistory,
}

/// Every history call of a backfill, to run at once.
pub(super) async fn run(orders: Vec<HistoryOrder>, limit: Duration) -> Vec<HistoryCall> {
    let calls = orders.into_iter().map(|order| async move {
        let specs: Vec<GroupSpec> = order.groups.iter().map(|(_, spec)| spec.clone()).collect();
        let result = io::timed(limit, order.conn.source.history(&specs, &order.range)).await;
        HistoryCall { order, result }
    });
    join_all(calls).await
}

/// The minute a point of `step` ending at `at` stands for.
fn minute_of(at: Timestamp, step: Duration) -> Timestamp {
    let start = at.minus(step).as_millis();
    Timestamp::from_millis(start.div_euclid(60_000) * 60_000)
}

/// A series' points as minutes: each minute's mean and max of the points standing for it.
fn minutes(points: &[crate::model::Sample], step: Duration) -> Vec<MinuteAggregate> {
    let mut out: Vec<MinuteAggregate> = Vec::with_capacity(points.len());
    let mut counts: Vec<u32> = Vec::with_capacity(points.len());
    for point in points.iter().filter(|p| p.value.is_finite()) {
        let minute = minute_of(point.at, step);
        match out.last_mut() {
            Some(last) if last.minute == minute => {
                let n = counts.last_mut().expect("a count per minute");
                last.mean += (point.value - last.mean) / f64::from(*n + 1);
                last.max = last.max.max(point.value);
                *n += 1;
            }
            _ => {
                out.push(MinuteAggregate { minute, mean: point.value, max: point.value });
                counts.push(1);
            }
        }
    }
    out
}

impl Engine {
    /// The backfill's calls at `now`: per source connection, the charts' span of every
    /// group; per predictive load metric of its groups, the rest of the retention.
    pub(super) fn history_orders(&self, now: Timestamp) -> Vec<HistoryOrder> {
        let until = Timestamp::from_millis(now.as_millis().div_euclid(60_000) * 60_000);
        let charts_since = until.minus(CHART_SPAN);
        let mut orders = Vec::new();
        for (s, source) in self.sources.iter().enumerate() {
            let members: Vec<(usize, GroupSpec)> = (self.core.groups.iter().enumerate())
                .filter(|(i, _)| self.io[*i].source == s)
                .map(|(i, g)| (i, g.spec.clone()))
                .collect();
            if members.is_empty() {
                continue;
            }
            let order = |groups: Vec<(usize, GroupSpec)>, since, until, kinds| HistoryOrder {
                source: source.conn.source.name().to_string(),
                conn: source.conn.clone(),
                groups,
                range: HistoryRange { since, until, step: HISTORY_STEP, kinds },
            };
            let mut by_metric: BTreeMap<MetricKind, Vec<(usize, GroupSpec)>> = BTreeMap::new();
            for (i, spec) in &members {
                if let Some(predictive) = &self.core.groups[*i].autoscaler.state.policy.predictive {
                    by_metric.entry(predictive.metric.clone()).or_default().push((*i, spec.clone()));
                }
            }
            let profile_since = until.minus(store::HISTORY_RETENTION);
            for (metric, groups) in by_metric {
                orders.push(order(groups, profile_since, charts_since, Some(vec![metric])));
            }
            orders.push(order(members, charts_since, until, None));
        }
        orders
    }

    /// Takes what a backfill's calls brought: fills the store's missing minutes, loads
    /// them into the charts and rebuilds the load profiles.
    pub(super) fn take_history(&mut self, calls: Vec<HistoryCall>) {
        let now = self.clock.now();
        let mut filled: BTreeMap<(usize, MetricKind), Vec<MinuteAggregate>> = BTreeMap::new();
        for HistoryCall { order, result } in calls {
            let step = order.range.step;
            let answers = match result {
                Ok(answers) => answers,
                Err(err) => {
                    tracing::warn!(source = %order.source, %err, "backfill failed: the charts start from what the store holds");
                    continue;
                }
            };
            let mut points = 0;
            for ((index, spec), answer) in order.groups.iter().zip(answers) {
                match answer {
                    Ok(series) => {
                        for series in series.into_iter().filter(|s| order.range.wants(&s.kind)) {
                            points += series.points.len();
                            let minutes = minutes(&series.points, step);
                            filled.entry((*index, series.kind)).or_default().extend(minutes);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(group = %spec.name, source = %order.source, %err, "backfill failed for this group")
                    }
                }
            }
            if points > 0 {
                let span = crate::model::format_duration(order.range.until.since(order.range.since));
                tracing::info!(source = %order.source, groups = order.groups.len(), points, %span, "history backfilled");
            }
        }
        if filled.is_empty() {
            return;
        }
        for minutes in filled.values_mut() {
            minutes.sort_by_key(|m| m.minute);
        }
        match self.store.take() {
            Some(store) => {
                self.fill_from_store(&store, &filled, now);
                self.store = Some(store);
            }
            None => self.fill_without_store(&filled),
        }
        self.publish_snapshot();
    }

    /// Writes `filled` into the store where it has no minute, then loads each series
    /// filled back into its chart and rebuilds the load profiles from the store.
    fn fill_from_store(
        &mut self,
        store: &Store,
        filled: &BTreeMap<(usize, MetricKind), Vec<MinuteAggregate>>,
        now: Timestamp,
    ) {
        let rows: Vec<(&str, &MetricKind, &[MinuteAggregate])> = filled
            .iter()
            .map(|((i, kind), minutes)| (self.core.groups[*i].spec.name.as_str(), kind, minutes.as_slice()))
            .collect();
        if let Err(err) = store.fill_minutes_batch(&rows) {
            tracing::error!(%err, "saving the backfilled history");
        }
        let since = now.minus(CHART_SPAN);
        for (index, kind) in filled.keys() {
            let name = self.core.groups[*index].spec.name.clone();
            match store.load_minutes(&name, kind, since) {
                Ok(minutes) => self.restore_series(*index, kind, &minutes),
                Err(err) => tracing::error!(group = %name, %err, "reading the backfilled history"),
            }
        }
        durable::refresh_load_profiles(&mut self.core, store, now);
    }

    /// Without a store: `filled` straight into the charts, and the predictive groups'
    /// load profiles from it.
    fn fill_without_store(&mut self, filled: &BTreeMap<(usize, MetricKind), Vec<MinuteAggregate>>) {
        for ((index, kind), minutes) in filled {
            self.restore_series(*index, kind, minutes);
            let group = &self.core.groups[*index];
            let Some(predictive) = &group.autoscaler.state.policy.predictive else { continue };
            if predictive.metric != *kind {
                continue;
            }
            let points: Vec<(Timestamp, f64)> = minutes.iter().map(|m| (m.minute, m.mean)).collect();
            match crate::policy::predictive::build_load_profile(
                &points,
                crate::policy::predictive::PROFILE_SLOT,
            ) {
                Ok(profile) => self.core.set_load_profile(*index, Some(profile)),
                Err(err) => tracing::error!(group = %group.spec.name, %err, "computing the load profile"),
            }
        }
    }

    /// Loads `minutes` into group `index`'s chart of `kind`; the newest counts as written
    /// to the store where nothing newer was.
    pub(super) fn restore_series(&mut self, index: usize, kind: &MetricKind, minutes: &[MinuteAggregate]) {
        let Some(newest) = minutes.last().map(|m| m.minute) else { return };
        let settings = &self.core.settings;
        let (raw, minute_points) = (settings.raw_points, settings.minute_points);
        let group = &mut self.core.groups[index];
        let points =
            minutes.iter().map(|m| (m.minute, MinutePoint { mean: m.mean as f32, max: m.max as f32 }));
        group
            .series
            .entry(kind.clone())
            .or_insert_with(|| SeriesHistory::new(raw, minute_points))
            .restore_minutes(points);
        let persisted = self.io[index].persisted_minute.entry(kind.clone()).or_insert(newest);
        *persisted = (*persisted).max(newest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Sample;

    #[test]
    fn a_point_stands_for_the_step_that_ends_at_its_time() {
        let at = |s: i64| Timestamp::from_millis(s * 1000);
        let points = [
            Sample { at: at(600), value: 2.0 },
            Sample { at: at(660), value: f64::NAN },
            Sample { at: at(720), value: 4.0 },
        ];
        let minutes = minutes(&points, HISTORY_STEP);
        assert_eq!(
            minutes,
            vec![
                MinuteAggregate { minute: at(540), mean: 2.0, max: 2.0 },
                MinuteAggregate { minute: at(660), mean: 4.0, max: 4.0 },
            ],
            "the minute before each point's time; NaN is a gap"
        );
        let fine = [Sample { at: at(615), value: 1.0 }, Sample { at: at(630), value: 3.0 }];
        let minutes = super::minutes(&fine, Duration::from_secs(15));
        assert_eq!(minutes, vec![MinuteAggregate { minute: at(600), mean: 2.0, max: 3.0 }]);
    }
}
