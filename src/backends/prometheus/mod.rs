//! Prometheus as a metric source: dcgm-exporter's GPU series and vLLM's or Triton's
//! serving series, read from the Prometheus HTTP API (`/api/v1/query`, and
//! `/api/v1/query_range` to backfill the charts at start).
//!
//! # Layout
//!
//! - `response`: the API's answers (envelope, vector, matrix, scalar, string, errors and
//!   warnings) read into our types.
//! - `queries`: the PromQL, one query per metric kind for all of a source's groups, and
//!   the reading of its parts (value, coverage, oldest sample time) per group.
//! - `source`: [`PrometheusSource`], the default queries per metric kind and the poll.

pub mod queries;
pub mod response;
mod source;

pub use source::PrometheusSource;
