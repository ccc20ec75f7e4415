//! The batch runner: a thin driver of core's [`Scheduler`]. It asks the journal what each line
//! needs, starts each line's job when the scheduler says so (claimed under its line key, then
//! the client's own flow), and reports back how each one went.

use std::collections::HashMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::Stream;
use pixfuse_core::batch::{
    Action, Budget, Charge, ConcurrencyController, Input, LineEnd, LineKind, Need, Scheduler,
    SchedulerOptions,
};
use pixfuse_core::errcode::CONCURRENCY_LIMIT;
use pixfuse_core::lifecycle::{Goal, JobState};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::{AbortHandle, JoinSet};

use super::outcome::{BatchOutcome, BatchResult, failure_class};
use super::plan::{BatchItem, BatchPlan, RejectedLine};
use super::{BatchEvent, BatchOptions, Concurrency};
use crate::client::Client;
use crate::error::Error;
use crate::event::Event;
use crate::journal::{Fresh, JobRecord};
use crate::run::{ClaimSpec, JobOutcome};

impl Client {
    /// Runs `plan`, yielding progress and one [`BatchEvent::Finished`] per line (rejected lines
    /// included). Must be called inside a tokio runtime; the work runs on spawned tasks, so the
    /// stream only has to be polled to observe it. Dropping the stream stops the batch at once
    /// (an interrupt): every line is journaled as far as it got, and running the batch again
    /// continues it without paying twice.
    pub fn run_batch(
        &self,
        plan: BatchPlan,
        opts: BatchOptions,
    ) -> Result<impl Stream<Item = BatchEvent> + Send + 'static, Error> {
        let client = self.for_batch(&opts)?;
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(drive(client, plan, opts, tx));
        Ok(BatchStream {
            events: rx,
            task: task.abort_handle(),
        })
    }
}

/// The events of a running batch; dropping it stops the batch.
pub(super) struct BatchStream {
    events: UnboundedReceiver<BatchEvent>,
    task: AbortHandle,
}

impl BatchStream {
    pub(super) fn new(events: UnboundedReceiver<BatchEvent>, task: AbortHandle) -> Self {
        BatchStream { events, task }
    }
}

impl Stream for BatchStream {
    type Item = BatchEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BatchEvent>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        // The driver's JoinSet goes with it, and with that every line's task.
        self.task.abort();
    }
}

/// What a line's task reports.
enum Msg {
    /// The server accepted the submit, charging this much if it said.
    Accepted(usize, Option<i64>),
    SlotFree(usize),
    Watching(usize),
    Ended(Box<Ended>),
}

/// How a line's task ended.
struct Ended {
    line: usize,
    result: Result<JobRecord, Error>,
    /// The job as the journal has it now.
    record: Option<JobRecord>,
    /// This task's submit was accepted (so any bill is this run's).
    submitted_here: bool,
}

impl Client {
    /// This client as a batch runs it: 500044 reaches the scheduler at once (to shrink and
    /// requeue) instead of being waited out in the transport, and every submit takes one of
    /// the account's slots in the journal first, so batches (and gated single jobs) in other
    /// processes on this journal share the account's limit with this one.
    pub(super) fn for_batch(&self, opts: &BatchOptions) -> Result<Client, Error> {
        let mut retry = self.retry_policy();
        retry.max_slot_waits = 1;
        let slots = match opts.concurrency {
            Concurrency::Fixed(n) => n.max(1),
            Concurrency::Auto { max } => max.max(1),
        };
        self.with_policies(retry, Some(slots))
    }
}

async fn drive(
    client: Client,
    mut plan: BatchPlan,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
) {
    if let Err(e) = plan.reject_changed_lines(client.store().as_ref()).await {
        // Without the journal nothing can run safely: every line ends with its error.
        let message = e.to_string();
        for item in std::mem::take(&mut plan.items) {
            plan.rejected.push(RejectedLine {
                line: item.line,
                id: item.id,
                error: Error::Internal(message.clone()),
            });
        }
    }
    // Every destination is proven writable before anything is paid for.
    let mut items = Vec::with_capacity(plan.items.len());
    for item in plan.items {
        match crate::output::prove_writable(&item.output) {
            Ok(()) => items.push(item),
            Err(error) => plan.rejected.push(RejectedLine {
                line: item.line,
                id: item.id,
                error,
            }),
        }
    }
    plan.rejected.sort_by_key(|r| r.line);
    for rejected in plan.rejected {
        let _ = out.send(BatchEvent::Finished(BatchOutcome::rejected(rejected)));
    }
    let mut lines = Vec::with_capacity(items.len());
    for item in &items {
        let known = client
            .store()
            .job_by_identity(client.origin(), &item.key)
            .await
            .ok()
            .flatten();
        // The scheduler's budget arithmetic is in f64 (a budget may be fractional).
        #[allow(clippy::cast_precision_loss)]
        let estimate = item.estimate.map(|c| c as f64);
        lines.push((estimate, need(known.as_ref(), opts.retry_failed)));
    }
    // A limit another process learned holds here too: no need to discover it again.
    let mut opts = opts;
    if let Concurrency::Auto { max } = opts.concurrency
        && let Ok(Some(learned)) = client.store().learned_limit(&client.inner.account).await
    {
        opts.concurrency = Concurrency::Fixed(learned.clamp(1, max.max(1)));
    }
    let mut runner = Runner {
        scheduler: Scheduler::new(scheduler_options(&opts), &lines, Instant::now()),
        client,
        items,
        opts,
        out,
        results: HashMap::new(),
        reasons: HashMap::new(),
    };
    runner.run().await;
}

fn scheduler_options(opts: &BatchOptions) -> SchedulerOptions {
    SchedulerOptions {
        controller: match opts.concurrency {
            Concurrency::Fixed(n) => ConcurrencyController::fixed(n),
            Concurrency::Auto { max } => ConcurrencyController::auto(max),
        },
        budget: opts.budget.map_or_else(Budget::unlimited, Budget::limited),
        slot_retry_delay: opts.slot_retry_delay,
        max_slot_refusals: opts.max_slot_refusals,
        max_job_restarts: opts.max_job_restarts,
    }
}

/// What a line needs, from its journaled job.
fn need(known: Option<&JobRecord>, retry_failed: bool) -> Need {
    let Some(job) = known else {
        return Need::Submit;
    };
    match job.state {
        state if state.failed_for_good() && retry_failed => Need::Submit,
        state => need_in(state),
    }
}

fn need_in(state: JobState) -> Need {
    match state {
        JobState::Planned
        | JobState::Uploading
        | JobState::Claimed
        | JobState::RefusedBeforeBilling => Need::Submit,
        JobState::Submitted | JobState::Generating => Need::Generating,
        _ => Need::Nothing,
    }
}

struct Runner {
    scheduler: Scheduler,
    client: Client,
    items: Vec<BatchItem>,
    opts: BatchOptions,
    out: UnboundedSender<BatchEvent>,
    /// How each line's last attempt went, until the scheduler finishes the line.
    results: HashMap<usize, (BatchResult, Option<i64>)>,
    /// Why a line is continued again.
    reasons: HashMap<usize, String>,
}

impl Runner {
    async fn run(&mut self) {
        let (msgs, mut inbox) = unbounded_channel();
        let mut tasks: JoinSet<()> = JoinSet::new();
        let mut task_lines = HashMap::new();
        loop {
            while let Some(action) = self.scheduler.poll_action() {
                if let Action::Start { line, need } = action {
                    let id = tasks.spawn(self.line_task(line, need, msgs.clone())).id();
                    task_lines.insert(id, line);
                } else {
                    self.act(action);
                }
            }
            if self.scheduler.is_done() {
                return;
            }
            let wake = self.scheduler.poll_timeout();
            tokio::select! {
                msg = inbox.recv() => match msg {
                    Some(msg) => {
                        let input = self.input_of(msg);
                        self.scheduler.handle(input, Instant::now());
                    }
                    None => return,
                },
                Some(joined) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    // A task that ended without reporting (a panic) is a bug, not a usage error.
                    if let Err(e) = joined
                        && let Some(line) = task_lines.remove(&e.id())
                    {
                        let error = Error::Internal(format!(
                            "the job's task stopped unexpectedly ({e}); rerun the batch to finish it"
                        ));
                        let input = self.input_of(Msg::Ended(Box::new(Ended {
                            line,
                            result: Err(error),
                            record: None,
                            submitted_here: false,
                        })));
                        self.scheduler.handle(input, Instant::now());
                    }
                }
                () = sleep_until(wake) => self.scheduler.handle(Input::Timeout, Instant::now()),
            }
        }
    }

    fn line_task(
        &self,
        line: usize,
        need: Need,
        msgs: UnboundedSender<Msg>,
    ) -> impl Future<Output = ()> + Send + 'static {
        let client = self.client.clone();
        let item = self.items[line].clone();
        let out = self.out.clone();
        let fresh = if self.opts.retry_failed {
            Fresh::RetryFailed
        } else {
            Fresh::Continue
        };
        let force = self.opts.force;
        let _ = out.send(BatchEvent::Started {
            line: item.line,
            name: item.name(),
        });
        run_line(client, line, item, need, fresh, force, out, msgs)
    }

    fn input_of(&mut self, msg: Msg) -> Input {
        match msg {
            Msg::Accepted(line, charged) => Input::Accepted { line, charged },
            Msg::SlotFree(line) => Input::SlotFree { line },
            Msg::Watching(line) => Input::Watching { line },
            Msg::Ended(ended) => {
                let Ended {
                    line,
                    result,
                    record,
                    submitted_here,
                } = *ended;
                let job_id = record.as_ref().map(|r| r.id);
                if matches!(&result, Err(Error::Transport(e)) if e.err_code() == Some(CONCURRENCY_LIMIT))
                {
                    self.keep(line, result, job_id);
                    return Input::SlotRefused { line };
                }
                let end = line_end(&result, record.as_ref(), submitted_here);
                let restart = restart_need(&result, record.as_ref());
                if let (Some(_), Err(e)) = (restart, &result) {
                    self.reasons.insert(line, e.to_string());
                }
                self.keep(line, result, job_id);
                Input::Ended { line, end, restart }
            }
        }
    }

    fn keep(&mut self, line: usize, result: Result<JobRecord, Error>, job_id: Option<i64>) {
        let result = match result {
            Ok(record) => BatchResult::Done {
                outcome: JobOutcome::of(&record),
                earlier: false,
            },
            Err(e) => BatchResult::Failed(e),
        };
        self.results.insert(line, (result, job_id));
    }

    fn act(&mut self, action: Action) {
        let name = |runner: &Self, line: usize| {
            let item = &runner.items[line];
            (item.line, item.name())
        };
        let event = match action {
            Action::Start { .. } => return,
            Action::ConcurrencyChanged { limit } => BatchEvent::ConcurrencyChanged { limit },
            Action::BudgetStop { line, refusal } => {
                let (line, name) = name(self, line);
                BatchEvent::BudgetStop {
                    line,
                    name,
                    refusal,
                }
            }
            Action::SlotRefused { line } => {
                let (line, name) = name(self, line);
                BatchEvent::SlotRefused { line, name }
            }
            Action::Restarted { line: index } => {
                let reason = self.reasons.remove(&index).unwrap_or_default();
                let (line, name) = name(self, index);
                BatchEvent::Restarted { line, name, reason }
            }
            Action::Finished { line: index, end } => {
                let item = &self.items[index];
                let (result, job_id) = match self.results.remove(&index) {
                    Some((BatchResult::Done { outcome, .. }, job_id)) => {
                        let earlier = matches!(end.kind, LineKind::Done { earlier: true });
                        (BatchResult::Done { outcome, earlier }, job_id)
                    }
                    Some(kept) => kept,
                    None => match &end.kind {
                        LineKind::SkippedBudget(refusal) => {
                            (BatchResult::SkippedBudget(refusal.clone()), None)
                        }
                        _ => (
                            BatchResult::Failed(Error::Internal(format!(
                                "line {} ended without a result",
                                item.line
                            ))),
                            None,
                        ),
                    },
                };
                BatchEvent::Finished(BatchOutcome {
                    line: item.line,
                    id: item.id.clone(),
                    output: item.output.clone(),
                    job_id,
                    result,
                    end,
                })
            }
        };
        let _ = self.out.send(event);
    }
}

/// One line's job: claimed under its key (or waited for, when another process runs it).
#[allow(clippy::too_many_arguments)]
async fn run_line(
    client: Client,
    line: usize,
    item: BatchItem,
    need: Need,
    fresh: Fresh,
    force: bool,
    out: UnboundedSender<BatchEvent>,
    msgs: UnboundedSender<Msg>,
) {
    let name = item.name();
    let mut submitted_here = false;
    let result = {
        let mut on_event = |event: Event| {
            match &event {
                Event::Submitted { credits, .. } => {
                    submitted_here = true;
                    let _ = msgs.send(Msg::Accepted(line, *credits));
                }
                Event::Ready { .. } => {
                    let _ = msgs.send(Msg::SlotFree(line));
                }
                Event::HeldElsewhere { pid, .. } => {
                    let _ = msgs.send(Msg::Watching(line));
                    let _ = out.send(BatchEvent::Watching {
                        line: item.line,
                        name: name.clone(),
                        pid: *pid,
                    });
                }
                Event::Superseding { .. } => {
                    let _ = out.send(BatchEvent::Retrying {
                        line: item.line,
                        name: name.clone(),
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
        if need == Need::Submit {
            for warning in &item.warnings {
                on_event(Event::Warning {
                    code: warning.code.to_owned(),
                    path: warning.path.clone(),
                    message: warning.message.clone(),
                });
            }
        }
        let spec = ClaimSpec {
            identity: item.key.clone(),
            form: item.job.clone(),
            output: Some(item.output.clone()),
            fresh,
            force,
        };
        client
            .claim_and_drive(spec, Goal::Downloaded, &mut on_event)
            .await
    };
    let record = client
        .store()
        .job_by_identity(client.origin(), &item.key)
        .await
        .ok()
        .flatten();
    let _ = msgs.send(Msg::Ended(Box::new(Ended {
        line,
        result,
        record,
        submitted_here,
    })));
}

/// The line's category and charge, from how its job ended and what the journal says.
pub(super) fn line_end(
    result: &Result<JobRecord, Error>,
    record: Option<&JobRecord>,
    submitted_here: bool,
) -> LineEnd {
    let kind = match result {
        Ok(_) => LineKind::Done {
            earlier: !submitted_here,
        },
        Err(Error::StillRunning { .. }) => LineKind::StillRunning,
        Err(e) if record.is_some_and(|r| r.state == JobState::RefusedBeforeBilling) => {
            LineKind::RefusedBeforeBilling {
                class: failure_class(e),
            }
        }
        Err(e) => LineKind::Failed {
            class: failure_class(e),
        },
    };
    let charge = record.filter(|r| r.state.may_be_billed()).map(|r| Charge {
        credits: r.credits,
        this_run: submitted_here,
    });
    LineEnd { kind, charge }
}

/// Whether a line that stopped on `result` is continued again in this run, and what it needs:
/// only while the journal holds it as unfinished and the failure is one a retry can clear
/// (not the key, the credits, the request, the content, a timeout the user set).
pub(super) fn restart_need(
    result: &Result<JobRecord, Error>,
    record: Option<&JobRecord>,
) -> Option<Need> {
    let Err(Error::Transport(e)) = result else {
        return None;
    };
    if e.class().is_some_and(|class| !class.may_clear_on_retry()) {
        return None;
    }
    let state = record?.state;
    state.is_unfinished().then(|| need_in(state))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
