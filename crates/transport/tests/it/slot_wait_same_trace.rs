//! 500044 (concurrency limit) twice, then success: three sends, one trace id — the caller's.

use crate::common;

use common::*;
use pixfuse_core::endpoint::{GENERATE, result_path};
use serde_json::json;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

#[tokio::test]
async fn slot_waits_keep_one_trace_id() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(err(500044, "concurrency limit reached"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(json!({"video_id": 77})))
        .expect(1)
        .mount(&server)
        .await;
    let trace = Uuid::new_v4();
    let sub = transport(&server)
        .submit(fusion_body(), trace)
        .await
        .unwrap();
    assert_eq!((sub.video_id, sub.trace_id), (77, trace));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(
            r.headers.get("ai-trace-id").unwrap(),
            trace.to_string().as_str()
        );
        assert_eq!(r.body, fusion_body().to_vec());
    }
}

#[tokio::test]
async fn separate_calls_get_separate_trace_ids() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(5)))
        .respond_with(ok(json!({"status": 5})))
        .expect(2)
        .mount(&server)
        .await;
    let t = transport(&server);
    t.status(5).await.unwrap();
    t.status(5).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_ne!(
        reqs[0].headers.get("ai-trace-id"),
        reqs[1].headers.get("ai-trace-id")
    );
}
