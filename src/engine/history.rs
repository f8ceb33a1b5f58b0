//! Bounded per-series history: the last `raw_capacity` raw samples, plus 1-minute
//! aggregates (mean and max) for the last `minute_capacity` minutes. Both are sized in
//! points, never in time, so memory stays bounded however fast a source reports.
//!
//! Minute aggregates are stored densely from a start minute (a missing minute is NaN),
//! 8 bytes a minute: 24 h of 1000 series fit in about 11 MB.

use std::collections::VecDeque;

use crate::model::{Sample, Timestamp};

/// Default raw points kept per series.
pub const RAW_POINTS: usize = 600;
/// Default 1-minute aggregates kept per series: 24 hours.
pub const MINUTE_POINTS: usize = 24 * 60;

const MINUTE_MS: i64 = 60_000;

/// One minute of a series: mean and maximum of its samples (NaN if it had none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinutePoint {
    pub mean: f32,
    pub max: f32,
}

impl MinutePoint {
    const GAP: MinutePoint = MinutePoint { mean: f32::NAN, max: f32::NAN };

    pub fn is_gap(&self) -> bool {
        self.mean.is_nan()
    }
}

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

#[derive(Clone, Debug)]
pub struct SeriesHistory {
    raw: VecDeque<Sample>,
    raw_capacity: usize,
    /// Closed minutes; `minutes[i]` is minute `first_minute + i` (minutes since the epoch).
    minutes: VecDeque<MinutePoint>,
    first_minute: i64,
    minute_capacity: usize,
    open: Option<OpenMinute>,
}

impl SeriesHistory {
    pub fn new(raw_capacity: usize, minute_capacity: usize) -> Self {
        SeriesHistory {
            raw: VecDeque::with_capacity(raw_capacity),
            raw_capacity,
            minutes: VecDeque::with_capacity(minute_capacity),
            first_minute: 0,
            minute_capacity,
            open: None,
        }
    }

    /// Adds a sample. Samples not newer than the newest one kept are ignored (a source
    /// polled twice between two of its own updates reports the same point twice), as
    /// are non-finite values, which are not data.
    pub fn push(&mut self, sample: Sample) -> bool {
        if !sample.value.is_finite() || self.newest().is_some_and(|n| sample.at <= n.at) {
            return false;
        }
        if self.raw.len() == self.raw_capacity {
            self.raw.pop_front();
        }
        if self.raw_capacity > 0 {
            self.raw.push_back(sample);
        }
        self.aggregate(sample);
        true
    }

    fn aggregate(&mut self, sample: Sample) {
        let minute = sample.at.as_millis().div_euclid(MINUTE_MS);
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

    fn close_minute(&mut self, minute: i64, point: MinutePoint) {
        if self.minute_capacity == 0 {
            return;
        }
        if self.minutes.is_empty() {
            self.first_minute = minute;
        }
        let mut next = self.first_minute + self.minutes.len() as i64;
        // A gap longer than the whole window: start afresh instead of filling it.
        if minute - next >= self.minute_capacity as i64 {
            self.minutes.clear();
            self.first_minute = minute;
            next = minute;
        }
        while next < minute {
            self.push_minute(MinutePoint::GAP);
            next += 1;
        }
        self.push_minute(point);
    }

    fn push_minute(&mut self, point: MinutePoint) {
        if self.minutes.len() == self.minute_capacity {
            self.minutes.pop_front();
            self.first_minute += 1;
        }
        self.minutes.push_back(point);
    }

    /// Loads minutes read from disk at start (oldest first); they precede live data.
    pub fn restore_minutes(&mut self, minutes: impl IntoIterator<Item = (Timestamp, MinutePoint)>) {
        for (at, point) in minutes {
            let minute = at.as_millis().div_euclid(MINUTE_MS);
            if self.minutes.is_empty() || minute >= self.first_minute + self.minutes.len() as i64 {
                self.close_minute(minute, point);
            }
        }
    }

    /// The minute still being accumulated, as it stands.
    pub fn open_minute(&self) -> Option<(Timestamp, MinutePoint)> {
        self.open.map(|o| (Timestamp::from_millis(o.minute * MINUTE_MS), o.close()))
    }

    pub fn newest(&self) -> Option<Sample> {
        self.raw.back().copied()
    }

    /// Raw samples, oldest first.
    pub fn raw(&self) -> impl ExactSizeIterator<Item = &Sample> + DoubleEndedIterator {
        self.raw.iter()
    }

    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// Closed 1-minute aggregates, oldest first, with the start of each minute.
    pub fn minutes(&self) -> impl Iterator<Item = (Timestamp, MinutePoint)> + '_ {
        self.minutes
            .iter()
            .enumerate()
            .map(|(i, p)| (Timestamp::from_millis((self.first_minute + i as i64) * MINUTE_MS), *p))
    }

    pub fn minutes_len(&self) -> usize {
        self.minutes.len()
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
