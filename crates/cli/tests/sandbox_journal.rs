//! `--sandbox` keeps its own journal for every command, and never promises a resume the
//! in-process sandbox cannot keep.

mod common;

use common::*;

#[test]
fn a_sandbox_job_still_running_at_the_timeout_is_not_offered_to_resume_and_jobs_lists_it() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = s.bare();
    cmd.args([
        "--sandbox",
        "--poll-interval",
        "20ms",
        "--timeout",
        "100ms",
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
    assert_eq!(value["exit_code"], 8, "{value}");
    assert!(value.get("resume_command").is_none(), "{value}");
    assert!(
        !stderr(&out).contains("pixfuse resume") && !stdout(&out).contains("pixfuse resume"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("cannot be resumed"),
        "{}",
        stderr(&out)
    );

    // `jobs --sandbox` reads the journal the sandbox run wrote, not the real one.
    let mut cmd = s.bare();
    cmd.args(["--sandbox", "--json", "jobs"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let jobs = json(&out)["jobs"].as_array().unwrap().len();
    assert_eq!(jobs, 1, "{}", stdout(&out));

    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["jobs"].as_array().unwrap().len(), 0);
}
