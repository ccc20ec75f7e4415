//! A request no mock expects fails readably: the answer names it, and the error quotes that.

use crate::common;

use common::*;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn unexpected_request_fails_readably() {
    // The shared helper's catch-all expects zero hits; this test wants exactly one.
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|req: &wiremock::Request| {
            ResponseTemplate::new(599).set_body_string(format!(
                "unexpected request in this test: {} {}",
                req.method,
                req.url.path()
            ))
        })
        .expect(1..)
        .named("catch-all")
        .mount(&server)
        .await;
    let t = transport(&server);
    let e = t.balance().await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("unexpected request in this test: GET /openapi/v2/account/balance"),
        "{text}"
    );
}
