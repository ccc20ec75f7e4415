//! The API key never appears in any error's Display or Debug, nor in captured log output,
//! even when a relay echoes it back in its message.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn key_absent_from_errors_and_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/openapi/v2/account/balance"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"ErrCode": 10003, "ErrMsg": format!("Invalid API-KEY {KEY}")}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/openapi/v2/video/result/1"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string(format!("<h1>bad gateway</h1> api-key: {KEY}")),
        )
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/openapi/v2/video/fusion/generate"))
        .respond_with(err(500090, "balance not enough"))
        .expect(1)
        .mount(&server)
        .await;

    let t = transport(&server);
    let mut errors = vec![
        t.balance().await.unwrap_err(),
        t.status(1).await.unwrap_err(),
        t.submit(fusion_body(), Uuid::new_v4()).await.unwrap_err(),
    ];
    let bad_key = TransportConfig::new(Provider::Pixverse, SecretString::from(format!("{KEY}\n")))
        .with_base_url(server.uri());
    assert!(
        Transport::new(bad_key.clone()).is_ok(),
        "trailing whitespace is trimmed"
    );
    let bad_key = bad_key.clone();
    let broken = TransportConfig::new(Provider::Pixverse, SecretString::from(format!("{KEY}\nx")))
        .with_base_url(server.uri());
    errors.push(Transport::new(broken).unwrap_err());
    let plain = TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
        .with_base_url("http://example.com");
    errors.push(Transport::new(plain).unwrap_err());

    for e in &errors {
        let shown = format!("{e}\n{e:?}");
        assert!(!shown.contains(KEY), "key leaked: {shown}");
    }
    assert!(errors[0].to_string().contains("API key was rejected"));
    assert!(format!("{:?}", bad_key).contains("[redacted]"));
    assert!(!format!("{:?} {:?}", t, t.config()).contains(KEY));
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("pixfuse.http"), "spans were captured: {logs}");
    assert!(logs.contains("trace_id="), "{logs}");
    assert!(!logs.contains(KEY), "key leaked into logs:\n{logs}");
}
