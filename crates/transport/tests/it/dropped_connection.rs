//! The server receives a submit and drops the connection without answering: the transport
//! cannot know whether a job was created, so it resends with the SAME trace id (the vendor
//! then returns the earlier job instead of billing a second one). wiremock cannot drop a
//! connection, hence a tiny raw server.

use crate::common;

use common::*;
use pixfuse_transport::{Provider, Transport, TransportConfig};
use secrecy::SecretString;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use uuid::Uuid;

#[tokio::test]
async fn resent_with_the_same_trace_id() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        // First connection: read the whole submit, then hang up without a word.
        let (mut s, _) = listener.accept().await.unwrap();
        seen.push(read_request(&mut s).await);
        drop(s);
        // Second: answer properly.
        let (mut s, _) = listener.accept().await.unwrap();
        seen.push(read_request(&mut s).await);
        let body = br#"{"ErrCode":0,"ErrMsg":"success","Resp":{"video_id":4242}}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(body).await.unwrap();
        s.shutdown().await.unwrap();
        seen
    });
    let cfg = TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
        .with_base_url(format!("http://{addr}"))
        .with_retry(fast_retry());
    let trace = Uuid::new_v4();
    let sub = Transport::new(cfg)
        .unwrap()
        .submit(fusion_body(), trace)
        .await
        .unwrap();
    assert_eq!(sub.video_id, 4242);
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.len(), 2);
    for req in &seen {
        assert!(
            req.head
                .starts_with("POST /openapi/v2/video/fusion/generate ")
        );
        assert_eq!(
            req.header("ai-trace-id").as_deref(),
            Some(trace.to_string().as_str())
        );
        assert_eq!(req.body, fusion_body().to_vec());
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error_naming_the_endpoint() {
    // Bind then drop: the port is (almost certainly) closed now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let cfg = TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
        .with_base_url(format!("http://{addr}"))
        .with_retry(fast_retry());
    let e = Transport::new(cfg).unwrap().balance().await.unwrap_err();
    assert!(e.is_retryable());
    assert!(!e.may_have_reached_server());
    assert_eq!(e.call().unwrap().attempts, 4);
    assert_eq!(
        e.to_string(),
        format!(
            "GET /openapi/v2/account/balance at http://{addr} could not connect after 4 attempts: check your network connection and the base URL, then try again"
        )
    );
}
