//! Benchmark of the shared (PostgreSQL) journal, issue 16:
//! - claims per second with 1, 2 and 4 workers (each its own connection pool, as a process);
//! - batch slot utilisation with 3 workers sharing one batch and one account's limit, against
//!   one process running the same batch (sandbox: limit L, generation time T, M jobs; ideal
//!   ceil(M/L)·T).
//!
//! PIXFUSE_TEST_POSTGRES_URL=postgres://… cargo run -p pixfuse-e2e --example shared_bench -- [M] [L] [T_ms] [claims]
//! (defaults: 60 3 1000 2000). Makes a throw-away database per run with `psql` and drops it.
//! Prints one line per figure; exits 1 if a job is missing or a shared batch's utilisation is
//! below 85%.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchSummary, Concurrency};
use pixfuse::{Client, JournalUrl, PollPolicy, Provider, TransportConfig};
use pixfuse_sandbox::{Sandbox, SandboxConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (m, l, t) = (
        arg(0, 60),
        arg(1, 3) as u32,
        Duration::from_millis(arg(2, 1000)),
    );
    let claims = arg(3, 2000) as usize;
    let Ok(base) = std::env::var("PIXFUSE_TEST_POSTGRES_URL") else {
        eprintln!(
            "shared_bench: set PIXFUSE_TEST_POSTGRES_URL to a PostgreSQL server (.ci/postgres.sh starts one)"
        );
        std::process::exit(2);
    };
    let mut ok = true;
    for workers in [1, 2, 4] {
        let db = Database::create(&base);
        let (jobs, lines) = pixfuse::journal::bench_claims(&db.url(), workers, claims / workers)
            .await
            .expect("claims");
        println!(
            "claims: workers={workers} claims={} job_claims_per_s={jobs:.0} batch_line_claims_per_s={lines:.0}",
            claims / workers * workers
        );
    }
    let ideal = t * u32::try_from(m.div_ceil(u64::from(l))).unwrap();
    for workers in [1, 3] {
        let db = Database::create(&base);
        let (done, billable, refusals, took) = batch(&db.url(), m, l, t, workers).await;
        let utilisation = ideal.as_secs_f64() / took.as_secs_f64();
        println!(
            "batch: workers={workers} M={m} L={l} T={}ms done={done} billable={billable} refused_500044={refusals} took={:.2}s ideal={:.2}s utilisation={:.1}%",
            t.as_millis(),
            took.as_secs_f64(),
            ideal.as_secs_f64(),
            utilisation * 100.0
        );
        ok &= done as u64 == m && billable == m && utilisation >= 0.85;
    }
    if !ok {
        std::process::exit(1);
    }
}

/// M jobs on a fresh sandbox: one `run_batch`, or `workers` workers of one shared batch (each
/// a client of its own: its own owner, pool and slots, as on separate machines).
async fn batch(
    url: &JournalUrl,
    m: u64,
    l: u32,
    t: Duration,
    workers: usize,
) -> (usize, u64, u64, Duration) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::start(SandboxConfig {
        concurrency_limit: l,
        generation_time: t,
        ..SandboxConfig::for_tests()
    })
    .await
    .expect("sandbox");
    let batch = pixfuse_e2e::write_batch(dir.path(), m as usize, |_, _| {});
    let out = dir.path().join("out");
    let client = || {
        let transport = TransportConfig::new(Provider::Pixverse, sandbox.demo_key())
            .with_base_url(sandbox.base_url())
            .with_poll(PollPolicy::Fixed(Duration::from_millis(100)));
        Client::builder()
            .transport(transport)
            .journal(url.clone())
            .build()
            .expect("client")
    };
    let opts = || BatchOptions {
        concurrency: Concurrency::Fixed(l),
        slot_retry_delay: Duration::from_millis(200),
        ..BatchOptions::default()
    };
    let plan = || BatchPlan::load(&batch, &out, &Default::default()).expect("plan");
    let id = pixfuse::batch::batch_id(&batch).expect("batch id");
    let clients: Vec<Client> = (0..workers).map(|_| client()).collect();
    let started = Instant::now();
    let mut runs = tokio::task::JoinSet::new();
    for c in clients {
        let events = if workers == 1 {
            Box::pin(c.run_batch(plan(), opts()).expect("batch"))
                as std::pin::Pin<Box<dyn futures_util::Stream<Item = BatchEvent> + Send>>
        } else {
            Box::pin(
                c.run_batch_worker(plan(), id.clone(), opts())
                    .expect("worker"),
            )
        };
        runs.spawn(async move {
            let _client = c;
            let mut events = events;
            let mut summary = BatchSummary::default();
            while let Some(event) = events.next().await {
                if let BatchEvent::Finished(outcome) = event {
                    summary.add(&outcome.end);
                }
            }
            summary.done
        });
    }
    let mut done = 0;
    while let Some(n) = runs.join_next().await {
        done += n.expect("run");
    }
    let took = started.elapsed();
    let stats = sandbox.stats();
    (done, stats.billable_jobs, stats.concurrency_refusals, took)
}

/// A throw-away database on the server, dropped at the end.
struct Database {
    base: String,
    name: String,
}

impl Database {
    fn create(base: &str) -> Database {
        let name = format!("pixfuse_bench_{}", pixfuse::Uuid::new_v4().simple());
        psql(base, &format!("CREATE DATABASE {name}"));
        Database {
            base: base.to_owned(),
            name,
        }
    }

    fn url(&self) -> JournalUrl {
        let (server, _) = self.base.rsplit_once('/').expect("a URL with a database");
        JournalUrl::parse(&format!("{server}/{}", self.name)).expect("journal URL")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &self.base,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-qc", sql])
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
