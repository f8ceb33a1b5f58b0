//! Shared helpers: waiting on conditions, the binary's path, fixture paths, and a tmux
//! session wrapper that cleans up after itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Generous: machines here are noisy. Tests wait on conditions, never on durations.
pub const WAIT: Duration = Duration::from_secs(30);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fleetdeck")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// Polls `check` until it returns `Some`, or panics after `timeout` with `what` and
/// the last thing seen.
pub fn wait_for<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out waiting for {what}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs the binary to completion with an isolated home.
pub fn run_fleetdeck(args: &[&str], home: &Path) -> Output {
    Command::new(bin())
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("FLEETDECK_CONFIG")
        .output()
        .expect("run fleetdeck")
}

/// A private tmux server (own socket) with one session; killed on drop.
pub struct Tmux {
    socket: String,
    pub home: tempfile::TempDir,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached `width`×`height` session.
    /// A wrapper shell records the terminal settings (`stty -g`) before and after it and
    /// its exit status, then keeps the pane alive, so the terminal state the program left
    /// behind can be read (tmux reports a dead pane's cursor as hidden).
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        Tmux::start_with_state(command, width, height, None)
    }

    /// As [`Tmux::start`], with `XDG_STATE_HOME` at `state` (to start again on the state
    /// an earlier run left) instead of a fresh directory.
    pub fn start_with_state(command: &str, width: u16, height: u16, state: Option<&Path>) -> Tmux {
        let home = tempfile::tempdir().expect("temp home");
        let conf = home.path().join("tmux.conf");
        std::fs::write(
            &conf,
            "set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g history-limit 0\n",
        )
        .unwrap();
        let socket = format!("fleetdeck-test-{}-{}", std::process::id(), rand_suffix());
        let tmux = Tmux { socket, home };
        let h = tmux.home.path().display();
        let state = state.map_or_else(|| tmux.home.path().join("state"), Path::to_path_buf);
        let state = state.display();
        let wrapped = format!(
            "stty -g > {h}/stty.before; \
             env HOME={h} XDG_CONFIG_HOME={h}/config XDG_STATE_HOME={state} FLEETDECK_LOG=debug RUST_BACKTRACE=0 {command}; \
             status=$?; stty -g > {h}/stty.after; echo $status > {h}/exit-status; exec cat"
        );
        tmux.run(&[
            "-f",
            conf.to_str().unwrap(),
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            &wrapped,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("run tmux");
        assert!(output.status.success(), "tmux {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// The pane with its colours and attributes as escape sequences.
    pub fn capture_styled(&self) -> String {
        self.run(&["capture-pane", "-e", "-p", "-t", "main"])
    }

    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// Types a `:` command line and submits it, as a person would.
    pub fn command(&self, line: &str) {
        self.send_keys(&[":"]);
        self.type_text(line);
        self.send_keys(&["Enter"]);
    }

    /// Types text literally (no key-name interpretation).
    pub fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "main", "-l", text]);
    }

    pub fn resize(&self, width: u16, height: u16) {
        self.run(&["resize-window", "-t", "main", "-x", &width.to_string(), "-y", &height.to_string()]);
    }

    /// A tmux format variable of the pane, e.g. `alternate_on`, `cursor_flag`, `pane_dead`.
    pub fn pane_var(&self, name: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", &format!("#{{{name}}}")]).trim().to_string()
    }

    /// The program's exit status, once the wrapper shell has recorded it.
    fn exit_status(&self) -> Option<i32> {
        let status = std::fs::read_to_string(self.home.path().join("exit-status")).ok()?;
        status.trim().parse().ok()
    }

    /// Waits until the program in the pane has exited; returns its exit status.
    pub fn wait_exit(&self) -> i32 {
        wait_for("the program to exit", WAIT, || self.exit_status().ok_or_else(|| self.capture()))
    }

    /// Quits with `q`, as a person would, and checks the program exited with status 0.
    /// A console whose own engine holds leases asks first (quitting stops its
    /// autoscaling); the dialog must name what stops, and `y` confirms.
    pub fn quit(&self) {
        self.send_keys(&["q"]);
        let asked = wait_for("the program to exit or to ask", WAIT, || {
            if self.exit_status().is_some() {
                return Ok(None);
            }
            let screen = self.capture();
            if screen.contains("quit fleetdeck?") { Ok(Some(screen)) } else { Err(screen) }
        });
        if let Some(screen) = asked {
            assert!(
                screen.contains(" autoscaling: this console"),
                "the quit dialog says what stops:\n{screen}"
            );
            self.send_keys(&["y"]);
        }
        assert_eq!(self.wait_exit(), 0, "q exits with status 0");
    }

    /// The directory the program's state went to (unless given to `start_with_state`).
    pub fn state_dir(&self) -> std::path::PathBuf {
        self.home.path().join("state")
    }

    /// Kills the program in the pane with SIGKILL: no clean-up of any kind runs.
    pub fn kill_program(&self) {
        let shell = self.pane_var("pane_pid");
        let output = Command::new("pkill").args(["-9", "-P", &shell]).output().expect("pkill");
        assert!(output.status.success(), "nothing killed under pid {shell}");
        self.wait_exit();
    }

    /// The terminal settings (`stty -g`) before the program started and after it exited.
    pub fn stty_before_and_after(&self) -> (String, String) {
        let read = |name: &str| std::fs::read_to_string(self.home.path().join(name)).expect(name);
        (read("stty.before"), read("stty.after"))
    }

    /// Waits until the screen shows every one of `needles`; returns the screen.
    pub fn wait_for_text(&self, needles: &[&str]) -> String {
        wait_for(&format!("{needles:?} on screen"), WAIT, || {
            let screen = self.capture();
            if needles.iter().all(|n| screen.contains(n)) { Ok(screen) } else { Err(screen) }
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    (nanos as u64) << 8 | NEXT.fetch_add(1, Ordering::SeqCst)
}

/// The header's "data as of Ns ago", in whole seconds (ages under a minute only).
pub fn data_age_secs(screen: &str) -> Option<u64> {
    let header = screen.lines().next()?;
    let age = header.split("data as of ").nth(1)?.split(' ').next()?;
    age.strip_suffix('s')?.parse().ok()
}
