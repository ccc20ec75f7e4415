//! Crash safety: the process is SIGKILLed at the worst moments, then `pixfuse resume` finishes
//! the job with exactly one billable submit (one trace id on the wire) and the exact video.

use crate::common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::ResponseTemplate;

fn spawn_run(s: &Scratch, uri: &str) -> std::process::Child {
    let job = write_job(s.path());
    let mut cmd = s.cmd(uri);
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_right_after_the_submit_was_sent() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_status(777, 0, 1).await;
    vendor.mount_video().await;
    // The server holds its answer: the process dies with the submit sent and unanswered.
    let answer = ok(json!({"video_id": 777, "credits": 45}));
    let slow = vendor
        .mount_switch(
            "POST",
            GENERATE,
            answer.clone().set_delay(Duration::from_secs(60)),
            answer,
        )
        .await;
    let mut child = spawn_run(&s, &vendor.uri());
    assert!(
        vendor.wait_for_submits(1, Duration::from_secs(20)).await,
        "the submit never arrived"
    );
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, nothing
    child.wait().unwrap();
    assert!(!s.path().join("out.mp4").exists());
    slow.flip();

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["jobs", "--json"]);
    let jobs = json(&exec(cmd));
    assert_eq!(jobs["jobs"][0]["state"], "claimed");
    assert_eq!(jobs["jobs"][0]["needs_resume"], true);

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["resume", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["results"][0]["video_id"], "777");
    assert_eq!(
        std::fs::read(s.path().join("out.mp4")).unwrap(),
        video_bytes()
    );

    let traces = vendor.submit_trace_ids().await;
    assert_eq!(traces.len(), 2, "the original send and the resend");
    assert_eq!(traces[0], traces[1], "the resend must reuse the trace id");
    assert_eq!(jobs["jobs"][0]["trace_id"], traces[0]);
    // Both uploads happened before the crash and are not repeated.
    assert_eq!(vendor.requests(&format!("^{UPLOAD}$")).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_waiting_resume_only_polls() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(888).await;
    vendor.mount_video().await;
    let generating = vendor
        .mount_switch(
            "GET",
            &format!("{RESULT_PREFIX}888"),
            ok(json!({"id": 888, "status": 5})),
            ok(json!({"id": 888, "status": 1, "url": vendor.video_url()})),
        )
        .await;
    let mut child = spawn_run(&s, &vendor.uri());
    let start = std::time::Instant::now();
    while vendor
        .requests(&format!("^{RESULT_PREFIX}888$"))
        .await
        .len()
        < 3
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no polls arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    generating.flip();

    let mut cmd = s.cmd(&vendor.uri());
    cmd.arg("resume");
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(s.path().join("out.mp4")).unwrap(),
        video_bytes()
    );
    assert_eq!(
        vendor.submit_trace_ids().await.len(),
        1,
        "resume must not resubmit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_failure_after_retries_leaves_the_job_resumable() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_status(999, 0, 1).await;
    vendor.mount_video().await;
    let down = vendor
        .mount_switch(
            "POST",
            GENERATE,
            ResponseTemplate::new(503).set_body_string("<html>bad gateway</html>"),
            ok(json!({"video_id": 999})),
        )
        .await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 10);
    assert!(
        stderr(&out).contains("`pixfuse resume 1`"),
        "{}",
        stderr(&out)
    );
    down.flip();

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["resume", "1"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let traces = vendor.submit_trace_ids().await;
    assert!(traces.len() >= 2);
    assert!(traces.iter().all(|t| *t == traces[0]), "{traces:?}");
    assert_eq!(
        std::fs::read(s.path().join("out.mp4")).unwrap(),
        video_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_never_resumed_at_another_server() {
    let s = Scratch::new();
    let first = Vendor::start().await;
    first.mount_upload().await;
    first
        .mount_submit_with(ResponseTemplate::new(503).set_body_string("down"))
        .await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&first.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"]);
    assert_exit(&exec(cmd), 10);

    let other = Vendor::start().await;
    let mut cmd = s.cmd(&other.uri());
    cmd.args(["resume", "1"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains(&first.uri()), "{}", stderr(&out));

    let mut cmd = s.cmd(&other.uri());
    cmd.arg("resume");
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("skipping job 1"), "{}", stderr(&out));
    assert!(other.server.received_requests().await.unwrap().is_empty());
}
