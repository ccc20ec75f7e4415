//! Every exit code of the contract, each reached the way a user would reach it.

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

async fn run_job(vendor: &Vendor, s: &Scratch, extra: &[&str]) -> std::process::Output {
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4"])
        .args(extra);
    exec(cmd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_0_success() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(1).await;
    assert_exit(&run_job(&vendor, &s, &[]).await, 0);
}

#[test]
fn exit_1_internal_error_on_a_corrupt_journal() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.state()).unwrap();
    std::fs::write(s.state().join("journal.sqlite3"), vec![0x42; 4096]).unwrap();
    let mut cmd = s.bare();
    cmd.arg("jobs");
    let out = exec(cmd);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("journal"), "{}", stderr(&out));
}

#[test]
fn exit_2_usage() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(["run", "--ref", "dog", "-o", "x.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("NAME=PATH"), "{}", stderr(&out));

    let mut cmd = s.bare();
    cmd.args(["run", "job.json"]); // no -o
    assert_exit(&exec(cmd), 2);

    let mut cmd = s.bare();
    cmd.args(["--poll-interval", "soon", "jobs"]);
    assert_exit(&exec(cmd), 2);

    let mut cmd = s.bare();
    cmd.args(["status", "not-a-number"]);
    assert_exit(&exec(cmd), 2);

    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY).args(["resume", "99"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("pixfuse jobs"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_3_invalid_offline_and_from_the_server() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args([
        "run",
        job.to_str().unwrap(),
        "-o",
        "x.mp4",
        "--duration",
        "7",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("/duration"), "{}", stderr(&out));
    assert!(vendor.server.received_requests().await.unwrap().is_empty());

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["submit", job.to_str().unwrap(), "--duration", "7", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 3);
    let v = json(&out);
    assert_eq!(v["status"], "invalid");
    assert_eq!(v["errors"][0]["path"], "/duration");

    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(400017, "invalid param"))
        .await;
    let out = run_job(&vendor, &s, &[]).await;
    assert_exit(&out, 3);
    assert_eq!(vendor.submit_trace_ids().await.len(), 1, "never retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_4_authentication() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    let mut cmd = s.bare();
    cmd.args(["--base-url", &vendor.uri(), "balance"]);
    let out = exec(cmd);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("PIXFUSE_API_KEY"), "{}", stderr(&out));

    wiremock::Mock::given(method("GET"))
        .and(path(BALANCE))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"ErrCode": 400012, "ErrMsg": "Invalid API-KEY", "Resp": {}})),
        )
        .mount(&vendor.server)
        .await;
    let mut cmd = s.cmd(&vendor.uri());
    cmd.arg("balance");
    assert_exit(&exec(cmd), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_5_insufficient_credits() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(500090, "insufficient balance"))
        .await;
    assert_exit(&run_job(&vendor, &s, &[]).await, 5);
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_6_content_moderation() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(6).await;
    vendor.mount_status(6, 1, 7).await;
    let out = run_job(&vendor, &s, &[]).await;
    assert_exit(&out, 6);
    assert!(stderr(&out).contains("moderation"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_7_generation_failed_or_deleted() {
    for status in [8, 6] {
        let s = Scratch::new();
        let vendor = Vendor::start().await;
        vendor.mount_upload().await;
        vendor.mount_submit(70).await;
        vendor.mount_status(70, 0, status).await;
        assert_exit(&run_job(&vendor, &s, &[]).await, 7);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_8_still_running_names_the_resume_command() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(80).await;
    vendor.mount_status(80, 1_000_000, 1).await;
    // --timeout bounds the whole command: long enough to journal and submit, not to finish.
    let out = run_job(&vendor, &s, &["--timeout", "1s"]).await;
    assert_exit(&out, 8);
    assert!(
        stderr(&out).contains("pixfuse resume 1"),
        "{}",
        stderr(&out)
    );

    // The same command again continues job 1 (nothing is billed twice) and times out again.
    let out = run_job(&vendor, &s, &["--timeout", "1s", "--json"]).await;
    assert_exit(&out, 8);
    let v = json(&out);
    assert_eq!(v["status"], "running");
    assert_eq!(v["resume_command"], "pixfuse resume 1");
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
    assert_eq!(v["video_id"], "80");

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["wait", "12345", "--timeout", "30ms"]);
    wiremock::Mock::given(method("GET"))
        .and(path(format!("{RESULT_PREFIX}12345")))
        .respond_with(ok(json!({"id": 12345, "status": 5})))
        .mount(&vendor.server)
        .await;
    let out = exec(cmd);
    assert_exit(&out, 8);
    assert!(
        stderr(&out).contains("pixfuse wait 12345"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_9_concurrency_limit_persisted() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(500044, "concurrent generation limit"))
        .await;
    let started = std::time::Instant::now();
    let out = run_job(&vendor, &s, &[]).await;
    assert_exit(&out, 9);
    let traces = vendor.submit_trace_ids().await;
    assert!(traces.len() > 1, "waited for a slot");
    assert!(traces.iter().all(|t| *t == traces[0]));
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_10_network_or_server_failure() {
    let s = Scratch::new();
    // A port nobody listens on: connection refused on every attempt.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = s.cmd(&format!("http://127.0.0.1:{closed}"));
    cmd.arg("balance");
    assert_exit(&exec(cmd), 10);

    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(500100, "server error"))
        .await;
    assert_exit(&run_job(&vendor, &s, &[]).await, 10);
}
