//! Contract tests against a local mock of the Events API (wiremock): each request's
//! method, path, headers and JSON body exactly as PagerDuty documents them, and its
//! documented answers.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::clock::ManualClock;
use crate::model::Timestamp;

/// A 32-character integration key, as PagerDuty issues them.
const KEY: &str = "R0ut1ngK3yOfThe32CharactersAbcde";

fn page(kind: &str, dedup_key: &str) -> serde_json::Value {
    json!({
        "at": 1_796_593_800_000i64,
        "group": "llm-chat",
        "alarm": "queue-high",
        "kind": kind,
        "dedup_key": dedup_key,
        "summary": "llm-chat: queue-high — queue_length average 127 > 50 for 2 of 2 × 1m",
        "severity": "critical",
        "fleet": "prod",
        "details": {"queue_length": 127.0, "desired": 4, "ready": 4},
        "links": [{"href": "https://runbooks.example/llm-chat", "text": "runbook"}],
    })
}

fn row(payload: serde_json::Value) -> OutboxMessage {
    crate::notifiers::test_row("pd", payload)
}

fn notifier(url: &str, key: Secret) -> PagerDutyEvents {
    let settings = PagerDutyConfig { events_url: url.to_string(), throttle_wait: Duration::from_secs(7) };
    let options = HttpOptions::within(Duration::from_secs(5));
    PagerDutyEvents::new("pd", &settings, key, &options, Arc::new(ManualClock::new(Timestamp(0)))).unwrap()
}

impl PagerDutyEvents {
    async fn deliver_row(&self, message: &OutboxMessage) -> Result<Delivered, BackendError> {
        self.deliver(message, None).await
    }
}

fn key_file() -> (tempfile::TempDir, Secret) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("routing-key");
    std::fs::write(&file, format!("{KEY}\n")).unwrap();
    (dir, Secret::File(file))
}

#[tokio::test]
async fn a_trigger_is_the_documented_event_with_its_payload_and_links() {
    let server = MockServer::start().await;
    let expected = json!({
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "fleetdeck:llm-chat:queue-high:1796593740000",
        "payload": {
            "summary": "llm-chat: queue-high — queue_length average 127 > 50 for 2 of 2 × 1m",
            "source": "fleetdeck/prod/llm-chat",
            "severity": "critical",
            "timestamp": "2026-12-06T21:50:00Z",
            "component": "llm-chat",
            "group": "prod",
            "class": "queue-high",
            "custom_details": {"queue_length": 127.0, "desired": 4, "ready": 4},
        },
        "client": "fleetdeck",
        "links": [{"href": "https://runbooks.example/llm-chat", "text": "runbook"}],
    });
    expect_event(&server, &expected, "fleetdeck:llm-chat:queue-high:1796593740000").await;
    let (_dir, key) = key_file();
    let sent = notifier(&server.uri(), key)
        .deliver_row(&row(page("trigger", "fleetdeck:llm-chat:queue-high:1796593740000")))
        .await
        .unwrap();
    assert_eq!(sent.receipt.as_deref(), Some("fleetdeck:llm-chat:queue-high:1796593740000"));
}

/// Expects `expected` once, as JSON at `/v2/enqueue`, answered as PagerDuty documents a
/// success.
async fn expect_event(server: &MockServer, expected: &serde_json::Value, dedup_key: &str) {
    Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .and(header("content-type", "application/json"))
        .and(body_json(expected))
        .respond_with(ResponseTemplate::new(202).set_body_json(
            json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
        ))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_resolve_names_only_its_episodes_key() {
    let server = MockServer::start().await;
    let expected = json!({"routing_key": KEY, "event_action": "resolve", "dedup_key": "ep-1"});
    expect_event(&server, &expected, "ep-1").await;
    let (_dir, key) = key_file();
    notifier(&server.uri(), key).deliver_row(&row(page("resolve", "ep-1"))).await.unwrap();
}

#[tokio::test]
async fn an_invalid_event_is_refused_with_pagerdutys_errors_throttling_waits_and_5xx_passes() {
    let server = MockServer::start().await;
    Mock::given(path("/bad/v2/enqueue"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        })))
        .mount(&server)
        .await;
    Mock::given(path("/busy/v2/enqueue")).respond_with(ResponseTemplate::new(429)).mount(&server).await;
    Mock::given(path("/down/v2/enqueue"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .mount(&server)
        .await;
    let (_dir, key) = key_file();
    let send = |prefix: &str| {
        let notifier = notifier(&format!("{}/{prefix}", server.uri()), key.clone());
        async move { notifier.deliver_row(&row(page("trigger", "ep-1"))).await.unwrap_err() }
    };
    let bad = send("bad").await;
    assert_eq!(bad.kind, ErrorKind::Rejected);
    assert!(
        bad.message
            .contains("HTTP 400 Bad Request: Event object is invalid; Length of 'routing_key' is incorrect"),
        "{}",
        bad.message
    );
    let busy = send("busy").await;
    assert_eq!((busy.kind, busy.retry_after), (ErrorKind::Throttled, Some(Duration::from_secs(7))));
    let down = send("down").await;
    assert_eq!(down.kind, ErrorKind::Transient);
    assert!(down.message.contains("HTTP 503 Service Unavailable: upstream unavailable"), "{}", down.message);
}

#[tokio::test]
async fn the_routing_key_is_read_on_every_send_and_never_said() {
    let server = MockServer::start().await;
    let (dir, key) = key_file();
    std::fs::remove_file(dir.path().join("routing-key")).unwrap();
    let err = notifier(&server.uri(), key).deliver_row(&row(page("trigger", "ep-1"))).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(err.message.contains("routing key: cannot read"), "{}", err.message);
    assert!(server.received_requests().await.unwrap().is_empty(), "nothing sent without a key");
    let unreadable = notifier(&server.uri(), Secret::Env("FLEETDECK_TEST_NO_SUCH_VAR".into()));
    let err = unreadable.deliver_row(&row(page("trigger", "ep-1"))).await.unwrap_err();
    assert!(err.message.contains("$FLEETDECK_TEST_NO_SUCH_VAR is not set") && !err.message.contains(KEY));
}

#[test]
fn a_long_summary_is_cut_to_pagerdutys_limit_on_a_character_boundary() {
    let long = "é".repeat(700);
    let cut = truncated(&long, MAX_SUMMARY);
    assert!(cut.len() <= MAX_SUMMARY && cut.ends_with('…'), "{}", cut.len());
    assert_eq!(truncated("short", MAX_SUMMARY), "short");
}

#[tokio::test]
async fn an_acted_scale_is_a_change_event_on_the_services_timeline() {
    let server = MockServer::start().await;
    let expected = json!({
        "routing_key": KEY,
        "payload": {
            "summary": "llm-chat scaled 4 → 8: scale out 4→8: queue_length 127 > 50",
            "timestamp": "2026-12-06T21:50:00Z",
            "source": "fleetdeck/prod/llm-chat",
            "custom_details": {
                "from": 4,
                "to": 8,
                "instance_type": "p4d.24xlarge",
                "hourly_cost_change": "+$131.08/h",
            },
        },
    });
    Mock::given(method("POST"))
        .and(path("/v2/change/enqueue"))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"message": "Change event processed", "status": "success"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let scale = json!({
        "kind": "scale",
        "at": 1_796_593_800_000i64,
        "group": "llm-chat",
        "from": 4,
        "to": 8,
        "reason": "scale out 4→8: queue_length 127 > 50",
        "fleet": "prod",
        "instance_type": "p4d.24xlarge",
        "hourly_cost_usd": 32.77,
    });
    let (_dir, key) = key_file();
    let sent = notifier(&server.uri(), key).deliver_row(&row(scale)).await.unwrap();
    assert_eq!(sent.receipt, None, "a change event has no dedup key");
}

#[tokio::test]
async fn an_acknowledgement_is_the_documented_acknowledge_of_its_episodes_key() {
    let server = MockServer::start().await;
    let expected = json!({"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "ep-1"});
    expect_event(&server, &expected, "ep-1").await;
    let ack = json!({
        "kind": "acknowledge", "at": 0, "group": "llm-chat", "alarm": "queue-high",
        "dedup_key": "ep-1", "by": "ana", "reason": "on it", "thread_of": "ep-1#trigger",
    });
    let (_dir, key) = key_file();
    notifier(&server.uri(), key).deliver_row(&row(ack)).await.unwrap();
}
