//! Which alarms page (DESIGN.md, "Alerting semantics"): pure, per group, reconciled once a
//! tick. Evaluation is not this module's business: it gets the alarms firing now and
//! answers with the notifications to queue.
//!
//! - An alarm that fires pages once ([`NotificationKind::Trigger`]) with a stable dedup
//!   key, and sends [`NotificationKind::Resolve`] under the same key when it stops firing.
//! - **Warm-up hold-back.** An alarm raised after a scale-out was acted on and while that
//!   scale-out is still warming (capacity has not arrived and its maximum warm-up has not
//!   passed) is grouped under it and held back: it pages only if it is still firing when
//!   the warm-up ends, and then at once. One that resolves meanwhile never pages. An alarm
//!   raised in the same tick as the scale-out, or before it, pages at once: it is what the
//!   scale-out answers, not its side effect.
//! - **Silences** mute triggers, never evaluation. An alarm that fires during a silence
//!   and is still firing when the silence ends pages then. Resolves are never muted: they
//!   close incidents that were opened, and an open incident with nobody told it is over is
//!   worse than one message too many.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::Timestamp;

/// An alarm firing now: a rule's, the stalled scale-out's, or an open breaker trip's.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub name: String,
    /// When it started firing.
    pub since: Timestamp,
    pub summary: String,
}

/// A scale-out that is acted on and still warming.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warming {
    pub at: Timestamp,
    pub from: u32,
    pub to: u32,
    /// When its maximum warm-up ends.
    pub until: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    Trigger,
    Resolve,
}

/// A page (or its resolve) to send; the engine writes it to the store's outbox, and the
/// notifiers deliver it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub at: Timestamp,
    pub group: String,
    pub alarm: String,
    pub kind: NotificationKind,
    /// The same for a trigger and its resolve: `fleetdeck:<group>:<alarm>`.
    pub dedup_key: String,
    pub summary: String,
    /// The scale-out this alarm was held back under, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_under: Option<Warming>,
}

impl Notification {
    pub fn dedup_key(group: &str, alarm: &str) -> String {
        format!("fleetdeck:{group}:{alarm}")
    }
}

/// One group's paging state.
#[derive(Clone, Debug, Default)]
pub struct Pager {
    /// Alarms paged and not yet resolved, with the summary they paged with.
    paged: BTreeMap<String, String>,
    /// Alarms held back, under the scale-out they were raised during.
    held: BTreeMap<String, Warming>,
}

impl Pager {
    /// The notifications this tick calls for. `warming`: the group's scale-out still
    /// warming, if any; `silenced`: triggers are muted now.
    pub fn reconcile(
        &mut self,
        group: &str,
        firing: &[Firing],
        warming: Option<&Warming>,
        silenced: bool,
        now: Timestamp,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        let is_firing = |name: &str| firing.iter().any(|f| f.name == name);
        let resolved: Vec<String> = self.paged.keys().filter(|name| !is_firing(name)).cloned().collect();
        for alarm in resolved {
            let summary = self.paged.remove(&alarm).unwrap_or_default();
            out.push(Notification {
                at: now,
                group: group.to_string(),
                dedup_key: Notification::dedup_key(group, &alarm),
                summary: format!("resolved: {summary}"),
                alarm,
                kind: NotificationKind::Resolve,
                held_under: None,
            });
        }
        self.held.retain(|name, _| is_firing(name));
        for alarm in firing {
            if self.paged.contains_key(&alarm.name) {
                continue;
            }
            let raised_while_warming =
                warming.filter(|w| alarm.since > w.at && alarm.since < w.until && now < w.until);
            let under = match (self.held.get(&alarm.name), raised_while_warming) {
                // Held until the scale-out it was raised under stops warming.
                (Some(held), Some(w)) if held == w => continue,
                (None, Some(w)) => {
                    self.held.insert(alarm.name.clone(), w.clone());
                    continue;
                }
                (held, _) => held.cloned(),
            };
            if silenced {
                continue;
            }
            self.held.remove(&alarm.name);
            let summary = match &under {
                Some(w) => format!(
                    "{} (held back during the warm-up of the scale-out {}→{}; still firing after it)",
                    alarm.summary, w.from, w.to
                ),
                None => alarm.summary.clone(),
            };
            self.paged.insert(alarm.name.clone(), alarm.summary.clone());
            out.push(Notification {
                at: now,
                group: group.to_string(),
                alarm: alarm.name.clone(),
                kind: NotificationKind::Trigger,
                dedup_key: Notification::dedup_key(group, &alarm.name),
                summary,
                held_under: under,
            });
        }
        out
    }

    /// Remembers that `alarm` paged before a restart and has not resolved (read back from
    /// the outbox), so its resolve is sent when it stops firing.
    pub fn restore_paged(&mut self, alarm: String, summary: String) {
        self.paged.insert(alarm, summary);
    }

    /// The scale-out an alarm is held back under, if it is.
    pub fn held(&self, alarm: &str) -> Option<&Warming> {
        self.held.get(alarm)
    }

    /// Whether an alarm has paged and not resolved.
    pub fn is_paged(&self, alarm: &str) -> bool {
        self.paged.contains_key(alarm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000 + secs * 1000)
    }

    fn firing(name: &str, since: i64) -> Firing {
        Firing { name: name.into(), since: at(since), summary: format!("{name} is high") }
    }

    fn warming(from: i64, until: i64) -> Warming {
        Warming { at: at(from), from: 4, to: 8, until: at(until) }
    }

    fn kinds(notes: &[Notification]) -> Vec<(String, NotificationKind)> {
        notes.iter().map(|n| (n.alarm.clone(), n.kind)).collect()
    }

    #[test]
    fn an_alarm_pages_once_and_resolves_under_the_same_key() {
        let mut pager = Pager::default();
        let first = pager.reconcile("chat", &[firing("p95", 0)], None, false, at(0));
        assert_eq!(kinds(&first), vec![("p95".into(), NotificationKind::Trigger)]);
        assert_eq!(first[0].dedup_key, "fleetdeck:chat:p95");
        assert!(pager.reconcile("chat", &[firing("p95", 0)], None, false, at(15)).is_empty());
        let resolved = pager.reconcile("chat", &[], None, false, at(30));
        assert_eq!(kinds(&resolved), vec![("p95".into(), NotificationKind::Resolve)]);
        assert_eq!(resolved[0].dedup_key, first[0].dedup_key);
        assert!(pager.reconcile("chat", &[], None, false, at(45)).is_empty(), "resolved once");
    }

    #[test]
    fn an_alarm_raised_during_warm_up_that_resolves_in_it_never_pages() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        for t in (15..90).step_by(15) {
            let notes = pager.reconcile("chat", &[firing("p95", 15)], Some(&w), false, at(t));
            assert!(notes.is_empty(), "held at {t}s: {notes:?}");
            assert_eq!(pager.held("p95"), Some(&w));
        }
        assert!(pager.reconcile("chat", &[], Some(&w), false, at(90)).is_empty());
        assert!(pager.reconcile("chat", &[], None, false, at(200)).is_empty(), "no resolve without a page");
        assert_eq!(pager.held("p95"), None);
    }

    #[test]
    fn a_held_alarm_still_firing_when_the_warm_up_ends_pages_at_once() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], Some(&w), false, at(15)).is_empty());
        assert!(pager.reconcile("chat", &[firing("p95", 15)], Some(&w), false, at(105)).is_empty());
        // The warm-up ends: the engine reports no scale-out warming any more.
        let notes = pager.reconcile("chat", &[firing("p95", 15)], None, false, at(120));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
        assert_eq!(notes[0].held_under, Some(w));
        assert!(notes[0].summary.contains("held back during the warm-up of the scale-out 4→8"));
    }

    #[test]
    fn a_hold_ends_at_the_maximum_warm_up_even_if_capacity_is_still_short() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], Some(&w), false, at(15)).is_empty());
        let notes = pager.reconcile("chat", &[firing("p95", 15)], Some(&w), false, at(120));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }

    #[test]
    fn alarms_raised_before_or_with_the_scale_out_page_at_once() {
        let mut pager = Pager::default();
        let w = warming(30, 150);
        let notes =
            pager.reconcile("chat", &[firing("queue", 0), firing("p95", 30)], Some(&w), false, at(30));
        assert_eq!(
            kinds(&notes),
            vec![("queue".into(), NotificationKind::Trigger), ("p95".into(), NotificationKind::Trigger)]
        );
    }

    #[test]
    fn a_silence_mutes_triggers_and_an_alarm_still_firing_after_it_pages() {
        let mut pager = Pager::default();
        assert!(pager.reconcile("chat", &[firing("p95", 0)], None, true, at(0)).is_empty());
        assert!(!pager.is_paged("p95"));
        let notes = pager.reconcile("chat", &[firing("p95", 0)], None, false, at(60));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }

    #[test]
    fn resolves_are_sent_during_a_silence() {
        let mut pager = Pager::default();
        pager.reconcile("chat", &[firing("p95", 0)], None, false, at(0));
        let notes = pager.reconcile("chat", &[], None, true, at(30));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Resolve)]);
    }

    #[test]
    fn a_new_scale_out_does_not_extend_the_hold_of_an_alarm_held_under_an_earlier_one() {
        let mut pager = Pager::default();
        let first = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], Some(&first), false, at(15)).is_empty());
        let second = Warming { at: at(100), from: 8, to: 12, until: at(220) };
        let notes = pager.reconcile("chat", &[firing("p95", 15)], Some(&second), false, at(121));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }
}
