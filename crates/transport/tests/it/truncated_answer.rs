//! A submit answered 200 with JSON cut short: the job may exist, so the transport resends with
//! the SAME trace id (the vendor returns the job it made) — unlike a complete answer that is
//! simply not an envelope, which resending cannot change.

use crate::common;

use common::*;
use pixfuse_core::endpoint::GENERATE;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn cut_short_answer_is_resent_with_the_same_trace_id() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"ErrCode":0,"ErrMsg":"success","Resp":{"vid"#),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .named("first submit: answer cut short")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(serde_json::json!({"video_id": 77})))
        .expect(1)
        .named("second submit: the job")
        .mount(&server)
        .await;
    let trace = Uuid::new_v4();
    let submitted = transport(&server)
        .submit(fusion_body(), trace)
        .await
        .unwrap();
    assert_eq!(submitted.video_id, 77);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(
            r.headers.get("ai-trace-id").unwrap().to_str().unwrap(),
            trace.to_string()
        );
    }
}

#[tokio::test]
async fn complete_non_envelope_answer_is_not_resent() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .named("submit answered with a relay's bare {}")
        .mount(&server)
        .await;
    let e = transport(&server)
        .submit(fusion_body(), Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(e.may_have_reached_server());
    assert!(!e.is_retryable(), "{e}");
}
