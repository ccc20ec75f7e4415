//! Benchmark of `Client::run_batch` on the sandbox: with a concurrency limit L and generation
//! time T, M jobs should finish within 15% of the ideal ceil(M/L)·T (slot utilisation ≥ 85%).
//!
//! cargo run -p pixfuse-e2e --example batch_bench -- [M] [L] [T_ms] [fixed|auto] [adaptive] [webhook]
//! (defaults: 40 5 2000 fixed). `adaptive` polls on the CLI's default schedule instead of every
//! 100 ms. `webhook` runs the batch twice in this run — without, then with a `pixfuse webhook
//! serve` receiver (the `pixfuse` binary beside this example: `cargo build -p pixfuse-cli`
//! first) fed by the sandbox's signed callbacks — and holds the run with the receiver to ≥ 97 %
//! slot use and at most 1.5 status requests per job. Prints one line per run; exits 1 below
//! the target.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchSummary, Concurrency};
use pixfuse::{Client, PollPolicy, Provider, TransportConfig};
use pixfuse_sandbox::{Sandbox, SandboxConfig, WebhookConfig};
use secrecy::SecretString;

const SECRET: &str = "batch-bench-webhook-secret";

struct Setup {
    m: u64,
    l: u32,
    t: Duration,
    auto: bool,
    adaptive: bool,
}

/// What one batch run measured.
struct Figures {
    done: usize,
    billable: u64,
    status_requests: u64,
    took: Duration,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let word = |w: &str| args.iter().any(|a| a == w);
    let setup = Setup {
        m: arg(0, 40),
        l: arg(1, 5) as u32,
        t: Duration::from_millis(arg(2, 2000)),
        auto: word("auto"),
        adaptive: word("adaptive"),
    };
    let ideal = setup.t * u32::try_from(setup.m.div_ceil(u64::from(setup.l))).unwrap();
    let polled = batch(&setup, None).await;
    let mut ok = report(&setup, "polling", &polled, ideal, 0.85, f64::INFINITY);
    if word("webhook") {
        let receiver = receiver_binary();
        let with = batch(&setup, Some(&receiver)).await;
        ok &= report(&setup, "webhook", &with, ideal, 0.97, 1.5);
    }
    if !ok {
        std::process::exit(1);
    }
}

/// Prints the figures; whether they meet the targets.
fn report(
    s: &Setup,
    how: &str,
    f: &Figures,
    ideal: Duration,
    min_use: f64,
    max_polls: f64,
) -> bool {
    let utilisation = ideal.as_secs_f64() / f.took.as_secs_f64();
    let per_job = f.status_requests as f64 / s.m as f64;
    println!(
        "{how}: M={} L={} T={}ms mode={} poll={} done={} billable={} status_requests={} ({per_job:.2}/job) took={:.2}s ideal={:.2}s utilisation={:.1}%",
        s.m,
        s.l,
        s.t.as_millis(),
        if s.auto { "auto" } else { "fixed" },
        if s.adaptive { "adaptive" } else { "100ms" },
        f.done,
        f.billable,
        f.status_requests,
        f.took.as_secs_f64(),
        ideal.as_secs_f64(),
        utilisation * 100.0
    );
    f.done as u64 == s.m && utilisation >= min_use && per_job <= max_polls
}

/// One batch on a fresh sandbox (and journal); with `receiver`, a `pixfuse webhook serve` on
/// the same journal receives the sandbox's callbacks.
async fn batch(s: &Setup, receiver: Option<&Path>) -> Figures {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: s.l,
        generation_time: s.t,
        webhook: receiver.map(|_| {
            WebhookConfig::new(
                format!("http://127.0.0.1:{port}/"),
                SecretString::from(SECRET),
            )
        }),
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let _serving = receiver.map(|binary| Serving::start(binary, sandbox.base_url(), &state, port));

    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pixfuse_e2e::write_job(dir.path())).unwrap())
            .unwrap();
    let lines: Vec<String> = (0..s.m)
        .map(|i| {
            let mut line = job.clone();
            line["id"] = format!("b{i}").into();
            line["prompt"] = format!("@dog runs through @park at dusk, take {i}").into();
            line.to_string()
        })
        .collect();
    let batch = dir.path().join("jobs.jsonl");
    std::fs::write(&batch, lines.join("\n")).unwrap();

    // The CLI's defaults, except (without `adaptive`) a fixed poll interval: the adaptive
    // schedule is tuned for real generations of minutes, not the sandbox's seconds.
    let transport = TransportConfig::new(Provider::Pixverse, sandbox.demo_key())
        .with_base_url(sandbox.base_url())
        .with_poll(if s.adaptive {
            PollPolicy::Adaptive
        } else {
            PollPolicy::Fixed(Duration::from_millis(100))
        });
    let client = Client::builder()
        .transport(transport)
        .state_dir(&state)
        .build()
        .expect("client");
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let opts = BatchOptions {
        concurrency: if s.auto {
            Concurrency::AUTO
        } else {
            Concurrency::Fixed(s.l)
        },
        slot_retry_delay: Duration::from_millis(200),
        ..BatchOptions::default()
    };
    let started = Instant::now();
    let mut summary = BatchSummary::default();
    let mut events = client.run_batch(plan, opts).expect("batch");
    while let Some(event) = events.next().await {
        if let BatchEvent::Finished(outcome) = event {
            summary.add(&outcome.end);
        }
    }
    let took = started.elapsed();
    let stats = sandbox.stats();
    Figures {
        done: summary.done,
        billable: stats.billable_jobs,
        status_requests: stats.status_requests,
        took,
    }
}

/// The `pixfuse` binary next to this example (`target/<profile>/pixfuse`).
fn receiver_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("pixfuse{}", std::env::consts::EXE_SUFFIX)))
        .filter(|p| p.is_file());
    binary.unwrap_or_else(|| {
        eprintln!("batch_bench webhook: no pixfuse binary beside {}; run `cargo build -p pixfuse-cli` first", exe.display());
        std::process::exit(2)
    })
}

/// `pixfuse webhook serve` on `state`, for the sandbox at `base_url`; killed on drop.
struct Serving(Child);

impl Serving {
    fn start(binary: &Path, base_url: &str, state: &Path, port: u16) -> Serving {
        let mut child = Command::new(binary)
            .env("PIXFUSE_WEBHOOK_SECRET", SECRET)
            .arg("--base-url")
            .arg(base_url)
            .arg("--state-dir")
            .arg(state)
            .args(["--json", "webhook", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("pixfuse webhook serve");
        // Its first line says it listens (and its heartbeat is in the journal).
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("the receiver's first line");
        std::thread::spawn(move || for _ in stdout.lines() {});
        Serving(child)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
