//! HTTP 429 is retried no sooner than its Retry-After says (seconds or an HTTP date).

use crate::common;

use std::time::{Duration, Instant, SystemTime};

use common::*;
use pixfuse_core::endpoint::BALANCE;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn limited_then_ok(server: &MockServer, retry_after: String) {
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", retry_after))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ok(json!({"credit_monthly": 3})))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn retry_after_seconds() {
    let server = server().await;
    limited_then_ok(&server, "1".into()).await;
    let started = Instant::now();
    assert_eq!(transport(&server).balance().await.unwrap().total(), 3);
    // The configured backoff is 1–5 ms; only Retry-After explains a full second.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn retry_after_http_date() {
    let server = server().await;
    let at = SystemTime::now() + Duration::from_secs(2);
    limited_then_ok(&server, httpdate::fmt_http_date(at)).await;
    let started = Instant::now();
    transport(&server).balance().await.unwrap();
    // HTTP dates have whole-second resolution: at least one second remains.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn rate_limit_without_retry_after_gives_up_readably() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ResponseTemplate::new(429))
        .expect(4)
        .mount(&server)
        .await;
    let e = transport(&server).balance().await.unwrap_err();
    assert_eq!(e.class(), Some(pixfuse_core::ErrorClass::Concurrency));
    assert!(e.is_retryable());
    insta::assert_snapshot!(e.to_string());
}
