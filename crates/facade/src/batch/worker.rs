//! A worker of a batch shared through the PostgreSQL journal: any number of processes on any
//! number of machines run the same batch file. The first loads the plan (idempotently, keyed
//! by the file's content hash and the line keys); every worker claims the next free line with
//! `FOR UPDATE SKIP LOCKED` until none are left. A line is run as in a single-process batch
//! (claimed under its line key, so it is billed once), its submit takes one of the account's
//! slots, and a line whose worker died is taken over with its job's trace id.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::Stream;
use pixfuse_core::batch::{ConcurrencyController, LineEnd, LineKind};
use pixfuse_core::errcode::CONCURRENCY_LIMIT;
use pixfuse_core::lifecycle::Goal;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;

use super::outcome::{BatchOutcome, BatchResult, failure_class};
use super::plan::{BatchItem, BatchPlan, RejectedLine};
use super::runner::{BatchStream, line_end, restart_need};
use super::{BatchEvent, BatchOptions, Concurrency};
use crate::client::Client;
use crate::error::Error;
use crate::event::Event;
use crate::journal::{Fresh, JobRecord, LineClaim, NewBatchLine};
use crate::run::ClaimSpec;

/// How long a worker with nothing to claim waits before looking again (a line whose worker
/// died becomes free when its lease runs out).
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Tries of one line by one worker before it is given back to the batch.
const LINE_TRIES: u32 = 3;

/// Tries of one line, by all workers, before it is failed for good.
const MAX_ATTEMPTS: i64 = 5;

/// The id a shared batch has in the journal: the sha256 of its file's bytes (so every worker
/// of the same file finds the same batch, and an edited file is another batch).
pub fn batch_id(file: &std::path::Path) -> Result<String, Error> {
    let bytes = std::fs::read(file).map_err(|source| Error::Io {
        action: "cannot read the batch file",
        path: file.to_owned(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

impl Client {
    /// Runs `plan` as one worker of the shared batch `batch` (see [`batch_id`]): loads it if no
    /// worker has, then runs lines claimed from the shared journal until every line is
    /// finished (by any worker), yielding the events and outcomes of the lines run here. Needs
    /// the shared journal (PostgreSQL); `opts.budget` is not supported (each worker would
    /// count only its own spending).
    pub fn run_batch_worker(
        &self,
        plan: BatchPlan,
        batch: String,
        opts: BatchOptions,
    ) -> Result<impl Stream<Item = BatchEvent> + Send + 'static, Error> {
        if opts.budget.is_some() {
            return Err(Error::Config(
                "a budget is not supported for a shared batch yet (each worker would count only \
                 its own spending); run without --budget"
                    .to_owned(),
            ));
        }
        let client = self.for_batch(&opts)?;
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(work(client, plan, batch, opts, tx));
        Ok(BatchStream::new(rx, task.abort_handle()))
    }
}

async fn work(
    client: Client,
    mut plan: BatchPlan,
    batch: String,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
) {
    let store = std::sync::Arc::clone(client.store());
    // An edited line under an id an earlier run used is refused here as in one process (every
    // worker reads the same file, so every one refuses the same lines, and none is loaded).
    let checked = plan.reject_changed_lines(store.as_ref()).await;
    let loaded = match checked {
        Err(e) => Err(e.to_string()),
        Ok(()) => store
            .load_batch(
                &batch,
                client.origin(),
                &plan
                    .items
                    .iter()
                    .map(|i| NewBatchLine {
                        line: i.line as i64,
                        key: i.key.clone(),
                        name: i.name(),
                    })
                    .collect::<Vec<_>>(),
            )
            .await
            .map_err(|e| e.to_string()),
    };
    if let Err(message) = loaded {
        for item in std::mem::take(&mut plan.items) {
            plan.rejected.push(RejectedLine {
                line: item.line,
                id: item.id,
                error: Error::Internal(message.clone()),
            });
        }
    }
    plan.rejected.sort_by_key(|r| r.line);
    for rejected in std::mem::take(&mut plan.rejected) {
        let _ = out.send(BatchEvent::Finished(BatchOutcome::rejected(rejected)));
    }
    if plan.items.is_empty() {
        return;
    }
    let items: HashMap<i64, BatchItem> =
        plan.items.into_iter().map(|i| (i.line as i64, i)).collect();
    // How many lines this worker runs at once: fixed, or (auto) the limit another worker
    // learned, else grown one at a time while its submits are accepted with every line busy
    // (a line waiting for an account slot is never accepted, so a worker does not hoard lines
    // the account has no slots for).
    let mut controller = match opts.concurrency {
        Concurrency::Fixed(n) => ConcurrencyController::fixed(n),
        Concurrency::Auto { max } => match store.learned_limit(&client.inner.account).await {
            Ok(Some(learned)) => ConcurrencyController::fixed(learned.clamp(1, max.max(1))),
            _ => ConcurrencyController::auto(max),
        },
    };
    let owner = client.inner.owner.clone();
    let lease = client.inner.lease;
    let (notes, mut inbox) = unbounded_channel();
    let mut tasks: JoinSet<()> = JoinSet::new();
    loop {
        let mut finished = false;
        // Past `--timeout` a worker claims nothing more: it lets what it runs end and leaves
        // the rest (pending) to the other workers or a later run.
        let past_deadline = client.deadline().is_some_and(|d| Instant::now() >= d);
        if past_deadline && tasks.is_empty() {
            return;
        }
        while !past_deadline && tasks.len() < controller.limit() as usize {
            match store.claim_batch_line(&batch, &owner, lease).await {
                Ok(LineClaim::Claimed { line, .. }) => match items.get(&line) {
                    Some(item) => {
                        tasks.spawn(run_line(
                            client.clone(),
                            batch.clone(),
                            item.clone(),
                            opts.clone(),
                            out.clone(),
                            notes.clone(),
                        ));
                    }
                    None => {
                        // The same file (same hash) has the same lines: a bug if reached.
                        let _ = store
                            .finish_batch_line(
                                &batch,
                                line,
                                &owner.instance,
                                "failed",
                                Some("internal"),
                            )
                            .await;
                    }
                },
                Ok(LineClaim::Busy) => break,
                Ok(LineClaim::Finished) => {
                    finished = true;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim a line of the shared batch");
                    break;
                }
            }
        }
        if tasks.is_empty() && finished {
            return;
        }
        let in_flight = u32::try_from(tasks.len()).unwrap_or(u32::MAX);
        tokio::select! {
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            Some(note) = inbox.recv() => match note {
                Note::Accepted => controller.on_accepted(in_flight),
                Note::SlotRefused => controller.on_slot_refused(in_flight.saturating_sub(1)),
            },
            () = tokio::time::sleep(IDLE_WAIT) => {}
        }
    }
}

/// What a line's task tells the worker (for its auto concurrency).
enum Note {
    Accepted,
    SlotRefused,
}

/// One claimed line: run (again after a slot refusal or a failure a retry can clear), then
/// recorded in the shared batch.
async fn run_line(
    client: Client,
    batch: String,
    item: BatchItem,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
    notes: UnboundedSender<Note>,
) {
    let name = item.name();
    let _ = out.send(BatchEvent::Started {
        line: item.line,
        name: name.clone(),
    });
    if let Err(error) = crate::output::prove_writable(&item.output) {
        let end = LineEnd::unbilled(LineKind::Failed {
            class: failure_class(&error),
        });
        let _ = client
            .store()
            .finish_batch_line(
                &batch,
                item.line as i64,
                &client.inner.owner.instance,
                "failed",
                Some(end_class(&end)),
            )
            .await;
        let _ = out.send(BatchEvent::Finished(BatchOutcome {
            line: item.line,
            id: item.id.clone(),
            output: item.output.clone(),
            job_id: None,
            result: BatchResult::Failed(error),
            end,
        }));
        return;
    }
    let mut submitted_here = false;
    let mut refusals = 0;
    let mut tries = 0;
    let (result, record) = loop {
        tries += 1;
        let result = {
            let mut on_event = |event: Event| {
                match &event {
                    Event::Submitted { .. } => {
                        submitted_here = true;
                        let _ = notes.send(Note::Accepted);
                    }
                    Event::HeldElsewhere { pid, .. } => {
                        let _ = out.send(BatchEvent::Watching {
                            line: item.line,
                            name: name.clone(),
                            pid: *pid,
                        });
                    }
                    _ => {}
                }
                let _ = out.send(BatchEvent::Job {
                    line: item.line,
                    name: name.clone(),
                    event,
                });
            };
            let spec = ClaimSpec {
                identity: item.key.clone(),
                form: item.job.clone(),
                output: Some(item.output.clone()),
                fresh: if opts.retry_failed {
                    Fresh::RetryFailed
                } else {
                    Fresh::Continue
                },
                force: opts.force,
            };
            client
                .claim_and_drive(spec, Goal::Downloaded, &mut on_event)
                .await
        };
        let record: Option<JobRecord> = client
            .store()
            .job_by_identity(client.origin(), &item.key)
            .await
            .ok()
            .flatten();
        let slot_refused = matches!(
            &result,
            Err(Error::Transport(e)) if e.err_code() == Some(CONCURRENCY_LIMIT)
        );
        if slot_refused && refusals < opts.max_slot_refusals {
            refusals += 1;
            let _ = notes.send(Note::SlotRefused);
            let _ = out.send(BatchEvent::SlotRefused {
                line: item.line,
                name: name.clone(),
            });
            tokio::time::sleep(opts.slot_retry_delay).await;
            continue;
        }
        if tries < LINE_TRIES && restart_need(&result, record.as_ref()).is_some() {
            let reason = result.as_ref().err().map(ToString::to_string);
            let _ = out.send(BatchEvent::Restarted {
                line: item.line,
                name: name.clone(),
                reason: reason.unwrap_or_default(),
            });
            continue;
        }
        break (result, record);
    };
    let end = line_end(&result, record.as_ref(), submitted_here);
    let (state, outcome) = match &end.kind {
        LineKind::Done { .. } => ("done", None),
        LineKind::Failed { class } => ("failed", Some(class.to_string())),
        LineKind::RefusedBeforeBilling { class } => ("failed", Some(class.to_string())),
        // Unfinished (still generating, or stopped on a failure a retry may clear): another
        // try, by any worker, until the batch gives up on it.
        _ => ("pending", None),
    };
    let state = match store_attempts(&client, &batch, item.line).await {
        // A job still generating is paid for: it stays pending (another try only continues
        // it, never bills again) whatever its number of tries.
        Some(attempts)
            if state == "pending"
                && attempts >= MAX_ATTEMPTS
                && !matches!(end.kind, LineKind::StillRunning) =>
        {
            "failed"
        }
        _ => state,
    };
    if let Err(e) = client
        .store()
        .finish_batch_line(
            &batch,
            item.line as i64,
            &client.inner.owner.instance,
            state,
            outcome.as_deref(),
        )
        .await
    {
        tracing::warn!(line = item.line, error = %e, "cannot record the line in the shared batch");
    }
    let result = match result {
        Ok(record) => BatchResult::Done {
            outcome: crate::run::JobOutcome::of(&record),
            earlier: !submitted_here,
        },
        Err(e) => BatchResult::Failed(e),
    };
    let _ = out.send(BatchEvent::Finished(BatchOutcome {
        line: item.line,
        id: item.id.clone(),
        output: item.output.clone(),
        job_id: record.map(|r| r.id),
        result,
        end,
    }));
}

fn end_class(end: &LineEnd) -> &'static str {
    match end.kind {
        LineKind::Failed { class } | LineKind::RefusedBeforeBilling { class } => class,
        _ => "unknown",
    }
}

/// How many times the line was claimed, by any worker.
async fn store_attempts(client: &Client, batch: &str, line: usize) -> Option<i64> {
    let lines = client.store().batch_lines(batch).await.ok()??;
    lines
        .iter()
        .find(|l| l.line == line as i64)
        .map(|l| l.attempts)
}
