//! What the local side does with hostile or oversized input and a hostile disk: batch outputs
//! that try to leave `--out-dir`, a JSONL line of any length, a huge job file, a sidecar path
//! that is blocked, a journal that stops accepting writes mid-job.

use crate::common;

use common::*;
use serde_json::{Value, json};

fn one_line_request() -> String {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/examples/seed.json"
    ))
    .unwrap();
    serde_json::from_str::<Value>(&text).unwrap().to_string()
}

#[test]
fn batch_outputs_outside_the_out_dir_are_refused_naming_the_line() {
    let s = Scratch::new();
    let job = one_line_request();
    let line = |extra: &str| format!("{}, {extra}}}", job.trim_end_matches('}'));
    let jobs = [
        line(r#""id": "a", "output": "../elsewhere/x.mp4""#),
        line(r#""id": "b", "output": "/tmp/overwritten.mp4""#),
        line(r#""id": "c", "output": "c/ok.mp4""#),
    ]
    .join("\n");
    std::fs::write(s.path().join("jobs.jsonl"), jobs).unwrap();
    let mut cmd = s.bare();
    cmd.args([
        "--json",
        "batch",
        "jobs.jsonl",
        "--out-dir",
        "out",
        "--dry-run",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    let v = json(&out);
    let rejected = v["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{v}");
    assert_eq!(rejected[0]["line"], 1);
    assert!(
        rejected[0]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 1: \"output\""),
        "{v}"
    );
    assert!(
        rejected[1]["error"].as_str().unwrap().contains("absolute"),
        "{v}"
    );
    assert_eq!(v["jobs"].as_array().unwrap().len(), 1, "{v}");
}

#[test]
fn validate_jsonl_skips_an_overlong_line_and_goes_on() {
    let s = Scratch::new();
    let good = one_line_request();
    let long = format!("{{\"prompt\": \"{}\"}}", "x".repeat(3000));
    std::fs::write(
        s.path().join("in.jsonl"),
        format!("{good}\n{long}\n{good}\n"),
    )
    .unwrap();
    let mut cmd = s.bare();
    cmd.args([
        "validate",
        "--json",
        "--jsonl",
        "--max-line-bytes",
        "1000",
        "in.jsonl",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 3);
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", stdout(&out));
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["line"], 2);
    assert_eq!(lines[1]["errors"][0]["code"], "line_too_long");
    assert!(
        lines[1]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("3014 bytes, over the limit of 1000")
    );
    assert_eq!(
        (lines[2]["line"].as_u64(), &lines[2]["valid"]),
        (Some(3), &json!(true))
    );
}

#[test]
fn a_job_file_over_16_mib_is_refused_before_parsing() {
    let s = Scratch::new();
    let big = s.path().join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    for args in [
        &["validate", "big.json"][..],
        &["run", "big.json", "-o", "x.mp4", "--dry-run"],
    ] {
        let mut cmd = s.bare();
        cmd.args(args);
        let out = exec(cmd);
        assert_exit(&out, 2);
        assert!(
            stderr(&out).contains("larger than 16 MiB"),
            "{}",
            stderr(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_sidecar_is_recorded_missing_and_resume_writes_it() {
    let vendor = Vendor::start().await;
    vendor.mount_happy(61).await;
    let s = Scratch::new();
    let job = write_job(s.path());
    let blocker = s.path().join("clip.mp4.json");
    std::fs::create_dir_all(blocker.join("in-the-way")).unwrap();
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["--json", "run", job.to_str().unwrap(), "-o", "clip.mp4"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("sidecar_not_written"),
        "{}",
        stderr(&out)
    );
    // A warning about no place in the request names none (not `at :`).
    assert!(
        stderr(&out).contains("warning[sidecar_not_written]: "),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("pixfuse resume 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["sidecar"], Value::Null);
    assert!(s.path().join("clip.mp4").exists());

    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    let listed = json(&exec(cmd));
    assert_eq!(listed["jobs"][0]["state"], "downloaded");
    assert_eq!(listed["jobs"][0]["needs_resume"], true, "{listed}");

    std::fs::remove_dir_all(&blocker).unwrap();
    let mut cmd = s.cmd(&vendor.uri());
    cmd.arg("resume");
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    let sidecar: Value = serde_json::from_slice(&std::fs::read(&blocker).unwrap()).unwrap();
    assert_eq!(sidecar["video_id"], "61");
    assert_eq!(
        vendor.requests(VIDEO_PATH).await.len(),
        1,
        "the video was not fetched again"
    );
    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    let listed = json(&exec(cmd));
    assert_eq!(listed["jobs"][0]["needs_resume"], false, "{listed}");
    assert_eq!(listed["jobs"][0]["last_error"], Value::Null, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_stops_taking_writes_mid_job_names_the_resume_command() {
    let vendor = Vendor::start().await;
    vendor.mount_happy(62).await;
    let s = Scratch::new();
    // The journal refuses to record a video id, as a full disk would between send and answer.
    drop(pixfuse::Journal::open_in(&s.state()).unwrap());
    let db = rusqlite::Connection::open(s.state().join("journal.sqlite3")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER full BEFORE UPDATE OF video_id ON jobs WHEN NEW.video_id IS NOT NULL
         BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
    )
    .unwrap();
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "clip.mp4"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("cannot record the video id of job 1"), "{err}");
    assert!(err.contains("`pixfuse resume 1`"), "{err}");
    assert!(!err.contains("internal error"), "{err}");

    db.execute_batch("DROP TRIGGER full").unwrap();
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["resume", "1"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    assert!(s.path().join("clip.mp4").exists());
    let traces = vendor.submit_trace_ids().await;
    assert_eq!(traces.len(), 2);
    assert_eq!(
        traces[0], traces[1],
        "resent with the same trace id: billed once"
    );
}
