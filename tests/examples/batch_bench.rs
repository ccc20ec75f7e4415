//! Benchmark of `Client::run_batch` on the sandbox: with a concurrency limit L and generation
//! time T, M jobs should finish within 15% of the ideal ceil(M/L)·T (slot utilisation ≥ 85%).
//!
//! cargo run -p pixfuse-e2e --example batch_bench -- [M] [L] [T_ms] [fixed|auto]
//! (defaults: 40 5 2000 fixed). Prints one line of figures; exits 1 below 85 %.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchSummary, Concurrency};
use pixfuse::{Client, PollPolicy};
use pixfuse_sandbox::{Sandbox, SandboxConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (m, l, t_ms) = (arg(0, 40), arg(1, 5) as u32, arg(2, 2000));
    let auto = args.get(3).is_some_and(|a| a == "auto");
    let t = Duration::from_millis(t_ms);

    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: l,
        generation_time: t,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let dir = tempfile::tempdir().expect("tempdir");
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pixfuse_e2e::write_job(dir.path())).unwrap())
            .unwrap();
    let lines: Vec<String> = (0..m)
        .map(|i| {
            let mut line = job.clone();
            line["id"] = format!("b{i}").into();
            line["prompt"] = format!("@dog runs through @park at dusk, take {i}").into();
            line.to_string()
        })
        .collect();
    let batch = dir.path().join("jobs.jsonl");
    std::fs::write(&batch, lines.join("\n")).unwrap();

    // The CLI's defaults, except a fixed poll interval (the adaptive schedule is tuned for real
    // generations of minutes, not the sandbox's seconds).
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .api_key(sandbox.demo_key())
        .poll_policy(PollPolicy::Fixed(Duration::from_millis(100)))
        .state_dir(dir.path().join("state"))
        .build()
        .expect("client");
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let opts = BatchOptions {
        concurrency: if auto {
            Concurrency::Auto { max: 20 }
        } else {
            Concurrency::Fixed(l)
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
    let ideal = t * u32::try_from(m.div_ceil(u64::from(l))).unwrap();
    let utilisation = ideal.as_secs_f64() / took.as_secs_f64();
    let stats = sandbox.stats();
    println!(
        "M={m} L={l} T={t_ms}ms mode={} done={} billable={} took={:.2}s ideal={:.2}s utilisation={:.1}%",
        if auto { "auto" } else { "fixed" },
        summary.done,
        stats.billable_jobs,
        took.as_secs_f64(),
        ideal.as_secs_f64(),
        utilisation * 100.0
    );
    if summary.done as u64 != m || utilisation < 0.85 {
        std::process::exit(1);
    }
}
