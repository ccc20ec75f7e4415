//! How fast `pixfuse run` stops on Ctrl-C (issue 10: within one second, journal consistent):
//! the time from SIGINT to the process's exit, at each step of a job — an upload in flight, the
//! submit sent, waiting for the video, mid-download — against a scripted vendor on loopback.
//!
//! cargo bench -p pixfuse-cli --bench interrupt -- [RUNS]   (default 10 per step)
//! Prints one line per step (median and worst); exits 1 if any stop took a second or more.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pixfuse_e2e::{
    GENERATE, KEY, RESULT_PREFIX, StallingHost, UPLOAD, Vendor, ok, wiremock, write_job,
};
use serde_json::json;

#[derive(Clone, Copy, Debug)]
enum Step {
    Upload,
    Submit,
    Waiting,
    Download,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Upload => "upload",
            Step::Submit => "submit",
            Step::Waiting => "waiting",
            Step::Download => "download",
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let mut worst = Duration::ZERO;
    for step in [Step::Upload, Step::Submit, Step::Waiting, Step::Download] {
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(stop_time(step).await);
        }
        times.sort();
        let median = times[times.len() / 2];
        let max = times[times.len() - 1];
        worst = worst.max(max);
        println!(
            "interrupt at {:<8}  runs {runs:>3}  median {:>6.1} ms  max {:>6.1} ms",
            step.name(),
            median.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    }
    if worst >= Duration::from_secs(1) {
        eprintln!("a stop took {worst:?}: over the one-second target");
        std::process::exit(1);
    }
}

/// One `pixfuse run` interrupted at `step`: the time from SIGINT to its exit.
async fn stop_time(step: Step) -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let vendor = Vendor::start().await;
    let held = Duration::from_secs(60);
    let host = StallingHost::start().await;
    match step {
        Step::Upload => {
            let answer = ok(json!({"img_id": 1000})).set_delay(held);
            mount(&vendor, "POST", UPLOAD, answer).await;
        }
        Step::Submit => {
            vendor.mount_upload().await;
            let answer = ok(json!({"video_id": 7, "credits": 45})).set_delay(held);
            mount(&vendor, "POST", GENERATE, answer).await;
        }
        Step::Waiting | Step::Download => {
            vendor.mount_upload().await;
            vendor.mount_submit(7).await;
            let status = match step {
                Step::Waiting => json!({"id": 7, "status": 5}),
                _ => json!({"id": 7, "status": 1, "url": host.url()}),
            };
            mount(&vendor, "GET", &format!("{RESULT_PREFIX}7"), ok(status)).await;
        }
    }
    let job = write_job(dir.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixfuse"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("PIXFUSE_API_KEY", KEY)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--base-url", &vendor.uri(), "--poll-interval", "10ms"])
        .arg("run")
        .arg(&job)
        .arg("-o")
        .arg(dir.path().join("out.mp4"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("pixfuse starts");
    // Wait until the job is at the step.
    let start = Instant::now();
    loop {
        let reached = match step {
            Step::Upload => !vendor.requests(&format!("^{UPLOAD}$")).await.is_empty(),
            Step::Submit => !vendor.submit_trace_ids().await.is_empty(),
            Step::Waiting => vendor.requests(&format!("^{RESULT_PREFIX}7$")).await.len() >= 2,
            Step::Download => host.stalled() > 0,
        };
        if reached {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{step:?} not reached"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let sent = Instant::now();
    let status = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
    loop {
        if let Some(exit) = child.try_wait().expect("the child") {
            assert_eq!(exit.code(), Some(130), "{step:?}");
            return sent.elapsed();
        }
        assert!(
            sent.elapsed() < Duration::from_secs(10),
            "{step:?}: no stop"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

async fn mount(vendor: &Vendor, verb: &str, route: &str, answer: wiremock::ResponseTemplate) {
    wiremock::Mock::given(wiremock::matchers::method(verb))
        .and(wiremock::matchers::path(route))
        .respond_with(answer)
        .mount(&vendor.server)
        .await;
}
