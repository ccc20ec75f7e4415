//! A redirect from the API to another origin is not followed: reqwest would strip
//! `Authorization` there but forward the vendor's `API-KEY` header.

use crate::common;

use common::*;
use pixfuse_core::endpoint::BALANCE;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn api_redirect_to_another_origin_is_not_followed() {
    let api = server().await;
    let elsewhere = server().await; // its catch-all expects no request at all
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
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
        .and(path(BALANCE.path))
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

/// A relay serving results under its own origin and handing over to object storage: the
/// download (which carries no key) follows the redirect across origins.
#[tokio::test]
async fn a_download_on_the_api_origin_follows_its_redirect_to_storage() {
    let api = server().await;
    let storage = server().await;
    Mock::given(method("GET"))
        .and(path("/files/v.mp4"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/bucket/v.mp4?sig=s", storage.uri()).as_str(),
        ))
        .expect(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/v.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(mp4(4096)))
        .expect(1)
        .mount(&storage)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let url = format!("{}/files/v.mp4", api.uri());
    transport(&api)
        .download(&url, &dest, &Default::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), mp4(4096));
    let at_storage = storage.received_requests().await.unwrap();
    assert!(
        at_storage
            .iter()
            .all(|r| r.headers.get("api-key").is_none())
    );
}

/// Every hop is held to the first URL's rule: https, or plain http to loopback only — checked
/// before connecting (the address below would hang a connect attempt).
#[tokio::test]
async fn a_download_redirect_to_plain_http_elsewhere_is_refused_before_connecting() {
    let cdn = server().await;
    Mock::given(method("GET"))
        .and(path("/v.mp4"))
        .respond_with(
            ResponseTemplate::new(301)
                .insert_header("location", "http://10.255.255.1/v.mp4?sig=s3cr3t"),
        )
        .expect(1)
        .mount(&cdn)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let e = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        transport(&cdn).download(
            &format!("{}/v.mp4", cdn.uri()),
            &dir.path().join("v.mp4"),
            &Default::default(),
            &mut |_| {},
        ),
    )
    .await
    .expect("refused without a connect attempt")
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("uses plain http to a non-loopback host"),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The exported policy applies the scheme rule on every hop too.
#[tokio::test]
async fn the_exported_policies_refuse_a_hop_to_plain_http_elsewhere() {
    let cdn = server().await;
    Mock::given(method("GET"))
        .and(path("/x"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "http://10.255.255.1/y"))
        .mount(&cdn)
        .await;
    let base = reqwest::Url::parse("https://app-api.pixverse.ai").unwrap();
    for policy in [
        pixfuse_transport::redirect_policy(&base),
        pixfuse_transport::download_redirect_policy(),
    ] {
        let http = reqwest::Client::builder().redirect(policy).build().unwrap();
        let e = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            http.get(format!("{}/x", cdn.uri())).send(),
        )
        .await
        .expect("refused without a connect attempt")
        .unwrap_err();
        assert!(e.is_redirect(), "{e}");
    }
}
