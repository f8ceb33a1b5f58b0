//! [`AuditLog`]: appends audit lines to a file with synchronous std I/O (the engine calls
//! it from a blocking task), coalescing "no change" runs, syncing what must survive a
//! crash, and rotating by size.
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
use super::rotate::rotate;

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
}

impl Default for AuditOptions {
    /// 64 MiB per file, 5 rotated files, runs written at least every 15 minutes.
    fn default() -> Self {
        AuditOptions { max_bytes: 64 * 1024 * 1024, keep: 5, max_run: Duration::from_secs(15 * 60) }
    }
}

/// The decision and command log of one engine.
pub struct AuditLog {
    path: PathBuf,
    options: AuditOptions,
    out: BufWriter<File>,
    /// Bytes in the live file, buffered ones included.
    size: u64,
    runs: Runs,
    /// How many times the file was synced (tests check the sync path runs).
    syncs: u64,
}

impl AuditLog {
    /// Opens (appending) or creates the log at `path`, creating its directories. A file
    /// that ends in a torn line (a crash mid-write) gets a newline first, so the next line
    /// is readable even though the torn one is not.
    pub fn open(path: impl Into<PathBuf>, options: AuditOptions) -> Result<AuditLog, AuditError> {
        let path = path.into();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|source| AuditError::Io { path: dir.to_path_buf(), source })?;
        }
        let file = open_append(&path)?;
        let mut log = AuditLog {
            out: BufWriter::new(file),
            size: 0,
            runs: Runs::new(options.max_run),
            syncs: 0,
            path,
            options,
        };
        log.size = log.out.get_ref().metadata().map_err(|e| log.io(e))?.len();
        if log.size > 0 && !ends_with_newline(&log.path).map_err(|e| log.io(e))? {
            log.out.write_all(b"\n").map_err(|e| log.io(e))?;
            log.size += 1;
        }
        Ok(log)
    }

    pub fn path(&self) -> &Path {
        &self.path
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
            self.write(&AuditLine::Decision(Box::new(line)))?;
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
        self.write(&AuditLine::Command(Box::new(line)))?;
        self.sync()
    }

    /// Writes every pending run (ending it: the next identical decision starts a new
    /// one) and syncs the file. Call on shutdown; drop does the same, logging errors.
    pub fn flush(&mut self) -> Result<(), AuditError> {
        for line in self.runs.drain() {
            self.write(&AuditLine::Decision(Box::new(line)))?;
        }
        self.sync()
    }

    /// Appends one line, rotating first if it would take the file past `max_bytes` (a
    /// line longer than that gets a file of its own).
    fn write(&mut self, line: &AuditLine) -> Result<(), AuditError> {
        let mut bytes =
            line.to_json().map_err(|source| AuditError::Encode { path: self.path.clone(), source })?;
        bytes.push('\n');
        let len = bytes.len() as u64;
        if self.size > 0 && self.size + len > self.options.max_bytes {
            self.rotate()?;
        }
        self.out.write_all(bytes.as_bytes()).map_err(|e| self.io(e))?;
        self.size += len;
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        self.sync()?;
        rotate(&self.path, self.options.keep).map_err(|e| self.io(e))?;
        self.out = BufWriter::new(open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.out.flush().map_err(|e| self.io(e))?;
        self.out.get_ref().sync_data().map_err(|e| self.io(e))?;
        self.syncs += 1;
        Ok(())
    }

    fn io(&self, source: std::io::Error) -> AuditError {
        AuditError::Io { path: self.path.clone(), source }
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
