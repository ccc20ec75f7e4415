//! The `pixfuse` binary against hostile servers on loopback: silent or trickling phases under
//! `--timeout`, a download killed midway, a relay echoing the key, escape sequences in server
//! text, odd field types, and a status answer about another video.

use crate::common;

use std::time::Duration;

use common::hostile::{Hostile, Phase, Script, Video};
use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

/// `pixfuse run job.json -o clip.mp4` against `uri`, with `extra` arguments first.
fn run_cmd(s: &Scratch, uri: &str, extra: &[&str]) -> std::process::Command {
    let job = write_job(s.path());
    let mut cmd = s.cmd(uri);
    cmd.args(extra)
        .args(["run", job.to_str().unwrap(), "-o", "clip.mp4"]);
    cmd
}

/// The journal's jobs, as `pixfuse jobs --json` lists them.
fn jobs(s: &Scratch) -> Vec<Value> {
    let mut cmd = s.bare();
    cmd.args(["--json", "jobs"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    json(&out)["jobs"].as_array().unwrap().clone()
}

/// `--timeout 5s` against a server misbehaving in one phase: the command ends within 7 s.
async fn five_seconds(script: Script) -> (Scratch, Hostile, std::process::Output) {
    let vendor = Hostile::start(script).await;
    let s = Scratch::new();
    let cmd = run_cmd(&s, &vendor.uri, &["--timeout", "5s"]);
    let out = tokio::task::spawn_blocking(move || run(cmd, Duration::from_secs(7)))
        .await
        .unwrap();
    (s, vendor, out)
}

fn silent(phase: Phase) -> Script {
    Script {
        silent: Some(phase),
        ..Script::default()
    }
}

/// Exit 8, the resume command named, and the job resumable in the journal.
fn assert_resumable(s: &Scratch, out: &std::process::Output, state: &str) {
    assert_exit(out, 8);
    assert!(stderr(out).contains("pixfuse resume 1"), "{}", stderr(out));
    let jobs = jobs(s);
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["state"], state, "{}", jobs[0]);
    assert_eq!(jobs[0]["needs_resume"], true, "{}", jobs[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upload_ends_in_time_and_stays_resumable() {
    // The job is claimed before its first upload: nothing was sent, and the same command (or
    // `resume`) continues it.
    let (s, _vendor, out) = five_seconds(silent(Phase::Upload)).await;
    assert!(stderr(&out).contains("time ran out"), "{}", stderr(&out));
    assert_resumable(&s, &out, "uploading");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_submit_ends_in_time_and_stays_resumable() {
    let (s, _vendor, out) = five_seconds(silent(Phase::Submit)).await;
    assert_resumable(&s, &out, "claimed");
    assert!(stderr(&out).contains("same trace id"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_status_poll_ends_in_time_and_stays_resumable() {
    let (s, _vendor, out) = five_seconds(silent(Phase::Status)).await;
    assert_resumable(&s, &out, "submitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_video_server_ends_in_time_and_stays_resumable() {
    let (s, _vendor, out) = five_seconds(silent(Phase::Video)).await;
    assert_resumable(&s, &out, "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_at_one_byte_a_second_ends_in_time_and_keeps_its_partial_file() {
    let (s, _vendor, out) = five_seconds(Script {
        video: Video::Trickle { head: 1000 },
        ..Script::default()
    })
    .await;
    assert_resumable(&s, &out, "succeeded");
    let partial = s.path().join("clip.mp4.pixfuse-1.part");
    let kept = std::fs::read(&partial).expect("the partial file is kept");
    assert!(kept.len() >= 1000, "{}", kept.len());
    assert_eq!(kept, video_bytes()[..kept.len()]);
    assert!(!s.path().join("clip.mp4").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_download_is_continued_from_its_partial_file() {
    const CUT: usize = 50_000;
    let vendor = Hostile::start(Script {
        video: Video::StallAt { cut: CUT },
        ..Script::default()
    })
    .await;
    let s = Scratch::new();
    let mut child = run_cmd(&s, &vendor.uri, &[])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = s.path().join("clip.mp4.pixfuse-1.part");
    let started = std::time::Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < CUT as u64 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the partial file never reached {CUT} bytes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();

    let mut cmd = s.cmd(&vendor.uri);
    cmd.args(["resume", "1"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        std::fs::read(s.path().join("clip.mp4")).unwrap() == video_bytes(),
        "the resumed video differs"
    );
    let videos = vendor.video_requests();
    assert_eq!(videos.len(), 2, "{videos:?}");
    assert_eq!(
        videos[1].header("range").as_deref(),
        Some(format!("bytes={CUT}-").as_str())
    );
    assert_eq!(videos[1].header("if-range").as_deref(), Some("\"v77\""));
    assert!(!partial.exists(), "the partial file became the video");
    assert!(s.path().join("clip.mp4.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_field_types_still_yield_the_video_and_its_own_id() {
    let vendor = Hostile::start(Script {
        status_resp: json!({"id": 78, "status": "1", "credits": "45", "seed": "42",
            "size": "1.5MB", "has_audio": "yes", "outputWidth": [1]}),
        ..Script::default()
    })
    .await;
    let s = Scratch::new();
    let cmd = run_cmd(&s, &vendor.uri, &["--json"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    let v = json(&out);
    assert_eq!(
        v["video_id"], "77",
        "the job's own id, not the answer's: {v}"
    );
    assert_eq!(v["credits"], 45, "{v}");
    assert!(stderr(&out).contains("names video 78"), "{}", stderr(&out));
    assert!(std::fs::read(s.path().join("clip.mp4")).unwrap() == video_bytes());
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(s.path().join("clip.mp4.json")).unwrap()).unwrap();
    assert_eq!(
        (sidecar["video_id"].as_str(), sidecar["seed"].as_i64()),
        (Some("77"), Some(42))
    );
}

/// A key with characters JSON escapes (`/` as `\/`), for the echo tests.
const SLASHED_KEY: &str = "pk/e2e+Echo=7f3a9c1d5b/NEVER_PRINT";

fn key_windows() -> Vec<String> {
    SLASHED_KEY
        .as_bytes()
        .windows(8)
        .map(|w| String::from_utf8(w.to_vec()).unwrap())
        .collect()
}

#[track_caller]
fn assert_no_key_fragment(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for w in key_windows() {
        if let Some(at) = text.find(w.as_str()) {
            let context: String = text[at.saturating_sub(80)..].chars().take(200).collect();
            panic!("{w:?} of the key is in {what}: …{context}…");
        }
    }
}

/// Runs `cmd` with its output in files (so a chatty `-vv` never fills a pipe), within `limit`.
fn exec_to_files(mut cmd: std::process::Command, dir: &std::path::Path) -> std::process::Output {
    let (out, err) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("pixfuse ran longer than 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// A relay that echoes the key into error bodies, at a new offset each time (0..300), raw in
/// HTML and JSON-escaped in ErrMsg: no eight characters of it reach stdout, stderr at `-vv`,
/// the journal or the sidecar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_key_leaves_no_fragment_anywhere() {
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor.mount_submit(31).await;
    vendor.mount_video().await;
    let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = polls.clone();
    let video_url = vendor.video_url();
    Mock::given(method("GET"))
        .and(path(format!("{RESULT_PREFIX}31")))
        .respond_with(move |_: &Request| {
            let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n >= 300 {
                return ok(json!({"id": 31, "status": 1, "url": video_url}));
            }
            let pad = "x".repeat(n);
            if n.is_multiple_of(2) {
                ResponseTemplate::new(502)
                    .set_body_string(format!("<html>{pad}api-key: {SLASHED_KEY}</html>"))
            } else {
                let msg = format!("{pad} Authorization: Bearer {SLASHED_KEY} rejected");
                let body = json!({"ErrCode": 500100, "ErrMsg": msg}).to_string();
                ResponseTemplate::new(200).set_body_string(body.replace('/', "\\/"))
            }
        })
        .mount(&vendor.server)
        .await;
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.env("PIXFUSE_API_KEY", SLASHED_KEY).args([
        "-vv",
        "run",
        job.to_str().unwrap(),
        "-o",
        "clip.mp4",
    ]);
    let logs = tempfile::tempdir().unwrap();
    let dir = logs.path().to_owned();
    let out = tokio::task::spawn_blocking(move || exec_to_files(cmd, &dir))
        .await
        .unwrap();
    assert_eq!(
        code(&out),
        0,
        "{}",
        stderr(&out).lines().last().unwrap_or_default()
    );
    assert!(polls.load(std::sync::atomic::Ordering::SeqCst) > 300);
    assert!(
        stderr(&out).contains("[redacted]"),
        "the echoes were seen and redacted"
    );
    // A second job whose submit is refused with the key echoed just across the excerpt cut.
    Mock::given(method("POST"))
        .and(path(GENERATE))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            json!({"ErrCode": 400017, "ErrMsg": format!("{} key {SLASHED_KEY}", "y".repeat(190))})
                .to_string()
                .replace('/', "\\/"),
        ))
        .with_priority(1)
        .mount(&vendor.server)
        .await;
    std::fs::write(s.path().join("job2.json"), std::fs::read(&job).unwrap()).unwrap();
    let job2 = s.path().join("job2.json");
    let mut cmd = s.cmd(&vendor.uri());
    cmd.env("PIXFUSE_API_KEY", SLASHED_KEY).args([
        "-vv",
        "--json",
        "run",
        job2.to_str().unwrap(),
        "-o",
        "clip2.mp4",
    ]);
    let dir = logs.path().to_owned();
    let refused = tokio::task::spawn_blocking(move || exec_to_files(cmd, &dir))
        .await
        .unwrap();
    assert_exit(&refused, 3);
    let mut jobs_cmd = s.bare();
    jobs_cmd.arg("jobs");
    let listed = exec(jobs_cmd);
    for (what, bytes) in [
        ("stdout", out.stdout.as_slice()),
        ("stderr", &out.stderr),
        ("stdout of the refused job", &refused.stdout),
        ("stderr of the refused job", &refused.stderr),
        ("the jobs table", &listed.stdout),
    ] {
        assert_no_key_fragment(what, bytes);
    }
    assert_no_key_fragment(
        "the sidecar",
        &std::fs::read(s.path().join("clip.mp4.json")).unwrap(),
    );
    for entry in std::fs::read_dir(s.state()).unwrap() {
        let path = entry.unwrap().path();
        assert_no_key_fragment(&path.display().to_string(), &std::fs::read(&path).unwrap());
    }
}

/// Bytes that could drive a terminal: ESC, C1 controls (UTF-8 `C2 80..9F`), CR, BEL, DEL.
#[track_caller]
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let bad = bytes.iter().enumerate().find(|(i, b)| {
        matches!(**b, 0x1b | 0x07 | 0x0d | 0x7f | 0x08)
            || (**b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    });
    assert!(
        bad.is_none(),
        "{what} holds a control byte at {:?}:\n{}",
        bad.map(|(i, _)| i),
        String::from_utf8_lossy(bytes)
    );
}

const NASTY: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mred\r\u{9b}1mX\u{7f}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escape_sequences_from_servers_never_reach_the_terminal() {
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(777123, &format!("refused {NASTY}")))
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{RESULT_PREFIX}5")))
        .respond_with(ok(
            json!({"id": 5, "status": 5, "url": format!("https://cdn/{NASTY}")}),
        ))
        .mount(&vendor.server)
        .await;
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut run = s.cmd(&vendor.uri());
    run.args(["-vv", "run", job.to_str().unwrap(), "-o", "clip.mp4"]);
    let mut status = s.cmd(&vendor.uri());
    status.args(["status", "5"]);
    let mut table = s.bare();
    table.arg("jobs");
    let outs = tokio::task::spawn_blocking(move || [exec(run), exec(status), exec(table)])
        .await
        .unwrap();
    assert!(stderr(&outs[0]).contains("refused"), "{}", stderr(&outs[0]));
    assert!(stdout(&outs[2]).contains("refused"), "{}", stdout(&outs[2]));
    for (i, out) in outs.iter().enumerate() {
        assert_terminal_safe(&format!("stdout of command {i}"), &out.stdout);
        assert_terminal_safe(&format!("stderr of command {i}"), &out.stderr);
    }
}

/// A known code prints pixfuse's explanation and, beside it, what the server said; `--json`
/// carries both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_words_stand_beside_the_explanation() {
    let vendor = Vendor::start().await;
    vendor.mount_upload().await;
    vendor
        .mount_submit_with(err_code(400017, "uploads by URL are not supported"))
        .await;
    let s = Scratch::new();
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["--json", "run", job.to_str().unwrap(), "-o", "clip.mp4"]);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 3);
    let v = json(&out);
    assert_eq!(v["err_code"], 400017, "{v}");
    assert_eq!(v["err_msg"], "uploads by URL are not supported", "{v}");
    let error = v["error"].as_str().unwrap();
    assert!(error.contains("a parameter is invalid"), "{error}");
    assert!(
        error.contains("uploads by URL are not supported"),
        "{error}"
    );
    assert!(
        stderr(&out).contains("uploads by URL are not supported"),
        "{}",
        stderr(&out)
    );
}
