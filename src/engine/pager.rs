//! Which alarms page (DESIGN.md, "Alerting semantics"): pure, per group, reconciled once a
//! tick. Evaluation is not this module's business: it gets the alarms firing now and
//! answers with the notifications to queue.
//!
//! - An alarm that fires pages once ([`NotificationKind::Trigger`]) under a dedup key that
//!   names its episode — group, alarm and the moment it went FIRING — and sends
//!   [`NotificationKind::Resolve`] under the same key when it stops firing. A second
//!   episode of the same alarm is a new key: trigger → resolve → trigger is three
//!   messages, however late a paging service that was down receives them.
//! - **Warm-up hold-back.** An alarm raised after a scale-out was acted on and while that
//!   scale-out is still warming (capacity has not arrived and its maximum warm-up has not
//!   passed) is grouped under it and held back: it pages only if it is still firing when
//!   the warm-up ends, and then at once. One that resolves meanwhile never pages. An alarm
//!   raised in the same tick as the scale-out, or before it, pages at once: it is what the
//!   scale-out answers, not its side effect.
//! - **No data resolves nothing.** A paged alarm whose rule has no data to judge by
//!   (INSUFFICIENT_DATA: right after a restart, or while its metric is missing) keeps its
//!   incident open: an incident is closed by an alarm evaluated OK, not by not knowing.
//! - **Silences** mute triggers, never evaluation. An alarm that fires during a silence
//!   and is still firing when the silence ends pages then. Resolves are never muted: they
//!   close incidents that were opened, and an open incident with nobody told it is over is
//!   worse than one message too many.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Severity, Timestamp};

/// An alarm firing now: a rule's, the stalled scale-out's, or an open breaker trip's.
#[derive(Clone, Debug, PartialEq)]
pub struct Firing {
    pub name: String,
    /// When it started firing.
    pub since: Timestamp,
    pub summary: String,
    pub severity: Severity,
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

impl NotificationKind {
    /// "trigger" or "resolve", as PagerDuty's Events API names the actions.
    pub fn word(self) -> &'static str {
        match self {
            NotificationKind::Trigger => "trigger",
            NotificationKind::Resolve => "resolve",
        }
    }
}

/// A page (or its resolve) to send; the engine writes it to the store's outbox, and the
/// notifiers deliver it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub at: Timestamp,
    pub group: String,
    pub alarm: String,
    pub kind: NotificationKind,
    /// The same for a trigger and its resolve, another for each episode:
    /// `fleetdeck:<group>:<alarm>:<ms it went FIRING>` (at most 255 characters).
    pub dedup_key: String,
    pub summary: String,
    /// How urgent: its rule's severity (a resolve keeps its trigger's).
    #[serde(default)]
    pub severity: Severity,
    /// The scale-out this alarm was held back under, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_under: Option<Warming>,
}

/// PagerDuty's limit on a dedup key, which the others' keys fit as well.
pub const MAX_DEDUP_KEY: usize = 255;

impl Notification {
    /// The episode's key. Names too long for it keep their start and get a hash of the
    /// whole, so distinct episodes keep distinct keys.
    pub fn dedup_key(group: &str, alarm: &str, since: Timestamp) -> String {
        let key = format!("fleetdeck:{group}:{alarm}:{}", since.as_millis());
        if key.len() <= MAX_DEDUP_KEY {
            return key;
        }
        let hash = format!(":{:016x}", fnv1a(key.as_bytes()));
        let mut cut = MAX_DEDUP_KEY - hash.len();
        while !key.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{hash}", &key[..cut])
    }

    /// The outbox's order for it: every episode of one alarm of one group, so its
    /// triggers and resolves reach a service in the order they happened (trigger →
    /// resolve → trigger), whatever retries came between.
    pub fn order_key(&self) -> String {
        Notification::order_key_of(&self.group, &self.alarm)
    }

    /// [`order_key`](Self::order_key) of `group`'s `alarm`.
    pub fn order_key_of(group: &str, alarm: &str) -> String {
        format!("fleetdeck:{group}:{alarm}")
    }

    /// The outbox's name for the trigger of the episode `dedup_key`.
    pub fn trigger_key(dedup_key: &str) -> String {
        format!("{dedup_key}#{}", NotificationKind::Trigger.word())
    }

    /// The outbox's name for this message: its episode and whether it opens or closes it.
    pub fn message_key(&self) -> String {
        format!("{}#{}", self.dedup_key, self.kind.word())
    }

    /// The message a resolve follows up: its episode's trigger (Slack threads it there).
    pub fn thread_of(&self) -> Option<String> {
        (self.kind == NotificationKind::Resolve).then(|| Notification::trigger_key(&self.dedup_key))
    }
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// An alarm paged and not yet resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paged {
    pub dedup_key: String,
    pub summary: String,
    pub severity: Severity,
    /// When it went FIRING.
    pub since: Timestamp,
}

/// One group's paging state.
#[derive(Clone, Debug, Default)]
pub struct Pager {
    /// Alarms paged and not yet resolved.
    paged: BTreeMap<String, Paged>,
    /// Alarms held back, under the scale-out they were raised during.
    held: BTreeMap<String, Warming>,
}

impl Pager {
    /// The notifications this tick calls for. `undecided`: alarms whose rule has no data
    /// to judge by (INSUFFICIENT_DATA, as right after a restart), which neither page nor
    /// resolve; `warming`: the group's scale-out still warming, if any; `silenced`:
    /// triggers are muted now.
    pub fn reconcile(
        &mut self,
        group: &str,
        firing: &[Firing],
        undecided: &[&str],
        warming: Option<&Warming>,
        silenced: bool,
        now: Timestamp,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        let is_firing = |name: &str| firing.iter().any(|f| f.name == name);
        let resolved: Vec<String> = self
            .paged
            .keys()
            .filter(|name| !is_firing(name) && !undecided.contains(&name.as_str()))
            .cloned()
            .collect();
        for alarm in resolved {
            let Some(paged) = self.paged.remove(&alarm) else { continue };
            out.push(Notification {
                at: now,
                group: group.to_string(),
                dedup_key: paged.dedup_key,
                summary: format!("resolved: {}", paged.summary),
                severity: paged.severity,
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
            let dedup_key = Notification::dedup_key(group, &alarm.name, alarm.since);
            let paged = Paged {
                dedup_key: dedup_key.clone(),
                summary: alarm.summary.clone(),
                severity: alarm.severity,
                since: alarm.since,
            };
            self.paged.insert(alarm.name.clone(), paged);
            out.push(Notification {
                at: now,
                group: group.to_string(),
                alarm: alarm.name.clone(),
                kind: NotificationKind::Trigger,
                dedup_key,
                summary,
                severity: alarm.severity,
                held_under: under,
            });
        }
        out
    }

    /// Takes the open episodes as the store has them (paged before a restart, or by the
    /// engine whose lease this one took over): their resolves go out under their keys
    /// when they stop firing, and an alarm still firing does not page again.
    pub fn adopt(&mut self, open: impl IntoIterator<Item = (String, Paged)>) {
        self.paged = open.into_iter().collect();
    }

    /// The episode an alarm paged, if it has and has not resolved.
    pub fn paged(&self, alarm: &str) -> Option<&Paged> {
        self.paged.get(alarm)
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
        Firing {
            name: name.into(),
            since: at(since),
            summary: format!("{name} is high"),
            severity: Severity::Warning,
        }
    }

    fn warming(from: i64, until: i64) -> Warming {
        Warming { at: at(from), from: 4, to: 8, until: at(until) }
    }

    fn kinds(notes: &[Notification]) -> Vec<(String, NotificationKind)> {
        notes.iter().map(|n| (n.alarm.clone(), n.kind)).collect()
    }

    /// After a restart its rule has no data yet: the incident stays open (no resolve, no
    /// second trigger) until the alarm is judged again, firing or OK.
    #[test]
    fn an_alarm_without_data_to_judge_by_neither_resolves_nor_pages_again() {
        let mut pager = Pager::default();
        let first = pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(0));
        assert!(
            pager.reconcile("chat", &[], &["p95"], None, false, at(15)).is_empty(),
            "not knowing resolves nothing"
        );
        assert!(
            pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(30)).is_empty(),
            "still the one episode"
        );
        let resolved = pager.reconcile("chat", &[], &[], None, false, at(45));
        assert_eq!(kinds(&resolved), vec![("p95".into(), NotificationKind::Resolve)]);
        assert_eq!(resolved[0].dedup_key, first[0].dedup_key);
    }

    #[test]
    fn an_alarm_pages_once_and_resolves_under_the_same_key() {
        let mut pager = Pager::default();
        let first = pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(0));
        assert_eq!(kinds(&first), vec![("p95".into(), NotificationKind::Trigger)]);
        assert_eq!(first[0].dedup_key, format!("fleetdeck:chat:p95:{}", at(0).as_millis()));
        assert!(pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(15)).is_empty());
        let resolved = pager.reconcile("chat", &[], &[], None, false, at(30));
        assert_eq!(kinds(&resolved), vec![("p95".into(), NotificationKind::Resolve)]);
        assert_eq!(resolved[0].dedup_key, first[0].dedup_key);
        assert!(pager.reconcile("chat", &[], &[], None, false, at(45)).is_empty(), "resolved once");
    }

    #[test]
    fn an_alarm_raised_during_warm_up_that_resolves_in_it_never_pages() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        for t in (15..90).step_by(15) {
            let notes = pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&w), false, at(t));
            assert!(notes.is_empty(), "held at {t}s: {notes:?}");
            assert_eq!(pager.held("p95"), Some(&w));
        }
        assert!(pager.reconcile("chat", &[], &[], Some(&w), false, at(90)).is_empty());
        assert!(
            pager.reconcile("chat", &[], &[], None, false, at(200)).is_empty(),
            "no resolve without a page"
        );
        assert_eq!(pager.held("p95"), None);
    }

    #[test]
    fn a_held_alarm_still_firing_when_the_warm_up_ends_pages_at_once() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&w), false, at(15)).is_empty());
        assert!(pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&w), false, at(105)).is_empty());
        // The warm-up ends: the engine reports no scale-out warming any more.
        let notes = pager.reconcile("chat", &[firing("p95", 15)], &[], None, false, at(120));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
        assert_eq!(notes[0].held_under, Some(w));
        assert!(notes[0].summary.contains("held back during the warm-up of the scale-out 4→8"));
    }

    #[test]
    fn a_hold_ends_at_the_maximum_warm_up_even_if_capacity_is_still_short() {
        let mut pager = Pager::default();
        let w = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&w), false, at(15)).is_empty());
        let notes = pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&w), false, at(120));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }

    #[test]
    fn alarms_raised_before_or_with_the_scale_out_page_at_once() {
        let mut pager = Pager::default();
        let w = warming(30, 150);
        let notes =
            pager.reconcile("chat", &[firing("queue", 0), firing("p95", 30)], &[], Some(&w), false, at(30));
        assert_eq!(
            kinds(&notes),
            vec![("queue".into(), NotificationKind::Trigger), ("p95".into(), NotificationKind::Trigger)]
        );
    }

    #[test]
    fn a_silence_mutes_triggers_and_an_alarm_still_firing_after_it_pages() {
        let mut pager = Pager::default();
        assert!(pager.reconcile("chat", &[firing("p95", 0)], &[], None, true, at(0)).is_empty());
        assert!(!pager.is_paged("p95"));
        let notes = pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(60));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }

    #[test]
    fn resolves_are_sent_during_a_silence() {
        let mut pager = Pager::default();
        pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(0));
        let notes = pager.reconcile("chat", &[], &[], None, true, at(30));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Resolve)]);
    }

    #[test]
    fn a_new_scale_out_does_not_extend_the_hold_of_an_alarm_held_under_an_earlier_one() {
        let mut pager = Pager::default();
        let first = warming(0, 120);
        assert!(pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&first), false, at(15)).is_empty());
        let second = Warming { at: at(100), from: 8, to: 12, until: at(220) };
        let notes = pager.reconcile("chat", &[firing("p95", 15)], &[], Some(&second), false, at(121));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Trigger)]);
    }

    #[test]
    fn each_episode_of_an_alarm_pages_under_its_own_key_and_resolves_under_it() {
        let mut pager = Pager::default();
        let first = pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(0));
        let resolved = pager.reconcile("chat", &[], &[], None, false, at(30));
        let second = pager.reconcile("chat", &[firing("p95", 60)], &[], None, false, at(60));
        let keys: Vec<(&str, NotificationKind)> = [&first[0], &resolved[0], &second[0]]
            .into_iter()
            .map(|n| (n.dedup_key.as_str(), n.kind))
            .collect();
        assert_eq!(keys[0].0, keys[1].0, "a trigger and its resolve share the key");
        assert_ne!(keys[0].0, keys[2].0, "the next episode is another incident: {keys:?}");
        let messages: std::collections::BTreeSet<String> =
            [&first[0], &resolved[0], &second[0]].into_iter().map(|n| n.message_key()).collect();
        assert_eq!(messages.len(), 3, "three messages, none folded into another");
    }

    #[test]
    fn a_key_too_long_for_pagerduty_is_cut_with_a_hash_that_keeps_episodes_apart() {
        let group = "g".repeat(300);
        let a = Notification::dedup_key(&group, "p95", at(0));
        let b = Notification::dedup_key(&group, "p95", at(1));
        assert!(a.len() <= MAX_DEDUP_KEY && b.len() <= MAX_DEDUP_KEY, "{} {}", a.len(), b.len());
        assert_ne!(a, b);
        let short = Notification::dedup_key("chat", "p95", at(0));
        assert_eq!(short, format!("fleetdeck:chat:p95:{}", at(0).as_millis()));
    }

    #[test]
    fn an_adopted_episode_does_not_page_again_and_resolves_under_its_key() {
        let mut pager = Pager::default();
        let paged = Paged {
            dedup_key: "fleetdeck:chat:p95:42".into(),
            summary: "p95 high".into(),
            severity: Severity::Critical,
            since: at(-60),
        };
        pager.adopt([("p95".to_string(), paged)]);
        assert!(pager.reconcile("chat", &[firing("p95", 0)], &[], None, false, at(0)).is_empty());
        let notes = pager.reconcile("chat", &[], &[], None, false, at(15));
        assert_eq!(kinds(&notes), vec![("p95".into(), NotificationKind::Resolve)]);
        assert_eq!(notes[0].dedup_key, "fleetdeck:chat:p95:42");
    }
}
