//! The one typed error every backend call returns ([`BackendError`]), so the engine's one
//! error policy can tell a throttled connection from expired credentials, a missing target
//! and a passing network fault. Backends map their platform's errors to it at the edge
//! (STYLE.md, "Backends"); nothing retries inside a backend.

use std::fmt;
use std::time::Duration;

/// What kind of failure a backend call met: how the engine's error policy treats it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The service asked us to slow down (HTTP 429, `Throttling`, a rate limit). The whole
    /// connection waits at least the retry-after the service gave.
    Throttled,
    /// Credentials missing, expired or refused, or the role lacks a permission (401, 403,
    /// `ExpiredToken`, RBAC). Retrying soon cannot help: the connection waits the longest
    /// backoff, and the message says which credential to look at.
    Auth,
    /// The group's target or series does not exist (404, an unknown ASG or Deployment).
    /// Only that group waits, the longest backoff; the rest of its connection carries on.
    NotFound,
    /// The service refused the request itself as wrong (a PromQL query Prometheus cannot
    /// parse or run: 400 `bad_data`, 422 `execution`). The config must change, so only
    /// that group waits, the longest backoff, and the service's own words are shown.
    Rejected,
    /// Anything that may pass by itself: a timeout, a refused connection, a 5xx, a reply
    /// that could not be read. Exponential backoff, from one poll interval.
    Transient,
}

impl ErrorKind {
    /// Whether a failure of this kind concerns every group of the connection (throttling,
    /// credentials) rather than the one group it was met for.
    pub fn is_connection_wide(self) -> bool {
        matches!(self, ErrorKind::Throttled | ErrorKind::Auth)
    }
}

/// A failed backend call: its kind, what went wrong in words, and when the service said to
/// try again (throttling).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub kind: ErrorKind,
    pub message: String,
    /// The service's own retry-after, when it gave one.
    pub retry_after: Option<Duration>,
}

impl BackendError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        BackendError { kind, message: message.into(), retry_after: None }
    }

    pub fn transient(message: impl Into<String>) -> Self {
        BackendError::new(ErrorKind::Transient, message)
    }

    pub fn auth(message: impl Into<String>) -> Self {
        BackendError::new(ErrorKind::Auth, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        BackendError::new(ErrorKind::NotFound, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        BackendError::new(ErrorKind::Rejected, message)
    }

    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        BackendError { kind: ErrorKind::Throttled, message: message.into(), retry_after }
    }
}

impl fmt::Display for BackendError {
    /// The message, led by what kind of failure it is where that is not obvious:
    /// "throttled (retry after 5s): …", "credentials refused: …", "not found: …".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.retry_after) {
            (ErrorKind::Throttled, Some(after)) => {
                write!(f, "throttled (retry after {}): {}", super::format_duration(after), self.message)
            }
            (ErrorKind::Throttled, None) => write!(f, "throttled: {}", self.message),
            (ErrorKind::Auth, _) => write!(f, "credentials refused: {}", self.message),
            (ErrorKind::NotFound, _) => write!(f, "not found: {}", self.message),
            (ErrorKind::Rejected, _) => write!(f, "refused: {}", self.message),
            (ErrorKind::Transient, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for BackendError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_in_words_with_the_retry_after() {
        let throttled = BackendError::throttled("Rate exceeded", Some(Duration::from_secs(5)));
        assert_eq!(throttled.to_string(), "throttled (retry after 5s): Rate exceeded");
        assert_eq!(BackendError::throttled("slow down", None).to_string(), "throttled: slow down");
        assert_eq!(BackendError::auth("ExpiredToken").to_string(), "credentials refused: ExpiredToken");
        assert_eq!(BackendError::not_found("no ASG `gpu-a`").to_string(), "not found: no ASG `gpu-a`");
        assert_eq!(BackendError::rejected("parse error").to_string(), "refused: parse error");
        assert_eq!(BackendError::transient("connection refused").to_string(), "connection refused");
    }

    #[test]
    fn throttling_and_credentials_concern_the_whole_connection() {
        assert!(ErrorKind::Throttled.is_connection_wide() && ErrorKind::Auth.is_connection_wide());
        assert!(!ErrorKind::NotFound.is_connection_wide() && !ErrorKind::Transient.is_connection_wide());
        assert!(!ErrorKind::Rejected.is_connection_wide());
    }
}
