//! Shared test helpers: a mock vendor with a catch-all for unexpected requests, and a
//! transport pointed at it with tiny retry delays.

use std::time::Duration;

use pixfuse_transport::{Backoff, Provider, RetryPolicy, Transport, TransportConfig};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const KEY: &str = "sk-test-0123456789-SECRET";

/// A mock server whose unmatched requests fail readably: a 599 answer naming the request
/// (the transport turns it into an error quoting that text) and an `expect(0)` that fails the
/// test when the server drops.
pub async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(|req: &wiremock::Request| {
            ResponseTemplate::new(599).set_body_string(format!(
                "unexpected request in this test: {} {}",
                req.method, req.url
            ))
        })
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: a request no mock in this test expects")
        .mount(&server)
        .await;
    server
}

pub fn fast_retry() -> RetryPolicy {
    let tiny = Backoff {
        base: Duration::from_millis(1),
        factor: 2.0,
        max: Duration::from_millis(5),
    };
    RetryPolicy {
        max_attempts: 4,
        backoff: tiny,
        max_slot_waits: 6,
        slot_backoff: tiny,
        deadline: Some(Duration::from_secs(20)),
    }
}

pub fn config(server: &MockServer, provider: Provider) -> TransportConfig {
    TransportConfig::new(provider, SecretString::from(KEY.to_owned()))
        .with_base_url(server.uri())
        .with_retry(fast_retry())
        .with_request_timeout(Duration::from_secs(5))
}

pub fn transport(server: &MockServer) -> Transport {
    Transport::new(config(server, Provider::Pixverse)).unwrap()
}

pub fn ok(resp: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"ErrCode": 0, "ErrMsg": "success", "Resp": resp}))
}

pub fn err(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ErrCode": code, "ErrMsg": msg, "Resp": {}}))
}

pub fn fusion_body() -> bytes::Bytes {
    bytes::Bytes::from_static(
        br#"{"image_references":[{"type":"subject","img_id":12345678901234567,"ref_name":"dog"}],"prompt":"@dog runs","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9"}"#,
    )
}

/// A tiny valid PNG of `w`×`h` (header only matters for preflight; the body is a stub IDAT).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&13u32.to_be_bytes());
    v.extend_from_slice(b"IHDR");
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 0]); // CRC (not checked by header readers)
    v.extend_from_slice(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]);
    v
}

/// `len` bytes that start like an MP4 (an `ftyp` box), then a pattern that never repeats
/// within a few hundred bytes.
pub fn mp4(len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    v.extend((v.len()..len.max(v.len())).map(|i| (i * 31 % 251) as u8));
    v.truncate(len);
    v
}

/// A request as a raw server saw it.
pub struct RawRequest {
    pub head: String,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Reads one HTTP/1.1 request (head and Content-Length body) from `stream`.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> RawRequest {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed before sending a whole request");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut req = RawRequest {
        head,
        body: buf[head_end..].to_vec(),
    };
    let len: usize = req
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    while req.body.len() < len {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0);
        req.body.extend_from_slice(&chunk[..n]);
    }
    req
}
