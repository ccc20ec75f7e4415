//! Both auth styles: the vendor's `API-KEY` header and the relay's `Authorization: Bearer`,
//! each without the other.

use crate::common;

use common::*;
use pixfuse_core::endpoint::BALANCE;
use pixfuse_transport::{AuthStyle, Provider, Transport};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{bearer_token, header, method, path};

#[tokio::test]
async fn pixverse_sends_api_key_header_only() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .and(header("API-KEY", KEY))
        .and(|r: &wiremock::Request| !r.headers.contains_key("authorization"))
        .respond_with(ok(json!({"credit_monthly": 5})))
        .expect(1)
        .mount(&server)
        .await;
    let t = Transport::new(config(&server, Provider::Pixverse)).unwrap();
    assert_eq!(t.balance().await.unwrap().total(), 5);
}

#[tokio::test]
async fn quickrouter_sends_bearer_only() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .and(bearer_token(KEY))
        .and(|r: &wiremock::Request| !r.headers.contains_key("api-key"))
        .respond_with(ok(json!({"credit_package": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let t = Transport::new(config(&server, Provider::QuickRouter)).unwrap();
    assert_eq!(t.balance().await.unwrap().total(), 7);
}

#[tokio::test]
async fn auth_style_can_be_overridden() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .and(bearer_token(KEY))
        .respond_with(ok(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(&server, Provider::Pixverse).with_auth_style(AuthStyle::Bearer);
    Transport::new(cfg).unwrap().balance().await.unwrap();
}

#[test]
fn defaults_per_provider() {
    assert_eq!(
        Provider::Pixverse.default_base_url(),
        "https://app-api.pixverse.ai"
    );
    assert_eq!(
        Provider::QuickRouter.default_base_url(),
        "https://api.quickrouter.ai"
    );
    assert_eq!(Provider::QuickRouter.auth_style(), AuthStyle::Bearer);
}

#[test]
fn pixverse_cn_is_the_vendor_s_china_service() {
    let cn = Provider::parse(" Pixverse-CN ").unwrap();
    assert_eq!(cn, Provider::PixverseCn);
    assert_eq!(cn.as_str(), "pixverse-cn");
    assert_eq!(cn.default_base_url(), "https://app-api.pixverseai.cn");
    assert_eq!(cn.auth_style(), AuthStyle::ApiKeyHeader);
    assert_eq!(cn.key_env(), "PIXVERSE_CN_API_KEY");
    assert!(Provider::ALL.contains(&cn));
    assert_eq!(Provider::names(), "pixverse, pixverse-cn or quickrouter");
    // Every provider parses back from its own name, and no two share one.
    for p in Provider::ALL {
        assert_eq!(Provider::parse(p.as_str()), Some(p));
    }
}
