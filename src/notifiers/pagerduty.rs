//! PagerDuty's Events API v2: the outbox's triggers and resolves (`POST /v2/enqueue`),
//! under the episode's stable `dedup_key`, and each acted scale as a Change Event
//! (`POST /v2/change/enqueue`, on the service's timeline), with the service's
//! integration key as `routing_key` (read from its variable or file on every send, never
//! logged).
//!
//! Its answers, as PagerDuty documents them: `202` with `{"status": "success",
//! "message": "Event processed", "dedup_key": …}`; `400` with `{"status": "invalid
//! event", "message": …, "errors": [...]}` (given up: the event itself is wrong); `429`
//! without `Retry-After` (tried again after `throttle_wait`, 30 s by default, as the
//! documentation suggests); `5xx` (tried again with backoff).

use std::sync::Arc;

use futures::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::message::{Outgoing, Page, PageKind, Scale};
use super::{Delivered, Notifier};
use crate::backends::http::{self, HttpOptions};
use crate::clock::Clock;
use crate::config::PagerDutyConfig;
use crate::config::secret::Secret;
use crate::model::{BackendError, ErrorKind};
use crate::store::OutboxMessage;

/// PagerDuty's limit on an event's summary.
pub const MAX_SUMMARY: usize = 1024;

/// A PagerDuty notifier: one service's integration.
pub struct PagerDutyEvents {
    name: String,
    settings: PagerDutyConfig,
    routing_key: Secret,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
}

impl PagerDutyEvents {
    pub fn new(
        name: &str,
        settings: &PagerDutyConfig,
        routing_key: Secret,
        options: &HttpOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(PagerDutyEvents {
            name: name.to_string(),
            settings: PagerDutyConfig {
                events_url: settings.events_url.trim_end_matches('/').to_string(),
                ..settings.clone()
            },
            routing_key,
            client: http::client(options)?,
            clock,
        })
    }

    fn what(&self) -> String {
        format!("PagerDuty {} ({})", self.settings.events_url, self.name)
    }

    async fn send(&self, message: &OutboxMessage) -> Result<Delivered, BackendError> {
        let outgoing = Outgoing::read(&message.payload).map_err(BackendError::rejected)?;
        if let Outgoing::ScaleOutcome(_) = outgoing {
            // A scale's outcome is Slack's thread reply; the Change Event already told
            // PagerDuty's timeline.
            return Ok(Delivered::default());
        }
        let what = self.what();
        let key = self
            .routing_key
            .resolve()
            .map_err(|why| BackendError::new(ErrorKind::Auth, format!("{what}: routing key: {why}")))?;
        let (path, body, dedup_key) = match &outgoing {
            Outgoing::Page(page) => ("/v2/enqueue", event(page, key.expose()), Some(page.dedup_key.clone())),
            Outgoing::Acknowledgement(ack) => {
                let body = json!({"routing_key": key.expose(), "event_action": "acknowledge", "dedup_key": ack.dedup_key});
                ("/v2/enqueue", body, Some(ack.dedup_key.clone()))
            }
            Outgoing::Scale(scale) => ("/v2/change/enqueue", change_event(scale, key.expose()), None),
            Outgoing::ScaleOutcome(_) => return Ok(Delivered::default()),
        };
        let url = format!("{}{path}", self.settings.events_url);
        let response =
            self.client.post(&url).json(&body).send().await.map_err(|e| http::send_error(&what, &e))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.map_err(|e| http::send_error(&what, &e))?;
        let answer: Answer = serde_json::from_str(&text).unwrap_or_default();
        if status == reqwest::StatusCode::ACCEPTED || status.is_success() {
            return Ok(Delivered { receipt: answer.dedup_key.or(dedup_key) });
        }
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let message =
                format!("{what}: HTTP 429: throttled (about 120 events a minute per integration key)");
            return Err(BackendError::throttled(message, Some(self.settings.throttle_wait)));
        }
        let detail = answer.words().unwrap_or_else(|| text.chars().take(200).collect());
        Err(http::status_error(&what, status, &headers, &detail, self.clock.now()))
    }
}

impl Notifier for PagerDutyEvents {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver<'a>(
        &'a self,
        message: &'a OutboxMessage,
        _thread: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Delivered, BackendError>> {
        Box::pin(self.send(message))
    }
}

/// The Events API's answer, success or not.
#[derive(Debug, Default, Deserialize)]
struct Answer {
    message: Option<String>,
    dedup_key: Option<String>,
    #[serde(default)]
    errors: Vec<String>,
}

impl Answer {
    /// What PagerDuty said went wrong: its message and each of its errors.
    fn words(&self) -> Option<String> {
        let mut words: Vec<&str> = self.message.iter().map(String::as_str).collect();
        words.extend(self.errors.iter().map(String::as_str));
        (!words.is_empty()).then(|| words.join("; "))
    }
}

/// The event for `page`: a trigger with its payload and links, or a resolve of its key.
pub fn event(page: &Page, routing_key: &str) -> Value {
    match page.kind {
        PageKind::Resolve => json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": page.dedup_key,
        }),
        PageKind::Trigger => {
            let source = if page.fleet.is_empty() {
                format!("fleetdeck/{}", page.group)
            } else {
                format!("fleetdeck/{}/{}", page.fleet, page.group)
            };
            let mut payload = json!({
                "summary": truncated(&page.summary, MAX_SUMMARY),
                "source": source,
                "severity": severity(&page.severity),
                "timestamp": page.at.to_rfc3339(),
                "component": page.group,
                "class": page.alarm,
                "custom_details": page.details,
            });
            if !page.fleet.is_empty() {
                payload["group"] = json!(page.fleet);
            }
            let mut event = json!({
                "routing_key": routing_key,
                "event_action": "trigger",
                "dedup_key": page.dedup_key,
                "payload": payload,
                "client": "fleetdeck",
            });
            if !page.links.is_empty() {
                let links: Vec<Value> =
                    page.links.iter().map(|l| json!({"href": l.href, "text": l.text})).collect();
                event["links"] = json!(links);
            }
            event
        }
    }
}

/// The Change Event (`/v2/change/enqueue`) for an acted scale: it shows on the service's
/// timeline beside its incidents.
pub fn change_event(scale: &Scale, routing_key: &str) -> Value {
    let source = if scale.fleet.is_empty() {
        format!("fleetdeck/{}", scale.group)
    } else {
        format!("fleetdeck/{}/{}", scale.fleet, scale.group)
    };
    json!({
        "routing_key": routing_key,
        "payload": {
            "summary": truncated(&scale.headline(), MAX_SUMMARY),
            "timestamp": scale.at.to_rfc3339(),
            "source": source,
            "custom_details": {
                "from": scale.from,
                "to": scale.to,
                "instance_type": scale.instance_type,
                "hourly_cost_change": scale.cost_change(),
            },
        },
    })
}

/// One of PagerDuty's four severities; anything else is `error`.
fn severity(word: &str) -> &'static str {
    match word {
        "critical" => "critical",
        "warning" => "warning",
        "info" => "info",
        _ => "error",
    }
}

/// `text` cut to at most `max` bytes on a character boundary, `…` marking the cut.
pub fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut cut = max - '…'.len_utf8();
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &text[..cut])
}

#[cfg(test)]
mod tests;
