//! Progress off a terminal (a line per state change and per retry, nothing repeated) and the
//! request log of `-v` / `-vv` (the key never in it, nor Rust's Debug formatting).

use crate::common;

use common::wiremock::matchers::{method, path};
use common::wiremock::{Mock, ResponseTemplate};
use common::*;

/// Lines of stderr that say the same thing twice.
fn repeated(text: &str) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    text.lines().filter(|l| !seen.insert(*l)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_a_terminal_every_state_and_retry_is_one_line() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    // The first upload meets an overloaded server; the retry gets through.
    Mock::given(method("POST"))
        .and(path(UPLOAD))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .named("upload: overloaded once")
        .mount(&vendor.server)
        .await;
    vendor.mount_upload().await;
    vendor.mount_submit(77).await;
    vendor.mount_status(77, 4, 1).await;
    vendor.mount_video().await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    let retry = err
        .lines()
        .find(|l| l.contains("retrying in"))
        .unwrap_or_else(|| panic!("no retry line:\n{err}"));
    assert!(
        retry.starts_with("pixfuse: POST /openapi/v2/image/upload: retrying in ")
            && retry.contains(" s (attempt 2 of ")
            && retry.contains("): "),
        "{retry}"
    );
    for state in [
        "uploading",
        "submitted",
        "generating after",
        "is ready",
        "downloading",
        "saved",
    ] {
        assert!(err.contains(state), "no `{state}` line:\n{err}");
    }
    // Four polls said "generating": one line says so, with the estimate.
    let generating: Vec<&str> = err.lines().filter(|l| l.contains("generating")).collect();
    assert_eq!(generating.len(), 1, "{err}");
    assert!(generating[0].contains("left (usually"), "{err}");
    assert_eq!(repeated(&err), Vec::<&str>::new(), "{err}");
    // Nothing of the request log without -v.
    assert!(!err.contains("(attempt 1)"), "{err}");

    // A job of this shape finished here: the next one's estimate is this machine's own.
    vendor.mount_status(77, 1, 1).await;
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "again.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(err.contains("(1 similar job here took "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v_logs_each_request_and_vv_its_bodies_never_the_key() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(78).await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["-v", "run", job.to_str().unwrap(), "-o", "v.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    // Method, path, status, latency, attempt: one line per request.
    let submit = err
        .lines()
        .find(|l| l.starts_with("pixfuse: POST /openapi/v2/video/fusion/generate 200 in "))
        .unwrap_or_else(|| panic!("no submit line:\n{err}"));
    assert!(submit.ends_with(" ms (attempt 1)"), "{submit}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("pixfuse: POST /openapi/v2/image/upload 200 in "))
            .count(),
        2,
        "{err}"
    );
    // The path called, the video id filled in (not the endpoint's `{video_id}` template).
    assert!(
        err.lines()
            .any(|l| l.starts_with("pixfuse: GET /openapi/v2/video/result/78 200 in ")),
        "{err}"
    );
    assert!(!err.contains("{video_id}"), "{err}");
    // The paths in use.
    assert!(err.contains("pixfuse: config file: none ("), "{err}");
    let state = s.state();
    assert!(
        err.contains(&format!("pixfuse: state directory: {}", state.display())),
        "{err}"
    );
    assert!(err.contains("pixfuse: journal: "), "{err}");
    assert!(!err.contains("request body:"), "bodies are for -vv:\n{err}");

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["-vv", "run", job.to_str().unwrap(), "-o", "vv.mp4", "--new"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("  request body: {\"image_references\":["),
        "{err}"
    );
    assert!(err.contains("  response body: {\"ErrCode\":0"), "{err}");
    assert!(!err.contains(KEY), "the key leaked:\n{err}");
    assert!(!err.contains(&KEY[..12]), "part of the key leaked:\n{err}");
    // Display text only: no `Some(..)`, `"…"` quoting of paths, or struct dumps.
    for debug in ["Some(", "None", "PathBuf", "Duration {", " { ", "\\\""] {
        assert!(!err.contains(debug), "Debug formatting `{debug}`:\n{err}");
    }
}

#[test]
fn a_batch_off_a_terminal_leaves_a_line_per_job_and_concurrency_only_at_v() {
    let s = Scratch::new();
    let batch = write_batch(s.path(), 2, |_, _| {});
    let run = |verbose: bool, out_dir: &str| {
        let mut cmd = s.bare();
        if verbose {
            cmd.arg("-v");
        }
        cmd.args([
            "--sandbox",
            "--sandbox-time-scale",
            "0.1",
            "--poll-interval",
            "50ms",
            "batch",
            batch.to_str().unwrap(),
            "--out-dir",
            out_dir,
        ]);
        let out = exec(cmd);
        assert_exit(&out, 0);
        stderr(&out)
    };
    let err = run(false, "out");
    for i in 0..2 {
        let row = err
            .lines()
            .find(|l| l.starts_with(&format!("pixfuse: ✓ take-{i:02}  ")))
            .unwrap_or_else(|| panic!("no line for take-{i:02}:\n{err}"));
        assert!(row.contains(" s  ") && row.contains(" credits  "), "{row}");
        assert!(row.ends_with(&format!("take-{i:02}.mp4")), "{row}");
    }
    assert!(!err.contains("concurrency now"), "{err}");
    assert_eq!(repeated(&err), Vec::<&str>::new(), "{err}");
    assert!(run(true, "again").contains("pixfuse: concurrency now "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_estimates_a_video_the_journal_knows() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(79).await;
    vendor.mount_status(79, 2, 1).await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["submit", job.to_str().unwrap()]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), "79");
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["wait", "79"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    let generating: Vec<&str> = err.lines().filter(|l| l.contains("generating")).collect();
    assert_eq!(generating.len(), 1, "{err}");
    assert!(generating[0].contains("left (usually "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_estimates_the_time_left_like_run() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_status(81, 2, 1).await;
    vendor.mount_video().await;
    let down = vendor
        .mount_switch(
            "POST",
            GENERATE,
            ResponseTemplate::new(503).set_body_string("down"),
            ok(serde_json::json!({"video_id": 81})),
        )
        .await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"]);
    assert_exit(&exec(cmd), 10);
    down.flip();

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["resume", "1"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let err = stderr(&out);
    let generating: Vec<&str> = err.lines().filter(|l| l.contains("generating")).collect();
    assert_eq!(generating.len(), 1, "{err}");
    assert!(generating[0].contains("left (usually "), "{err}");
}
