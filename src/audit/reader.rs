//! Reading an audit log back, line by line; a line that cannot be read is an error that
//! names the file and the line number, and reading goes on with the next line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::AuditError;
use super::line::AuditLine;

/// Reads the audit lines of `path` in order; blank lines are skipped. Opening the file
/// can fail too: that is the first (and only) item then.
pub fn read_lines(path: impl AsRef<Path>) -> AuditLines {
    let path = path.as_ref().to_path_buf();
    let reader =
        File::open(&path).map(BufReader::new).map_err(|source| AuditError::Io { path: path.clone(), source });
    AuditLines { path, reader: Some(reader), number: 0 }
}

/// The iterator of [`read_lines`].
#[derive(Debug)]
pub struct AuditLines {
    path: PathBuf,
    /// None once finished (or after an error that ends reading).
    reader: Option<Result<BufReader<File>, AuditError>>,
    number: usize,
}

impl AuditLines {
    /// The 1-based line number of the item last returned.
    pub fn line_number(&self) -> usize {
        self.number
    }
}

impl Iterator for AuditLines {
    type Item = Result<AuditLine, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = match self.reader.as_mut()? {
            Ok(reader) => reader,
            Err(_) => return self.reader.take().and_then(Result::err).map(Err),
        };
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            match reader.read_until(b'\n', &mut bytes) {
                Ok(0) => {
                    self.reader = None;
                    return None;
                }
                Ok(_) => self.number += 1,
                Err(source) => {
                    self.reader = None;
                    return Some(Err(AuditError::Io { path: self.path.clone(), source }));
                }
            }
            let bad =
                |message: String| AuditError::BadLine { path: self.path.clone(), line: self.number, message };
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(e) => return Some(Err(bad(format!("not UTF-8: {e}")))),
            };
            if text.trim().is_empty() {
                continue;
            }
            return Some(AuditLine::parse(text).map_err(bad));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_line_is_named_by_number_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("decisions.jsonl");
        let good = r#"{"v":1,"kind":"command","at":5,"operator":{"name":"ana"},"command":{"command":"sim","action":{"kind":"fail","group":"g","count":1}},"reason":null,"reply":{"reply":"ok","message":"done"}}"#;
        // Line 3 is torn, as a crash mid-write leaves it; line 2 is blank.
        std::fs::write(&path, format!("{good}\n\n{}\n{good}\n", &good[..40])).unwrap();
        let mut lines = read_lines(&path);
        assert!(lines.next().unwrap().is_ok());
        assert_eq!(lines.line_number(), 1);
        let err = lines.next().unwrap().unwrap_err();
        assert!(matches!(err, AuditError::BadLine { line: 3, .. }), "{err}");
        assert!(err.to_string().starts_with(&format!("{}:3: not an audit line", path.display())), "{err}");
        assert!(lines.next().unwrap().is_ok());
        assert_eq!(lines.line_number(), 4);
        assert!(lines.next().is_none());
    }

    #[test]
    fn a_missing_file_is_one_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut lines = read_lines(dir.path().join("nope.jsonl"));
        assert!(matches!(lines.next(), Some(Err(AuditError::Io { .. }))));
        assert!(lines.next().is_none());
    }
}
