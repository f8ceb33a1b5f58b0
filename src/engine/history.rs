//! Bounded per-series history: the last `raw_capacity` raw samples, plus 1-minute
//! aggregates (mean and max) for the last `minute_capacity` minutes. Both are sized in
//! points, never in time, so memory stays bounded however fast a source reports.
//!
//! Minute aggregates are stored densely from a start minute (a missing minute is NaN),
//! 8 bytes a minute: 24 h of 1000 series fit in about 11 MB.
//!
//! Both buffers are [`ChunkedBuffer`]s, so a snapshot shares their sealed chunks
//! ([`raw_view`](SeriesHistory::raw_view), [`minutes_view`](SeriesHistory::minutes_view))
//! instead of copying every point every tick.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use crate::model::{Sample, Timestamp};
use crate::series::{ChunkedBuffer, MINUTE_MS, SharedMinutes, SharedPoints};

pub use crate::series::MinutePoint;

/// Default raw points kept per series.
pub const RAW_POINTS: usize = 600;
/// Default 1-minute aggregates kept per series: 24 hours.
pub const MINUTE_POINTS: usize = 24 * 60;

/// The minute being accumulated.
#[derive(Clone, Copy, Debug)]
struct OpenMinute {
    minute: i64,
    sum: f64,
    count: u32,
    max: f64,
}

impl OpenMinute {
    fn close(&self) -> MinutePoint {
        MinutePoint { mean: (self.sum / self.count as f64) as f32, max: self.max as f32 }
    }
}

fn minute_of(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(MINUTE_MS)
}

fn minute_at(minute: i64) -> Timestamp {
    Timestamp::from_millis(minute.saturating_mul(MINUTE_MS))
}

#[derive(Clone, Debug)]
pub struct SeriesHistory {
    raw: ChunkedBuffer<Sample>,
    /// Closed minutes; the newest is minute `next_minute - 1` (minutes since the epoch).
    minutes: ChunkedBuffer<MinutePoint>,
    next_minute: i64,
    open: Option<OpenMinute>,
    /// How many instances the newest sample covers, where its source said.
    newest_instances: Option<u32>,
}

impl SeriesHistory {
    pub fn new(raw_capacity: usize, minute_capacity: usize) -> Self {
        SeriesHistory {
            raw: ChunkedBuffer::new(raw_capacity),
            minutes: ChunkedBuffer::new(minute_capacity),
            next_minute: 0,
            open: None,
            newest_instances: None,
        }
    }

    /// Adds a sample. Samples not newer than the newest one kept are ignored (a source
    /// polled twice between two of its own updates reports the same point twice), as
    /// are non-finite values, which are not data.
    pub fn push(&mut self, sample: Sample) -> bool {
        if !sample.value.is_finite() || self.newest().is_some_and(|n| sample.at <= n.at) {
            return false;
        }
        self.raw.push(sample);
        self.aggregate(sample);
        self.newest_instances = None;
        true
    }

    /// [`push`](Self::push), with how many instances the sample covers (None: unknown).
    pub fn push_covering(&mut self, sample: Sample, instances: Option<u32>) -> bool {
        let pushed = self.push(sample);
        if pushed {
            self.newest_instances = instances;
        }
        pushed
    }

    /// How many instances the newest sample covers, where its source said.
    pub fn newest_instances(&self) -> Option<u32> {
        self.newest_instances
    }

    fn aggregate(&mut self, sample: Sample) {
        let minute = minute_of(sample.at);
        match &mut self.open {
            Some(open) if open.minute == minute => {
                open.sum += sample.value;
                open.count += 1;
                open.max = open.max.max(sample.value);
            }
            _ => {
                if let Some(open) = self.open.take() {
                    self.close_minute(open.minute, open.close());
                }
                self.open = Some(OpenMinute { minute, sum: sample.value, count: 1, max: sample.value });
            }
        }
    }

    /// Appends `point` as `minute`, after gaps for the minutes missing before it. Minutes
    /// not after the newest closed one are ignored.
    fn close_minute(&mut self, minute: i64, point: MinutePoint) {
        let capacity = self.minutes.capacity();
        if capacity == 0 {
            return;
        }
        if self.minutes.is_empty() {
            self.next_minute = minute;
        }
        if minute < self.next_minute {
            return;
        }
        // A gap longer than the whole window: start afresh instead of filling it.
        if minute - self.next_minute >= capacity as i64 {
            self.minutes.clear();
            self.next_minute = minute;
        }
        while self.next_minute < minute {
            self.minutes.push(MinutePoint::GAP);
            self.next_minute += 1;
        }
        self.minutes.push(point);
        self.next_minute += 1;
    }

    /// Loads 1-minute aggregates from elsewhere (the store, after a restart; a source's
    /// history, the backfill), oldest first, into the minutes held: they fill the gaps
    /// and go before the first held minute, and a minute already held (closed or open)
    /// keeps what it has, as does the first of several given for one minute. A time
    /// inside a minute stands for that minute; missing minutes become gaps; the capacity
    /// is kept (the oldest go first).
    pub fn restore_minutes(&mut self, minutes: impl IntoIterator<Item = (Timestamp, MinutePoint)>) {
        let open = self.open.map(|o| o.minute);
        let held = self.minutes().filter(|(_, p)| !p.is_gap()).map(|(at, p)| (minute_of(at), p));
        let mut merged: BTreeMap<i64, MinutePoint> = held.collect();
        for (at, point) in minutes {
            let minute = minute_of(at);
            if open.is_none_or(|open| minute < open) && !point.is_gap() {
                merged.entry(minute).or_insert(point);
            }
        }
        self.minutes.clear();
        for (minute, point) in merged {
            self.close_minute(minute, point);
        }
    }

    /// The minute still being accumulated, as it stands: its start and aggregate so far.
    pub fn open_minute(&self) -> Option<(Timestamp, MinutePoint)> {
        self.open.map(|o| (minute_at(o.minute), o.close()))
    }

    pub fn newest(&self) -> Option<Sample> {
        self.raw.seq().last().copied()
    }

    /// Raw samples, oldest first.
    pub fn raw(&self) -> impl ExactSizeIterator<Item = &Sample> + DoubleEndedIterator {
        self.raw.seq().iter()
    }

    /// Raw samples within `range`, oldest first, as slices: its ends are found by binary
    /// search.
    pub fn raw_in(&self, range: RangeInclusive<Timestamp>) -> impl Iterator<Item = &[Sample]> {
        let raw = self.raw.seq();
        let from = raw.partition_point(|s| s.at < *range.start());
        let to = raw.partition_point(|s| s.at <= *range.end());
        raw.slices(from..to)
    }

    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// The raw samples as a snapshot carries them: shared, not copied.
    pub fn raw_view(&self) -> SharedPoints {
        self.raw.view()
    }

    /// Closed 1-minute aggregates, oldest first, with the start of each minute.
    pub fn minutes(&self) -> impl DoubleEndedIterator<Item = (Timestamp, MinutePoint)> + '_ {
        let first = self.next_minute - self.minutes.len() as i64;
        self.minutes.seq().iter().enumerate().map(move |(i, p)| (minute_at(first + i as i64), *p))
    }

    pub fn minutes_len(&self) -> usize {
        self.minutes.len()
    }

    /// The closed 1-minute aggregates as a snapshot carries them: shared, not copied.
    pub fn minutes_view(&self) -> SharedMinutes {
        SharedMinutes::new(minute_at(self.next_minute - self.minutes.len() as i64), self.minutes.view())
    }

    /// Whether the newest sample is older than `stale_after` at `now` (or there is none).
    pub fn is_stale(&self, now: Timestamp, stale_after: std::time::Duration) -> bool {
        match self.newest() {
            Some(s) => now.since(s.at) > stale_after,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(secs * 1000)
    }

    #[test]
    fn keeps_only_the_newest_raw_points() {
        let mut h = SeriesHistory::new(3, 10);
        for t in 0..5 {
            h.push(Sample { at: at(t), value: t as f64 });
        }
        let values: Vec<f64> = h.raw().map(|s| s.value).collect();
        assert_eq!(values, vec![2.0, 3.0, 4.0]);
    }

    #[test]
    fn ignores_repeated_older_and_non_finite_samples() {
        let mut h = SeriesHistory::new(10, 10);
        assert!(h.push(Sample { at: at(5), value: 1.0 }));
        assert!(!h.push(Sample { at: at(5), value: 2.0 }));
        assert!(!h.push(Sample { at: at(4), value: 2.0 }));
        assert!(!h.push(Sample { at: at(6), value: f64::NAN }));
        assert_eq!(h.raw_len(), 1);
    }

    #[test]
    fn aggregates_closed_minutes_with_mean_and_max() {
        let mut h = SeriesHistory::new(10, 10);
        for (t, v) in [(0, 1.0), (30, 3.0), (60, 10.0), (61, 20.0), (125, 5.0)] {
            h.push(Sample { at: at(t), value: v });
        }
        let minutes: Vec<(Timestamp, MinutePoint)> = h.minutes().collect();
        assert_eq!(minutes.len(), 2, "the third minute is still open");
        assert_eq!(minutes[0], (at(0), MinutePoint { mean: 2.0, max: 3.0 }));
        assert_eq!(minutes[1], (at(60), MinutePoint { mean: 15.0, max: 20.0 }));
    }

    #[test]
    fn marks_missing_minutes_as_gaps() {
        let mut h = SeriesHistory::new(10, 10);
        for t in [0, 180, 240] {
            h.push(Sample { at: at(t), value: 1.0 });
        }
        let gaps: Vec<bool> = h.minutes().map(|(_, p)| p.is_gap()).collect();
        assert_eq!(gaps, vec![false, true, true, false]);
    }

    #[test]
    fn staleness_is_judged_from_the_newest_sample() {
        let mut h = SeriesHistory::new(10, 10);
        assert!(h.is_stale(at(0), Duration::from_secs(3)), "no data is stale");
        h.push(Sample { at: at(10), value: 1.0 });
        assert!(!h.is_stale(at(13), Duration::from_secs(3)));
        assert!(h.is_stale(at(14), Duration::from_secs(3)));
    }

    #[test]
    fn a_snapshot_view_taken_before_pushes_does_not_change() {
        let mut h = SeriesHistory::new(600, 10);
        for t in 0..700 {
            h.push(Sample { at: at(t), value: t as f64 });
        }
        let (raw, minutes) = (h.raw_view(), h.minutes_view());
        let copy: Vec<Sample> = h.raw().copied().collect();
        for t in 700..1000 {
            h.push(Sample { at: at(t), value: -1.0 });
        }
        assert_eq!(raw.iter().copied().collect::<Vec<_>>(), copy);
        assert_eq!(raw.first().map(|s| s.value), Some(100.0));
        assert_eq!(minutes.len(), 10);
        assert_eq!(minutes.last().map(|(t, _)| t), Some(at(600)), "minute 11 was still open");
        assert_eq!(h.minutes_view().last().map(|(t, _)| t), Some(at(900)));
    }

    #[test]
    fn views_hold_what_the_history_holds() {
        let mut h = SeriesHistory::new(50, 5);
        for t in 0..1000 {
            h.push(Sample { at: at(t * 7), value: (t % 13) as f64 });
        }
        assert!(h.raw_view().iter().eq(h.raw()));
        assert!(h.minutes_view().iter().eq(h.minutes()));
        assert_eq!(h.minutes_view().len(), 5);
    }

    #[test]
    fn raw_in_reads_only_the_samples_in_the_range() {
        let mut h = SeriesHistory::new(600, 10);
        for t in 0..1000 {
            h.push(Sample { at: at(t * 2), value: t as f64 });
        }
        let values = |from: i64, to: i64| -> Vec<f64> {
            h.raw_in(at(from)..=at(to)).flatten().map(|s| s.value).collect()
        };
        assert_eq!(values(0, 801), vec![400.0], "starts at the oldest held");
        assert_eq!(values(1301, 1304), vec![651.0, 652.0]);
        assert_eq!(values(1998, 5000), vec![999.0]);
        assert_eq!(values(2000, 5000), Vec::<f64>::new());
        assert_eq!(values(700, 1999).len(), 600);
    }

    #[test]
    fn restored_minutes_precede_live_ones_with_gaps_filled() {
        let mut h = SeriesHistory::new(10, 10);
        for t in [240, 300, 301] {
            h.push(Sample { at: at(t), value: 8.0 });
        }
        // Minute 4 closed, 5 open; minute 0 and 2 come from disk, 1 and 3 are gaps.
        let point = |v: f32| MinutePoint { mean: v, max: v };
        h.restore_minutes([(at(0), point(1.0)), (at(150), point(2.0)), (at(300), point(99.0))]);
        let minutes: Vec<(Timestamp, MinutePoint)> = h.minutes().collect();
        let values: Vec<Option<f32>> = minutes.iter().map(|(_, p)| (!p.is_gap()).then_some(p.mean)).collect();
        assert_eq!(values, vec![Some(1.0), None, Some(2.0), None, Some(8.0)], "live minute 5 wins");
        assert_eq!(minutes[0].0, at(0));
        assert_eq!(h.open_minute(), Some((at(300), point(8.0))));
        h.push(Sample { at: at(360), value: 1.0 });
        assert_eq!(h.minutes().last(), Some((at(300), point(8.0))));
    }

    #[test]
    fn restored_minutes_fill_the_gaps_between_held_ones_which_keep_their_own() {
        let mut h = SeriesHistory::new(10, 10);
        let point = |v: f32| MinutePoint { mean: v, max: v };
        h.restore_minutes([(at(0), point(1.0)), (at(180), point(4.0))]);
        // Minutes 1 and 2 were gaps; a backfill brings 0 to 3, and the held 0 and 3 stay.
        h.restore_minutes((0..4).map(|m| (at(m * 60), point(-1.0))));
        let values: Vec<f32> = h.minutes().map(|(_, p)| p.mean).collect();
        assert_eq!(values, vec![1.0, -1.0, -1.0, 4.0]);
    }

    #[test]
    fn restored_minutes_keep_the_capacity_and_their_order() {
        let mut h = SeriesHistory::new(10, 3);
        let point = |v: f32| MinutePoint { mean: v, max: v };
        let stored = (0..6).map(|m| (at(m * 60), point(m as f32)));
        h.restore_minutes(stored.chain([(at(0), point(-1.0)), (at(300), point(-1.0))]));
        let values: Vec<f32> = h.minutes().map(|(_, p)| p.mean).collect();
        assert_eq!(values, vec![3.0, 4.0, 5.0], "the oldest go first; repeats are ignored");
        assert_eq!(h.minutes_view().first().map(|(t, _)| t), Some(at(180)));
    }

    #[test]
    fn a_restored_history_far_older_than_the_live_one_is_dropped() {
        let mut h = SeriesHistory::new(10, 3);
        h.push(Sample { at: at(3600), value: 1.0 });
        h.push(Sample { at: at(3660), value: 2.0 });
        h.restore_minutes([(at(0), MinutePoint { mean: 5.0, max: 5.0 })]);
        let starts: Vec<Timestamp> = h.minutes().map(|(t, _)| t).collect();
        assert_eq!(starts, vec![at(3600)], "a gap longer than the window starts afresh");
    }

    #[test]
    fn the_open_minute_is_reported_as_it_stands() {
        let mut h = SeriesHistory::new(10, 10);
        assert_eq!(h.open_minute(), None);
        h.push(Sample { at: at(61), value: 2.0 });
        h.push(Sample { at: at(62), value: 4.0 });
        assert_eq!(h.open_minute(), Some((at(60), MinutePoint { mean: 3.0, max: 4.0 })));
        assert_eq!(h.minutes_len(), 0, "an open minute is not closed");
    }

    proptest! {
        #[test]
        fn buffers_stay_bounded(
            raw_cap in 0usize..50,
            minute_cap in 0usize..50,
            steps in proptest::collection::vec((1i64..200_000, -1e6f64..1e6), 0..400),
        ) {
            let mut h = SeriesHistory::new(raw_cap, minute_cap);
            let mut t = 0i64;
            for (dt, v) in steps {
                t += dt;
                h.push(Sample { at: Timestamp::from_millis(t), value: v });
                prop_assert!(h.raw_len() <= raw_cap);
                prop_assert!(h.minutes_len() <= minute_cap);
            }
        }
    }
}
