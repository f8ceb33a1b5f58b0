//! The console's event loop: waits on every source at once (engine snapshots and events,
//! command replies, terminal input, termination signals), feeds each message to
//! [`update`], carries out the effects, and redraws once per burst.
//!
//! Idle means nearly asleep: the loop blocks in `select!` with two timers, one while
//! passing news is on the bottom line, for when it fades, and the console's clock, a
//! second after the last frame, so that the ages on screen count up between slow polls (a
//! 60 s source must not show "data as of 0s ago" for a minute) without a second frame a
//! second when snapshots come every second. After a wake-up it
//! drains whatever else is ready without waiting (held-down keys, an event flurry), then
//! draws once if anything visible changed. Snapshots coalesce by themselves: the watch
//! channel holds only the newest. Generic over the backend and the input stream so tests
//! drive it with a `TestBackend` and scripted keys.

use std::io;
use std::sync::Arc;

use anyhow::Context as _;
use crossterm::event::{Event as TermEvent, KeyEventKind};
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use crate::protocol::{CommandRequest, CommandSender, Connection, Event, LinkState, Reply, Snapshot};

use super::app::{App, Effect, Msg, STATUS_FADE, update};
use super::view::view;

/// Messages handled between two draws, at most: a bound so a flood of input cannot
/// starve the screen.
const MAX_BURST: usize = 256;

/// A command's text and the wait for its reply.
type PendingReply = BoxFuture<'static, (String, Reply)>;

/// What woke the loop.
enum Wake {
    Msg(Msg),
    /// A source closed or sent something of no interest.
    Nothing,
    /// SIGTERM or SIGHUP: leave as if the user quit, restoring the terminal.
    Terminate,
}

struct Sources<S> {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    snapshots_open: bool,
    events: broadcast::Receiver<Event>,
    events_open: bool,
    replies: FuturesUnordered<PendingReply>,
    /// An attached console's link to its daemon (None in-process, or once it closed).
    link: Option<watch::Receiver<LinkState>>,
    input: S,
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
    /// When the status line's passing news (an engine event, a local notice) gives the
    /// line back to the key hints.
    fade_at: Option<tokio::time::Instant>,
    /// The console's clock: a tick a second.
    clock: tokio::time::Interval,
    /// When (console clock) the snapshot shown arrived.
    snapshot_at: tokio::time::Instant,
}

impl<S> Sources<S>
where
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    /// Waits for the next thing to happen. Every branch is cancel-safe, so a wait
    /// abandoned by [`ready_now`] loses nothing.
    async fn next(&mut self) -> anyhow::Result<Wake> {
        #[cfg(unix)]
        let terminate = async {
            match &mut self.signals {
                Some((term, hup)) => tokio::select! { _ = term.recv() => (), _ = hup.recv() => () },
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        let fade_at = self.fade_at;
        let fade = async move {
            match fade_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.snapshots.changed(), if self.snapshots_open => Ok(match changed {
                Ok(()) => {
                    self.snapshot_at = tokio::time::Instant::now();
                    Wake::Msg(Msg::Snapshot(self.snapshots.borrow_and_update().clone()))
                }
                Err(_) => {
                    self.snapshots_open = false;
                    Wake::Msg(Msg::EngineStopped)
                }
            }),
            event = self.events.recv(), if self.events_open => Ok(match event {
                Ok(event) => Wake::Msg(Msg::Engine(event)),
                Err(RecvError::Lagged(missed)) => Wake::Msg(Msg::EventsMissed(missed)),
                Err(RecvError::Closed) => {
                    self.events_open = false;
                    Wake::Nothing
                }
            }),
            changed = link_changed(&mut self.link) => Ok(match changed {
                Some(state) => Wake::Msg(Msg::Link(state)),
                None => {
                    self.link = None;
                    Wake::Nothing
                }
            }),
            Some((command, reply)) = self.replies.next(), if !self.replies.is_empty() => {
                Ok(Wake::Msg(Msg::Reply { command, reply }))
            }
            input = self.input.next() => match input {
                Some(Ok(event)) => Ok(translate(event).map_or(Wake::Nothing, Wake::Msg)),
                Some(Err(err)) => Err(err).context("reading the terminal"),
                None => anyhow::bail!("the terminal's input ended"),
            },
            () = terminate => Ok(Wake::Terminate),
            () = fade => Ok(Wake::Msg(Msg::StatusFaded)),
            _ = self.clock.tick() => Ok(Wake::Msg(Msg::Clock(self.snapshot_at.elapsed()))),
        }
    }
}

/// Whatever is ready now, without waiting. Polled in the loop's own task context, not
/// with `now_or_never`'s no-op waker: crossterm's `EventStream` hands the waker of its
/// first pending poll to the thread that waits on the terminal, and keeps it until input
/// arrives. A no-op waker there means a key wakes nothing, and waits on screen until an
/// engine snapshot happens to wake the loop (a whole poll interval).
async fn ready_now<S>(sources: &mut Sources<S>) -> anyhow::Result<Option<Wake>>
where
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let next = sources.next();
    tokio::pin!(next);
    match futures::poll!(next.as_mut()) {
        std::task::Poll::Ready(wake) => wake.map(Some),
        std::task::Poll::Pending => Ok(None),
    }
}

/// The link's next state; None once its sender is gone; never, without a link.
async fn link_changed(link: &mut Option<watch::Receiver<LinkState>>) -> Option<LinkState> {
    match link {
        Some(link) => link.changed().await.ok().map(|()| link.borrow_and_update().clone()),
        None => std::future::pending().await,
    }
}

fn translate(event: TermEvent) -> Option<Msg> {
    match event {
        TermEvent::Key(key) if key.kind != KeyEventKind::Release => Some(Msg::Key(key)),
        TermEvent::Resize(..) => Some(Msg::Resize),
        // The screen's size is filled in by the loop, which has the terminal.
        TermEvent::Mouse(event) => Some(Msg::Mouse { event, screen: ratatui::layout::Rect::default() }),
        _ => None,
    }
}

/// Sends a command and queues the wait for its reply alongside the other sources.
fn send(commands: &CommandSender, replies: &FuturesUnordered<PendingReply>, request: CommandRequest) {
    let command = request.command.to_string();
    let reply = commands.send(request);
    replies.push(
        async move {
            let reply = reply.await.unwrap_or_else(|_| Reply::Failed {
                error: "the engine dropped the command without answering".into(),
            });
            (command, reply)
        }
        .boxed(),
    );
}

/// Runs the console on `terminal` until the user quits, the process is asked to stop,
/// or the terminal fails. Engine trouble never ends it: a closed engine shows as
/// "engine stopped" and the console stays up until the user leaves.
pub async fn run_loop<B, S>(
    terminal: &mut Terminal<B>,
    input: S,
    conn: Connection,
    mut app: App,
) -> anyhow::Result<()>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    S: Stream<Item = io::Result<TermEvent>> + Unpin,
{
    let Connection { mut snapshots, events, commands, link } = conn;
    if let Some(link) = &link {
        app.link = Some(link.borrow().clone());
    }
    app.snapshot = snapshots.borrow_and_update().clone();
    let mut sources = Sources {
        snapshots,
        snapshots_open: true,
        events,
        events_open: true,
        replies: FuturesUnordered::new(),
        link,
        input,
        #[cfg(unix)]
        signals: termination_signals(),
        fade_at: None,
        clock: console_clock(),
        snapshot_at: tokio::time::Instant::now(),
    };
    terminal.draw(|frame| view(&app, frame)).context("drawing the console")?;
    loop {
        let mut dirty = false;
        let mut resized = false;
        let mut quit = false;
        let mut wake = Some(sources.next().await?);
        let mut handled = 0;
        while let Some(next) = wake.take() {
            match next {
                Wake::Msg(mut msg) => {
                    resized |= matches!(msg, Msg::Resize);
                    if let Msg::Mouse { screen, .. } = &mut msg {
                        let size = terminal.size().context("reading the terminal size")?;
                        *screen = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    }
                    // Engine events redraw only if they changed what is shown (the
                    // status line); input, snapshots, replies and resizes always do.
                    let quiet = matches!(msg, Msg::Engine(_) | Msg::StatusFaded);
                    if matches!(msg, Msg::StatusFaded) {
                        sources.fade_at = None; // spent, whatever the status is now
                    }
                    let status_before = app.status.clone();
                    let effects = update(&mut app, msg);
                    if app.status != status_before {
                        dirty = true;
                        sources.fade_at = app
                            .status
                            .as_ref()
                            .filter(|status| status.fades())
                            .map(|_| tokio::time::Instant::now() + STATUS_FADE);
                    } else if !quiet {
                        dirty = true;
                    }
                    for effect in effects {
                        match effect {
                            Effect::Send(request) => send(&commands, &sources.replies, request),
                            Effect::Quit => quit = true,
                        }
                    }
                }
                Wake::Nothing => {}
                Wake::Terminate => quit = true,
            }
            handled += 1;
            if quit || handled >= MAX_BURST {
                break;
            }
            wake = ready_now(&mut sources).await?;
        }
        if quit {
            return Ok(());
        }
        if resized {
            // The terminal (tmux especially) may have wiped or reflowed the screen while
            // shrinking and growing back to a size ratatui already knew, so its diff
            // against the last frame would skip cells that are no longer there.
            // `Terminal::resize` clears the screen and forgets the last frame without
            // asking the terminal for its cursor position, as `Terminal::clear` does:
            // that query's reply races with the input stream reading stdin and can time
            // out, and a resize must never end the console.
            let size = terminal.size().context("reading the terminal size after a resize")?;
            terminal
                .resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
                .context("clearing the terminal after a resize")?;
        }
        super::diagnostics::collect();
        if dirty {
            terminal.draw(|frame| view(&app, frame)).context("drawing the console")?;
            // The clock is for a screen nothing else redraws: a second from this frame,
            // not a second from its last tick, so 1 s snapshots are one frame a second,
            // not two.
            sources.clock.reset();
        }
    }
}

/// A tick a second, the first one a second from now; a late tick is not made up for.
fn console_clock() -> tokio::time::Interval {
    let period = std::time::Duration::from_secs(1);
    let mut clock = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    clock
}

#[cfg(unix)]
fn termination_signals() -> Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)> {
    use tokio::signal::unix::{SignalKind, signal};
    // Without these a `kill` would leave the user's shell in raw mode.
    Some((signal(SignalKind::terminate()).ok()?, signal(SignalKind::hangup()).ok()?))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use futures::channel::mpsc;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::protocol::{Command, CommandReceiver, SimCommand};
    use crate::ui::fixtures;
    use crate::ui::tests::fixture_app;

    type Keys = mpsc::UnboundedSender<io::Result<TermEvent>>;

    struct Engine {
        snapshots: watch::Sender<Arc<Snapshot>>,
        events: broadcast::Sender<Event>,
        commands: CommandReceiver,
    }

    fn press(keys: &Keys, code: KeyCode) {
        keys.unbounded_send(Ok(TermEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)))).unwrap();
    }

    fn type_line(keys: &Keys, text: &str) {
        press(keys, KeyCode::Char(':'));
        for c in text.chars() {
            press(keys, KeyCode::Char(c));
        }
        press(keys, KeyCode::Enter);
    }

    /// Starts the loop on a 100×20 test terminal; returns the engine's ends, the key
    /// sender, and the running loop (which yields the final screen's text).
    fn start() -> (Engine, Keys, tokio::task::JoinHandle<(anyhow::Result<()>, String)>) {
        let (key_tx, key_rx) = mpsc::unbounded();
        let (engine, handle) = start_on(key_rx);
        (engine, key_tx, handle)
    }

    /// The loop as [`start`] runs it, reading the terminal from `input`.
    fn start_on<S>(input: S) -> (Engine, tokio::task::JoinHandle<(anyhow::Result<()>, String)>)
    where
        S: Stream<Item = io::Result<TermEvent>> + Unpin + Send + 'static,
    {
        let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(fixtures::fleet()));
        let (event_tx, event_rx) = broadcast::channel(4);
        let (command_tx, command_rx) = CommandSender::channel(4);
        let conn = Connection { snapshots: snapshot_rx, events: event_rx, commands: command_tx, link: None };
        let handle = tokio::spawn(async move {
            let mut terminal = Terminal::new(TestBackend::new(120, 20)).unwrap();
            let result = run_loop(&mut terminal, input, conn, fixture_app()).await;
            (result, screen(&terminal))
        });
        (Engine { snapshots: snapshot_tx, events: event_tx, commands: command_rx }, handle)
    }

    fn screen(terminal: &Terminal<TestBackend>) -> String {
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| (0..buffer.area.width).map(|x| buffer[(x, y)].symbol()).collect::<String>() + "\n")
            .collect()
    }

    /// Returns once the loop has handled everything sent to it and waits again. The tests
    /// run on tokio's paused clock, whose time moves only when every task is waiting, so
    /// this sleep ends exactly then — however many polls the loop needs (the loop's own
    /// timers are a second or more away). A loop that never settles fails the tests'
    /// timeouts, not a count.
    async fn until_idle() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    /// A key takes effect when it is pressed, not at the engine's next snapshot: with
    /// nothing else happening, each of several keys in a row is handled (the last quits).
    #[tokio::test(start_paused = true)]
    async fn each_key_is_handled_at_once_with_no_engine_message_to_wake_the_loop() {
        let keys = fixtures::TerminalKeys::default();
        // The engine's ends stay open (and silent) until the end.
        let (_engine, handle) = start_on(keys.clone());
        for key in ['2', '4', '2'] {
            until_idle().await;
            keys.press(KeyCode::Char(key));
        }
        until_idle().await;
        keys.press(KeyCode::Char('q'));
        let (result, screen) = tokio::time::timeout(Duration::from_secs(60), handle)
            .await
            .expect("the keys were left waiting for an engine message")
            .unwrap();
        result.unwrap();
        assert!(screen.contains("paging"), "the alarms view (the third key's) is shown: {screen}");
    }

    /// Issue 15, point 3: between snapshots the data's age counts up on the console's own
    /// clock (a 60 s source must not say "data as of 0s ago" for a minute).
    #[tokio::test(start_paused = true)]
    async fn the_data_age_counts_up_between_snapshots() {
        let (_engine, keys, handle) = start();
        until_idle().await;
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap();
        result.unwrap();
        // The fixture's data is 2 s old when it arrives; 3 ticks of the console's clock later, 5 s.
        assert!(screen.lines().next().unwrap().contains("data as of 5s ago"), "{screen}");
    }

    /// Idle CPU (issue 15, point 19): with a snapshot every second, one frame a second —
    /// the console's clock, there for slow polls, must not draw a second one between.
    #[tokio::test(start_paused = true)]
    async fn snapshots_every_second_are_one_frame_a_second() {
        let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(fixtures::fleet()));
        let (_event_tx, event_rx) = broadcast::channel(4);
        let (command_tx, _command_rx) = CommandSender::channel(4);
        let conn = Connection { snapshots: snapshot_rx, events: event_rx, commands: command_tx, link: None };
        let (flushed, frames) = std::sync::mpsc::channel();
        let (keys, input) = mpsc::unbounded();
        let handle = tokio::spawn(async move {
            let backend = fixtures::Frames { inner: TestBackend::new(120, 20), flushed };
            let mut terminal = Terminal::new(backend).unwrap();
            run_loop(&mut terminal, input, conn, fixture_app()).await
        });
        until_idle().await;
        let first = frames.try_iter().count();
        // Half a second out of step with the clock's first tick.
        tokio::time::sleep(Duration::from_millis(500)).await;
        for seq in 0..10u64 {
            let mut next = fixtures::fleet();
            next.seq = 100 + seq;
            snapshot_tx.send(Arc::new(next)).unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let drawn = frames.try_iter().count();
        assert!((1..=2).contains(&first), "{first} frames at start");
        assert!((10..=11).contains(&drawn), "{drawn} frames for 10 snapshots in 10 s");
        // With no snapshot the clock still draws, a frame a second.
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        let clocked = frames.try_iter().count();
        assert!((3..=4).contains(&clocked), "{clocked} frames in 3.5 s without snapshots");
        press(&keys, KeyCode::Char('q'));
        tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn q_ends_the_loop_with_ok() {
        let (_engine, keys, handle) = start();
        press(&keys, KeyCode::Char('q'));
        let (result, _) = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap();
        result.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_closed_engine_is_shown_and_the_console_stays_until_quit() {
        let (engine, keys, handle) = start();
        drop(engine);
        until_idle().await;
        assert!(!handle.is_finished(), "the console must outlive its engine");
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = tokio::time::timeout(Duration::from_secs(5), handle).await.unwrap().unwrap();
        result.unwrap();
        assert!(screen.contains("ENGINE STOPPED"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_typed_sim_command_reaches_the_engine_and_its_reply_is_shown() {
        let (mut engine, keys, handle) = start();
        type_line(&keys, "sim fail vision 2");
        let (request, reply) =
            tokio::time::timeout(Duration::from_secs(5), engine.commands.recv()).await.unwrap().unwrap();
        assert_eq!(
            request.command,
            Command::Sim { action: SimCommand::Fail { group: "vision".into(), count: 2 } }
        );
        reply.send(Reply::Ok { message: "2 instances failed".into() }).unwrap();
        until_idle().await;
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(screen.contains("ok: sim fail vision 2: 2 instances failed"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn new_snapshots_are_drawn() {
        let (engine, keys, handle) = start();
        let mut next = fixtures::fleet();
        next.seq = 4321;
        // A narrow header drops the tick first: clear the breaker badge and the lease.
        next.groups.iter_mut().for_each(|g| {
            g.controls.clear();
            g.lease = None;
        });
        engine.snapshots.send(Arc::new(next)).unwrap();
        until_idle().await;
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(screen.contains("tick 4321"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn lagging_behind_engine_events_is_reported_not_fatal() {
        let (engine, keys, handle) = start();
        for i in 0..10 {
            let _ =
                engine.events.send(Event::Sim { at: fixtures::TAKEN_AT, description: format!("event {i}") });
        }
        until_idle().await;
        assert!(!handle.is_finished());
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(screen.contains("console fell behind: missed 6 engine events"), "{screen}");
    }

    /// Passing news holds the bottom line for a few seconds, with its time, then the key
    /// hints come back (issue 15, point 12); a command's reply stays.
    #[tokio::test(start_paused = true)]
    async fn an_engine_event_fades_from_the_bottom_line_and_the_key_hints_come_back() {
        let (engine, keys, handle) = start();
        let _ =
            engine.events.send(Event::Sim { at: fixtures::TAKEN_AT, description: "vision: 2 failed".into() });
        until_idle().await;
        tokio::time::sleep(STATUS_FADE - Duration::from_secs(1)).await;
        assert!(!handle.is_finished());
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(screen.contains("00:00 UTC sim: vision: 2 failed"), "shown with its time: {screen}");

        let (engine, keys, handle) = start();
        let _ =
            engine.events.send(Event::Sim { at: fixtures::TAKEN_AT, description: "vision: 2 failed".into() });
        until_idle().await;
        tokio::time::sleep(STATUS_FADE + Duration::from_secs(1)).await;
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(!screen.contains("vision: 2 failed"), "faded: {screen}");
        assert!(screen.contains("help") && screen.contains("quit"), "the key hints are back: {screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_commands_reply_does_not_fade() {
        let (mut engine, keys, handle) = start();
        type_line(&keys, "sim fail vision 2");
        let (_, reply) = engine.commands.recv().await.unwrap();
        reply.send(Reply::Ok { message: "2 instances failed".into() }).unwrap();
        until_idle().await;
        tokio::time::sleep(STATUS_FADE * 3).await;
        press(&keys, KeyCode::Char('q'));
        let (result, screen) = handle.await.unwrap();
        result.unwrap();
        assert!(screen.contains("ok: sim fail vision 2: 2 instances failed"), "{screen}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_terminal_ends_the_loop_with_an_error() {
        let (_engine, keys, handle) = start();
        keys.unbounded_send(Err(io::Error::other("tty gone"))).unwrap();
        let (result, _) = handle.await.unwrap();
        assert!(format!("{:#}", result.unwrap_err()).contains("tty gone"));
    }
}
