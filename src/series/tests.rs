use proptest::prelude::*;

use super::*;

fn buffer(capacity: usize, values: impl IntoIterator<Item = u32>) -> ChunkedBuffer<u32> {
    let mut b = ChunkedBuffer::new(capacity);
    for v in values {
        b.push(v);
    }
    b
}

fn collect(seq: &SharedSeq<u32>) -> Vec<u32> {
    seq.iter().copied().collect()
}

#[test]
fn a_view_taken_before_pushes_does_not_change() {
    let mut b = buffer(200, 0..100);
    let view = b.view();
    for v in 100..400 {
        b.push(v);
    }
    assert_eq!(collect(&view), (0..100).collect::<Vec<_>>());
    assert_eq!(collect(b.seq()), (200..400).collect::<Vec<_>>());
}

#[test]
fn a_view_shares_the_sealed_chunks_instead_of_copying_them() {
    let b = buffer(600, 0..600);
    let view = b.view();
    assert!(Arc::ptr_eq(&view.sealed, &b.seq().sealed));
    assert!(Arc::ptr_eq(&view.tail, &b.seq().tail));
    assert_eq!(view.sealed.len(), 600 / CHUNK_POINTS);
}

#[test]
fn a_full_buffer_drops_whole_chunks_and_hides_the_rest() {
    let b = buffer(100, 0..1000);
    assert_eq!(b.len(), 100);
    assert_eq!(collect(b.seq()), (900..1000).collect::<Vec<_>>());
    let held: usize = b.seq().sealed.iter().map(|c| c.len()).sum::<usize>() + b.seq().tail.len();
    assert!(held < 100 + CHUNK_POINTS, "{held} points held");
}

#[test]
fn the_iterator_is_double_ended_with_an_exact_length() {
    let b = buffer(150, 0..300);
    let mut iter = b.seq().iter();
    assert_eq!(iter.len(), 150);
    assert_eq!((iter.next(), iter.next_back()), (Some(&150), Some(&299)));
    assert_eq!(iter.len(), 148);
    let middle: Vec<u32> = iter.rev().copied().collect();
    assert_eq!(middle, (151..299).rev().collect::<Vec<_>>());
    assert_eq!((b.seq().first(), b.seq().last()), (Some(&150), Some(&299)));
}

#[test]
fn nth_and_skip_land_where_a_flat_copy_does() {
    let b = buffer(150, 0..300);
    let flat: Vec<u32> = (150..300).collect();
    for n in [0, 1, 40, 63, 64, 100, 149, 150, 500] {
        let mut iter = b.seq().iter();
        assert_eq!(iter.nth(n), flat.get(n), "nth({n})");
        assert_eq!(iter.len(), flat.len().saturating_sub(n + 1), "left after nth({n})");
        assert_eq!(iter.next(), flat.get(n + 1), "next after nth({n})");
        assert!(b.seq().iter().skip(n).eq(flat.iter().skip(n)), "skip({n})");
    }
}

#[test]
fn last_n_and_iter_from_skip_whole_chunks() {
    let b = buffer(600, 0..700);
    assert_eq!(collect(&b.seq().last_n(70)), (630..700).collect::<Vec<_>>());
    assert_eq!(b.seq().last_n(1000).len(), 600);
    assert!(b.seq().last_n(0).is_empty());
    assert_eq!(b.seq().iter_from(530).copied().collect::<Vec<_>>(), (630..700).collect::<Vec<_>>());
    assert_eq!(b.seq().iter_from(600).next(), None);
    assert_eq!(b.seq().iter_from(9999).len(), 0);
}

#[test]
fn partition_point_finds_the_first_point_not_before() {
    let b = buffer(600, (0..700).map(|v| v * 2));
    let seq = b.seq();
    assert_eq!(seq.partition_point(|&v| v < 200), 0);
    assert_eq!(seq.partition_point(|&v| v < 201), 1);
    assert_eq!(seq.partition_point(|&v| v < 1000), 400);
    assert_eq!(seq.partition_point(|&v| v < 1001), 401);
    assert_eq!(seq.partition_point(|_| true), 600);
}

#[test]
fn points_serialise_as_a_flat_array_and_read_back_as_one_chunk() {
    let b = buffer(100, 0..250);
    let json = serde_json::to_string(b.seq()).unwrap();
    assert_eq!(json, serde_json::to_string(&(150..250).collect::<Vec<u32>>()).unwrap());
    let back: SharedSeq<u32> = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, b.seq());
    assert!(back.sealed.is_empty());
}

#[test]
fn minutes_serialise_with_their_start_and_gaps_as_null() {
    let start = Timestamp::from_millis(10 * MINUTE_MS);
    let minutes = SharedMinutes::new(
        start,
        vec![MinutePoint { mean: 1.5, max: 2.0 }, MinutePoint::GAP, MinutePoint { mean: 3.0, max: 4.0 }]
            .into(),
    );
    let json = serde_json::to_string(&minutes).unwrap();
    assert_eq!(
        json,
        r#"[{"at":600000,"mean":1.5,"max":2.0},{"at":660000,"mean":null,"max":null},{"at":720000,"mean":3.0,"max":4.0}]"#
    );
    let back: SharedMinutes = serde_json::from_str(&json).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back.first(), minutes.first());
    assert!(back.iter().nth(1).is_some_and(|(_, p)| p.is_gap()));
    assert_eq!(back.span(), Some((start, Timestamp::from_millis(13 * MINUTE_MS))));
}

#[test]
fn minutes_that_are_not_consecutive_are_refused() {
    let json = r#"[{"at":600000,"mean":1,"max":1},{"at":720000,"mean":1,"max":1}]"#;
    let err = serde_json::from_str::<SharedMinutes>(json).unwrap_err();
    assert!(err.to_string().contains("consecutive"), "{err}");
}

#[test]
fn the_newest_minutes_keep_their_timestamps() {
    let minutes = SharedMinutes::new(
        Timestamp::from_millis(0),
        (0..100).map(|i| MinutePoint { mean: i as f32, max: i as f32 }).collect(),
    );
    let last = minutes.last_n(3);
    let starts: Vec<i64> = last.iter().map(|(at, _)| at.as_millis() / MINUTE_MS).collect();
    assert_eq!(starts, vec![97, 98, 99]);
    assert_eq!(last.last(), minutes.last());
    assert_eq!(SharedMinutes::default().span(), None);
}

proptest! {
    /// Whatever the capacity and the number of pushes, a buffer holds exactly the newest
    /// `capacity` points, as a flat `VecDeque` did, and every view keeps what it saw.
    #[test]
    fn views_equal_a_flat_copy(capacity in 0usize..300, pushes in 0u32..1000, every in 1u32..200) {
        let mut b = ChunkedBuffer::new(capacity);
        let mut flat = std::collections::VecDeque::new();
        let mut views = Vec::new();
        for v in 0..pushes {
            b.push(v);
            if capacity > 0 {
                if flat.len() == capacity {
                    flat.pop_front();
                }
                flat.push_back(v);
            }
            if v % every == 0 {
                views.push((b.view(), flat.iter().copied().collect::<Vec<_>>()));
            }
            prop_assert!(b.len() <= capacity);
        }
        prop_assert_eq!(collect(b.seq()), flat.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(b.seq().iter().rev().count(), flat.len());
        for (view, expected) in views {
            prop_assert_eq!(view.len(), expected.len());
            prop_assert_eq!(collect(&view), expected.clone());
            let reversed: Vec<u32> = view.iter().rev().copied().collect();
            prop_assert_eq!(reversed, expected.iter().rev().copied().collect::<Vec<_>>());
        }
    }
}
