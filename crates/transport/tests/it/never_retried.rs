//! Out of credits (500090) and an invalid parameter (400017) are sent exactly once: resending
//! cannot help, and must never risk a second job.

use crate::common;

use common::*;
use pixfuse_core::endpoint::GENERATE;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

async fn sent_once(code: i64) {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(err(code, "no"))
        .expect(1)
        .named(format!("submit answering {code}, expected exactly once"))
        .mount(&server)
        .await;
    let e = transport(&server)
        .submit(fusion_body(), Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(!e.is_retryable());
    assert_eq!(e.call().unwrap().attempts, 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn insufficient_balance_is_sent_once() {
    sent_once(500090).await;
}

#[tokio::test]
async fn invalid_parameter_is_sent_once() {
    sent_once(400017).await;
}
