//! Loading the request-rate trace a `trace` traffic shape refers to.
//!
//! The trace format and its reader belong to `sim::trace`; this module only opens the
//! file and words the error for a config message (the trace file and its line). Until
//! `sim::Trace::from_csv` lands, a minimal reader of the same format stands in for it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::sim::{Trace, TraceError};

/// Reads a trace CSV; the error names the file (and the line, for content errors).
pub(super) fn load_trace(path: &Path) -> Result<Trace, String> {
    let file =
        File::open(path).map_err(|err| format!("cannot read trace file `{}`: {err}", path.display()))?;
    // TODO(lead): replace with sim::Trace::from_csv after merge (and delete `from_csv` below).
    from_csv(BufReader::new(file)).map_err(|err| format!("trace file `{}` {err}", path.display()))
}

/// Stand-in for `sim::Trace::from_csv`, same signature and format: a header
/// `t_seconds,requests_per_second`, then one `t,rate` row per line, times increasing,
/// rates finite and not negative. Blank lines are skipped.
fn from_csv(reader: impl BufRead) -> Result<Trace, TraceError> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line_number = index + 1;
        let fail = |message: String| TraceError { line: line_number, message };
        let line = line.map_err(|err| fail(err.to_string()))?;
        let line = line.trim();
        if line.is_empty() || (line_number == 1 && line.starts_with("t_seconds")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [t, rate] = fields[..] else {
            return Err(fail(format!("expected two fields `t_seconds,requests_per_second`, got `{line}`")));
        };
        let t: f64 =
            t.parse().ok().filter(|t: &f64| t.is_finite() && *t >= 0.0).ok_or_else(|| {
                fail(format!("bad time `{t}`, expected seconds from the start (a number ≥ 0)"))
            })?;
        let rate: f64 =
            rate.parse().ok().filter(|r: &f64| r.is_finite() && *r >= 0.0).ok_or_else(|| {
                fail(format!("bad rate `{rate}`, expected requests per second (a number ≥ 0)"))
            })?;
        if let Some(&(previous, _)) = points.last() {
            if t <= previous {
                return Err(fail(format!("time {t} is not after the previous row's {previous}")));
            }
        }
        points.push((t, rate));
    }
    if points.is_empty() {
        return Err(TraceError { line: 1, message: "no data rows".to_string() });
    }
    Ok(Trace { points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rows_after_the_header() {
        let trace = from_csv("t_seconds,requests_per_second\n0,1\n1,7.5\n\n2,0\n".as_bytes()).unwrap();
        assert_eq!(trace.points, vec![(0.0, 1.0), (1.0, 7.5), (2.0, 0.0)]);
    }

    #[test]
    fn names_the_line_of_a_bad_row() {
        let err = from_csv("t_seconds,requests_per_second\n0,1\n1,lots\n".as_bytes()).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("bad rate `lots`"), "{}", err.message);
    }

    #[test]
    fn rejects_times_that_go_backwards() {
        let err = from_csv("0,1\n5,1\n4,1\n".as_bytes()).unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn rejects_an_empty_trace() {
        assert!(from_csv("t_seconds,requests_per_second\n".as_bytes()).is_err());
    }
}
