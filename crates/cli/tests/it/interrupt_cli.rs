//! SIGINT and SIGTERM at every step of `pixfuse run`: during an upload, with the submit sent,
//! while waiting, mid-download. Each time the process stops with 130 (143), names the command
//! that finishes the job, and that command — the same one again — bills nothing more and yields
//! the byte-identical video.

use crate::common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

fn spawn_run(s: &Scratch, uri: &str) -> Child {
    let job = write_job(s.path());
    let mut cmd = s.cmd(uri);
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

fn rerun(s: &Scratch, uri: &str) -> std::process::Output {
    let job = write_job(s.path());
    let mut cmd = s.cmd(uri);
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"]);
    exec(cmd)
}

/// Sends `signal` (e.g. `INT`) to the child with the `kill` command.
fn signal(child: &Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits (bounded) for the child to stop after a signal.
fn stopped(mut child: Child) -> std::process::Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running 10 s after the signal"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !done().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The interrupted run's report: exit `code`, and the command that finishes it.
fn assert_interrupted(out: &std::process::Output, code: i32) {
    assert_exit(out, code);
    let err = stderr(out);
    assert!(err.contains("nothing is lost"), "{err}");
    assert!(
        err.contains(" run ")
            && err.contains("-o out.mp4")
            && err.contains("(the same command again)"),
        "the exact command: {err}"
    );
}

/// The same command again finishes with one distinct trace id on the wire and the exact video.
async fn assert_finished_once(vendor: &Vendor, s: &Scratch) {
    let out = rerun(s, &vendor.uri());
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(s.path().join("out.mp4")).unwrap(),
        video_bytes()
    );
    let mut traces = vendor.submit_trace_ids().await;
    traces.dedup();
    assert_eq!(traces.len(), 1, "one trace id, one bill: {traces:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_during_an_upload() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    let uploaded = ok(json!({"img_id": 1000}));
    let slow = vendor
        .mount_switch(
            "POST",
            UPLOAD,
            uploaded.clone().set_delay(Duration::from_secs(60)),
            uploaded,
        )
        .await;
    vendor.mount_submit(701).await;
    vendor.mount_status(701, 0, 1).await;
    vendor.mount_video().await;
    let child = spawn_run(&s, &vendor.uri());
    until("an upload", async || {
        !vendor.requests(&format!("^{UPLOAD}$")).await.is_empty()
    })
    .await;
    signal(&child, "INT");
    let out = stopped(child);
    assert_interrupted(&out, 130);
    assert!(
        stderr(&out).contains("nothing was sent yet"),
        "{}",
        stderr(&out)
    );
    assert!(vendor.submit_trace_ids().await.is_empty());
    slow.flip();
    assert_finished_once(&vendor, &s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_with_the_submit_sent() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    let accepted = ok(json!({"video_id": 702, "credits": 45}));
    let slow = vendor
        .mount_switch(
            "POST",
            GENERATE,
            accepted.clone().set_delay(Duration::from_secs(60)),
            accepted,
        )
        .await;
    vendor.mount_status(702, 0, 1).await;
    vendor.mount_video().await;
    let child = spawn_run(&s, &vendor.uri());
    until("the submit", async || {
        !vendor.submit_trace_ids().await.is_empty()
    })
    .await;
    signal(&child, "INT");
    let out = stopped(child);
    assert_interrupted(&out, 130);
    assert!(
        stderr(&out).contains("may have reached the server"),
        "{}",
        stderr(&out)
    );
    slow.flip();
    assert_finished_once(&vendor, &s).await;
    assert_eq!(
        vendor.submit_trace_ids().await.len(),
        2,
        "resent once, same trace id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_waiting_and_a_second_signal_still_stops_it() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(703).await;
    vendor.mount_video().await;
    let generating = vendor
        .mount_switch(
            "GET",
            &format!("{RESULT_PREFIX}703"),
            ok(json!({"id": 703, "status": 5})),
            ok(json!({"id": 703, "status": 1, "url": vendor.video_url()})),
        )
        .await;
    let child = spawn_run(&s, &vendor.uri());
    until("two polls", async || {
        vendor
            .requests(&format!("^{RESULT_PREFIX}703$"))
            .await
            .len()
            >= 2
    })
    .await;
    signal(&child, "TERM");
    signal(&child, "TERM");
    let out = stopped(child);
    assert_eq!(code(&out), 143, "{}", stderr(&out));
    generating.flip();
    let before = vendor.submit_trace_ids().await.len();
    assert_finished_once(&vendor, &s).await;
    assert_eq!(vendor.submit_trace_ids().await.len(), before, "only polled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_download() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(704).await;
    let cdn = StallingHost::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path(format!("{RESULT_PREFIX}704")))
        .respond_with(ok(json!({"id": 704, "status": 1, "url": cdn.url()})))
        .mount(&vendor.server)
        .await;
    let child = spawn_run(&s, &vendor.uri());
    until("half the video", async || cdn.stalled() > 0).await;
    signal(&child, "INT");
    let out = stopped(child);
    assert_interrupted(&out, 130);
    assert!(
        stderr(&out).contains("ready but not downloaded"),
        "{}",
        stderr(&out)
    );
    assert!(
        !s.path().join("out.mp4").exists(),
        "never a partial file at the output"
    );
    cdn.serve_whole();
    assert_finished_once(&vendor, &s).await;
}
