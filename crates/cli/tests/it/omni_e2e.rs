//! v6 Omni end to end: `run --video-ref …` with two local videos and one image against the
//! sandbox (in this process, so its counters say what the server really received), each video
//! uploaded once across two runs; `upload --video`; a text file named `.mp4` refused before any
//! upload.

use std::path::Path;
use std::process::Command;

use crate::common;

use common::*;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/video")
        .join(name)
}

/// `pixfuse` against the sandbox, with its demo key.
fn cmd(s: &Scratch, sandbox: &RunningSandbox) -> Command {
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .arg("--base-url")
        .arg(sandbox.base_url())
        .arg("--poll-interval")
        .arg("10ms")
        .arg("--retry-base-delay")
        .arg("1ms");
    cmd
}

fn omni_run(s: &Scratch, sandbox: &RunningSandbox, output: &str, videos: [&str; 2]) -> Command {
    let mut c = cmd(s, sandbox);
    c.args(["run", "--ref", "dog=dog.png"]);
    c.args(["--video-ref", &format!("video1={}", videos[0])]);
    c.args(["--video-ref", &format!("video2={}", videos[1])]);
    c.args([
        "--prompt",
        "@dog dances like @video1 then like @video2 ",
        "--model",
        "v6",
        "--duration",
        "0",
        "--quality",
        "540p",
        "--aspect",
        "16:9",
        "-o",
        output,
        "--json",
    ]);
    c
}

fn scratch_with_media() -> Scratch {
    let s = Scratch::new();
    std::fs::write(s.path().join("dog.png"), tiny_png(3)).unwrap();
    std::fs::copy(fixture("clip-2s.mp4"), s.path().join("dance.mp4")).unwrap();
    std::fs::copy(fixture("clip-3s.mov"), s.path().join("spin.mov")).unwrap();
    std::fs::copy(fixture("not-a-video.mp4"), s.path().join("notes.mp4")).unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_local_videos_and_an_image_run_end_to_end_each_video_uploaded_once() {
    let s = scratch_with_media();
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let out = tokio::task::block_in_place(|| {
        exec(omni_run(
            &s,
            &sandbox,
            "first.mp4",
            ["dance.mp4", "spin.mov"],
        ))
    });
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["status"], "succeeded", "{v}");
    let video = std::fs::read(s.path().join("first.mp4")).unwrap();
    assert_eq!(&video[4..8], b"ftyp");
    let stats = sandbox.stats();
    assert_eq!((stats.uploads, stats.video_uploads), (1, 2));
    assert_eq!(stats.billable_jobs, 1);
    // The journal kept the request as sent: both videos by media_id, Omni mode.
    let sent: serde_json::Value = {
        let journal = pixfuse::Journal::open_in(&s.state()).unwrap();
        let jobs = journal.jobs().await.unwrap();
        serde_json::from_str(jobs[0].request.as_deref().unwrap()).unwrap()
    };
    assert_eq!(sent["reference_mode"], "omni");
    let refs = sent["video_references"].as_array().unwrap();
    assert_eq!(refs.len(), 2);
    assert!(
        refs.iter().all(|r| r["video_media_id"].as_u64().is_some()),
        "{sent}"
    );

    // A second job (another output) with the same videos: nothing uploaded again.
    let out = tokio::task::block_in_place(|| {
        exec(omni_run(
            &s,
            &sandbox,
            "second.mp4",
            ["dance.mp4", "spin.mov"],
        ))
    });
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("reusing media_id"),
        "{}",
        stderr(&out)
    );
    let stats = sandbox.stats();
    assert_eq!((stats.uploads, stats.video_uploads), (1, 2));
    assert_eq!((stats.media_upload_requests, stats.billable_jobs), (2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_file_named_mp4_is_refused_before_any_upload() {
    let s = scratch_with_media();
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let out = tokio::task::block_in_place(|| {
        exec(omni_run(
            &s,
            &sandbox,
            "never.mp4",
            ["dance.mp4", "notes.mp4"],
        ))
    });
    assert_exit(&out, 3);
    let shown = stdout(&out) + &stderr(&out);
    assert!(
        shown.contains("notes.mp4") && shown.contains("not a video"),
        "{shown}"
    );
    let stats = sandbox.stats();
    assert_eq!(
        (
            stats.uploads,
            stats.media_upload_requests,
            stats.submits_received
        ),
        (0, 0, 0)
    );
    // `upload --video` refuses it the same way, and uploads a real one with its facts.
    let mut up = cmd(&s, &sandbox);
    up.args(["upload", "--video", "notes.mp4"]);
    let out = tokio::task::block_in_place(|| exec(up));
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("not a video"), "{}", stderr(&out));
    assert_eq!(sandbox.stats().media_upload_requests, 0);
    let mut up = cmd(&s, &sandbox);
    up.args(["upload", "--video", "dance.mp4", "--json"]);
    let out = tokio::task::block_in_place(|| exec(up));
    assert_exit(&out, 0);
    let v = json(&out);
    let video = &v["videos"][0];
    assert_eq!(video["duration_ms"], 2000, "{v}");
    assert_eq!(
        (video["width"].as_u64(), video["height"].as_u64()),
        (Some(64), Some(36))
    );
    assert!(video["media_id"].as_str().unwrap().parse::<u64>().is_ok());
    let mut up = cmd(&s, &sandbox);
    up.args(["upload", "--video", "dance.mp4"]);
    let out = tokio::task::block_in_place(|| exec(up));
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("dance.mp4 (2 s, 64×36, already uploaded)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sandbox.stats().video_uploads, 1);
}

#[test]
fn estimate_and_dry_run_price_the_local_videos_by_their_real_length() {
    let s = scratch_with_media();
    let job = serde_json::json!({
        "model": "v6", "prompt": "@dog dances like @video1 and @video2 ", "quality": "540p",
        "duration": 0, "aspect_ratio": "16:9", "reference_mode": "omni",
        "image_references": [{"type": "subject", "image": "dog.png", "ref_name": "dog"}],
        "video_references": [
            {"ref_name": "video1", "video": "dance.mp4"},
            {"ref_name": "video2", "video": "spin.mov"}
        ]
    });
    std::fs::create_dir_all(s.path().join("jobs")).unwrap();
    for name in ["dog.png", "dance.mp4", "spin.mov"] {
        std::fs::copy(s.path().join(name), s.path().join("jobs").join(name)).unwrap();
    }
    let file = s.path().join("jobs/omni.json");
    std::fs::write(&file, job.to_string()).unwrap();
    let mut cmd = s.bare();
    cmd.args(["estimate", "--json", file.to_str().unwrap()]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["reference_video"]["seconds"], 5.0, "{v}");
    assert_eq!(v["reference_video"]["assumed"], false, "{v}");
    // The dry run plans one media upload per video, and prices them the same way.
    let mut cmd = s.bare();
    cmd.env("PIXFUSE_API_KEY", KEY);
    cmd.args([
        "run",
        "--dry-run",
        "--json",
        file.to_str().unwrap(),
        "-o",
        "x.mp4",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(v["estimate"]["reference_video"]["seconds"], 5.0, "{v}");
    let uploads: Vec<_> = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["url"]
                .as_str()
                .unwrap()
                .ends_with("/openapi/v2/media/upload")
        })
        .collect();
    assert_eq!(uploads.len(), 2, "{v}");
    let submit = v["requests"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .to_string();
    assert!(
        submit.contains("video_media_id from upload of video1"),
        "{submit}"
    );
}
