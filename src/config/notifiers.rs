//! `[notifiers.NAME]` tables: where pages and updates go.
//!
//! ```toml
//! [notifiers.pd]
//! kind = "pagerduty"
//! routing_key_env = "PD_ROUTING_KEY"   # or routing_key_file = "PATH": the service's integration key
//! events_url = "https://events.eu.pagerduty.com"   # optional; PagerDuty's EU region
//! throttle_wait = "30s"                # optional; the wait after the Events API's 429
//!
//! [notifiers.team]
//! kind = "slack"
//! token_env = "SLACK_BOT_TOKEN"        # or token_file = "PATH": a bot token (xoxb-…)
//! channel = "#gpu-oncall"               # the bot must be a member (or have chat:write.public)
//! channels = { critical = "#ai-critical", info = "#ml-performance" }   # optional, by severity;
//!                                       # scale messages go to `info`'s, else `channel`
//! api_url = "https://slack.com/api"     # optional
//! ```
//!
//! Each kind has one secret, given only as an environment variable's name or a file's
//! path (relative to the config's directory); one written as a value is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::file::NotifierFile;
use super::locate::KeyPath;
use super::validate::{
    Invalid, at_most, connection_name, http_url, positive_duration, refuse_inline, secret,
};
use super::{NotifierConfig, NotifierKind, PagerDutyConfig};
use crate::model::Severity;

/// Slack's Web API.
pub const SLACK_API_URL: &str = "https://slack.com/api";
/// PagerDuty's Events API, US region.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com";
/// The wait after the Events API's 429, which carries no `Retry-After`: PagerDuty's
/// documentation suggests backing off about 30 seconds.
pub const PAGERDUTY_THROTTLE_WAIT: Duration = Duration::from_secs(30);
/// The longest `throttle_wait` taken.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(3600);

/// Every `[notifiers.NAME]` table, in name order.
pub(super) fn notifiers(
    files: BTreeMap<String, NotifierFile>,
    at: &KeyPath,
    config_dir: &Path,
) -> Result<Vec<NotifierConfig>, Invalid> {
    let mut out = Vec::with_capacity(files.len());
    for (name, file) in files {
        let path = at.key(&name);
        connection_name(&path, &name)?;
        out.push(notifier(&path, name, file, config_dir)?);
    }
    Ok(out)
}

fn notifier(
    path: &KeyPath,
    name: String,
    file: NotifierFile,
    config_dir: &Path,
) -> Result<NotifierConfig, Invalid> {
    // Keys of the other kind, and secrets written as values, are refused by name.
    let foreign = match file.kind {
        NotifierKind::Pagerduty => vec![
            ("token_env", file.token_env.is_some()),
            ("token_file", file.token_file.is_some()),
            ("channel", file.channel.is_some()),
            ("channels", file.channels.is_some()),
            ("api_url", file.api_url.is_some()),
        ],
        NotifierKind::Slack => vec![
            ("routing_key_env", file.routing_key_env.is_some()),
            ("routing_key_file", file.routing_key_file.is_some()),
            ("events_url", file.events_url.is_some()),
            ("throttle_wait", file.throttle_wait.is_some()),
        ],
    };
    if let Some((key, _)) = foreign.iter().find(|(_, present)| *present) {
        return Err(Invalid::at_key(
            path.key(key),
            format!("`{key}` is not a {} notifier's key", file.kind.name()),
        ));
    }
    refuse_inline(&path.key("routing_key"), "routing_key", file.routing_key.is_some())?;
    refuse_inline(&path.key("token"), "token", file.token.is_some())?;
    let (secret_key, env, file_key) = match file.kind {
        NotifierKind::Pagerduty => ("routing_key", file.routing_key_env, file.routing_key_file),
        NotifierKind::Slack => ("token", file.token_env, file.token_file),
    };
    let Some(secret) = secret(path, secret_key, env, file_key, config_dir)? else {
        return Err(Invalid::new(
            path.clone(),
            format!(
                "a {} notifier needs `{secret_key}_env` (a variable's name) or `{secret_key}_file` (a path)",
                file.kind.name()
            ),
        ));
    };
    if file.kind == NotifierKind::Slack && file.channel.as_deref().is_none_or(|c| c.trim().is_empty()) {
        return Err(Invalid::new(
            path.clone(),
            "a slack notifier needs `channel` (e.g. \"#gpu-oncall\")".to_string(),
        ));
    }
    let pagerduty = match file.kind {
        NotifierKind::Pagerduty => {
            let events_url = match &file.events_url {
                Some(url) => http_url(&path.key("events_url"), url)?,
                None => PAGERDUTY_EVENTS_URL.to_string(),
            };
            let throttle_wait = match file.throttle_wait {
                Some(wait) => {
                    let key = path.key("throttle_wait");
                    at_most(&key, positive_duration(&key, wait.0)?, MAX_THROTTLE_WAIT)?
                }
                None => PAGERDUTY_THROTTLE_WAIT,
            };
            Some(PagerDutyConfig { events_url, throttle_wait })
        }
        NotifierKind::Slack => None,
    };
    let mut channels = Vec::new();
    for (word, channel) in file.channels.unwrap_or_default() {
        let key = path.key("channels").key(&word);
        let Some(severity) = Severity::from_word(&word) else {
            return Err(Invalid::at_key(
                key,
                format!("`{word}` is not a severity (critical, error, warning, info)"),
            ));
        };
        if channel.trim().is_empty() {
            return Err(Invalid::new(key, "a channel's name, e.g. \"#ai-critical\"".to_string()));
        }
        channels.push((severity, channel));
    }
    let api_url = match (&file.api_url, file.kind) {
        (Some(url), _) => Some(http_url(&path.key("api_url"), url)?),
        (None, NotifierKind::Slack) => Some(SLACK_API_URL.to_string()),
        (None, NotifierKind::Pagerduty) => None,
    };
    Ok(NotifierConfig { name, kind: file.kind, secret, channel: file.channel, channels, pagerduty, api_url })
}
