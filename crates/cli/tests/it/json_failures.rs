//! `--json` prints exactly one result object for every failure of a networked command, also
//! when it fails before anything is sent (issue 5's contract).

use crate::common;

use common::*;

/// The one object on stdout: an error whose `exit_code` is the process's.
#[track_caller]
fn assert_one_error_object(out: &std::process::Output, expected: i32) {
    assert_exit(out, expected);
    let value = json(out);
    assert_eq!(value["status"], "error", "{value}");
    assert_eq!(value["exit_code"], expected, "{value}");
    assert!(
        value["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{value}"
    );
}

#[test]
fn no_key_gives_one_object_for_every_networked_command() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let job = job.to_str().unwrap();
    let batch = s.path().join("jobs.jsonl");
    std::fs::write(
        &batch,
        format!(
            "{}\n",
            serde_json::to_string(
                &std::fs::read_to_string(job)
                    .unwrap()
                    .parse::<serde_json::Value>()
                    .unwrap()
            )
            .unwrap()
        ),
    )
    .unwrap();
    let commands: &[&[&str]] = &[
        &["run", job, "-o", "out.mp4"],
        &["submit", job],
        &["status", "7"],
        &["wait", "7"],
        &["download", "7", "-o", "out.mp4"],
        &["upload", "dog.png"],
        &["balance"],
        &["resume"],
        &["batch", "jobs.jsonl", "--out-dir", "out"],
    ];
    for args in commands {
        let mut cmd = s.bare();
        cmd.arg("--json").args(*args);
        let out = exec(cmd);
        assert_one_error_object(&out, 4);
    }
}

#[test]
fn an_unreadable_job_file_and_a_bad_ref_give_one_object() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY)
        .args(["--json", "run", "missing.json", "-o", "out.mp4"]);
    assert_one_error_object(&exec(cmd), 2);

    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY)
        .args(["--json", "submit", "--ref", "dog", "--prompt", "x"]);
    assert_one_error_object(&exec(cmd), 2);
}

#[test]
fn a_bad_config_or_base_url_gives_one_object() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY)
        .args(["--json", "--config", "nowhere.toml", "balance"]);
    assert_one_error_object(&exec(cmd), 2);

    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY)
        .args(["--json", "--base-url", "not a url", "balance"]);
    assert_one_error_object(&exec(cmd), 2);
}

#[test]
fn a_corrupt_journal_gives_one_object_for_jobs() {
    let s = Scratch::new();
    std::fs::create_dir_all(s.state()).unwrap();
    std::fs::write(s.state().join("journal.sqlite3"), vec![0x42; 4096]).unwrap();
    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    assert_one_error_object(&exec(cmd), 1);
}
