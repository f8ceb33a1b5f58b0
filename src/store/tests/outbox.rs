use serde_json::json;

use super::{at, temp_db};
use crate::store::{Enqueued, Store};

#[test]
fn an_unsent_message_is_not_queued_twice() {
    let store = Store::open_in_memory().unwrap();
    let first = store.enqueue("pagerduty", "llama-70b/latency", &json!({"v": 1}), at(0)).unwrap();
    let again = store.enqueue("pagerduty", "llama-70b/latency", &json!({"v": 2}), at(1)).unwrap();
    assert_eq!(again, Enqueued::Duplicate(first.id()));
    let other_channel = store.enqueue("slack", "llama-70b/latency", &json!({}), at(1)).unwrap();
    assert!(matches!(other_channel, Enqueued::New(id) if id != first.id()));
    let due = store.due(at(1), 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].payload, json!({"v": 1}), "the first payload is kept");
}

#[test]
fn a_sent_key_may_be_queued_again() {
    let store = Store::open_in_memory().unwrap();
    let first = store.enqueue("pagerduty", "k", &json!({}), at(0)).unwrap();
    assert!(store.mark_sent(first.id(), at(1)).unwrap());
    let second = store.enqueue("pagerduty", "k", &json!({}), at(2)).unwrap();
    assert!(matches!(second, Enqueued::New(id) if id != first.id()));
}

#[test]
fn a_failed_message_waits_for_its_next_attempt() {
    let store = Store::open_in_memory().unwrap();
    let id = store.enqueue("slack", "k", &json!({"text": "scaled 4→8"}), at(0)).unwrap().id();
    assert!(store.mark_failed(id, at(60)).unwrap());
    assert!(store.due(at(59), 10).unwrap().is_empty());
    let due = store.due(at(60), 10).unwrap();
    assert_eq!((due.len(), due[0].attempts, due[0].next_attempt_at), (1, 1, at(60)));
    assert!(store.mark_failed(id, at(180)).unwrap());
    assert!(store.mark_sent(id, at(181)).unwrap());
    let sent = store.outbox_message(id).unwrap().unwrap();
    assert_eq!((sent.attempts, sent.sent_at), (3, Some(at(181))));
    assert!(store.due(at(1000), 10).unwrap().is_empty(), "sent messages are never due");
}

#[test]
fn a_sent_message_cannot_be_marked_again() {
    let store = Store::open_in_memory().unwrap();
    let id = store.enqueue("slack", "k", &json!({}), at(0)).unwrap().id();
    assert!(store.mark_sent(id, at(1)).unwrap());
    assert!(!store.mark_sent(id, at(2)).unwrap());
    assert!(!store.mark_failed(id, at(3)).unwrap());
    assert!(!store.mark_sent(9999, at(2)).unwrap());
}

#[test]
fn due_returns_the_longest_waiting_first_up_to_the_limit() {
    let store = Store::open_in_memory().unwrap();
    let a = store.enqueue("slack", "a", &json!({}), at(0)).unwrap().id();
    let b = store.enqueue("slack", "b", &json!({}), at(1)).unwrap().id();
    let c = store.enqueue("slack", "c", &json!({}), at(2)).unwrap().id();
    store.mark_failed(a, at(5)).unwrap();
    let ids = |limit| store.due(at(10), limit).unwrap().into_iter().map(|m| m.id).collect::<Vec<_>>();
    assert_eq!(ids(10), vec![b, c, a]);
    assert_eq!(ids(2), vec![b, c]);
}

#[test]
fn queued_messages_survive_a_reopen() {
    let (_dir, path) = temp_db();
    let id = Store::open(&path).unwrap().enqueue("pagerduty", "k", &json!({"severity": "critical"}), at(0));
    let id = id.unwrap().id();
    let due = Store::open(&path).unwrap().due(at(0), 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].id, &due[0].payload), (id, &json!({"severity": "critical"})));
}

#[test]
fn prune_outbox_deletes_only_messages_sent_before_the_cutoff() {
    let store = Store::open_in_memory().unwrap();
    let old = store.enqueue("slack", "old", &json!({}), at(0)).unwrap().id();
    let recent = store.enqueue("slack", "recent", &json!({}), at(0)).unwrap().id();
    let unsent = store.enqueue("slack", "unsent", &json!({}), at(0)).unwrap().id();
    store.mark_sent(old, at(10)).unwrap();
    store.mark_sent(recent, at(100)).unwrap();
    assert_eq!(store.prune_outbox(at(50)).unwrap(), 1);
    assert!(store.outbox_message(old).unwrap().is_none());
    assert!(store.outbox_message(recent).unwrap().is_some());
    assert!(store.outbox_message(unsent).unwrap().is_some());
}
