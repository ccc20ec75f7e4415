//! A scripted PixVerse vendor on loopback (wiremock), shared by the end-to-end tests of the
//! library (`tests/tests/`) and of the CLI (`crates/cli/tests/`). The tests themselves live in
//! `tests/tests/`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use serde_json::{Value, json};
use wiremock::matchers::{any, method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub use wiremock;

pub mod hostile;

/// A key no other string in the tests contains: it must never show up anywhere.
pub const KEY: &str = "pk-e2e-7f3a9c1d5b-NEVER-PRINT-ME";

// The vendor's paths, from core's endpoint table.
pub const UPLOAD: &str = pixfuse::core::endpoint::UPLOAD.path;
pub const GENERATE: &str = pixfuse::core::endpoint::GENERATE.path;
pub const RESULT_PREFIX: &str = pixfuse::core::endpoint::RESULT_PREFIX;
pub const BALANCE: &str = pixfuse::core::endpoint::BALANCE.path;
pub const VIDEO_PATH: &str = "/cdn/video.mp4";

/// The "video" the vendor serves: 200 KiB that start like an MP4 (an `ftyp` box, so pixfuse's
/// signature check accepts it), then non-repeating bytes.
pub fn video_bytes() -> Vec<u8> {
    let mut video = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    video.extend(
        (video.len() as u32..200 * 1024).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8),
    );
    video
}

/// A 64×48 PNG header (signature, IHDR, IEND): enough for magic-byte and size checks.
pub fn tiny_png(seed: u8) -> Vec<u8> {
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&64u32.to_be_bytes());
    png.extend_from_slice(&48u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&[seed, 0, 0, 0]); // CRC (unchecked); the seed makes files distinct
    png.extend_from_slice(&0u32.to_be_bytes());
    png.extend_from_slice(b"IEND");
    png.extend_from_slice(&[0xAE, 0x42, 0x60, 0x82]);
    png
}

/// Writes `dog.png`, `park.png` and `job.json` (v5, 5 s, 540p) into `dir`; returns the job path.
pub fn write_job(dir: &Path) -> PathBuf {
    replace_file(&dir.join("dog.png"), &tiny_png(1));
    replace_file(&dir.join("park.png"), &tiny_png(2));
    let job = json!({
        "image_references": [
            {"type": "subject", "image": "dog.png", "ref_name": "dog"},
            {"type": "background", "image": "park.png", "ref_name": "park"}
        ],
        "prompt": "@dog runs through @park at dusk",
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
        "seed": 42
    });
    let path = dir.join("job.json");
    replace_file(&path, &serde_json::to_vec_pretty(&job).unwrap());
    path
}

/// Writes `bytes` to `path` by a rename, so a process reading it meanwhile (tests run several
/// on one folder) sees the old file or the new one, never a truncated one.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap().to_owned();
    name.push(format!(".{}-{n}.tmp", std::process::id()));
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// A batch file `jobs.jsonl` in `dir` of `n` lines (ids `take-00`, `take-01`, …, each its own
/// prompt) sharing the two images of [`write_job`]; `tweak` edits line `i`. Returns its path.
pub fn write_batch(dir: &Path, n: usize, tweak: impl Fn(usize, &mut Value)) -> PathBuf {
    let job: Value = serde_json::from_slice(&std::fs::read(write_job(dir)).unwrap()).unwrap();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let mut line = job.clone();
            line["id"] = format!("take-{i:02}").into();
            line["prompt"] = format!("@dog runs through @park at dusk, take {i}").into();
            tweak(i, &mut line);
            line.to_string()
        })
        .collect();
    let path = dir.join("jobs.jsonl");
    replace_file(&path, (lines.join("\n") + "\n").as_bytes());
    path
}

/// The envelope of a successful answer.
pub fn ok(resp: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({"ErrCode": 0, "ErrMsg": "success", "Resp": resp}))
}

/// An ErrCode answer on HTTP 200, as the vendor sends them.
pub fn err_code(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ErrCode": code, "ErrMsg": msg, "Resp": {}}))
}

/// Flips a [`Vendor::mount_switch`] mock to its second answer.
pub struct Switch(Arc<AtomicBool>);

impl Switch {
    pub fn flip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The mock vendor.
pub struct Vendor {
    pub server: MockServer,
}

impl Vendor {
    /// A vendor whose unexpected requests fail loudly (HTTP 599 naming the request).
    pub async fn start() -> Vendor {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(|req: &Request| {
                ResponseTemplate::new(599).set_body_string(format!(
                    "unexpected request in this test: {} {}",
                    req.method, req.url
                ))
            })
            .with_priority(u8::MAX)
            .named("catch-all")
            .mount(&server)
            .await;
        Vendor { server }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn video_url(&self) -> String {
        format!("{}{VIDEO_PATH}", self.server.uri())
    }

    /// Uploads answer img_id 1000 + n for the n-th upload.
    pub async fn mount_upload(&self) {
        let counter = std::sync::atomic::AtomicU64::new(0);
        Mock::given(method("POST"))
            .and(path(UPLOAD))
            .respond_with(move |_: &Request| {
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                ok(json!({"img_id": 1000 + n, "img_url": format!("https://img.example/{n}.png")}))
            })
            .named("upload")
            .mount(&self.server)
            .await;
    }

    /// The submit answers `video_id` (what the vendor does for a resent trace id, too).
    pub async fn mount_submit(&self, video_id: u64) {
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .respond_with(ok(json!({"video_id": video_id, "credits": 45})))
            .named("submit")
            .mount(&self.server)
            .await;
    }

    /// `method path` answers `before` until the switch is flipped, then `after`.
    ///
    /// (Not `mount_as_scoped`: wiremock 0.6.5 re-sorts its mocks by priority on every request
    /// while guards keep positional ids, so with the catch-all's priority a dropped guard can
    /// deactivate the wrong mock.)
    pub async fn mount_switch(
        &self,
        verb: &str,
        route: &str,
        before: ResponseTemplate,
        after: ResponseTemplate,
    ) -> Switch {
        let flipped = Arc::new(AtomicBool::new(false));
        let seen = flipped.clone();
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(move |_: &Request| {
                if seen.load(Ordering::SeqCst) {
                    after.clone()
                } else {
                    before.clone()
                }
            })
            .named("switch")
            .mount(&self.server)
            .await;
        Switch(flipped)
    }

    /// The submit answers `template`.
    pub async fn mount_submit_with(&self, template: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(GENERATE))
            .respond_with(template)
            .named("submit")
            .mount(&self.server)
            .await;
    }

    /// Status polls: `generating` answers of status 5 first, then `status` (with the video URL
    /// when it is 1).
    pub async fn mount_status(&self, video_id: u64, generating: u64, status: i64) {
        let route = format!("{RESULT_PREFIX}{video_id}");
        if generating > 0 {
            Mock::given(method("GET"))
                .and(path(route.clone()))
                .respond_with(ok(json!({"id": video_id, "status": 5})))
                .up_to_n_times(generating)
                .with_priority(1)
                .named("status: generating")
                .mount(&self.server)
                .await;
        }
        let mut resp = json!({"id": video_id, "status": status, "seed": 42, "credits": 45});
        if status == 1 {
            resp["url"] = json!(self.video_url());
        }
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ok(resp))
            .with_priority(2)
            .named("status: final")
            .mount(&self.server)
            .await;
    }

    /// The video file.
    pub async fn mount_video(&self) {
        Mock::given(method("GET"))
            .and(path(VIDEO_PATH))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "video/mp4")
                    .set_body_bytes(video_bytes()),
            )
            .named("video")
            .mount(&self.server)
            .await;
    }

    /// Upload, submit, status (one "generating" first), video: the happy path.
    pub async fn mount_happy(&self, video_id: u64) {
        self.mount_upload().await;
        self.mount_submit(video_id).await;
        self.mount_status(video_id, 1, 1).await;
        self.mount_video().await;
    }

    /// Balance.
    pub async fn mount_balance(&self, monthly: i64, package: i64) {
        Mock::given(method("GET"))
            .and(path(BALANCE))
            .respond_with(ok(
                json!({"account_id": 7, "credit_monthly": monthly, "credit_package": package}),
            ))
            .named("balance")
            .mount(&self.server)
            .await;
    }

    /// Every request received so far to paths matching `regex`.
    pub async fn requests(&self, regex: &str) -> Vec<Request> {
        let matcher = path_regex(regex);
        let all = self.server.received_requests().await.unwrap_or_default();
        all.into_iter()
            .filter(|r| wiremock::Match::matches(&matcher, r))
            .collect()
    }

    /// The `Ai-trace-id` of every submit received.
    pub async fn submit_trace_ids(&self) -> Vec<String> {
        self.requests(&format!("^{GENERATE}$"))
            .await
            .iter()
            .filter_map(|r| r.headers.get("ai-trace-id"))
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// Waits (bounded) until at least `n` submits arrived.
    pub async fn wait_for_submits(&self, n: usize, limit: Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < limit {
            if self.requests(&format!("^{GENERATE}$")).await.len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

/// A fresh test sandbox and a [`sandbox_client`] on it, journaling under `dir/state`.
pub async fn start_sandbox(
    dir: &Path,
    poll: Duration,
) -> (pixfuse_sandbox::RunningSandbox, pixfuse::Client) {
    let sandbox = pixfuse_sandbox::Sandbox::start(pixfuse_sandbox::SandboxConfig::for_tests())
        .await
        .expect("the test sandbox starts");
    let client = sandbox_client(&sandbox, &dir.join("state"), poll);
    (sandbox, client)
}

/// A `pixfuse::Client` on the sandbox with test-sized timings: millisecond backoffs, a fixed
/// poll every `poll`, and bounded timeouts, so a broken test fails instead of hanging. It
/// journals jobs under the sandbox's origin, as `--sandbox` does, so another sandbox on the same
/// state directory can finish them.
pub fn sandbox_client(
    sandbox: &pixfuse_sandbox::RunningSandbox,
    state: &Path,
    poll: Duration,
) -> pixfuse::Client {
    sandbox_client_as(sandbox, &sandbox.origin(), state, poll)
}

/// [`sandbox_client`] journaling under `origin` instead of the sandbox's own (a server that
/// lost its memory but kept its name).
pub fn sandbox_client_as(
    sandbox: &pixfuse_sandbox::RunningSandbox,
    origin: &str,
    state: &Path,
    poll: Duration,
) -> pixfuse::Client {
    let tiny = pixfuse::core::retry::Backoff {
        base: Duration::from_millis(5),
        factor: 2.0,
        max: Duration::from_millis(50),
    };
    let transport = pixfuse::TransportConfig::new(pixfuse::Provider::Pixverse, sandbox.demo_key())
        .with_base_url(sandbox.base_url())
        .with_retry(pixfuse::RetryPolicy {
            max_attempts: 8,
            backoff: tiny,
            max_slot_waits: 50,
            slot_backoff: tiny,
            deadline: Some(Duration::from_secs(30)),
        })
        .with_poll(pixfuse::PollPolicy::Fixed(poll))
        .with_request_timeout(Duration::from_secs(5))
        .with_download_read_timeout(Duration::from_secs(5));
    pixfuse::Client::builder()
        .transport(transport)
        .origin(origin)
        .wait_timeout(Duration::from_secs(60))
        .state_dir(state)
        .build()
        .expect("a sandbox client builds")
}

/// A video host that sends the first half of [`video_bytes`] and then stalls (a download cut
/// off mid-way, from the client's side), until told to serve the file whole.
pub struct StallingHost {
    addr: std::net::SocketAddr,
    whole: Arc<AtomicBool>,
    stalled: Arc<AtomicUsize>,
}

impl StallingHost {
    pub async fn start() -> StallingHost {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let whole = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicUsize::new(0));
        let (w, st) = (whole.clone(), stalled.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (whole, stalled) = (w.clone(), st.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = video_bytes();
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = conn.write_all(head.as_bytes()).await;
                    if whole.load(Ordering::SeqCst) {
                        let _ = conn.write_all(&body).await;
                        return;
                    }
                    let _ = conn.write_all(&body[..body.len() / 2]).await;
                    let _ = conn.flush().await;
                    stalled.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(60)).await;
                });
            }
        });
        StallingHost {
            addr,
            whole,
            stalled,
        }
    }

    /// The video's URL.
    pub fn url(&self) -> String {
        format!("http://{}/video.mp4", self.addr)
    }

    /// Connections that got half the file and are stalled now.
    pub fn stalled(&self) -> usize {
        self.stalled.load(Ordering::SeqCst)
    }

    /// From now on every request gets the whole file.
    pub fn serve_whole(&self) {
        self.whole.store(true, Ordering::SeqCst);
    }
}
