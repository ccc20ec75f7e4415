//! `pixfuse jobs` and `jobs show`: the table (time, model, state with its needs-resume mark,
//! the last error of failed jobs) fitted to the terminal, the sandbox said so, and one job in
//! full, human and `--json`.

use std::process::Command;

use crate::common;

use common::*;

/// `pixfuse --sandbox` on the scratch state dir, its clock twenty times faster.
fn sandbox(s: &Scratch) -> Command {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_SANDBOX_TIME_SCALE", "0.05")
        .args(["--sandbox", "--poll-interval", "20ms"]);
    cmd
}

/// Three sandbox jobs: 1 downloaded, 2 failed (refunded), 3 submitted (needs resume).
fn three_jobs() -> Scratch {
    let s = Scratch::new();
    let job = write_job(s.path());
    let job = job.to_str().unwrap();
    let mut cmd = sandbox(&s);
    cmd.args(["-q", "run", job, "-o", "ok.mp4"]);
    assert_exit(&exec(cmd), 0);
    let mut cmd = sandbox(&s);
    cmd.args(["-q", "run", job, "-o", "bad.mp4", "--new"])
        .args(["--prompt", "sandbox-fail: @dog runs through @park"]);
    assert_exit(&exec(cmd), 7);
    let mut cmd = sandbox(&s);
    cmd.args(["-q", "submit", job, "-o", "later.mp4", "--new"]);
    assert_exit(&exec(cmd), 0);
    s
}

/// Snapshots `text` with what changes from run to run replaced.
fn snapshot(s: &Scratch, name: &str, text: &str) {
    let dir = s.path().to_string_lossy().into_owned();
    let text = text.replace(&dir, "[DIR]");
    insta::with_settings!({filters => vec![
        (r"\d\d-\d\d \d\d:\d\dZ", "[MM-DD hh:mm]"),
    ]}, {
        insta::assert_snapshot!(name, text);
    });
}

fn jobs(s: &Scratch, columns: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = sandbox(s);
    cmd.env("COLUMNS", columns).arg("jobs").args(args);
    exec(cmd)
}

#[test]
fn the_table_shows_time_model_state_marks_and_errors_within_the_width() {
    let s = three_jobs();
    let out = jobs(&s, "200", &[]);
    assert_exit(&out, 0);
    let table = stdout(&out);
    snapshot(&s, "jobs-wide", &table);
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(
        rows[0].starts_with("3 ") && rows[0].contains("submitted *"),
        "{table}"
    );
    assert!(rows[1].contains("failed ") && rows[1].contains("generation failed (refunded)"));
    assert!(
        rows[2].contains("downloaded ") && !rows[2].contains('*'),
        "{table}"
    );
    assert!(
        rows.iter().all(|r| r.contains(" v5 ")),
        "the model column: {table}"
    );
    // Messages on stderr: the table alone on stdout.
    let err = stderr(&out);
    assert!(err.contains("sandbox jobs"), "{err}");
    assert!(
        err.contains("* needs resume (1 job): `pixfuse --sandbox resume`"),
        "{err}"
    );

    for width in ["80", "56"] {
        let out = jobs(&s, width, &[]);
        let table = stdout(&out);
        let limit: usize = width.parse().unwrap();
        for line in table.lines() {
            assert!(line.chars().count() <= limit, "{width}: {line:?}\n{table}");
        }
        let rows: Vec<&str> = table.lines().skip(2).collect();
        // Ids, times, models and states stay whole; the long cells give way.
        assert!(
            rows[0].starts_with("3    ") && rows[0].contains(" v5 "),
            "{table}"
        );
        assert!(rows[1].contains("  failed  "), "{table}");
        assert!(rows[1].ends_with('…'), "the widest column is cut: {table}");
    }
}

#[test]
fn filters_and_json_agree_with_the_table() {
    let s = three_jobs();
    let out = jobs(&s, "80", &["--json"]);
    let list = json(&out);
    assert_eq!(list["sandbox"], true);
    let all = list["jobs"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["needs_resume"], true);
    assert_eq!(all[1]["credits"], 0, "refunded: {}", all[1]);
    assert_eq!(all[1]["last_error"], "generation failed (refunded)");
    assert_eq!(all[2]["model"], "v5");
    let out = jobs(&s, "80", &["--state", "failed", "--json"]);
    let failed = json(&out)["jobs"].as_array().unwrap().clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["job_id"], 2);
}

#[test]
fn show_prints_everything_the_journal_knows() {
    let s = three_jobs();
    let out = jobs(&s, "80", &["show", "1"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for field in [
        "job           1",
        "state         downloaded",
        "needs resume  no",
        "model         v5",
        "trace id      ",
        "video status  succeeded",
        "credits       ",
        "output        ",
        "submitted     ",
        "downloaded    ",
        "request       {",
    ] {
        assert!(text.contains(field), "{field:?} in\n{text}");
    }
    let out = jobs(&s, "80", &["show", "3", "--json"]);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["job_id"], 3);
    assert_eq!(v["needs_resume"], true);
    assert_eq!(v["request"]["model"], "v5", "the request as an object: {v}");
    assert!(v["form"]["image_references"][0]["image"].is_string(), "{v}");
    assert!(
        stderr(&out).is_empty() || !stderr(&out).contains('{'),
        "{}",
        stderr(&out)
    );
    let out = jobs(&s, "80", &["show", "3"]);
    assert!(
        stderr(&out).contains("`pixfuse --sandbox resume 3`"),
        "{}",
        stderr(&out)
    );
    let out = jobs(&s, "80", &["show", "99"]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("no job 99"), "{}", stderr(&out));
}

#[test]
fn an_empty_sandbox_journal_says_what_it_is() {
    let s = Scratch::new();
    let out = jobs(&s, "80", &[]);
    assert_exit(&out, 0);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no sandbox jobs yet"),
        "{}",
        stderr(&out)
    );
    let out = exec({
        let mut cmd = s.bare();
        cmd.arg("jobs");
        cmd
    });
    assert_eq!(stderr(&out).trim(), "no jobs yet");
}

#[test]
fn without_sandbox_only_sandbox_jobs_are_said_to_be_so() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = sandbox(&s);
    cmd.args(["-q", "run", job.to_str().unwrap(), "-o", "ok.mp4"]);
    assert_exit(&exec(cmd), 0);
    let bare_jobs = || {
        let mut cmd = s.bare();
        cmd.arg("jobs");
        exec(cmd)
    };
    // The real journal is empty; the sandbox's beside it has the job.
    let out = bare_jobs();
    assert_exit(&out, 0);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(
        stderr(&out).trim(),
        "no jobs yet, only 1 sandbox job: `pixfuse --sandbox jobs` lists it"
    );
    // A real journal holding only sandbox jobs (here: the sandbox's, copied) says so too.
    let sandbox_dir = s.state().join("sandbox");
    for entry in std::fs::read_dir(&sandbox_dir).unwrap() {
        let name = entry.unwrap().file_name();
        if name.to_string_lossy().starts_with("journal.sqlite3") {
            std::fs::copy(sandbox_dir.join(&name), s.state().join(&name)).unwrap();
        }
    }
    let out = bare_jobs();
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("every job here was sent to a sandbox: no credits were spent"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("ok.mp4"), "{}", stdout(&out));
}
