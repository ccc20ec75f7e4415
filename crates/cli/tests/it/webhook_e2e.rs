//! `pixfuse webhook serve` end to end: the sandbox POSTs signed callbacks (with every fault it
//! can inject) to the receiver while a batch runs on the same journal; every job is done and
//! billed once on callbacks alone, duplicates and out-of-order deliveries change nothing, and a
//! forged callback never touches the journal. Also each answer of the receiver, and a job the
//! receiver ends (and downloads) with nobody waiting for it.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig, WebhookConfig, WebhookFaults};
use pixfuse_webhook::{Canonicalisation, sign};
use secrecy::SecretString;
use serde_json::Value;

const SECRET: &str = "e2e-webhook-secret-4b1d";

/// A running `pixfuse webhook serve`, its `--json` lines collected as they come.
struct ReceiverProcess {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ReceiverProcess {
    fn start(scratch: &Scratch, base_url: &str, port: u16, extra: &[&str]) -> ReceiverProcess {
        let mut cmd = scratch.bare();
        cmd.env("PIXFUSE_WEBHOOK_SECRET", SECRET)
            .env("PIXFUSE_API_KEY", pixfuse_sandbox::DEMO_KEY)
            .args(["--base-url", base_url, "--json", "webhook", "serve"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let announced: Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
        let addr = announced["listening"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .to_owned();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        ReceiverProcess { child, addr, lines }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// The callback lines with this `result` (and HTTP status).
    fn count(&self, result: &str, status: u16) -> usize {
        self.lines()
            .iter()
            .filter(|l| {
                l["event"] == "callback" && l["result"] == result && l["http_status"] == status
            })
            .count()
    }
}

/// A port free a moment ago (the sandbox must know the receiver's URL before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn sandbox(receiver_port: u16, faults: WebhookFaults) -> RunningSandbox {
    Sandbox::start(SandboxConfig {
        concurrency_limit: 3,
        // 400 ms generations; a first retry (and the out-of-order hold) of 100 ms.
        generation_time: Duration::from_secs(8),
        time_scale: 0.05,
        webhook: Some(WebhookConfig {
            faults,
            ..WebhookConfig::new(
                format!("http://127.0.0.1:{receiver_port}/pixverse"),
                SecretString::from(SECRET),
            )
        }),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap()
}

/// A raw HTTP/1.1 POST: (status, body).
fn post(addr: &str, headers: &[(&str, String)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = format!(
        "POST /pixverse HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // A receiver may answer (413) before reading everything.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The headers of a callback `body` signed with `secret` at `timestamp`.
fn signed(body: &str, secret: &str, timestamp: u64, nonce: &str) -> Vec<(&'static str, String)> {
    let ts = timestamp.to_string();
    let signature = sign(
        Canonicalisation::FormEncoded,
        &ts,
        nonce,
        body.as_bytes(),
        &SecretString::from(secret),
    )
    .unwrap();
    vec![
        ("Webhook-Timestamp", ts),
        ("Webhook-Nonce", nonce.to_owned()),
        ("Webhook-Signature", signature),
    ]
}

async fn journal(scratch: &Scratch) -> pixfuse::Journal {
    pixfuse::Journal::open_in(&scratch.state()).unwrap()
}

/// Waits (bounded) until `ready` holds.
async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_finishes_on_callbacks_billed_once_whatever_the_deliveries_do() {
    let scratch = Scratch::new();
    let port = free_port();
    let faults = WebhookFaults {
        seed: 4,
        duplicate: 0.2,
        replay: 0.15,
        out_of_order: 0.15,
        bad_signature: 0.15,
        stale_timestamp: 0.15,
    };
    let sandbox = sandbox(port, faults).await;
    let receiver = ReceiverProcess::start(&scratch, sandbox.base_url(), port, &[]);
    let lines = 9;
    let batch = write_batch(scratch.path(), lines, |_, _| {});
    let mut cmd = scratch.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .args(["--base-url", sandbox.base_url(), "--json", "batch"])
        .arg(&batch)
        .arg("--out-dir")
        .arg(scratch.path().join("out"))
        .args(["--concurrency", "3"]);
    // The default (adaptive) polling: with the receiver live it waits 60 s before a first
    // poll, so a batch done within the limit was done on callbacks.
    let out = tokio::task::spawn_blocking(move || run(cmd, Duration::from_secs(25)))
        .await
        .unwrap();
    assert_exit(&out, 0);

    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, lines as u64, "{stats:?}");
    assert_eq!(
        stats.status_requests, 0,
        "no status poll was needed: {stats:?}"
    );
    let journal = journal(&scratch).await;
    let jobs = journal.jobs().await.unwrap();
    assert_eq!(jobs.len(), lines);
    assert!(
        jobs.iter()
            .all(|j| j.state == pixfuse::JobState::Downloaded),
        "{jobs:?}"
    );
    for job in &jobs {
        let output = job.output_path.as_ref().unwrap();
        assert_eq!(
            std::fs::metadata(output).unwrap().len(),
            49_071,
            "{}",
            output.display()
        );
    }

    // Every fault met, harmlessly: one recorded event per video however many deliveries came.
    until("every delivery", || {
        sandbox.stats().callbacks.delivered == lines as u64
    })
    .await;
    let callbacks = sandbox.stats().callbacks;
    let callbacks_in_journal = journal.callbacks().await.unwrap();
    assert_eq!(callbacks_in_journal.len(), lines);
    until("the receiver's lines", || {
        receiver.count("recorded", 200) == lines
            && receiver.count("duplicate", 200) as u64 == callbacks.duplicates_sent
            && receiver.count("rejected", 409) as u64 == callbacks.replays_sent
            && receiver.count("rejected", 401) as u64
                == callbacks.bad_signatures_sent + callbacks.stale_timestamps_sent
    })
    .await;
    assert!(
        callbacks.duplicates_sent > 0
            && callbacks.replays_sent > 0
            && callbacks.held_back > 0
            && callbacks.bad_signatures_sent > 0
            && callbacks.stale_timestamps_sent > 0,
        "the seed must exercise every fault: {callbacks:?}"
    );

    // A forged callback — any secret but the account's — never changes the journal.
    let video = jobs[0].video_id.unwrap();
    let body = format!(r#"{{"id":"{video}","status":8,"url":"","credits":0}}"#);
    let (status, text) = post(
        &receiver.addr,
        &signed(
            &body,
            "not-the-secret",
            now_secs(),
            "forged-nonce-0000000000000000000",
        ),
        body.as_bytes(),
    );
    assert_eq!((status, text.as_str()), (401, "unauthenticated"));
    let after = journal.jobs().await.unwrap();
    assert_eq!(after, jobs);
    assert_eq!(journal.callbacks().await.unwrap().len(), lines);
    assert!(!format!("{:?}", receiver.lines()).contains(SECRET));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_answers_each_kind_of_request_as_documented() {
    let scratch = Scratch::new();
    let receiver = ReceiverProcess::start(&scratch, "http://127.0.0.1:9", 0, &[]);
    let addr = receiver.addr.clone();
    let now = now_secs();
    let body = r#"{"id":"318000000000777","status":1,"url":"https://cdn.example/v.mp4","size":10.5,"has_audio":true,"credits":100}"#;
    let nonce = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6";
    let check = move |headers: Vec<(&str, String)>, body: &[u8]| post(&addr, &headers, body);

    // An unknown video is recorded (another tool's, or a job journaled later), answered ok.
    let (status, text) = check(signed(body, SECRET, now, nonce), body.as_bytes());
    assert_eq!((status, text.as_str()), (200, "ok"));
    // The same delivery again: a replayed nonce.
    assert_eq!(
        check(signed(body, SECRET, now, nonce), body.as_bytes()).0,
        409
    );
    // The same event with a fresh nonce (a retry): ok, nothing new.
    let retry = signed(body, SECRET, now, "Z1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6");
    assert_eq!(check(retry, body.as_bytes()), (200, "ok".to_owned()));
    // Stale, tampered, unsigned.
    let stale = signed(body, SECRET, now - 301, "S1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6");
    assert_eq!(
        check(stale, body.as_bytes()),
        (401, "unauthenticated".to_owned())
    );
    let tampered = body.replace("\"status\":1", "\"status\":8");
    let headers = signed(body, SECRET, now, "T1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6");
    assert_eq!(check(headers, tampered.as_bytes()).0, 401);
    assert_eq!(check(vec![], body.as_bytes()).0, 401);
    // Authentic but not a callback.
    let odd = r#"{"id":"not-a-number","status":1}"#;
    let headers = signed(odd, SECRET, now, "M1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6");
    assert_eq!(
        check(headers, odd.as_bytes()),
        (400, "malformed".to_owned())
    );
    // Over 1 MiB.
    let huge = vec![b' '; (1 << 20) + 10];
    assert_eq!(check(vec![], &huge).0, 413);

    let journal = journal(&scratch).await;
    let recorded = journal.callbacks().await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        (
            recorded[0].video_id,
            recorded[0].deliveries,
            recorded[0].job_id
        ),
        (318_000_000_000_777, 2, None)
    );
    until("one line per request", || receiver.lines().len() >= 8).await;
    let results: Vec<(String, u64)> = receiver
        .lines()
        .iter()
        .map(|l| {
            (
                l["result"].as_str().unwrap().to_owned(),
                l["http_status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expect = [
        ("recorded", 200),
        ("rejected", 409),
        ("duplicate", 200),
        ("rejected", 401),
        ("rejected", 401),
        ("rejected", 401),
        ("rejected", 400),
        ("rejected", 413),
    ];
    for (result, status) in expect {
        assert!(
            results.contains(&(result.to_owned(), status)),
            "{results:?} lacks {result} {status}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_nobody_waits_for_is_ended_and_downloaded_by_the_receiver() {
    let scratch = Scratch::new();
    let port = free_port();
    let sandbox = sandbox(port, WebhookFaults::default()).await;
    let receiver = ReceiverProcess::start(&scratch, sandbox.base_url(), port, &["--download"]);
    let job = write_job(scratch.path());
    let output = scratch.path().join("later.mp4");
    let mut cmd = scratch.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .args(["--base-url", sandbox.base_url(), "--json", "submit"])
        .arg(&job)
        .arg("-o")
        .arg(&output);
    let out = tokio::task::spawn_blocking(move || exec(cmd))
        .await
        .unwrap();
    assert_exit(&out, 0);
    let journal = journal(&scratch).await;
    let mut done = None;
    until("the receiver's download", || {
        done = receiver
            .lines()
            .into_iter()
            .find(|l| l["event"] == "download");
        done.is_some()
    })
    .await;
    let done = done.unwrap();
    assert_eq!(done["result"], "downloaded", "{done}");
    assert_eq!(std::fs::metadata(&output).unwrap().len(), 49_071);
    let jobs = journal.jobs().await.unwrap();
    assert_eq!(jobs[0].state, pixfuse::JobState::Downloaded);
    let ended = receiver
        .lines()
        .into_iter()
        .find(|l| l["result"] == "recorded")
        .unwrap();
    assert_eq!(ended["ended_job"], true, "{ended}");
    assert_eq!(sandbox.stats().billable_jobs, 1);
}

#[test]
fn the_secret_comes_from_the_environment_or_the_config_file_never_the_command_line() {
    let scratch = Scratch::new();
    let mut cmd = scratch.bare();
    cmd.args([
        "--base-url",
        "http://127.0.0.1:9",
        "webhook",
        "serve",
        "--listen",
        "127.0.0.1:0",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("PIXFUSE_WEBHOOK_SECRET"),
        "{}",
        stderr(&out)
    );

    let mut cmd = scratch.bare();
    cmd.args(["webhook", "serve", "--secret", SECRET]);
    let out = exec(cmd);
    assert_exit(&out, 2);

    let config = scratch.path().join("config.toml");
    std::fs::write(&config, format!("webhook_secret = \"{SECRET}\"\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut cmd = scratch.bare();
    cmd.arg("--config")
        .arg(&config)
        .args([
            "--base-url",
            "http://127.0.0.1:9",
            "--json",
            "webhook",
            "serve",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let announced: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(announced["origin"], "http://127.0.0.1:9");
    assert!(!line.contains(SECRET));
}

/// Across machines: the receiver on one (its own state directory) records the callbacks in the
/// shared journal, and a batch worker on another waits on them there — the batch is done
/// without a single status poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_on_one_machine_finishes_a_worker_s_batch_on_another() {
    let Some(url) = crate::shared_journal::fresh_database() else {
        return;
    };
    let (receiving, working) = (Scratch::new(), Scratch::new());
    let port = free_port();
    let sandbox = sandbox(port, WebhookFaults::default()).await;
    let _receiver =
        ReceiverProcess::start(&receiving, sandbox.base_url(), port, &["--journal", &url]);
    let lines = 6;
    let batch = write_batch(working.path(), lines, |_, _| {});
    let mut cmd = working.bare();
    cmd.env("PIXFUSE_API_KEY", sandbox.demo_key_str())
        .env("PIXFUSE_JOURNAL_URL", &url)
        .args(["--base-url", sandbox.base_url(), "--json", "batch"])
        .arg(&batch)
        .arg("--out-dir")
        .arg(working.path().join("out"))
        .args(["--concurrency", "3", "--worker"]);
    // Adaptive polling: with a live receiver on the journal the first poll waits 60 s.
    let out = tokio::task::spawn_blocking(move || run(cmd, Duration::from_secs(25)))
        .await
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(json(&out)["done"], lines);
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, lines as u64, "{stats:?}");
    assert_eq!(
        stats.status_requests, 0,
        "done on callbacks alone: {stats:?}"
    );
    assert!(stats.callbacks.delivered >= lines as u64, "{stats:?}");
    let journal = pixfuse::Journal::connect(&pixfuse::JournalUrl::parse(&url).unwrap()).unwrap();
    assert_eq!(journal.callbacks().await.unwrap().len(), lines);
    assert!(
        !receiving.state().join("journal.sqlite3").exists()
            && !working.state().join("journal.sqlite3").exists(),
        "neither machine used a journal of its own"
    );
}
