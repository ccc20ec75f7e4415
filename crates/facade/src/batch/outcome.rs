//! How each job of a batch ended, and the tally of a whole batch.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pixfuse_core::batch::BudgetRefusal;

use crate::error::Error;
use crate::run::JobOutcome;

/// One job's end.
#[derive(Debug)]
pub struct BatchOutcome {
    pub line: usize,
    pub id: Option<String>,
    /// Where the video goes (or went).
    pub output: PathBuf,
    /// The journal's id, once journaled.
    pub job_id: Option<i64>,
    pub result: BatchResult,
}

/// Done, failed or skipped.
#[derive(Debug)]
pub enum BatchResult {
    /// The video is on disk. `earlier` when a previous run had already finished it.
    Done { outcome: JobOutcome, earlier: bool },
    /// The job did not finish; [`Error::StillRunning`] means it is still generating and a rerun
    /// (or `pixfuse resume`) picks it up.
    Failed(Error),
    /// Not submitted: it did not fit the budget.
    SkippedBudget(BudgetRefusal),
}

/// A stable snake_case name for why a job failed (the summary groups by it).
pub fn failure_class(error: &Error) -> &'static str {
    match error {
        Error::Generation { status: 7, .. } => "moderation",
        Error::Generation { status: 6, .. } => "deleted",
        Error::Generation { .. } => "generation_failed",
        Error::AlreadyFailed { .. } => "failed_earlier",
        Error::StillRunning { .. }
        | Error::TimedOut {
            job_id: Some(_), ..
        } => "still_running",
        Error::TimedOut { job_id: None, .. } => "timed_out",
        Error::Invalid { .. } => "invalid_request",
        Error::Transport(e) => e.class().map_or("network", |c| match c.as_str() {
            "transient" => "network",
            other => other,
        }),
        Error::Io { .. } | Error::Config(_) | Error::OtherServer { .. } => "local",
        Error::Journal(_) | Error::JournalWrite { .. } => "journal",
        Error::Internal(_) => "internal",
    }
}

/// The tally of a batch.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct BatchSummary {
    pub done: usize,
    /// Of `done`, finished by an earlier run.
    pub done_earlier: usize,
    /// Failures by [`failure_class`] (still-running jobs are counted apart).
    pub failed: BTreeMap<String, usize>,
    pub still_running: usize,
    pub skipped_budget: usize,
    /// Credits the server charged for the batch's finished jobs (this run and earlier ones).
    pub credits_spent: i64,
}

impl BatchSummary {
    pub fn add(&mut self, outcome: &BatchOutcome) {
        match &outcome.result {
            BatchResult::Done { outcome, earlier } => {
                self.done += 1;
                self.done_earlier += usize::from(*earlier);
                self.credits_spent += outcome.credits.unwrap_or(0);
            }
            BatchResult::Failed(
                Error::StillRunning { .. }
                | Error::TimedOut {
                    job_id: Some(_), ..
                },
            ) => self.still_running += 1,
            BatchResult::Failed(e) => {
                *self.failed.entry(failure_class(e).to_owned()).or_default() += 1;
            }
            BatchResult::SkippedBudget(_) => self.skipped_budget += 1,
        }
    }

    /// Failed jobs, all classes.
    pub fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    /// Whether every job is done.
    pub fn all_done(&self) -> bool {
        self.failed.is_empty() && self.still_running == 0 && self.skipped_budget == 0
    }
}
