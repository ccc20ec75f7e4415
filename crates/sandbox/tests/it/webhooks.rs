//! The account's webhook: signed callbacks as documented, checked by pixfuse's own verifier (two
//! independent readings of the docs that must agree), retried on the scaled schedule, with every
//! injectable fault.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{request, start, uuid, video_id};
use pixfuse_core::poll::JobStatus;
use pixfuse_sandbox::{SandboxConfig, WebhookConfig, WebhookFaults, WebhookSigning};
use pixfuse_webhook::{Canonicalisation, Headers, WebhookError, verify};
use secrecy::SecretString;

const SECRET: &str = "sandbox-webhook-test-secret";

/// What one POST to the receiver carried.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn verify(&self) -> Result<pixfuse_webhook::WebhookEvent, WebhookError> {
        let headers =
            Headers::from_pairs(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())));
        verify(
            &headers,
            &self.body,
            &SecretString::from(SECRET),
            now_secs(),
        )
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Default)]
struct Receiver {
    received: Mutex<Vec<Received>>,
    /// How many requests still get a 500, whatever they carry.
    refuse_first: Mutex<usize>,
}

/// A receiver that records every POST and answers `ok` only to callbacks that verify (or 500
/// to the first `refuse_first`, verified or not).
async fn receiver(refuse_first: usize) -> (String, Arc<Receiver>) {
    let state = Arc::new(Receiver {
        refuse_first: Mutex::new(refuse_first),
        ..Receiver::default()
    });
    async fn handle(
        State(state): State<Arc<Receiver>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        let received = Received { headers, body };
        let verified = received.verify().is_ok();
        state.received.lock().unwrap().push(received);
        let mut refuse = state.refuse_first.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, "not now");
        }
        if verified {
            (StatusCode::OK, "ok")
        } else {
            (StatusCode::UNAUTHORIZED, "bad signature")
        }
    }
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(handle))
        .with_state(Arc::clone(&state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, state)
}

fn config(url: &str, signing: WebhookSigning, faults: WebhookFaults) -> SandboxConfig {
    SandboxConfig {
        // 10 ms generations, retries after 10 ms, 50 ms, 150 ms…
        generation_time: Duration::from_secs(2),
        time_scale: 0.005,
        webhook: Some(WebhookConfig {
            signing,
            faults,
            ..WebhookConfig::new(url, SecretString::from(SECRET))
        }),
        ..SandboxConfig::for_tests()
    }
}

/// Waits (bounded: 10 s) until the sandbox has booked `n` deliveries and given up on none.
async fn until_delivered(api: &common::Api, n: u64) {
    for _ in 0..1000 {
        let stats = api.sandbox.stats().callbacks;
        assert_eq!(stats.abandoned, 0, "{stats:?}");
        if stats.delivered >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "callbacks not delivered: {:?}",
        api.sandbox.stats().callbacks
    );
}

async fn submit(api: &common::Api, ids: &[u64], prompt: &str) -> u64 {
    video_id(&api.submit(&request(ids, prompt), &uuid()).await)
}

#[tokio::test]
async fn a_job_that_ends_is_posted_signed_as_documented_in_either_reading() {
    for (signing, reading) in [
        (WebhookSigning::FormEncoded, Canonicalisation::FormEncoded),
        (
            WebhookSigning::PercentEncodedBody,
            Canonicalisation::PercentEncodedBody,
        ),
    ] {
        let (url, hook) = receiver(0).await;
        let api = start(config(&url, signing, WebhookFaults::default())).await;
        let ids = api.dog_and_room().await;
        let ok = submit(&api, &ids, "@dog naps in @room").await;
        let failed = submit(&api, &ids, "@dog naps in @room sandbox-fail").await;
        until_delivered(&api, 2).await;
        let received = hook.received.lock().unwrap().clone();
        assert_eq!(received.len(), 2);
        for r in &received {
            assert_eq!(r.header("content-type"), "application/json");
            assert_eq!(r.header("webhook-nonce").len(), 32);
            assert!(!r.header("ai-trace-id").is_empty());
            // Keyless: the callback carries no credential of the API.
            assert!(r.headers.get("api-key").is_none() && r.headers.get("authorization").is_none());
            let event = r.verify().unwrap();
            assert_eq!(event.delivery.signed_as, reading);
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert!(body["id"].is_string(), "the id is a string: {body}");
            if event.video_id == ok {
                assert_eq!(event.status, JobStatus::Succeeded);
                let video = api.http.get(event.url.unwrap()).send().await.unwrap();
                assert_eq!(video.status(), 200);
                assert_eq!(event.credits, Some(45));
            } else {
                assert_eq!((event.video_id, event.status), (failed, JobStatus::Failed));
                assert_eq!((event.url, event.credits), (None, Some(0)));
            }
        }
        let stats = api.sandbox.stats().callbacks;
        assert_eq!((stats.scheduled, stats.attempts, stats.refused), (2, 2, 0));
    }
}

#[tokio::test]
async fn a_refused_delivery_is_retried_until_ok_and_abandoned_after_the_schedule() {
    let (url, hook) = receiver(2).await;
    let api = start(config(
        &url,
        WebhookSigning::FormEncoded,
        WebhookFaults::default(),
    ))
    .await;
    let ids = api.dog_and_room().await;
    submit(&api, &ids, "@dog naps in @room").await;
    until_delivered(&api, 1).await;
    let stats = api.sandbox.stats().callbacks;
    assert_eq!((stats.attempts, stats.refused, stats.delivered), (3, 2, 1));
    let received = hook.received.lock().unwrap().clone();
    let nonces: std::collections::HashSet<&str> =
        received.iter().map(|r| r.header("webhook-nonce")).collect();
    assert_eq!(nonces.len(), 3, "each retry is a new delivery");
    assert!(received.iter().all(|r| r.body == received[0].body));

    // A receiver that never says ok: 1 + 8 attempts, then the event is given up.
    let (url, _hook) = receiver(usize::MAX).await;
    // The whole schedule (5 h 22 min) in under a second.
    let config = SandboxConfig {
        time_scale: 0.00003,
        generation_time: Duration::from_secs(300),
        ..config(&url, WebhookSigning::FormEncoded, WebhookFaults::default())
    };
    let api = start(config).await;
    let ids = api.dog_and_room().await;
    submit(&api, &ids, "@dog naps in @room").await;
    for _ in 0..1000 {
        if api.sandbox.stats().callbacks.abandoned == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let stats = api.sandbox.stats().callbacks;
    assert_eq!(
        (
            stats.attempts,
            stats.refused,
            stats.abandoned,
            stats.delivered
        ),
        (9, 9, 1, 0)
    );
}

#[tokio::test]
async fn two_servers_on_one_state_deliver_each_event_once() {
    let (url, hook) = receiver(0).await;
    let dir = tempfile::tempdir().unwrap();
    let shared = || SandboxConfig {
        state_dir: Some(dir.path().to_owned()),
        concurrency_limit: 10,
        ..config(&url, WebhookSigning::FormEncoded, WebhookFaults::default())
    };
    let (a, b) = (start(shared()).await, start(shared()).await);
    let ids = a.dog_and_room().await;
    let mut videos = Vec::new();
    for n in 0..6 {
        let api = if n % 2 == 0 { &a } else { &b };
        videos.push(submit(api, &ids, &format!("@dog naps in @room take {n}")).await);
    }
    until_delivered(&a, 6).await;
    let mut delivered: Vec<u64> = hook
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.verify().unwrap().video_id)
        .collect();
    delivered.sort_unstable();
    videos.sort_unstable();
    assert_eq!(delivered, videos);
    assert_eq!(
        b.sandbox.stats().callbacks.attempts,
        6,
        "one store, one count"
    );
}

#[tokio::test]
async fn nothing_is_posted_without_a_webhook() {
    let (_url, hook) = receiver(0).await;
    let api = start(SandboxConfig::for_tests()).await;
    let ids = api.dog_and_room().await;
    let id = submit(&api, &ids, "@dog naps in @room").await;
    api.wait(id).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(hook.received.lock().unwrap().is_empty());
    assert_eq!(api.sandbox.stats().callbacks.scheduled, 0);
}

/// Every event meets `faults`; returns what the receiver got, after `jobs` deliveries.
async fn with_fault(faults: WebhookFaults, jobs: usize) -> (common::Api, Vec<Received>, Vec<u64>) {
    let (url, hook) = receiver(0).await;
    // 10 ms generations; a first retry (and the out-of-order hold) of 100 ms.
    let config = SandboxConfig {
        time_scale: 0.05,
        generation_time: Duration::from_millis(200),
        ..config(&url, WebhookSigning::FormEncoded, faults)
    };
    let api = start(config).await;
    let ids = api.dog_and_room().await;
    let mut videos = Vec::new();
    for n in 0..jobs {
        videos.push(submit(&api, &ids, &format!("@dog naps in @room take {n}")).await);
    }
    // An event's extra copy is sent before its delivery is booked.
    until_delivered(&api, jobs as u64).await;
    let received = hook.received.lock().unwrap().clone();
    (api, received, videos)
}

#[tokio::test]
async fn a_duplicate_is_a_fresh_delivery_and_a_replay_the_same_bytes() {
    let (api, received, _) = with_fault(
        WebhookFaults {
            duplicate: 1.0,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(received.len(), 2);
    let (a, b) = (received[0].verify().unwrap(), received[1].verify().unwrap());
    assert_ne!(a.delivery.nonce, b.delivery.nonce);
    assert_eq!(a.dedup_key(), b.dedup_key());
    assert_eq!(api.sandbox.stats().callbacks.duplicates_sent, 1);

    let (api, received, _) = with_fault(
        WebhookFaults {
            replay: 1.0,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
    for name in ["webhook-timestamp", "webhook-nonce", "webhook-signature"] {
        assert_eq!(received[0].header(name), received[1].header(name));
    }
    assert_eq!(api.sandbox.stats().callbacks.replays_sent, 1);
}

#[tokio::test]
async fn a_bad_signature_or_a_stale_timestamp_fails_once_then_the_retry_is_good() {
    let (api, received, _) = with_fault(
        WebhookFaults {
            bad_signature: 1.0,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].verify().unwrap_err(),
        WebhookError::SignatureMismatch
    );
    assert!(received[1].verify().is_ok());
    assert_eq!(api.sandbox.stats().callbacks.bad_signatures_sent, 1);

    let (api, received, _) = with_fault(
        WebhookFaults {
            stale_timestamp: 1.0,
            ..Default::default()
        },
        1,
    )
    .await;
    assert_eq!(received.len(), 2);
    assert!(matches!(
        received[0].verify(),
        Err(WebhookError::StaleTimestamp { .. })
    ));
    assert!(received[1].verify().is_ok());
    let stats = api.sandbox.stats().callbacks;
    assert_eq!(
        (stats.stale_timestamps_sent, stats.refused, stats.delivered),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn an_event_held_back_is_overtaken_by_a_later_one() {
    // The seed's draws: the first job is held back, the second is not (p = 0.5).
    let faults = (0..64)
        .map(|seed| WebhookFaults {
            seed,
            out_of_order: 0.5,
            ..Default::default()
        })
        .find(|f| held(f, 2) == [true, false])
        .unwrap();
    let (api, received, videos) = with_fault(faults, 2).await;
    let order: Vec<u64> = received
        .iter()
        .map(|r| r.verify().unwrap().video_id)
        .collect();
    assert_eq!(order, [videos[1], videos[0]]);
    assert_eq!(api.sandbox.stats().callbacks.held_back, 1);
}

/// Which of the first `n` events `faults` holds back, by replaying its draws.
fn held(faults: &WebhookFaults, n: usize) -> Vec<bool> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::SmallRng::seed_from_u64(faults.seed);
    (0..n)
        .map(|_| rng.random::<f64>() < faults.out_of_order)
        .collect()
}

#[tokio::test]
async fn bad_webhook_settings_are_refused_with_a_reason() {
    let secret = || SecretString::from(SECRET);
    for (webhook, says) in [
        (WebhookConfig::new("127.0.0.1:8788", secret()), "not a URL"),
        (WebhookConfig::new("ftp://127.0.0.1/", secret()), "not http"),
        (
            WebhookConfig::new("http://127.0.0.1/", SecretString::from("")),
            "secret is empty",
        ),
        (
            WebhookConfig {
                faults: WebhookFaults {
                    duplicate: 0.7,
                    replay: 0.7,
                    ..Default::default()
                },
                ..WebhookConfig::new("http://127.0.0.1/", secret())
            },
            "add up to",
        ),
    ] {
        let config = SandboxConfig {
            webhook: Some(webhook),
            ..SandboxConfig::for_tests()
        };
        let err = pixfuse_sandbox::Sandbox::start(config).await.unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
        assert!(!err.to_string().contains(SECRET));
    }
}
