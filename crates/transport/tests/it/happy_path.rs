//! Every endpoint against a well-behaved vendor: upload, submit, wait, download, balance.

use crate::common;

use std::time::Duration;

use common::*;
use pixfuse_core::endpoint::{BALANCE, GENERATE, UPLOAD, result_path};
use pixfuse_transport::{JobStatus, PollPolicy, Provider, Transport, WaitOutcome};
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn upload_submit_wait_download_balance() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(UPLOAD.path))
        .respond_with(ok(
            json!({"img_id": 9007199254740993u64, "img_url": "https://cdn/x.png"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GENERATE.path))
        .and(header_exists("ai-trace-id"))
        .respond_with(ok(
            json!({"video_id": 18446744073709551615u64, "credits": 45}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(result_path(18446744073709551615)))
        .respond_with(ok(json!({"id": 18446744073709551615u64, "status": 5})))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    let video_url = format!("{}/media/out.mp4", server.uri());
    Mock::given(method("GET"))
        .and(path(result_path(18446744073709551615)))
        .respond_with(ok(json!({"id": 18446744073709551615u64, "status": 1, "url": video_url, "credits": 45, "new_field": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/media/out.mp4"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(mp4(100_000)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(BALANCE.path))
        .respond_with(ok(
            json!({"account_id": 1, "credit_monthly": 100, "credit_package": 23}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let cfg =
        config(&server, Provider::Pixverse).with_poll(PollPolicy::Fixed(Duration::from_millis(5)));
    let t = Transport::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("dog.png");
    std::fs::write(&img, png(640, 480)).unwrap();
    let up = t.upload_image(&img).await.unwrap();
    assert_eq!(up.img_id, 9007199254740993);
    assert_eq!(up.image.as_ref().unwrap().width, 640);

    let trace = Uuid::new_v4();
    let sub = t.submit(fusion_body(), trace).await.unwrap();
    assert_eq!(sub.video_id, u64::MAX);
    assert_eq!(sub.credits, Some(45));
    assert_eq!(sub.trace_id, trace);

    let mut events = Vec::new();
    let outcome = t
        .wait(sub.video_id, Some(Duration::from_secs(10)), &mut |e| {
            events.push(format!("{e:?}"))
        })
        .await
        .unwrap();
    let WaitOutcome::Finished(status) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(status.status, JobStatus::Succeeded);
    assert_eq!(events.len(), 2);

    let dest = dir.path().join("out.mp4");
    let got = t
        .download(
            status.url.as_deref().unwrap(),
            &dest,
            &Default::default(),
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(got.bytes, 100_000);
    assert_eq!(std::fs::read(&dest).unwrap(), mp4(100_000));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temp file left"
    );

    let balance = t.balance().await.unwrap();
    assert_eq!(balance.total(), 123);
}
