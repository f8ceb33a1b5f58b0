//! The user's theme and keymap files: telling a file from a preset name, and reading a
//! file into a value with its mistake placed as `path:line:col`.

use std::fmt;
use std::path::Path;

/// A parse error that knows where in the file's text it is.
pub trait Located: fmt::Display {
    /// 1-based line and column in `text`.
    fn line_col(&self, text: &str) -> (usize, usize);
}

/// Whether a `--theme`/`--keymap` value names a file rather than a preset.
pub fn names_a_file(value: &str) -> bool {
    value.ends_with(".toml") || value.contains('/')
}

/// Reads `path` and parses its text; a failure reads "path: <io error>" or
/// "path:line:col: <error>".
pub fn parse<T, E: Located>(path: &Path, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| {
        let (line, column) = e.line_col(&text);
        format!("{}:{line}:{column}: {e}", path.display())
    })
}
