//! The pause marker: the one encoding every backend stores on its target (an ASG tag, a
//! Deployment annotation, the simulator's marker) under [`MARKER_KEY`], so every console,
//! the daemon and a person with the platform's own tools see and honour one pause.
//!
//! # Format
//!
//! One line of ASCII, at most [`MAX_MARKER_LEN`] (256) characters, an ASG tag value's
//! limit: a version, then `key=value` fields separated by single spaces, in this order:
//!
//! ```text
//! v1 mode=scale-in-only by=ana@example.com until=2026-12-02T19:00:00Z why=INC-123%20deploy%20freeze
//! ```
//!
//! - `mode`: `full` (no automated change) or `scale-in-only`; required.
//! - `by`: who paused; required, not empty.
//! - `until`: RFC 3339 UTC; absent: until someone resumes.
//! - `why`: the reason; optional.
//!
//! Values are percent-encoded as UTF-8: `A–Z a–z 0–9 - . _ ~ @ :` stand for themselves,
//! every other byte is `%XX`. When a pause does not fit, its reason is cut (on a character
//! boundary, marked with `…`), then its author.
//!
//! A marker that cannot be read — written by hand, by another tool, or truncated — is a
//! **full pause** by "unknown (unreadable marker)", with a warning that quotes it
//! ([`read`]): a person who took the trouble to write something there meant to stop the
//! autoscaler, and guessing otherwise could undo their intent.

use std::fmt::Write as _;

use super::{Pause, PauseMode, Timestamp};

/// The tag key / annotation key the marker is stored under.
pub const MARKER_KEY: &str = "fleetdeck.io/pause";

/// An ASG tag value's limit; every backend keeps to it.
pub const MAX_MARKER_LEN: usize = 256;

const VERSION: &str = "v1";

/// Who an unreadable marker's pause is by.
pub const UNREADABLE_BY: &str = "unknown (unreadable marker)";

/// A marker that is not in the format, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unreadable pause marker `{quoted}`: {problem}")]
pub struct MarkerError {
    /// The marker's text, shortened.
    pub quoted: String,
    pub problem: String,
}

/// What a target's marker means: its pause, and a warning when it could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetMarker {
    pub pause: Pause,
    pub warning: Option<String>,
}

/// The marker for `pause`: at most [`MAX_MARKER_LEN`] characters, whatever its author
/// and reason hold.
pub fn encode(pause: &Pause) -> String {
    let mode = match pause.mode {
        PauseMode::Full => "full",
        PauseMode::ScaleInOnly => "scale-in-only",
    };
    let until = pause.until.map(|t| format!(" until={}", t.to_rfc3339())).unwrap_or_default();
    let head = |by: &str| format!("{VERSION} mode={mode} by={}{until}", escape(by));
    let (mut by, mut reason) = (pause.by.clone(), pause.reason.clone());
    loop {
        let mut text = head(&by);
        if !reason.is_empty() {
            let _ = write!(text, " why={}", escape(&reason));
        }
        if text.len() <= MAX_MARKER_LEN {
            return text;
        }
        // Cut the reason first, then the author, a character at a time from the end.
        if !cut(&mut reason) && !cut(&mut by) {
            // Unreachable (the head alone is short), but never loop forever.
            return text.chars().take(MAX_MARKER_LEN).collect();
        }
    }
}

/// Drops the last character before a trailing `…` (adding one); false when only the `…`
/// (or nothing) is left to cut.
fn cut(text: &mut String) -> bool {
    let body = text.strip_suffix('…').unwrap_or(text).to_string();
    let mut chars = body.chars();
    if chars.next_back().is_none() {
        if text.is_empty() {
            return false;
        }
        text.clear();
        return true;
    }
    *text = format!("{}…", chars.as_str());
    true
}

/// Reads a marker strictly: every field known, in order, once; values well escaped.
pub fn parse(text: &str) -> Result<Pause, MarkerError> {
    let fail = |problem: String| MarkerError { quoted: shorten(text), problem };
    if text.len() > MAX_MARKER_LEN {
        return Err(fail(format!("longer than {MAX_MARKER_LEN} characters")));
    }
    let mut fields = text.split(' ');
    match fields.next() {
        Some(VERSION) => {}
        Some("") | None => return Err(fail("empty".into())),
        Some(other) => return Err(fail(format!("starts with `{}`, not `{VERSION}`", shorten(other)))),
    }
    let order = ["mode", "by", "until", "why"];
    let mut next_allowed = 0;
    let (mut mode, mut by, mut until, mut reason) = (None, None, None, String::new());
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            return Err(fail(format!(
                "`{}` is not key=value (fields are separated by one space)",
                shorten(field)
            )));
        };
        let Some(position) = order.iter().position(|k| *k == key) else {
            return Err(fail(format!("unknown key `{}`", shorten(key))));
        };
        if position < next_allowed {
            return Err(fail(format!("`{key}` is repeated or out of order (order: v1 mode by until why)")));
        }
        next_allowed = position + 1;
        let value = unescape(value).map_err(&fail)?;
        match key {
            "mode" => {
                mode = Some(match value.as_str() {
                    "full" => PauseMode::Full,
                    "scale-in-only" => PauseMode::ScaleInOnly,
                    other => {
                        return Err(fail(format!(
                            "mode `{}` is not `full` or `scale-in-only`",
                            shorten(other)
                        )));
                    }
                });
            }
            "by" => by = Some(value),
            "until" => until = Some(Timestamp::parse_rfc3339(&value).map_err(&fail)?),
            _ => reason = value,
        }
    }
    let mode = mode.ok_or_else(|| fail("no `mode`".into()))?;
    let by = by.filter(|b| !b.trim().is_empty()).ok_or_else(|| fail("no `by` (who paused)".into()))?;
    Ok(Pause { mode, by, until, reason })
}

/// What a marker found on a target means. Never fails: an unreadable marker is a full
/// pause until someone resumes, with a warning in words.
pub fn read(text: &str) -> TargetMarker {
    match parse(text) {
        Ok(pause) => TargetMarker { pause, warning: None },
        Err(err) => TargetMarker {
            pause: Pause {
                mode: PauseMode::Full,
                by: UNREADABLE_BY.to_string(),
                until: None,
                reason: format!("`{}` on the target", err.quoted),
            },
            warning: Some(format!("{err}; counted as a full pause until someone resumes")),
        },
    }
}

fn literal(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'@' | b':')
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if literal(byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
                let Some(hex) = hex else {
                    return Err(format!("a bad escape at `{}`", shorten(&text[i..])));
                };
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 3;
            }
            byte if literal(byte) => {
                out.push(byte);
                i += 1;
            }
            _ => {
                let c = text[i..].chars().next().unwrap_or('?');
                return Err(format!("`{c}` must be percent-encoded"));
            }
        }
    }
    String::from_utf8(out).map_err(|_| "an escape that is not UTF-8".to_string())
}

/// At most 60 characters of `text`, for messages.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

#[cfg(test)]
#[path = "marker_tests.rs"]
mod tests;
