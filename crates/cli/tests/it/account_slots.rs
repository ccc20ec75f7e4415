//! `--account-slots`: single `run`s in separate processes share the account's slots through
//! the journal, so together they never send more generating jobs than the account allows.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

/// `run` of the job `<take>.json` (written by [`job_file`]) to `<take>.mp4`, gated by one
/// account slot.
fn run_one(s: &Scratch, sandbox: &RunningSandbox, journal: Option<&str>, take: &str) -> Command {
    let job = s.path().join(format!("{take}.json"));
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .env("PIXFUSE_ACCOUNT_SLOTS", "1")
        .args(["--base-url", sandbox.base_url()])
        .args(["--poll-interval", "20ms", "--retry-base-delay", "1ms"]);
    if let Some(url) = journal {
        cmd.env("PIXFUSE_JOURNAL_URL", url);
    }
    cmd.arg("run").arg(job).args(["-o", &format!("{take}.mp4")]);
    cmd
}

fn job_file(dir: &Path, take: &str) -> PathBuf {
    let mut job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(write_job(dir)).unwrap()).unwrap();
    job["prompt"] = format!("@dog runs through @park at dusk, {take}").into();
    let path = dir.join(format!("{take}.json"));
    std::fs::write(&path, job.to_string()).unwrap();
    path
}

fn spawn(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a run did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Two `run` processes on one journal with the sandbox's limit 1: the second waits for the
/// first's slot (and says so) instead of being refused with 500044; a third, with a short
/// `--timeout`, gives up waiting and names the job to resume.
async fn two_runs_share_one_slot(journal: Option<&str>) {
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: 1,
        generation_time: Duration::from_millis(3000),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let s = Scratch::new();
    // Every job file (and the images they share) before any process reads one: writing them
    // again while a run uploads would hand it a truncated image.
    for take in ["first", "second", "third"] {
        job_file(s.path(), take);
    }
    let first = spawn(&mut run_one(&s, &sandbox, journal, "first"));
    let start = Instant::now();
    while sandbox.stats().billable_jobs < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first never submitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = spawn(&mut run_one(&s, &sandbox, journal, "second"));
    let mut third = run_one(&s, &sandbox, journal, "third");
    third.args(["--timeout", "1s"]);
    let out = exec(third);
    assert_exit(&out, 8);
    let err = stderr(&out);
    assert!(
        err.contains("waiting for an account slot: 1 of 1 in use")
            && err.contains("the wait for an account slot")
            && err.contains("pixfuse resume"),
        "{err}"
    );
    for child in [first, second] {
        let out = finish(child);
        assert_exit(&out, 0);
    }
    assert!(s.path().join("first.mp4").is_file() && s.path().join("second.mp4").is_file());
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, 2, "{stats:?}");
    assert_eq!(
        stats.concurrency_refusals, 0,
        "the runs share the slot: {stats:?}"
    );
    assert!(stats.peak_generating <= 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_share_one_slot_in_sqlite() {
    two_runs_share_one_slot(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_share_one_slot_in_postgres() {
    let Some(url) = crate::shared_journal::fresh_database() else {
        return;
    };
    two_runs_share_one_slot(Some(&url)).await;
}
