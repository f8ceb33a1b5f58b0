//! Contract tests against a local mock of Slack's Web API (wiremock): `chat.postMessage`
//! exactly as Slack documents it, and its documented answers.

use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::clock::ManualClock;
use crate::model::Timestamp;

const TOKEN: &str = "xoxb-planted-bot-token-0000";

fn row(payload: Value) -> OutboxMessage {
    crate::notifiers::test_row("team", payload)
}

fn trigger() -> Value {
    json!({
        "at": 1_796_593_800_000i64,
        "group": "llm-chat",
        "alarm": "queue-high",
        "kind": "trigger",
        "dedup_key": "ep-1",
        "summary": "queue_length average 127 > 50 for 2 of 2 × 1m",
        "severity": "critical",
        "details": {"queue_length": 127.0, "latency_p95": 3.2134, "desired": 4},
        "links": [{"href": "https://runbooks.example/llm-chat", "text": "runbook"}],
    })
}

fn slack(url: &str, dir: &tempfile::TempDir) -> SlackChat {
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let options = HttpOptions::within(std::time::Duration::from_secs(5));
    let clock = Arc::new(ManualClock::new(Timestamp(0)));
    SlackChat::new("team", url, Secret::File(file), "#gpu-oncall", &options, clock).unwrap()
}

/// `chat.postMessage`'s documented success.
fn posted(ts: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "ok": true,
        "channel": "C123ABC456",
        "ts": ts,
        "message": {"text": "Here's a message for you", "type": "message", "ts": ts},
    }))
}

#[tokio::test]
async fn a_page_is_a_block_kit_message_with_a_fallback_and_its_receipt_is_the_channel_id_and_ts() {
    let server = MockServer::start().await;
    let expected = json!({
        "channel": "#gpu-oncall",
        "text": "llm-chat: queue-high FIRING — queue_length average 127 > 50 for 2 of 2 × 1m",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text":
                ":rotating_light: *llm-chat: queue-high is FIRING* (critical)\nqueue_length average 127 > 50 for 2 of 2 × 1m"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "desired 4 · latency_p95 3.21 · queue_length 127"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "<https://runbooks.example/llm-chat|runbook>"}]},
        ],
        "unfurl_links": false,
    });
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json; charset=utf-8"))
        .and(body_json(&expected))
        .respond_with(posted("1503435956.000247"))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let sent = slack(&format!("{}/api", server.uri()), &dir).deliver(&row(trigger()), None).await.unwrap();
    assert_eq!(sent.receipt.as_deref(), Some("C123ABC456/1503435956.000247"));
}

#[tokio::test]
async fn a_resolve_replies_in_its_triggers_thread_by_channel_id_and_ts() {
    let server = MockServer::start().await;
    let expected = json!({
        "channel": "C123ABC456",
        "thread_ts": "1503435956.000247",
        "text": "llm-chat: queue-high resolved",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ":white_check_mark: resolved: queue_length back under 50"}}],
        "unfurl_links": false,
    });
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .and(body_json(&expected))
        .respond_with(posted("1503435999.000100"))
        .expect(1)
        .mount(&server)
        .await;
    let mut resolve = trigger();
    resolve["kind"] = json!("resolve");
    resolve["summary"] = json!("resolved: queue_length back under 50");
    let dir = tempfile::tempdir().unwrap();
    slack(&format!("{}/api", server.uri()), &dir)
        .deliver(&row(resolve), Some("C123ABC456/1503435956.000247"))
        .await
        .unwrap();
}

#[tokio::test]
async fn slacks_refusals_say_what_to_do_and_only_its_trouble_and_429_are_tried_again() {
    let server = MockServer::start().await;
    for (prefix, error) in [
        ("member", "not_in_channel"),
        ("trouble", "internal_error"),
        ("auth", "invalid_auth"),
        ("gone", "channel_not_found"),
    ] {
        Mock::given(path(format!("/{prefix}/chat.postMessage")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": false, "error": error})))
            .mount(&server)
            .await;
    }
    Mock::given(path("/busy/chat.postMessage"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let send = |prefix: &str| {
        let slack = slack(&format!("{}/{prefix}", server.uri()), &dir);
        async move { slack.deliver(&row(trigger()), None).await.unwrap_err() }
    };
    let member = send("member").await;
    assert_eq!(member.kind, ErrorKind::Rejected);
    assert!(
        member.message.contains("not_in_channel: the bot is not a member of #gpu-oncall: invite it"),
        "{}",
        member.message
    );
    let trouble = send("trouble").await;
    assert_eq!(trouble.kind, ErrorKind::Transient);
    assert!(trouble.message.contains("a repeat is possible"), "{}", trouble.message);
    assert_eq!(send("auth").await.kind, ErrorKind::Auth);
    let gone = send("gone").await;
    assert!(gone.message.contains("no channel #gpu-oncall that the bot can see"), "{}", gone.message);
    let busy = send("busy").await;
    assert_eq!(
        (busy.kind, busy.retry_after),
        (ErrorKind::Throttled, Some(std::time::Duration::from_secs(30)))
    );
    for err in [member, trouble, gone, busy] {
        assert!(!err.message.contains(TOKEN), "{}", err.message);
    }
}

#[test]
fn a_scale_says_the_change_its_reason_and_what_it_costs() {
    let scale = Outgoing::read(&json!({
        "kind": "scale", "at": 0, "group": "llm-chat", "from": 4, "to": 8,
        "reason": "scale out 4→8: queue_length 127 > 50", "instance_type": "p4d.24xlarge", "hourly_cost_usd": 32.77,
    }))
    .unwrap();
    let body = post(&scale, "#gpu-oncall", None);
    assert_eq!(body["text"], "llm-chat scaled 4 → 8: scale out 4→8: queue_length 127 > 50");
    assert_eq!(body["blocks"][1]["elements"][0]["text"], "4 × p4d.24xlarge · +$131.08/h");
    let long = "x".repeat(5000);
    let section = section(&long);
    assert!(section["text"]["text"].as_str().unwrap().len() <= MAX_SECTION);
}

#[test]
fn a_scales_outcome_replies_in_its_thread_with_what_arrived_and_what_it_did() {
    let outcome = |ready: u32| {
        Outgoing::read(&json!({
            "kind": "scale_outcome", "at": 0, "group": "llm-chat", "from": 4, "to": 8, "ready": ready,
            "warmed_for_ms": 180_000, "p95_before": 3.2, "p95_after": 0.8,
            "instance_type": "p4d.24xlarge", "hourly_cost_usd": 32.77,
        }))
        .unwrap()
    };
    let body = post(&outcome(8), "#gpu-oncall", Some("C123ABC456/1503435956.000247"));
    assert_eq!(
        (body["channel"].as_str(), body["thread_ts"].as_str()),
        (Some("C123ABC456"), Some("1503435956.000247"))
    );
    assert_eq!(body["text"], "llm-chat: added 4 × p4d.24xlarge in 3m; p95 3.2 s → 0.8 s; +$131.08/h");
    let short = post(&outcome(6), "#gpu-oncall", None);
    assert_eq!(
        short["blocks"][0]["text"]["text"],
        ":warning: llm-chat: only 2 of 4 × p4d.24xlarge ready after 3m; p95 3.2 s → 0.8 s; +$65.54/h"
    );
}

#[tokio::test]
async fn posts_go_to_their_severitys_channel_and_scales_to_infos() {
    use wiremock::matchers::body_partial_json;
    let server = MockServer::start().await;
    for channel in ["#ai-critical", "#ml-performance", "#gpu-oncall"] {
        Mock::given(path("/chat.postMessage"))
            .and(body_partial_json(json!({"channel": channel})))
            .respond_with(posted("1503435956.000247"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let routed = slack(&server.uri(), &dir).with_channels(vec![
        (crate::model::Severity::Critical, "#ai-critical".into()),
        (crate::model::Severity::Info, "#ml-performance".into()),
    ]);
    routed.deliver(&row(trigger()), None).await.unwrap();
    let scale = json!({"kind": "scale", "at": 0, "group": "llm-chat", "from": 4, "to": 8, "reason": "r"});
    routed.deliver(&row(scale), None).await.unwrap();
    let mut warning = trigger();
    warning["severity"] = json!("warning");
    routed.deliver(&row(warning), None).await.unwrap();
}

#[test]
fn an_acknowledgement_replies_in_the_pages_thread_with_who_and_why() {
    let ack = Outgoing::read(&json!({
        "kind": "acknowledge", "at": 0, "group": "llm-chat", "alarm": "queue-high",
        "dedup_key": "ep-1", "by": "ana", "reason": "on it",
    }))
    .unwrap();
    let body = post(&ack, "#gpu-oncall", Some("C123ABC456/1503435956.000247"));
    assert_eq!(body["thread_ts"], "1503435956.000247");
    assert_eq!(body["text"], "llm-chat: queue-high acknowledged by ana: on it");
}
