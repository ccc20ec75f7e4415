//! A handle's deadline bounds every phase: a silent server, an endless 500044, a wait, a
//! trickled download. Each call stops by the deadline (the tests only bound how long they may
//! take, generously), says what ran out, and keeps what a later call needs. Without a deadline,
//! a silence while reading an answer fails the attempt after the idle limit.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use pixfuse_core::endpoint::{GENERATE, result_path};
use pixfuse_transport::{DownloadOptions, Provider, Transport, TransportError, WaitOutcome};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use uuid::Uuid;
use wiremock::Mock;
use wiremock::matchers::{method, path};

/// Fails the test instead of hanging when a call ignores its deadline.
async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the call outlived its deadline by far")
}

fn in_a_second(t: &Transport) -> Transport {
    t.with_deadline(Some(Instant::now() + Duration::from_secs(1)))
}

#[tokio::test]
async fn a_silent_submit_stops_at_the_deadline_and_says_to_reuse_the_trace_id() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(ok(json!({"video_id": 1})).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let trace = Uuid::new_v4();
    let t = in_a_second(&transport(&server));
    let e = bounded(t.submit(fusion_body(), trace)).await.unwrap_err();
    assert!(e.is_timed_out(), "{e}");
    assert!(e.may_have_reached_server() && e.is_retryable());
    assert_eq!(e.trace_id(), Some(trace));
    let text = e.to_string();
    assert!(
        text.contains("time ran out for POST /openapi/v2/video/fusion/generate"),
        "{text}"
    );
    assert!(text.contains(&format!("same trace id {trace}")), "{text}");
}

#[tokio::test]
async fn an_endless_concurrency_limit_stops_at_the_deadline() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .respond_with(err(500044, "concurrency limit"))
        .mount(&server)
        .await;
    // The slot schedule of the defaults: seconds between tries, for up to 40 tries.
    let cfg = config(&server, Provider::Pixverse).with_retry(pixfuse_transport::RetryPolicy {
        slot_backoff: pixfuse_transport::Backoff {
            base: Duration::from_millis(300),
            factor: 1.5,
            max: Duration::from_secs(45),
        },
        ..pixfuse_transport::RetryPolicy::default()
    });
    let t = in_a_second(&Transport::new(cfg).unwrap());
    let e = bounded(t.submit(fusion_body(), Uuid::new_v4()))
        .await
        .unwrap_err();
    let TransportError::TimedOut { attempts, last, .. } = &e else {
        panic!("{e}");
    };
    assert!(*attempts >= 1);
    assert!(last.as_deref().unwrap().contains("ErrCode 500044"), "{e}");
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let server = server().await; // its catch-all expects no request
    let t = transport(&server).with_deadline(Some(Instant::now()));
    let e = t.balance().await.unwrap_err();
    assert!(
        matches!(e, TransportError::TimedOut { attempts: 0, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("before it could start"), "{e}");
}

#[tokio::test]
async fn a_wait_ends_still_running_at_the_deadline_even_while_a_poll_hangs() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(5)))
        .respond_with(ok(json!({"id": 5, "status": 5})).set_delay(Duration::from_secs(60)))
        .mount(&server)
        .await;
    let t = in_a_second(&transport(&server));
    let mut events = 0;
    let outcome = bounded(t.wait(5, None, &mut |_| events += 1))
        .await
        .unwrap();
    assert!(
        matches!(outcome, WaitOutcome::StillRunning { video_id: 5, .. }),
        "{outcome:?}"
    );
    assert_eq!(
        events, 0,
        "a poll the deadline cut is not reported as failed"
    );
}

#[tokio::test]
async fn a_silence_while_reading_an_answer_fails_the_attempt_after_the_idle_limit() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_request(&mut s).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n{\"ErrCode\":0,")
                .await;
            held.push(s);
        }
    });
    let server = wiremock::MockServer::start().await;
    let cfg = config(&server, Provider::Pixverse)
        .with_base_url(format!("http://{addr}"))
        .with_request_timeout(Duration::from_secs(30))
        .with_read_timeout(Duration::from_millis(200));
    let e = bounded(Transport::new(cfg).unwrap().balance())
        .await
        .unwrap_err();
    let TransportError::Network { call, .. } = &e else {
        panic!("{e}");
    };
    assert_eq!(
        call.attempts, 4,
        "each attempt ended at the idle limit: {e}"
    );
}

#[tokio::test]
async fn a_trickled_download_stops_at_the_deadline_and_keeps_its_partial_file() {
    let data = mp4(10_000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = data.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let _ = read_request(&mut s).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n",
                served.len()
            );
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&served[..100]).await;
            // Then one byte every 100 ms: never silent long enough to count as cut.
            for b in &served[100..] {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
            }
        }
    });
    let server = wiremock::MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("v.mp4");
    let partial = pixfuse_transport::partial_path(&dest, "1");
    let options = DownloadOptions {
        partial: Some(partial.clone()),
        expected_len: None,
    };
    let t = in_a_second(&transport(&server));
    let e = bounded(t.download(
        &format!("http://{addr}/v.mp4?sig=s3cr3t"),
        &dest,
        &options,
        &mut |_| {},
    ))
    .await
    .unwrap_err();
    assert!(e.is_timed_out(), "{e}");
    assert!(!e.to_string().contains("s3cr3t"), "{e}");
    assert!(!dest.exists());
    let kept = std::fs::read(&partial).unwrap();
    assert!(
        kept.len() >= 100 && kept.len() < data.len(),
        "{}",
        kept.len()
    );
    assert_eq!(kept, data[..kept.len()]);
}
