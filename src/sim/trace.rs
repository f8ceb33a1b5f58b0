//! Request-rate traces in CSV. PLACEHOLDER being written.

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
