//! Series that the engine's history and every published snapshot share instead of
//! copying. A [`SharedSeq`] is a run of sealed, immutable chunks of [`CHUNK_POINTS`]
//! points and one short open tail, each behind an `Arc`: taking a view clones two `Arc`s,
//! and a view never changes after it is taken, whatever is pushed afterwards.
//!
//! [`ChunkedBuffer`] is the writing side (the engine's history owns one per series):
//! append-only and bounded in points. The oldest points are hidden first and dropped a
//! whole chunk at a time, so it holds at most its capacity plus one chunk. A push that
//! finds the open tail still shared with a snapshot copies the tail first (at most a
//! chunk), never the sealed chunks.
//!
//! [`SharedMinutes`] adds the minute timestamps to a sequence of 1-minute aggregates.
//! This module knows what a sample and a minute are, nothing of the engine or of the
//! front ends. On the wire a sequence is a flat JSON array, as a `Vec` would be.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{Sample, Timestamp};

/// Points per sealed chunk: 1 KB of samples. Smaller chunks copy less on a push into a
/// shared tail; larger ones make fewer `Arc`s per view.
pub const CHUNK_POINTS: usize = 64;

pub(crate) const MINUTE_MS: i64 = 60_000;

/// A sealed chunk: never written again.
type Chunk<T> = Arc<[T]>;

/// An immutable view of a sequence, oldest first; cheap to clone.
///
/// The visible points are `pieces[first][skip..]` followed by every later piece, where
/// the pieces are the sealed chunks and then the tail; `len` counts them.
pub struct SharedSeq<T> {
    sealed: Arc<[Chunk<T>]>,
    /// Written in place by the buffer while no view shares it.
    tail: Arc<Vec<T>>,
    first: usize,
    skip: usize,
    len: usize,
}

/// Raw samples, oldest first, as snapshots carry them.
pub type SharedPoints = SharedSeq<Sample>;

impl<T> SharedSeq<T> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn first(&self) -> Option<&T> {
        if self.len == 0 { None } else { self.piece(self.first).get(self.skip) }
    }

    pub fn last(&self) -> Option<&T> {
        // What is visible always runs to the end of the tail.
        if self.len == 0 { None } else { self.tail.last().or_else(|| self.sealed.last()?.last()) }
    }

    /// The points, oldest first.
    pub fn iter(&self) -> Iter<'_, T> {
        self.iter_at(self.first, self.skip, self.len)
    }

    /// The points from the `index`-th on (none if `index >= len`).
    pub fn iter_from(&self, index: usize) -> Iter<'_, T> {
        let (first, skip) = self.advanced(index);
        self.iter_at(first, skip, self.len.saturating_sub(index))
    }

    /// The newest `n` points (all of them if there are fewer), sharing the same chunks.
    pub fn last_n(&self, n: usize) -> Self {
        let mut view = self.clone();
        view.drop_front(self.len.saturating_sub(n));
        view
    }

    /// The points at the indices `range`, oldest first, as slices (one a chunk).
    pub fn slices(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = &[T]> {
        let mut left = range.end.min(self.len).saturating_sub(range.start);
        self.iter_from(range.start).into_slices().map(move |piece| {
            let n = piece.len().min(left);
            left -= n;
            &piece[..n]
        })
    }

    /// How many points at the front satisfy `before`, which must hold for a prefix of
    /// the sequence and not after it (as for [`slice::partition_point`]): a binary search
    /// over the chunks, then within the one where it stops holding.
    pub fn partition_point(&self, before: impl Fn(&T) -> bool) -> usize {
        let sealed = self.sealed.get(self.first..).unwrap_or_default();
        let whole = sealed.partition_point(|chunk| chunk.last().is_some_and(&before));
        let (passed, skip) = match whole {
            0 => (0, self.skip),
            _ => (sealed[..whole].iter().map(|c| c.len()).sum::<usize>() - self.skip, 0),
        };
        let piece = sealed.get(whole).map_or(&self.tail[..], |chunk| chunk);
        passed + piece[skip..].partition_point(before)
    }

    fn piece(&self, index: usize) -> &[T] {
        self.sealed.get(index).map_or(&self.tail, |chunk| chunk)
    }

    /// `(first, skip)` of the view that starts `count` points later.
    fn advanced(&self, count: usize) -> (usize, usize) {
        let (mut first, mut skip, mut count) = (self.first, self.skip, count.min(self.len));
        while count > 0 {
            let left = self.piece(first).len() - skip;
            if count < left || first >= self.sealed.len() {
                return (first, skip + count);
            }
            count -= left;
            (first, skip) = (first + 1, 0);
        }
        (first, skip)
    }

    fn drop_front(&mut self, count: usize) {
        let count = count.min(self.len);
        (self.first, self.skip) = self.advanced(count);
        self.len -= count;
    }

    fn iter_at(&self, first: usize, skip: usize, len: usize) -> Iter<'_, T> {
        let Some((head, middle)) = self.sealed.get(first..).and_then(<[Chunk<T>]>::split_first) else {
            return Iter { front: self.tail[skip..].iter(), middle: [].iter(), back: [].iter(), len };
        };
        Iter { front: head[skip..].iter(), middle: middle.iter(), back: self.tail.iter(), len }
    }
}

/// Clones the `Arc`s, never the points (so `T` need not be `Clone`).
impl<T> Clone for SharedSeq<T> {
    fn clone(&self) -> Self {
        SharedSeq { sealed: self.sealed.clone(), tail: self.tail.clone(), ..*self }
    }
}

impl<T> Default for SharedSeq<T> {
    fn default() -> Self {
        Vec::new().into()
    }
}

/// One piece holding the whole vector: how a sequence read from the wire, or built in a
/// test, is held.
impl<T> From<Vec<T>> for SharedSeq<T> {
    fn from(points: Vec<T>) -> Self {
        SharedSeq { sealed: Arc::new([]), len: points.len(), tail: Arc::new(points), first: 0, skip: 0 }
    }
}

impl<T> FromIterator<T> for SharedSeq<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        iter.into_iter().collect::<Vec<T>>().into()
    }
}

impl<'a, T> IntoIterator for &'a SharedSeq<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Equal when the points are, however they are chunked.
impl<T: PartialEq> PartialEq for SharedSeq<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedSeq<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Serialize> Serialize for SharedSeq<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for SharedSeq<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(SharedSeq::from)
    }
}

/// The points of a [`SharedSeq`], oldest first; double-ended, with an exact length.
#[derive(Clone, Debug)]
pub struct Iter<'a, T> {
    /// What is left of the piece the front has reached, the whole pieces between, and
    /// what is left of the piece the back has reached.
    front: std::slice::Iter<'a, T>,
    middle: std::slice::Iter<'a, Chunk<T>>,
    back: std::slice::Iter<'a, T>,
    len: usize,
}

impl<'a, T> Iter<'a, T> {
    /// The rest as slices, oldest first.
    pub fn into_slices(self) -> impl Iterator<Item = &'a [T]> {
        let middle = self.middle.map(|chunk| &**chunk);
        std::iter::once(self.front.as_slice()).chain(middle).chain(std::iter::once(self.back.as_slice()))
    }
}

impl<T> Default for Iter<'_, T> {
    fn default() -> Self {
        Iter { front: [].iter(), middle: [].iter(), back: [].iter(), len: 0 }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        if self.len == 0 {
            return None;
        }
        loop {
            if let Some(point) = self.front.next() {
                self.len -= 1;
                return Some(point);
            }
            match self.middle.next() {
                Some(piece) => self.front = piece.iter(),
                None if self.back.as_slice().is_empty() => return None,
                None => self.front = std::mem::take(&mut self.back),
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }

    /// Skips whole chunks without visiting their points.
    fn nth(&mut self, mut n: usize) -> Option<&'a T> {
        loop {
            let here = self.front.len();
            if n < here {
                self.len -= n + 1;
                return self.front.nth(n);
            }
            (n, self.len) = (n - here, self.len.saturating_sub(here));
            match self.middle.next() {
                Some(piece) => self.front = piece.iter(),
                None if self.back.as_slice().is_empty() => {
                    self.front = [].iter();
                    return None;
                }
                None => self.front = std::mem::take(&mut self.back),
            }
        }
    }

    /// A plain loop per chunk, rather than a chunk check per point.
    fn fold<B, F: FnMut(B, &'a T) -> B>(self, init: B, mut f: F) -> B {
        self.into_slices().fold(init, |acc, piece| piece.iter().fold(acc, &mut f))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.len == 0 {
            return None;
        }
        loop {
            if let Some(point) = self.back.next_back() {
                self.len -= 1;
                return Some(point);
            }
            match self.middle.next_back() {
                Some(piece) => self.back = piece.iter(),
                None if self.front.as_slice().is_empty() => return None,
                None => self.back = std::mem::take(&mut self.front),
            }
        }
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

impl<T> std::iter::FusedIterator for Iter<'_, T> {}

/// An append-only sequence bounded to `capacity` points, whose [`view`](Self::view)s
/// share its chunks.
#[derive(Clone, Debug)]
pub struct ChunkedBuffer<T> {
    seq: SharedSeq<T>,
    capacity: usize,
}

impl<T: Clone> ChunkedBuffer<T> {
    pub fn new(capacity: usize) -> Self {
        ChunkedBuffer { seq: SharedSeq::default(), capacity }
    }

    /// Appends a point, hiding the oldest if the buffer is full; a zero-capacity buffer
    /// keeps nothing.
    pub fn push(&mut self, point: T) {
        if self.capacity == 0 {
            return;
        }
        let seq = &mut self.seq;
        match Arc::get_mut(&mut seq.tail) {
            Some(tail) => tail.push(point),
            // A view still holds the tail: it keeps its copy, the buffer writes a new one.
            None => {
                let mut tail = Vec::with_capacity(CHUNK_POINTS);
                tail.extend_from_slice(&seq.tail);
                tail.push(point);
                seq.tail = Arc::new(tail);
            }
        }
        seq.len += 1;
        if seq.len > self.capacity {
            seq.drop_front(seq.len - self.capacity);
        }
        if seq.tail.len() >= CHUNK_POINTS {
            let tail = std::mem::replace(&mut seq.tail, Arc::new(Vec::with_capacity(CHUNK_POINTS)));
            self.rebuild_sealed(Some(Arc::unwrap_or_clone(tail).into()));
        } else if seq.first > 0 {
            self.rebuild_sealed(None);
        }
    }

    /// Drops every hidden chunk, and seals `full` after the others.
    fn rebuild_sealed(&mut self, full: Option<Chunk<T>>) {
        let seq = &mut self.seq;
        let kept = seq.sealed.get(seq.first..).unwrap_or_default();
        seq.sealed = kept.iter().cloned().chain(full).collect();
        seq.first = 0;
    }

    pub fn clear(&mut self) {
        self.seq = SharedSeq::default();
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.seq.len
    }

    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }

    /// The points as they are now, shared: later pushes do not change it.
    pub fn view(&self) -> SharedSeq<T> {
        self.seq.clone()
    }

    /// The points, read in place.
    pub fn seq(&self) -> &SharedSeq<T> {
        &self.seq
    }
}

/// One minute of a series: mean and maximum of its samples (NaN if it had none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinutePoint {
    pub mean: f32,
    pub max: f32,
}

impl MinutePoint {
    pub const GAP: MinutePoint = MinutePoint { mean: f32::NAN, max: f32::NAN };

    pub fn is_gap(&self) -> bool {
        self.mean.is_nan()
    }
}

/// Consecutive 1-minute aggregates, oldest first, shared like [`SharedSeq`]: the
/// `i`-th starts `i` minutes after `start`; a minute without samples is a gap.
///
/// On the wire: an array of `{"at": ms, "mean": x, "max": x}`, one a minute, a gap's
/// values `null`. Reading requires consecutive minutes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedMinutes {
    start: Timestamp,
    points: SharedSeq<MinutePoint>,
}

impl SharedMinutes {
    /// Minutes from the one starting at `start` (rounded down to its minute).
    pub fn new(start: Timestamp, points: SharedSeq<MinutePoint>) -> Self {
        SharedMinutes { start: minute_start(start), points }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Each minute's start and aggregate, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (Timestamp, MinutePoint)> + ExactSizeIterator + '_ {
        let start = self.start;
        self.points.iter().enumerate().map(move |(i, p)| (minutes_after(start, i), *p))
    }

    pub fn first(&self) -> Option<(Timestamp, MinutePoint)> {
        self.iter().next()
    }

    pub fn last(&self) -> Option<(Timestamp, MinutePoint)> {
        self.iter().next_back()
    }

    /// The newest `n` minutes.
    pub fn last_n(&self, n: usize) -> Self {
        let start = minutes_after(self.start, self.len().saturating_sub(n));
        SharedMinutes { start, points: self.points.last_n(n) }
    }

    /// From the start of the oldest minute to the end of the newest, if there is one.
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        let (first, _) = self.first()?;
        Some((first, minutes_after(first, self.len())))
    }
}

/// The start of the minute `at` falls in.
pub(crate) fn minute_start(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.as_millis().div_euclid(MINUTE_MS).saturating_mul(MINUTE_MS))
}

/// `count` minutes after `start`, saturating: timestamps read from the wire may be absurd.
fn minutes_after(start: Timestamp, count: usize) -> Timestamp {
    let ms = i64::try_from(count).unwrap_or(i64::MAX).saturating_mul(MINUTE_MS);
    Timestamp::from_millis(start.as_millis().saturating_add(ms))
}

/// A minute on the wire: NaN is not JSON, so a gap's values are `null`.
#[derive(Serialize, Deserialize)]
struct WireMinute {
    at: Timestamp,
    mean: Option<f32>,
    max: Option<f32>,
}

impl Serialize for SharedMinutes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let finite = |v: f32| v.is_finite().then_some(v);
        serializer.collect_seq(self.iter().map(|(at, p)| WireMinute {
            at,
            mean: finite(p.mean),
            max: finite(p.max),
        }))
    }
}

impl<'de> Deserialize<'de> for SharedMinutes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = Vec::<WireMinute>::deserialize(deserializer)?;
        let start = wire.first().map_or(Timestamp::default(), |m| minute_start(m.at));
        let mut points = Vec::with_capacity(wire.len());
        for (i, m) in wire.iter().enumerate() {
            let expected = minutes_after(start, i);
            if minute_start(m.at) != expected {
                return Err(serde::de::Error::custom(format!(
                    "minutes must be consecutive, oldest first: minute {i} is at {}, expected {}",
                    m.at.to_rfc3339(),
                    expected.to_rfc3339()
                )));
            }
            points.push(MinutePoint { mean: m.mean.unwrap_or(f32::NAN), max: m.max.unwrap_or(f32::NAN) });
        }
        Ok(SharedMinutes { start, points: points.into() })
    }
}

#[cfg(test)]
mod tests;
