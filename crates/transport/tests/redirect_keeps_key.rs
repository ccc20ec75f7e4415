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
