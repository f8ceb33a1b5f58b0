//! The keys of a `kind = "prometheus"` source and of a group's `[groups.prometheus]`:
//!
//! ```toml
//! [sources.prom]
//! kind = "prometheus"
//! url = "https://prometheus.example:9090"  # http:// or https://
//! rate_window = "1m"                  # rate() and histogram windows (default 1m)
//! matchers = 'namespace="inference"'  # added to every selector
//! pod_labels = ["pod", "exported_pod"]  # labels holding the pod's name (a later one wins)
//! group_label = "app"                 # optional: a series' group is this label's value,
//!                                     # not its pod name's prefix
//! headers = { "X-Scope-OrgID" = "team-gpu" }  # sent with every query
//! bearer_token_env = "PROM_TOKEN"     # or bearer_token_file = "PATH"
//! basic_auth = { username = "fleetdeck", password_env = "PROM_PASSWORD" }  # or password_file
//! ca_file = "ca.pem"                  # trusted besides the system's CAs
//! alerts = true                       # its firing and pending alerts beside fleetdeck's
//!                                     # own (read only, never paged by fleetdeck)
//!
//! [[groups]]
//! name = "vision"
//! source = "prom"
//! [groups.prometheus]
//! matchers = 'cluster="eu-1"'         # this group's own selector: its own queries
//! [groups.prometheus.queries]         # PromQL by metric kind: replaces a default or adds one
//! latency_p95 = 'histogram_quantile(0.95, sum by (le) (rate(app_latency_seconds_bucket{app="vision"}[1m])))'
//! "custom:batch_size" = 'avg(app_batch_size{app="vision"})'
//! ```
//!
//! Secrets are read from a variable or a file, never written here; `Authorization` is
//! not a header to write either (use `bearer_token_*` or `basic_auth`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::file::{GroupPrometheusFile, SourceFile};
use super::locate::KeyPath;
use super::validate::{
    Invalid, MAX_POLL_INTERVAL, at_most, http_url, positive_duration, refuse_inline, secret,
};
use super::{GroupPrometheus, HttpAuth, PrometheusConfig};
use crate::model::{MetricKind, SourceKind};

/// The default `rate_window`: four 15 s scrapes.
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// `[sources.NAME]`'s Prometheus keys: present exactly for `kind = "prometheus"`.
pub(super) fn source_keys(
    path: &KeyPath,
    file: &mut SourceFile,
    config_dir: &Path,
) -> Result<Option<PrometheusConfig>, Invalid> {
    if file.kind != SourceKind::Prometheus {
        let stray = [
            ("url", file.url.is_some()),
            ("rate_window", file.rate_window.is_some()),
            ("matchers", file.matchers.is_some()),
            ("pod_labels", file.pod_labels.is_some()),
            ("group_label", file.group_label.is_some()),
            ("headers", file.headers.is_some()),
            ("bearer_token_env", file.bearer_token_env.is_some()),
            ("bearer_token_file", file.bearer_token_file.is_some()),
            ("basic_auth", file.basic_auth.is_some()),
            ("ca_file", file.ca_file.is_some()),
            ("alerts", file.alerts.is_some()),
            ("bearer_token", file.bearer_token.is_some()),
        ];
        if let Some((key, _)) = stray.iter().find(|(_, set)| *set) {
            return Err(Invalid::at_key(
                path.key(key),
                format!("`{key}` is for kind = \"prometheus\" sources"),
            ));
        }
        return Ok(None);
    }
    let Some(url) = file.url.take() else {
        return Err(Invalid::at_key(
            path.clone(),
            "kind = \"prometheus\" needs `url`, the server's address (e.g. \"http://127.0.0.1:9090\")"
                .to_string(),
        ));
    };
    let url = http_url(&path.key("url"), &url)?;
    let rate_window = match file.rate_window.take() {
        Some(d) => {
            let key = path.key("rate_window");
            at_most(&key, positive_duration(&key, d.0)?, MAX_POLL_INTERVAL)?
        }
        None => RATE_WINDOW,
    };
    let pod_labels = match file.pod_labels.take() {
        Some(labels) if labels.is_empty() => {
            return Err(Invalid::new(
                path.key("pod_labels"),
                "`pod_labels` names at least one label (default [\"pod\", \"exported_pod\"])".to_string(),
            ));
        }
        Some(labels) => {
            for (i, label) in labels.iter().enumerate() {
                label_name(&path.key("pod_labels").index(i), label)?;
            }
            labels
        }
        None => vec!["pod".to_string(), "exported_pod".to_string()],
    };
    let group_label = file.group_label.take();
    if let Some(label) = &group_label {
        label_name(&path.key("group_label"), label)?;
    }
    let mut headers = Vec::new();
    for (name, value) in file.headers.take().unwrap_or_default() {
        let key = path.key("headers").key(&name);
        header(&key, &name, &value)?;
        headers.push((name, value));
    }
    refuse_inline(&path.key("bearer_token"), "bearer_token", file.bearer_token.is_some())?;
    let bearer = secret(
        path,
        "bearer_token",
        file.bearer_token_env.take(),
        file.bearer_token_file.take(),
        config_dir,
    )?;
    let basic = match file.basic_auth.take() {
        Some(basic) => {
            let at = path.key("basic_auth");
            refuse_inline(&at.key("password"), "password", basic.password.is_some())?;
            match secret(&at, "password", basic.password_env, basic.password_file, config_dir)? {
                Some(password) => Some(HttpAuth::Basic { username: basic.username, password }),
                None => {
                    return Err(Invalid::new(
                        at,
                        "`basic_auth` needs `password_env` (a variable's name) or `password_file` (a path)"
                            .to_string(),
                    ));
                }
            }
        }
        None => None,
    };
    let auth = match (bearer, basic) {
        (Some(_), Some(_)) => {
            return Err(Invalid::at_key(
                path.key("basic_auth"),
                "give a bearer token or basic auth, not both".to_string(),
            ));
        }
        (Some(token), None) => Some(HttpAuth::Bearer(token)),
        (None, basic) => basic,
    };
    let ca_file = file.ca_file.take().map(|f| config_dir.join(f));
    Ok(Some(PrometheusConfig {
        url,
        rate_window,
        matchers: file.matchers.take().unwrap_or_default(),
        pod_labels,
        group_label,
        headers,
        auth,
        ca_file,
        alerts: file.alerts.take().unwrap_or(false),
    }))
}

/// `[groups.prometheus]`: the group's own matchers and queries.
pub(super) fn group_table(file: GroupPrometheusFile, at: &KeyPath) -> Result<GroupPrometheus, Invalid> {
    if let Some(matchers) = &file.matchers
        && matchers.trim().is_empty()
    {
        return Err(Invalid::new(at.key("matchers"), "`matchers` is empty: leave it out".to_string()));
    }
    let mut queries = Vec::with_capacity(file.queries.len());
    for (name, promql) in file.queries {
        let key = at.key("queries").key(&name);
        let kind = MetricKind::from_str(&name).map_err(|e| Invalid::at_key(key.clone(), e.to_string()))?;
        if matches!(
            kind,
            MetricKind::DesiredCapacity | MetricKind::ReadyCapacity | MetricKind::WarmingCapacity
        ) {
            return Err(Invalid::at_key(
                key,
                format!("`{name}` is recorded from the actuator's observations, not read from a source"),
            ));
        }
        if promql.trim().is_empty() {
            return Err(Invalid::new(key, format!("the query for `{name}` is empty")));
        }
        queries.push((kind, promql));
    }
    Ok(GroupPrometheus { matchers: file.matchers, queries })
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn label_name(path: &KeyPath, name: &str) -> Result<(), Invalid> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Invalid::new(path.clone(), format!("`{name}` is not a label name (letters, digits and `_`)")))
    }
}

/// A header to send with every query: an HTTP token as its name, a visible value, and
/// never credentials (those have keys of their own, read from a secret).
fn header(path: &KeyPath, name: &str, value: &str) -> Result<(), Invalid> {
    let token = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(Invalid::at_key(path.clone(), format!("`{name}` is not an HTTP header name")));
    }
    if name.eq_ignore_ascii_case("authorization") {
        return Err(Invalid::at_key(
            path.clone(),
            "credentials are never written in the config: use `bearer_token_env`/`bearer_token_file` or `basic_auth`"
                .to_string(),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(
            path.clone(),
            format!("the value of header `{name}` holds a control character"),
        ));
    }
    Ok(())
}
