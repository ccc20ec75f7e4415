//! The facade's error: everything a job can end with, each carrying what the CLI needs to pick
//! its exit code and what a user needs to act.

use std::path::PathBuf;

use pixfuse_core::lifecycle::JobState;
use pixfuse_core::poll::JobStatus;
use pixfuse_core::text::plural;
use pixfuse_core::{Diagnostic, ErrorClass};

use crate::journal::JournalError;

/// Why a job or a step did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Offline validation found errors; nothing was sent.
    #[error("the request is invalid ({}): {}", plural(.diagnostics.iter().filter(|d| d.is_error()).count() as u64, "error"), summary(.diagnostics))]
    Invalid {
        /// Every finding, warnings included.
        diagnostics: Vec<Diagnostic>,
    },
    /// The server or the network said no (after the retries the policy allows).
    #[error(transparent)]
    Transport(pixfuse_transport::TransportError),
    /// The client's deadline ([`crate::Client::with_deadline`]) cut a step short (an upload, a
    /// submit, a download). With a `job_id` the job is journaled and resumable: `pixfuse resume
    /// <job_id>` continues it with the same trace id (nothing is billed twice) and continues a
    /// partial download where it stopped.
    #[error("{error}{}", resume_hint(*.job_id))]
    TimedOut {
        /// The journaled job, when the step belonged to one.
        job_id: Option<i64>,
        /// What ran out of time, from the transport.
        error: pixfuse_transport::TransportError,
    },
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The journal could not record a step of a job that is safe on the server (a full disk,
    /// a state directory gone). `resume_command` continues the job once the journal is
    /// writable again.
    #[error(
        "cannot record {what} of job {job_id} in the journal ({source}); the job itself is safe: once the state directory is writable again, `{resume_command}` continues it (same trace id, nothing is billed twice)"
    )]
    JournalWrite {
        /// The job whose step was not recorded.
        job_id: i64,
        /// The step: "the video id", "the status", "the download".
        what: &'static str,
        /// The command that continues the job (`pixfuse resume 4`).
        resume_command: String,
        /// Why the journal refused the write.
        #[source]
        source: Box<JournalError>,
    },
    /// The video ended badly on the server: deleted, rejected by moderation, or failed.
    #[error("video {video_id} {}", generation_message(*.status))]
    Generation {
        /// The video.
        video_id: u64,
        /// How it ended (deleted, moderated, failed).
        status: JobStatus,
    },
    /// The overall timeout expired while the video was still being generated. Nothing is lost:
    /// `resume` picks it up.
    #[error("video {video_id} is still being generated; continue with `{resume_command}`")]
    StillRunning {
        /// The journaled job, when there is one.
        job_id: Option<i64>,
        /// The video still generating.
        video_id: u64,
        /// The command that continues it (`pixfuse resume 3` or `pixfuse wait 123`).
        resume_command: String,
    },
    /// A job in the journal that has already ended without a video: it failed for good, or the
    /// server refused it before billing.
    #[error("job {job_id} {} earlier and cannot be resumed: {reason}{}", ended_how(*.state), retry_hint(*.state))]
    AlreadyFailed {
        /// The journal's id.
        job_id: i64,
        /// The state it ended in.
        state: JobState,
        /// What the journal recorded about its end.
        reason: String,
    },
    /// The output file belongs to another unfinished job.
    #[error(
        "{} already belongs to job {} ({}), which is not finished; this job would share it. Choose another output, finish job {} first (`pixfuse resume {}`), or pass --force to give the file to this job (job {} is then abandoned; its video stays on the server)",
        .output.display(), .holder, .state, .holder, .holder, .holder
    )]
    OutputTaken {
        /// The output file.
        output: PathBuf,
        /// The unfinished job it belongs to.
        holder: i64,
        /// Where that job stands.
        state: JobState,
    },
    /// A newer job writes the same output: the older one must not overwrite its file.
    #[error(
        "job {job_id} would overwrite {}, which belongs to the newer job {newer}; save job {job_id} elsewhere with `pixfuse resume {job_id} -o OTHER.mp4`",
        .output.display()
    )]
    OutputOwnedByNewer {
        /// The older job.
        job_id: i64,
        /// The newer job that owns the output.
        newer: i64,
        /// The output file.
        output: PathBuf,
    },
    /// The job was abandoned (its output was given to a newer job); it is never continued.
    #[error(
        "job {job_id} was abandoned: its output now belongs to a newer job{}",
        .video_id.map(|v| format!(" (its video stays on the server: `pixfuse download {v} -o OTHER.mp4`)")).unwrap_or_default()
    )]
    Abandoned {
        /// The abandoned job.
        job_id: i64,
        /// Its video on the server, if it was submitted.
        video_id: Option<u64>,
    },
    /// The video's destination cannot be written (checked before anything is paid for).
    #[error("cannot write the video to {}: {problem}", .path.display())]
    Destination {
        /// Where the video would go.
        path: PathBuf,
        /// Why it cannot be written there.
        problem: String,
    },
    /// The job was sent to another server than this client's; resuming it here could bill it
    /// twice.
    #[error(
        "job {job_id} was sent to {base_url}; resume it with --base-url {base_url} (or the provider that has that URL)"
    )]
    OtherServer {
        /// The job.
        job_id: i64,
        /// The server it was sent to.
        base_url: String,
    },
    /// A local file could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done (`cannot read`, `cannot write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The client was configured wrongly (no key, bad base URL…).
    #[error("{0}")]
    Config(String),
    /// A state the library's own invariants rule out: a bug in pixfuse, not a user error.
    #[error("internal error (a bug in pixfuse, please report it): {0}")]
    Internal(String),
}

fn resume_hint(job_id: Option<i64>) -> String {
    job_id
        .map(|id| {
            format!(
                "\nthe job is journaled: `pixfuse resume {id}` continues it without paying twice"
            )
        })
        .unwrap_or_default()
}

impl From<pixfuse_transport::TransportError> for Error {
    fn from(error: pixfuse_transport::TransportError) -> Self {
        if error.is_timed_out() {
            Error::TimedOut {
                job_id: None,
                error,
            }
        } else {
            Error::Transport(error)
        }
    }
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} at {}: {}", d.code, display_path(&d.path), d.message))
        .collect::<Vec<_>>()
        .join("; ")
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn generation_message(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Deleted => "was deleted on the server (status 6)",
        JobStatus::Moderated => {
            "was rejected by content moderation (status 7; credits are refunded); change the images or prompt"
        }
        _ => {
            "failed to generate (status 8; credits are refunded); try again, perhaps with another seed"
        }
    }
}

fn ended_how(state: JobState) -> &'static str {
    match state {
        JobState::RefusedBeforeBilling => "was refused by the server (nothing was billed)",
        JobState::Moderated => "was rejected by content moderation",
        JobState::Deleted => "was deleted on the server",
        JobState::Abandoned => "was abandoned",
        _ => "failed",
    }
}

fn retry_hint(state: JobState) -> &'static str {
    if state.failed_for_good() {
        "; run it again with --new (or a batch with --retry-failed) to make a new, separately billed video"
    } else {
        ""
    }
}

impl Error {
    /// The HTTP failure inside this error, if any: what carries the vendor's ErrCode, ErrMsg
    /// and trace id.
    pub fn transport(&self) -> Option<&pixfuse_transport::TransportError> {
        match self {
            Error::Transport(e) | Error::TimedOut { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// The failure class, when the error has one (the CLI maps it to an exit code).
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Error::Invalid { .. } => Some(ErrorClass::InvalidRequest),
            Error::Transport(e) | Error::TimedOut { error: e, .. } => e.class(),
            Error::Generation {
                status: JobStatus::Moderated,
                ..
            } => Some(ErrorClass::Moderation),
            Error::Generation {
                status: JobStatus::Deleted,
                ..
            } => Some(ErrorClass::Deleted),
            _ => None,
        }
    }

    /// The job this error concerns, when it is a journaled job the deadline cut short.
    pub(crate) fn for_job(self, id: i64) -> Self {
        match self {
            Error::TimedOut {
                job_id: None,
                error,
            } => Error::TimedOut {
                job_id: Some(id),
                error,
            },
            other => other,
        }
    }

    /// A journal write for job `job_id` failed after the server accepted the job.
    pub(crate) fn journal_write(job_id: i64, what: &'static str, source: JournalError) -> Self {
        Error::JournalWrite {
            job_id,
            what,
            resume_command: format!("pixfuse resume {job_id}"),
            source: Box::new(source),
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
