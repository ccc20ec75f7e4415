//! `pixfuse::Client` end to end against the mock vendor: run, reuse of uploads, refusal before
//! sending, resume with the same trace id, terminal statuses, the wait timeout.

use std::path::Path;
use std::time::Duration;

use pixfuse::core::retry::Backoff;
use pixfuse::journal::JOURNAL_FILE;
use pixfuse::{
    Client, Error, Event, JobOptions, JobState, JobStatus, PollPolicy, Provider, RetryPolicy,
    SecretString, TransportConfig,
};
use pixfuse_e2e::{GENERATE, KEY, UPLOAD, Vendor, err_code, video_bytes, write_job};

fn fast_retry() -> RetryPolicy {
    let tiny = Backoff {
        base: Duration::from_millis(1),
        factor: 2.0,
        max: Duration::from_millis(5),
    };
    RetryPolicy {
        max_attempts: 3,
        backoff: tiny,
        max_slot_waits: 3,
        slot_backoff: tiny,
        deadline: Some(Duration::from_secs(20)),
    }
}

fn client(vendor: &Vendor, state: &Path) -> Client {
    let transport = TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
        .with_base_url(vendor.uri())
        .with_retry(fast_retry())
        .with_poll(PollPolicy::Fixed(Duration::from_millis(10)))
        .with_request_timeout(Duration::from_secs(5));
    Client::builder()
        .transport(transport)
        .wait_timeout(Duration::from_secs(10))
        .state_dir(state)
        .build()
        .unwrap()
}

fn load(job: &Path) -> pixfuse::Job {
    pixfuse::load_job_file(job, &Default::default()).unwrap().0
}

#[tokio::test]
async fn run_saves_the_exact_video_with_a_sidecar_and_reuses_uploads() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_happy(987_654_321_012_345_678).await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    let out = dir.path().join("clip.mp4");

    let mut events = Vec::new();
    let done = client
        .run_with(job.clone(), &out, |e| events.push(e))
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), video_bytes());
    assert_eq!(done.video_id, 987_654_321_012_345_678);
    assert_eq!(done.credits, Some(45));
    assert!(events.iter().any(|e| matches!(e, Event::Journaled { .. })));
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Polled {
            status: JobStatus::Generating,
            ..
        }
    )));

    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("clip.mp4.json")).unwrap()).unwrap();
    assert_eq!(sidecar["video_id"], "987654321012345678");
    assert_eq!(sidecar["trace_id"], done.trace_id.unwrap().to_string());
    assert_eq!(sidecar["seed"], 42);
    assert_eq!(sidecar["request"]["image_references"][0]["img_id"], 1000);
    assert_eq!(sidecar["request"]["image_references"][1]["img_id"], 1001);
    assert_eq!(sidecar["url"], vendor.video_url());

    // The submit carried the journaled trace id and the request with uploaded ids.
    let traces = vendor.submit_trace_ids().await;
    assert_eq!(traces, vec![done.trace_id.unwrap().to_string()]);

    // Same images again: no new upload.
    let out2 = dir.path().join("clip2.mp4");
    let mut events = Vec::new();
    client
        .run_with(job, &out2, |e| events.push(e))
        .await
        .unwrap();
    assert_eq!(vendor.requests(&format!("^{UPLOAD}$")).await.len(), 2);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::UploadReused { .. }))
            .count(),
        2
    );
    let record = client.job(done.job_id.unwrap()).await.unwrap();
    assert_eq!(record.state, JobState::Downloaded);
}

#[tokio::test]
async fn an_invalid_job_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    let client = client(&vendor, &dir.path().join("state"));
    let mut job = load(&write_job(dir.path()));
    job.duration = 7; // v5 accepts 5 or 8
    let err = client
        .run(job, &dir.path().join("x.mp4"))
        .await
        .unwrap_err();
    let Error::Invalid { diagnostics } = &err else {
        panic!("{err}")
    };
    assert!(diagnostics.iter().any(|d| d.path == "/duration"));
    assert!(vendor.server.received_requests().await.unwrap().is_empty());
    assert!(client.jobs().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_crash_before_the_answer_is_resumed_with_the_same_trace_id() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_status(555, 0, 1).await;
    vendor.mount_video().await;
    let answer = pixfuse_e2e::ok(serde_json::json!({"video_id": 555, "credits": 45}));
    let slow = vendor
        .mount_switch(
            "POST",
            GENERATE,
            answer.clone().set_delay(Duration::from_secs(60)),
            answer,
        )
        .await;
    let out = dir.path().join("resumed.mp4");
    let client = client(&vendor, &state);
    // The submit is sent and its answer never comes: the caller gives up (as a killed process
    // would), leaving the write-ahead record behind.
    tokio::select! {
        _ = client.submit(load(&write_job(dir.path())), Some(&out)) => panic!("no answer was sent"),
        arrived = vendor.wait_for_submits(1, Duration::from_secs(10)) => assert!(arrived),
    }
    slow.flip();
    let job = client.jobs().await.unwrap().remove(0);
    assert_eq!(job.state, JobState::Claimed);
    let done = client.resume(job.id, None, |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), video_bytes());
    assert_eq!(done.video_id, 555);
    let traces = vendor.submit_trace_ids().await;
    assert_eq!(
        traces,
        vec![job.trace_id.to_string(); 2],
        "the resend reuses the trace id"
    );
    let sent = &vendor.requests(&format!("^{GENERATE}$")).await;
    assert_eq!(
        sent[0].body, sent[1].body,
        "the journaled request, byte for byte"
    );

    // Resuming a finished job whose file exists sends nothing more.
    let before = vendor.server.received_requests().await.unwrap().len();
    client.resume(job.id, None, |_| {}).await.unwrap();
    assert_eq!(
        vendor.server.received_requests().await.unwrap().len(),
        before
    );

    // The file is gone: only a status poll and a download, never another submit.
    std::fs::remove_file(&out).unwrap();
    client.resume(job.id, None, |_| {}).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), video_bytes());
    assert_eq!(vendor.submit_trace_ids().await.len(), 2);
}

#[tokio::test]
async fn terminal_statuses_end_the_job_for_good() {
    for (status, class) in [
        (7, Some(pixfuse::ErrorClass::Moderation)),
        (8, None),
        (6, Some(pixfuse::ErrorClass::Deleted)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let vendor = Vendor::start().await;
        vendor.mount_upload().await;
        vendor.mount_submit(77).await;
        vendor.mount_status(77, 0, status).await;
        let client = client(&vendor, &dir.path().join("state"));
        let job = load(&write_job(dir.path()));
        let err = client
            .run(job, &dir.path().join("x.mp4"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Generation { status: s, video_id: 77 } if s.code() == status),
            "{err}"
        );
        assert_eq!(err.class(), class);
        let jobs = client.jobs().await.unwrap();
        assert_eq!(
            Some(jobs[0].state),
            JobState::from_status(JobStatus::from_code(status))
        );
        assert!(jobs[0].state.failed_for_good());
        assert!(!dir.path().join("x.mp4").exists());
        assert!(client.journal().unfinished().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_refused_submit_is_sent_once_and_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(500090, "insufficient balance"))
        .await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    let err = client
        .run(job, &dir.path().join("x.mp4"))
        .await
        .unwrap_err();
    assert_eq!(err.class(), Some(pixfuse::ErrorClass::Credits), "{err}");
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
    let jobs = client.jobs().await.unwrap();
    assert_eq!(jobs[0].state, JobState::RefusedBeforeBilling);
    assert!(client.journal().unfinished().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_wait_timeout_names_the_resume_command_and_keeps_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(4242).await;
    vendor.mount_status(4242, 1_000_000, 1).await;
    vendor.mount_video().await;
    let transport = TransportConfig::new(Provider::Pixverse, SecretString::from(KEY.to_owned()))
        .with_base_url(vendor.uri())
        .with_retry(fast_retry())
        .with_poll(PollPolicy::Fixed(Duration::from_millis(10)));
    let quick = Client::builder()
        .transport(transport)
        .wait_timeout(Duration::from_millis(60))
        .state_dir(&state)
        .build()
        .unwrap();
    let job = load(&write_job(dir.path()));
    let out = dir.path().join("late.mp4");
    let err = quick.run(job, &out).await.unwrap_err();
    let Error::StillRunning {
        job_id: Some(job_id),
        ref resume_command,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(resume_command, &format!("pixfuse resume {job_id}"));
    assert!(err.to_string().contains(resume_command.as_str()));
    assert!(quick.job(job_id).await.unwrap().state.is_generating());
    assert!(dir.path().join("state").join(JOURNAL_FILE).exists());
}

#[tokio::test]
async fn submitting_the_same_job_again_continues_it_and_new_makes_another() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(11).await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    let first = client.submit(job.clone(), None).await.unwrap();
    let mut events = Vec::new();
    let second = client
        .submit_with(job.clone(), None, |e| events.push(e))
        .await
        .unwrap();
    assert_eq!(first, second, "the same job, not a second bill");
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Continuing { job_id, .. } if *job_id == first.job_id)),
        "{events:?}"
    );
    let third = client
        .submit_with_options(job, None, &JobOptions::new_video(), |_| {})
        .await
        .unwrap();
    assert_ne!(third.trace_id, first.trace_id, "--new: a new trace id");
    assert_ne!(third.job_id, first.job_id);
    assert_eq!(vendor.submit_trace_ids().await.len(), 2);
}

#[tokio::test]
async fn an_image_id_the_server_forgot_is_uploaded_again_and_resubmitted_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    let answers = AtomicUsize::new(0);
    pixfuse_e2e::wiremock::Mock::given(pixfuse_e2e::wiremock::matchers::method("POST"))
        .and(pixfuse_e2e::wiremock::matchers::path(GENERATE))
        .respond_with(move |_: &pixfuse_e2e::wiremock::Request| {
            match answers.fetch_add(1, Ordering::SeqCst) {
                0 => err_code(400032, "invalid image id"),
                _ => pixfuse_e2e::ok(serde_json::json!({"video_id": 12})),
            }
        })
        .mount(&vendor.server)
        .await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    // Cached uploads from an earlier job that the server has since forgotten.
    let mut events = Vec::new();
    let sub = client
        .submit_with(job, None, |e| events.push(e))
        .await
        .unwrap();
    assert_eq!(sub.video_id, 12);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Reuploading { .. }))
    );
    let traces = vendor.submit_trace_ids().await;
    assert_eq!(traces.len(), 2);
    assert_ne!(
        traces[0], traces[1],
        "a definite refusal that billed nothing may take a new trace id"
    );
    assert_eq!(traces[1], sub.trace_id.to_string());
    assert_eq!(vendor.requests(&format!("^{UPLOAD}$")).await.len(), 4);
}

#[tokio::test]
async fn the_submit_body_lists_fields_in_the_documented_order() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_happy(4242).await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    client
        .run_with(job, &dir.path().join("clip.mp4"), |_| {})
        .await
        .unwrap();
    let sent = &vendor.requests(&format!("^{GENERATE}$")).await[0];
    // The vendor's page lists the fields in this order, and references as type, img_id, ref_name.
    assert_eq!(
        std::str::from_utf8(&sent.body).unwrap(),
        r#"{"image_references":[{"type":"subject","img_id":1000,"ref_name":"dog"},{"type":"background","img_id":1001,"ref_name":"park"}],"prompt":"@dog runs through @park at dusk","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9","seed":42}"#
    );
}

#[tokio::test]
async fn the_expected_generation_time_learns_from_finished_jobs_of_the_same_shape() {
    let dir = tempfile::tempdir().unwrap();
    let vendor = Vendor::start().await;
    vendor.mount_happy(31).await;
    let client = client(&vendor, &dir.path().join("state"));
    let job = load(&write_job(dir.path()));
    let guess = client.expected_generation(&job).await.unwrap();
    assert_eq!(guess.from_jobs, 0);
    assert_eq!(
        guess.total,
        pixfuse::core::poll::JobShape::from(&job).expected_render()
    );
    client
        .run_with(job.clone(), &dir.path().join("a.mp4"), |_| {})
        .await
        .unwrap();
    let learnt = client.expected_generation(&job).await.unwrap();
    assert_eq!(learnt.from_jobs, 1);
    // The mock answers at once: this machine's record beats the table's guess.
    assert!(learnt.total < guess.total, "{learnt:?}");
    // Another shape has no history yet.
    let mut longer = job.clone();
    longer.duration = 8;
    assert_eq!(
        client.expected_generation(&longer).await.unwrap().from_jobs,
        0
    );
}
