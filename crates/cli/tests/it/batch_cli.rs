//! `pixfuse batch` end to end: the dry run, SIGKILL midway and a rerun that finishes with every
//! job billed once, the budget stop, and the exit code of a batch with mixed failures.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

/// `pixfuse batch` pointed at `sandbox` with its demo key in the environment.
fn batch_cmd(scratch: &Scratch, sandbox: &RunningSandbox, batch: &Path) -> Command {
    let mut cmd = scratch.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .args(["--base-url", sandbox.base_url()])
        .args(["--poll-interval", "50ms", "--retry-base-delay", "1ms"])
        .arg("batch")
        .arg(batch)
        .arg("--out-dir")
        .arg(scratch.path().join("out"));
    cmd
}

fn videos(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "mp4"))
            })
            .count()
    })
}

#[test]
fn dry_run_prints_the_plan_and_cost_and_sends_nothing() {
    let scratch = Scratch::new();
    let batch = write_batch(scratch.path(), 4, |_, _| {});
    let mut cmd = scratch.bare();
    // No key and an unroutable URL: a dry run needs neither.
    cmd.args(["--base-url", "http://127.0.0.1:9", "batch"])
        .arg(&batch)
        .args(["--out-dir", "out", "--dry-run", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["jobs"].as_array().unwrap().len(), 4);
    let each = v["jobs"][0]["estimated_credits"].as_f64().unwrap();
    assert_eq!(v["estimated_credits"].as_f64().unwrap(), each * 4.0);
    assert!(!scratch.path().join("out").exists());

    let mut human = scratch.bare();
    human
        .arg("batch")
        .arg(&batch)
        .args(["--out-dir", "out", "--dry-run"]);
    let out = exec(human);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("take-03") && text.contains("nothing was sent"),
        "{text}"
    );
    assert!(
        text.contains(&format!("about {} credits", each * 4.0)),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_midway_and_run_again_every_job_is_billed_once() {
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: 3,
        generation_time: Duration::from_millis(600),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let scratch = Scratch::new();
    let batch = write_batch(scratch.path(), 12, |_, _| {});
    let out_dir = scratch.path().join("out");

    let mut first = batch_cmd(&scratch, &sandbox, &batch);
    first.args(["--concurrency", "3"]);
    let mut child = first
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while videos(&out_dir) < 4 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = sandbox.stats().billable_jobs;
    assert!((1..12).contains(&before), "killed midway: {before} billed");

    let mut again = batch_cmd(&scratch, &sandbox, &batch);
    again.args(["--concurrency", "auto", "--json"]);
    let out = run(again, Duration::from_secs(60));
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["done"], 12, "{v}");
    assert_eq!(v["status"], "done");
    assert_eq!(sandbox.stats().billable_jobs, 12, "{:?}", sandbox.stats());
    let video = std::fs::read(out_dir.join("take-00.mp4")).unwrap();
    for i in 0..12 {
        assert_eq!(
            std::fs::read(out_dir.join(format!("take-{i:02}.mp4"))).unwrap(),
            video
        );
    }
    assert_eq!(videos(&out_dir), 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_failures_exit_with_the_most_severe_code() {
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let scratch = Scratch::new();
    let batch = write_batch(scratch.path(), 4, |i, line| {
        if i == 1 {
            line["prompt"] = "@dog runs through @park sandbox-moderate".into();
        }
    });
    let mut cmd = batch_cmd(&scratch, &sandbox, &batch);
    cmd.arg("--json");
    let out = exec(cmd);
    assert_exit(&out, 6); // moderation, the only failure
    let v = json(&out);
    assert_eq!(
        (v["done"].as_u64(), v["failed"]["moderation"].as_u64()),
        (Some(3), Some(1))
    );

    // Add an invalid line: 3 (invalid request) is more severe than 6 (moderation).
    let mut text = std::fs::read_to_string(&batch).unwrap();
    text.push_str("{\"id\":\"broken\",\"model\":\"v5\"}\n");
    std::fs::write(&batch, text).unwrap();
    let mut cmd = batch_cmd(&scratch, &sandbox, &batch);
    cmd.arg("--json");
    let out = exec(cmd);
    assert_exit(&out, 3);
    let v = json(&out);
    assert_eq!(v["done_earlier"], 3, "{v}");
    assert_eq!(
        sandbox.stats().billable_jobs,
        4,
        "the rerun billed nothing new"
    );

    // A budget that fits none of the new lines: exit 5, and it says so.
    let batch2 = write_batch(scratch.path(), 2, |i, line| {
        line["id"] = format!("more-{i}").into();
    });
    let mut cmd = batch_cmd(&scratch, &sandbox, &batch2);
    cmd.args(["--budget", "1"]);
    let out = exec(cmd);
    assert_exit(&out, 5);
    assert!(stderr(&out).contains("budget"), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("skipped by budget"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sandbox.stats().billable_jobs, 4);
}

/// `--concurrency auto` learns the account's limit once: the first batch's probes above it are
/// refused (500044, billed nothing), the journal keeps what they taught, and a later batch on
/// the same journal — another process — starts at the limit and is never refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_concurrency_learns_the_limit_once_for_every_process() {
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: 2,
        generation_time: Duration::from_millis(300),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let scratch = Scratch::new();
    let first = write_batch(scratch.path(), 8, |_, _| {});
    let mut cmd = batch_cmd(&scratch, &sandbox, &first);
    cmd.args(["--concurrency", "auto", "--json"]);
    let out = run(cmd, Duration::from_secs(60));
    assert_exit(&out, 0);
    let refused = sandbox.stats().concurrency_refusals;
    assert!(
        refused > 0,
        "auto probes above the limit: {:?}",
        sandbox.stats()
    );

    let second = scratch.path().join("more.jsonl");
    let text = std::fs::read_to_string(&first)
        .unwrap()
        .replace("take-", "more-");
    std::fs::write(&second, text).unwrap();
    let mut cmd = batch_cmd(&scratch, &sandbox, &second);
    cmd.args(["--concurrency", "auto", "--json"]);
    let out = run(cmd, Duration::from_secs(60));
    assert_exit(&out, 0);
    assert_eq!(json(&out)["done"], 8);
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, 16, "{stats:?}");
    assert_eq!(
        stats.concurrency_refusals, refused,
        "the second batch used the learned limit: {stats:?}"
    );
    assert!(stats.peak_generating <= 2, "{stats:?}");
}
