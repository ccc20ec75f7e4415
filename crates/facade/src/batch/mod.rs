//! Many jobs at the account's concurrency limit, within a credit budget, resumable.
//!
//! ```no_run
//! # async fn demo(client: pixfuse::Client) -> Result<(), pixfuse::Error> {
//! use futures_util::StreamExt;
//! use pixfuse::batch::{BatchEvent, BatchOptions, BatchPlan, BatchSummary, Concurrency};
//! let plan = BatchPlan::load("jobs.jsonl".as_ref(), "out".as_ref(), &Default::default())?;
//! let opts = BatchOptions { concurrency: Concurrency::Auto { max: 10 }, ..Default::default() };
//! let mut summary = BatchSummary::default();
//! let mut events = client.run_batch(plan, opts)?;
//! while let Some(event) = events.next().await {
//!     if let BatchEvent::Finished(outcome) = event {
//!         summary.add(&outcome.end);
//!     }
//! }
//! println!("{} done", summary.done);
//! # Ok(()) }
//! ```
//!
//! Each line is claimed under its line key and runs the same flow as [`crate::Client::run`]
//! (claim before anything is sent, upload once, journal before submit, submit, wait, download,
//! sidecar). A line another live pixfuse process runs is waited for, not submitted again. What
//! starts when — the concurrency limit, the budget, the order, requeues — is core's pure
//! [`pixfuse_core::batch::Scheduler`]; the runner only executes it.

mod outcome;
mod plan;
mod runner;
mod worker;

use std::time::Duration;

pub use outcome::{BatchOutcome, BatchResult, failure_class};
pub use pixfuse_core::batch::{BudgetRefusal, Charge, LineEnd, LineKind};
pub use plan::{BatchItem, BatchPlan, RejectedLine};
pub use worker::batch_id;

/// The tally of a batch: every line in exactly one category; credits of this run and of
/// earlier runs apart.
pub type BatchSummary = pixfuse_core::batch::Tally;

use crate::event::Event;

/// How many jobs may generate at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concurrency {
    /// Exactly this many (at least one).
    Fixed(u32),
    /// Discover the account's limit: grow while submits succeed, shrink on 500044, never more
    /// than `max`.
    Auto {
        /// The most jobs ever generating at once.
        max: u32,
    },
}

/// The most jobs [`Concurrency::AUTO`] ever has generating at once.
pub const AUTO_CONCURRENCY_MAX: u32 = 20;

impl Concurrency {
    /// Discover the account's limit, up to [`AUTO_CONCURRENCY_MAX`]: the default of
    /// [`BatchOptions`] and of `pixfuse batch`.
    pub const AUTO: Concurrency = Concurrency::Auto {
        max: AUTO_CONCURRENCY_MAX,
    };
}

/// How to run a batch.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// How many jobs may generate at once (default [`Concurrency::AUTO`]).
    pub concurrency: Concurrency,
    /// Stop submitting before the estimated credits would exceed this.
    pub budget: Option<f64>,
    /// Pause before submitting again after the server refused a slot (500044).
    pub slot_retry_delay: Duration,
    /// Refusals of one job's submit (500044) before it fails with the concurrency error.
    pub max_slot_refusals: u32,
    /// Times one job is continued again within the run after it stopped on a failure that
    /// leaves it resumable (network, server, an unreadable answer), before it is reported.
    pub max_job_restarts: u32,
    /// Lines whose job failed for good (moderated, failed, deleted) are submitted again as new
    /// jobs with new trace ids: a new bill each, counted against the budget.
    pub retry_failed: bool,
    /// A line whose output belongs to another unfinished job takes it (that job is abandoned).
    pub force: bool,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: Concurrency::AUTO,
            budget: None,
            slot_retry_delay: Duration::from_secs(2),
            max_slot_refusals: 200,
            max_job_restarts: 3,
            retry_failed: false,
            force: false,
        }
    }
}

/// What a running batch reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchEvent {
    /// A job got a slot (or, already submitted earlier, is being waited for) and started.
    Started {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
    },
    /// One step of a job.
    Job {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
        /// The job's step.
        event: Event,
    },
    /// The server refused a submit for lack of a concurrency slot (500044); the same journaled
    /// job (same trace id) is queued again.
    SlotRefused {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
    },
    /// Another live pixfuse process runs this line's job: this run waits for it.
    Watching {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
        /// The other process's id.
        pid: u32,
    },
    /// A line that failed for good earlier is submitted again (`retry_failed`): a new bill.
    Retrying {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
    },
    /// A job stopped on a failure that leaves it resumable (network, server, an unreadable
    /// answer) and is queued again, continuing from its journal entry.
    Restarted {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
        /// Why it stopped.
        reason: String,
    },
    /// The number of jobs allowed in flight changed (auto concurrency).
    ConcurrencyChanged {
        /// Jobs allowed in flight now.
        limit: u32,
    },
    /// The next job does not fit the budget: nothing more is submitted.
    BudgetStop {
        /// The line's number in the batch file (from 1).
        line: usize,
        /// The line's name (its `"id"`, else `line N`).
        name: String,
        /// Why it does not fit.
        refusal: BudgetRefusal,
    },
    /// A line ended (done, failed, still running, refused before billing, or skipped).
    Finished(BatchOutcome),
}
