//! What the outbox holds, as the notifiers read it: a page or its resolve (the JSON of
//! `engine::pager::Notification`, with the context the engine adds), or an acted scale.
//! Read-only and lenient: a field this build does not know is ignored, one an older
//! engine did not write takes its default.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::Timestamp;

/// Whether a page opens its episode or closes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageKind {
    Trigger,
    Resolve,
}

/// One page or resolve.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Page {
    pub at: Timestamp,
    pub group: String,
    pub alarm: String,
    pub kind: PageKind,
    /// The episode's key, the same for its trigger and its resolve.
    pub dedup_key: String,
    pub summary: String,
    /// `critical`, `error`, `warning` or `info` (PagerDuty's severities); `error` where
    /// the engine did not say.
    #[serde(default = "default_severity")]
    pub severity: String,
    /// The fleet it belongs to.
    #[serde(default)]
    pub fleet: String,
    /// What the responder should see with it: metric values, recent decisions.
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
    /// Links to show with it (a runbook, a dashboard): (text, href).
    #[serde(default)]
    pub links: Vec<PageLink>,
}

/// A link shown with a page.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PageLink {
    pub href: String,
    pub text: String,
}

fn default_severity() -> String {
    "error".to_string()
}

/// A change of desired capacity the engine acted on.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Scale {
    pub at: Timestamp,
    pub group: String,
    pub from: u32,
    pub to: u32,
    /// Why, in the decision log's words.
    pub reason: String,
    #[serde(default)]
    pub fleet: String,
    #[serde(default)]
    pub instance_type: String,
    /// What one instance costs an hour.
    #[serde(default)]
    pub hourly_cost_usd: f64,
}

impl Scale {
    /// `llm-chat scaled 4 → 8: <reason>`.
    pub fn headline(&self) -> String {
        format!("{} scaled {} → {}: {}", self.group, self.from, self.to, self.reason)
    }

    /// What the change does to the hourly cost (`+$131.08/h`).
    pub fn cost_change(&self) -> String {
        let change = (f64::from(self.to) - f64::from(self.from)) * self.hourly_cost_usd;
        let sign = if change >= 0.0 { "+" } else { "−" };
        format!("{sign}${:.2}/h", change.abs())
    }
}

/// How a scale-out turned out once its warm-up was over: a follow-up of its [`Scale`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct ScaleOutcome {
    pub at: Timestamp,
    pub group: String,
    pub from: u32,
    pub to: u32,
    /// Instances ready when it was told.
    pub ready: u32,
    /// How long after the scale-out.
    #[serde(default)]
    pub warmed_for_ms: u64,
    pub p95_before: Option<f64>,
    pub p95_after: Option<f64>,
    #[serde(default)]
    pub instance_type: String,
    #[serde(default)]
    pub hourly_cost_usd: f64,
}

impl ScaleOutcome {
    /// `added 4 × p4d.24xlarge in 3m; p95 3.2 s → 0.8 s; +$131.08/h`, or what did not
    /// arrive.
    pub fn words(&self) -> String {
        let added = self.to.saturating_sub(self.from);
        let arrived = self.ready.saturating_sub(self.from).min(added);
        let what =
            if self.instance_type.is_empty() { String::new() } else { format!(" × {}", self.instance_type) };
        let after = crate::model::format_duration(std::time::Duration::from_millis(self.warmed_for_ms));
        let mut out = if arrived >= added {
            format!("added {added}{what} in {after}")
        } else {
            format!("only {arrived} of {added}{what} ready after {after}")
        };
        if let (Some(before), Some(now)) = (self.p95_before, self.p95_after) {
            out.push_str(&format!(
                "; p95 {} s → {} s",
                crate::model::words::number(before),
                crate::model::words::number(now)
            ));
        }
        let change = f64::from(arrived) * self.hourly_cost_usd;
        out.push_str(&format!("; +${change:.2}/h"));
        out
    }

    /// Whether every instance asked for arrived.
    pub fn complete(&self) -> bool {
        self.ready >= self.to
    }
}

/// An operator acknowledged an open incident.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Acknowledgement {
    pub at: Timestamp,
    pub group: String,
    pub alarm: String,
    /// The episode's key, as its trigger had it.
    pub dedup_key: String,
    /// Who, as the audit trail names them.
    pub by: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// One outbox row's message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    Page(Page),
    Acknowledgement(Acknowledgement),
    Scale(Scale),
    ScaleOutcome(ScaleOutcome),
}

impl Outgoing {
    /// Reads a row's payload by its `kind`: `scale`, `scale_outcome`, or a page's
    /// `trigger` / `resolve`.
    pub fn read(payload: &serde_json::Value) -> Result<Outgoing, String> {
        let unreadable = |e: serde_json::Error| format!("not a message this build can read: {e}");
        match payload.get("kind").and_then(serde_json::Value::as_str) {
            Some("scale") => Scale::deserialize(payload).map(Outgoing::Scale).map_err(unreadable),
            Some("acknowledge") => {
                Acknowledgement::deserialize(payload).map(Outgoing::Acknowledgement).map_err(unreadable)
            }
            Some("scale_outcome") => {
                ScaleOutcome::deserialize(payload).map(Outgoing::ScaleOutcome).map_err(unreadable)
            }
            _ => Page::deserialize(payload).map(Outgoing::Page).map_err(unreadable),
        }
    }
}
