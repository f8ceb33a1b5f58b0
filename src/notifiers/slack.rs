//! Slack's Web API, `chat.postMessage` with a bot token (`Authorization: Bearer`): each
//! page, resolve and acted scale as a Block Kit message with a plain-text fallback, in
//! the notifier's channel. A resolve is a reply in its trigger's thread (`thread_ts`),
//! addressed by the channel **ID** and `ts` the trigger's answer gave (the config names
//! the channel as `#name`); a message whose parent is not sent (or long pruned) goes out
//! on its own.
//!
//! Slack's answers, as it documents them: HTTP 200 with `{"ok": true, "channel": …,
//! "ts": …}`; HTTP 200 with `{"ok": false, "error": …}` — `internal_error`,
//! `service_unavailable`, `fatal_error`, `request_timeout` and `ratelimited` are tried
//! again (Slack warns that part of such a call may have happened, so a repeat is
//! possible), every other error (`channel_not_found`, `not_in_channel`, `invalid_auth`, …)
//! is given up with its meaning in words; HTTP 429 with `Retry-After`, waited for.
//! Messages keep Slack's limits (3,000 characters a section, 50 blocks) and about one a
//! second per channel ([`Notifier::pace`]).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::message::{Outgoing, Page, PageKind, Scale};
use super::pagerduty::truncated;
use super::{Delivered, Notifier};
use crate::backends::http::{self, HttpOptions};
use crate::clock::Clock;
use crate::config::secret::Secret;
use crate::model::{BackendError, ErrorKind, Severity};
use crate::store::OutboxMessage;

/// Slack's limit on a section's text.
const MAX_SECTION: usize = 3000;

/// A Slack notifier: one bot token, one channel.
pub struct SlackChat {
    name: String,
    api_url: String,
    token: Secret,
    channel: String,
    /// The channel of each severity that has its own.
    channels: Vec<(Severity, String)>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl SlackChat {
    pub fn new(
        name: &str,
        api_url: &str,
        token: Secret,
        channel: &str,
        options: &HttpOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(SlackChat {
            name: name.to_string(),
            api_url: api_url.trim_end_matches('/').to_string(),
            token,
            channel: channel.to_string(),
            channels: Vec::new(),
            client: http::client(options)?,
            clock,
        })
    }

    /// Posts of each severity in `channels` go to its channel; scale messages go to
    /// `info`'s.
    pub fn with_channels(self, channels: Vec<(Severity, String)>) -> Self {
        SlackChat { channels, ..self }
    }

    fn what(&self) -> String {
        format!("Slack {} ({})", self.api_url, self.name)
    }

    /// Where `outgoing` is posted (a reply goes to its parent's channel instead).
    fn channel_for(&self, outgoing: &Outgoing) -> &str {
        let severity = match outgoing {
            Outgoing::Page(page) => Severity::from_word(&page.severity).unwrap_or_default(),
            Outgoing::Scale(_) | Outgoing::ScaleOutcome(_) | Outgoing::Acknowledgement(_) => Severity::Info,
        };
        let own = self.channels.iter().find(|(s, _)| *s == severity);
        own.map_or(self.channel.as_str(), |(_, channel)| channel.as_str())
    }

    async fn send(&self, message: &OutboxMessage, thread: Option<&str>) -> Result<Delivered, BackendError> {
        let outgoing = Outgoing::read(&message.payload).map_err(BackendError::rejected)?;
        let what = self.what();
        let token = self
            .token
            .resolve()
            .map_err(|why| BackendError::new(ErrorKind::Auth, format!("{what}: bot token: {why}")))?;
        let channel = self.channel_for(&outgoing);
        let body = post(&outgoing, channel, thread);
        let url = format!("{}/chat.postMessage", self.api_url);
        let request = self
            .client
            .post(&url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body.to_string());
        let response = request.send().await.map_err(|e| http::send_error(&what, &e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.map_err(|e| http::send_error(&what, &e))?;
        if !status.is_success() {
            let detail: String = text.chars().take(200).collect();
            return Err(http::status_error(&what, status, &headers, &detail, self.clock.now()));
        }
        let answer: Answer = serde_json::from_str(&text).map_err(|e| {
            BackendError::transient(format!(
                "{what}: not a Web API answer ({e}): {}",
                &text[..text.len().min(120)]
            ))
        })?;
        if answer.ok {
            let receipt = answer.channel.zip(answer.ts).map(|(channel, ts)| format!("{channel}/{ts}"));
            return Ok(Delivered { receipt });
        }
        let code = answer.error.unwrap_or_else(|| "unknown_error".to_string());
        Err(refusal(&what, &code, channel))
    }
}

impl Notifier for SlackChat {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver<'a>(
        &'a self,
        message: &'a OutboxMessage,
        thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Delivered, BackendError>> {
        Box::pin(self.send(message, thread))
    }

    fn pace(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// `chat.postMessage`'s answer.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    ok: bool,
    channel: Option<String>,
    ts: Option<String>,
    error: Option<String>,
}

/// An `ok: false` answer's error as the delivery policy takes it, in words.
fn refusal(what: &str, code: &str, channel: &str) -> BackendError {
    let message = |words: &str| format!("{what}: {code}: {words}");
    match code {
        "internal_error" | "service_unavailable" | "fatal_error" | "request_timeout" => {
            BackendError::transient(message("Slack had trouble; trying again (a repeat is possible)"))
        }
        "ratelimited" => BackendError::throttled(message("rate limited"), None),
        "not_in_channel" => BackendError::rejected(message(&format!(
            "the bot is not a member of {channel}: invite it there, or give it the chat:write.public scope"
        ))),
        "channel_not_found" => {
            BackendError::rejected(message(&format!("no channel {channel} that the bot can see")))
        }
        "is_archived" => BackendError::rejected(message(&format!("{channel} is archived"))),
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            BackendError::new(ErrorKind::Auth, message("the bot token is refused"))
        }
        "missing_scope" => {
            BackendError::new(ErrorKind::Auth, message("the bot token lacks the chat:write scope"))
        }
        _ => BackendError::rejected(message("refused by Slack")),
    }
}

/// The `chat.postMessage` body for `outgoing` in `channel`, or in the thread of
/// `thread` (`CHANNEL_ID/ts`).
pub fn post(outgoing: &Outgoing, channel: &str, thread: Option<&str>) -> Value {
    let (text, blocks) = match outgoing {
        Outgoing::Page(page) => page_blocks(page),
        Outgoing::Scale(scale) => scale_blocks(scale),
        Outgoing::Acknowledgement(ack) => {
            let why = ack.reason.as_deref().filter(|r| !r.trim().is_empty()).map(|r| format!(": {r}"));
            let text =
                format!("{}: {} acknowledged by {}{}", ack.group, ack.alarm, ack.by, why.unwrap_or_default());
            (text.clone(), vec![section(&format!(":eyes: {text}"))])
        }
        Outgoing::ScaleOutcome(outcome) => {
            let mark = if outcome.complete() { ":white_check_mark:" } else { ":warning:" };
            let text = format!("{}: {}", outcome.group, outcome.words());
            (text.clone(), vec![section(&format!("{mark} {text}"))])
        }
    };
    let mut body = json!({"channel": channel, "text": text, "blocks": blocks, "unfurl_links": false});
    if let Some((channel_id, ts)) = thread.and_then(|t| t.split_once('/')) {
        body["channel"] = json!(channel_id);
        body["thread_ts"] = json!(ts);
    }
    body
}

fn section(text: &str) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": truncated(text, MAX_SECTION)}})
}

fn context(parts: &[String]) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncated(&parts.join(" · "), MAX_SECTION)}]})
}

/// A page's fallback text and blocks: what fires and why, the group's figures, links.
fn page_blocks(page: &Page) -> (String, Vec<Value>) {
    match page.kind {
        PageKind::Resolve => {
            let text = format!("{}: {} resolved", page.group, page.alarm);
            (text, vec![section(&format!(":white_check_mark: {}", page.summary))])
        }
        PageKind::Trigger => {
            let text = format!("{}: {} FIRING — {}", page.group, page.alarm, page.summary);
            let mut blocks = vec![section(&format!(
                ":rotating_light: *{}: {} is FIRING* ({})\n{}",
                page.group, page.alarm, page.severity, page.summary
            ))];
            let figures: Vec<String> =
                page.details.iter().map(|(k, v)| format!("{k} {}", figure(v))).collect();
            if !figures.is_empty() {
                blocks.push(context(&figures));
            }
            let links: Vec<String> = page.links.iter().map(|l| format!("<{}|{}>", l.href, l.text)).collect();
            if !links.is_empty() {
                blocks.push(context(&links));
            }
            (text, blocks)
        }
    }
}

/// A detail's value as a person reads it: numbers to three significant figures.
fn figure(value: &Value) -> String {
    match value {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() != 0.0 => crate::model::words::number(f),
            Some(f) if f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An acted scale's fallback text and blocks: the change and its reason, what it costs.
fn scale_blocks(scale: &Scale) -> (String, Vec<Value>) {
    let text = scale.headline();
    let mut facts = vec![scale.cost_change()];
    if !scale.instance_type.is_empty() {
        facts.insert(0, format!("{} × {}", scale.to.abs_diff(scale.from), scale.instance_type));
    }
    (text.clone(), vec![section(&format!(":arrow_up_down: *{text}*")), context(&facts)])
}

#[cfg(test)]
mod tests;
