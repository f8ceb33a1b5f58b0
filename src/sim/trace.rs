//! Request-rate traces in CSV, for `TrafficSpec::Trace` and later for `replay`.
//!
//! Format: a header naming the columns, then one row per point. The columns
//! `t_seconds` (offset from the simulation start) and `requests_per_second` are found by
//! name; any other column is ignored. Fields are plain (no quoted commas). Rows must be
//! sorted by strictly increasing time. Blank lines are skipped. Every mistake is reported
//! with the 1-based line of the file it is on.
//!
//! Between rows the rate is a step function: a row's rate holds until the next row.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const TIME_COLUMN: &str = "t_seconds";
const RATE_COLUMN: &str = "requests_per_second";

/// A request-rate trace: `(t_seconds, requests_per_second)` points sorted by time.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub points: Vec<(f64, f64)>,
}

/// A trace file that could not be read; names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct TraceError {
    pub line: usize,
    pub message: String,
}

/// A trace file that could not be opened or read, with its path.
#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    #[error("{}: cannot open trace: {source}", .path.display())]
    Open { path: PathBuf, source: std::io::Error },
    /// `path:line: message`; the [`TraceError`] is folded into the text, not a cause.
    #[error("{}:{}: {}", .path.display(), .error.line, .error.message)]
    Parse { path: PathBuf, error: TraceError },
}

fn error(line: usize, message: impl Into<String>) -> TraceError {
    TraceError { line, message: message.into() }
}

/// Splits one CSV line into trimmed fields without surrounding quotes.
fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|f| f.trim().trim_matches('"').trim())
}

impl Trace {
    /// Reads a trace from CSV text; see the module docs for the format.
    pub fn from_csv(reader: impl BufRead) -> Result<Trace, TraceError> {
        let mut lines = reader.lines().enumerate().map(|(i, line)| (i + 1, line));
        let (time_col, rate_col, mut last_line) = match lines.next() {
            None => {
                return Err(error(
                    1,
                    "the trace is empty: expected a header `t_seconds,requests_per_second`",
                ));
            }
            Some((n, line)) => {
                let line = line.map_err(|e| error(n, format!("cannot read: {e}")))?;
                let header = line.trim_start_matches('\u{feff}');
                let find = |name: &str| {
                    fields(header).position(|f| f == name).ok_or_else(|| {
                        error(n, format!("no `{name}` column in the header (found `{}`)", header.trim()))
                    })
                };
                (find(TIME_COLUMN)?, find(RATE_COLUMN)?, n)
            }
        };
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (n, line) in lines {
            last_line = n;
            let line = line.map_err(|e| error(n, format!("cannot read: {e}")))?;
            if line.trim().is_empty() {
                continue;
            }
            let row: Vec<&str> = fields(&line).collect();
            let number = |col: usize, name: &str| -> Result<f64, TraceError> {
                let text = row.get(col).copied().filter(|t| !t.is_empty());
                let text = text.ok_or_else(|| error(n, format!("missing column `{name}`")))?;
                let value: f64 =
                    text.parse().map_err(|_| error(n, format!("`{text}` in `{name}` is not a number")))?;
                if !value.is_finite() {
                    return Err(error(n, format!("`{text}` in `{name}` is not a finite number")));
                }
                if value < 0.0 {
                    return Err(error(n, format!("`{name}` must not be negative, got {value}")));
                }
                Ok(value)
            };
            let t = number(time_col, TIME_COLUMN)?;
            let rate = number(rate_col, RATE_COLUMN)?;
            if let Some(&(prev, _)) = points.last()
                && t <= prev
            {
                return Err(error(
                    n,
                    format!("time {t} is not after the previous row's {prev}: rows must be sorted by time"),
                ));
            }
            points.push((t, rate));
        }
        if points.is_empty() {
            return Err(error(last_line + 1, "the trace has a header but no rows"));
        }
        Ok(Trace { points })
    }

    /// Reads a trace file; errors name the path and the line.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Trace, TraceFileError> {
        let path = path.as_ref();
        let shown = || path.to_path_buf();
        let file = File::open(path).map_err(|source| TraceFileError::Open { path: shown(), source })?;
        Trace::from_csv(BufReader::new(file)).map_err(|error| TraceFileError::Parse { path: shown(), error })
    }

    /// The rate at `t_seconds`: the last row at or before it holds until the next row.
    /// Before the first row the first row's rate applies (a trace that starts late does not
    /// mean "no traffic"); an empty trace is 0.
    pub fn rate_at(&self, t_seconds: f64) -> f64 {
        let after = self
            .guess_after(t_seconds)
            .unwrap_or_else(|| self.points.partition_point(|&(t, _)| t <= t_seconds));
        match after {
            0 => self.points.first().map_or(0.0, |&(_, rate)| rate),
            i => self.points[i - 1].1,
        }
    }

    /// The number of rows at or before `t_seconds`, found in O(1) when the rows around
    /// where an evenly spaced trace would have it confirm the guess (recorded traces are:
    /// a row a second or a minute); None sends the caller to the binary search.
    fn guess_after(&self, t_seconds: f64) -> Option<usize> {
        let (&(first, _), &(last, _)) = (self.points.first()?, self.points.last()?);
        let n = self.points.len();
        if n < 2 || !(t_seconds >= first && t_seconds < last) {
            return None;
        }
        let i = (((t_seconds - first) / (last - first)) * (n - 1) as f64) as usize;
        let at_or_before = self.points.get(i).is_some_and(|p| p.0 <= t_seconds);
        let next_after = self.points.get(i + 1).is_some_and(|p| p.0 > t_seconds);
        (at_or_before && next_after).then_some(i + 1)
    }

    /// How long one pass of the trace lasts, in seconds: from the first row to one
    /// row-interval past the last (the last row holds as long as the one before it did).
    pub fn span_seconds(&self) -> f64 {
        match self.points.as_slice() {
            [] => 0.0,
            [_] => 1.0,
            [first, .., prev, last] => last.0 - first.0 + (last.0 - prev.0),
            [first, last] => 2.0 * (last.0 - first.0),
        }
    }

    /// `t_seconds` folded into the trace's first pass, for looping traces.
    pub fn looped_time(&self, t_seconds: f64) -> f64 {
        let (Some(&(first, _)), span) = (self.points.first(), self.span_seconds()) else {
            return t_seconds;
        };
        if t_seconds < first || span <= 0.0 { t_seconds } else { first + (t_seconds - first) % span }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Trace, TraceError> {
        Trace::from_csv(text.as_bytes())
    }

    fn line_of(text: &str) -> usize {
        parse(text).unwrap_err().line
    }

    #[test]
    fn columns_are_found_by_name_and_others_ignored() {
        let trace = parse("requests_per_second,host,t_seconds\n5,a,0\n7,b,10\n").unwrap();
        assert_eq!(trace.points, vec![(0.0, 5.0), (10.0, 7.0)]);
    }

    #[test]
    fn rate_is_a_step_function_holding_each_row() {
        let trace = parse("t_seconds,requests_per_second\n0,1\n10,4\n20,2\n").unwrap();
        assert_eq!(trace.rate_at(-5.0), 1.0);
        assert_eq!(trace.rate_at(0.0), 1.0);
        assert_eq!(trace.rate_at(9.99), 1.0);
        assert_eq!(trace.rate_at(10.0), 4.0);
        assert_eq!(trace.rate_at(1e9), 2.0);
    }

    #[test]
    fn looping_folds_time_into_one_pass() {
        let trace = parse("t_seconds,requests_per_second\n0,1\n1,2\n2,3\n").unwrap();
        assert_eq!(trace.span_seconds(), 3.0);
        assert_eq!(trace.rate_at(trace.looped_time(3.0)), 1.0);
        assert_eq!(trace.rate_at(trace.looped_time(5.5)), 3.0);
    }

    #[test]
    fn crlf_bom_blank_lines_and_quotes_are_accepted() {
        let trace = parse("\u{feff}\"t_seconds\",\"requests_per_second\"\r\n0,1\r\n\r\n1,2\r\n").unwrap();
        assert_eq!(trace.points, vec![(0.0, 1.0), (1.0, 2.0)]);
    }

    #[test]
    fn unsorted_rows_are_an_error_naming_the_line() {
        let err = parse("t_seconds,requests_per_second\n0,1\n5,1\n3,1\n").unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.message.contains("sorted"), "{err}");
    }

    #[test]
    fn bad_rows_are_errors_naming_the_file_line() {
        let header = "t_seconds,requests_per_second\n";
        assert_eq!(line_of(&format!("{header}0,1\n1,abc\n")), 3);
        assert_eq!(line_of(&format!("{header}0,1\n\n1,-2\n")), 4);
        assert_eq!(line_of(&format!("{header}0\n")), 2);
        assert_eq!(line_of(&format!("{header}0,NaN\n")), 2);
        assert_eq!(line_of(&format!("{header}0,inf\n")), 2);
        assert!(parse(&format!("{header}1,abc\n")).unwrap_err().to_string().starts_with("line 2: "));
        assert!(parse(&format!("{header}1,abc\n")).unwrap_err().message.contains("requests_per_second"));
    }

    #[test]
    fn a_header_without_the_columns_is_an_error_on_line_one() {
        let err = parse("time,rps\n0,1\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("t_seconds"), "{err}");
    }

    #[test]
    fn an_empty_trace_is_an_error() {
        assert_eq!(line_of(""), 1);
        let err = parse("t_seconds,requests_per_second\n\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("no rows"), "{err}");
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let err = Trace::from_path("/nonexistent/trace.csv").unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/trace.csv: cannot open"), "{err}");
    }

    #[test]
    fn a_bad_file_names_its_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "t_seconds,requests_per_second\n0,1\n1,x\n").unwrap();
        let err = Trace::from_path(&path).unwrap_err();
        assert!(err.to_string().starts_with(&format!("{}:3: ", path.display())), "{err}");
    }

    #[test]
    fn the_shared_azure_traces_parse() {
        use crate::sim::shared_traces::{AZURE_CODE, AZURE_CONV, load};
        for (name, min_rows, trace) in
            load("the_shared_azure_traces_parse", &[(AZURE_CODE, 3000), (AZURE_CONV, 3000)])
        {
            assert!(trace.points.len() >= min_rows, "{name}: {} rows", trace.points.len());
            assert!(trace.points.iter().any(|&(_, rate)| rate > 0.0), "{name}: all zero");
            let mean = trace.points.iter().map(|p| p.1).sum::<f64>() / trace.points.len() as f64;
            assert!((1.0..20.0).contains(&mean), "{name}: mean {mean}");
        }
    }
}
