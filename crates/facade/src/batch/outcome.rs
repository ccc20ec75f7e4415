//! How each job of a batch ended, and what a failure's class is.

use std::path::PathBuf;

use pixfuse_core::batch::{BudgetRefusal, LineEnd};
use pixfuse_core::lifecycle::JobState;
use pixfuse_core::poll::JobStatus;

use crate::error::Error;
use crate::run::JobOutcome;

/// One line's end.
#[derive(Debug)]
pub struct BatchOutcome {
    /// The line's number in the batch file (from 1).
    pub line: usize,
    /// The line's `"id"`, if it has one.
    pub id: Option<String>,
    /// Where the video goes (or went).
    pub output: PathBuf,
    /// The journal's id, once journaled.
    pub job_id: Option<i64>,
    /// How it ended.
    pub result: BatchResult,
    /// Its category and charge, as the batch summary counts it.
    pub end: LineEnd,
}

/// Done, failed or skipped.
#[derive(Debug)]
pub enum BatchResult {
    /// The video is on disk.
    Done {
        /// How the job ended.
        outcome: JobOutcome,
        /// Whether an earlier run (or another process) made it.
        earlier: bool,
    },
    /// The job did not finish; [`Error::StillRunning`] means it is still generating and a rerun
    /// (or `pixfuse resume`) picks it up.
    Failed(Error),
    /// Not submitted: it did not fit the budget.
    SkippedBudget(BudgetRefusal),
}

impl BatchOutcome {
    /// A line refused before anything was sent for it: failed, nothing billed.
    pub(crate) fn rejected(rejected: super::plan::RejectedLine) -> BatchOutcome {
        BatchOutcome {
            line: rejected.line,
            id: rejected.id,
            output: Default::default(),
            job_id: None,
            end: LineEnd::unbilled(pixfuse_core::batch::LineKind::Failed {
                class: failure_class(&rejected.error),
            }),
            result: BatchResult::Failed(rejected.error),
        }
    }
}

/// A stable snake_case name for why a job failed (the summary groups by it).
pub fn failure_class(error: &Error) -> &'static str {
    match error {
        Error::Generation { status, .. } => status_class(*status),
        Error::AlreadyFailed { state, .. } => match state.status() {
            Some(status) => status_class(status),
            None if *state == JobState::RefusedBeforeBilling => "refused_before_billing",
            None => "failed_earlier",
        },
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
        Error::OutputTaken { .. } | Error::OutputOwnedByNewer { .. } | Error::Abandoned { .. } => {
            "output_taken"
        }
        Error::Io { .. }
        | Error::Config(_)
        | Error::OtherServer { .. }
        | Error::Destination { .. } => "local",
        Error::Journal(_) | Error::JournalWrite { .. } => "journal",
        Error::Internal(_) => "internal",
    }
}

fn status_class(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Moderated => "moderation",
        JobStatus::Deleted => "deleted",
        _ => "generation_failed",
    }
}
