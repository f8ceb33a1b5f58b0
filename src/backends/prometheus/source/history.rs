//! The source's history ([`MetricSource::history`]): the poll's queries as range
//! queries, a chunk of at most a week of steps at a time, read into each group's series.

use futures::StreamExt;

use super::*;

/// The most steps one range query asks for: a week at one a minute, under the API's
/// limit of 11,000 points a series.
const MOST_STEPS: i64 = 10_080;

/// Range queries of a backfill in flight at once: a long history's answers are megabytes
/// each, and the backfill is no reason to load Prometheus.
const HISTORY_CONCURRENCY: usize = 2;

/// `range`'s evaluation times (the end of each step in `(since, until]`) cut into
/// chunks of at most [`MOST_STEPS`]: each chunk's first and last time, both evaluated.
pub(super) fn chunks(range: &HistoryRange) -> Vec<(Timestamp, Timestamp)> {
    let step = i64::try_from(range.step.as_millis()).unwrap_or(i64::MAX).max(1);
    let until = range.until.as_millis();
    let mut out = Vec::new();
    let mut start = range.since.as_millis().saturating_add(step);
    while start <= until {
        let end = start.saturating_add((MOST_STEPS - 1).saturating_mul(step)).min(until);
        out.push((Timestamp::from_millis(start), Timestamp::from_millis(end)));
        start = end.saturating_add(step);
    }
    out
}

impl PrometheusSource {
    /// [`MetricSource::history`]: the poll's queries (those of the kinds asked for) as
    /// range queries, a chunk of steps at a time, oldest first. Failures are per group as
    /// in a poll: a group any of whose queries failed gets the first failure, and only
    /// when every query failed is the whole call failed.
    pub(super) async fn read_history(&self, groups: &[GroupSpec], range: &HistoryRange) -> SourceHistory {
        let plan: Vec<Planned> =
            self.plan(groups).into_iter().filter(|q| q.kinds.iter().any(|(k, _)| range.wants(k))).collect();
        let mut series: Vec<Vec<HistorySeries>> = vec![Vec::new(); groups.len()];
        let mut failures: Vec<Option<BackendError>> = vec![None; groups.len()];
        let (mut asked, mut failed) = (0, Vec::new());
        for (start, end) in chunks(range) {
            let calls: Vec<_> =
                plan.iter().map(|q| self.query_range(q.promql.values(), start, end, range.step)).collect();
            let mut answers = futures::stream::iter(calls).buffered(HISTORY_CONCURRENCY).enumerate();
            while let Some((q, body)) = answers.next().await {
                let query = &plan[q];
                asked += 1;
                let read = body.and_then(|body| {
                    let answer = self.read(body.as_ref())?;
                    Ok(self.points_of(query, &answer, groups, range))
                });
                let per_group = match read {
                    Ok(per_group) => per_group,
                    Err(err) => {
                        let err = query.failed(&err);
                        query.answers.groups().iter().for_each(|&i| first(&mut failures[i], &err));
                        failed.push(err);
                        continue;
                    }
                };
                for (i, found) in per_group {
                    match found {
                        Ok(found) => {
                            found.into_iter().for_each(|(kind, points)| extend(&mut series[i], kind, points))
                        }
                        Err(err) => first(&mut failures[i], &err),
                    }
                }
            }
        }
        if asked > 0 && failed.len() == asked {
            return Err(failed.swap_remove(0));
        }
        Ok(series
            .into_iter()
            .zip(failures)
            .map(|(series, failure)| failure.map_or(Ok(series), Err))
            .collect())
    }

    /// One range answer's points of `query`'s kinds asked for, per group it answers, in
    /// our units; a group's own query that answers several series fails that group.
    fn points_of<L: queries::GroupLabels>(
        &self,
        query: &Planned,
        answer: &Answer<L>,
        groups: &[GroupSpec],
        range: &HistoryRange,
    ) -> Vec<(usize, Found)> {
        for warning in &answer.warnings {
            tracing::warn!(source = %self.name, kind = %query.named(), %warning, "Prometheus warning");
        }
        let samples = |points: &[response::Point]| -> Vec<Sample> {
            let finite = points.iter().filter(|p| p.value.is_finite());
            finite.map(|p| Sample { at: p.at, value: p.value * query.scale }).collect()
        };
        match &query.answers {
            Answers::Grouped(members) => members
                .iter()
                .map(|&i| {
                    let wanted =
                        query.kinds.iter().filter(|(k, _)| range.wants(k) && !self.replaced(&groups[i], k));
                    let found = wanted
                        .filter_map(|(kind, part)| {
                            let by_group = queries::history_of(&answer.result, part);
                            by_group
                                .get(groups[i].name.as_str())
                                .map(|points| (kind.clone(), samples(points)))
                        })
                        .collect();
                    (i, Ok(found))
                })
                .collect(),
            &Answers::Whole(i) => {
                let kind = query.kinds[0].0.clone();
                let found = match &answer.result {
                    QueryResult::Matrix(series) => match series.as_slice() {
                        [] => Ok(Vec::new()),
                        [(_, points)] => Ok(vec![(kind, samples(points))]),
                        more => Err(BackendError::rejected(format!(
                            "{}: its query answers {} series; aggregate it to one (sum, avg or max)",
                            query.named(),
                            more.len()
                        ))),
                    },
                    _ => Err(BackendError::rejected(format!(
                        "{}: a range query answered no matrix",
                        query.named()
                    ))),
                };
                vec![(i, found)]
            }
        }
    }
}

/// What one range answer holds for one group: its kinds' points, or why it failed.
type Found = Result<Vec<(MetricKind, Vec<Sample>)>, BackendError>;

/// Keeps the first failure a group had.
fn first(slot: &mut Option<BackendError>, err: &BackendError) {
    if slot.is_none() {
        *slot = Some(err.clone());
    }
}

/// Adds `points` (a later chunk) to `kind`'s series.
fn extend(series: &mut Vec<HistorySeries>, kind: MetricKind, points: Vec<Sample>) {
    match series.iter_mut().find(|s| s.kind == kind) {
        Some(held) => held.points.extend(points),
        None => series.push(HistorySeries { kind, points }),
    }
}
