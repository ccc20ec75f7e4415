//! `--sandbox` jobs outlive the process that sent them: the emulator's state lives beside the
//! sandbox journal, so `submit` in one process and `wait`, `status`, `resume` or a rerun of a
//! batch in others all work, and two processes at once share one emulator.

use crate::common;

use std::process::Command;

use common::*;

/// `pixfuse --sandbox` on the scratch state dir, its clock ten times faster (a 5 s 540p job
/// takes 0.3 s).
fn sandbox(s: &Scratch) -> Command {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_SANDBOX_TIME_SCALE", "0.1").args([
        "--sandbox",
        "--poll-interval",
        "20ms",
        "--json",
    ]);
    cmd
}

fn credits_left(s: &Scratch) -> i64 {
    let mut cmd = sandbox(s);
    cmd.arg("balance");
    let out = exec(cmd);
    assert_exit(&out, 0);
    json(&out)["total"].as_i64().unwrap()
}

fn jobs(s: &Scratch) -> Vec<serde_json::Value> {
    let mut cmd = sandbox(s);
    cmd.arg("jobs");
    let out = exec(cmd);
    assert_exit(&out, 0);
    json(&out)["jobs"].as_array().unwrap().clone()
}

#[test]
fn submit_then_status_wait_and_resume_in_other_processes_end_with_the_video_on_disk() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = sandbox(&s);
    cmd.args(["submit", job.to_str().unwrap(), "-o", "later.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let submitted = json(&out);
    let video_id = submitted["video_id"].as_str().unwrap().to_owned();
    let id: u64 = video_id.parse().unwrap();
    assert!(id < 1 << 53, "a realistic id: {id}");

    let mut cmd = sandbox(&s);
    cmd.args(["status", &video_id]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["video_id"], video_id.as_str());

    let mut cmd = sandbox(&s);
    cmd.args(["wait", &video_id]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["vendor_status"], 1, "{}", stdout(&out));

    let mut cmd = sandbox(&s);
    cmd.arg("resume");
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("skipping"), "{}", stderr(&out));
    let results = json(&out)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["status"], "succeeded");
    let video = std::fs::read(s.path().join("later.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    assert!(s.path().join("later.mp4.json").exists());

    let listed = jobs(&s);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["state"], "downloaded");
    assert!(listed[0]["last_error"].is_null(), "{listed:?}");
    // Billed once: 45 credits for v5, 540p, 5 s.
    assert_eq!(credits_left(&s), 10_000 - 45);
}

#[test]
fn a_run_that_times_out_names_the_sandbox_resume_and_it_finishes_the_job() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_SANDBOX_TIME_SCALE", "0.5").args([
        "--sandbox",
        "--poll-interval",
        "20ms",
        "--timeout",
        "1s",
        "--json",
        "run",
        job.to_str().unwrap(),
        "-o",
        "demo.mp4",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 8);
    let value = json(&out);
    assert_eq!(value["status"], "running", "{value}");
    assert_eq!(
        value["resume_command"], "pixfuse --sandbox resume 1",
        "{value}"
    );
    assert!(
        stderr(&out).contains("`pixfuse --sandbox resume 1`"),
        "{}",
        stderr(&out)
    );

    let mut cmd = sandbox(&s);
    cmd.args(["resume", "1"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(
        &std::fs::read(s.path().join("demo.mp4")).unwrap()[4..8],
        b"ftyp"
    );
    // The real journal was never touched.
    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    let out = exec(cmd);
    assert_eq!(json(&out)["jobs"].as_array().unwrap().len(), 0);
}

#[test]
fn rerunning_a_finished_sandbox_batch_finishes_at_once_and_bills_nothing() {
    let s = Scratch::new();
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(write_job(s.path())).unwrap()).unwrap();
    let lines: Vec<String> = (0..3)
        .map(|i| {
            let mut line = job.clone();
            line["id"] = format!("take-{i}").into();
            line["prompt"] = format!("@dog runs through @park at dusk, take {i}").into();
            line.to_string()
        })
        .collect();
    let batch = s.path().join("jobs.jsonl");
    std::fs::write(&batch, lines.join("\n")).unwrap();
    let run_batch = || {
        let mut cmd = sandbox(&s);
        cmd.arg("batch").arg(&batch).args(["--out-dir", "out"]);
        exec(cmd)
    };
    assert_exit(&run_batch(), 0);
    let left = credits_left(&s);
    assert_eq!(left, 10_000 - 3 * 45);
    let again = run_batch();
    assert_exit(&again, 0);
    assert_eq!(credits_left(&s), left, "nothing billed again");
    for i in 0..3 {
        assert!(s.path().join(format!("out/take-{i}.mp4")).exists());
    }
}

#[test]
fn two_sandbox_processes_at_once_share_one_emulator() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let spawn = |out: &str| {
        let mut cmd = sandbox(&s);
        cmd.args(["run", job.to_str().unwrap(), "-o", out])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        cmd.spawn().unwrap()
    };
    let (first, second) = (spawn("a.mp4"), spawn("b.mp4"));
    for child in [first, second] {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0);
    }
    // One account, charged for both; two distinct videos from one id sequence.
    assert_eq!(credits_left(&s), 10_000 - 2 * 45);
    let listed = jobs(&s);
    assert_eq!(listed.len(), 2);
    assert_ne!(listed[0]["video_id"], listed[1]["video_id"]);
}

#[test]
fn a_video_id_of_a_lost_sandbox_state_never_touches_the_journaled_job() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = sandbox(&s);
    cmd.args(["run", job.to_str().unwrap(), "-o", "kept.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let video_id = json(&out)["video_id"].as_str().unwrap().to_owned();
    // The emulator's state is deleted: a new sandbox is another vendor, which never made this
    // video.
    for entry in std::fs::read_dir(s.state().join("sandbox")).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("sandbox.sqlite3")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    for command in ["status", "wait"] {
        let mut cmd = sandbox(&s);
        cmd.args([command, &video_id]);
        let out = exec(cmd);
        assert_exit(&out, 3);
        assert!(stdout(&out).contains("500008"), "{}", stdout(&out));
    }
    let listed = jobs(&s);
    assert_eq!(listed[0]["state"], "downloaded");
    assert!(listed[0]["last_error"].is_null(), "{listed:?}");
}

#[test]
fn jobs_filters_by_state_and_limits_to_the_newest() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = sandbox(&s);
    cmd.args(["run", job.to_str().unwrap(), "-o", "first.mp4"]);
    assert_exit(&exec(cmd), 0);
    let mut cmd = sandbox(&s);
    cmd.args(["submit", job.to_str().unwrap(), "-o", "second.mp4"]);
    assert_exit(&exec(cmd), 0);
    assert_eq!(jobs(&s).len(), 2);

    let listed = |args: &[&str]| {
        let mut cmd = sandbox(&s);
        cmd.arg("jobs").args(args);
        let out = exec(cmd);
        assert_exit(&out, 0);
        json(&out)["jobs"].as_array().unwrap().clone()
    };
    let done = listed(&["--state", "downloaded"]);
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["state"], "downloaded");
    assert_eq!(listed(&["--state", "downloaded,submitted"]).len(), 2);
    let newest = listed(&["--limit", "1"]);
    assert_eq!(newest.len(), 1, "{newest:?}");
    assert_ne!(
        newest[0]["state"], "downloaded",
        "the newest is the submitted one"
    );

    let mut cmd = sandbox(&s);
    cmd.args(["jobs", "--state", "done"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("unknown job state done"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_moderated_job_lists_at_zero_credits_with_its_last_error() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let text = std::fs::read_to_string(&job)
        .unwrap()
        .replace("at dusk", "at dusk sandbox-moderate");
    std::fs::write(&job, text).unwrap();
    let mut cmd = sandbox(&s);
    cmd.args(["run", job.to_str().unwrap(), "-o", "no.mp4"]);
    let out = exec(cmd);
    assert_exit(&out, 6);
    let listed = jobs(&s);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["state"], "moderated");
    // The vendor refunds a moderated video.
    assert_eq!(listed[0]["credits"], serde_json::json!(0), "{listed:?}");
}
