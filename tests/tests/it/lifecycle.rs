//! The lifecycle across the library's seams, against the sandbox: a server that forgot its
//! images, two clients on one job, output ownership, and batch reruns of lines refused before
//! billing or failed for good.

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchSummary, Concurrency};
use pixfuse::{Client, Error, Event, JobOptions, JobState};
use pixfuse_e2e::{sandbox_client, sandbox_client_as, start_sandbox, write_job};
use pixfuse_sandbox::{Sandbox, SandboxConfig};

fn load(dir: &Path, prompt: &str) -> pixfuse::Job {
    let mut job = pixfuse::load_job_file(&write_job(dir), &Default::default())
        .unwrap()
        .0;
    job.prompt = prompt.to_owned();
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_restarted_with_an_empty_image_store_gets_the_images_again_and_bills_once() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let first = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let origin = first.origin();
    let client = sandbox_client(&first, &state, Duration::from_millis(5));
    client
        .run(
            load(dir.path(), "@dog runs through @park"),
            &dir.path().join("a.mp4"),
        )
        .await
        .unwrap();
    first.shutdown().await.unwrap();

    // The same server (by name), with a fresh memory: the cached img_ids mean nothing there
    // any more.
    let second = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let client = sandbox_client_as(&second, &origin, &state, Duration::from_millis(5));
    let mut events = Vec::new();
    let done = client
        .run_with(
            load(dir.path(), "@dog sleeps in @park"),
            &dir.path().join("b.mp4"),
            |e| events.push(e),
        )
        .await
        .unwrap();
    assert!(dir.path().join("b.mp4").is_file());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Reuploading { .. }))
    );
    let stats = second.stats();
    assert_eq!(stats.billable_jobs, 1, "{stats:?}");
    assert_eq!(
        stats.uploads, 2,
        "each image uploaded again once: {stats:?}"
    );
    let job = client.job(done.job_id.unwrap()).await.unwrap();
    assert_eq!(job.state, JobState::Downloaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_waits_for_the_job_the_first_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sandbox = Sandbox::start(SandboxConfig {
        generation_time: Duration::from_millis(400),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let a = sandbox_client(&sandbox, &state, Duration::from_millis(20));
    let b = sandbox_client(&sandbox, &state, Duration::from_millis(20));
    let job = load(dir.path(), "@dog runs through @park");
    let out = dir.path().join("clip.mp4");
    let mut b_events = Vec::new();
    let (ra, rb) = tokio::join!(a.run(job.clone(), &out), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        b.run_with(job.clone(), &out, |e| b_events.push(e)).await
    });
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.job_id, rb.job_id, "one job");
    assert_eq!(sandbox.stats().billable_jobs, 1);
    assert!(
        b_events.iter().any(|e| matches!(
            e,
            Event::HeldElsewhere { pid, .. } if *pid == std::process::id()
        )),
        "{b_events:?}"
    );
    assert!(
        !b_events
            .iter()
            .any(|e| matches!(e, Event::Submitted { .. })),
        "the waiting client sends nothing"
    );
    // Done: the same job again is reported, not run again.
    let mut events = Vec::new();
    b.run_with(job, &out, |e| events.push(e)).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::AlreadyDone { .. })),
        "{events:?}"
    );
    assert_eq!(sandbox.stats().submits_received, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_unfinished_jobs_never_share_an_output_and_an_older_job_never_overwrites_a_newer_one() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sandbox = Sandbox::start(SandboxConfig {
        generation_time: Duration::from_secs(30),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let client = sandbox_client(&sandbox, &state, Duration::from_millis(20));
    let out = dir.path().join("clip.mp4");
    let first = client
        .submit(load(dir.path(), "@dog runs through @park"), Some(&out))
        .await
        .unwrap();
    let other = load(dir.path(), "@dog sleeps in @park");
    let err = client.submit(other.clone(), Some(&out)).await.unwrap_err();
    let Error::OutputTaken { holder, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(*holder, first.job_id);
    assert!(
        err.to_string().contains(&format!("job {}", first.job_id)),
        "{err}"
    );
    assert_eq!(
        sandbox.stats().submits_received,
        1,
        "refused before anything was sent"
    );

    let mut events = Vec::new();
    let second = client
        .submit_with_options(other, Some(&out), &JobOptions::default().forced(), |e| {
            events.push(e)
        })
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Abandoned { job_id, .. } if *job_id == first.job_id))
    );
    assert_eq!(
        client.job(first.job_id).await.unwrap().state,
        JobState::Abandoned
    );
    let err = client.resume(first.job_id, None, |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::AlreadyFailed { .. }), "{err}");
    let unfinished: Vec<i64> = client
        .journal()
        .unfinished()
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(unfinished, [second.job_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_never_overwrites_the_file_a_newer_job_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let client = sandbox_client(&sandbox, &state, Duration::from_millis(5));
    let out = dir.path().join("clip.mp4");
    let job = load(dir.path(), "@dog runs through @park");
    let older = client.run(job.clone(), &out).await.unwrap();
    let newer = client
        .run_with_options(job, &out, &JobOptions::new_video(), |_| {})
        .await
        .unwrap();
    assert_ne!(older.job_id, newer.job_id);
    assert_eq!(sandbox.stats().billable_jobs, 2, "--new is a new bill");
    std::fs::remove_file(&out).unwrap();
    let err = client
        .resume(older.job_id.unwrap(), None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OutputOwnedByNewer { .. }), "{err}");
    assert!(!out.exists());
    // `resume` of everything picks only the newer job.
    let unfinished: Vec<Option<i64>> = client
        .journal()
        .unfinished()
        .await
        .unwrap()
        .iter()
        .map(|j| Some(j.id))
        .collect();
    assert_eq!(unfinished, [newer.job_id]);
}

async fn batch(client: &Client, file: &Path, out: &Path, opts: BatchOptions) -> BatchSummary {
    let plan = BatchPlan::load(file, out, &Default::default()).unwrap();
    let mut summary = BatchSummary::default();
    let mut events = client.run_batch(plan, opts).unwrap();
    while let Some(event) = events.next().await {
        if let BatchEvent::Finished(outcome) = event {
            summary.add(&outcome.end);
        }
    }
    summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_failed_submits_a_line_that_failed_for_good_again_as_a_new_bill() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(5)).await;
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(write_job(dir.path())).unwrap()).unwrap();
    let lines: Vec<String> = ["ok", "bad"]
        .iter()
        .map(|id| {
            let mut line = job.clone();
            line["id"] = (*id).into();
            if *id == "bad" {
                line["prompt"] = "@dog at @park sandbox-moderate".into();
            }
            line.to_string()
        })
        .collect();
    let file = dir.path().join("jobs.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = dir.path().join("out");
    let opts = || BatchOptions {
        concurrency: Concurrency::Fixed(2),
        ..BatchOptions::default()
    };
    let first = batch(&client, &file, &out, opts()).await;
    assert_eq!(
        (first.done, first.failed.get("moderation")),
        (1, Some(&1)),
        "{first:?}"
    );
    assert_eq!(sandbox.stats().billable_jobs, 2);
    // A plain rerun bills nothing: the failed line stays failed.
    let again = batch(&client, &file, &out, opts()).await;
    assert_eq!((again.done, again.done_earlier), (1, 1), "{again:?}");
    assert_eq!(again.credits_this_run, 0, "{again:?}");
    assert_eq!(sandbox.stats().billable_jobs, 2);
    // --retry-failed: a new job, a new trace id, a new bill.
    let retried = batch(
        &client,
        &file,
        &out,
        BatchOptions {
            retry_failed: true,
            ..opts()
        },
    )
    .await;
    assert_eq!(sandbox.stats().billable_jobs, 3);
    assert_eq!(retried.failed.get("moderation"), Some(&1), "{retried:?}");
    assert_eq!(retried.lines(), 2);
    let jobs = client.jobs().await.unwrap();
    assert_eq!(jobs.len(), 3, "the failed attempt stays in the journal");
    assert_eq!(
        jobs.iter()
            .filter(|j| j.state == JobState::Moderated)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_batch_rerun_tries_a_line_the_server_refused_before_billing_with_a_new_trace_id() {
    use pixfuse_e2e::{GENERATE, Vendor, err_code, ok};
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_status(31, 0, 1).await;
    vendor.mount_video().await;
    let broke = vendor
        .mount_switch(
            "POST",
            GENERATE,
            err_code(500090, "insufficient balance"),
            ok(serde_json::json!({"video_id": 31, "credits": 45})),
        )
        .await;
    let transport = pixfuse::TransportConfig::new(
        pixfuse::Provider::Pixverse,
        pixfuse::SecretString::from(pixfuse_e2e::KEY.to_owned()),
    )
    .with_base_url(vendor.uri())
    .with_poll(pixfuse::PollPolicy::Fixed(Duration::from_millis(5)));
    let client = Client::builder()
        .transport(transport)
        .state_dir(dir.path().join("state"))
        .build()
        .unwrap();
    let file = pixfuse_e2e::write_batch(dir.path(), 1, |_, _| {});
    let out = dir.path().join("out");
    let first = batch(&client, &file, &out, BatchOptions::default()).await;
    assert_eq!(
        first.refused_before_billing.get("credits"),
        Some(&1),
        "{first:?}"
    );
    assert_eq!(first.credits_this_run, 0);
    broke.flip();
    let again = batch(&client, &file, &out, BatchOptions::default()).await;
    assert_eq!((again.done, again.credits_this_run), (1, 45), "{again:?}");
    let traces = vendor.submit_trace_ids().await;
    assert_eq!(traces.len(), 2);
    assert_ne!(
        traces[0], traces[1],
        "nothing was billed: a new trace id is safe"
    );
    assert_eq!(
        client.jobs().await.unwrap().len(),
        1,
        "the same job, tried again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_job_is_not_held_by_the_client_that_dropped_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let sandbox = Sandbox::start(SandboxConfig {
        // Long enough that the first client cannot finish before it is dropped, however
        // loaded the machine.
        generation_time: Duration::from_secs(2),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let a = sandbox_client(&sandbox, &state, Duration::from_millis(10));
    let out = dir.path().join("clip.mp4");
    let job = load(dir.path(), "@dog runs through @park");
    // Stop caring once it is submitted (a caller's timeout, a dropped request).
    let submitted = std::sync::atomic::AtomicBool::new(false);
    let seen = || submitted.load(std::sync::atomic::Ordering::SeqCst);
    tokio::select! {
        _ = a.run_with(job.clone(), &out, |e| {
            if matches!(e, Event::Submitted { .. }) {
                submitted.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }) => panic!("the job cannot be done this fast"),
        () = async {
            for _ in 0..1000 {
                if seen() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        } => {}
    }
    assert!(seen(), "not submitted within 10 s");
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Another client (another instance, same process) continues it at once.
    let b = sandbox_client(&sandbox, &state, Duration::from_millis(10));
    let mut events = Vec::new();
    b.run_with(job, &out, |e| events.push(e)).await.unwrap();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::HeldElsewhere { .. })),
        "{events:?}"
    );
    assert_eq!(sandbox.stats().billable_jobs, 1);
}
