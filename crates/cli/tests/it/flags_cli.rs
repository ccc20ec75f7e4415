//! Requests from flags speak in flags; each warning once; counts with the right plural; the
//! sandbox's banner says what to paste.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use common::*;

fn examples() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// A scratch dir holding the example images and `job.json` with an undocumented field (a
/// warning, not an error).
fn scratch_with_job() -> Scratch {
    let s = Scratch::new();
    for image in ["dog.png", "room.png"] {
        std::fs::copy(examples().join(image), s.path().join(image)).unwrap();
    }
    let mut job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("dog-in-room.json")).unwrap())
            .unwrap();
    job["frobnicate"] = 1.into();
    std::fs::write(s.path().join("job.json"), job.to_string()).unwrap();
    s
}

fn run(s: &Scratch, args: &[&str]) -> std::process::Output {
    let mut cmd = s.bare();
    cmd.args(args);
    exec(cmd)
}

#[test]
fn a_sandbox_run_prints_each_warning_once_and_counts_polls_right() {
    let s = scratch_with_job();
    let out = run(
        &s,
        &[
            "run",
            "--sandbox",
            "--sandbox-time-scale",
            "0.01",
            "job.json",
            "-o",
            "out.mp4",
        ],
    );
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert_eq!(err.matches("warning[unknown_field]").count(), 1, "{err}");
    assert!(err.contains(" poll)") || err.contains(" polls)"), "{err}");
    assert!(!err.contains("(1 polls)"), "{err}");
    // Its dry run says it once too.
    let out = run(
        &s,
        &["run", "--sandbox", "--dry-run", "job.json", "-o", "out.mp4"],
    );
    assert_exit(&out, 0);
    assert_eq!(
        stderr(&out).matches("unknown_field").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn nothing_to_send_is_a_usage_error() {
    let s = Scratch::new();
    for args in [&["run", "-o", "x.mp4"][..], &["submit"][..]] {
        let out = run(&s, args);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains("nothing to send"), "{err}");
        assert!(err.contains("--prompt"), "{err}");
    }
}

#[test]
fn flag_values_are_explained_in_flags() {
    let s = scratch_with_job();
    let out = run(
        &s,
        &["run", "--duration", "5s", "--prompt", "x", "-o", "x.mp4"],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--duration takes whole seconds, e.g. 5"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &s,
        &[
            "run",
            "--ref",
            "dog=dog.png:Background",
            "--prompt",
            "@dog x",
            "-o",
            "x.mp4",
        ],
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("unknown reference type Background (subject or background)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_request_from_flags_names_the_missing_flag() {
    let s = scratch_with_job();
    let flags = [
        "run",
        "--sandbox",
        "--ref",
        "dog=dog.png",
        "--model",
        "v5",
        "-o",
        "x.mp4",
    ];
    let out = run(&s, &flags);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("missing --prompt"), "{err}");
    assert!(!err.contains("required field"), "{err}");
    assert!(err.contains("the request has 1 error;"), "{err}");
    // --json keeps the documented JSON pointers.
    let mut with_json = flags.to_vec();
    with_json.push("--json");
    let v = json(&run(&s, &with_json));
    assert_eq!(v["errors"][0]["path"], "/prompt");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(1), "{v}");
    // Flags alone default to 5 s, 540p, 16:9 (duration, quality, aspect are not missing).
    let mut dry = flags.to_vec();
    dry.extend(["--prompt", "@dog runs", "--dry-run", "--json"]);
    let v = json(&run(&s, &dry));
    let text = v.to_string();
    for field in [
        r#""duration":5"#,
        r#""quality":"540p""#,
        r#""aspect_ratio":"16:9""#,
    ] {
        assert!(text.contains(field), "{field}: {v}");
    }
    // A job file's mistakes still point into the file.
    std::fs::write(s.path().join("bad.json"), r#"{"model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9","image_references":[{"type":"subject","image":"dog.png","ref_name":"dog"}]}"#).unwrap();
    let out = run(&s, &["run", "--sandbox", "bad.json", "-o", "x.mp4"]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("--> /prompt"), "{}", stderr(&out));
}

/// Kills the sandbox even when an assertion fails.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_sandbox_banner_prints_the_lines_to_paste() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    let child = cmd
        .arg("sandbox")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let lines = BufReader::new(running.0.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    // The banner is a handful of lines ending with how to stop it.
    for line in lines.take(20) {
        let line = line.unwrap();
        let last = line.starts_with("Press Ctrl-C");
        banner.push(line);
        if last {
            break;
        }
    }
    let export = banner
        .iter()
        .find(|l| l.trim_start().starts_with("export "))
        .unwrap_or_else(|| panic!("no export line in {banner:#?}"));
    let words: Vec<&str> = export.split_whitespace().collect();
    assert!(
        words[1].starts_with("PIXFUSE_BASE_URL=http://127.0.0.1:"),
        "{export}"
    );
    assert_eq!(
        words[2],
        format!("PIXFUSE_API_KEY={}", pixfuse_sandbox::DEMO_KEY)
    );
    // What it says to paste works: a command with those variables reaches it.
    let base_url = &words[1]["PIXFUSE_BASE_URL=".len()..];
    let other = Scratch::new();
    let mut balance = other.bare();
    balance
        .env("PIXFUSE_BASE_URL", base_url)
        .env("PIXFUSE_API_KEY", pixfuse_sandbox::DEMO_KEY)
        .args(["balance", "--json"]);
    let out = exec(balance);
    assert_exit(&out, 0);
    assert!(json(&out)["total"].is_number(), "{}", stdout(&out));
}

#[test]
fn numbers_are_explained_in_the_arguments_terms() {
    let s = Scratch::new();
    for (args, says) in [
        (
            &["resume", "abc"][..],
            "a job id is the number `pixfuse jobs` shows",
        ),
        (
            &["jobs", "rm", "abc"][..],
            "a job id is the number `pixfuse jobs` shows",
        ),
        (
            &["batch", "x.jsonl", "--out-dir", "o", "--budget", "abc"][..],
            "--budget takes credits, e.g. 2000",
        ),
        (
            &["run", "--seed", "x", "--prompt", "p", "-o", "x.mp4"][..],
            "--seed takes a whole number",
        ),
    ] {
        let out = run(&s, args);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
