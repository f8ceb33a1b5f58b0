//! `fleetdeck --auto` and `fleetdeck ctl`, as processes: the daemon on the fast test
//! profile in an isolated home, driven by `ctl` and signals. Every wait is on a
//! condition (a line on the daemon's output, a status), with generous timeouts.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{WAIT, bin, fixture, wait_for};

/// A running `fleetdeck --auto` with its own home, and its output lines as they come.
struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    home: PathBuf,
    socket: PathBuf,
}

impl Daemon {
    /// Starts the daemon on the fast profile with `home` as its whole world (state,
    /// config, runtime dir), listening on `socket` (default: the fleet's).
    fn start(home: &Path, socket: Option<&Path>) -> Daemon {
        let mut command = Command::new(bin());
        command.args(["--auto", "--config"]).arg(fixture("fast.toml"));
        if let Some(socket) = socket {
            command.arg("--socket").arg(socket);
        }
        let mut child = env(&mut command, home)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fleetdeck --auto");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut daemon = Daemon { child, lines, home: home.to_path_buf(), socket: PathBuf::new() };
        let listening = daemon.wait_for_line("the listening line", |l| l.contains(r#""event":"listening""#));
        let value: serde_json::Value = serde_json::from_str(&listening).unwrap();
        daemon.socket = PathBuf::from(value["socket"].as_str().unwrap());
        daemon
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn wait_for_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        wait_for(what, WAIT, || {
            let lines = self.lines();
            lines.iter().find(|l| matches(l)).cloned().ok_or_else(|| lines.join("\n"))
        })
    }

    /// `fleetdeck ctl ARGS` against this daemon's socket.
    fn ctl(&self, args: &[&str]) -> Output {
        let mut command = Command::new(bin());
        command.args(["ctl", "--socket"]).arg(&self.socket).args(args);
        env(&mut command, &self.home).output().expect("run fleetdeck ctl")
    }

    /// SIGTERM, then the exit status (bounded wait).
    fn terminate(&mut self) -> ExitStatus {
        let killed = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(killed.success());
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the daemon did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn env<'a>(command: &'a mut Command, home: &Path) -> &'a mut Command {
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("USER", "ana")
        .env_remove("FLEETDECK_CONFIG")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ctl status`'s row of `group`: (ready, warming, desired) and the lease holder.
fn status_row(status: &str, group: &str) -> Option<(String, String)> {
    let row = status.lines().find(|l| l.split_whitespace().next() == Some(group))?;
    let words: Vec<&str> = row.split_whitespace().collect();
    Some((words.get(1)?.to_string(), words.last()?.to_string()))
}

#[test]
fn the_daemon_answers_ctl_and_stops_cleanly_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(home.path(), None);
    assert!(daemon.socket.starts_with(home.path().join("run")), "{}", daemon.socket.display());
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&daemon.socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "owner-only socket");

    let status = daemon.ctl(&["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let status = text(&status.stdout);
    for group in ["llm-chat", "vision", "embeddings"] {
        assert!(status_row(&status, group).is_some(), "{status}");
    }

    // A pause by ctl: accepted, shown in the status, in the daemon's output and audit log.
    let pause = daemon.ctl(&["pause", "llm-chat", "--for", "30m", "--scale-in-only", "--reason", "INC-7"]);
    assert!(pause.status.success(), "{}", text(&pause.stderr));
    assert!(
        text(&pause.stdout).starts_with("ok: pause llm-chat 30m --scale-in-only"),
        "{}",
        text(&pause.stdout)
    );
    wait_for("the pause in the next tick's status", WAIT, || {
        let status = text(&daemon.ctl(&["status"]).stdout);
        if status.contains("paused (scale-in only) by ana") { Ok(()) } else { Err(status) }
    });
    daemon.wait_for_line("the command on the daemon's output", |l| {
        l.contains(r#""event":"command_handled""#) && l.contains("pause llm-chat")
    });

    // A refusal exits 1 with the engine's words; JSON output is the reply itself.
    let refused = daemon.ctl(&["--json", "scale", "vision", "99", "--hold", "5m"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("above vision's max"), "{}", text(&refused.stderr));
    let reply: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(reply["reply"], "refused");

    // The decision log: the recent entries, one JSON object a line.
    let decisions = daemon.ctl(&["--json", "decisions"]);
    assert!(decisions.status.success());
    let entries: Vec<serde_json::Value> =
        text(&decisions.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(entries.iter().any(|e| e["group"] == "llm-chat"), "{entries:?}");

    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "SIGTERM exits 0");
    let lines = daemon.lines();
    let last: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!((last["event"].as_str(), last["signal"].as_str()), (Some("stopped"), Some("SIGTERM")));
    assert!(lines.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "JSON lines only");
    assert!(!daemon.socket.exists(), "the socket file is removed");
    // The audit log has the command, with its operator and reason.
    let audit = std::fs::read_to_string(home.path().join("state/fleetdeck/fast/decisions.jsonl")).unwrap();
    let pause =
        audit.lines().find(|l| l.contains(r#""command":"pause""#)).unwrap_or_else(|| panic!("{audit}"));
    assert!(pause.contains(r#""group":"llm-chat""#) && pause.contains(r#""reason":"INC-7""#), "{pause}");
    assert!(pause.contains(r#""name":"ana""#), "{pause}");
    // Flushed at the stop: the last run of decisions of every group is there.
    for group in ["llm-chat", "vision", "embeddings"] {
        assert!(
            audit
                .lines()
                .any(|l| l.contains(r#""kind":"decision""#) && l.contains(&format!(r#""group":"{group}""#)))
        );
    }
}

#[test]
fn ctl_without_a_daemon_says_so_and_exits_3() {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(bin());
    command.args(["ctl", "--socket"]).arg(home.path().join("none.sock")).arg("status");
    let output = env(&mut command, home.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(text(&output.stderr).contains("cannot reach a fleetdeck daemon"), "{}", text(&output.stderr));
}

#[test]
fn a_second_daemon_observes_the_first_and_takes_over_when_it_stops() {
    let home = tempfile::tempdir().unwrap();
    let mut first = Daemon::start(home.path(), None);
    let second = Daemon::start(home.path(), Some(&home.path().join("second.sock")));
    let holder = |daemon: &Daemon| {
        let status = text(&daemon.ctl(&["status"]).stdout);
        status_row(&status, "vision").map(|(_, holder)| holder).ok_or(status)
    };
    let first_engine = serde_json::from_str::<serde_json::Value>(&first.lines()[0]).unwrap()["engine"]
        .as_str()
        .unwrap()
        .to_string();
    let second_engine = serde_json::from_str::<serde_json::Value>(&second.lines()[0]).unwrap()["engine"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("the second daemon to report the first as lease holder", WAIT, || match holder(&second) {
        Ok(h) if h == first_engine => Ok(()),
        other => Err(format!("{other:?}")),
    });
    assert_eq!(first.terminate().code(), Some(0));
    wait_for("the second daemon to take the lease over", WAIT, || match holder(&second) {
        Ok(h) if h == second_engine => Ok(()),
        other => Err(format!("{other:?}")),
    });
}

/// One raw exchange on the socket: sends `hello` (a JSON line), returns the daemon's
/// first line.
fn raw_hello(socket: &Path, hello: &str) -> String {
    use std::io::Write;
    let mut stream = std::os::unix::net::UnixStream::connect(socket).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    writeln!(stream, "{hello}").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[test]
fn another_protocol_version_or_another_user_is_refused_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(home.path(), None);
    let before = text(&daemon.ctl(&["status"]).stdout);

    let refused = raw_hello(&daemon.socket, r#"{"hello":{"version":{"major":99,"minor":0}}}"#);
    assert!(refused.contains("protocol version 99.0 is not spoken here"), "{refused}");
    let not_hello = raw_hello(
        &daemon.socket,
        r#"{"command":{"id":1,"request":{"operator":{"name":"x"},"command":{"command":"resume","target":"all"}}}}"#,
    );
    assert!(not_hello.contains("expected a hello as the first line"), "{not_hello}");

    // Another uid: the kernel's peer credentials are checked before the hello. The
    // directory and socket are opened up for the test, so only that check stands between.
    let root = text(&Command::new("id").arg("-u").output().unwrap().stdout).trim() == "0";
    if root {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o777);
        for dir in daemon.socket.ancestors().skip(1).take_while(|d| d.starts_with(home.path())) {
            std::fs::set_permissions(dir, open.clone()).unwrap();
        }
        std::fs::set_permissions(&daemon.socket, open).unwrap();
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin(), "ctl", "--socket"]);
        command.arg(&daemon.socket).args(["pause", "--all", "--reason", "not mine"]);
        let output = env(&mut command, home.path()).output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
        assert!(
            text(&output.stderr).contains("connections from uid 65534 are refused"),
            "{}",
            text(&output.stderr)
        );
    } else {
        // Without root no other uid can be taken: the file permissions are the barrier.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&daemon.socket).unwrap().permissions(),
        );
        assert_eq!(mode & 0o077, 0, "no access for group or others");
    }
    wait_for("a later tick", WAIT, || {
        let after = text(&daemon.ctl(&["status"]).stdout);
        if after != before { Ok(after) } else { Err(after) }
    });
    let after = text(&daemon.ctl(&["status"]).stdout);
    assert!(!after.contains("paused"), "nothing changed: {after}");
    assert!(
        !daemon.lines().iter().any(|l| l.contains(r#""event":"command_handled""#)),
        "no command reached the engine"
    );
}
