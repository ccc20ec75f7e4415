//! `pixfuse::Client` against the sandbox (the local emulator of the vendor): the real flow, and
//! the same flow under injected faults — every job is billed exactly once and every video
//! arrives whole.

use std::time::Duration;

use pixfuse::JobState;
use pixfuse_e2e::{sandbox_client, start_sandbox, write_job};
use pixfuse_sandbox::{FaultConfig, Sandbox, SandboxConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_against_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(5)).await;
    let job = pixfuse::load_job_file(&write_job(dir.path()), &Default::default())
        .unwrap()
        .0;
    let out = dir.path().join("clip.mp4");
    let done = client.run(job, &out).await.unwrap();
    // for_tests() issues ids above 2^53: any trip through an f64 on the way would have broken
    // the status polls and the download.
    assert!(done.video_id > 1 << 53, "{}", done.video_id);
    let video = std::fs::read(&out).unwrap();
    assert_eq!(&video[4..8], b"ftyp", "an MP4 file");
    assert!(done.credits.unwrap() > 0);
    let stats = sandbox.stats();
    assert_eq!((stats.billable_jobs, stats.uploads), (1, 2));
    assert_eq!(stats.credits_spent, done.credits.unwrap() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_faults_every_job_is_billed_once_and_arrives_whole() {
    let dir = tempfile::tempdir().unwrap();
    let clean = {
        let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
        let c = sandbox_client(
            &sandbox,
            &dir.path().join("clean"),
            Duration::from_millis(5),
        );
        let job = pixfuse::load_job_file(&write_job(dir.path()), &Default::default())
            .unwrap()
            .0;
        c.run(job, &dir.path().join("clean.mp4")).await.unwrap();
        std::fs::read(dir.path().join("clean.mp4")).unwrap()
    };

    let config = SandboxConfig {
        faults: FaultConfig {
            seed: 7,
            rate_limit: 0.1,
            server_error: 0.15,
            drop_after_submit: 0.25,
            truncated_json: 0.1,
            cut_download: 0.3,
            retry_after_secs: 0,
        },
        ..SandboxConfig::for_tests()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let state = dir.path().join("state");
    let client = sandbox_client(&sandbox, &state, Duration::from_millis(5));
    const JOBS: u64 = 6;
    for n in 0..JOBS {
        let mut job = pixfuse::load_job_file(&write_job(dir.path()), &Default::default())
            .unwrap()
            .0;
        job.prompt = format!("{} take {n}", job.prompt);
        let out = dir.path().join(format!("take{n}.mp4"));
        // A user's loop: run, and when it stops early, resume (bounded).
        let mut outcome = client.run(job, &out).await;
        let mut resumes = 0;
        while outcome.is_err() && resumes < 10 {
            let last = client.jobs().await.unwrap()[0].clone();
            assert!(
                !last.state.failed_for_good(),
                "job {n} failed for good: {:?}",
                outcome
            );
            resumes += 1;
            outcome = client.resume(last.id, None, |_| {}).await;
        }
        outcome.unwrap_or_else(|e| panic!("job {n} never finished: {e}"));
        assert_eq!(
            std::fs::read(&out).unwrap(),
            clean,
            "job {n}: the exact video"
        );
    }
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, JOBS, "{stats:?}");
    // Seed 7 drops submits after recording them: each was resent with its trace id and
    // answered from the vendor's memory instead of billed again.
    assert!(stats.faults.dropped_submits > 0, "{stats:?}");
    assert!(
        stats.deduplicated_submits >= stats.faults.dropped_submits,
        "{stats:?}"
    );
    assert!(client.journal().unfinished().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_submitted_through_one_sandbox_is_resumed_through_the_next_on_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let config = || SandboxConfig {
        state_dir: Some(state.join("sandbox")),
        generation_time: Duration::from_millis(300),
        ..SandboxConfig::for_tests()
    };
    let job = pixfuse::load_job_file(&write_job(dir.path()), &Default::default())
        .unwrap()
        .0;
    let out = dir.path().join("later.mp4");
    let first = Sandbox::start(config()).await.unwrap();
    let submitted = sandbox_client(&first, &state, Duration::from_millis(5))
        .submit(job, Some(&out))
        .await
        .unwrap();
    let origin = first.origin();
    first.shutdown().await.unwrap();

    // Another process, another port, the same state: the same vendor.
    let next = Sandbox::start(config()).await.unwrap();
    assert_eq!(next.origin(), origin);
    let client = sandbox_client(&next, &state, Duration::from_millis(5));
    let record = client.job(submitted.job_id).await.unwrap();
    assert_eq!(record.origin, origin);
    let done = client.resume(submitted.job_id, None, |_| {}).await.unwrap();
    assert_eq!(done.video_id, submitted.video_id);
    assert_eq!(&std::fs::read(&out).unwrap()[4..8], b"ftyp");
    assert_eq!(next.stats().billable_jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_video_id_never_writes_into_another_servers_job() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    // A job at another server, journaled in the same state dir.
    let elsewhere = Sandbox::start(SandboxConfig {
        generation_time: Duration::from_secs(60),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let other = sandbox_client(&elsewhere, &state, Duration::from_millis(5))
        .submit(
            pixfuse::load_job_file(&write_job(dir.path()), &Default::default())
                .unwrap()
                .0,
            None,
        )
        .await
        .unwrap();
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let client = sandbox_client(&sandbox, &state, Duration::from_millis(5));
    // This server does not know that video id.
    let error = client.wait(other.video_id).await.unwrap_err();
    assert!(error.to_string().contains("500008"), "{error}");
    let untouched = client.job(other.job_id).await.unwrap();
    assert_eq!(untouched.last_error, None);
    assert_eq!(untouched.state, JobState::Submitted);
}
