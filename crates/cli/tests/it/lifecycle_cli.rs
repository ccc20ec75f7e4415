//! The lifecycle across processes: two `pixfuse` at once on one journal, a rerun after SIGKILL,
//! `--new`, and destinations proven writable before anything is sent. Every test points real
//! `pixfuse` processes at one sandbox running in the test process.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

/// `pixfuse` pointed at `sandbox` with its demo key in the environment.
fn cmd(scratch: &Scratch, sandbox: &RunningSandbox) -> Command {
    let mut cmd = scratch.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .args(["--base-url", sandbox.base_url()])
        .args(["--poll-interval", "50ms", "--retry-base-delay", "1ms"]);
    cmd
}

fn spawn(mut cmd: Command) -> Child {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` (killing it after `limit`).
fn finish(child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

async fn sandbox(generation: Duration, limit: u32) -> RunningSandbox {
    Sandbox::start(SandboxConfig {
        generation_time: generation,
        concurrency_limit: limit,
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_batches_on_one_journal_bill_every_line_once() {
    for offset in [0, 100, 1000] {
        let sandbox = sandbox(Duration::from_millis(400), 3).await;
        let scratch = Scratch::new();
        let batch = write_batch(scratch.path(), 6, |_, _| {});
        let start = |scratch: &Scratch| {
            let mut c = cmd(scratch, &sandbox);
            c.arg("batch")
                .arg(&batch)
                .arg("--out-dir")
                .arg(scratch.path().join("out"))
                .args(["--concurrency", "3", "--json"]);
            spawn(c)
        };
        let first = start(&scratch);
        std::thread::sleep(Duration::from_millis(offset));
        let second = start(&scratch);
        for out in [
            finish(first, Duration::from_secs(60)),
            finish(second, Duration::from_secs(60)),
        ] {
            assert_exit(&out, 0);
            assert_eq!(json(&out)["done"], 6, "offset {offset} ms");
        }
        let stats = sandbox.stats();
        assert_eq!(stats.billable_jobs, 6, "offset {offset} ms: {stats:?}");
        let video = std::fs::read(scratch.path().join("out/take-00.mp4")).unwrap();
        for i in 0..6 {
            let path = scratch.path().join(format!("out/take-{i:02}.mp4"));
            assert_eq!(std::fs::read(&path).unwrap(), video, "offset {offset} ms");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_of_one_job_bill_it_once() {
    for offset in [0, 100, 1000] {
        let sandbox = sandbox(Duration::from_millis(600), 5).await;
        let scratch = Scratch::new();
        let job = write_job(scratch.path());
        let start = || {
            let mut c = cmd(&scratch, &sandbox);
            c.arg("run").arg(&job).args(["-o", "clip.mp4"]);
            spawn(c)
        };
        let first = start();
        std::thread::sleep(Duration::from_millis(offset));
        let second = start();
        let outs = [
            finish(first, Duration::from_secs(30)),
            finish(second, Duration::from_secs(30)),
        ];
        for out in &outs {
            assert_exit(out, 0);
        }
        assert_eq!(sandbox.stats().billable_jobs, 1, "offset {offset} ms");
        let told = outs.iter().any(|o| {
            let e = stderr(o);
            e.contains("is being run by another pixfuse process (pid")
                || e.contains("already saved this video")
        });
        assert!(
            told,
            "offset {offset} ms: {}\n---\n{}",
            stderr(&outs[0]),
            stderr(&outs[1])
        );
        assert!(scratch.path().join("clip.mp4").is_file());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_again_after_sigkill_continues_the_same_job_and_new_makes_another() {
    let sandbox = sandbox(Duration::from_millis(800), 5).await;
    let scratch = Scratch::new();
    let job = write_job(scratch.path());
    let run = || {
        let mut c = cmd(&scratch, &sandbox);
        c.arg("run").arg(&job).args(["-o", "clip.mp4"]);
        c
    };
    let mut child = spawn(run());
    let start = Instant::now();
    while sandbox.stats().submits_received == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no submit arrived"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let out = exec(run());
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("the process that ran it")
            || stderr(&out).contains("continuing job 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sandbox.stats().billable_jobs, 1, "{:?}", sandbox.stats());
    let video = std::fs::read(scratch.path().join("clip.mp4")).unwrap();

    // Again: already done, nothing sent.
    let before = sandbox.stats().submits_received;
    let out = exec(run());
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("already saved"), "{}", stderr(&out));
    assert_eq!(sandbox.stats().submits_received, before);

    // --new: a second, separately billed video.
    let mut again = run();
    again.arg("--new");
    let out = exec(again);
    assert_exit(&out, 0);
    assert_eq!(sandbox.stats().billable_jobs, 2);
    assert_eq!(
        std::fs::read(scratch.path().join("clip.mp4")).unwrap(),
        video
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_still_generating_is_not_forgotten_without_force() {
    let sandbox = sandbox(Duration::from_secs(60), 5).await;
    let scratch = Scratch::new();
    let job = write_job(scratch.path());
    let mut c = cmd(&scratch, &sandbox);
    c.arg("run")
        .arg(&job)
        .args(["-o", "clip.mp4", "--timeout", "2s"]);
    assert_exit(&exec(c), 8);

    let mut rm = cmd(&scratch, &sandbox);
    rm.args(["jobs", "rm", "1"]);
    let out = exec(rm);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("may still be generating"),
        "{}",
        stderr(&out)
    );
    let mut rm = cmd(&scratch, &sandbox);
    rm.args(["jobs", "rm", "1", "--force", "--json"]);
    let out = exec(rm);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["results"][0]["status"], "forgotten");
    let mut list = cmd(&scratch, &sandbox);
    list.args(["jobs", "--json"]);
    assert_eq!(json(&exec(list))["jobs"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_stopped_by_its_timeout_counts_every_line_once_and_what_it_charged() {
    let sandbox = sandbox(Duration::from_secs(60), 5).await;
    let scratch = Scratch::new();
    let batch = write_batch(scratch.path(), 2, |_, _| {});
    let mut c = cmd(&scratch, &sandbox);
    c.args(["--timeout", "3s", "batch"])
        .arg(&batch)
        .arg("--out-dir")
        .arg(scratch.path().join("out"));
    let mut json_cmd = cmd(&scratch, &sandbox);
    json_cmd
        .args(["--timeout", "3s", "batch"])
        .arg(&batch)
        .arg("--out-dir")
        .arg(scratch.path().join("out"))
        .arg("--json");
    let out = exec(json_cmd);
    assert_exit(&out, 8);
    let v = json(&out);
    assert_eq!(v["still_running"], 2, "{v}");
    assert_eq!(v["failed"], serde_json::json!({}), "{v}");
    let charged = v["credits_this_run"].as_i64().unwrap();
    assert!(charged > 0, "the submits were billed: {v}");
    assert_eq!(
        charged,
        (10_000 - sandbox.credits_left()) as i64,
        "what the server charged"
    );
    // The human summary of a rerun: the same lines, still running, charged earlier.
    let out = exec(c);
    assert_exit(&out, 8);
    let text = stdout(&out);
    assert!(!text.contains("failed line"), "{text}");
    assert!(text.contains("still running line 1"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("credits charged earlier")
            && l.trim_end().ends_with(&charged.to_string())),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("credits charged this run") && l.trim_end().ends_with(" 0")),
        "{text}"
    );
    assert_eq!(sandbox.stats().billable_jobs, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_destination_is_refused_before_anything_is_sent() {
    let vendor = Vendor::start().await; // answers nothing: every request would be 599
    let s = Scratch::new();
    let job = write_job(s.path());
    std::fs::create_dir(s.path().join("a-dir")).unwrap();
    std::fs::write(s.path().join("a-file"), b"x").unwrap();
    let mut outputs = vec![
        s.path().join("a-dir"),
        s.path().join("a-file").join("clip.mp4"),
    ];
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = s.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        if tempfile::tempfile_in(&locked).is_err() {
            outputs.push(locked.join("clip.mp4"));
        } else if Path::new("/proc/self").is_dir() {
            // Running as root, permissions do not stop writes; procfs does.
            outputs.push(PathBuf::from("/proc/self/clip.mp4"));
        }
    }
    for output in outputs {
        let mut c = s.cmd(&vendor.uri());
        c.arg("run").arg(&job).arg("-o").arg(&output);
        let out = exec(c);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("cannot write the video to"),
            "{}",
            stderr(&out)
        );
        let mut c = s.cmd(&vendor.uri());
        c.arg("submit").arg(&job).arg("-o").arg(&output);
        assert_exit(&exec(c), 2);
    }
    assert!(
        vendor.server.received_requests().await.unwrap().is_empty(),
        "no upload, no submit"
    );
    // Nothing was claimed either.
    let mut c = s.cmd(&vendor.uri());
    c.args(["jobs", "--json"]);
    assert_eq!(json(&exec(c))["jobs"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_interrupted_midway_finishes_on_the_rerun_billing_each_line_once() {
    let sandbox = sandbox(Duration::from_millis(500), 2).await;
    let scratch = Scratch::new();
    let batch = write_batch(scratch.path(), 6, |_, _| {});
    let out_dir = scratch.path().join("out");
    let batch_cmd = || {
        let mut c = cmd(&scratch, &sandbox);
        c.arg("batch")
            .arg(&batch)
            .arg("--out-dir")
            .arg(&out_dir)
            .args(["--concurrency", "2"]);
        c
    };
    let child = spawn(batch_cmd());
    let start = Instant::now();
    while sandbox.stats().billable_jobs < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = finish(child, Duration::from_secs(10));
    assert_exit(&out, 130);
    let err = stderr(&out);
    assert!(
        err.contains("(the same command again)") && err.contains(" batch "),
        "{err}"
    );
    let billed = sandbox.stats().billable_jobs;
    assert!(billed < 6, "stopped before the end: {billed}");

    let mut again = batch_cmd();
    again.arg("--json");
    let out = run(again, Duration::from_secs(60));
    assert_exit(&out, 0);
    assert_eq!(json(&out)["done"], 6);
    assert_eq!(sandbox.stats().billable_jobs, 6, "{:?}", sandbox.stats());
}
