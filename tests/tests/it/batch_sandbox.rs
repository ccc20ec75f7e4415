//! `Client::run_batch` against the sandbox: the account's concurrency limit kept busy under
//! faults, every line billed once with the exact video, auto concurrency finding the limit, and
//! the budget stopping submits before it is exceeded.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchResult, BatchSummary, Concurrency};

use pixfuse::Client;
use pixfuse_e2e::{sandbox_client, start_sandbox, write_job};
use pixfuse_sandbox::{FaultConfig, Prices, Sandbox, SandboxConfig};

/// A batch file of `n` lines sharing two images (written next to it); returns its path.
fn write_batch(dir: &Path, n: usize) -> PathBuf {
    let job: serde_json::Value =
        serde_json::from_slice(&std::fs::read(write_job(dir)).unwrap()).unwrap();
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let mut line = job.clone();
            line["id"] = format!("take-{i:03}").into();
            line["prompt"] = format!("@dog runs through @park at dusk, take {i}").into();
            line.to_string()
        })
        .collect();
    let path = dir.join("jobs.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

async fn run(
    client: &Client,
    plan: BatchPlan,
    opts: BatchOptions,
) -> (BatchSummary, Vec<BatchEvent>) {
    let mut summary = BatchSummary::default();
    let mut others = Vec::new();
    let mut events = client.run_batch(plan, opts).unwrap();
    while let Some(event) = events.next().await {
        match event {
            BatchEvent::Finished(outcome) => summary.add(&outcome.end),
            BatchEvent::Job { .. } => {}
            other => others.push(other),
        }
    }
    (summary, others)
}

fn fast(concurrency: Concurrency) -> BatchOptions {
    BatchOptions {
        concurrency,
        slot_retry_delay: Duration::from_millis(100),
        ..BatchOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_jobs_under_faults_are_billed_once_with_the_exact_video() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        concurrency_limit: 3,
        generation_time: Duration::from_secs(1),
        faults: FaultConfig {
            seed: 11,
            rate_limit: 0.05,
            server_error: 0.05,
            drop_after_submit: 0.08,
            truncated_json: 0.03,
            cut_download: 0.1,
            retry_after_secs: 0,
        },
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = sandbox_client(
        &sandbox,
        &dir.path().join("state"),
        Duration::from_millis(150),
    );
    let batch = write_batch(dir.path(), 60);
    let out = dir.path().join("out");
    let plan = || BatchPlan::load(&batch, &out, &Default::default()).unwrap();
    let (first, others) = run(&client, plan(), fast(Concurrency::Fixed(3))).await;
    // Every fault kind struck, and no job was lost to any of them: they were retried in place
    // (same trace id) or, if one stopped a job, continued within the run.
    assert!(first.all_done() && first.done == 60, "{first:?}");
    let restarted = others
        .iter()
        .filter(|e| matches!(e, BatchEvent::Restarted { .. }))
        .count();
    let f = sandbox.stats().faults;
    assert!(
        f.rate_limited > 0
            && f.server_errors > 0
            && f.dropped_submits > 0
            && f.truncated_bodies > 0
            && f.cut_downloads > 0,
        "every fault kind must strike at least once: {f:?} ({restarted} jobs restarted)"
    );
    let video = std::fs::read(dir.path().join("out/take-000.mp4")).unwrap();
    for i in 0..60 {
        let path = out.join(format!("take-{i:03}.mp4"));
        assert_eq!(std::fs::read(&path).unwrap(), video, "{}", path.display());
        assert!(out.join(format!("take-{i:03}.mp4.json")).exists());
    }
    let stats = sandbox.stats();
    assert_eq!(stats.billable_jobs, 60, "{stats:?}");
    assert_eq!(
        stats.uploads, 2,
        "shared images are uploaded once: {stats:?}"
    );

    // Running the finished batch again sends nothing billable and reports every job done.
    let (again, _) = run(&client, plan(), fast(Concurrency::Fixed(3))).await;
    assert_eq!((again.done, again.done_earlier), (60, 60), "{again:?}");
    assert_eq!(sandbox.stats().billable_jobs, 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_concurrency_discovers_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        concurrency_limit: 3,
        generation_time: Duration::from_millis(400),
        ..SandboxConfig::for_tests()
    };
    let sandbox = Sandbox::start(config).await.unwrap();
    let client = sandbox_client(
        &sandbox,
        &dir.path().join("state"),
        Duration::from_millis(150),
    );
    let batch = write_batch(dir.path(), 15);
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let (summary, events) = run(&client, plan, fast(Concurrency::Auto { max: 8 })).await;
    assert_eq!(summary.done, 15, "{summary:?}");
    let limits: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            BatchEvent::ConcurrencyChanged { limit } => Some(*limit),
            _ => None,
        })
        .collect();
    assert!(
        limits.contains(&4),
        "grew past the limit to probe it: {limits:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, BatchEvent::SlotRefused { .. })),
        "the probe was refused"
    );
    assert!(
        limits.iter().filter(|l| **l == 3).count() >= 2,
        "settled on the revealed limit: {limits:?}"
    );
    assert!(limits.iter().all(|l| *l <= 4), "{limits:?}");
    let stats = sandbox.stats();
    assert_eq!(
        stats.billable_jobs, 15,
        "a refused submit bills nothing: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_stops_submits_before_it_is_exceeded() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(150)).await;
    let batch = write_batch(dir.path(), 6);
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let each = plan.items[0].estimate.unwrap() as f64;
    let opts = BatchOptions {
        budget: Some(each * 2.5),
        ..fast(Concurrency::Fixed(1))
    };
    let (summary, events) = run(&client, plan, opts).await;
    assert_eq!(
        (summary.done, summary.skipped_budget),
        (2, 4),
        "{summary:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, BatchEvent::BudgetStop { .. }))
            .count(),
        1
    );
    assert_eq!(sandbox.stats().billable_jobs, 2);
    assert!(summary.credits_this_run as f64 <= each * 2.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_charges_more_than_the_estimate_stops_the_budget_sooner() {
    let dir = tempfile::tempdir().unwrap();
    // The vendor charges twice what pixfuse's price table says.
    let sandbox = Sandbox::start(SandboxConfig {
        prices: Prices::Scaled(2.0),
        ..SandboxConfig::for_tests()
    })
    .await
    .unwrap();
    let client = sandbox_client(
        &sandbox,
        &dir.path().join("state"),
        Duration::from_millis(150),
    );
    let batch = write_batch(dir.path(), 6);
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let each = plan.items[0].estimate.unwrap() as f64;
    // By the estimates four jobs fit; by what is really charged, two.
    let budget = each * 4.5;
    let opts = BatchOptions {
        budget: Some(budget),
        ..fast(Concurrency::Fixed(1))
    };
    let (summary, _) = run(&client, plan, opts).await;
    assert_eq!(
        (summary.done, summary.skipped_budget),
        (2, 4),
        "{summary:?}"
    );
    let charged = sandbox.stats().credits_spent;
    assert_eq!(
        charged as f64,
        each * 4.0,
        "twice the estimate for each of two"
    );
    assert_eq!(
        summary.credits_this_run as u64, charged,
        "the summary reports the real charge"
    );
    assert!(charged as f64 <= budget);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failure_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(150)).await;
    let batch = write_batch(dir.path(), 3);
    let mut text = std::fs::read_to_string(&batch).unwrap();
    text = text.replacen("take 1", "take 1 sandbox-moderate", 1);
    text.push_str("\n{\"id\":\"broken\",\"model\":\"v5\"}\n");
    std::fs::write(&batch, text).unwrap();
    let plan = BatchPlan::load(&batch, &dir.path().join("out"), &Default::default()).unwrap();
    let mut events = client.run_batch(plan, fast(Concurrency::Fixed(2))).unwrap();
    let mut summary = BatchSummary::default();
    let mut moderated = None;
    while let Some(event) = events.next().await {
        if let BatchEvent::Finished(outcome) = event {
            summary.add(&outcome.end);
            if let BatchResult::Failed(pixfuse::Error::Generation {
                status: pixfuse::JobStatus::Moderated,
                ..
            }) = outcome.result
            {
                moderated = outcome.id.clone();
            }
        }
    }
    assert_eq!(summary.done, 2, "{summary:?}");
    assert_eq!(summary.failed.get("moderation"), Some(&1), "{summary:?}");
    assert_eq!(
        summary.failed.get("invalid_request"),
        Some(&1),
        "{summary:?}"
    );
    assert_eq!(moderated.as_deref(), Some("take-001"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_edited_under_the_same_id_is_rejected_not_mapped_to_the_old_job() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(150)).await;
    let batch = write_batch(dir.path(), 2);
    let out = dir.path().join("out");
    let plan = BatchPlan::load(&batch, &out, &Default::default()).unwrap();
    let (first, _) = run(&client, plan, fast(Concurrency::Fixed(2))).await;
    assert_eq!(first.done, 2, "{first:?}");

    // The user changes take-000's prompt but keeps its id.
    let text = std::fs::read_to_string(&batch).unwrap();
    std::fs::write(&batch, text.replacen("take 0", "take 0, in the rain", 1)).unwrap();
    let plan = BatchPlan::load(&batch, &out, &Default::default()).unwrap();
    let mut events = client.run_batch(plan, fast(Concurrency::Fixed(2))).unwrap();
    let mut summary = BatchSummary::default();
    let mut changed = None;
    while let Some(event) = events.next().await {
        if let BatchEvent::Finished(outcome) = event {
            summary.add(&outcome.end);
            if let BatchResult::Failed(e) = &outcome.result {
                changed = Some((outcome.id.clone(), e.to_string()));
            }
        }
    }
    let (id, message) = changed.expect("the edited line must be rejected");
    assert_eq!(id.as_deref(), Some("take-000"));
    assert!(message.contains("\"take-000\""), "{message}");
    assert!(message.contains("new \"id\""), "{message}");
    // The unchanged line still resumes; nothing was sent for the edited one.
    assert_eq!((summary.done, summary.done_earlier), (1, 1), "{summary:?}");
    assert_eq!(sandbox.stats().billable_jobs, 2);

    // Restoring the line resumes the earlier job again.
    std::fs::write(&batch, text).unwrap();
    let plan = BatchPlan::load(&batch, &out, &Default::default()).unwrap();
    let (restored, _) = run(&client, plan, fast(Concurrency::Fixed(2))).await;
    assert_eq!(
        (restored.done, restored.done_earlier),
        (2, 2),
        "{restored:?}"
    );
}
