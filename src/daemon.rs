//! `fleetdeck --auto`: the engine with no terminal, for a bastion, a systemd service or a
//! Kubernetes Deployment. It ticks and acts exactly as under a console, listens on the
//! fleet's Unix socket for consoles and `fleetdeck ctl`, and writes one line per thing
//! that happened to standard output: JSON (default) or text (`--log-format text`).
//!
//! What is written: every event of the protocol — decision-log entries (`decided`),
//! alarm transitions, breaker trips, operator commands and their replies, backend
//! failures and recoveries, simulator events — except `scaled`, which only repeats a
//! `decided` entry; and the daemon's own `listening` and `stopped` lines. fleetdeck's own
//! log (`$FLEETDECK_LOG`) goes to standard error.
//!
//! SIGINT or SIGTERM: the tick under way finishes, leases are released, the decision log
//! and the store are flushed, `stopped` is written, and the process exits 0.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::engine::Engine;
use crate::exporter::Exporter;
use crate::model::Timestamp;
use crate::model::words::alarm_state;
use crate::protocol::{Backend, Event, Reply};
use crate::remote::Listening;
use crate::remote::server::{Backlog, ServerContext, UnixServer};

/// How the daemon writes its lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object a line (`"event"` names what it is).
    #[default]
    Json,
    /// One line of words a line, for people.
    Text,
}

pub struct AutoOptions {
    pub log_format: LogFormat,
    /// A TCP address to listen on too, with the bearer token its clients must present.
    pub listen: Option<TcpListen>,
    /// The config file SIGHUP reads again (None: the built-in demo, nothing to reload).
    pub config_path: Option<PathBuf>,
    /// Where to serve `/metrics` and `/healthz` (port 0: any free one, reported).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The Unix socket to listen on.
    pub socket: PathBuf,
    /// Where to record where it listens (`daemon.json`), if anywhere.
    pub discovery: Option<PathBuf>,
}

/// The TCP listener's settings.
pub struct TcpListen {
    pub addr: std::net::SocketAddr,
    /// The tokens its clients may present, each naming its operator or none.
    pub tokens: crate::remote::token::Tokens,
    /// Certificate chain and private key (PEM): TLS on every connection.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// The daemon's own lines (not engine events).
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum DaemonLine<'a> {
    Listening {
        at: Timestamp,
        socket: &'a std::path::Path,
        #[serde(skip_serializing_if = "Option::is_none")]
        metrics: Option<std::net::SocketAddr>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tcp: Option<std::net::SocketAddr>,
        engine: &'a str,
        pid: u32,
    },
    Stopped {
        at: Timestamp,
        signal: &'a str,
    },
    /// SIGHUP: the config was read again and applied where it can be while running.
    Reloaded {
        at: Timestamp,
        applied: &'a [String],
        restart_needed: &'a [String],
    },
    /// SIGHUP: the config could not be used; the running one is kept.
    ReloadFailed {
        at: Timestamp,
        error: &'a str,
    },
}

/// Runs `engine` until SIGINT or SIGTERM, writing lines to `out`.
///
/// If the engine task ends by itself (it returned, or it panicked) the daemon cleans up as
/// for a signal (socket and discovery file removed, `stopped` written) and then returns an
/// error saying what happened, so the process exits non-zero. Standard output going away
/// is logged and the daemon keeps running: its decisions are in the decision log, and a
/// daemon that died with its reader would leave its leases to expire mid-tick.
pub async fn run(engine: Engine, options: AutoOptions, out: impl Write + Send) -> anyhow::Result<()> {
    let mut out = LineOut::new(out);
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let reloader = engine.reloader();
    let connector = engine.connector();
    let identity = engine.identity().to_string();
    let now = || crate::clock::Clock::now(&crate::clock::SystemClock);
    let server = UnixServer::bind(&options.socket).await?;
    let metrics = match options.metrics_listen {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            Some((listener.local_addr()?, listener))
        }
        None => None,
    };
    let metrics_addr = metrics.as_ref().map(|(addr, _)| *addr);
    let tcp = match &options.listen {
        Some(TcpListen { addr, tokens, tls }) => {
            let tls = match tls {
                Some((cert, key)) => {
                    Some(crate::remote::tls::acceptor(cert, key).map_err(anyhow::Error::msg)?)
                }
                None => None,
            };
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
            Some((listener.local_addr()?, listener, std::sync::Arc::new(tokens.clone()), tls))
        }
        None => None,
    };
    let tcp_addr = tcp.as_ref().map(|(addr, ..)| *addr);
    let listening = Listening {
        socket: server.path().to_path_buf(),
        metrics: metrics_addr,
        tcp: tcp_addr,
        pid: std::process::id(),
        engine: identity.clone(),
    };
    if let Some(path) = &options.discovery {
        record(path, &listening);
    }
    let context = ServerContext {
        connector: connector.clone(),
        engine: identity.clone(),
        readonly: engine.snapshot().readonly,
        backlog: Backlog::follow(&connector),
        raw_points: engine.settings().raw_points,
        minute_points: engine.settings().minute_points,
    };
    let mut events = connector.connect().events;
    let line = DaemonLine::Listening {
        at: now(),
        socket: server.path(),
        metrics: metrics_addr,
        tcp: tcp_addr,
        engine: &identity,
        pid: listening.pid,
    };
    write_line(&mut out, options.log_format, &line, || {
        let metrics = metrics_addr.map_or(String::new(), |a| format!(", metrics on http://{a}/metrics"));
        let tcp = tcp_addr.map_or(String::new(), |a| format!(", tcp on {a}"));
        format!("listening on {}{tcp}{metrics} as {identity}", server.path().display())
    });
    let exporter_tasks = metrics.map(|(_, listener)| {
        let exporter = std::sync::Arc::new(Exporter::new(engine.clock()));
        let follow = exporter.follow(&connector);
        let serve = tokio::spawn(async move {
            if let Err(err) = crate::exporter::serve(listener, exporter).await {
                tracing::error!(%err, "serving /metrics");
            }
        });
        (follow, serve)
    });
    let tcp_task = tcp.map(|(_, listener, tokens, tls)| {
        tokio::spawn(crate::remote::server::serve_tcp(listener, context.clone(), tokens, tls))
    });
    let server_task = tokio::spawn(server.serve(context));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut engine_task = tokio::spawn(engine_task(engine, stop_rx));
    // The engine task's outcome once it is known: a JoinHandle is awaited once only.
    let mut engine_ended = None;
    let signal_name = loop {
        tokio::select! {
            _ = interrupt.recv() => break "SIGINT",
            _ = terminate.recv() => break "SIGTERM",
            _ = hangup.recv() => reload(options.config_path.as_deref(), &reloader, &mut out, options.log_format).await,
            event = events.recv() => match event {
                Ok(event) => write_event(&mut out, options.log_format, &event),
                Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "standard output fell behind the events"),
                Err(RecvError::Closed) => break ENGINE_STOPPED,
            },
            ended = &mut engine_task => {
                engine_ended = Some(ended);
                break ENGINE_STOPPED;
            }
        }
    };
    tracing::info!(signal = signal_name, "stopping");
    let ended = match engine_ended {
        Some(ended) => ended,
        None => {
            let _ = stop_tx.send(());
            engine_task.await
        }
    };
    let failure = match ended {
        Ok(()) if signal_name == ENGINE_STOPPED => Some("the engine stopped by itself".to_string()),
        Ok(()) => None,
        Err(err) => Some(engine_failure(err)),
    };
    if let Some(failure) = &failure {
        tracing::error!(%failure, "engine task ended; cleaning up");
    }
    // What the last tick and the shutdown said, before the stop line.
    while let Ok(event) = events.try_recv() {
        write_event(&mut out, options.log_format, &event);
    }
    server_task.abort();
    let _ = server_task.await; // drops the listener, which removes the socket file
    if let Some(task) = tcp_task {
        task.abort();
    }
    if let Some((follow, serve)) = exporter_tasks {
        follow.abort();
        serve.abort();
    }
    // Only our own record: another daemon of the fleet may have written its own since.
    if let Some(path) = &options.discovery
        && std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str::<Listening>(&text).ok())
            .is_some_and(|recorded| recorded.pid == listening.pid)
    {
        let _ = std::fs::remove_file(path);
    }
    let line = DaemonLine::Stopped { at: now(), signal: signal_name };
    write_line(&mut out, options.log_format, &line, || format!("stopped ({signal_name})"));
    match failure {
        Some(failure) => Err(anyhow::anyhow!("{failure}")),
        None => Ok(()),
    }
}

/// The `signal` of the `stopped` line when no signal stopped the daemon.
const ENGINE_STOPPED: &str = "engine stopped";

/// The engine task: `engine` until `stop`. Debug builds only: with
/// `FLEETDECK_DEBUG_ENGINE_EXIT=return` (or `=panic`) the task drops the engine and
/// returns (or panics) once the engine has published its first tick, so a test can see
/// the daemon survive its engine's end. Release builds run the engine only.
fn engine_task(
    engine: Engine,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> impl Future<Output = ()> + Send + 'static {
    let debug_exit = debug_engine_exit();
    let mut snapshots = engine.connect().snapshots;
    async move {
        let run = engine.run(async {
            let _ = stop.await;
        });
        let Some(exit) = debug_exit else { return run.await };
        tokio::select! {
            () = run => {}
            _ = snapshots.wait_for(|snapshot| snapshot.seq >= 1) => match exit {
                DebugExit::Return => {}
                DebugExit::Panic => panic!("FLEETDECK_DEBUG_ENGINE_EXIT=panic"),
            },
        }
    }
}

#[derive(Clone, Copy)]
enum DebugExit {
    Return,
    Panic,
}

fn debug_engine_exit() -> Option<DebugExit> {
    if !cfg!(debug_assertions) {
        return None;
    }
    match std::env::var("FLEETDECK_DEBUG_ENGINE_EXIT").ok()?.as_str() {
        "return" => Some(DebugExit::Return),
        "panic" => Some(DebugExit::Panic),
        _ => None,
    }
}

/// An engine task that did not return: its panic message, or that it was cancelled.
fn engine_failure(err: tokio::task::JoinError) -> String {
    if !err.is_panic() {
        return format!("the engine task was cancelled: {err}");
    }
    let panic = err.into_panic();
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    format!("the engine task panicked: {message}")
}

/// SIGHUP: reads the config again and hands it to the engine ([`Engine::reload`](crate::engine::Engine::reload)); an unusable
/// config is reported (file:line:col and the key) and the running one kept.
async fn reload(
    path: Option<&std::path::Path>,
    reloader: &tokio::sync::mpsc::Sender<crate::engine::Reload>,
    out: &mut LineOut<impl Write>,
    format: LogFormat,
) {
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let config = match path {
        None => Err("no config file to read again: the built-in demo is running".to_string()),
        Some(path) => crate::config::load(path).map_err(|err| err.to_string()),
    };
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(%error, "reload: keeping the running config");
            let line = DaemonLine::ReloadFailed { at: now, error: &error };
            return write_line(out, format, &line, || format!("reload failed, running config kept: {error}"));
        }
    };
    let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
    if reloader.send((std::sync::Arc::new(config), reply_tx)).await.is_err() {
        return; // the engine is stopping
    }
    let Ok(outcome) = reply_rx.await else { return };
    let line =
        DaemonLine::Reloaded { at: now, applied: &outcome.applied, restart_needed: &outcome.restart_needed };
    write_line(out, format, &line, || {
        let applied = if outcome.applied.is_empty() {
            "nothing changed".to_string()
        } else {
            outcome.applied.join("; ")
        };
        let restart = if outcome.restart_needed.is_empty() {
            String::new()
        } else {
            format!(" (needs a restart: {})", outcome.restart_needed.join("; "))
        };
        format!("reloaded: {applied}{restart}")
    })
}

/// Records where the daemon listens; a failure is logged, the daemon still runs.
fn record(path: &std::path::Path, listening: &Listening) {
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| std::fs::write(path, serde_json::to_string_pretty(listening).unwrap_or_default()));
    if let Err(err) = written {
        tracing::warn!(%err, path = %path.display(), "recording where the daemon listens");
    }
}

/// The daemon's standard output. A line that cannot be written (the reader went away:
/// `fleetdeck --auto | head`, a closed pipe to a log shipper) is reported once on
/// standard error, and later lines are dropped: the daemon goes on ticking, acting and
/// logging decisions to its decision log, and stops only on a signal, releasing its leases.
struct LineOut<W> {
    out: W,
    broken: bool,
}

impl<W: Write> LineOut<W> {
    fn new(out: W) -> Self {
        LineOut { out, broken: false }
    }

    /// Writes `line` and a newline, flushed.
    fn write(&mut self, line: &[u8]) {
        if self.broken {
            return;
        }
        let written =
            self.out.write_all(line).and_then(|()| self.out.write_all(b"\n")).and_then(|()| self.out.flush());
        if let Err(err) = written {
            self.broken = true;
            tracing::error!(%err, "standard output is gone: no more event lines are written (the daemon keeps running; decisions still go to the decision log)");
        }
    }
}

fn write_line<T: Serialize>(
    out: &mut LineOut<impl Write>,
    format: LogFormat,
    value: &T,
    text: impl FnOnce() -> String,
) {
    let line = match format {
        LogFormat::Json => match serde_json::to_vec(value) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!(%err, "an event line could not be serialised");
                return;
            }
        },
        LogFormat::Text => text().into_bytes(),
    };
    out.write(&line);
}

fn write_event(out: &mut LineOut<impl Write>, format: LogFormat, event: &Event) {
    if matches!(event, Event::Scaled { .. }) {
        return; // the `decided` entry says it, with more
    }
    if matches!(event, Event::Decided(entry) if entry.is_operator_or_breaker()) {
        return; // the `command_handled` or `breaker` line says it
    }
    write_line(out, format, event, || event_text(event))
}

/// The event in words, after its UTC time: "2026-11-23T14:02:11Z llm-chat: scale out 4→8: …".
pub fn event_text(event: &Event) -> String {
    let (at, text) = match event {
        Event::Started { at, groups } => (*at, format!("started: {}", groups.join(", "))),
        Event::BackendFailed { at, group, backend, error, retry_at } => {
            let backend = backend_word(*backend);
            (*at, format!("{group}: {backend} failing: {error} (retry at {})", retry_at.to_rfc3339()))
        }
        Event::BackendRecovered { at, group, backend } => {
            (*at, format!("{group}: {} recovered", backend_word(*backend)))
        }
        Event::Sim { at, description } => (*at, format!("sim: {description}")),
        Event::Alarm { at, group, alarm, from, to } => {
            (*at, format!("{group}: alarm {alarm} {} → {}", alarm_state(*from), alarm_state(*to)))
        }
        Event::Scaled { at, group, reason, shadow, .. } => {
            (*at, format!("{group}: {}{reason}", if *shadow { "would " } else { "" }))
        }
        Event::Decided(entry) => (entry.at, format!("{}: {}", entry.group, entry.reason_line())),
        Event::Breaker { at, group, message, .. } => (*at, format!("{group}: {message}")),
        Event::CommandHandled { at, operator, command, reply } => {
            let outcome = match reply {
                Reply::Ok { message } => format!("ok: {message}"),
                Reply::Refused { reason } => format!("refused: {reason}"),
                Reply::Failed { error } => format!("failed: {error}"),
            };
            (*at, format!("{operator}: {command}: {outcome}"))
        }
    };
    format!("{} {text}", at.to_rfc3339())
}

fn backend_word(backend: Backend) -> &'static str {
    match backend {
        Backend::Source => "source",
        Backend::Actuator => "actuator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlarmState;

    #[test]
    fn text_lines_read_in_words_not_rust_names() {
        let at = Timestamp::from_millis(1_796_238_000_000);
        let failed = Event::BackendFailed {
            at,
            group: "vision".into(),
            backend: Backend::Actuator,
            error: "throttled".into(),
            retry_at: at,
        };
        assert_eq!(
            event_text(&failed),
            "2026-12-02T19:00:00Z vision: actuator failing: throttled (retry at 2026-12-02T19:00:00Z)"
        );
        let recovered = Event::BackendRecovered { at, group: "vision".into(), backend: Backend::Source };
        assert_eq!(event_text(&recovered), "2026-12-02T19:00:00Z vision: source recovered");
        let alarm = Event::Alarm {
            at,
            group: "vision".into(),
            alarm: "queue-high".into(),
            from: AlarmState::InsufficientData,
            to: AlarmState::Firing,
        };
        assert_eq!(
            event_text(&alarm),
            "2026-12-02T19:00:00Z vision: alarm queue-high INSUFFICIENT_DATA → FIRING"
        );
    }
}
