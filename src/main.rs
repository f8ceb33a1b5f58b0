//! The `fleetdeck` binary: command-line parsing and wiring. Everything it runs lives in
//! the library; this file only decides what to run and turns errors into exit codes.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use fleetdeck::clock::SystemClock;
use fleetdeck::config::{self, Config};
use fleetdeck::engine::Engine;
use fleetdeck::protocol::Operator;
use fleetdeck::remote::client::Endpoint;
use fleetdeck::ui::{self, UiOptions};

const EXAMPLES: &str = "\
Examples:
  fleetdeck                          watch the built-in simulated fleet
  fleetdeck --seed 7                 the same, with another random seed
  fleetdeck --config fleet.toml      your own fleet (see `fleetdeck config default`)
  fleetdeck --readonly               look, never touch: every change is refused
  fleetdeck --shadow                 decide and show what it would do, never act
  fleetdeck --war-room               a read-only wall screen cycling through firing alarms
  fleetdeck config check fleet.toml  validate a config file (errors name file:line:col)
  fleetdeck config default > fleet.toml
  fleetdeck decide state.toml        what the policy decides for one group, and why
  fleetdeck decide decisions.jsonl   replay the last logged decision: is it reproduced?
  fleetdeck completions bash > ~/.local/share/bash-completion/completions/fleetdeck

In the console: j/k or arrows select a group, enter toggles its detail, ? shows every key,
:sim spike llm-chat x5 2m provokes an incident in the simulator, :pause llm-chat 30m
--scale-in-only -- INC-123 pauses automation, :scale vision 6 --hold 20m forces capacity,
:resume llm-chat resumes, q quits.

Config lookup: --config FILE, else $FLEETDECK_CONFIG, else $XDG_CONFIG_HOME/fleetdeck/config.toml
if it exists, else the built-in demo fleet. Logs go to $XDG_STATE_HOME/fleetdeck/fleetdeck.log
(level from $FLEETDECK_LOG, e.g. debug).";

/// fleetdeck: the operations console for GPU inference fleets.
///
/// Polls each scaling group's GPU, latency and queue metrics and shows them live. With no
/// configuration it runs against a built-in simulated fleet.
#[derive(Parser, Debug)]
#[command(name = "fleetdeck", version, about, long_about, after_help = EXAMPLES)]
struct Cli {
    /// Config file (TOML). Without it: $FLEETDECK_CONFIG, the XDG config file, or the demo.
    #[arg(long, value_name = "FILE", env = "FLEETDECK_CONFIG", global = true)]
    config: Option<PathBuf>,

    /// Seed for the simulated fleet (overrides the config's `seed`).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// Read-only: show everything, change nothing (the engine refuses every command).
    #[arg(long)]
    readonly: bool,

    /// Shadow mode: decide and show "would set N", never act (`:shadow GROUP off` acts).
    #[arg(long)]
    shadow: bool,

    /// Colour theme: dark (default), light, high-contrast, or a theme file (.toml). A file
    /// $XDG_CONFIG_HOME/fleetdeck/themes/NAME.toml overrides the preset NAME; NO_COLOR
    /// turns colour off.
    #[arg(long, value_name = "NAME|FILE", env = "FLEETDECK_THEME")]
    theme: Option<String>,

    /// War-room screen: read-only (takes no lease), high-contrast unless --theme says
    /// otherwise, cycling through the groups with alarms firing; only q quits.
    #[arg(long)]
    war_room: bool,

    /// Capture the mouse: the wheel moves the selection, a click selects a group. Off
    /// by default, because capturing stops the terminal's own text selection (copying
    /// over SSH).
    #[arg(long)]
    mouse: bool,

    /// Keymap: default (k9s-like), vim, or a keymap file laid over default.
    /// $XDG_CONFIG_HOME/fleetdeck/keymap.toml, if it exists, is laid over either.
    #[arg(long, value_name = "NAME|FILE", env = "FLEETDECK_KEYMAP", default_value = "default")]
    keymap: String,

    /// Attach the console to a running daemon (`fleetdeck --auto`) instead of running an
    /// engine: a SOCKET path, tcp://HOST:PORT or tls://HOST:PORT (with the token; for TLS
    /// also --tls-ca), or the fleet's socket (where its daemon recorded it). Commands go
    /// to the daemon; the console reconnects if the daemon restarts.
    #[arg(long, value_name = "SOCKET", num_args = 0..=1, conflicts_with = "auto")]
    attach: Option<Option<PathBuf>>,

    /// Headless daemon: the engine with no terminal, one line per event on standard
    /// output, consoles and `fleetdeck ctl` on the fleet's socket; SIGTERM or SIGINT
    /// stops it cleanly (exit 0).
    #[arg(long, conflicts_with_all = ["war_room", "mouse"])]
    auto: bool,

    /// With --auto: json (default) or text lines.
    #[arg(long, value_enum, default_value = "json", requires = "auto")]
    log_format: fleetdeck::daemon::LogFormat,

    /// With --auto: the Unix socket to listen on (default
    /// $XDG_RUNTIME_DIR/fleetdeck/<fleet>.sock).
    #[arg(long, value_name = "PATH", requires = "auto")]
    socket: Option<PathBuf>,

    /// With --auto: also listen on TCP at ADDR (port 0 picks one, reported on the first
    /// line) for consoles and ctl on other hosts; they must present the token. Plain TCP
    /// unless --tls-cert and --tls-key are given.
    #[arg(long, value_name = "ADDR", requires = "auto")]
    listen: Option<std::net::SocketAddr>,

    /// With --listen: TLS on every TCP connection, with this certificate chain (PEM)...
    #[arg(long, value_name = "FILE", requires_all = ["listen", "tls_key"])]
    tls_cert: Option<PathBuf>,

    /// ...and this private key (PEM).
    #[arg(long, value_name = "FILE", requires_all = ["listen", "tls_cert"])]
    tls_key: Option<PathBuf>,

    /// For a client of tls://HOST:PORT: the CA (or self-signed certificate) to trust, PEM.
    #[arg(long, value_name = "FILE", env = "FLEETDECK_TLS_CA", global = true)]
    tls_ca: Option<PathBuf>,

    /// The bearer token for TCP. A client (tcp://HOST:PORT) presents the file's first
    /// token; the daemon's --listen accepts every token of the file, one a line as
    /// `TOKEN [NAME] [<EMAIL>]`: a named token's commands are recorded as that operator,
    /// whatever the client claims. Default: $FLEETDECK_TOKEN (anonymous).
    #[arg(long, value_name = "FILE", global = true)]
    token_file: Option<PathBuf>,

    /// With --auto: serve Prometheus /metrics and /healthz on ADDR (e.g. 127.0.0.1:9184;
    /// port 0 picks a free one, reported on the first line).
    #[arg(long, value_name = "ADDR", requires = "auto")]
    metrics_listen: Option<std::net::SocketAddr>,

    /// Where the decision/audit log goes (JSON lines; `fleetdeck decide` replays a line).
    /// Default: $XDG_STATE_HOME/fleetdeck/<fleet>/decisions.jsonl.
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Work with config files.
    Config {
        #[command(subcommand)]
        action: ConfigCmd,
    },
    /// Show what the autoscaling policy decides for one group's state and inputs.
    ///
    /// FILE is TOML, or JSON for `.json` and `-` (standard input); see the README's
    /// "fleetdeck decide" section for the format. FILE may also be the decision log
    /// (`decisions.jsonl`, its last decision line or --line N) or one decision line: the
    /// logged decision is replayed and compared, and a difference exits with status 1.
    Decide {
        file: PathBuf,
        /// Print the decision as JSON (one object, as in the decision log); a replay's
        /// verdict then goes to standard error.
        #[arg(long)]
        json: bool,
        /// The line of a decision log to replay (1-based; default: the last decision line).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        line: Option<u64>,
    },
    /// Replay a request-rate trace on the simulator through static peak provisioning,
    /// AWS-like and HPA-like autoscalers and the group's configured policy, and print
    /// their scorecards (SLO-violation minutes, latency, cost, actions) beside the oracle,
    /// a clairvoyant lower bound on cost.
    ///
    /// The trace is a CSV file `t_seconds,requests_per_second` or a built-in one.
    Replay {
        /// The trace: a CSV file (header `t_seconds,requests_per_second`), or
        /// `builtin:NAME` (diurnal-week, two-weeks, flash-crowd, slow-ramp, noisy-plateau).
        #[arg(long, value_name = "FILE|builtin:NAME")]
        trace: PathBuf,
        /// The group to replay (default: the config's first group).
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// Multiply the trace's rates by K.
        #[arg(long, value_name = "K", default_value_t = 1.0)]
        scale: f64,
        /// Print the result as JSON (byte-identical for the same trace, seed and config).
        #[arg(long)]
        json: bool,
        /// Also draw demand, ready capacity and p95 latency over time, a panel per
        /// policy, to FILE (.svg or .png).
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
    },
    /// Talk to a running daemon (`fleetdeck --auto`): status, pause, resume, scale,
    /// silence, shadow, the decision log. Exit status: 0 done, 1 refused or failed, 2 usage,
    /// 3 no connection (no daemon, or it refused the connection).
    Ctl(fleetdeck::ctl::CtlArgs),
    /// The simulated fleet as a process of its own (`sim serve`).
    Sim {
        #[command(subcommand)]
        action: SimCmd,
    },
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
enum SimCmd {
    /// Serve the config's simulated groups over HTTP: dcgm-exporter's GPU page, the vLLM
    /// and Triton serving page (each its own listener, so each is its own scrape job),
    /// and a control API that the `sim-http` actuator drives. Prints the bound addresses
    /// as one JSON line, then serves until SIGINT or SIGTERM.
    Serve {
        /// The control API's address (e.g. 127.0.0.1:9400; port 0 picks one).
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The GPU page (default: the control port + 1).
        #[arg(long, value_name = "ADDR")]
        gpu_listen: Option<std::net::SocketAddr>,
        /// The serving page (default: the control port + 2).
        #[arg(long, value_name = "ADDR")]
        serving_listen: Option<std::net::SocketAddr>,
        /// Also Triton's latency summaries (`nv_inference_request_summary_us`), as
        /// Triton's `--metrics-config summary_latencies=true` gives them.
        #[arg(long)]
        triton_summaries: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Validate a config file; errors name file:line:col and the key.
    Check { file: PathBuf },
    /// Print the built-in demo config, a commented starting point.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        // `fleetdeck decide --json f | head`: the reader has what it wanted. Quiet, with the
        // status a process ended by SIGPIPE gets from the shell (128 + 13), as `cat` would.
        Err(err) if is_broken_pipe(&err) => ExitCode::from(BROKEN_PIPE_STATUS),
        Err(err) => {
            eprintln!("fleetdeck: {}", report(&err));
            ExitCode::FAILURE
        }
    }
}

const BROKEN_PIPE_STATUS: u8 = 141;

/// The error and its causes, `outer: cause: root`, each said once: many of our errors
/// already end with their cause's text (so that they read whole in the console and the
/// log, where only the error itself is shown), and a cause already said is not said again.
fn report(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Rust ignores SIGPIPE, so a write to a closed pipe is an `EPIPE` error: every command
/// that prints writes through [`stdout`] and returns that error here (`println!` would
/// panic on it). The daemon never gets here for its stdout: it logs and keeps running.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

/// Standard output for a command's answer: write with `write!`/`writeln!` and `?`, so a
/// reader that went away ends the command quietly (see [`is_broken_pipe`]).
fn stdout() -> io::StdoutLock<'static> {
    io::stdout().lock()
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Cmd::Config { action: ConfigCmd::Check { file } }) => check_config(&file),
        Some(Cmd::Config { action: ConfigCmd::Default }) => {
            let mut out = stdout();
            out.write_all(config::DEMO_TOML.as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Cmd::Decide { file, json, line }) => decide(&file, json, line.map(|n| n as usize)),
        Some(Cmd::Replay { trace, group, scale, json, plot }) => {
            let config = load_config(cli.config.as_deref())?;
            let options = ReplayOptions { group, scale, seed: cli.seed, json, plot };
            replay(config, &trace, options)
        }
        Some(Cmd::Ctl(args)) => {
            let config = load_config(cli.config.as_deref())?;
            let endpoint = match &args.socket {
                Some(text) => Endpoint::parse(text.as_os_str()).with_ca(cli.tls_ca.clone()),
                None => Endpoint::Unix(fleet_socket(&config)?),
            };
            let token =
                fleetdeck::remote::read_token(cli.token_file.as_deref()).map_err(anyhow::Error::msg)?;
            let operator = config.operator.clone().unwrap_or_else(operator_from_env);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (mut out, mut err) = (io::stdout(), io::stderr());
            let target = fleetdeck::ctl::Daemon { endpoint, token };
            runtime.block_on(fleetdeck::ctl::run(&args, &target, operator, &mut out, &mut err))
        }
        Some(Cmd::Sim { action: SimCmd::Serve { listen, gpu_listen, serving_listen, triton_summaries } }) => {
            let config = load_config(cli.config.as_deref())?;
            let seed = cli.seed.unwrap_or(config.seed);
            let options = fleetdeck::sim_serve::ServeOptions {
                listen,
                gpu_listen,
                serving_listen,
                triton_summaries,
                seed,
            };
            sim_serve(&config, options)
        }
        Some(Cmd::Completions { shell }) => {
            // clap_complete panics on a failed write: generate into memory, then write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "fleetdeck", &mut script);
            let mut out = stdout();
            out.write_all(&script)?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        None if cli.auto => {
            let config = load_config(cli.config.as_deref())?;
            let engine = EngineOptions {
                seed: cli.seed,
                readonly: cli.readonly,
                shadow: cli.shadow,
                audit_log: cli.audit_log,
            };
            let config_path = cli.config.clone().or_else(config::user_config_path);
            let listen = match cli.listen {
                Some(addr) => match fleetdeck::remote::read_tokens(cli.token_file.as_deref()) {
                    Ok(Some(tokens)) => {
                        let tls = cli.tls_cert.clone().zip(cli.tls_key.clone());
                        Some(fleetdeck::daemon::TcpListen { addr, tokens, tls })
                    }
                    Ok(None) => {
                        anyhow::bail!("--listen needs a token: --token-file FILE or $FLEETDECK_TOKEN")
                    }
                    Err(err) => anyhow::bail!("reading the token: {err}"),
                },
                None => None,
            };
            run_auto(config, engine, cli.log_format, cli.socket, cli.metrics_listen, config_path, listen)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let config = load_config(cli.config.as_deref())?;
            let attach = match cli.attach {
                Some(Some(text)) => Some(Endpoint::parse(text.as_os_str()).with_ca(cli.tls_ca.clone())),
                Some(None) => Some(Endpoint::Unix(fleet_socket(&config)?)),
                None => None,
            };
            let token = match &attach {
                Some(_) => {
                    fleetdeck::remote::read_token(cli.token_file.as_deref()).map_err(anyhow::Error::msg)?
                }
                None => None,
            };
            let options = ConsoleOptions {
                attach: attach.map(|endpoint| (endpoint, token)),
                seed: cli.seed,
                readonly: cli.readonly || cli.war_room,
                war_room: cli.war_room,
                mouse: cli.mouse,
                shadow: cli.shadow,
                audit_log: cli.audit_log,
                theme: cli.theme,
                keymap: cli.keymap,
            };
            run_console(config, options)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What `fleetdeck replay` was asked for besides the trace and config.
struct ReplayOptions {
    group: Option<String>,
    scale: f64,
    seed: Option<u64>,
    json: bool,
    plot: Option<PathBuf>,
}

/// `fleetdeck replay`: every contender's scorecard beside the oracle, and the plot.
fn replay(config: Config, trace: &Path, options: ReplayOptions) -> anyhow::Result<ExitCode> {
    use fleetdeck::replay::{ReplaySpec, replay_all};
    let ReplayOptions { group, scale, seed, json, plot } = options;
    if let Some(path) = &plot {
        fleetdeck::replay::plot::format_of(path)?;
        // Checked before the replay's seconds of work, not after (issue 15, point 13).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
            anyhow::bail!(
                "{}: cannot write the plot there: {} is not a directory",
                path.display(),
                dir.display()
            );
        }
    }
    let name = trace.display().to_string();
    let trace = match name.strip_prefix("builtin:") {
        Some(builtin) => fleetdeck::replay::traces::builtin(builtin).ok_or_else(|| {
            let known = fleetdeck::replay::traces::BUILTIN.join(", ");
            anyhow::anyhow!("no built-in trace `{builtin}` (built-in: {known})")
        })?,
        None => fleetdeck::sim::Trace::from_path(trace)?,
    };
    let group = match group {
        Some(name) => name,
        None => config.groups.first().map(|g| g.spec.name.clone()).unwrap_or_default(),
    };
    let seed = seed.unwrap_or(config.seed);
    let spec = ReplaySpec { config, group, trace: std::sync::Arc::new(trace), scale, seed };
    let runs = replay_all(&spec)?;
    let seconds = runs.runs.first().map_or(0, |r| r.scorecard.seconds);
    let heading = format!("replay of {name} on {} (×{scale}, seed {seed}): {seconds} s", spec.group);
    if let Some(path) = &plot {
        let group = spec.config.group(&spec.group).expect("replay_all found the group");
        let labels = fleetdeck::replay::plot::PlotLabels {
            title: &heading,
            capacity_rps_per_instance: group.sim_or_default().capacity_rps_per_instance,
            slo_p95_s: group.spec.slo_p95.map(|d| d.as_secs_f64()),
        };
        fleetdeck::replay::plot::plot(path, &runs, &labels)?;
    }
    let mut out = stdout();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&runs)?)?;
    } else {
        write!(out, "{}", fleetdeck::replay::report::table(&heading, &runs))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `fleetdeck decide`: each evaluated alarm, the decision, and for a logged one whether
/// it is reproduced. With `--json` standard output is the decision alone (one object, as
/// in the decision log); the alarms and a replay's verdict go to standard error.
fn decide(file: &Path, json: bool, line: Option<usize>) -> anyhow::Result<ExitCode> {
    use fleetdeck::decide_cmd::{self, DecideInput};
    let input = decide_cmd::read_input(file, line)?;
    let answer = decide_cmd::answer_input(&input);
    let decision = &answer.decision;
    let alarms = decide_cmd::render_alarms(&answer.alarms);
    let mut out = stdout();
    if json {
        eprint!("{alarms}");
        writeln!(out, "{}", serde_json::to_string_pretty(decision)?)?;
    } else {
        write!(out, "{alarms}{}", decide_cmd::render(decision))?;
    }
    let DecideInput::Logged { origin, logged } = &input else {
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    let differences = fleetdeck::audit::differences(&logged.record.decision, decision);
    let verdict = decide_cmd::render_verdict(origin, logged, &differences);
    if json {
        eprint!("{verdict}");
    } else {
        write!(out, "{verdict}")?;
    }
    out.flush()?;
    Ok(if differences.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn check_config(file: &Path) -> anyhow::Result<ExitCode> {
    match config::load(file) {
        Ok(config) => {
            let names: Vec<&str> = config.groups.iter().map(|g| g.spec.name.as_str()).collect();
            let mut out = stdout();
            writeln!(out, "{}: ok ({} groups: {})", file.display(), names.len(), names.join(", "))?;
            for line in config::connection_lines(&config) {
                writeln!(out, "  {line}")?;
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            eprintln!("{err}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `fleetdeck sim serve`: serves until SIGINT or SIGTERM, after one line of JSON with the
/// addresses it bound.
fn sim_serve(config: &Config, options: fleetdeck::sim_serve::ServeOptions) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{SignalKind, signal};
    if config.sim_groups().is_empty() {
        anyhow::bail!(
            "{}: no simulated groups to serve (sim serve plays the groups whose source is a simulator)",
            config.origin
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let stop = async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        };
        let mut printed = Ok(());
        let bound = |b: fleetdeck::sim_serve::Bound| {
            let mut out = stdout();
            printed =
                writeln!(out, "{}", serde_json::to_string(&b).unwrap_or_default()).and_then(|()| out.flush());
        };
        let clock = Arc::new(SystemClock);
        fleetdeck::sim_serve::serve(config, options, clock, bound, stop).await.context("sim serve")?;
        printed?;
        Ok(ExitCode::SUCCESS)
    })
}

fn load_config(explicit: Option<&Path>) -> anyhow::Result<Config> {
    if let Some(path) = explicit {
        return Ok(config::load(path)?);
    }
    match config::user_config_path() {
        Some(path) => Ok(config::load(&path)?),
        None => Ok(config::demo()),
    }
}

/// The socket of the config's fleet; with no config named anywhere (the embedded demo's),
/// the one other fleet whose daemon listens here will do: see
/// [`fleetdeck::remote::find_socket_unnamed`].
fn fleet_socket(config: &Config) -> anyhow::Result<PathBuf> {
    if config.origin != config::DEMO_ORIGIN {
        return Ok(fleetdeck::remote::find_socket(&config.fleet));
    }
    fleetdeck::remote::find_socket_unnamed(&config.fleet).map_err(anyhow::Error::msg)
}

struct ConsoleOptions {
    /// Attached to the daemon there (with the token for TCP) instead of running an engine.
    attach: Option<(Endpoint, Option<String>)>,
    seed: Option<u64>,
    readonly: bool,
    shadow: bool,
    audit_log: Option<PathBuf>,
    theme: Option<String>,
    keymap: String,
    war_room: bool,
    mouse: bool,
}

fn run_console(config: Config, options: ConsoleOptions) -> anyhow::Result<()> {
    let ConsoleOptions { attach, seed, readonly, shadow, audit_log, theme, keymap, war_room, mouse } =
        options;
    let theme = theme.unwrap_or_else(|| if war_room { "high-contrast" } else { "dark" }.to_string());
    init_logging();
    let config_dir =
        directories::ProjectDirs::from("", "", "fleetdeck").map(|d| d.config_dir().to_path_buf());
    let user_themes = config_dir.as_ref().map(|d| d.join("themes"));
    let depth = ui::theme::ColourDepth::from_env(|name| std::env::var(name).ok());
    let theme = ui::theme::choose(&theme, user_themes.as_deref(), depth);
    let keymap_overrides = config_dir.as_ref().map(|d| d.join("keymap.toml"));
    let keymap = ui::keymap::choose(&keymap, keymap_overrides.as_deref());
    let warnings: Vec<String> = [theme.warning, keymap.warning].into_iter().flatten().collect();
    for warning in &warnings {
        tracing::warn!(%warning, "console setup");
    }
    let notice = (!warnings.is_empty()).then(|| warnings.join(" · "));
    let (theme, keymap) = (theme.theme, keymap.keymap);
    let operator = config.operator.clone().unwrap_or_else(operator_from_env);
    let seed = seed.unwrap_or(config.seed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let ui_options = UiOptions { operator, readonly, theme, keymap, war_room, mouse, notice };
    if let Some((endpoint, token)) = attach {
        return runtime.block_on(async {
            tracing::info!(%endpoint, "console attaching");
            let result = ui::run(fleetdeck::remote::attach::attach(endpoint, token), ui_options).await;
            tracing::info!("console stopped");
            result
        });
    }
    runtime.block_on(async {
        let engine = build_engine(&config, EngineOptions { seed: Some(seed), readonly, shadow, audit_log })?;
        let conn = engine.connect();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let engine_task = tokio::spawn(engine.run(async {
            let _ = stop_rx.await;
        }));
        tracing::info!(origin = %config.origin, seed, readonly, "console started");
        let result = ui::run(conn, ui_options).await;
        let _ = stop_tx.send(());
        let _ = engine_task.await;
        tracing::info!("console stopped");
        result
    })
}

/// How to build the engine, for the console and the daemon alike.
struct EngineOptions {
    seed: Option<u64>,
    readonly: bool,
    shadow: bool,
    audit_log: Option<PathBuf>,
}

/// The engine on the config's fleet, with its decision log and its store (without a
/// usable store it still runs; pauses and holds then do not survive a restart).
fn build_engine(config: &Config, options: EngineOptions) -> anyhow::Result<Engine> {
    let EngineOptions { seed, readonly, shadow, audit_log } = options;
    let seed = seed.unwrap_or(config.seed);
    let mut engine = Engine::from_config(config, seed, Arc::new(SystemClock), readonly, shadow)
        .map_err(anyhow::Error::msg)?;
    if let Some(path) = audit_log.or_else(|| fleetdeck::audit::default_path(&config.fleet)) {
        tracing::info!(path = %path.display(), "decision log");
        engine.set_audit_log(path);
    }
    match fleetdeck::store::default_path(&config.fleet).and_then(fleetdeck::store::Store::open) {
        Ok(store) => {
            if let Err(err) = engine.set_store(store) {
                tracing::error!(%err, "restoring pauses and holds");
            }
        }
        Err(err) => {
            tracing::error!(%err, "state store unavailable: pauses and holds will not survive a restart")
        }
    }
    Ok(engine)
}

/// `fleetdeck --auto`: the daemon, until SIGTERM or SIGINT.
fn run_auto(
    config: Config,
    engine: EngineOptions,
    log_format: fleetdeck::daemon::LogFormat,
    socket: Option<PathBuf>,
    metrics_listen: Option<std::net::SocketAddr>,
    config_path: Option<PathBuf>,
    listen: Option<fleetdeck::daemon::TcpListen>,
) -> anyhow::Result<()> {
    init_daemon_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let engine = build_engine(&config, engine)?;
        let options = fleetdeck::daemon::AutoOptions {
            listen,
            log_format,
            config_path,
            metrics_listen,
            socket: socket.unwrap_or_else(|| fleetdeck::remote::default_socket(&config.fleet)),
            discovery: fleetdeck::remote::discovery_path(&config.fleet),
        };
        tracing::info!(origin = %config.origin, "daemon started");
        fleetdeck::daemon::run(engine, options, io::stdout()).await
    })
}

/// The daemon's own log goes to standard error (the journal, `kubectl logs`), its event
/// lines to standard output.
fn init_daemon_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(io::stderr).with_ansi(false).try_init();
}

/// The operator's identity for the audit trail when the config's `[operator]` names none:
/// `$USER`, else the system's name for this uid (see `engine::login_name`).
fn operator_from_env() -> Operator {
    let name = fleetdeck::engine::login_name();
    Operator { name, email: None, auth: None }
}

/// Logs go to a file and to the console's diagnostics view (`3`): the console owns the
/// terminal, and a log line on stderr would tear the screen. Without a writable state
/// dir only the view has them (the console still runs).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLEETDECK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let file = directories::ProjectDirs::from("", "", "fleetdeck")
        .map(|d| d.state_dir().unwrap_or_else(|| d.data_local_dir()).to_path_buf())
        .and_then(|dir| {
            fs::create_dir_all(&dir)
                .and_then(|_| File::options().create(true).append(true).open(dir.join("fleetdeck.log")))
                .ok()
        });
    let to_file =
        file.map(|file| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Mutex::new(file)));
    let _ =
        tracing_subscriber::registry().with(filter).with(to_file).with(ui::diagnostics::layer()).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_report_says_each_cause_once() {
        // Issue 15, point 14: "cannot open trace: No such file …: No such file …".
        let path = std::path::Path::new("/nonexistent/trace.csv");
        let open = fleetdeck::sim::Trace::from_path(path).unwrap_err();
        let said = report(&anyhow::Error::new(open));
        assert_eq!(said.matches("No such file").count(), 1, "{said}");
        assert!(said.starts_with("/nonexistent/trace.csv: cannot open trace"), "{said}");
        // A cause the outer message does not contain is still said, after a colon.
        let wrapped = anyhow::Error::new(io::Error::other("disk on fire")).context("writing the store");
        assert_eq!(report(&wrapped), "writing the store: disk on fire");
    }
}
