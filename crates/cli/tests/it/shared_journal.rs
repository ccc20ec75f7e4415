//! The journal in a shared PostgreSQL database (`--journal`, `PIXFUSE_JOURNAL_URL`): what one
//! machine journals another sees, and the password never shows nor comes from argv. Needs
//! `PIXFUSE_TEST_POSTGRES_URL` (`.ci/run` starts a throw-away server); skipped, saying so, only
//! with `PIXFUSE_TEST_POSTGRES=off`.

use crate::common;

use std::process::Command;

use common::*;

/// A fresh database on the test server, as a URL; `None` (said) when switched off.
fn fresh_database() -> Option<String> {
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
