//! The journal in a shared PostgreSQL database (`--journal`, `PIXFUSE_JOURNAL_URL`): what one
//! machine journals another sees, and the password never shows nor comes from argv. Needs
//! `PIXFUSE_TEST_POSTGRES_URL` (`.ci/run` starts a throw-away server); skipped, saying so, only
//! with `PIXFUSE_TEST_POSTGRES=off`.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use pixfuse_sandbox::{FaultConfig, RunningSandbox, Sandbox, SandboxConfig};

/// A fresh database on the test server, as a URL; `None` (said) when switched off.
pub(crate) fn fresh_database() -> Option<String> {
    if std::env::var("PIXFUSE_TEST_POSTGRES").is_ok_and(|v| v == "off") {
        eprintln!("skipped: PIXFUSE_TEST_POSTGRES=off (the PostgreSQL journal is not tested)");
        return None;
    }
    let base = std::env::var("PIXFUSE_TEST_POSTGRES_URL").expect(
        "PIXFUSE_TEST_POSTGRES_URL is not set: run the tests through .ci/run, point it at a \
         server of yours, or set PIXFUSE_TEST_POSTGRES=off to skip the PostgreSQL tests",
    );
    let name = format!(
        "pixfuse_cli_{}",
        std::process::id() as u64 * 1000 + rand_suffix()
    );
    let out = Command::new("psql")
        .args([base.as_str(), "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (server, _db) = base.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}"))
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_password_on_the_command_line_is_refused_and_never_echoed() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args([
        "jobs",
        "--journal",
        "postgres://app:hunter2@127.0.0.1:9/jobs",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("postgres://app:***@127.0.0.1:9/jobs"), "{err}");
    assert!(err.contains("PIXFUSE_JOURNAL_URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn an_unreachable_shared_journal_names_it_without_the_password() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.env(
        "PIXFUSE_JOURNAL_URL",
        "postgres://app:hunter2@127.0.0.1:9/jobs?connect_timeout=2",
    )
    .args(["jobs", "--json"]);
    let out = exec(cmd);
    assert_ne!(code(&out), 0);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("app:***@127.0.0.1:9"), "{all}");
    assert!(!all.contains("hunter2"), "{all}");
}

#[test]
fn what_one_machine_journals_another_sees() {
    let Some(url) = fresh_database() else { return };
    let (a, b) = (Scratch::new(), Scratch::new());
    let job = write_job(a.path());
    let mut cmd = a.bare();
    cmd.env("PIXFUSE_JOURNAL_URL", &url)
        .env("PIXFUSE_SANDBOX_TIME_SCALE", "0.1")
        .args(["--sandbox", "--poll-interval", "20ms", "--json", "run"])
        .arg(&job)
        .args(["-o", "clip.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(a.path().join("clip.mp4").is_file());
    // Another state directory (another machine): the same journal, through --journal.
    let mut cmd = b.bare();
    cmd.args(["--json", "jobs", "--journal", &url]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let jobs = json(&out)["jobs"].as_array().unwrap().clone();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["state"], "downloaded");
}

/// One worker of the shared batch `batch` on `url` against `sandbox`.
fn worker(
    s: &Scratch,
    sandbox: &RunningSandbox,
    url: &str,
    batch: &Path,
    concurrency: &str,
) -> Command {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .env("PIXFUSE_JOURNAL_URL", url)
        .args(["--base-url", sandbox.base_url()])
        .args(["--poll-interval", "50ms", "--retry-base-delay", "1ms"])
        .arg("batch")
        .arg(batch)
        .arg("--out-dir")
        .arg(s.path().join("out"))
        .args(["--worker", "--concurrency", concurrency, "--json"]);
    cmd
}

fn signal(pid: u32, which: &str) {
    let sent = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill {which} {pid}");
}

fn batch_status(s: &Scratch, url: &str, batch: &Path) -> serde_json::Value {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_JOURNAL_URL", url)
        .args(["--json", "batch"])
        .arg(batch)
        .arg("--status");
    let out = exec(cmd);
    assert_exit(&out, 0);
    json(&out)
}

/// Three workers on one 60-line batch against one sandbox (limit 3, faults on), one SIGKILLed
/// midway: every line billed once, every video exact, never more than 3 generating — and no
/// submit ever refused for lack of a slot, because the workers share the account's slots —
/// and the dead worker's lines finished by the others with their original trace ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_one_batch_and_one_account_s_limit() {
    let Some(url) = fresh_database() else { return };
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: 3,
        generation_time: Duration::from_millis(300),
        faults: FaultConfig {
            seed: 16,
            rate_limit: 0.03,
            server_error: 0.03,
            drop_after_submit: 0.05,
            truncated_json: 0.03,
            cut_download: 0.05,
            retry_after_secs: 0,
        },
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let s = Scratch::new();
    let batch = write_batch(s.path(), 60, |_, _| {});
    let spawn = |cmd: &mut Command| {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut victim = spawn(&mut worker(&s, &sandbox, &url, &batch, "3"));
    let mut others: Vec<_> = (0..2)
        .map(|_| spawn(&mut worker(&s, &sandbox, &url, &batch, "3")))
        .collect();
    // Midway: the victim holds lines (a job of its is submitted), then it dies.
    let victim_pid = victim.id();
    let start = Instant::now();
    let held = loop {
        assert!(start.elapsed() < Duration::from_secs(40), "no progress");
        std::thread::sleep(Duration::from_millis(50));
        if sandbox.stats().billable_jobs < 12 {
            continue;
        }
        // Frozen first, so what the status shows it holding is what it dies holding.
        signal(victim_pid, "-STOP");
        let status = batch_status(&s, &url, &batch);
        let held: Vec<(i64, String)> = status["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| {
                l["state"] == "running"
                    && l["worker"]
                        .as_str()
                        .is_some_and(|w| w.ends_with(&format!(":{victim_pid}")))
                    && l["trace_id"].is_string()
            })
            .map(|l| {
                (
                    l["line"].as_i64().unwrap(),
                    l["trace_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if !held.is_empty() {
            break held;
        }
        signal(victim_pid, "-CONT");
    };
    victim.kill().unwrap(); // SIGKILL
    victim.wait().unwrap();
    for child in &mut others {
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("a worker did not finish");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    for child in others {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let status = batch_status(&s, &url, &batch);
    assert_eq!(
        (status["done"].as_u64(), status["lines"].as_u64()),
        (Some(60), Some(60)),
        "{status}"
    );
    assert_eq!(status["finished"], true);
    let lines = status["jobs"].as_array().unwrap();
    for (line, trace) in &held {
        let now = lines.iter().find(|l| l["line"] == *line).unwrap();
        assert_eq!(
            now["trace_id"],
            *trace.as_str(),
            "line {line} kept its trace id: {now}"
        );
        assert!(
            now["attempts"].as_i64().unwrap() >= 2,
            "line {line} was taken over: {now}"
        );
    }
    let mut human = s.bare();
    human
        .env("PIXFUSE_JOURNAL_URL", &url)
        .arg("batch")
        .arg(&batch)
        .arg("--status");
    let out = exec(human);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("60 lines: 60 done, 0 failed, 0 running, 0 pending")
            && text.contains("take-59"),
        "{text}"
    );
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, 60, "{stats:?}");
    assert!(stats.peak_generating <= 3, "{stats:?}");
    assert_eq!(
        stats.concurrency_refusals, 0,
        "the workers share the account's slots: {stats:?}"
    );
    let out = s.path().join("out");
    let video = std::fs::read(out.join("take-00.mp4")).unwrap();
    for i in 0..60 {
        let path = out.join(format!("take-{i:02}.mp4"));
        assert_eq!(std::fs::read(&path).unwrap(), video, "{}", path.display());
    }
}

#[test]
fn a_worker_without_a_shared_journal_says_what_to_do() {
    let s = Scratch::new();
    let batch = write_batch(s.path(), 2, |_, _| {});
    for flag in ["--worker", "--status"] {
        let mut cmd = s.bare();
        cmd.env("PIXFUSE_API_KEY", "k")
            .arg("batch")
            .arg(&batch)
            .args(["--out-dir", "out", flag]);
        let out = exec(cmd);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("--journal postgres://") && err.contains("PIXFUSE_JOURNAL_URL"),
            "{err}"
        );
    }
}

/// Workers with `--concurrency auto` discover the account's limit together: every line done
/// and billed once, never more generating than the account allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_workers_discover_the_limit_together() {
    let Some(url) = fresh_database() else { return };
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: 2,
        generation_time: Duration::from_millis(200),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let s = Scratch::new();
    let batch = write_batch(s.path(), 16, |_, _| {});
    let mut children: Vec<_> = (0..2)
        .map(|_| {
            worker(&s, &sandbox, &url, &batch, "auto")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    for child in &mut children {
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("a worker did not finish");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut done = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        done += json(&out)["done"].as_u64().unwrap();
    }
    assert_eq!(done, 16, "each line run by one worker");
    let status = batch_status(&s, &url, &batch);
    assert_eq!(status["done"], 16, "{status}");
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, 16, "{stats:?}");
    assert!(stats.peak_generating <= 2, "{stats:?}");
}
