//! docs/json.md and the `--json` output stay in step: every command's objects carry the one
//! `schema` version, and every key they print is named in the command's section of the page
//! (or in its sections every object shares: "Every object", "Failures", "Diagnostics").

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common;

use common::*;

/// Subtrees whose keys are data, not the contract: requests as written and sent (their keys
/// are the vendor's, documented by its API), counts by failure class.
const OPAQUE: &[&str] = &[
    "form",
    "request",
    "json",
    "failed",
    "refused_before_billing",
];

const SHARED: &[&str] = &["## Every object", "## Failures", "## Diagnostics"];

fn docs() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/json.md")).unwrap()
}

/// The text of the section whose heading starts with `heading`.
fn section(docs: &str, heading: &str) -> String {
    let start = docs
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("docs/json.md has no section {heading}"));
    let rest = &docs[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_owned()
}

fn keys(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                if !OPAQUE.contains(&k.as_str()) {
                    keys(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Checks each JSON line of `out` against the section `heading` (several: `a|b`, for a section
/// that refers to another).
fn check(docs: &str, heading: &str, what: &str, out: &std::process::Output) {
    let text = stdout(out);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('{')).collect();
    assert!(
        !lines.is_empty(),
        "{what}: no JSON on stdout\n{}",
        stderr(out)
    );
    let mut allowed = String::new();
    for shared in heading.split('|').chain(SHARED.iter().copied()) {
        allowed.push_str(&section(docs, shared));
    }
    for line in lines {
        let value: Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["schema"], 1, "{what}: {line}");
        let mut found = BTreeSet::new();
        keys(&value, &mut found);
        let missing: Vec<_> = found
            .iter()
            .filter(|k| !allowed.contains(&format!("`{k}`")))
            .collect();
        assert!(
            missing.is_empty(),
            "{what}: docs/json.md's {heading} does not name {missing:?}\n{line}"
        );
    }
}

fn sandbox(s: &Scratch, args: &[&str]) -> std::process::Output {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_SANDBOX_TIME_SCALE", "0.05")
        .args(["--sandbox", "--poll-interval", "20ms", "--json"])
        .args(args);
    exec(cmd)
}

fn offline(s: &Scratch, args: &[&str]) -> std::process::Output {
    let mut cmd = s.bare();
    cmd.arg("--json").args(args);
    exec(cmd)
}

#[test]
fn every_offline_command_s_keys_are_documented() {
    let docs = docs();
    let s = Scratch::new();
    let job = write_job(s.path());
    let job = job.to_str().unwrap();
    let batch = write_batch(s.path(), 2, |_, _| {});
    let batch = batch.to_str().unwrap();
    std::fs::write(s.path().join("bad.json"), br#"{"prompt": "@cat"}"#).unwrap();
    let config = s.path().join("new-config.toml");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("## `pixfuse models`", vec!["models"]),
        ("## `pixfuse estimate`", vec!["estimate", job]),
        ("## `pixfuse estimate`", vec!["estimate", "bad.json"]),
        ("## `pixfuse validate`", vec!["validate", job]),
        ("## `pixfuse validate`", vec!["validate", "bad.json"]),
        (
            "## `pixfuse validate`",
            vec!["validate", "--fix", "bad.json"],
        ),
        ("## `pixfuse validate`", vec!["validate", "--jsonl", batch]),
        ("## `pixfuse help exit-codes`", vec!["help", "exit-codes"]),
        ("## `pixfuse config`", vec!["config", "path"]),
        ("## `pixfuse config`", vec!["config", "show"]),
        (
            "## `pixfuse config`",
            vec!["--config", config.to_str().unwrap(), "config", "init"],
        ),
        ("## Failures", vec!["validate", "no-such-file.json"]),
        ("## Failures", vec!["models", "--no-such-flag"]),
    ];
    for (heading, args) in cases {
        check(&docs, heading, &args.join(" "), &offline(&s, &args));
    }
}

#[test]
fn every_networked_command_s_keys_are_documented() {
    let docs = docs();
    let s = Scratch::new();
    let job = write_job(s.path());
    let job = job.to_str().unwrap();
    let batch = write_batch(s.path(), 2, |_, _| {});
    let batch = batch.to_str().unwrap();
    let run = |heading: &str, args: &[&str]| {
        let out = sandbox(&s, args);
        check(&docs, heading, &args.join(" "), &out);
        out
    };
    run(
        "## `--dry-run`|## `pixfuse estimate`",
        &["run", "--dry-run", job, "-o", "dry.mp4"],
    );
    run(
        "## `pixfuse batch`",
        &["batch", "--dry-run", batch, "--out-dir", "out"],
    );
    let done = run("## `pixfuse run`", &["run", job, "-o", "clip.mp4"]);
    let video = json(&done)["video_id"].as_str().unwrap().to_owned();
    run(
        "## `pixfuse run`",
        &["submit", job, "-o", "later.mp4", "--new"],
    );
    run("## `pixfuse run`", &["resume"]);
    run("## `pixfuse run`", &["download", &video, "-o", "again.mp4"]);
    let status = run("## `pixfuse status`", &["status", &video]);
    // A video's status never hides under the key failures use for their outcome.
    let status = json(&status);
    assert_eq!(status["video_status"], "succeeded", "{status}");
    assert!(status.get("status").is_none(), "{status}");
    run("## `pixfuse status`", &["wait", &video]);
    let clip = s.path().join("clip.mp4");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/video/clip-2s.mp4"),
        &clip,
    )
    .unwrap();
    run(
        "## `pixfuse upload`",
        &["upload", "dog.png", "--video", "clip.mp4"],
    );
    run("## `pixfuse upload`", &["balance"]);
    run("## `pixfuse batch`", &["batch", batch, "--out-dir", "out"]);
    run("## `pixfuse jobs`", &["jobs"]);
    run("## `pixfuse jobs`", &["jobs", "show", "1"]);
    run("## `pixfuse jobs`", &["jobs", "rm", "1"]);
    run("## `pixfuse doctor`", &["doctor"]);
    let failed = run("## Failures", &["status", "1"]);
    assert_eq!(json(&failed)["status"], "error");
}
