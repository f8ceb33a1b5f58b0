//! The one HTTP client every HTTP backend and notifier uses (reqwest with rustls on
//! aws-lc-rs): built once per connection with its connect and request timeouts and an
//! optional CA file, and the one mapping of HTTP failures to [`BackendError`] — 429 is
//! throttling with the service's `Retry-After`, 401/403 credentials, 404 not found,
//! 400/422 a request the service refuses, 5xx and network faults transient.
//!
//! Nothing here retries: the engine's error policy does (STYLE.md, "Backends").

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};

use crate::config::HttpAuth;
use crate::model::{BackendError, ErrorKind, Timestamp};

/// How a connection's client connects.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpOptions {
    /// Longest wait for a TCP (and TLS) connection.
    pub connect_timeout: Duration,
    /// Longest wait for a whole request, answer included.
    pub request_timeout: Duration,
    /// A CA (PEM) to trust besides the system's, for a private Prometheus.
    pub ca_file: Option<PathBuf>,
    /// Headers for every request (a tenant's `X-Scope-OrgID`); never credentials.
    pub headers: Vec<(String, String)>,
}

impl HttpOptions {
    /// Connect within a third of the call timeout (at least a second), answer within it.
    pub fn within(call_timeout: Duration) -> Self {
        HttpOptions {
            connect_timeout: (call_timeout / 3).max(Duration::from_secs(1)),
            request_timeout: call_timeout,
            ca_file: None,
            headers: Vec::new(),
        }
    }
}

/// Builds a connection's client; a CA file that cannot be read or parsed is said in words.
pub fn client(options: &HttpOptions) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("fleetdeck/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("reading the CA file {}: {e}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("the CA file {} holds no PEM certificate: {e}", path.display()))?;
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &options.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| format!("header `{name}`: {e}"))?;
        let value = HeaderValue::from_str(value).map_err(|e| format!("the value of header `{name}`: {e}"))?;
        headers.append(name, value);
    }
    builder.default_headers(headers).build().map_err(|e| format!("building the HTTP client: {e}"))
}

/// `request` with the connection's credentials, read now (a rotated token file is read
/// afresh on every call); a secret that cannot be read is an auth failure that says
/// where it looked, never what it holds.
pub fn authorize(
    request: reqwest::RequestBuilder,
    auth: Option<&HttpAuth>,
    what: &str,
) -> Result<reqwest::RequestBuilder, BackendError> {
    let unreadable = |why: String| BackendError::new(ErrorKind::Auth, format!("{what}: credentials: {why}"));
    Ok(match auth {
        None => request,
        Some(HttpAuth::Bearer(token)) => request.bearer_auth(token.resolve().map_err(unreadable)?.expose()),
        Some(HttpAuth::Basic { username, password }) => {
            request.basic_auth(username, Some(password.resolve().map_err(unreadable)?.expose()))
        }
    })
}

/// A request that got no answer: a timeout, a refused connection, a TLS failure.
pub fn send_error(what: &str, err: &reqwest::Error) -> BackendError {
    let why = if err.is_timeout() {
        "no answer in time".to_string()
    } else if err.is_connect() {
        format!("cannot connect ({})", root_cause(err))
    } else {
        root_cause(err)
    };
    BackendError::transient(format!("{what}: {why}"))
}

/// The innermost cause's words: reqwest's own message is "error sending request".
fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An answer with a failing status, mapped to the error policy's kinds. `detail` is
/// what the service said (its error message), `now` dates an HTTP-date `Retry-After`.
pub fn status_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: &str,
    now: Timestamp,
) -> BackendError {
    let detail = detail.trim();
    let message = if detail.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {detail}")
    };
    let kind = match status.as_u16() {
        429 => return BackendError::throttled(message, retry_after(headers, now)),
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        400 | 422 => ErrorKind::Rejected,
        _ => ErrorKind::Transient,
    };
    BackendError::new(kind, message)
}

/// `Retry-After` as seconds or as an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
    Some(Timestamp(at.timestamp_millis()).since(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry).unwrap());
        h
    }

    #[test]
    fn each_status_maps_to_its_kind_with_the_services_words() {
        let none = HeaderMap::new();
        let kind = |code: u16| {
            status_error("query", StatusCode::from_u16(code).unwrap(), &none, "x", Timestamp(0)).kind
        };
        assert_eq!(
            [kind(401), kind(403), kind(404), kind(400), kind(422), kind(500), kind(503)],
            [
                ErrorKind::Auth,
                ErrorKind::Auth,
                ErrorKind::NotFound,
                ErrorKind::Rejected,
                ErrorKind::Rejected,
                ErrorKind::Transient,
                ErrorKind::Transient
            ]
        );
        let err =
            status_error("query", StatusCode::BAD_REQUEST, &none, "parse error at char 3", Timestamp(0));
        assert_eq!(err.to_string(), "refused: query: HTTP 400 Bad Request: parse error at char 3");
    }

    #[test]
    fn throttling_carries_retry_after_in_seconds_or_as_a_date() {
        let err = status_error("query", StatusCode::TOO_MANY_REQUESTS, &headers("7"), "", Timestamp(0));
        assert_eq!((err.kind, err.retry_after), (ErrorKind::Throttled, Some(Duration::from_secs(7))));
        let now = Timestamp::parse_rfc3339("2015-10-21T07:27:30Z").unwrap();
        let dated = retry_after(&headers("Wed, 21 Oct 2015 07:28:00 GMT"), now);
        assert_eq!(dated, Some(Duration::from_secs(30)));
        assert_eq!(retry_after(&headers("soon"), now), None);
    }

    #[test]
    fn an_unreadable_ca_file_is_said_in_words() {
        let options = HttpOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..HttpOptions::within(Duration::from_secs(5))
        };
        let err = client(&options).unwrap_err();
        assert!(err.starts_with("reading the CA file /nonexistent/ca.pem:"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_transient_and_says_so() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let client = client(&HttpOptions::within(Duration::from_secs(5))).unwrap();
        let err = client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap_err();
        let err = send_error("query", &err);
        assert_eq!(err.kind, ErrorKind::Transient);
        assert!(err.message.starts_with("query: cannot connect ("), "{}", err.message);
    }
}
