//! A sandbox with a state directory outlives its process, and several servers on one directory
//! (here in one test process, each with its own database connection, exactly as two processes
//! would be) are one consistent vendor.

use crate::common;

use std::time::Duration;

use common::{Api, request, start, uuid, video_id};
use pixfuse_sandbox::SandboxConfig;

fn persistent(dir: &std::path::Path, generation: Duration, limit: u32) -> SandboxConfig {
    SandboxConfig {
        state_dir: Some(dir.to_owned()),
        generation_time: generation,
        concurrency_limit: limit,
        ..SandboxConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_directory_are_one_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(persistent(dir.path(), Duration::from_millis(400), 1)).await;
    let b = start(persistent(dir.path(), Duration::from_millis(400), 1)).await;
    assert_ne!(a.sandbox.base_url(), b.sandbox.base_url());
    assert_eq!(a.sandbox.origin(), b.sandbox.origin());
    assert!(a.sandbox.origin().starts_with("sandbox:"));

    // Uploaded at A, used at B; one trace id, one bill, whichever server answers.
    let ids = a.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    let trace = uuid();
    let first = video_id(&b.submit(&body, &trace).await);
    assert_eq!(video_id(&a.submit(&body, &trace).await), first);
    // The limit (1) is the account's, not the server's.
    assert_eq!(a.submit(&body, &uuid()).await["ErrCode"], 500044);
    assert_eq!(a.credits_left().await, b.credits_left().await);
    assert_eq!(a.credits_left().await, 10_000 - 45);

    // Generation follows the wall clock, seen the same from both.
    assert_eq!(a.result(first).await["Resp"]["status"], 5);
    let done = b.wait(first).await;
    assert_eq!(done["Resp"]["status"], 1, "{done}");
    assert_eq!(a.result(first).await["Resp"]["status"], 1);
    let url = done["Resp"]["url"].as_str().unwrap();
    assert!(url.starts_with(b.sandbox.base_url()), "{url}");
    assert_eq!(b.http.get(url).send().await.unwrap().status(), 200);

    let stats = a.sandbox.stats();
    assert_eq!(
        (
            stats.billable_jobs,
            stats.deduplicated_submits,
            stats.uploads
        ),
        (1, 1, 2)
    );
    assert_eq!(stats, b.sandbox.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_id_sent_to_both_at_once_is_billed_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = start(persistent(dir.path(), Duration::from_millis(50), 20)).await;
    let b = start(persistent(dir.path(), Duration::from_millis(50), 20)).await;
    let ids = a.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    let trace = uuid();
    let answers = futures_util::future::join_all((0..16).map(|n| {
        let server: &Api = if n % 2 == 0 { &a } else { &b };
        server.submit(&body, &trace)
    }))
    .await;
    let videos: std::collections::HashSet<u64> = answers.iter().map(video_id).collect();
    assert_eq!(videos.len(), 1, "{answers:?}");
    let stats = a.sandbox.stats();
    assert_eq!(
        (stats.billable_jobs, stats.deduplicated_submits),
        (1, 15),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_restarted_sandbox_keeps_its_account_images_jobs_and_ids() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(persistent(dir.path(), Duration::from_millis(30), 5)).await;
    let origin = first.sandbox.origin();
    let ids = first.dog_and_room().await;
    let trace = uuid();
    let body = request(&ids, "@dog naps in @room today");
    let video = video_id(&first.submit(&body, &trace).await);
    first.sandbox.shutdown().await.unwrap();

    let again = start(SandboxConfig {
        starting_credits: 1,
        ..persistent(dir.path(), Duration::from_millis(30), 5)
    })
    .await;
    assert_eq!(again.sandbox.origin(), origin);
    assert_eq!(
        again.credits_left().await,
        10_000 - 45,
        "the account was kept"
    );
    assert_eq!(
        video_id(&again.submit(&body, &trace).await),
        video,
        "and the trace id"
    );
    assert_eq!(again.wait(video).await["Resp"]["status"], 1);
    // The old images still work, and new ids never repeat old ones.
    let later = video_id(&again.submit(&body, &uuid()).await);
    assert!(later > video && later > ids[1], "{later} after {video}");
    let fresh = again.upload("dog.png", common::DOG_PNG).await;
    assert!(fresh > later);

    // Another directory is another vendor.
    let other = tempfile::tempdir().unwrap();
    let elsewhere = start(persistent(other.path(), Duration::from_millis(30), 5)).await;
    assert_ne!(elsewhere.sandbox.origin(), origin);
    assert_eq!(elsewhere.result(video).await["ErrCode"], 500008);
}
