//! `wait` ends on a final status, or at its deadline with a still-running outcome that carries
//! the video id; progress events report status, elapsed time and poll count.

use crate::common;

use std::time::Duration;

use common::*;
use pixfuse_core::endpoint::result_path;
use pixfuse_transport::{JobStatus, PollPolicy, Provider, Transport, WaitEvent, WaitOutcome};
use serde_json::json;
use wiremock::Mock;
use wiremock::matchers::{method, path};

fn fast(server: &wiremock::MockServer) -> Transport {
    Transport::new(
        config(server, Provider::Pixverse).with_poll(PollPolicy::Fixed(Duration::from_millis(20))),
    )
    .unwrap()
}

#[tokio::test]
async fn deadline_gives_still_running_with_the_id() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(99)))
        .respond_with(ok(json!({"id": 99, "status": 5})))
        .expect(2..)
        .mount(&server)
        .await;
    let mut polls = Vec::new();
    let outcome = fast(&server)
        .wait(99, Some(Duration::from_millis(200)), &mut |e| {
            if let WaitEvent::Polled {
                polls: n, status, ..
            } = e
            {
                polls.push((n, status));
            }
        })
        .await
        .unwrap();
    let WaitOutcome::StillRunning {
        video_id,
        last,
        polls: n,
        ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(video_id, 99);
    assert_eq!(last.unwrap().status, JobStatus::Generating);
    assert_eq!(n as usize, polls.len());
    assert!(
        polls
            .iter()
            .enumerate()
            .all(|(i, (n, s))| *n as usize == i + 1 && *s == JobStatus::Generating)
    );
}

#[tokio::test]
async fn moderation_failure_is_final() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(7)))
        .respond_with(ok(json!({"status": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let outcome = fast(&server).wait(7, None, &mut |_| {}).await.unwrap();
    let WaitOutcome::Finished(s) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(s.status, JobStatus::Moderated);
}

#[tokio::test]
async fn transient_poll_failures_do_not_end_the_wait() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(3)))
        .respond_with(wiremock::ResponseTemplate::new(503))
        .up_to_n_times(4)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(result_path(3)))
        .respond_with(ok(json!({"status": 1, "url": "https://cdn/v.mp4"})))
        .expect(1)
        .mount(&server)
        .await;
    let mut failed = 0;
    let outcome = fast(&server)
        .wait(3, Some(Duration::from_secs(10)), &mut |e| {
            if matches!(e, WaitEvent::PollFailed { .. }) {
                failed += 1;
            }
        })
        .await
        .unwrap();
    assert_eq!(failed, 1);
    let WaitOutcome::Finished(s) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(s.url.as_deref(), Some("https://cdn/v.mp4"));
}

#[tokio::test]
async fn unknown_id_ends_the_wait_with_an_error() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(8)))
        .respond_with(err(500008, "not found"))
        .expect(1)
        .mount(&server)
        .await;
    let e = fast(&server).wait(8, None, &mut |_| {}).await.unwrap_err();
    assert_eq!(e.err_code(), Some(500008));
}

/// An answer about another video keeps the id that was asked about; a success without a url
/// is asked again; fields of unexpected types do not block the result.
#[tokio::test]
async fn odd_status_answers_still_yield_the_video() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path(result_path(42)))
        .respond_with(ok(json!({"id": 42, "status": 1, "url": ""})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(result_path(42)))
        .respond_with(ok(
            json!({"id": "43", "status": "1", "url": "https://cdn/v.mp4",
            "credits": "45", "seed": "42", "size": "1.5MB", "has_audio": "yes"}),
        ))
        .mount(&server)
        .await;
    let outcome = fast(&server)
        .wait(42, Some(std::time::Duration::from_secs(5)), &mut |_| {})
        .await
        .unwrap();
    let pixfuse_transport::WaitOutcome::Finished(status) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(status.video_id, 42);
    assert_eq!(status.answered_for_other_id(), Some(43));
    assert_eq!(status.url.as_deref(), Some("https://cdn/v.mp4"));
    assert_eq!(
        (status.credits, status.resp.seed, status.size_bytes),
        (Some(45), Some(42), None)
    );
}
