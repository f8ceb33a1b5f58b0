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
pub struct Daemon {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    home: PathBuf,
    pub socket: PathBuf,
}

impl Daemon {
    /// Starts the daemon on the fast profile with `home` as its whole world (state,
    /// config, runtime dir), listening on `socket` (default: the fleet's).
    fn start(home: &Path, socket: Option<&Path>) -> Daemon {
        Daemon::start_with(home, socket, &[], &[])
    }

    /// As [`Daemon::start`], with more arguments and environment variables.
    fn start_with(home: &Path, socket: Option<&Path>, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        Daemon::start_config(home, &fixture("fast.toml"), socket, args, vars)
    }

    /// As [`Daemon::start_with`], on the config file `config`.
    pub fn start_config(
        home: &Path,
        config: &Path,
        socket: Option<&Path>,
        args: &[&str],
        vars: &[(&str, &str)],
    ) -> Daemon {
        let mut command = Command::new(bin());
        command.args(["--auto", "--config"]).arg(config).args(args);
        command.envs(vars.iter().copied());
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

    /// Its first line: where it listens and who it is.
    fn listening(&self) -> serde_json::Value {
        serde_json::from_str(&self.lines()[0]).unwrap()
    }

    /// Its engine's identity, `user@host:pid`.
    fn engine(&self) -> String {
        self.listening()["engine"].as_str().unwrap().to_string()
    }

    /// Where its `/metrics` is (started with `--metrics-listen`).
    fn metrics_addr(&self) -> String {
        self.listening()["metrics"].as_str().expect("started with --metrics-listen").to_string()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn wait_for_line(&self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        wait_for(what, WAIT, || {
            let lines = self.lines();
            lines.iter().find(|l| matches(l)).cloned().ok_or_else(|| lines.join("\n"))
        })
    }

    /// `fleetdeck ctl ARGS` against this daemon's socket.
    pub fn ctl(&self, args: &[&str]) -> Output {
        let mut command = Command::new(bin());
        command.args(["ctl", "--socket"]).arg(&self.socket).args(args);
        env(&mut command, &self.home).output().expect("run fleetdeck ctl")
    }

    fn signal(&self, name: &str) {
        let sent =
            Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

/// Waits (bounded) for `child` to exit by itself.
fn wait_exit(child: &mut Child, what: &str) -> ExitStatus {
    wait_for(what, WAIT, || child.try_wait().unwrap().ok_or_else(|| "still running".to_string()))
}

#[test]
fn when_its_engine_task_ends_the_daemon_removes_socket_and_discovery_file_and_exits_1() {
    // The debug hook ends the engine task after its first tick: returning, or panicking.
    // Either used to panic main ("JoinHandle polled after completion") and leave both files.
    for (mode, says) in [
        ("return", "fleetdeck: the engine stopped by itself"),
        ("panic", "fleetdeck: the engine task panicked: FLEETDECK_DEBUG_ENGINE_EXIT=panic"),
    ] {
        let home = tempfile::tempdir().unwrap();
        let (out, err) = (home.path().join("stdout"), home.path().join("stderr"));
        let mut command = Command::new(bin());
        command.args(["--auto", "--config"]).arg(fixture("fast.toml"));
        command.env("FLEETDECK_DEBUG_ENGINE_EXIT", mode).env("RUST_BACKTRACE", "0");
        let mut child = env(&mut command, home.path())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child, &format!("the daemon to exit after its engine task ({mode})"));
        let (stdout, stderr) =
            (std::fs::read_to_string(&out).unwrap(), std::fs::read_to_string(&err).unwrap());
        assert_eq!(status.code(), Some(1), "{mode}: {stderr}");
        assert!(stderr.contains(says), "{mode}: {stderr}");
        assert!(!stderr.contains("JoinHandle"), "{mode}: {stderr}");
        let lines: Vec<serde_json::Value> =
            stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let listening = lines.first().unwrap_or_else(|| panic!("{mode}: no lines; {stderr}"));
        assert_eq!(listening["event"], "listening", "{mode}");
        let last = lines.last().unwrap();
        assert_eq!(
            (last["event"].as_str(), last["signal"].as_str()),
            (Some("stopped"), Some("engine stopped"))
        );
        let socket = PathBuf::from(listening["socket"].as_str().unwrap());
        assert!(socket.starts_with(home.path()), "{}", socket.display());
        assert!(!socket.exists(), "{mode}: the socket file is removed");
        let discovery = home.path().join("state/fleetdeck/fast/daemon.json");
        assert!(discovery.parent().unwrap().is_dir(), "{mode}: the state directory was made");
        assert!(!discovery.exists(), "{mode}: the discovery file is removed");
    }
}

#[test]
fn a_daemon_whose_stdout_is_closed_says_so_on_stderr_keeps_running_and_stops_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let err = home.path().join("stderr");
    // The reader is gone before the daemon writes its first line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(bin());
    command.args(["--auto", "--config"]).arg(fixture("fast.toml")).env("RUST_BACKTRACE", "0");
    let mut child = env(&mut command, home.path())
        .stdout(writer)
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let stderr = || std::fs::read_to_string(&err).unwrap_or_default();
    wait_for("the daemon to report its closed stdout", WAIT, || {
        let text = stderr();
        if text.contains("standard output is gone") { Ok(()) } else { Err(text) }
    });
    // Still serving: ctl reaches it on its socket, and it keeps ticking.
    let socket = home.path().join("run/fleetdeck/fast.sock");
    let status = |args: &[&str]| {
        let mut ctl = Command::new(bin());
        ctl.args(["ctl", "--socket"]).arg(&socket).args(args);
        env(&mut ctl, home.path()).output().unwrap()
    };
    wait_for("ctl status from the daemon", WAIT, || {
        let output = status(&["status"]);
        if output.status.success() { Ok(()) } else { Err(text(&output.stderr)) }
    });
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let exit = wait_exit(&mut child, "the daemon to stop after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", stderr());
    assert!(!stderr().contains("panicked"), "{}", stderr());
    assert_eq!(stderr().matches("standard output is gone").count(), 1, "reported once: {}", stderr());
    assert!(!socket.exists(), "the socket file is removed");
}

#[test]
fn ctl_whose_reader_went_away_exits_quietly() {
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(home.path(), None);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(bin());
    command.args(["ctl", "--socket"]).arg(&daemon.socket).arg("status").env("RUST_BACKTRACE", "0");
    let output = env(&mut command, home.path()).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "", "quiet");
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
fn ctl_with_no_config_finds_the_one_fleet_whose_daemon_runs_and_names_them_when_several_do() {
    // Issue 15, point 14: without --config, ctl looked only for the demo's socket.
    let home = tempfile::tempdir().unwrap();
    let fleet_config = |fleet: &str| {
        let path = home.path().join(format!("{fleet}.toml"));
        let fast = std::fs::read_to_string(fixture("fast.toml")).unwrap();
        std::fs::write(&path, format!("fleet = \"{fleet}\"\n{fast}")).unwrap();
        path
    };
    let unnamed_ctl = || {
        let mut command = Command::new(bin());
        command.args(["ctl", "status"]).env_remove("FLEETDECK_CONFIG");
        env(&mut command, home.path()).output().unwrap()
    };
    let _prod = Daemon::start_config(home.path(), &fleet_config("gpu-prod"), None, &[], &[]);
    let output = unnamed_ctl();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(status_row(&text(&output.stdout), "llm-chat").is_some(), "{}", text(&output.stdout));

    let _staging = Daemon::start_config(home.path(), &fleet_config("staging"), None, &[], &[]);
    let output = unnamed_ctl();
    assert!(!output.status.success());
    let said = text(&output.stderr);
    assert!(said.contains("gpu-prod, staging") && said.contains("--config"), "{said}");
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
    let first_engine = first.engine();
    let second_engine = second.engine();
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

/// `GET path` on `addr`: (status code, body). HTTP/1.0 so the server closes when done.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_request(addr, &format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n"))
}

/// One request on a fresh connection: (status code, body).
pub fn http_request(addr: &str, request: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let code = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or(String::new(), |(_, b)| b.to_string());
    (code, body)
}

#[test]
fn metrics_follow_the_engine_and_healthz_tells_a_stuck_tick_loop_from_a_stalled_source() {
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(home.path(), None, &["--metrics-listen", "127.0.0.1:0"], &[]);
    let addr = daemon.metrics_addr();
    let engine = daemon.engine();
    let metric = |line: &str| {
        let (code, body) = http_get(&addr, "/metrics");
        assert_eq!(code, 200);
        if body.lines().any(|l| l == line) { Ok(body) } else { Err(body) }
    };
    wait_for("capacity and lease in /metrics", WAIT, || {
        metric(r#"fleetdeck_desired_capacity{group="llm-chat"} 4"#)?;
        metric(&format!(r#"fleetdeck_lease_holder{{group="llm-chat",holder="{engine}"}} 1"#))
    });
    assert!(metric("# EOF").is_ok(), "OpenMetrics text ends with # EOF");

    // A pause by ctl shows in /metrics by a later tick.
    assert!(daemon.ctl(&["pause", "llm-chat", "--reason", "drill"]).status.success());
    wait_for("the pause in /metrics", WAIT, || metric(r#"fleetdeck_paused{group="llm-chat"} 1"#));

    // A stalled source: stale data trips the scale-in freeze; the engine still ticks.
    assert!(daemon.ctl(&["sim", "gap", "embeddings", "60s"]).status.success());
    wait_for("the stale-data breaker in /metrics", WAIT, || {
        metric(r#"fleetdeck_breaker_open{group="embeddings"} 1"#)
    });
    let status = text(&daemon.ctl(&["status"]).stdout);
    assert!(status.contains("breaker stale data open (scale-in frozen)"), "{status}");
    assert_eq!(http_get(&addr, "/healthz").0, 200, "a stalled source is not a stuck daemon");

    // A stuck tick loop (a debug-only hook stops ticking after tick 3): 503, with why.
    let stuck_home = tempfile::tempdir().unwrap();
    let stuck = Daemon::start_with(
        stuck_home.path(),
        None,
        &["--metrics-listen", "127.0.0.1:0"],
        &[("FLEETDECK_DEBUG_STALL_AFTER_TICKS", "3")],
    );
    let stuck_addr = stuck.metrics_addr();
    let body = wait_for("/healthz to turn 503", WAIT, || match http_get(&stuck_addr, "/healthz") {
        (503, body) => Ok(body),
        (code, body) => Err(format!("{code} {body}")),
    });
    assert!(body.contains("the tick loop is stuck"), "{body}");
}

#[test]
fn a_real_prometheus_scrapes_the_daemon_and_answers_queries_about_it() {
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(home.path(), None, &["--metrics-listen", "127.0.0.1:0"], &[]);
    let prometheus =
        crate::prometheus::Prometheus::scraping_jobs(&[("fleetdeck", &daemon.metrics_addr(), "")]);
    wait_for("Prometheus to be ready", WAIT, || {
        let ready = std::net::TcpStream::connect(&prometheus.addr).is_ok()
            && http_get(&prometheus.addr, "/-/ready").0 == 200;
        if ready { Ok(()) } else { Err("not ready".into()) }
    });
    // The first scrape is queryable a few seconds after start: poll the query.
    let body = wait_for("fleetdeck's series through Prometheus's query API", WAIT, || {
        let (code, body) = http_get(&prometheus.addr, "/api/v1/query?query=fleetdeck_desired_capacity");
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{code} {e}: {body}"))?;
        let results = json["data"]["result"].as_array().cloned().unwrap_or_default();
        let groups: Vec<&str> = results.iter().filter_map(|r| r["metric"]["group"].as_str()).collect();
        if ["llm-chat", "vision", "embeddings"].iter().all(|g| groups.contains(g)) {
            Ok(body)
        } else {
            Err(body)
        }
    });
    assert!(body.contains(r#""job":"fleetdeck""#), "{body}");
    let (_, up) = http_get(&prometheus.addr, "/api/v1/query?query=up%7Bjob%3D%22fleetdeck%22%7D");
    assert!(up.contains(r#""value":["#) && up.contains(r#","1"]"#), "the target is up: {up}");
}

/// The tick number in a console's header ("· tick 42").
fn screen_tick(screen: &str) -> Option<u64> {
    let header = screen.lines().next()?;
    header.rsplit("tick ").next()?.split_whitespace().next()?.parse().ok()
}

#[test]
fn an_attached_console_sees_ctl_changes_by_the_next_tick_and_reconnects_after_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(home.path(), None);
    let socket = daemon.socket.display().to_string();
    let tmux = crate::support::Tmux::start(&format!("{} --attach {socket}", bin()), 140, 40);
    let screen = tmux.wait_for_text(&["attached to", "llm-chat", "vision", "embeddings"]);
    assert!(!screen.contains("paused"), "{screen}");

    assert!(daemon.ctl(&["pause", "vision", "--reason", "drill"]).status.success());
    // The tick the daemon had reached when the pause was accepted: the next one shows it.
    let status = text(&daemon.ctl(&["status"]).stdout);
    let paused_at: u64 =
        status.split("tick ").nth(1).and_then(|t| t.split_whitespace().next()?.parse().ok()).unwrap();
    let screen = wait_for("a tick after the pause on the console", WAIT, || {
        let screen = tmux.capture();
        match screen_tick(&screen) {
            Some(tick) if tick > paused_at => Ok(screen),
            _ => Err(screen),
        }
    });
    assert!(screen.contains("paused (no automated changes) by ana"), "tick {paused_at}+: {screen}");

    // The lease is the daemon's, not this console's (issue 15, point 3).
    assert!(screen.contains("lease: the daemon"), "{screen}");
    assert!(!screen.contains("lease: this engine"), "{screen}");

    // The daemon goes away: the console says so and keeps its last data, marked old, its
    // age counting up on the console's clock, the lease unknown.
    assert_eq!(daemon.terminate().code(), Some(0));
    let screen = tmux.wait_for_text(&["DISCONNECTED", "disconnected from the daemon", "lease: unknown"]);
    assert!(screen.contains("vision"), "{screen}");
    wait_for("the data's age to count up with the daemon gone", WAIT, || {
        let screen = tmux.capture();
        match crate::support::data_age_secs(&screen) {
            Some(age) if age >= 3 => Ok(()),
            _ => Err(screen),
        }
    });
    // It comes back (same fleet, same state): the console reattaches by itself.
    let again = Daemon::start(home.path(), None);
    let engine = again.engine();
    let screen = tmux.wait_for_text(&[&format!("attached to {engine}")]);
    assert!(!screen.contains("DISCONNECTED"), "{screen}");
    assert!(
        screen.contains("paused (no automated changes) by ana"),
        "the pause survived the restart: {screen}"
    );
    tmux.quit();
}

#[test]
fn sighup_reloads_the_config_and_an_invalid_one_is_reported_and_the_running_one_kept() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("fleet.toml");
    let fast = std::fs::read_to_string(fixture("fast.toml")).unwrap();
    std::fs::write(&config, &fast).unwrap();
    let daemon = Daemon::start_config(home.path(), &config, None, &[], &[]);
    let bounds = |daemon: &Daemon| {
        let status = text(&daemon.ctl(&["status"]).stdout);
        let row = status.lines().find(|l| l.starts_with("vision")).map(str::to_string);
        row.and_then(|r| r.split_whitespace().nth(2).map(str::to_string)).ok_or(status)
    };
    assert_eq!(bounds(&daemon).unwrap(), "2-20");

    // vision's max 20 → 24 (the fast profile's vision is the second group).
    let vision_at = fast.find("name = \"vision\"").unwrap();
    let max_at = vision_at + fast[vision_at..].find("max = 20").unwrap();
    let edited = format!("{}max = 24{}", &fast[..max_at], &fast[max_at + "max = 20".len()..]);
    std::fs::write(&config, &edited).unwrap();
    daemon.signal("HUP");
    let line = daemon.wait_for_line("the reloaded line", |l| l.contains(r#""event":"reloaded""#));
    assert!(line.contains("vision: bounds 2-20 → 2-24"), "{line}");
    wait_for("the new max in the status", WAIT, || match bounds(&daemon) {
        Ok(b) if b == "2-24" => Ok(()),
        other => Err(format!("{other:?}")),
    });

    // A broken file: named with its line and column, and the running config kept.
    std::fs::write(&config, edited.replace("max = 24", "max = \"lots\"")).unwrap();
    daemon.signal("HUP");
    let line = daemon.wait_for_line("the reload_failed line", |l| l.contains(r#""event":"reload_failed""#));
    assert!(line.contains("fleet.toml:") && line.contains("max"), "{line}");
    assert_eq!(bounds(&daemon).unwrap(), "2-24", "the running config is kept");
    assert!(daemon.ctl(&["status"]).status.success(), "still running");
}

#[test]
fn over_tcp_the_right_token_is_served_and_a_wrong_or_missing_one_refused() {
    let home = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(
        home.path(),
        None,
        &["--listen", "127.0.0.1:0"],
        &[("FLEETDECK_TOKEN", "s3cret-token")],
    );
    let url = format!("tcp://{}", daemon.listening()["tcp"].as_str().unwrap());
    let ctl = |token: Option<&str>, args: &[&str]| {
        let mut command = Command::new(bin());
        command.args(["ctl", "--socket", &url]).args(args);
        env(&mut command, home.path());
        match token {
            Some(token) => command.env("FLEETDECK_TOKEN", token),
            None => command.env_remove("FLEETDECK_TOKEN"),
        };
        command.output().unwrap()
    };
    let ok = ctl(Some("s3cret-token"), &["status"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("vision"));

    let wrong = ctl(Some("guess"), &["pause", "--all", "--reason", "not allowed"]);
    assert_eq!(wrong.status.code(), Some(3));
    assert!(text(&wrong.stderr).contains("refused the connection: wrong token"), "{}", text(&wrong.stderr));
    let missing = ctl(None, &["status"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(text(&missing.stderr).contains("needs a token"), "{}", text(&missing.stderr));

    // Nothing changed, and the token is never printed.
    wait_for("a tick after the refusals", WAIT, || {
        let status = text(&ctl(Some("s3cret-token"), &["status"]).stdout);
        if status.contains("tick") && !status.contains("paused") { Ok(()) } else { Err(status) }
    });
    assert!(!daemon.lines().iter().any(|l| l.contains(r#""event":"command_handled""#)));
    assert!(!daemon.lines().iter().any(|l| l.contains("s3cret")), "the token is never printed");
}

#[test]
fn over_tcp_a_named_token_is_recorded_as_its_operator_whatever_the_client_claims() {
    let home = tempfile::tempdir().unwrap();
    let tokens = home.path().join("tokens");
    std::fs::write(&tokens, "# on-call\nalice-s3cret alice <alice@example.com>\nanon-s3cret\n").unwrap();
    let daemon = Daemon::start_with(
        home.path(),
        None,
        &["--listen", "127.0.0.1:0", "--token-file", tokens.to_str().unwrap()],
        &[],
    );
    let url = format!("tcp://{}", daemon.listening()["tcp"].as_str().unwrap());
    // The client claims to be mallory ($USER) with alice's token, then with the anonymous one.
    let ctl = |token: &str, args: &[&str]| {
        let mut command = Command::new(bin());
        command.args(["ctl", "--socket", &url]).args(args);
        env(&mut command, home.path()).env("USER", "mallory").env("FLEETDECK_TOKEN", token);
        command.output().unwrap()
    };
    let audit = home.path().join("state/fleetdeck/fast/decisions.jsonl");
    let command_line = |name: &str| {
        wait_for(&format!("the {name} command in the audit log"), WAIT, || {
            let text = std::fs::read_to_string(&audit).unwrap_or_default();
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .find(|v| v["kind"] == "command" && v["command"]["command"] == name)
                .ok_or(text)
        })
    };

    let pause = ctl("alice-s3cret", &["pause", "llm-chat", "--reason", "drill"]);
    assert!(pause.status.success(), "{}", text(&pause.stderr));
    let line = command_line("pause");
    let operator = &line["operator"];
    assert_eq!(
        (operator["name"].as_str(), operator["email"].as_str()),
        (Some("alice"), Some("alice@example.com"))
    );
    assert_eq!(operator["auth"]["by"], "token", "{line}");
    assert_eq!(operator["auth"]["claimed"], "mallory", "the forged claim is kept beside: {line}");
    assert!(operator["auth"]["token"].as_str().unwrap().starts_with("line 2 of "), "{line}");
    assert!(operator["auth"]["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{line}");
    // The engine's reply, the status and the daemon's output say alice too.
    let message = line["reply"]["message"].as_str().unwrap();
    assert!(message.contains("by alice <alice@example.com>") && !message.contains("mallory"), "{message}");
    wait_for("alice's pause in the status", WAIT, || {
        let status = text(&ctl("alice-s3cret", &["status"]).stdout);
        if status.contains("paused (no automated changes) by alice") { Ok(()) } else { Err(status) }
    });
    daemon.wait_for_line("the command on the daemon's output", |l| {
        l.contains(r#""event":"command_handled""#) && l.contains("alice <alice@example.com>")
    });

    // An anonymous token: the claim stands, marked as claimed, with the token and peer.
    let resume = ctl("anon-s3cret", &["resume", "llm-chat"]);
    assert!(resume.status.success(), "{}", text(&resume.stderr));
    let line = command_line("resume");
    let operator = &line["operator"];
    assert_eq!(operator["name"], "mallory", "{line}");
    assert_eq!(operator["auth"]["by"], "claimed", "{line}");
    assert!(operator["auth"]["token"].as_str().unwrap().starts_with("line 3 of "), "{line}");
    assert!(operator["auth"]["peer"].as_str().unwrap().starts_with("127.0.0.1:"), "{line}");
    daemon.wait_for_line("the claimed command on the daemon's output", |l| {
        l.contains(r#""event":"command_handled""#) && l.contains("mallory (claimed)")
    });

    // No token is ever printed or logged.
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(!daemon.lines().iter().any(|l| l.contains("s3cret")), "a token on the daemon's output");
    assert!(!log.contains("s3cret"), "a token in the audit log");
}

#[test]
fn listen_without_a_token_is_refused_at_start() {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new(bin());
    command.args(["--auto", "--listen", "127.0.0.1:0", "--config"]).arg(fixture("fast.toml"));
    let output = env(&mut command, home.path()).env_remove("FLEETDECK_TOKEN").output().unwrap();
    assert!(!output.status.success());
    assert!(text(&output.stderr).contains("--listen needs a token"), "{}", text(&output.stderr));
}

#[test]
fn over_tls_a_client_that_trusts_the_certificate_is_served() {
    let home = tempfile::tempdir().unwrap();
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    let (cert, key) = (home.path().join("cert.pem"), home.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let daemon = Daemon::start_with(
        home.path(),
        None,
        &["--listen", "127.0.0.1:0", "--tls-cert", &cert_arg, "--tls-key", &key_arg],
        &[("FLEETDECK_TOKEN", "t0ken")],
    );
    let addr = daemon.listening()["tcp"].as_str().unwrap().to_string();
    let ctl = |url: &str, ca: Option<&Path>| {
        let mut command = Command::new(bin());
        command.args(["ctl", "--socket", url, "status"]);
        env(&mut command, home.path()).env("FLEETDECK_TOKEN", "t0ken");
        match ca {
            Some(ca) => command.env("FLEETDECK_TLS_CA", ca),
            None => command.env_remove("FLEETDECK_TLS_CA"),
        };
        command.output().unwrap()
    };
    let ok = ctl(&format!("tls://{addr}"), Some(&cert));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("vision"));
    // Without the CA to trust: said plainly, exit 3.
    let no_ca = ctl(&format!("tls://{addr}"), None);
    assert_eq!(no_ca.status.code(), Some(3));
    assert!(text(&no_ca.stderr).contains("needs the CA to trust"), "{}", text(&no_ca.stderr));
    // Trusting another certificate: the handshake fails.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let other_pem = home.path().join("other.pem");
    std::fs::write(&other_pem, other.cert.pem()).unwrap();
    let untrusted = ctl(&format!("tls://{addr}"), Some(&other_pem));
    assert_eq!(untrusted.status.code(), Some(3));
    assert!(text(&untrusted.stderr).contains("TLS:"), "{}", text(&untrusted.stderr));
    // Plain TCP to a TLS port is not served.
    let plain = ctl(&format!("tcp://{addr}"), None);
    assert_eq!(plain.status.code(), Some(3), "{}", text(&plain.stderr));
}
