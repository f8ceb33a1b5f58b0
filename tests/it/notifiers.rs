//! The notifiers end to end: the real binary's outbox sent to a local mock of PagerDuty's
//! Events API (wiremock, on a runtime of the test's own), across a kill -9.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::daemon::Daemon;
use crate::support::{WAIT, fixture, wait_for};

/// A 32-character integration key, planted to check it is never printed.
const KEY: &str = "PlantedR0ut1ngK3yOf32Characters0";

/// The fast profile with a PagerDuty notifier on `events_url` and an alarm on
/// embeddings that fires at once (its GPUs run at 60 %).
fn config(dir: &std::path::Path, events_url: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("routing-key"), format!("{KEY}\n")).unwrap();
    let text = std::fs::read_to_string(fixture("fast.toml")).unwrap()
        + "\n[[groups.alarms]]\nname = \"gpu-busy\"\nmetric = \"gpu_util\"\nstatistic = \"average\"\n\
           comparison = \"greater_than\"\nthreshold = 0.1\nperiod = \"1s\"\ndatapoints_to_alarm = 1\nevaluation_periods = 1\n\
           \n[notifiers.pd]\nkind = \"pagerduty\"\nrouting_key_file = \"routing-key\"\n"
        + &format!("events_url = \"{events_url}\"\nthrottle_wait = \"1s\"\n");
    let path = dir.join("fleet.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Each request the mock has seen: (event_action, dedup_key).
fn events(runtime: &tokio::runtime::Runtime, server: &MockServer) -> Vec<(String, String)> {
    let requests = runtime.block_on(server.received_requests()).unwrap_or_default();
    requests
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
            let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
            (field("event_action"), field("dedup_key"))
        })
        .collect()
}

/// A page queued while PagerDuty fails, the daemon killed with it unsent: after a
/// restart it is sent once, under the dedup key it was first tried with, and the alarm
/// still firing does not page again; `ctl ack` then acknowledges it under that key.
#[test]
fn a_page_queued_at_a_kill_9_is_sent_once_after_the_restart_under_its_first_dedup_key() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(MockServer::start());
    let failing = Mock::given(method("POST"))
        .and(path("/v2/enqueue"))
        .respond_with(ResponseTemplate::new(500).set_body_string("internal error"));
    runtime.block_on(failing.mount(&server));
    let home = tempfile::tempdir().unwrap();
    let config = config(home.path(), &server.uri());
    let mut daemon = Daemon::start_config(home.path(), &config, None, &[], &[]);
    let tried = wait_for("the page tried twice against the failing mock", WAIT, || {
        let seen = events(&runtime, &server);
        if seen.len() >= 2 { Ok(seen) } else { Err(format!("{seen:?}")) }
    });
    assert!(tried.iter().all(|e| e == &tried[0] && e.0 == "trigger"), "one trigger, retried: {tried:?}");
    let dedup_key = tried[0].1.clone();
    assert!(dedup_key.starts_with("fleetdeck:embeddings:gpu-busy:"), "{dedup_key}");
    // `ctl status` says the notifier cannot send, in the service's words.
    let status = wait_for("ctl status to show pd failing", WAIT, || {
        let out = daemon.ctl(&["status"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.contains("notifier pd: 0 sent, 1 waiting") { Ok(text) } else { Err(text) }
    });
    assert!(
        status.contains("FAILING since") && status.contains("HTTP 500 Internal Server Error: internal error"),
        "{status}"
    );
    assert!(!status.contains(KEY));
    let lines = daemon.lines().join("\n");
    daemon.kill9();
    assert!(!lines.contains(KEY), "the routing key is never printed");

    runtime.block_on(server.reset());
    let accepting = Mock::given(method("POST")).and(path("/v2/enqueue")).respond_with(
        ResponseTemplate::new(202)
            .set_body_json(serde_json::json!({"status": "success", "message": "Event processed"})),
    );
    runtime.block_on(accepting.mount(&server));
    let daemon = Daemon::start_config(home.path(), &config, None, &[], &[]);
    let db = home.path().join("state/fleetdeck/fast/state.db");
    wait_for("the outbox sent", WAIT, || {
        let store = fleetdeck::store::Store::open(&db).map_err(|e| e.to_string())?;
        let depth = store.outbox_depth("pd").map_err(|e| e.to_string())?;
        let seen = events(&runtime, &server);
        if depth == (0, 0) && !seen.is_empty() { Ok(()) } else { Err(format!("{depth:?} {seen:?}")) }
    });
    // Three more ticks: nothing else goes out while the alarm keeps firing.
    let seq = || -> u64 {
        let status = daemon.ctl(&["status", "--json"]);
        let snapshot: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
        snapshot["seq"].as_u64().unwrap_or_default()
    };
    let sent_at = seq();
    wait_for("three more ticks", WAIT, || if seq() >= sent_at + 3 { Ok(()) } else { Err(seq().to_string()) });
    assert_eq!(
        events(&runtime, &server),
        vec![("trigger".to_string(), dedup_key.clone())],
        "sent once, same key"
    );
    // The on-call engineer acknowledges it from `fleetdeck ctl`: PagerDuty is told under
    // the same key.
    let acked = daemon.ctl(&["ack", "embeddings", "--reason", "looking"]);
    let said = String::from_utf8_lossy(&acked.stdout).into_owned() + &String::from_utf8_lossy(&acked.stderr);
    assert!(
        acked.status.success() && said.contains("acknowledged by") && said.contains("embeddings: gpu-busy"),
        "{said}"
    );
    wait_for("the acknowledge at PagerDuty", WAIT, || {
        let seen = events(&runtime, &server);
        let expected =
            vec![("trigger".to_string(), dedup_key.clone()), ("acknowledge".to_string(), dedup_key.clone())];
        if seen == expected { Ok(()) } else { Err(format!("{seen:?}")) }
    });
    let none = daemon.ctl(&["ack", "vision"]);
    assert!(!none.status.success(), "nothing open on vision");
    assert!(String::from_utf8_lossy(&none.stderr).contains("no open incident of vision"));
    assert!(!daemon.lines().join("\n").contains(KEY));
}
