use std::time::Duration;

use serde_json::json;

use super::{at, temp_db};
use crate::store::{Enqueued, NewMessage, OpenPage, Store};

const CLAIM: Duration = Duration::from_secs(30);

fn message<'a>(key: &'a str, order: &'a str, payload: &'a serde_json::Value) -> NewMessage<'a> {
    NewMessage { group: "llama-70b", message_key: key, order_key: order, payload }
}

#[test]
fn a_message_gets_a_row_per_notifier_and_is_never_queued_twice_for_one() {
    let store = Store::open_in_memory().unwrap();
    let v1 = json!({"v": 1});
    let first = store.enqueue(&["pagerduty", "slack"], &message("ep1#trigger", "ep1", &v1), at(0)).unwrap();
    assert!(matches!(first[..], [Enqueued::New(a), Enqueued::New(b)] if a != b), "{first:?}");
    // A second engine, or a retried tick, queueing the same message.
    let v2 = json!({"v": 2});
    let again = store.enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &v2), at(1)).unwrap();
    assert_eq!(again, vec![Enqueued::Duplicate(first[0].id())]);
    // Still a duplicate once sent: one message is one delivery.
    store.claim_due("pagerduty", at(1), 10, CLAIM).unwrap();
    assert!(store.mark_sent(first[0].id(), at(2), None).unwrap());
    let after = store.enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &v2), at(3)).unwrap();
    assert_eq!(after, vec![Enqueued::Duplicate(first[0].id())]);
    let pd = store.outbox_messages("pagerduty").unwrap();
    assert_eq!((pd.len(), &pd[0].payload), (1, &v1), "the first payload is kept");
    assert_eq!(store.outbox_messages("slack").unwrap().len(), 1, "slack records its own delivery");
}

#[test]
fn a_claimed_row_is_not_handed_to_a_second_sender_until_the_claim_lapses() {
    let (_dir, path) = temp_db();
    let (a, b) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
    let payload = json!({});
    a.enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &payload), at(0)).unwrap();
    a.enqueue(&["pagerduty"], &message("ep2#trigger", "ep2", &payload), at(0)).unwrap();
    let first = a.claim_due("pagerduty", at(1), 1, CLAIM).unwrap();
    let second = b.claim_due("pagerduty", at(1), 10, CLAIM).unwrap();
    assert_eq!(first.len() + second.len(), 2);
    assert_ne!(first[0].id, second[0].id, "two senders never get one row");
    assert!(b.claim_due("pagerduty", at(20), 10, CLAIM).unwrap().is_empty(), "both claimed");
    // The first sender died: at 31 s its claim has lapsed and the row is handed out again.
    let again = b.claim_due("pagerduty", at(31), 10, CLAIM).unwrap();
    assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), vec![first[0].id, second[0].id]);
}

#[test]
fn a_resolve_waits_while_its_trigger_is_unsent_claimed_or_retried() {
    let store = Store::open_in_memory().unwrap();
    let payload = json!({});
    let trigger =
        store.enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &payload), at(0)).unwrap()[0].id();
    let resolve =
        store.enqueue(&["pagerduty"], &message("ep1#resolve", "ep1", &payload), at(1)).unwrap()[0].id();
    let other =
        store.enqueue(&["pagerduty"], &message("ep2#trigger", "ep2", &payload), at(1)).unwrap()[0].id();
    let ids =
        |claimed: Vec<crate::store::OutboxMessage>| claimed.into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(ids(store.claim_due("pagerduty", at(2), 10, CLAIM).unwrap()), vec![trigger, other]);
    assert!(store.mark_sent(other, at(3), None).unwrap());
    // The trigger failed and waits for its retry at 60 s: the resolve waits behind it.
    assert!(store.mark_failed(trigger, at(60), "HTTP 500").unwrap());
    assert!(store.claim_due("pagerduty", at(10), 10, CLAIM).unwrap().is_empty());
    assert_eq!(ids(store.claim_due("pagerduty", at(60), 10, CLAIM).unwrap()), vec![trigger]);
    assert!(store.mark_sent(trigger, at(61), None).unwrap());
    assert_eq!(ids(store.claim_due("pagerduty", at(61), 10, CLAIM).unwrap()), vec![resolve]);
}

#[test]
fn a_failed_message_waits_for_its_next_attempt_and_counts_attempts() {
    let store = Store::open_in_memory().unwrap();
    let payload = json!({});
    let id = store.enqueue(&["slack"], &message("post#1", "post#1", &payload), at(0)).unwrap()[0].id();
    assert_eq!(store.claim_due("slack", at(0), 10, CLAIM).unwrap().len(), 1);
    assert!(store.mark_failed(id, at(60), "HTTP 500").unwrap());
    assert!(store.claim_due("slack", at(59), 10, CLAIM).unwrap().is_empty());
    let due = store.claim_due("slack", at(60), 10, CLAIM).unwrap();
    assert_eq!((due[0].attempts, due[0].claimed_until), (1, Some(at(90))));
    assert!(store.mark_sent(id, at(61), None).unwrap());
    let sent = store.outbox_message(id).unwrap().unwrap();
    assert_eq!((sent.attempts, sent.sent_at, sent.claimed_until), (2, Some(at(61)), None));
    assert!(!store.mark_sent(id, at(62), None).unwrap(), "a sent message cannot be marked again");
    assert!(!store.mark_failed(id, at(63), "HTTP 500").unwrap());
    assert!(store.claim_due("slack", at(1000), 10, CLAIM).unwrap().is_empty(), "sent is never due");
}

#[test]
fn queued_messages_survive_a_reopen() {
    let (_dir, path) = temp_db();
    let payload = json!({"summary": "p95 high"});
    Store::open(&path)
        .unwrap()
        .enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &payload), at(0))
        .unwrap();
    let due = Store::open(&path).unwrap().claim_due("pagerduty", at(0), 10, CLAIM).unwrap();
    assert_eq!((due.len(), &due[0].payload, due[0].group.as_str()), (1, &payload, "llama-70b"));
}

#[test]
fn pruning_drops_rows_sent_or_given_up_before_the_cutoff_only() {
    let store = Store::open_in_memory().unwrap();
    let payload = json!({});
    let old = store.enqueue(&["pagerduty"], &message("a", "a", &payload), at(0)).unwrap()[0].id();
    let recent = store.enqueue(&["pagerduty"], &message("b", "b", &payload), at(0)).unwrap()[0].id();
    let stuck = store.enqueue(&["pagerduty"], &message("c", "c", &payload), at(0)).unwrap()[0].id();
    let waiting = store.enqueue(&["pagerduty"], &message("d", "d", &payload), at(60)).unwrap()[0].id();
    store.mark_sent(old, at(10), None).unwrap();
    store.mark_sent(recent, at(100), None).unwrap();
    assert_eq!(store.prune_outbox(at(50)).unwrap(), (1, 1));
    assert!(store.outbox_message(old).unwrap().is_none());
    assert!(store.outbox_message(stuck).unwrap().is_none(), "unsent since before the cutoff: given up");
    assert!(store.outbox_message(recent).unwrap().is_some());
    assert!(store.outbox_message(waiting).unwrap().is_some());
}

#[test]
fn open_pages_are_kept_per_group_until_their_episode_closes() {
    let (_dir, path) = temp_db();
    let page = |group: &str, alarm: &str, key: &str| OpenPage {
        group: group.into(),
        alarm: alarm.into(),
        dedup_key: key.into(),
        summary: format!("{alarm} high"),
        since: at(5),
        severity: crate::model::Severity::Warning,
    };
    let store = Store::open(&path).unwrap();
    store.open_page(&page("chat", "p95", "fleetdeck:chat:p95:5000")).unwrap();
    store.open_page(&page("chat", "queue", "fleetdeck:chat:queue:5000")).unwrap();
    store.open_page(&page("vision", "p95", "fleetdeck:vision:p95:5000")).unwrap();
    assert!(store.close_page("fleetdeck:chat:queue:5000").unwrap());
    assert!(!store.close_page("fleetdeck:chat:queue:5000").unwrap(), "closed once");
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.open_pages("chat").unwrap(), vec![page("chat", "p95", "fleetdeck:chat:p95:5000")]);
    assert_eq!(reopened.open_pages("vision").unwrap().len(), 1);
}

#[test]
fn a_refused_message_is_given_up_never_retried_and_no_longer_holds_up_its_key() {
    let store = Store::open_in_memory().unwrap();
    let payload = json!({});
    let trigger =
        store.enqueue(&["pagerduty"], &message("ep1#trigger", "ep1", &payload), at(0)).unwrap()[0].id();
    let resolve =
        store.enqueue(&["pagerduty"], &message("ep1#resolve", "ep1", &payload), at(1)).unwrap()[0].id();
    assert_eq!(store.claim_due("pagerduty", at(2), 10, CLAIM).unwrap().len(), 1);
    assert!(store.mark_failed(trigger, at(3), "HTTP 500: upstream").unwrap());
    assert_eq!(
        store.outbox_message(trigger).unwrap().unwrap().last_error.as_deref(),
        Some("HTTP 500: upstream")
    );
    store.claim_due("pagerduty", at(3), 10, CLAIM).unwrap();
    assert!(store.mark_given_up(trigger, at(4), "HTTP 400: invalid routing_key").unwrap());
    assert_eq!(
        store.outbox_depth("pagerduty").unwrap(),
        (1, 1),
        "the resolve waits; the trigger is given up"
    );
    let due = store.claim_due("pagerduty", at(5), 10, CLAIM).unwrap();
    assert_eq!(due.iter().map(|m| m.id).collect::<Vec<_>>(), vec![resolve], "never the trigger again");
    assert!(store.mark_sent(resolve, at(6), Some("C024BE91L/1503435956.000247")).unwrap());
    let given_up = store.outbox_message(trigger).unwrap().unwrap();
    assert_eq!((given_up.given_up_at, given_up.attempts, given_up.sent_at), (Some(at(4)), 2, None));
    assert!(!store.mark_sent(trigger, at(7), None).unwrap(), "a given-up row stays given up");
    let sent = store.outbox_message(resolve).unwrap().unwrap();
    assert_eq!((sent.receipt.as_deref(), sent.last_error), (Some("C024BE91L/1503435956.000247"), None));
    assert_eq!(store.outbox_depth("pagerduty").unwrap(), (0, 1));
    assert_eq!(store.prune_outbox(at(10)).unwrap(), (2, 0), "sent and given-up rows go with the retention");
}
