//! Configuration checks: plain http only for loopback hosts, readable errors for bad values.

use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;

fn with_base(url: &str) -> Result<Transport, pixfuse_transport::TransportError> {
    Transport::new(
        TransportConfig::new(Provider::Pixverse, SecretString::from("k".to_owned()))
            .with_base_url(url),
    )
}

#[test]
fn plain_http_only_on_loopback() {
    for ok in [
        "https://app-api.pixverse.ai",
        "http://127.0.0.1:8080",
        "http://localhost:9",
        "http://[::1]:9/",
        "https://relay.example/prefix/",
    ] {
        assert!(with_base(ok).is_ok(), "{ok}");
    }
    for bad in [
        "http://app-api.pixverse.ai",
        "http://10.0.0.1",
        "ftp://x",
        "not a url",
    ] {
        let e = with_base(bad).unwrap_err();
        assert!(
            e.to_string().starts_with("invalid transport configuration"),
            "{e}"
        );
    }
    insta::assert_snapshot!(
        with_base("http://app-api.pixverse.ai")
            .unwrap_err()
            .to_string()
    );
}

#[test]
fn empty_key_is_refused() {
    let e = Transport::new(TransportConfig::new(
        Provider::QuickRouter,
        SecretString::from("  ".to_owned()),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("API key is empty"), "{e}");
}

#[test]
fn a_fast_fixed_poll_is_for_loopback_servers_only() {
    use pixfuse_transport::{MIN_REMOTE_POLL_INTERVAL, PollPolicy};
    use std::time::Duration;
    let config = |url: &str, every: Duration| {
        TransportConfig::new(Provider::Pixverse, SecretString::from("k".to_owned()))
            .with_base_url(url)
            .with_poll(PollPolicy::Fixed(every))
    };
    let fast = Duration::from_millis(100);
    assert!(config("http://127.0.0.1:9", fast).problems().is_empty());
    assert!(config("http://localhost:9", fast).problems().is_empty());
    assert!(
        config("https://app-api.pixverse.ai", MIN_REMOTE_POLL_INTERVAL)
            .problems()
            .is_empty()
    );
    let problems = config("https://app-api.pixverse.ai", fast).problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("100 ms is too short"), "{problems:?}");
    let e = Transport::new(config("https://app-api.pixverse.ai", fast)).unwrap_err();
    assert!(e.to_string().contains("too short"), "{e}");
    // Both problems of one configuration are named together.
    assert_eq!(config("http://10.0.0.1", fast).problems().len(), 2);
}

#[tokio::test]
async fn a_404_names_the_url_and_suggests_the_path_prefix() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let base = format!("{}/relay", server.uri());
    let t = Transport::new(
        TransportConfig::new(Provider::Pixverse, SecretString::from("k".to_owned()))
            .with_base_url(&base),
    )
    .unwrap();
    let e = t.balance().await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("path prefix"), "{text}");
    assert!(
        text.contains(&format!("{base}/openapi/v2/account/balance")),
        "{text}"
    );
}
