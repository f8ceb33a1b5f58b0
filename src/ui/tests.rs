//! Whole-screen tests: insta snapshots of the fixture fleet at fixed sizes (symbols and
//! styles: ratatui's `Buffer` debug output lists every style change), and a sweep of
//! tiny and odd sizes that must draw without panicking.

use std::sync::Arc;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::protocol::{Operator, Snapshot};

use super::app::{App, Mode, Status, StatusKind};
use super::dialog::Dialog;
use super::theme::Theme;
use super::{detail, fixtures, fleet, header, help, status, view};

pub(crate) fn app_with(snapshot: Snapshot) -> App {
    App::new(Arc::new(snapshot), Operator { name: "ana".into(), email: None, auth: None }, false)
}

/// The fixture fleet with the detail pane closed: the table alone.
pub(crate) fn fixture_app() -> App {
    app_closed(fixtures::fleet())
}

/// `snapshot` with the detail pane closed, and the fixture decision log.
fn app_closed(snapshot: Snapshot) -> App {
    let mut app = app_with(snapshot);
    app.detail_open = false;
    for entry in fixtures::decisions() {
        app.decisions.push(entry);
    }
    app
}

#[test]
fn the_detail_pane_is_open_at_start() {
    assert!(app_with(fixtures::fleet()).detail_open);
}

fn draw(app: &App, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::view(app, frame)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screen's text only, for assertions about content.
pub(crate) fn screen_text(app: &App, width: u16, height: u16) -> String {
    let buf = draw(app, width, height);
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn fleet_screen_160x40() {
    insta::assert_debug_snapshot!(draw(&fixture_app(), 160, 40));
}

#[test]
fn fleet_screen_20x5() {
    insta::assert_debug_snapshot!(draw(&fixture_app(), 20, 5));
}

#[test]
fn detail_pane_of_a_failing_group_120x40() {
    let mut app = fixture_app();
    app.detail_open = true;
    app.selected = 1;
    insta::assert_debug_snapshot!(draw(&app, 120, 40));
}

#[test]
fn readonly_engine_stopped_and_command_line_80x24() {
    let mut app = fixture_app();
    app.readonly = true;
    app.engine_stopped = true;
    app.mode = Mode::CommandLine("sim spike llm-chat x5 2m".into());
    insta::assert_debug_snapshot!(draw(&app, 80, 24));
}

/// The force-scale dialog on the fixture's first group, beyond its max (12) and within
/// its hard cap (24).
fn scale_dialog() -> Dialog {
    let fleet = fixtures::fleet();
    let mut dialog = Dialog::scale(&fleet.groups[0], &fleet);
    for digit in [2, 0] {
        dialog.digit(digit);
    }
    dialog
}

/// Every view at the two sizes the issue names, in each theme and without colour: a
/// change of theme shows in the snapshot's styles.
#[test]
fn every_view_in_every_theme_at_120x40_and_80x24() {
    let themes = [
        ("dark", Theme::dark()),
        ("light", Theme::preset("light").expect("the light preset")),
        ("high_contrast", Theme::preset("high-contrast").expect("the high-contrast preset")),
        ("no_color", Theme::monochrome()),
    ];
    type Open = fn(&mut App);
    let views: [(&str, Open); 8] = [
        ("fleet", |_| {}),
        ("detail", |app| app.detail_open = true),
        ("help", |app| app.mode = Mode::Help),
        ("dialog", |app| app.mode = Mode::Dialog(scale_dialog())),
        ("war_room", |app| app.start_war_room()),
        ("alarms", |app| app.view = super::app::View::Alarms),
        ("decisions", |app| app.view = super::app::View::Decisions),
        ("decision_expanded", |app| {
            app.view = super::app::View::Decisions;
            app.decisions.expanded = true;
        }),
    ];
    for (theme_name, theme) in &themes {
        for (view_name, open) in views {
            for (width, height) in [(120, 40), (80, 24)] {
                let mut app = fixture_app();
                app.theme = theme.clone();
                open(&mut app);
                let name = format!("{view_name}_{width}x{height}_{theme_name}");
                insta::assert_debug_snapshot!(name, draw(&app, width, height));
            }
        }
    }
}

#[test]
fn every_part_draws_into_every_tiny_area_without_panicking() {
    let mut sizes: Vec<(u16, u16)> = (0..=10).flat_map(|w| (0..=3).map(move |h| (w, h))).collect();
    sizes.extend([
        (1, 40),
        (200, 1),
        (19, 4),
        (21, 6),
        (39, 15),
        (40, 14),
        (41, 17),
        (79, 23),
        (99, 30),
        (255, 255),
    ]);
    let mut states = Vec::new();
    for (detail_open, mode) in [
        (false, Mode::Normal),
        (true, Mode::Normal),
        (true, Mode::Help),
        (false, Mode::CommandLine("sim fail vision 2".into())),
        (false, Mode::Filter("vis".into())),
        (true, Mode::Dialog(scale_dialog())),
    ] {
        let mut app = fixture_app();
        app.detail_open = detail_open;
        app.mode = mode;
        app.status =
            Some(Status { kind: StatusKind::Error, text: "error: something long enough to wrap".into() });
        states.push(app);
    }
    let mut empty = app_with(Snapshot::empty(true, fixtures::POLL, fixtures::POLL * 3));
    empty.detail_open = true;
    states.push(empty);
    for app in &states {
        for &(w, h) in &sizes {
            // The whole screen, through a terminal.
            draw(app, w, h);
            // Each part on its own, at an offset inside a larger buffer and at the edge.
            let mut buf = Buffer::empty(Rect::new(0, 0, w.saturating_add(3), h.saturating_add(2)));
            for area in [Rect::new(1, 1, w, h), Rect::new(3, 2, w, h), Rect::new(0, 0, 0, 0)] {
                header::render(app, area, &mut buf);
                fleet::render(app, area, &mut buf);
                detail::render(app, area, &mut buf);
                status::render(app, status::Hidden { health_lines: true, detail: true }, area, &mut buf);
                help::render(app, area, &mut buf);
                view::render(app, area, &mut buf);
            }
        }
    }
}

#[test]
fn tiny_screens_still_name_every_group_with_its_health_and_state() {
    let text = screen_text(&fixture_app(), 20, 5);
    assert!(text.contains(" S llm-chat"), "shadow mode marked:\n{text}");
    assert!(text.contains("xB vision"), "failing backend and breaker trip marked:\n{text}");
    assert!(text.contains("~P embedd"), "stale series and pause marked:\n{text}");
    assert!(!text.contains("└"), "no room for lines under the rows:\n{text}");
}

#[test]
fn the_detail_pane_says_how_much_minute_history_is_held() {
    let mut app = app_with(fixtures::fleet());
    let text = screen_text(&app, 120, 40);
    let (line, next) = line_and_next(&text, "history");
    assert!(line.contains("history   21:21–23:59 UTC (158 min)"), "{text}");
    assert!(next.trim_start().starts_with("gpu util") && next.contains('▇'), "a sparkline a metric:\n{text}");
    app.selected = 2;
    let text = screen_text(&app, 120, 40);
    assert!(line_and_next(&text, "history").0.contains("history   none yet"), "{text}");
}

#[test]
fn without_charts_the_history_span_follows_the_facts() {
    let text = screen_text(&app_with(fixtures::fleet()), 79, 50);
    assert!(!text.contains("latency"), "no charts below 80 columns:\n{text}");
    let (_, next) = line_and_next(&text, "actuator  ok");
    assert!(next.starts_with("history   21:21–23:59 UTC (158 min)"), "{text}");
}

/// Whether a screen line is the "what is wrong now" line, which names groups too.
pub(crate) fn is_now_line(line: &str) -> bool {
    line.starts_with(" NOW ") || line.starts_with(" LAST KNOWN ")
}

/// The first body line (not the "now" line) holding `needle`, and the line after it.
fn line_and_next<'a>(text: &'a str, needle: &str) -> (&'a str, &'a str) {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| !is_now_line(l) && l.contains(needle))
        .unwrap_or_else(|| panic!("{needle}:\n{text}"));
    (lines[i], lines.get(i + 1).copied().unwrap_or(""))
}

#[test]
fn pause_and_foreign_lease_are_spelled_out_under_their_row() {
    let text = screen_text(&fixture_app(), 120, 40);
    let (row, under) = line_and_next(&text, "embeddings");
    assert!(row.starts_with(" ~P embeddings"), "{row}");
    assert!(under.contains("└ paused (scale-in only) by ana until 2026-01-01T00:30:00Z: INC-123"), "{text}");
    let (_, under) = line_and_next(&text, "└ paused");
    assert!(under.contains("└ observing: engine-b on ops-2 holds the lease, acts and pages"), "{text}");
}

#[test]
fn breaker_trip_follows_the_failing_backend_under_its_row() {
    let text = screen_text(&fixture_app(), 120, 40);
    let (_, under) = line_and_next(&text, "└ actuator: SetDesiredCapacity");
    assert!(under.contains("└ breaker actuator failures open (all scaling frozen)"), "{text}");
}

/// Issue 15, point 4: shadow mode was only a mark, which B/P/H win over; every state a
/// group is in has its line under the row.
#[test]
fn shadow_mode_has_its_line_under_the_row_even_when_another_state_wins_the_mark() {
    let text = screen_text(&fixture_app(), 120, 40);
    let (row, under) = line_and_next(&text, "llm-chat");
    assert!(row.starts_with("> S llm-chat"), "{row}");
    assert!(under.contains("└ shadow mode: decisions are shown, not acted on"), "{text}");
    // Paused too: P wins the mark, and both lines are there.
    let mut fleet = fixtures::fleet();
    let pause = crate::protocol::ControlView {
        kind: crate::protocol::ControlKind::Pause,
        text: "paused (no automated changes) by ana until resumed".into(),
        clears_itself: false,
    };
    fleet.groups[0].controls.insert(0, pause);
    let text = screen_text(&app_closed(fleet), 120, 40);
    let (row, under) = line_and_next(&text, "llm-chat");
    assert!(row.starts_with(" P llm-chat") || row.starts_with("> P llm-chat"), "{row}");
    assert!(under.contains("└ paused (no automated changes) by ana"), "{text}");
    let (_, under) = line_and_next(&text, "└ paused (no automated");
    assert!(under.contains("└ shadow mode"), "{text}");
}

#[test]
fn an_engine_holding_its_own_lease_is_not_observing() {
    let mut snapshot = fixtures::fleet();
    let embeddings = &mut snapshot.groups[2];
    embeddings.controls.clear();
    embeddings.lease.as_mut().unwrap().ours = true;
    let text = screen_text(&app_closed(snapshot), 120, 40);
    let (row, under) = line_and_next(&text, "embeddings");
    assert!(row.starts_with(" ~  embeddings"), "{row}");
    assert!(!under.contains("└"), "{text}");
}

#[test]
fn another_engine_holding_the_lease_is_marked_l() {
    let mut snapshot = fixtures::fleet();
    snapshot.groups[2].controls.clear();
    let text = screen_text(&app_closed(snapshot), 120, 40);
    let (row, under) = line_and_next(&text, "embeddings");
    assert!(row.starts_with(" ~L embeddings"), "{row}");
    assert!(under.contains("└ observing: engine-b"), "{text}");
}

#[test]
fn a_held_group_is_marked_h_and_its_hold_spelled_out() {
    let mut snapshot = fixtures::fleet();
    snapshot.groups[2].controls = vec![crate::protocol::ControlView {
        kind: crate::protocol::ControlKind::Hold,
        clears_itself: false,
        text: "held at 4 by ana until 2026-01-01T00:20:00Z".into(),
    }];
    snapshot.groups[2].lease = None;
    let text = screen_text(&app_closed(snapshot), 120, 40);
    let (row, under) = line_and_next(&text, "embeddings");
    assert!(row.starts_with(" ~H embeddings"), "{row}");
    assert!(under.contains("└ held at 4 by ana until 2026-01-01T00:20:00Z"), "{text}");
}

#[test]
fn decision_column_appears_from_160_columns_with_shadow_decisions_as_would() {
    let narrow = screen_text(&fixture_app(), 159, 40);
    assert!(!line_and_next(&narrow, "    group").0.contains("decision"), "{narrow}");
    assert!(!narrow.contains("scale out 8→10"), "{narrow}");
    let wide = screen_text(&fixture_app(), 160, 40);
    let (heading, _) = line_and_next(&wide, "    group");
    assert!(heading.trim_end().ends_with("decision"), "{heading}");
    let (chat, _) = line_and_next(&wide, "llm-chat");
    assert!(chat.contains("would scale out 8→10: gpu_util"), "{chat}");
    let (vision, _) = line_and_next(&wide, "vision");
    assert!(vision.contains("no change at 3"), "not a shadow decision, no \"would\": {vision}");
    assert!(!vision.contains("would"), "{vision}");
}

#[test]
fn long_decisions_are_cut_with_an_ellipsis() {
    let mut snapshot = fixtures::fleet();
    snapshot.groups[1].decision.as_mut().unwrap().reason = format!("no change at 3: {}", "x".repeat(300));
    let text = screen_text(&app_closed(snapshot), 200, 40);
    let (vision, _) = line_and_next(&text, " vision");
    assert!(vision.trim_end().ends_with("x…"), "{vision}");
}

#[test]
fn failing_backend_is_spelled_out_under_its_row() {
    let text = screen_text(&fixture_app(), 120, 40);
    assert!(text.contains("actuator: SetDesiredCapacity: rate exceeded · attempt 3 · retry in 4s"), "{text}");
}

#[test]
fn header_counts_stale_series_and_shows_data_age_and_tick() {
    let text = screen_text(&fixture_app(), 120, 40);
    let header = text.lines().next().unwrap();
    assert!(header.contains("~1 stale series"), "{header}");
    assert!(header.contains("data as of 2s ago"), "{header}");
    assert!(header.contains("1 BREAKER OPEN"), "{header}");
    assert!(header.contains("3 groups"), "{header}");
    assert!(!header.contains("READ-ONLY"), "{header}");
    // On a wide screen, everything: the lease holder, the price of requests, the tick.
    let wide = screen_text(&fixture_app(), 220, 40);
    let header = wide.lines().next().unwrap();
    for part in ["lease: engine-b on ops-2 (1 of 3 groups)", "/1k req", "tick 1234"] {
        assert!(header.contains(part), "{part}: {header}");
    }
}

#[test]
fn readonly_badge_shows_even_on_narrow_screens() {
    let mut app = fixture_app();
    app.readonly = true;
    let text = screen_text(&app, 30, 10);
    assert!(text.lines().next().unwrap().contains("READ-ONLY"), "{text}");
}

#[test]
fn vllm_rows_label_kv_cache() {
    let text = screen_text(&fixture_app(), 120, 40);
    let row = text.lines().find(|l| !is_now_line(l) && l.contains("llm-chat")).unwrap();
    assert!(row.contains("kv 72%"), "{row}");
}

mod odd_data {
    //! Whatever an engine (or a buggy source) sends, the screen draws without panicking.
    use proptest::prelude::*;

    use super::*;
    use crate::model::{Sample, Timestamp};
    use crate::protocol::BackendHealth;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => 0.0..2.0f64,
            1 => Just(f64::NAN),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => Just(-1.0e300),
            1 => Just(1.0e300),
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![Just(String::new()), "[a-z-]{1,40}", Just("模型-推理-群".to_string())]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_snapshot_draws_at_any_size(
            names in proptest::collection::vec(name(), 0..6),
            values in proptest::collection::vec(value(), 0..40),
            at_offsets in proptest::collection::vec(-1_000_000i64..1_000_000, 0..40),
            width in 0u16..200,
            height in 0u16..50,
            detail_open: bool,
            selected in 0usize..8,
            no_capacity: bool,
        ) {
            let mut snapshot = fixtures::fleet();
            let template = snapshot.groups[0].clone();
            snapshot.groups = names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let mut g = template.clone();
                    g.spec.name = name.clone();
                    if no_capacity {
                        g.capacity = None;
                    }
                    if i % 2 == 1 {
                        g.source = BackendHealth::Failing {
                            error: name.repeat(3),
                            since: Timestamp(i64::MIN),
                            attempts: u32::MAX,
                            retry_at: Timestamp(i64::MAX),
                        };
                    }
                    if i % 2 == 0 {
                        // Engine text of any length, and a foreign lease, under the row.
                        g.controls.push(crate::protocol::ControlView {
                            kind: crate::protocol::ControlKind::Pause,
                            clears_itself: false,
                            text: format!("paused by {}", name.repeat(4)),
                        });
                        g.lease = Some(crate::protocol::LeaseView {
                            holder: name.clone(),
                            host: name.repeat(2),
                            expires_at: Timestamp(i64::MAX),
                            ours: false,
                        });
                        if let Some(d) = g.decision.as_mut() {
                            d.reason = name.repeat(9);
                        }
                    }
                    for series in &mut g.series {
                        series.points = values
                            .iter()
                            .zip(&at_offsets)
                            .map(|(&value, &offset)| Sample { at: Timestamp(fixtures::TAKEN_AT.0 + offset), value })
                            .collect();
                        series.stale = i % 3 == 0;
                    }
                    g
                })
                .collect();
            let mut app = app_with(snapshot);
            app.detail_open = detail_open;
            app.selected = selected.min(names.len().saturating_sub(1));
            draw(&app, width, height);
        }
    }
}

#[test]
fn a_firing_alarm_held_back_by_a_warm_up_says_so_in_the_detail_pane() {
    let mut snapshot = fixtures::fleet();
    let firing = snapshot.groups[0].alarms.iter_mut().find(|a| a.state == crate::model::AlarmState::Firing);
    let alarm = firing.expect("the fixture's llm-chat has a firing alarm");
    alarm.held_until = Some(crate::model::Timestamp::from_millis(1_767_225_725_000));
    let text = screen_text(&app_with(snapshot), 200, 50);
    assert!(text.contains("paging    queue-high held to 00:02:05"), "{text}");
}

/// Issue 15, point 16: at 80 columns a description longer than the overlay wraps under
/// itself, every word shown ("!… i" was cut).
#[test]
fn help_at_80_columns_wraps_long_descriptions_instead_of_cutting_them() {
    let mut app = fixture_app();
    app.mode = Mode::Help;
    let screen = screen_text(&app, 80, 40);
    let filter = super::keymap::Action::Filter.description();
    assert!(filter.chars().count() > 80 - 20, "the filter's description is a long one: {filter}");
    let shown: String =
        screen.lines().map(|l| l.trim_matches(|c| c == '│' || c == ' ')).collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = filter.split(' ').collect();
    let joined = words.join(" ");
    assert!(
        shown.split_whitespace().collect::<Vec<_>>().join(" ").contains(&joined),
        "every word of {filter:?} in order:\n{screen}"
    );
}

/// The help overlay is as wide as its widest line where the terminal has the room: at
/// 200×50 no description is cut (it was a fixed 76 columns, which cut "by name or inst").
#[test]
fn help_at_200x50_shows_every_line_whole() {
    let mut app = fixture_app();
    app.mode = Mode::Help;
    let (width, height) = (200, 50);
    let screen = screen_text(&app, width, height);
    // The lines inside the border before it scrolls.
    for line in super::help::lines(&app).iter().take(usize::from(height - 2)) {
        let text = line.to_string();
        assert!(screen.contains(text.trim_end()), "cut: {text:?}\n{screen}");
    }
}
