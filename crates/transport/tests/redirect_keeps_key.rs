//! A redirect from the API to another origin is not followed: reqwest would strip
//! `Authorization` there but forward the vendor's `API-KEY` header.

mod common;

use common::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn api_redirect_to_another_origin_is_not_followed() {
    let api = server().await;
    let elsewhere = server().await; // its catch-all expects no request at all
    Mock::given(method("GET"))
        .and(path("/openapi/v2/account/balance"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .expect(1)
        .mount(&api)
        .await;
    let e = transport(&api).balance().await.unwrap_err();
    assert_eq!(e.status(), Some(302));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

/// The API answers every balance call with a redirect to `elsewhere`.
async fn api_redirecting_to(elsewhere: &wiremock::MockServer) -> wiremock::MockServer {
    let api = server().await;
    Mock::given(method("GET"))
        .and(path("/openapi/v2/account/balance"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&api)
        .await;
    api
}

fn with_client(api: &wiremock::MockServer, http: reqwest::Client) -> pixfuse_transport::Transport {
    let config = config(api, pixfuse_transport::Provider::Pixverse).with_http_client(http);
    pixfuse_transport::Transport::new(config).unwrap()
}

#[tokio::test]
async fn an_injected_client_with_the_exported_policy_keeps_the_key_home() {
    let elsewhere = wiremock::MockServer::start().await;
    let api = api_redirecting_to(&elsewhere).await;
    let base = reqwest::Url::parse(&api.uri()).unwrap();
    let http = reqwest::Client::builder()
        .redirect(pixfuse_transport::redirect_policy(&base))
        .build()
        .unwrap();
    let e = with_client(&api, http).balance().await.unwrap_err();
    assert_eq!(e.status(), Some(302));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

/// Why the policy is required: reqwest's default forwards `API-KEY` across origins.
#[tokio::test]
async fn an_injected_client_with_the_default_policy_would_leak_the_key() {
    let elsewhere = wiremock::MockServer::start().await;
    let api = api_redirecting_to(&elsewhere).await;
    let _ = with_client(&api, reqwest::Client::new()).balance().await;
    let seen = elsewhere.received_requests().await.unwrap();
    assert!(
        seen.iter()
            .any(|r| r.headers.get("api-key").is_some_and(|v| v == KEY)),
        "reqwest no longer forwards API-KEY on redirects; the policy's reason has changed"
    );
}
