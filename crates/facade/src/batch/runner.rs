//! The batch runner: starts each job when core's controller and budget allow, runs it with the
//! client's own flow, and turns its end into a [`BatchOutcome`].
//!
//! Slots: a job holds one from the moment it is started for a submit until the server says its
//! video is ready (the download no longer occupies the account's slot). A submit refused with
//! 500044 gives its slot back and is queued again as the same journaled job, so its resend
//! carries the same trace id.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures_util::Stream;
use pixfuse_core::batch::{Budget, ConcurrencyController};
use pixfuse_core::errcode::CONCURRENCY_LIMIT;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio::time::Instant;

use super::outcome::{BatchOutcome, BatchResult};
use super::plan::{BatchItem, BatchPlan};
use super::{BatchEvent, BatchOptions, Concurrency};
use crate::client::Client;
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, JobState, NewJob};

impl Client {
    /// Runs `plan`, yielding progress and one [`BatchEvent::Finished`] per line (rejected lines
    /// included). Must be called inside a tokio runtime; the work runs on spawned tasks, so the
    /// stream only has to be polled to observe it. Dropping the stream stops new submits (jobs
    /// already submitted are journaled; a rerun finishes them).
    pub fn run_batch(
        &self,
        mut plan: BatchPlan,
        opts: BatchOptions,
    ) -> Result<impl Stream<Item = BatchEvent> + Send + 'static, Error> {
        plan.reject_changed_lines(&self.journal())?;
        // 500044 must reach the runner at once (to shrink and requeue), not be waited out in
        // the transport: same flow, one option changed.
        let mut retry = self.retry_policy();
        retry.max_slot_waits = 1;
        let client = self.with_retry_policy(retry)?;
        let (tx, mut rx) = unbounded_channel();
        tokio::spawn(drive(client, plan, opts, tx));
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}

/// What a queued job needs before it may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// A slot and a budget reservation: it will be (re)submitted.
    Submit,
    /// Already generating on the server: it occupies a slot but costs nothing more.
    Generating,
    /// Finished on the server (or failed): no slot.
    Nothing,
}

/// Messages from job tasks to the runner.
enum Msg {
    /// The server accepted the submit, charging this much if it said.
    Accepted(usize, Option<i64>),
    SlotFree(usize),
    Ended(usize, Ended),
}

enum Ended {
    Result {
        result: Result<crate::run::JobOutcome, Error>,
        job_id: Option<i64>,
        /// A previous run had already downloaded it.
        earlier: bool,
    },
    SlotRefused(Error),
}

struct Runner {
    client: Client,
    items: Vec<BatchItem>,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
    msgs: UnboundedSender<Msg>,
    controller: ConcurrencyController,
    budget: Budget,
    budget_stopped: bool,
    holding: HashMap<usize, bool>, // item → submit accepted
    reserved: HashMap<usize, f64>,
    refusals: HashMap<usize, u32>,
    restarts: HashMap<usize, u32>,
    running: usize,
    retry_at: Option<Instant>,
    upload_lock: Arc<tokio::sync::Mutex<()>>,
}

async fn drive(
    client: Client,
    plan: BatchPlan,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
) {
    for rejected in plan.rejected {
        let _ = out.send(BatchEvent::Finished(BatchOutcome {
            line: rejected.line,
            id: rejected.id,
            output: Default::default(),
            job_id: None,
            result: BatchResult::Failed(rejected.error),
        }));
    }
    let controller = match opts.concurrency {
        Concurrency::Fixed(n) => ConcurrencyController::fixed(n),
        Concurrency::Auto { max } => ConcurrencyController::auto(max),
    };
    let budget = opts.budget.map_or_else(Budget::unlimited, Budget::limited);
    let (msgs, mut inbox) = unbounded_channel();
    let mut runner = Runner {
        client,
        items: plan.items,
        opts,
        out,
        msgs,
        controller,
        budget,
        budget_stopped: false,
        holding: HashMap::new(),
        reserved: HashMap::new(),
        refusals: HashMap::new(),
        restarts: HashMap::new(),
        running: 0,
        retry_at: None,
        upload_lock: Arc::new(tokio::sync::Mutex::new(())),
    };
    // What the journal already knows decides each line's needs; jobs already on the server go
    // first, so they are counted against the limit before anything new is sent.
    let mut queue: VecDeque<(usize, Need, Option<JobRecord>)> = VecDeque::new();
    let mut fresh = Vec::new();
    for index in 0..runner.items.len() {
        match runner.known(index) {
            Ok(Some(record)) => {
                let need = match record.state {
                    JobState::Prepared => Need::Submit,
                    JobState::Submitted => Need::Generating,
                    _ => Need::Nothing,
                };
                if need == Need::Submit {
                    fresh.push((index, need, Some(record)));
                } else {
                    queue.push_back((index, need, Some(record)));
                }
            }
            Ok(None) => fresh.push((index, Need::Submit, None)),
            Err(e) => runner.finish(index, None, BatchResult::Failed(e)),
        }
    }
    queue.extend(fresh);
    loop {
        runner.start_what_fits(&mut queue);
        if runner.running == 0 && queue.is_empty() {
            break;
        }
        let wake = runner.retry_at.filter(|_| !queue.is_empty());
        tokio::select! {
            msg = inbox.recv() => match msg {
                Some(msg) => runner.handle(msg, &mut queue),
                None => break,
            },
            () = sleep_until(wake) => runner.retry_at = None,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Runner {
    fn known(&self, index: usize) -> Result<Option<JobRecord>, Error> {
        Ok(self
            .client
            .journal()
            .find_batch_job(&self.items[index].key)?)
    }

    fn in_flight(&self) -> u32 {
        u32::try_from(self.holding.len()).unwrap_or(u32::MAX)
    }

    fn start_what_fits(&mut self, queue: &mut VecDeque<(usize, Need, Option<JobRecord>)>) {
        while let Some((index, need, _)) = queue.front() {
            let (index, need) = (*index, *need);
            if need == Need::Submit {
                if self.budget_stopped {
                    let refusal = pixfuse_core::batch::BudgetRefusal::Exceeded {
                        needed: self.items[index].estimate.unwrap_or(0.0),
                        remaining: self.budget.remaining().unwrap_or(0.0),
                    };
                    queue.pop_front();
                    self.finish(index, None, BatchResult::SkippedBudget(refusal));
                    continue;
                }
                if self.out.is_closed()
                    || !self.controller.may_submit(self.in_flight())
                    || self.retry_at.is_some_and(|at| at > Instant::now())
                {
                    return;
                }
                match self.budget.reserve(self.items[index].estimate) {
                    Ok(credits) => {
                        self.reserved.insert(index, credits);
                    }
                    Err(refusal) => {
                        self.budget_stopped = true;
                        let item = &self.items[index];
                        let _ = self.out.send(BatchEvent::BudgetStop {
                            line: item.line,
                            name: item.name(),
                            refusal: refusal.clone(),
                        });
                        queue.pop_front();
                        self.finish(index, None, BatchResult::SkippedBudget(refusal));
                        continue;
                    }
                }
            }
            let Some((index, need, record)) = queue.pop_front() else {
                return;
            };
            if need != Need::Nothing {
                self.holding.insert(index, need == Need::Generating);
            }
            self.running += 1;
            let item = &self.items[index];
            let _ = self.out.send(BatchEvent::Started {
                line: item.line,
                name: item.name(),
            });
            tokio::spawn(run_job(JobTask {
                client: self.client.clone(),
                index,
                item: item.clone(),
                record,
                out: self.out.clone(),
                msgs: self.msgs.clone(),
                upload_lock: self.upload_lock.clone(),
            }));
        }
    }

    fn handle(&mut self, msg: Msg, queue: &mut VecDeque<(usize, Need, Option<JobRecord>)>) {
        match msg {
            Msg::Accepted(index, charged) => {
                self.holding.insert(index, true);
                // The real charge replaces the estimate at once: a server that charges more
                // than estimated must stop the budget before the next submit, not after.
                if let (Some(credits), Some(charged)) = (self.reserved.get_mut(&index), charged) {
                    *credits = self.budget.rereserve(*credits, charged as f64);
                }
                let before = self.controller.limit();
                self.controller.on_accepted(self.in_flight());
                self.announce_limit(before);
            }
            Msg::SlotFree(index) => {
                self.holding.remove(&index);
            }
            Msg::Ended(index, Ended::SlotRefused(error)) => {
                self.running -= 1;
                self.holding.remove(&index);
                if let Some(credits) = self.reserved.remove(&index) {
                    self.budget.release(credits);
                }
                let refusals = self.refusals.entry(index).or_default();
                *refusals += 1;
                if *refusals >= self.opts.max_slot_refusals {
                    self.finish(index, None, BatchResult::Failed(error));
                    return;
                }
                let generating = self.holding.values().filter(|accepted| **accepted).count();
                let before = self.controller.limit();
                self.controller
                    .on_slot_refused(u32::try_from(generating).unwrap_or(u32::MAX));
                self.announce_limit(before);
                self.retry_at = Some(Instant::now() + self.opts.slot_retry_delay);
                let item = &self.items[index];
                let _ = self.out.send(BatchEvent::SlotRefused {
                    line: item.line,
                    name: item.name(),
                });
                // Journaled as Prepared: the resend reuses its trace id.
                let record = self.known(index).ok().flatten();
                queue.push_front((index, Need::Submit, record));
            }
            Msg::Ended(
                index,
                Ended::Result {
                    result,
                    job_id,
                    earlier,
                },
            ) => {
                self.running -= 1;
                self.holding.remove(&index);
                if let Err(e) = &result
                    && let Some(need) = self.restart(index, job_id, e)
                {
                    if let Some(credits) = self.reserved.remove(&index) {
                        self.budget.release(credits);
                    }
                    let record = self.known(index).ok().flatten();
                    let item = &self.items[index];
                    let _ = self.out.send(BatchEvent::Restarted {
                        line: item.line,
                        name: item.name(),
                        reason: e.to_string(),
                    });
                    queue.push_back((index, need, record));
                    return;
                }
                if let Some(credits) = self.reserved.remove(&index) {
                    match &result {
                        Ok(done) => self.budget.settle(credits, done.credits.map(|c| c as f64)),
                        // Refunded by the vendor, or refused before anything was billed.
                        Err(Error::Generation { status: 7 | 8, .. }) => {
                            self.budget.release(credits)
                        }
                        Err(_) if self.definitely_unbilled(job_id) => self.budget.release(credits),
                        Err(_) => self.budget.settle(credits, None),
                    }
                }
                let result = match result {
                    Ok(outcome) => BatchResult::Done { outcome, earlier },
                    Err(e) => BatchResult::Failed(e),
                };
                self.finish(index, job_id, result);
            }
        }
    }

    /// Whether a job that ended with `error` is continued again in this run, and what it needs:
    /// only while the journal still holds it as resumable and the failure is not one a retry
    /// cannot fix (the key, the credits, the request, the content, a timeout the user set).
    fn restart(&mut self, index: usize, job_id: Option<i64>, error: &Error) -> Option<Need> {
        let Error::Transport(e) = error else {
            return None;
        };
        if e.class().is_some_and(|class| !class.may_clear_on_retry()) {
            return None;
        }
        let record = self.client.journal().get(job_id?).ok()?;
        let need = match record.state {
            JobState::Prepared => Need::Submit,
            JobState::Submitted => Need::Generating,
            JobState::Succeeded | JobState::Downloaded => Need::Nothing,
            JobState::Failed => return None,
        };
        let restarts = self.restarts.entry(index).or_default();
        *restarts += 1;
        (*restarts <= self.opts.max_job_restarts).then_some(need)
    }

    /// A job whose submit the server refused outright: the journal says failed, no video id.
    fn definitely_unbilled(&self, job_id: Option<i64>) -> bool {
        job_id
            .and_then(|id| self.client.journal().get(id).ok())
            .is_none_or(|r| r.state == JobState::Failed && r.video_id.is_none())
    }

    fn announce_limit(&self, before: u32) {
        let limit = self.controller.limit();
        if limit != before {
            let _ = self.out.send(BatchEvent::ConcurrencyChanged { limit });
        }
    }

    fn finish(&self, index: usize, job_id: Option<i64>, result: BatchResult) {
        let item = &self.items[index];
        let _ = self.out.send(BatchEvent::Finished(BatchOutcome {
            line: item.line,
            id: item.id.clone(),
            output: item.output.clone(),
            job_id,
            result,
        }));
    }
}

/// One job, run on its own task.
struct JobTask {
    client: Client,
    index: usize,
    item: BatchItem,
    record: Option<JobRecord>,
    out: UnboundedSender<BatchEvent>,
    msgs: UnboundedSender<Msg>,
    upload_lock: Arc<tokio::sync::Mutex<()>>,
}

async fn run_job(task: JobTask) {
    let JobTask {
        client,
        index,
        item,
        record,
        out,
        msgs,
        upload_lock,
    } = task;
    // If the task dies (a panic), the runner must still hear that the job ended.
    let mut guard = EndGuard {
        msgs: msgs.clone(),
        index,
        armed: true,
    };
    let line = item.line;
    let name = item.name();
    let mut on_event = |event: Event| {
        match &event {
            Event::Submitted { credits, .. } => {
                let _ = msgs.send(Msg::Accepted(index, *credits));
            }
            Event::Ready { .. } => {
                let _ = msgs.send(Msg::SlotFree(index));
            }
            _ => {}
        }
        let _ = out.send(BatchEvent::Job {
            line,
            name: name.clone(),
            event,
        });
    };
    let earlier_done = record.as_ref().is_some_and(|r| {
        r.state == JobState::Downloaded && r.output_path.as_deref() == Some(item.output.as_path())
    });
    let record = match record {
        Some(record) => Ok(record),
        None => prepare(&client, &item, &upload_lock, &mut on_event).await,
    };
    let record = record.and_then(|record| {
        if let Some(dir) = item.output.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("cannot create the output directory", dir, e))?;
        }
        Ok(record)
    });
    let ended = |result, job_id| Ended::Result {
        result,
        job_id,
        earlier: earlier_done,
    };
    let ended = match record {
        Err(e) => ended(Err(e), None),
        Ok(record) => {
            let result = client
                .resume(record.id, Some(&item.output), &mut on_event)
                .await;
            match result {
                Err(Error::Transport(e)) if e.err_code() == Some(CONCURRENCY_LIMIT) => {
                    Ended::SlotRefused(Error::Transport(e))
                }
                Err(Error::AlreadyFailed { job_id, reason }) => {
                    let error = match (record.video_id, record.vendor_status) {
                        (Some(video_id), Some(status @ 6..=8)) => {
                            Error::Generation { video_id, status }
                        }
                        _ => Error::AlreadyFailed { job_id, reason },
                    };
                    ended(Err(error), Some(record.id))
                }
                other => ended(other, Some(record.id)),
            }
        }
    };
    guard.armed = false;
    let _ = msgs.send(Msg::Ended(index, ended));
}

/// A new line: warnings, uploads (one at a time across the batch, so jobs sharing an image
/// upload it once), then the write-ahead journal entry with the line's batch key.
async fn prepare(
    client: &Client,
    item: &BatchItem,
    upload_lock: &tokio::sync::Mutex<()>,
    on_event: &mut (dyn FnMut(Event) + Send),
) -> Result<JobRecord, Error> {
    for warning in &item.warnings {
        on_event(Event::Warning {
            code: warning.code.to_owned(),
            path: warning.path.clone(),
            message: warning.message.clone(),
        });
    }
    let mut job = item.job.clone();
    {
        let _uploading = upload_lock.lock().await;
        client.upload_sources(&mut job, on_event).await?;
    }
    let request = job
        .to_request_json()
        // upload_sources resolved every source; this is a bug, not a user error.
        .map_err(|unresolved| Error::Internal(unresolved.to_string()))?
        .to_string();
    let record = client.journal().begin_batch_job(
        &NewJob {
            trace_id: uuid::Uuid::new_v4(),
            request: &request,
            provider: client.inner.provider.as_str(),
            base_url: &client.inner.origin,
            output_path: Some(&item.output),
        },
        &item.key,
    )?;
    on_event(Event::Journaled {
        job_id: record.id,
        trace_id: record.trace_id,
    });
    Ok(record)
}

struct EndGuard {
    msgs: UnboundedSender<Msg>,
    index: usize,
    armed: bool,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.msgs.send(Msg::Ended(
                self.index,
                Ended::Result {
                    result: Err(Error::Internal(
                        "the job's task stopped unexpectedly; rerun the batch to finish it"
                            .to_owned(),
                    )),
                    job_id: None,
                    earlier: false,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_task_that_stops_unexpectedly_ends_as_an_internal_error() {
        let (msgs, mut rx) = unbounded_channel();
        drop(EndGuard {
            msgs,
            index: 3,
            armed: true,
        });
        let Ok(Msg::Ended(3, Ended::Result { result, .. })) = rx.try_recv() else {
            panic!("the guard sent no end for job 3");
        };
        assert!(
            matches!(result, Err(Error::Internal(_))),
            "a panicked task is a bug, not a usage error: {result:?}"
        );
    }
}
