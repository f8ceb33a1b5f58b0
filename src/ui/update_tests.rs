//! Behaviour of `update`: keys through the keymap, the command line, replies and engine
//! messages. Pure: no terminal, no channels.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::model::PauseMode;
use crate::model::Timestamp;
use crate::protocol::{Command, Event, LinkState, Reply, SimCommand, Target};

use super::app::{Effect, Mode, Msg, StatusKind, update};
use super::fixtures;
use super::tests::{fixture_app, is_now_line, screen_text};

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut super::App, text: &str) -> Vec<Effect> {
    let mut effects = update(app, key(KeyCode::Char(':')));
    for c in text.chars() {
        effects.extend(update(app, key(KeyCode::Char(c))));
    }
    effects.extend(update(app, key(KeyCode::Enter)));
    effects
}

#[test]
fn j_and_k_move_the_selection_and_clamp_at_the_ends() {
    let mut app = fixture_app();
    assert_eq!(app.selected, 0);
    update(&mut app, key(KeyCode::Char('k')));
    assert_eq!(app.selected, 0, "clamped at the top");
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Down));
    assert_eq!(app.selected, 2);
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.selected, 2, "clamped at the bottom");
    update(&mut app, key(KeyCode::Up));
    assert_eq!(app.selected, 1);
}

#[test]
fn selection_on_an_empty_fleet_stays_at_zero() {
    let mut app =
        super::tests::app_with(crate::protocol::Snapshot::empty(false, fixtures::POLL, fixtures::POLL));
    for code in [KeyCode::Char('j'), KeyCode::Char('k'), KeyCode::Char('G')] {
        update(&mut app, key(code));
        assert_eq!(app.selected, 0);
    }
}

#[test]
fn selection_follows_the_group_when_the_engine_reorders_groups() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('j')));
    let mut reordered = fixtures::fleet();
    reordered.groups.reverse();
    update(&mut app, Msg::Snapshot(Arc::new(reordered)));
    assert_eq!(app.selected_group().unwrap().spec.name, "vision");
    let mut shrunk = fixtures::fleet();
    shrunk.groups.truncate(1);
    update(&mut app, key(KeyCode::Char('G')));
    update(&mut app, Msg::Snapshot(Arc::new(shrunk)));
    assert_eq!(app.selected, 0, "a vanished group's index is clamped");
}

#[test]
fn colon_text_enter_sends_a_sim_command_as_the_operator() {
    let mut app = fixture_app();
    let effects = typed(&mut app, "sim spike llm-chat x5 2m");
    assert_eq!(app.mode, Mode::Normal);
    let [Effect::Send(request)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(request.operator.name, "ana");
    assert_eq!(request.reason, None);
    assert_eq!(
        request.command,
        Command::Sim { action: "spike llm-chat x5 2m".parse::<SimCommand>().unwrap() }
    );
}

#[test]
fn a_bad_sim_command_shows_the_parser_error_and_sends_nothing() {
    let mut app = fixture_app();
    let effects = typed(&mut app, "sim fail vision two");
    assert!(effects.is_empty(), "{effects:?}");
    let status = app.status.clone().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert!(status.text.contains("bad instance count `two`"), "{}", status.text);
    assert!(screen_text(&app, 120, 40).contains("bad instance count `two`"));
}

#[test]
fn unknown_commands_are_named_and_send_nothing() {
    let mut app = fixture_app();
    assert!(typed(&mut app, "rescale vision 4").is_empty());
    assert!(app.status.unwrap().text.contains("unknown command `rescale`"));
}

#[test]
fn q_quits_and_so_does_colon_q() {
    let mut app = fixture_app();
    assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Effect::Quit]);
    let mut app = fixture_app();
    assert_eq!(typed(&mut app, "q"), vec![Effect::Quit]);
    let mut app = fixture_app();
    let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(update(&mut app, ctrl_c), vec![Effect::Quit]);
}

#[test]
fn q_is_text_on_the_command_line() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char(':')));
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty());
    assert_eq!(app.mode, Mode::CommandLine("q".into()));
}

#[test]
fn esc_and_backspace_on_an_empty_line_leave_the_command_line() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char(':')));
    update(&mut app, key(KeyCode::Char('s')));
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.mode, Mode::Normal);
    update(&mut app, key(KeyCode::Char(':')));
    update(&mut app, key(KeyCode::Backspace));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn tab_completes_group_names_after_the_sim_verb() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char(':')));
    for c in "sim fail vi".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.mode, Mode::CommandLine("sim fail vision ".into()));
}

#[test]
fn a_reply_updates_the_status_line() {
    let mut app = fixture_app();
    let command = "sim fail vision 2".to_string();
    update(
        &mut app,
        Msg::Reply { command: command.clone(), reply: Reply::Ok { message: "2 failed".into() } },
    );
    assert_eq!(app.status.clone().unwrap().kind, StatusKind::Ok);
    assert!(screen_text(&app, 120, 40).contains("ok: sim fail vision 2: 2 failed"));
    update(&mut app, Msg::Reply { command, reply: Reply::Refused { reason: "read-only".into() } });
    let status = app.status.clone().unwrap();
    assert_eq!(
        (status.kind, status.text.as_str()),
        (StatusKind::Error, "refused: sim fail vision 2: read-only")
    );
}

#[test]
fn enter_toggles_the_detail_pane_and_esc_closes_it() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Enter));
    assert!(app.detail_open);
    update(&mut app, key(KeyCode::Enter));
    assert!(!app.detail_open);
    update(&mut app, key(KeyCode::Enter));
    update(&mut app, key(KeyCode::Esc));
    assert!(!app.detail_open);
}

#[test]
fn help_opens_with_question_mark_scrolls_with_j_and_k_and_any_other_key_closes_it() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(app.mode, Mode::Help);
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('j')));
    update(&mut app, key(KeyCode::Char('k')));
    assert_eq!((app.mode.clone(), app.help_scroll, app.selected), (Mode::Help, 1, 0), "j/k scroll the help");
    assert!(update(&mut app, key(KeyCode::Char('x'))).is_empty());
    assert_eq!((app.mode.clone(), app.selected), (Mode::Normal, 0), "the closing key does nothing else");
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(app.help_scroll, 0, "help opens at the top");
    update(&mut app, key(KeyCode::Char('?')));
    assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Effect::Quit], "q still quits from help");
}

#[test]
fn engine_stopping_is_shown_not_fatal() {
    let mut app = fixture_app();
    assert!(update(&mut app, Msg::EngineStopped).is_empty());
    assert!(app.engine_stopped);
    let text = screen_text(&app, 80, 24);
    assert!(text.contains("ENGINE STOPPED"), "{text}");
    assert!(text.contains("engine stopped"), "{text}");
}

#[test]
fn missed_engine_events_are_reported() {
    let mut app = fixture_app();
    update(&mut app, Msg::EventsMissed(7));
    assert!(app.status.unwrap().text.contains("missed 7 engine events"));
}

#[test]
fn other_operators_commands_show_and_our_own_do_not_repeat() {
    let mut app = fixture_app();
    let handled = |operator: &str| {
        Msg::Engine(Event::CommandHandled {
            at: Timestamp(0),
            operator: operator.into(),
            command: "sim fail vision 1".into(),
            reply: Reply::Ok { message: "done".into() },
        })
    };
    update(&mut app, handled("ana"));
    assert_eq!(app.status, None);
    update(&mut app, handled("bob"));
    assert_eq!(app.status.unwrap().text, "00:00 UTC bob: sim fail vision 1: ok", "with its time");
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "`:panic`")]
fn colon_panic_panics_in_debug_builds() {
    let mut app = fixture_app();
    typed(&mut app, "panic");
}

#[test]
fn engine_events_do_not_wipe_an_unread_error() {
    let mut app = fixture_app();
    typed(&mut app, "sim boom");
    let sim = || Msg::Engine(Event::Sim { at: Timestamp(0), description: "spike on vision".into() });
    update(&mut app, sim());
    assert_eq!(app.status.clone().unwrap().kind, StatusKind::Error);
    update(&mut app, key(KeyCode::Esc));
    assert_eq!(app.status, None, "esc dismisses");
    update(&mut app, sim());
    assert_eq!(app.status.unwrap().text, "00:00 UTC sim: spike on vision");
}

#[test]
fn colon_pause_sends_the_pause_with_its_reason() {
    let mut app = fixture_app();
    let effects = typed(&mut app, "pause llm-chat 30m --scale-in-only -- INC-123");
    let [Effect::Send(request)] = effects.as_slice() else { panic!("{effects:?}") };
    assert_eq!(request.operator.name, "ana");
    assert_eq!(request.reason.as_deref(), Some("INC-123"));
    assert_eq!(
        request.command,
        Command::Pause {
            target: Target::Group("llm-chat".into()),
            duration: Some(std::time::Duration::from_secs(30 * 60)),
            mode: PauseMode::ScaleInOnly,
        }
    );
    assert_eq!(app.status.as_ref().unwrap().text, "sent: pause llm-chat 30m --scale-in-only");
}

#[test]
fn a_malformed_operator_command_shows_the_error_and_sends_nothing() {
    let mut app = fixture_app();
    let effects = typed(&mut app, "scale llm-chat lots");
    assert!(effects.is_empty(), "{effects:?}");
    let status = app.status.as_ref().unwrap();
    assert_eq!(status.kind, StatusKind::Error);
    assert!(status.text.contains("bad instance count `lots`"), "{}", status.text);
}

#[test]
fn tab_completes_an_operator_verb_and_group_name() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char(':')));
    for c in "pa".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    update(&mut app, key(KeyCode::Tab));
    update(&mut app, key(KeyCode::Char('v')));
    update(&mut app, key(KeyCode::Tab));
    assert_eq!(app.mode, Mode::CommandLine("pause vision ".into()));
}

#[test]
fn slash_filters_the_table_as_typed_enter_keeps_it_and_esc_drops_it() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('/')));
    for c in "VIS".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    assert_eq!(app.mode, Mode::Filter("VIS".into()));
    let vision = app.snapshot.groups.iter().position(|g| g.spec.name == "vision").unwrap();
    assert_eq!(app.rows(), [vision], "the table follows the typing");
    assert_eq!(app.selected, vision, "the selection moves onto a row that is shown");
    update(&mut app, key(KeyCode::Enter));
    assert_eq!((app.mode.clone(), app.filter.as_str()), (Mode::Normal, "VIS"));
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.selected, vision, "j stays within the filtered rows");
    assert!(screen_text(&app, 120, 40).contains("/VIS: 1 of 3 groups"));

    // esc closes the detail pane first, then drops the filter.
    app.detail_open = true;
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Esc));
    assert_eq!((app.detail_open, app.filter.as_str(), app.rows().len()), (false, "", 3));

    // A filter that matches nothing says so, and leaves nothing selected.
    update(&mut app, key(KeyCode::Char('/')));
    update(&mut app, key(KeyCode::Char('z')));
    assert!(app.selected_group().is_none());
    assert!(screen_text(&app, 120, 40).contains("no group matches /z"));
    update(&mut app, key(KeyCode::Esc));
    assert_eq!((app.mode.clone(), app.filter.as_str()), (Mode::Normal, ""));
}

#[test]
fn the_filter_is_a_regex_a_bang_inverts_it_and_text_that_is_not_one_is_matched_as_is() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('/')));
    for c in "!^emb".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    let names = |app: &crate::ui::app::App| -> Vec<String> {
        app.rows().iter().map(|&i| app.snapshot.groups[i].spec.name.clone()).collect()
    };
    assert_eq!(names(&app), ["llm-chat", "vision"]);
    update(&mut app, key(KeyCode::Esc));
    update(&mut app, key(KeyCode::Char('/')));
    for c in "llm(".chars() {
        update(&mut app, key(KeyCode::Char(c)));
    }
    let screen = screen_text(&app, 120, 40);
    assert!(screen.lines().last().unwrap().contains("not a regex: matched as text"), "{screen}");
    assert!(names(&app).is_empty());
}

#[test]
fn shift_o_reverses_the_sort_and_colon_sort_picks_a_column() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('o'))); // name
    let forward = app.rows();
    update(&mut app, Msg::Key(KeyEvent::new(KeyCode::Char('O'), KeyModifiers::SHIFT)));
    assert!(app.sort.reversed);
    assert_eq!(app.rows(), forward.iter().rev().copied().collect::<Vec<_>>());
    assert!(screen_text(&app, 120, 40).contains("sort: name z→a"));
    // o goes on to the next column in its usual direction.
    update(&mut app, key(KeyCode::Char('o')));
    assert!(!app.sort.reversed);
    // :sort picks a column and a direction at once, and sends nothing.
    assert!(typed(&mut app, "sort p95 asc").is_empty());
    assert_eq!(
        app.sort,
        crate::ui::order::Sort { key: crate::ui::order::SortKey::LatencyP95, reversed: true }
    );
    assert!(screen_text(&app, 120, 40).contains("sort: p95 ↑"));
}

#[test]
fn o_cycles_the_sort_and_the_selection_keys_follow_the_sorted_rows() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('o')));
    assert_eq!(app.sort.key, crate::ui::order::SortKey::Name);
    let rows = app.rows();
    let names: Vec<&str> = rows.iter().map(|&i| app.snapshot.groups[i].spec.name.as_str()).collect();
    assert_eq!(names, ["embeddings", "llm-chat", "vision"]);
    update(&mut app, key(KeyCode::Char('g')));
    assert_eq!(app.selected, rows[0]);
    update(&mut app, key(KeyCode::Char('j')));
    assert_eq!(app.selected, rows[1]);
    update(&mut app, key(KeyCode::Char('G')));
    assert_eq!(app.selected, rows[2]);
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("sort: name"), "{screen}");
    let order: Vec<usize> = ["embeddings", "llm-chat", "vision"]
        .iter()
        .map(|n| {
            screen.lines().position(|l| !is_now_line(l) && l.split_whitespace().any(|w| w == *n)).unwrap()
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "drawn in sorted order: {screen}");
}

#[test]
fn p_asks_before_pausing_and_y_sends_exactly_what_the_dialog_said() {
    let mut app = fixture_app();
    assert!(update(&mut app, key(KeyCode::Char('p'))).is_empty(), "nothing is sent before confirming");
    let Mode::Dialog(dialog) = &app.mode else { panic!("a dialog opens: {:?}", app.mode) };
    let said = dialog.what_happens().join(" ");
    assert!(said.contains("Automated changes to llm-chat stop for 30m"), "{said}");
    assert!(screen_text(&app, 120, 40).contains("pause llm-chat?"));
    update(&mut app, key(KeyCode::Char('i')));
    let sent = update(&mut app, key(KeyCode::Char('y')));
    let [Effect::Send(request)] = sent.as_slice() else { panic!("{sent:?}") };
    assert_eq!(
        request.command,
        Command::Pause {
            target: Target::Group("llm-chat".into()),
            duration: Some(std::time::Duration::from_secs(1800)),
            mode: PauseMode::ScaleInOnly
        }
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn n_cancels_a_dialog_and_nothing_is_sent() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('s')));
    update(&mut app, key(KeyCode::Char('+')));
    assert!(update(&mut app, key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    assert!(screen_text(&app, 120, 40).contains("cancelled: nothing was sent"));
}

#[test]
fn a_force_scale_typed_as_digits_is_sent_with_its_hold() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('s')));
    for code in [KeyCode::Backspace, KeyCode::Backspace, KeyCode::Char('6'), KeyCode::Char('d')] {
        update(&mut app, key(code));
    }
    let sent = update(&mut app, key(KeyCode::Enter));
    let [Effect::Send(request)] = sent.as_slice() else { panic!("{sent:?}") };
    assert_eq!(
        request.command,
        Command::ForceScale {
            group: "llm-chat".into(),
            desired: 6,
            hold: std::time::Duration::from_secs(3600),
            beyond_max: false
        }
    );
}

#[test]
fn a_mutating_key_in_a_readonly_console_is_refused_on_the_spot() {
    let mut app = fixture_app();
    app.readonly = true;
    for c in ['p', 'r', 's', 'R', 'm', 'w'] {
        assert!(update(&mut app, key(KeyCode::Char(c))).is_empty());
        assert_eq!(app.mode, Mode::Normal, "{c}: no dialog in a read-only console");
    }
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("refused: shadow: this console is read-only"), "{screen}");
}

fn header(app: &super::App) -> String {
    screen_text(app, 220, 40).lines().next().unwrap_or_default().to_string()
}

fn every_series_stale(app: &super::App) -> bool {
    app.snapshot.groups.iter().flat_map(|g| &g.series).all(|s| s.stale)
}

/// Issue 15, point 3: the age on screen is counted by the console's own clock, so it
/// grows between slow polls and when snapshots stop; overdue, every figure is old.
#[test]
fn the_data_age_counts_up_on_the_consoles_clock_and_overdue_data_is_all_old() {
    let mut app = fixture_app();
    assert!(header(&app).contains("data as of 2s ago"), "{}", header(&app));
    update(&mut app, Msg::Clock(Duration::from_secs(9)));
    assert!(header(&app).contains("data as of 11s ago"), "{}", header(&app));
    assert_eq!(app.old, None, "9 s is within 2 × the 5 s poll + 5 s");
    assert!(!every_series_stale(&app));
    update(&mut app, Msg::Clock(Duration::from_secs(16)));
    assert_eq!(app.old.as_deref(), Some("no snapshot from the engine for 16s"));
    assert!(every_series_stale(&app), "every figure is marked old");
    assert!(app.snapshot.groups.iter().all(|g| g.capacity_stale));
    assert!(header(&app).contains("lease: unknown"), "{}", header(&app));
    // A fresh snapshot is fresh again.
    update(&mut app, Msg::Snapshot(Arc::new(fixtures::fleet())));
    assert_eq!((app.old.as_deref(), app.since_snapshot), (None, Duration::ZERO));
    assert!(!every_series_stale(&app));
}

/// Issue 15, point 3: after `:sim gap llm-chat 30s` the header said "data as of 0s ago":
/// the capacity series, which the engine records every tick, counted as fresh data.
#[test]
fn a_gap_in_one_groups_metrics_ages_the_header_whatever_its_capacity_series_say() {
    let mut fleet = fixtures::fleet();
    let gap_from = fixtures::TAKEN_AT.minus(Duration::from_secs(30));
    let chat = &mut fleet.groups[0];
    assert!(chat.series.iter().any(|s| s.kind.is_capacity()), "the fixture has capacity series");
    for series in chat.series.iter_mut().filter(|s| !s.kind.is_capacity()) {
        let kept: Vec<_> = series.points.iter().copied().filter(|p| p.at <= gap_from).collect();
        series.points = kept.into();
    }
    let mut app = fixture_app();
    update(&mut app, Msg::Snapshot(Arc::new(fleet)));
    // The fixture samples every 5 s, the newest 2 s before the snapshot: 32 s is kept.
    assert!(header(&app).contains("data as of 32s ago!"), "{}", header(&app));
}

/// Issue 15, point 3: an attached console whose daemon is gone said "data as of 0s ago"
/// and "lease: this engine"; attached, the lease is the daemon's.
#[test]
fn a_console_whose_daemon_is_gone_marks_every_figure_old() {
    let mut app = fixture_app();
    update(&mut app, Msg::Link(LinkState::Connected { engine: "demo".into() }));
    let mut fleet = fixtures::fleet();
    for group in &mut fleet.groups {
        if let Some(lease) = &mut group.lease {
            lease.ours = true;
        }
    }
    update(&mut app, Msg::Snapshot(Arc::new(fleet)));
    assert!(header(&app).contains("lease: the daemon (1 of 3 groups)"), "{}", header(&app));
    let gone = LinkState::Disconnected { error: "connection refused".into(), retry_at: fixtures::TAKEN_AT };
    update(&mut app, Msg::Link(gone));
    assert_eq!(app.old.as_deref(), Some("disconnected from the daemon"));
    assert!(every_series_stale(&app));
    assert!(header(&app).contains("lease: unknown"), "{}", header(&app));
    update(&mut app, Msg::Clock(Duration::from_secs(20)));
    assert!(header(&app).contains("data as of 22s ago"), "{}", header(&app));
}

/// Issue 15, point 18: `esc` did nothing in view 4. It closes what is open, clears the
/// filter, then goes back to the fleet.
#[test]
fn esc_in_the_decision_log_collapses_clears_the_filter_then_goes_back_to_the_fleet() {
    let mut app = fixture_app();
    update(&mut app, key(KeyCode::Char('4')));
    assert_eq!(app.view, super::app::View::Decisions);
    update(&mut app, key(KeyCode::Enter));
    app.filter = "llm".into();
    let esc = || key(KeyCode::Esc);
    update(&mut app, esc());
    assert!(!app.decisions.expanded);
    assert_eq!((app.view, app.filter.as_str()), (super::app::View::Decisions, "llm"));
    update(&mut app, esc());
    assert_eq!((app.view, app.filter.as_str()), (super::app::View::Decisions, ""));
    update(&mut app, esc());
    assert_eq!(app.view, super::app::View::Fleet);
    // The alarms view (2) goes back the same way.
    update(&mut app, key(KeyCode::Char('2')));
    update(&mut app, esc());
    assert_eq!(app.view, super::app::View::Fleet);
}

/// Issue 15, point 10: the reset dialog was offered with nothing tripped.
#[test]
fn r_with_no_open_trip_anywhere_says_so_and_opens_nothing() {
    let mut app = fixture_app();
    let mut fleet = fixtures::fleet();
    for group in &mut fleet.groups {
        group.controls.retain(|c| c.kind != crate::protocol::ControlKind::Breaker);
    }
    update(&mut app, Msg::Snapshot(Arc::new(fleet)));
    assert!(update(&mut app, key(KeyCode::Char('R'))).is_empty());
    assert_eq!(app.mode, Mode::Normal);
    let status = app.status.as_ref().map(|s| s.text.as_str());
    assert_eq!(status, Some("nothing to reset: no circuit-breaker trip is open"));
    // With vision's trip back, R on llm-chat opens the reset of all groups.
    update(&mut app, Msg::Snapshot(Arc::new(fixtures::fleet())));
    update(&mut app, key(KeyCode::Char('R')));
    let Mode::Dialog(dialog) = &app.mode else { panic!("a dialog: {:?}", app.mode) };
    assert!(
        dialog.all && dialog.title().starts_with("reset the circuit breaker of all"),
        "{}",
        dialog.title()
    );
}

/// The fixture with an alarm firing on `embeddings` too (llm-chat has one already).
fn two_groups_firing() -> crate::protocol::Snapshot {
    let mut fleet = fixtures::fleet();
    let chat_alarm = fleet.groups[0].alarms[0].clone();
    let embeddings = fleet.groups.iter_mut().find(|g| g.spec.name == "embeddings").unwrap();
    embeddings.alarms.push(chat_alarm);
    fleet
}

#[test]
fn the_war_room_cycles_through_the_groups_with_alarms_firing_and_hears_only_quit() {
    let mut app = super::tests::app_with(two_groups_firing());
    app.start_war_room();
    assert!(app.readonly && app.detail_open);
    let name = |app: &super::app::App| app.selected_group().map(|g| g.spec.name.clone()).unwrap();
    let first = name(&app);
    // Every key but quit is ignored.
    for code in [KeyCode::Char('j'), KeyCode::Char('p'), KeyCode::Enter, KeyCode::Char(':')] {
        assert!(update(&mut app, key(code)).is_empty());
        assert_eq!((name(&app), app.mode.clone(), app.detail_open), (first.clone(), Mode::Normal, true));
    }
    // Snapshots before the dwell keep the group; the one after moves to the next firing
    // group, and the one after that wraps around.
    let snapshot_at = |after: std::time::Duration| {
        let mut s = two_groups_firing();
        s.taken_at = s.taken_at.plus(after);
        Msg::Snapshot(Arc::new(s))
    };
    let dwell = super::app::WAR_ROOM_DWELL;
    update(&mut app, snapshot_at(dwell / 2));
    assert_eq!(name(&app), first);
    update(&mut app, snapshot_at(dwell));
    let second = name(&app);
    assert_ne!(second, first);
    assert!(
        ["llm-chat", "embeddings"].contains(&second.as_str())
            && ["llm-chat", "embeddings"].contains(&first.as_str())
    );
    update(&mut app, snapshot_at(dwell * 2));
    assert_eq!(name(&app), first);
    // Between slow polls the console's clock moves it on (issue 15, point 3).
    update(&mut app, Msg::Clock(dwell));
    assert_eq!(name(&app), second);
    let screen = screen_text(&app, 120, 40);
    assert!(screen.contains("WAR ROOM") && screen.contains("of 2 groups with alarms firing"), "{screen}");
    assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Effect::Quit]);
}

fn mouse(kind: crossterm::event::MouseEventKind, row: u16) -> Msg {
    let event = crossterm::event::MouseEvent { kind, column: 10, row, modifiers: KeyModifiers::NONE };
    Msg::Mouse { event, screen: ratatui::layout::Rect::new(0, 0, 120, 40) }
}

#[test]
fn the_wheel_moves_the_selection_and_a_click_selects_the_row_under_it() {
    use crossterm::event::{MouseButton, MouseEventKind};
    let mut app = fixture_app();
    app.detail_open = true;
    update(&mut app, mouse(MouseEventKind::ScrollDown, 0));
    assert_eq!(app.selected, 1);
    update(&mut app, mouse(MouseEventKind::ScrollUp, 0));
    assert_eq!(app.selected, 0);
    // Click on embeddings' row, then on a line under vision's row (its failing backend).
    let screen = screen_text(&app, 120, 40);
    let row_of = |needle: &str| screen.lines().position(|l| l.contains(needle)).unwrap() as u16;
    let embeddings = app.snapshot.groups.iter().position(|g| g.spec.name == "embeddings").unwrap();
    update(&mut app, mouse(MouseEventKind::Down(MouseButton::Left), row_of(" embeddings ")));
    assert_eq!(app.selected, embeddings);
    update(&mut app, mouse(MouseEventKind::Down(MouseButton::Left), row_of("└ actuator:")));
    assert_eq!(app.selected, 1, "a line under a row belongs to that row's group");
    // The header is no row.
    update(&mut app, mouse(MouseEventKind::Down(MouseButton::Left), 0));
    assert_eq!(app.selected, 1);
    // Not while a dialog is open.
    update(&mut app, key(KeyCode::Char('p')));
    update(&mut app, mouse(MouseEventKind::ScrollDown, 0));
    assert_eq!(app.selected, 1);
}

#[test]
fn a_click_on_a_column_heading_sorts_by_it_and_again_reverses_it() {
    // Issue 15, point 18: a sort by column.
    use crate::ui::order::SortKey;
    use crossterm::event::{MouseButton, MouseEventKind};
    let mut app = fixture_app();
    let screen = screen_text(&app, 120, 40);
    let (y, heading) = screen.lines().enumerate().find(|(_, l)| l.contains("rdy/wrm/des")).unwrap();
    let click = |app: &mut crate::ui::App, word: &str| {
        let x = heading.find(&format!(" {word} ")).map(|i| heading[..i + 1].chars().count()).unwrap() as u16;
        let event = crossterm::event::MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column: x,
            row: y as u16,
            modifiers: KeyModifiers::NONE,
        };
        update(app, Msg::Mouse { event, screen: ratatui::layout::Rect::new(0, 0, 120, 40) });
    };
    let selected = app.selected;
    click(&mut app, "p95");
    assert_eq!((app.sort.key, app.sort.reversed), (SortKey::LatencyP95, false));
    click(&mut app, "p95");
    assert_eq!((app.sort.key, app.sort.reversed), (SortKey::LatencyP95, true), "again: reversed");
    click(&mut app, "group");
    assert_eq!((app.sort.key, app.sort.reversed), (SortKey::Name, false));
    assert!(app.status.as_ref().is_some_and(|s| s.text.contains("sorted by name")));
    // A heading with no sort key changes nothing; a click on a heading selects no row.
    click(&mut app, "min-max");
    assert_eq!(app.sort.key, SortKey::Name);
    assert_eq!(app.selected, selected);
}

#[test]
fn in_the_decision_log_the_wheel_moves_through_entries_and_a_click_picks_no_group() {
    use crossterm::event::{MouseButton, MouseEventKind};
    let mut app = fixture_app(); // with the fixture decision log
    app.view = crate::ui::app::View::Decisions;
    update(&mut app, mouse(MouseEventKind::ScrollDown, 0));
    let rows = crate::ui::decisions::rows(&app);
    assert_eq!(app.decisions.selected(&rows), 1, "the wheel moves in the log");
    let selected = app.selected;
    for row in 0..10 {
        update(&mut app, mouse(MouseEventKind::Down(MouseButton::Left), row));
    }
    assert_eq!(app.selected, selected, "a click in the log is not a click on the fleet table");
}

/// `esc` then a digit, typed quickly, arrives as alt-digit (issue 15, point 2).
fn alt(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

#[test]
fn esc_then_a_digit_read_as_one_alt_key_is_both_keys() {
    let mut app = fixture_app();
    update(&mut app, alt('2'));
    assert_eq!(app.view, super::app::View::Alarms);
    // Typing a command: the escape cancels it, then the digit changes the view.
    update(&mut app, key(KeyCode::Char(':')));
    update(&mut app, key(KeyCode::Char('p')));
    update(&mut app, alt('4'));
    assert!(matches!(app.mode, Mode::Normal), "{:?}", app.mode);
    assert_eq!(app.view, super::app::View::Decisions);
    // Help: the escape closes it, the digit is heard.
    update(&mut app, key(KeyCode::Char('?')));
    assert!(matches!(app.mode, Mode::Help));
    update(&mut app, alt('1'));
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.view, super::app::View::Fleet);
}

/// Issue 15, point 8: quitting a console whose engine holds leases stops the autoscaler
/// of those groups, so `q` asks and says which; `q` again (or confirming) quits.
#[test]
fn quitting_a_console_that_holds_leases_asks_and_names_what_stops() {
    let mut fleet = fixtures::fleet();
    let lease = fleet.groups.iter().find_map(|g| g.lease.clone()).expect("the fixture has a lease");
    for name in ["llm-chat", "embeddings"] {
        let group = fleet.groups.iter_mut().find(|g| g.spec.name == name).unwrap();
        group.lease = Some(crate::protocol::LeaseView { ours: true, ..lease.clone() });
        group.controls.retain(|c| c.kind != crate::protocol::ControlKind::Shadow);
    }
    let mut app = super::tests::app_with(fleet.clone());
    assert!(update(&mut app, key(KeyCode::Char('q'))).is_empty(), "the first q asks");
    let Mode::Dialog(dialog) = &app.mode else { panic!("a dialog: {:?}", app.mode) };
    let said = dialog.what_happens().join(" ");
    assert!(said.contains("llm-chat, embeddings stop autoscaling"), "{said}");
    assert!(!said.contains("vision"), "vision's lease is not ours: {said}");
    assert_eq!(update(&mut app, key(KeyCode::Char('n'))), Vec::new());
    assert!(matches!(app.mode, Mode::Normal), "n cancels");
    update(&mut app, key(KeyCode::Char('q')));
    assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Effect::Quit], "q q quits");

    // Nothing stops with a read-only console, or with no lease of its own: q quits at once.
    let mut readonly = super::tests::app_with(fleet);
    readonly.readonly = true;
    assert_eq!(update(&mut readonly, key(KeyCode::Char('q'))), vec![Effect::Quit]);
    let mut app = fixture_app();
    assert_eq!(update(&mut app, key(KeyCode::Char('q'))), vec![Effect::Quit]);
}
