//! `fleetdeck ctl`: the daemon from scripts and shells. Each subcommand connects to the
//! fleet's socket, does one thing and exits:
//!
//! - 0: done (the engine accepted the command; status printed);
//! - 1: the engine refused or failed the command (its words on standard error);
//! - 2: the command line was wrong (clap's usage error);
//! - 3: no daemon to talk to, or it refused the connection (version, user, token).
//!
//! `--json` prints machine-readable output: the status snapshot (newest point of each
//! series only), the reply, or one decision-log entry a line.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::daemon::event_text;
use crate::policy::PauseMode;
use crate::protocol::{Command, CommandRequest, Event, Operator, Reply, Snapshot, Target};
use crate::remote::client::{Client, Endpoint};
use crate::remote::wire::{Hello, ServerMsg, SnapshotWish};

/// Exit status when no daemon could be talked to.
pub const NO_DAEMON: u8 = 3;

#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The daemon: its socket, or tcp://HOST:PORT with --token-file or $FLEETDECK_TOKEN
    /// (default: where the fleet's daemon recorded its socket, else
    /// $XDG_RUNTIME_DIR/fleetdeck/<fleet>.sock).
    #[arg(long, value_name = "PATH", global = true)]
    pub socket: Option<std::path::PathBuf>,
    /// Machine-readable output (JSON).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub action: CtlAction,
}

/// Which groups a command is for: one by name, or `--all`.
#[derive(Args, Debug)]
pub struct Which {
    /// The group.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub group: Option<String>,
    /// Every group of the fleet.
    #[arg(long)]
    pub all: bool,
}

impl Which {
    fn target(&self) -> Target {
        match &self.group {
            Some(group) if !self.all => Target::Group(group.clone()),
            _ => Target::All,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum CtlAction {
    /// Every group: capacity, bounds, what constrains automation, alarms firing, the
    /// lease holder and the last decision.
    Status,
    /// Stop automated changes (all, or scale-in only) until resumed or for a while.
    Pause {
        #[command(flatten)]
        which: Which,
        /// How long (e.g. 30m); default: until resumed.
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Option<Duration>,
        /// Keep scaling out; block only scale-in.
        #[arg(long)]
        scale_in_only: bool,
        /// Why, for the decision log (e.g. the incident).
        #[arg(long)]
        reason: String,
    },
    /// Lift a pause.
    Resume {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Set a group's desired capacity now and hold it.
    Scale {
        group: String,
        desired: u32,
        /// How long the autoscaler leaves it there.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "20m")]
        hold: Duration,
        /// Allowed above the group's max (raises the max for the hold only).
        #[arg(long)]
        beyond_max: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Mute notifications (alarms are still evaluated and shown).
    Silence {
        #[command(flatten)]
        which: Which,
        #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
        duration: Duration,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a silence.
    Unsilence {
        #[command(flatten)]
        which: Which,
    },
    /// Acknowledge the open incidents fleetdeck paged (PagerDuty's acknowledge, a reply
    /// in the page's Slack thread).
    Ack {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Shadow mode on (decide, never act) or off (act).
    Shadow {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Provoke an incident in a simulated fleet (as `:sim` in the console), e.g.
    /// `ctl sim gap embeddings 30s`, `ctl sim spike llm-chat x5 2m`.
    Sim {
        #[arg(required = true, num_args = 1.., value_name = "WORDS")]
        words: Vec<String>,
    },
    /// The decision log: the recent entries, and with --follow the new ones as they come.
    Decisions {
        #[arg(long)]
        follow: bool,
    },
}

impl CtlAction {
    /// The command this action sends, with its reason; None for the ones that only read.
    fn command(&self) -> Option<(Command, Option<String>)> {
        Some(match self {
            CtlAction::Status | CtlAction::Decisions { .. } => return None,
            CtlAction::Sim { words } => match words.join(" ").parse::<crate::protocol::SimCommand>() {
                Ok(action) => (Command::Sim { action }, None),
                // Parsed again in `run`, where the error can be printed.
                Err(_) => return None,
            },
            CtlAction::Pause { which, duration, scale_in_only, reason } => {
                let mode = if *scale_in_only { PauseMode::ScaleInOnly } else { PauseMode::Full };
                (Command::Pause { target: which.target(), duration: *duration, mode }, Some(reason.clone()))
            }
            CtlAction::Resume { which, reason } => {
                (Command::Resume { target: which.target() }, reason.clone())
            }
            CtlAction::Scale { group, desired, hold, beyond_max, reason } => (
                Command::ForceScale {
                    group: group.clone(),
                    desired: *desired,
                    hold: *hold,
                    beyond_max: *beyond_max,
                },
                reason.clone(),
            ),
            CtlAction::Silence { which, duration, reason } => {
                (Command::Silence { target: which.target(), duration: *duration }, reason.clone())
            }
            CtlAction::Unsilence { which } => (Command::Unsilence { target: which.target() }, None),
            CtlAction::Ack { which, reason } => {
                (Command::Acknowledge { target: which.target() }, reason.clone())
            }
            CtlAction::Shadow { state, which, reason } => {
                (Command::Shadow { target: which.target(), on: state == "on" }, reason.clone())
            }
        })
    }
}

/// Exit status of a command line that does not say a valid command.
pub const USAGE: u8 = 2;

/// Where the daemon is, and the token for TCP.
pub struct Daemon {
    pub endpoint: Endpoint,
    pub token: Option<String>,
}

/// Runs one `ctl` action against `daemon`, writing to `out` and `err`.
pub async fn run(
    args: &CtlArgs,
    daemon: &Daemon,
    operator: Operator,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    if let CtlAction::Sim { words } = &args.action
        && let Err(error) = words.join(" ").parse::<crate::protocol::SimCommand>()
    {
        writeln!(err, "fleetdeck ctl sim: {error}")?;
        return Ok(ExitCode::from(USAGE));
    }
    let hello = match &args.action {
        CtlAction::Status => Hello { summary: true, ..Hello::new(SnapshotWish::Once, false) },
        CtlAction::Decisions { follow } => Hello { backlog: true, ..Hello::new(SnapshotWish::None, *follow) },
        _ => Hello::new(SnapshotWish::None, false),
    };
    let hello = Hello { token: daemon.token.clone(), ..hello };
    let mut client = match Client::connect_to(&daemon.endpoint, hello).await {
        Ok(client) => client,
        // Whatever stopped the connection (none there, refused, TLS, closed at once).
        Err(error) => {
            writeln!(err, "fleetdeck ctl: {error}")?;
            return Ok(ExitCode::from(NO_DAEMON));
        }
    };
    if let Some((command, reason)) = args.action.command() {
        let text = command.to_string();
        let reply = client.command(CommandRequest { operator, reason, command }, |_| {}).await?;
        if args.json {
            serde_json::to_writer(&mut *out, &reply)?;
            writeln!(out)?;
        }
        return Ok(match reply {
            Reply::Ok { message } => {
                if !args.json {
                    writeln!(out, "ok: {text}: {message}")?;
                }
                ExitCode::SUCCESS
            }
            Reply::Refused { reason } => {
                writeln!(err, "refused: {text}: {reason}")?;
                ExitCode::FAILURE
            }
            Reply::Failed { error } => {
                writeln!(err, "failed: {text}: {error}")?;
                ExitCode::FAILURE
            }
        });
    }
    match &args.action {
        CtlAction::Status => {
            let ServerMsg::Snapshot(snapshot) = client.next().await? else {
                anyhow::bail!("the daemon sent no snapshot");
            };
            if args.json {
                serde_json::to_writer(&mut *out, &snapshot)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", status_text(&snapshot, &client.welcome.engine))?;
            }
        }
        CtlAction::Decisions { follow } => loop {
            // The backlog first; without --follow, stop once it has been sent (the
            // daemon sends it at once, so a short quiet spell ends it).
            let wait = if *follow { Duration::MAX } else { Duration::from_millis(300) };
            let msg = match tokio::time::timeout(wait, client.next()).await {
                Ok(msg) => msg?,
                Err(_) => break,
            };
            if let ServerMsg::Event(event) = msg
                && let Event::Decided(entry) = &*event
            {
                if args.json {
                    serde_json::to_writer(&mut *out, entry)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "{}", event_text(&event))?;
                }
                out.flush()?;
            }
        },
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// `ctl status` for people: a line a group, then what constrains it.
pub fn status_text(snapshot: &Snapshot, engine: &str) -> String {
    let mut out = format!("daemon {engine} · tick {} · {}\n", snapshot.seq, snapshot.taken_at.to_rfc3339());
    if snapshot.readonly {
        out.push_str("read-only: every command is refused\n");
    }
    let width = snapshot.groups.iter().map(|g| g.spec.name.len()).max().unwrap_or(5).max(5);
    out.push_str(&format!("{:<width$}  rdy/wrm/des  min-max  firing  lease\n", "group"));
    for group in &snapshot.groups {
        let counts =
            group.capacity.map_or("–".to_string(), |c| format!("{}/{}/{}", c.ready, c.warming, c.desired));
        let lease = group.lease.as_ref().map_or("–".to_string(), |l| l.holder.clone());
        out.push_str(&format!(
            "{:<width$}  {counts:>11}  {:>7}  {:>6}  {lease}\n",
            group.spec.name,
            format!("{}-{}", group.spec.min, group.spec.max),
            group.firing().count(),
        ));
        for control in &group.controls {
            out.push_str(&format!("  └ {}\n", control.text));
        }
        if let Some(decision) = &group.decision {
            let would = if decision.shadow && decision.desired.is_some() { "would " } else { "" };
            out.push_str(&format!("  └ last decision: {would}{}\n", decision.reason));
        }
    }
    for n in &snapshot.notifiers {
        let state = match &n.failing {
            Some(failure) => {
                format!("FAILING since {}: {}", crate::model::words::clock(failure.at), failure.error)
            }
            None => "ok".to_string(),
        };
        out.push_str(&format!(
            "notifier {}: {} sent, {} waiting, {} given up · {state}\n",
            n.name, n.sent, n.waiting, n.given_up
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{NotifierFailure, NotifierView};

    #[test]
    fn status_says_each_groups_state_and_whether_each_notifier_sends() {
        let mut fleet = crate::ui::fixtures::fleet();
        let at = fleet.taken_at;
        fleet.notifiers = vec![
            NotifierView { name: "team".into(), sent: 4, ..NotifierView::default() },
            NotifierView {
                name: "pd".into(),
                sent: 1,
                failed: 6,
                waiting: 2,
                failing: Some(NotifierFailure { at, error: "PagerDuty …: HTTP 503".into() }),
                ..NotifierView::default()
            },
        ];
        let text = status_text(&fleet, "ana@ops-1:42");
        assert!(text.starts_with("daemon ana@ops-1:42 · tick 1234"), "{text}");
        assert!(text.contains("llm-chat"), "{text}");
        assert!(text.contains("notifier team: 4 sent, 0 waiting, 0 given up · ok"), "{text}");
        assert!(
            text.contains(
                "notifier pd: 1 sent, 2 waiting, 0 given up · FAILING since 00:00 UTC: PagerDuty …: HTTP 503"
            ),
            "{text}"
        );
    }
}
