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
