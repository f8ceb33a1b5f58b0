//! `sim serve` over real sockets: the pages, the control API, the serving switch.

use super::api::{GroupView, Message};
use super::*;

const FAST: &str = include_str!("../../tests/fixtures/fast.toml");

async fn start(summaries: bool) -> (Bound, tokio::sync::oneshot::Sender<()>) {
    serve_for_test(FAST, summaries).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build().unwrap()
}

async fn get_text(addr: std::net::SocketAddr, path: &str) -> Result<(u16, String), reqwest::Error> {
    let response = client().get(format!("http://{addr}{path}")).send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test]
async fn the_pages_serve_each_groups_instances_and_desired_changes_the_roster() {
    let (bound, _stop) = start(false).await;
    let (status, gpu) = get_text(bound.gpu, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    // The fixture: llm-chat 4, vision 4, embeddings 2 instances, one GPU each.
    assert_eq!(gpu.lines().filter(|l| l.starts_with("DCGM_FI_DEV_GPU_UTIL{")).count(), 10, "{gpu}");
    let (_, serving) = get_text(bound.serving, "/metrics").await.unwrap();
    assert_eq!(serving.lines().filter(|l| l.starts_with("vllm:num_requests_waiting{")).count(), 4);
    assert_eq!(serving.lines().filter(|l| l.starts_with("nv_inference_request_success{")).count(), 6);

    let url = format!("http://{}/v1/groups/llm-chat/desired", bound.control);
    let view: GroupView = client()
        .put(&url)
        .json(&serde_json::json!({"desired": 6}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((view.capacity.desired, view.capacity.ready, view.capacity.warming), (6, 4, 2));
    let (_, gpu) = get_text(bound.gpu, "/metrics").await.unwrap();
    let llm = gpu.lines().filter(|l| l.starts_with("DCGM_FI_DEV_GPU_UTIL{") && l.contains("pod=\"llm-chat-"));
    assert_eq!(llm.count(), 6, "warming instances have GPU series: {gpu}");
    let (_, serving) = get_text(bound.serving, "/metrics").await.unwrap();
    assert_eq!(
        serving.lines().filter(|l| l.starts_with("vllm:num_requests_waiting{")).count(),
        4,
        "but no serving series"
    );

    let unknown = client().put(format!("http://{}/v1/groups/nosuch/desired", bound.control));
    let response = unknown.json(&serde_json::json!({"desired": 1})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn the_serving_listener_goes_down_and_up_while_the_gpu_page_goes_on() {
    let (bound, _stop) = start(true).await;
    let switch = |up: bool| {
        client()
            .put(format!("http://{}/v1/serving", bound.control))
            .json(&serde_json::json!({ "up": up }))
            .send()
    };
    let message: Message = switch(false).await.unwrap().json().await.unwrap();
    assert!(message.message.contains("down"), "{message:?}");
    assert!(get_text(bound.serving, "/metrics").await.is_err(), "connections are refused");
    assert_eq!(get_text(bound.gpu, "/metrics").await.unwrap().0, 200);
    switch(true).await.unwrap();
    let (status, serving) = get_text(bound.serving, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(serving.contains("nv_inference_request_summary_us{"), "summaries were asked for");
}

#[tokio::test]
async fn sim_commands_and_markers_go_through_the_control_api() {
    let (bound, _stop) = start(false).await;
    let url = format!("http://{}/v1/sim", bound.control);
    let response =
        client().post(&url).json(&serde_json::json!({"command": "spike vision x3 1m"})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let bad = client().post(&url).json(&serde_json::json!({"command": "spike"})).send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    let marker = format!("http://{}/v1/groups/vision/marker", bound.control);
    let view: GroupView = client()
        .put(&marker)
        .json(&serde_json::json!({"marker": "v1;full;ana;;INC-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view.marker.as_deref(), Some("v1;full;ana;;INC-1"));
}
