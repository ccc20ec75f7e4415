//! The `pixfuse` binary: exit codes, the `--json` shape, and snapshots of human output.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::{Value, json};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/examples")
}

fn pixfuse() -> Command {
    let mut cmd = Command::cargo_bin("pixfuse").unwrap();
    cmd.current_dir(examples()).env("NO_COLOR", "1");
    cmd
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = pixfuse().args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn exit_codes_follow_the_table() {
    assert_eq!(run(&["validate", "seed.json"]).0, 0, "warnings only");
    assert_eq!(run(&["validate", "v5-duration-10.json"]).0, 3);
    assert_eq!(run(&["validate", "malformed.json"]).0, 3, "unparsable JSON");
    assert_eq!(run(&["validate", "unknown-model.json"]).0, 3);
    assert_eq!(
        run(&["validate", "--allow-unknown-model", "unknown-model.json"]).0,
        0
    );
    let (code, _, stderr) = run(&["validate", "no-such-file.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read no-such-file.json"), "{stderr}");
    assert_eq!(run(&["validate", "--no-such-flag", "seed.json"]).0, 2);
    assert_eq!(run(&["validate"]).0, 2, "missing FILE");
    assert_eq!(run(&["frobnicate"]).0, 2);
    assert_eq!(run(&["--help"]).0, 0);
    assert_eq!(run(&["estimate", "seed.json"]).0, 0);
    assert_eq!(run(&["estimate", "v5-duration-10.json"]).0, 3);
    assert_eq!(run(&["models"]).0, 0);
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in ["validate", "models", "estimate"] {
        let (code, stdout, _) = run(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(
            stdout.contains("Examples:") && stdout.contains(&format!("pixfuse {cmd}")),
            "{cmd}: {stdout}"
        );
    }
}

#[test]
fn json_is_one_object_with_errors_and_warnings_either_side_of_the_subcommand() {
    for args in [
        ["--json", "validate", "mention-unknown.json"],
        ["validate", "--json", "mention-unknown.json"],
    ] {
        let (code, stdout, stderr) = run(&args);
        assert_eq!(code, 3);
        assert!(stderr.is_empty(), "{stderr}");
        assert_eq!(stdout.lines().count(), 1);
        let v: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(v["valid"], false);
        let error = &v["errors"][0];
        assert_eq!(error["code"], "mention_unknown");
        assert_eq!(error["path"], "/prompt");
        assert!(error["message"].as_str().unwrap().contains("@cat"));
        assert_eq!(error["suggestion"], "did you mean @dog?");
        assert_eq!(error["span"], serde_json::json!({"start": 0, "end": 4}));
        assert_eq!(v["warnings"][0]["code"], "ref_unmentioned");
        assert!(v["warnings"][0].get("suggestion").is_some());
    }
    let (code, stdout, _) = run(&["validate", "--json", "malformed.json"]);
    assert_eq!(code, 3);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["errors"][0]["code"], "json_syntax");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("line 5, column 3")
    );
}

#[test]
fn stdin_is_read_for_dash() {
    let out = pixfuse()
        .args(["validate", "--json", "-"])
        .write_stdin(std::fs::read(examples().join("c1-one-second.json")).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"valid": true, "errors": [], "warnings": []})
    );
}

#[test]
fn jsonl_streams_one_result_per_line() {
    let line = |name: &str| {
        let text = std::fs::read_to_string(examples().join(name)).unwrap();
        serde_json::to_string(&serde_json::from_str::<Value>(&text).unwrap()).unwrap()
    };
    let input = format!(
        "{}\n\n{}\n{{oops\n",
        line("c1-one-second.json"),
        line("v5-duration-10.json")
    );
    let out = pixfuse()
        .args(["validate", "--json", "--jsonl", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let results: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(u64, bool)> = results
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["valid"].as_bool().unwrap()))
        .collect();
    assert_eq!(summary, vec![(1, true), (3, false), (4, false)]);
    assert_eq!(results[1]["errors"][0]["code"], "duration_not_allowed");
    assert_eq!(results[2]["errors"][0]["code"], "json_syntax");
}

#[test]
fn fix_rewrites_the_file_and_lists_each_change() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("job.json");
    std::fs::copy(examples().join("mention-no-space.json"), &file).unwrap();
    let out = pixfuse()
        .args(["validate", "--fix", "--json"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["fixes"][0]["code"], "mention_no_space");
    assert_eq!(v["fixes"][0]["after"], "@dog ,");
    let fixed: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(fixed["prompt"], "@dog , plays at @room ");

    // A rewrite that would lose a field inside a reference is refused, and said so.
    let nested = dir.path().join("nested.json");
    let text = std::fs::read_to_string(examples().join("mention-no-space.json"))
        .unwrap()
        .replacen(
            "\"ref_name\": \"dog\"",
            "\"ref_name\": \"dog\", \"weight\": 2",
            1,
        );
    std::fs::write(&nested, &text).unwrap();
    let out = pixfuse()
        .args(["validate", "--fix"])
        .arg(&nested)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("not fixing")
    );
    assert_eq!(std::fs::read_to_string(&nested).unwrap(), text);

    // Nothing to fix: the file is left byte for byte.
    let clean = dir.path().join("clean.json");
    std::fs::copy(examples().join("c1-one-second.json"), &clean).unwrap();
    let before = std::fs::read(&clean).unwrap();
    pixfuse()
        .args(["validate", "--fix"])
        .arg(&clean)
        .assert()
        .code(0);
    assert_eq!(std::fs::read(&clean).unwrap(), before);
}

#[test]
fn fix_from_stdin_keeps_data_on_stdout_and_messages_on_stderr() {
    let text = std::fs::read(examples().join("mention-no-space.json")).unwrap();
    // --json: one object on stdout, the fixed request inside it.
    let out = pixfuse()
        .args(["validate", "--fix", "--json", "-"])
        .write_stdin(text.clone())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fixes"][0]["code"], "mention_no_space");
    assert_eq!(v["fixed"]["prompt"], "@dog , plays at @room ");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Human mode: the fixed request alone on stdout, the report on stderr.
    let out = pixfuse()
        .args(["validate", "--fix", "-"])
        .write_stdin(text)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let fixed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(fixed["prompt"], "@dog , plays at @room ");
    assert!(!out.stderr.is_empty());
}

#[test]
fn estimate_json_shape() {
    let (code, stdout, _) = run(&["estimate", "--json", "v6-seven-refs-big-ids.json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["model"], "v6");
    // Credits are whole numbers everywhere (the vendor bills whole credits).
    assert_eq!(v["credits"], json!(276), "{v}");
    assert_eq!(v["usd"], 2.76);
    assert_eq!(v["confidence"], "inferred");
    assert_eq!(v["basis"], "per_second");
}

#[test]
fn estimate_prices_an_omni_request_per_reference_second_and_says_what_it_assumed() {
    let (code, stdout, _) = run(&["estimate", "--json", "omni-client-shape.json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["confidence"], "unofficial");
    assert_eq!(v["basis"], "per_reference_second");
    assert_eq!(
        v["reference_video"],
        json!({"seconds": 15.0, "assumed": true})
    );
    // v6 720p with audio: 12 credits a second, twice that per second of reference video.
    assert_eq!(v["credits"], json!(360), "{v}");
    let (code, stdout, _) = run(&["estimate", "omni-client-shape.json"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!("estimate-omni", stdout);
}

#[test]
fn models_json_shows_the_omni_limits() {
    let (_, stdout, _) = run(&["models", "--json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let omni = &v["omni"];
    assert_eq!(omni["models"], json!(["v6"]));
    assert_eq!(
        omni["max_images"],
        json!({"value": 10, "severity": "warning"})
    );
    assert_eq!(omni["max_videos"]["value"], 2);
    assert_eq!(omni["videos_total_max_seconds"]["value"], 15);
    assert_eq!(omni["durations"], json!([0]));
    assert_eq!(omni["extra_aspect_ratios"], json!(["auto"]));
    assert_eq!(omni["upload"]["extensions"], json!(["mp4", "mov", "webm"]));
    assert_eq!(omni["upload"]["max_bytes"][1]["value"], 100 << 20);
}

#[test]
fn models_json_lists_every_model() {
    let (_, stdout, _) = run(&["models", "--json"]);
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["v4.5", "v5", "v5.5", "v5.6", "v6", "c1"]);
}

#[test]
fn no_colour_without_a_terminal() {
    let mut cmd = Command::cargo_bin("pixfuse").unwrap();
    let out = cmd
        .current_dir(examples())
        .env_remove("NO_COLOR")
        .args(["validate", "mention-no-space.json"])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stdout).unwrap().contains('\x1b'));
}

#[test]
fn human_diagnostics_snapshots() {
    for name in [
        "mention-no-space",
        "mention-unknown",
        "mention-wrong-case",
        "seed",
        "v45-1080p-8s",
        "v5-duration-10",
        "v5-aspect-21x9",
        "v5-audio-true",
        "v5-too-many-images",
        "v6-prompt-5001",
        "ref-name-rules",
        "duration-string",
        "missing-prompt",
        "malformed",
        "job-form-gif",
        "unknown-field",
        "omni-client-shape",
        "plain-video-references",
        "plain-duration-zero",
    ] {
        // Diagnostics are messages: on stderr, as `run` prints them; stdout holds data only.
        let (_, stdout, stderr) = run(&["validate", &format!("{name}.json")]);
        assert_eq!(stdout, "", "{name}");
        insta::assert_snapshot!(format!("validate-{name}"), stderr);
    }
}

#[test]
fn models_snapshot() {
    let (_, stdout, _) = run(&["models"]);
    insta::assert_snapshot!("models", stdout);
}

#[test]
fn estimate_snapshot() {
    let (_, stdout, _) = run(&["estimate", "-v", "seed.json"]);
    insta::assert_snapshot!("estimate-seed", stdout);
}

#[test]
fn usage_errors_are_json_in_json_mode() {
    let out = pixfuse()
        .args(["estimate", "--json", "--no-such-flag", "job.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["class"], "usage", "{v}");
    assert_eq!(v["exit_code"], json!(2));
    assert!(
        v["error"].as_str().unwrap().contains("--no-such-flag"),
        "{v}"
    );
    // clap's words, with the usage lines, stay on stderr.
    assert!(!out.stderr.is_empty());

    // Without --json, stdout stays empty.
    let out = pixfuse()
        .args(["estimate", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
