use proptest::prelude::*;

use super::*;

fn pause(mode: PauseMode, by: &str, until: Option<i64>, reason: &str) -> Pause {
    Pause { mode, by: by.into(), until: until.map(Timestamp), reason: reason.into() }
}

#[test]
fn a_pause_is_written_in_the_documented_format_and_read_back() {
    let p =
        pause(PauseMode::ScaleInOnly, "ana@example.com", Some(1_796_238_000_000), "INC-123 deploy freeze");
    let text = encode(&p);
    assert_eq!(
        text,
        "v1 mode=scale-in-only by=ana@example.com until=2026-12-02T19:00:00Z why=INC-123%20deploy%20freeze"
    );
    assert_eq!(parse(&text), Ok(p));
    let open_ended = pause(PauseMode::Full, "bob", None, "");
    assert_eq!(encode(&open_ended), "v1 mode=full by=bob");
    assert_eq!(parse("v1 mode=full by=bob"), Ok(open_ended));
}

#[test]
fn spaces_equals_signs_percents_and_unicode_are_escaped() {
    let p = pause(PauseMode::Full, "Zoë Ops", None, "50% = too much; see #ops");
    let text = encode(&p);
    assert_eq!(text, "v1 mode=full by=Zo%C3%AB%20Ops why=50%25%20%3D%20too%20much%3B%20see%20%23ops");
    assert!(text.is_ascii());
    assert_eq!(parse(&text), Ok(p));
}

#[test]
fn a_long_reason_is_cut_to_fit_an_asg_tag_and_marked() {
    let p = pause(PauseMode::Full, "ana", Some(1_796_238_000_000), &"é".repeat(300));
    let text = encode(&p);
    assert!(text.len() <= MAX_MARKER_LEN, "{}", text.len());
    let back = parse(&text).unwrap();
    assert!(back.reason.ends_with('…') && back.reason.starts_with("éé"), "{}", back.reason);
    assert_eq!((back.by.as_str(), back.until, back.mode), ("ana", p.until, PauseMode::Full));
}

#[test]
fn a_long_author_with_no_reason_is_cut_and_marked() {
    // No reason to cut, so the author is cut (the property test once expected it whole).
    let p = pause(PauseMode::ScaleInOnly, &"é".repeat(200), Some(253_402_300_799_000), "");
    let text = encode(&p);
    assert!(text.len() <= MAX_MARKER_LEN, "{}", text.len());
    let back = parse(&text).unwrap();
    assert!(back.by.starts_with("éé") && back.by.ends_with('…'), "{}", back.by);
    assert_eq!((back.reason.as_str(), back.until, back.mode), ("", p.until, PauseMode::ScaleInOnly));
}

#[test]
fn malformed_markers_say_what_is_wrong() {
    let cases = [
        ("", "empty"),
        ("v2 mode=full by=ana", "starts with `v2`, not `v1`"),
        ("v1 by=ana", "no `mode`"),
        ("v1 mode=full", "no `by` (who paused)"),
        ("v1 mode=full by=", "no `by` (who paused)"),
        ("v1 mode=stop by=ana", "mode `stop` is not `full` or `scale-in-only`"),
        ("v1 mode=full by=ana color=red", "unknown key `color`"),
        ("v1 by=ana mode=full", "`mode` is repeated or out of order"),
        ("v1 mode=full mode=full by=ana", "`mode` is repeated or out of order"),
        ("v1 mode=full  by=ana", "is not key=value"),
        ("v1 mode=full by=ana why=50%", "a bad escape at `%`"),
        ("v1 mode=full by=ana why=%zz", "a bad escape"),
        ("v1 mode=full by=ana why=%FF", "an escape that is not UTF-8"),
        ("v1 mode=full by=ana why=a+b", "`+` must be percent-encoded"),
        ("v1 mode=full by=ana until=tomorrow", "bad timestamp `tomorrow`"),
        ("paused by ana during INC-123", "starts with `paused`"),
    ];
    for (text, expected) in cases {
        let err = parse(text).expect_err(text);
        assert!(err.problem.contains(expected), "{text:?}: {err}");
        assert!(err.to_string().starts_with("unreadable pause marker `"), "{err}");
    }
    let long = format!("v1 mode=full by=ana why={}", "x".repeat(300));
    assert!(parse(&long).unwrap_err().problem.contains("longer than 256"));
}

#[test]
fn an_unreadable_marker_is_a_full_pause_with_a_warning() {
    let read = read("paused by ana during INC-123, do not touch");
    assert_eq!(read.pause.mode, PauseMode::Full);
    assert_eq!((read.pause.by.as_str(), read.pause.until), (UNREADABLE_BY, None));
    assert!(read.pause.reason.contains("paused by ana during INC-123"), "{}", read.pause.reason);
    let warning = read.warning.expect("a warning");
    assert!(warning.contains("counted as a full pause"), "{warning}");
    let fine = super::read("v1 mode=scale-in-only by=ana");
    assert_eq!((fine.pause.mode, fine.warning), (PauseMode::ScaleInOnly, None));
}

proptest! {
    #[test]
    fn any_pause_encodes_to_at_most_256_ascii_characters_that_read_back(
        by in "\\PC{1,200}",
        reason in "\\PC{0,400}",
        until in proptest::option::of(0i64..253_402_300_799_000),
        full in any::<bool>(),
    ) {
        prop_assume!(!by.trim().is_empty());
        let mode = if full { PauseMode::Full } else { PauseMode::ScaleInOnly };
        let p = Pause { mode, by: by.clone(), until: until.map(Timestamp), reason: reason.clone() };
        let text = encode(&p);
        prop_assert!(text.len() <= MAX_MARKER_LEN && text.is_ascii(), "{} chars: {text}", text.len());
        let back = parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back.mode, mode);
        prop_assert_eq!(back.until, p.until);
        if back.reason != reason {
            // Cut to fit: the reason keeps its start and says it was cut, or is gone.
            let kept = back.reason.trim_end_matches('…');
            prop_assert!(reason.starts_with(kept) && back.reason.ends_with('…') || back.reason.is_empty());
        }
        if back.by != by {
            // The author is cut only once the reason is gone, and says so too.
            prop_assert!(back.reason.is_empty(), "{back:?}");
            prop_assert!(back.by.ends_with('…') && by.starts_with(back.by.trim_end_matches('…')), "{back:?}");
        }
    }
}
