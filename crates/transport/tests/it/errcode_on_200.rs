//! `ErrCode != 0` on HTTP 200 is an error, classed by the ErrCode table, with a sentence the
//! user can act on. Non-retryable codes are sent exactly once.

use crate::common;

use common::*;
use pixfuse_core::ErrorClass;
use pixfuse_core::endpoint::GENERATE;
use pixfuse_transport::TransportError;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

async fn submit_answering(code: i64, msg: &str, expected_sends: u64) -> TransportError {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(err(code, msg))
        .expect(expected_sends)
        .named(format!("submit answering ErrCode {code}"))
        .mount(&server)
        .await;
    let e = transport(&server)
        .submit(fusion_body(), Uuid::new_v4())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(200));
    assert_eq!(e.err_code(), Some(code));
    assert_eq!(e.err_msg(), Some(msg));
    e
}

#[tokio::test]
async fn one_code_per_class() {
    let cases = [
        (400017, "invalid param", ErrorClass::InvalidRequest, 1),
        (400012, "invalid account", ErrorClass::Auth, 1),
        (500090, "balance not enough", ErrorClass::Credits, 1),
        (500063, "sensitive content", ErrorClass::Moderation, 1),
        (500008, "not found", ErrorClass::NotFound, 1),
        (500064, "deleted", ErrorClass::Deleted, 1),
        // Retried up to the policy's limits (4 attempts, 6 slot waits in the tests).
        (500069, "high load", ErrorClass::Transient, 4),
        (500044, "concurrency limit", ErrorClass::Concurrency, 6),
        // 500041 is retried once.
        (500041, "upload failed", ErrorClass::InvalidRequest, 2),
    ];
    let mut sentences = Vec::new();
    for (code, msg, class, sends) in cases {
        let e = submit_answering(code, msg, sends).await;
        assert_eq!(e.class(), Some(class), "{code}");
        assert_eq!(e.call().unwrap().attempts as u64, sends, "{code}");
        sentences.push(format!("{code}: {e}"));
    }
    insta::assert_snapshot!(sentences.join("\n"));
}

#[tokio::test]
async fn out_of_credits_reads_well() {
    let e = submit_answering(500090, "balance not enough", 1).await;
    assert!(!e.is_retryable());
    assert!(!e.may_have_reached_server());
    assert_eq!(
        e.to_string(),
        "the account has too few credits (ErrCode 500090): top up your PixVerse API balance \
         (the server said: \"balance not enough\")"
    );
}

#[tokio::test]
async fn invalid_key_message_is_auth() {
    let e = submit_answering(10003, "Invalid API-KEY", 1).await;
    assert_eq!(e.class(), Some(ErrorClass::Auth));
    assert!(e.to_string().contains("API key was rejected"), "{e}");
}
