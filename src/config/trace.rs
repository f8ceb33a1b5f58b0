//! Loading the request-rate trace a `trace` traffic shape refers to.
//!
//! The trace format and its reader belong to [`crate::sim::Trace`]; this module only
//! words the error for a config message (the trace file and its line).

use std::path::Path;

use crate::sim::Trace;

/// Reads a trace CSV; the error names the file (and the line, for content errors).
pub(super) fn load_trace(path: &Path) -> Result<Trace, String> {
    Trace::from_path(path).map_err(|err| format!("trace file {err}"))
}
