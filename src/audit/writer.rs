//! [`AuditLog`]: appends audit lines to a file with synchronous std I/O (the engine calls
//! it from a blocking task), coalescing "no change" runs, syncing what must survive a
//! crash, and rotating by size.
//!
//! Who did what is kept far longer than the rest: every command line and every decision
//! line that changed desired (acted on, not shadow) also goes to the actions log beside
//! it ([`actions_path`]: `decisions.jsonl` → `decisions.actions.jsonl`), rotated by its own
//! size and kept for [`AuditOptions::actions_retention`] (30 days by default); the full
//! log keeps every tick for as long as its size allows (hours to days).
//!
//! Durability: a line that changes desired (an action, shadow or not) and every command
//! line are written through and `fsync`ed (`sync_data`) before the call returns; other
//! lines stay in a buffer until the next synced line, [`AuditLog::flush`], or drop.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::Timestamp;
use crate::policy::{Decision, GroupState, Inputs};
use crate::protocol::{CommandRequest, Reply};

use super::AuditError;
use super::coalesce::Runs;
use super::line::{AuditLine, CommandLine, DecisionLine};
use super::rotate::{rotate, rotated_path};

/// How the log is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditOptions {
    /// The live file is rotated before a line would take it past this size.
    pub max_bytes: u64,
    /// Rotated files kept besides the live one (`.1` … `.{keep}`).
    pub keep: usize,
    /// A run of identical "no change" decisions is written out once it spans this long
    /// (and a new run starts), so a crash loses at most this much of a run.
    pub max_run: Duration,
    /// The actions log's live file is rotated before a line would take it past this size.
    pub actions_max_bytes: u64,
    /// A rotated actions file is removed once its last line is this much older than the
    /// line being written; beyond [`ACTIONS_MAX_FILES`] rotated files, the oldest go
    /// whatever their age.
    pub actions_retention: Duration,
}

/// Rotated actions files kept at most, whatever their age: a bound on the disk taken by a
/// fleet that scales far more often than expected (64 × 16 MiB by default).
pub const ACTIONS_MAX_FILES: usize = 64;

impl Default for AuditOptions {
    /// 64 MiB per file, 5 rotated files, runs written at least every 15 minutes; actions
    /// in 16 MiB files kept 30 days.
    fn default() -> Self {
        AuditOptions {
            max_bytes: 64 * 1024 * 1024,
            keep: 5,
            max_run: Duration::from_secs(15 * 60),
            actions_max_bytes: 16 * 1024 * 1024,
            actions_retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The actions log of the decision log at `path`: `decisions.jsonl` →
/// `decisions.actions.jsonl` (the last extension, if any, kept at the end).
pub fn actions_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}.actions.{}", ext.to_string_lossy()),
        None => format!("{stem}.actions"),
    };
    path.with_file_name(name)
}

/// One append-only file and the bytes in it (buffered ones included).
struct Sink {
    path: PathBuf,
    out: BufWriter<File>,
    size: u64,
}

impl Sink {
    /// Opens (appending) or creates `path`. A file that ends in a torn line (a crash
    /// mid-write) gets a newline first, so the next line is readable though the torn one
    /// is not.
    fn open(path: PathBuf) -> Result<Sink, AuditError> {
        let io = |source| AuditError::Io { path: path.clone(), source };
        let file = open_append(&path)?;
        let size = file.metadata().map_err(io)?.len();
        let mut sink = Sink { out: BufWriter::new(file), size, path: path.clone() };
        if sink.size > 0 && !ends_with_newline(&path).map_err(io)? {
            sink.out.write_all(b"\n").map_err(io)?;
            sink.size += 1;
        }
        Ok(sink)
    }

    /// Whether `len` more bytes would take a non-empty file past `max`.
    fn full(&self, len: u64, max: u64) -> bool {
        self.size > 0 && self.size + len > max
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), AuditError> {
        self.out.write_all(bytes).map_err(|e| self.io(e))?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Syncs, renames the live file to `.1` (shifting the others, `keep` at most), and
    /// starts a new one.
    fn rotate(&mut self, keep: usize) -> Result<(), AuditError> {
        self.sync()?;
        rotate(&self.path, keep).map_err(|e| self.io(e))?;
        self.out = BufWriter::new(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.out.flush().map_err(|e| self.io(e))?;
        self.out.get_ref().sync_data().map_err(|e| self.io(e))
    }

    fn io(&self, source: std::io::Error) -> AuditError {
        AuditError::Io { path: self.path.clone(), source }
    }
}

/// The decision and command log of one engine.
pub struct AuditLog {
    options: AuditOptions,
    /// Every line.
    all: Sink,
    /// Commands and acted-on changes of desired: see the module doc.
    actions: Sink,
    runs: Runs,
    /// How many times the file was synced (tests check the sync path runs).
    syncs: u64,
}

impl AuditLog {
    /// Opens (appending) or creates the log at `path` and its actions log
    /// ([`actions_path`]), creating their directory.
    pub fn open(path: impl Into<PathBuf>, options: AuditOptions) -> Result<AuditLog, AuditError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| AuditError::Io { path: dir.to_path_buf(), source })?;
        }
        Ok(AuditLog {
            actions: Sink::open(actions_path(&path))?,
            all: Sink::open(path)?,
            runs: Runs::new(options.max_run),
            syncs: 0,
            options,
        })
    }

    pub fn path(&self) -> &Path {
        &self.all.path
    }

    /// Where commands and actions are kept longer.
    pub fn actions_path(&self) -> &Path {
        &self.actions.path
    }

    /// Records one group's decision with exactly the state and inputs `decide` was given.
    /// A "no change" decision may join its group's pending run instead of being written.
    pub fn record_decision(
        &mut self,
        state: &GroupState,
        inputs: &Inputs,
        decision: &Decision,
        shadow: bool,
    ) -> Result<(), AuditError> {
        let action = decision.desired.is_some();
        for line in self.runs.offer(DecisionLine::new(state, inputs, decision, shadow)) {
            let kept = line.decision.desired.is_some() && !line.shadow;
            self.write(&AuditLine::Decision(Box::new(line)), kept)?;
        }
        if action { self.sync() } else { Ok(()) }
    }

    /// Records an operator command and the engine's reply, synced before returning.
    pub fn record_command(
        &mut self,
        at: Timestamp,
        request: &CommandRequest,
        reply: &Reply,
    ) -> Result<(), AuditError> {
        let line = CommandLine {
            at,
            operator: request.operator.clone(),
            command: request.command.clone(),
            reason: request.reason.clone(),
            reply: reply.clone(),
        };
        self.write(&AuditLine::Command(Box::new(line)), true)?;
        self.sync()
    }

    /// Writes every pending run (ending it: the next identical decision starts a new
    /// one) and syncs the file. Call on shutdown; drop does the same, logging errors.
    pub fn flush(&mut self) -> Result<(), AuditError> {
        for line in self.runs.drain() {
            self.write(&AuditLine::Decision(Box::new(line)), false)?;
        }
        self.sync()
    }

    /// Appends one line, and to the actions log too if `kept` (a command, an acted-on
    /// change), rotating each first if the line would take it past its size (a line
    /// longer than that gets a file of its own).
    fn write(&mut self, line: &AuditLine, kept: bool) -> Result<(), AuditError> {
        let mut bytes =
            line.to_json().map_err(|source| AuditError::Encode { path: self.all.path.clone(), source })?;
        bytes.push('\n');
        let len = bytes.len() as u64;
        if self.all.full(len, self.options.max_bytes) {
            self.all.rotate(self.options.keep)?;
        }
        self.all.append(bytes.as_bytes())?;
        if kept {
            if self.actions.full(len, self.options.actions_max_bytes) {
                self.actions.rotate(ACTIONS_MAX_FILES)?;
                let cutoff = line.at().minus(self.options.actions_retention);
                prune_older(&self.actions.path, cutoff).map_err(|e| self.actions.io(e))?;
            }
            self.actions.append(bytes.as_bytes())?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.all.sync()?;
        self.actions.sync()?;
        self.syncs += 1;
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn syncs(&self) -> u64 {
        self.syncs
    }
}

impl Drop for AuditLog {
    /// A clean shutdown never loses a pending run.
    fn drop(&mut self) {
        if let Err(err) = self.flush() {
            tracing::warn!(%err, "could not flush the audit log");
        }
    }
}

/// Removes the rotated files of `path` whose last line is older than `cutoff`. Rotated
/// files are newest first, so the first old one and all after it go. A file whose last
/// line cannot be read for a time is kept (only [`ACTIONS_MAX_FILES`] removes it).
fn prune_older(path: &Path, cutoff: Timestamp) -> std::io::Result<()> {
    let mut expired = false;
    for n in 1..=ACTIONS_MAX_FILES {
        let rotated = rotated_path(path, n);
        let last = match last_line_at(&rotated) {
            Ok(last) => last,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => break,
            Err(err) => return Err(err),
        };
        expired |= last.is_some_and(|at| at < cutoff);
        if expired {
            fs::remove_file(&rotated)?;
        }
    }
    Ok(())
}

/// The `at` of a log file's last line (None when it has none that reads).
fn last_line_at(path: &Path) -> std::io::Result<Option<Timestamp>> {
    /// Far more than a line takes (a few KiB).
    const TAIL: u64 = 1 << 20;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let last = tail.split(|&b| b == b'\n').rev().find(|line| !line.is_empty());
    Ok(last.and_then(|line| {
        let value: serde_json::Value = serde_json::from_slice(line).ok()?;
        Some(Timestamp(value.get("at")?.as_i64()?))
    }))
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuditError::Io { path: path.to_path_buf(), source })
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}
