//! Timeouts: a submit whose answer is late is retried with the same trace id; a download
//! that stalls past its read timeout resumes where it stopped.

use crate::common;

use std::time::Duration;

use common::*;
use pixfuse_core::endpoint::GENERATE;
use pixfuse_transport::{Provider, Transport};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

#[tokio::test]
async fn late_submit_answer_is_retried_with_the_same_trace_id() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(json!({"video_id": 1})).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(json!({"video_id": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(&server, Provider::Pixverse).with_request_timeout(Duration::from_millis(200));
    let trace = Uuid::new_v4();
    let sub = Transport::new(cfg)
        .unwrap()
        .submit(fusion_body(), trace)
        .await
        .unwrap();
    assert_eq!(sub.video_id, 1);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.headers.get("ai-trace-id").unwrap() == trace.to_string().as_str())
    );
}

#[tokio::test]
async fn exhausted_submit_timeouts_say_to_reuse_the_trace_id() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(json!({"video_id": 1})).set_delay(Duration::from_secs(2)))
        .expect(4)
        .mount(&server)
        .await;
    let cfg = config(&server, Provider::Pixverse).with_request_timeout(Duration::from_millis(100));
    let trace = Uuid::new_v4();
    let e = Transport::new(cfg)
        .unwrap()
        .submit(fusion_body(), trace)
        .await
        .unwrap_err();
    assert!(e.may_have_reached_server());
    assert_eq!(e.trace_id(), Some(trace));
    assert!(
        e.to_string().contains(&format!("same trace id {trace}")),
        "{e}"
    );
}

#[tokio::test]
async fn stalled_download_resumes_after_the_read_timeout() {
    let data = mp4(50_000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = data.clone();
    tokio::spawn(async move {
        // First connection: half the body, then silence with the connection held open.
        let (mut s, _) = listener.accept().await.unwrap();
        let _ = read_request(&mut s).await;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
            served.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&served[..20_000]).await.unwrap();
        let _held = s;
        let (mut s, _) = listener.accept().await.unwrap();
        let req = read_request(&mut s).await;
        assert_eq!(req.header("range").as_deref(), Some("bytes=20000-"));
        let head = "HTTP/1.1 206 Partial Content\r\ncontent-length: 30000\r\ncontent-range: bytes 20000-49999/50000\r\n\r\n";
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&served[20_000..]).await.unwrap();
        s.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let server = wiremock::MockServer::start().await;
    let cfg =
        config(&server, Provider::Pixverse).with_download_read_timeout(Duration::from_millis(200));
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let got = Transport::new(cfg)
        .unwrap()
        .download(
            &format!("http://{addr}/v.mp4"),
            &dest,
            &Default::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(got.resumes, 1);
    assert!(std::fs::read(&dest).unwrap() == data);
}
