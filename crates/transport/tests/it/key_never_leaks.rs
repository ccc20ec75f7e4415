//! The API key never appears in any error's Display or Debug, nor in captured log output,
//! even when a relay echoes it back in its message.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use pixfuse_core::endpoint::{BALANCE, GENERATE, result_path};
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
        .and(path(BALANCE.path))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"ErrCode": 10003, "ErrMsg": format!("Invalid API-KEY {KEY}")}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(result_path(1)))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string(format!("<h1>bad gateway</h1> api-key: {KEY}")),
        )
        .expect(4)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
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

/// A key with characters that JSON and URLs escape, echoed by a relay at every offset of an
/// error body (raw, JSON-escaped with `\/`, percent-encoded, base64), and in an ErrMsg: no
/// eight characters of it survive in any error, Display or Debug.
#[tokio::test]
async fn no_fragment_of_an_echoed_key_survives_at_any_offset() {
    const SLASHED: &str = "sk/live+AbC=0123456789/SECRET-key_xyz";
    let windows: Vec<String> = SLASHED
        .as_bytes()
        .windows(8)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect();
    let echoed = [
        SLASHED.to_owned(),
        serde_json::to_string(SLASHED).unwrap().replace('/', "\\/"),
        SLASHED
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D"),
    ];
    let server = server().await;
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let n = counter.clone();
    let forms = echoed.clone();
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(move |_: &wiremock::Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let (offset, form) = (i / forms.len(), &forms[i % forms.len()]);
            let body = format!("{}{form} and more text after it", "x".repeat(offset));
            if offset.is_multiple_of(2) {
                ResponseTemplate::new(502).set_body_string(body)
            } else {
                ResponseTemplate::new(200)
                    .set_body_json(json!({"ErrCode": 400017, "ErrMsg": body, "Resp": {}}))
            }
        })
        .mount(&server)
        .await;
    let cfg = TransportConfig::new(Provider::Pixverse, SecretString::from(SLASHED.to_owned()))
        .with_base_url(server.uri())
        .with_retry(pixfuse_transport::RetryPolicy::never());
    let t = Transport::new(cfg).unwrap();
    for _ in 0..300 * echoed.len() {
        let e = t.balance().await.unwrap_err();
        let text = format!("{e}\n{e:?}");
        if let Some(w) = windows.iter().find(|w| text.contains(w.as_str())) {
            panic!("{w:?} of the key survived in: {text}");
        }
    }
}

/// Text a server controls reaches no terminal with its control sequences.
#[tokio::test]
async fn server_text_loses_its_escape_sequences() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(err(
            777001,
            "boom \u{1b}[2J\u{1b}]0;pwned\u{7} \r\u{9b}31m done",
        ))
        .mount(&server)
        .await;
    let e = transport(&server).balance().await.unwrap_err();
    let msg = e.err_msg().unwrap();
    assert_eq!(msg, "boom   done");
    assert!(!e.to_string().chars().any(|c| c.is_control()), "{e}");
}
