//! A page as the outbox holds it: the notifiers' reading of the JSON the engine queues
//! (`engine::pager::Notification`, with the context the engine adds). Read-only and
//! lenient: a field this build does not know is ignored, one an older engine did not
//! write takes its default.

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

impl Page {
    /// Reads a row's payload.
    pub fn read(payload: &serde_json::Value) -> Result<Page, String> {
        Page::deserialize(payload).map_err(|e| format!("not a page this build can read: {e}"))
    }
}
