//! `pixfuse run | submit | status | wait | download | upload | balance | jobs | resume` end to
//! end against the mock vendor.

use crate::common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_gives_a_byte_identical_video_and_one_json_object() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(123_456_789_012_345_678).await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["run", job.to_str().unwrap(), "-o", "out.mp4", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(s.path().join("out.mp4")).unwrap(),
        video_bytes()
    );
    let v = json(&out);
    assert_eq!(v["status"], "succeeded");
    assert_eq!(v["video_id"], "123456789012345678");
    assert_eq!(v["credits"], 45);
    assert_eq!(v["job_id"], 1);
    assert_eq!(v["output"], s.path().join("out.mp4").to_str().unwrap());
    assert_eq!(v["trace_id"], vendor.submit_trace_ids().await[0]);
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path().join("out.mp4.json")).unwrap()).unwrap();
    assert_eq!(sidecar["trace_id"], v["trace_id"]);
    // Plain log lines on stderr (not a terminal), nothing else on stdout.
    assert!(
        stderr(&out).contains("pixfuse: job 1 submitted"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_from_flags_sends_the_request_they_describe() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(9).await;
    std::fs::write(s.path().join("dog.png"), tiny_png(1)).unwrap();
    std::fs::write(s.path().join("park.png"), tiny_png(2)).unwrap();
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args([
        "run",
        "--ref",
        "dog=dog.png",
        "--ref",
        "park=park.png:background",
        "--prompt",
        "@dog plays in @park today",
        "--model",
        "v6",
        "--duration",
        "3",
        "--quality",
        "720p",
        "--aspect",
        "21:9",
        "--seed",
        "7",
        "--audio",
        "-o",
        "new/dir/flags.mp4",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(s.path().join("new/dir/flags.mp4")).unwrap(),
        video_bytes()
    );
    assert!(stdout(&out).contains("saved to"), "{}", stdout(&out));
    let submit = &vendor.requests(&format!("^{GENERATE}$")).await[0];
    let body: serde_json::Value = serde_json::from_slice(&submit.body).unwrap();
    assert_eq!(
        body,
        json!({
            "image_references": [
                {"type": "subject", "img_id": 1000, "ref_name": "dog"},
                {"type": "background", "img_id": 1001, "ref_name": "park"}
            ],
            "prompt": "@dog plays in @park today",
            "model": "v6",
            "duration": 3,
            "quality": "720p",
            "aspect_ratio": "21:9",
            "generate_audio_switch": true,
            "seed": 7
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_requests_with_the_key_redacted_and_sends_nothing() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    let job = write_job(s.path());
    // No key at all: a dry run does not need one.
    let mut cmd = s.bare();
    cmd.args([
        "--base-url",
        &vendor.uri(),
        "run",
        job.to_str().unwrap(),
        "-o",
        "x.mp4",
        "--dry-run",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(
        text.matches(&format!("POST {}{UPLOAD}", vendor.uri()))
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains(&format!("POST {}{GENERATE}", vendor.uri())),
        "{text}"
    );
    assert!(text.contains("API-KEY: [redacted]"), "{text}");
    assert!(
        text.contains("\"prompt\":\"@dog runs through @park at dusk\""),
        "{text}"
    );
    assert!(text.contains("image=@"), "{text}");
    assert!(vendor.server.received_requests().await.unwrap().is_empty());
    assert!(!s.path().join("x.mp4").exists());

    // With the relay, the bearer header is shown redacted; --json gives one object.
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args([
        "--provider",
        "quickrouter",
        "submit",
        job.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["requests"].as_array().unwrap().len(), 3);
    assert!(stdout(&out).contains("Bearer [redacted]"));
    assert!(!stdout(&out).contains(KEY));
    assert!(vendor.server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_by_step_commands() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(31337).await;
    vendor.mount_balance(100, 23).await;
    let job = write_job(s.path());

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["upload", "dog.png", "park.png", "dog.png", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    let reused: Vec<bool> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reused"].as_bool().unwrap())
        .collect();
    assert_eq!(reused, vec![false, false, true]);
    assert_eq!(v["images"][2]["img_id"], v["images"][0]["img_id"]);

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["submit", job.to_str().unwrap()]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), "31337");
    // The images were uploaded by `upload` already.
    assert_eq!(vendor.requests(&format!("^{UPLOAD}$")).await.len(), 2);

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["status", "31337", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["video_id"], "31337");

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["wait", "31337", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["video_status"], "succeeded");

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["download", "31337", "-o", "dl.mp4", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(
        std::fs::read(s.path().join("dl.mp4")).unwrap(),
        video_bytes()
    );
    assert!(s.path().join("dl.mp4.json").exists());

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["jobs", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["jobs"][0]["state"], "downloaded");
    assert_eq!(v["jobs"][0]["video_id"], "31337");

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["jobs"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("downloaded"), "{}", stdout(&out));

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["resume"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    // A message on stderr; stdout holds data only.
    assert!(
        stderr(&out).contains("nothing to resume"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));

    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["balance", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["total"], 123);
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_comes_from_stdin_or_a_config_profile() {
    use std::io::Write;
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_balance(5, 0).await;

    let mut cmd = s.bare();
    cmd.args(["--base-url", &vendor.uri(), "--api-key-stdin", "balance"]);
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{KEY}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 0);

    let config = s.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "profile = \"test\"\n[profiles.test]\napi_key = \"{KEY}\"\nbase_url = \"{}\"\n",
            vendor.uri()
        ),
    )
    .unwrap();
    let mut cmd = s.bare();
    cmd.args(["--config", config.to_str().unwrap(), "balance", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["total"], 5);

    let auth: Vec<String> = vendor
        .requests(BALANCE)
        .await
        .iter()
        .map(|r| {
            r.headers
                .get("api-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(auth, vec![KEY.to_owned(), KEY.to_owned()]);
}

#[test]
fn sandbox_runs_a_job_without_a_key_or_the_network() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = s.bare();
    cmd.args([
        "--sandbox",
        "--poll-interval",
        "50ms",
        "run",
        job.to_str().unwrap(),
        "-o",
        "demo.mp4",
        "--json",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let video = std::fs::read(s.path().join("demo.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    assert!(stderr(&out).contains("local sandbox at http://127.0.0.1:"));
    assert_eq!(json(&out)["status"], "succeeded");
    // Pretend jobs stay out of the real journal.
    assert!(s.state().join("sandbox").join("journal.sqlite3").exists());
    assert!(!s.state().join("journal.sqlite3").exists());
}

/// An output file name that is not UTF-8 (Unix allows any bytes but `/` and NUL) is saved under
/// exactly that name, its sidecar beside it, and a rerun finds the same job.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_name_that_is_not_utf8_works() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(83).await;
    let job = write_job(s.path());
    let name = std::ffi::OsStr::from_bytes(b"take-\xff.mp4");
    let mut cmd = s.cmd(&vendor.uri());
    cmd.arg("run").arg(&job).arg("-o").arg(name);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    assert_eq!(std::fs::read(s.path().join(name)).unwrap(), video_bytes());
    let sidecar = std::ffi::OsStr::from_bytes(b"take-\xff.mp4.json");
    assert!(s.path().join(sidecar).is_file());
    // The same command again is the same job: nothing more is submitted.
    let mut cmd = s.cmd(&vendor.uri());
    cmd.arg("run").arg(&job).arg("-o").arg(name);
    assert_exit(&exec(cmd), 0);
    assert_eq!(vendor.submit_trace_ids().await.len(), 1);
}

/// A reference image whose name is not UTF-8 cannot go into the request's JSON: a usage error
/// that names the flag and the way out, before anything is sent.
#[cfg(unix)]
#[test]
fn a_reference_name_that_is_not_utf8_is_refused_saying_why() {
    use std::os::unix::ffi::OsStrExt;
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args([
        "run",
        "--sandbox",
        "--prompt",
        "@dog runs",
        "-o",
        "x.mp4",
        "--ref",
    ])
    .arg(std::ffi::OsStr::from_bytes(b"dog=d\xffg.png"));
    let out = exec(cmd);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("--ref dog=d\u{fffd}g.png: the file name is not UTF-8"),
        "{err}"
    );
    assert!(err.contains("rename the file"), "{err}");
}
