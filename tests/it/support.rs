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
            Err(last) if Instant::now() >= deadline => panic!("timed out waiting for {what}; last seen:\n{last}"),
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
    /// The pane stays after the command exits so its exit status and terminal modes can
    /// be read.
    pub fn start(command: &str, width: u16, height: u16) -> Tmux {
        let home = tempfile::tempdir().expect("temp home");
        let conf = home.path().join("tmux.conf");
        std::fs::write(&conf, "set -g remain-on-exit on\nset -g default-terminal tmux-256color\nset -g history-limit 0\n")
            .unwrap();
        let socket = format!("fleetdeck-test-{}-{}", std::process::id(), rand_suffix());
        let tmux = Tmux { socket, home };
        let env = format!(
            "env HOME={h} XDG_CONFIG_HOME={h}/config XDG_STATE_HOME={h}/state FLEETDECK_LOG=debug ",
            h = tmux.home.path().display()
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
            &format!("{env}{command}"),
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

    pub fn send_keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend_from_slice(keys);
        self.run(&args);
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

    /// Waits until the program in the pane has exited; returns its exit status.
    pub fn wait_exit(&self) -> i32 {
        wait_for("the program to exit", WAIT, || {
            if self.pane_var("pane_dead") == "1" { Ok(()) } else { Err(self.capture()) }
        });
        self.pane_var("pane_dead_status").parse().expect("exit status")
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
