//! Each fault kind is observable, and a fixed seed gives a fixed sequence of faults.

use crate::common;

use common::{Api, fast, request, start, uuid, video_id};
use pixfuse_core::endpoint;
use pixfuse_sandbox::{FaultConfig, SandboxConfig};

fn with_faults(faults: FaultConfig) -> SandboxConfig {
    SandboxConfig { faults, ..fast() }
}

/// Uploads in a sandbox whose faults strike only submits and downloads.
async fn images(api: &Api) -> Vec<u64> {
    api.dog_and_room().await
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_record_nothing() {
    let api = start(with_faults(FaultConfig {
        rate_limit: 1.0,
        retry_after_secs: 3,
        ..FaultConfig::default()
    }))
    .await;
    let response = api
        .http
        .get(api.url(endpoint::BALANCE.path))
        .header("API-KEY", &api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "3");
    let response = api
        .submit_raw(&request(&[1, 3], "@dog naps in @room today"), &uuid())
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let stats = api.sandbox.stats();
    assert_eq!(stats.faults.rate_limited, 2);
    assert_eq!(stats.billable_jobs, 0);
}

#[tokio::test]
async fn server_errors_answer_5xx_as_proxy_html_or_a_500_envelope() {
    let api = start(with_faults(FaultConfig {
        seed: 3,
        server_error: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let mut html = 0;
    let mut envelope = 0;
    for _ in 0..16 {
        let response = api
            .submit_raw(&request(&[1, 3], "@dog naps in @room today"), &uuid())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        match status {
            502 => {
                assert!(body.contains("502 Bad Gateway"));
                html += 1;
            }
            500 => {
                let value: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(value["ErrCode"], 500100);
                envelope += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        html > 0 && envelope > 0,
        "both kinds occur: {html} html, {envelope} json"
    );
    assert_eq!(api.sandbox.stats().faults.server_errors, 16);
    assert_eq!(api.sandbox.stats().billable_jobs, 0);
}

#[tokio::test]
async fn a_dropped_submit_is_recorded_and_its_retry_returns_the_same_video() {
    // Seed 1 drops the first submit and answers the second (asserted below).
    let api = start(with_faults(FaultConfig {
        seed: 1,
        drop_after_submit: 0.5,
        ..FaultConfig::default()
    }))
    .await;
    let ids = images(&api).await;
    let body = request(&ids, "@dog naps in @room today");
    let trace = uuid();
    let first = api.submit_raw(&body, &trace).await;
    let error = first.expect_err("the connection ends without an answer");
    assert!(!error.is_status() && !error.is_decode(), "{error:?}");
    assert_eq!(
        api.sandbox.stats().billable_jobs,
        1,
        "the submit was recorded"
    );

    let mut answered = None;
    for _ in 0..20 {
        if let Ok(response) = api.submit_raw(&body, &trace).await {
            answered = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
    }
    let id = video_id(&answered.expect("a retry gets through"));
    let stats = api.sandbox.stats();
    assert_eq!(stats.billable_jobs, 1);
    assert!(stats.faults.dropped_submits >= 1);
    assert_eq!(stats.deduplicated_submits + 1, stats.submits_received);
    assert_eq!(api.wait(id).await["Resp"]["status"], 1);
}

#[tokio::test]
async fn truncated_json_is_a_200_whose_body_does_not_parse() {
    let api = start(with_faults(FaultConfig {
        truncated_json: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let response = api
        .http
        .get(api.url(endpoint::BALANCE.path))
        .header("API-KEY", &api.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(body.starts_with("{\"ErrCode\""), "{body}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_err(),
        "{body}"
    );
    assert_eq!(api.sandbox.stats().faults.truncated_bodies, 1);
}

#[tokio::test]
async fn a_cut_download_stops_short_of_its_content_length() {
    let api = start(with_faults(FaultConfig {
        cut_download: 1.0,
        ..FaultConfig::default()
    }))
    .await;
    let ids = images(&api).await;
    let id = video_id(
        &api.submit(&request(&ids, "@dog naps in @room today"), &uuid())
            .await,
    );
    let url = api.wait(id).await["Resp"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = api.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let promised = response.content_length().unwrap();
    assert_eq!(
        promised as usize,
        include_bytes!("../../assets/sample.mp4").len()
    );
    let mut response = response;
    let mut received = 0;
    let error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => received += chunk.len() as u64,
            Ok(None) => panic!("the whole body arrived"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert!(
        received > 0 && received < promised,
        "{received} of {promised} bytes"
    );
    assert_eq!(api.sandbox.stats().faults.cut_downloads, 1);
}

/// What a client observes for each of 40 submits, in order.
async fn observed(seed: u64) -> Vec<String> {
    let api = start(with_faults(FaultConfig {
        seed,
        rate_limit: 0.2,
        server_error: 0.2,
        drop_after_submit: 0.2,
        truncated_json: 0.2,
        cut_download: 0.0,
        retry_after_secs: 0,
    }))
    .await;
    let body = request(&[1, 3], "@dog naps in @room today");
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen.push(match api.submit_raw(&body, &uuid()).await {
            Err(_) => "dropped".to_owned(),
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap();
                match serde_json::from_str::<serde_json::Value>(&text) {
                    Ok(value) => format!("{status} {}", value["ErrCode"]),
                    Err(_) => format!("{status} unparsable"),
                }
            }
        });
    }
    seen
}

#[tokio::test]
async fn a_fixed_seed_gives_the_same_faults_every_time() {
    let first = observed(11).await;
    assert_eq!(first, observed(11).await);
    assert_ne!(first, observed(12).await);
    for kind in ["dropped", "429 unparsable", "unparsable", "400032"] {
        assert!(
            first.iter().any(|s| s.contains(kind)),
            "{kind} in {first:?}"
        );
    }
}
