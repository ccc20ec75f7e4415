//! Progress events: what a job is doing, for the CLI's progress display and for library users.

use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

/// One step of a job. Observe them with a closure passed to [`crate::Client::run_with`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Validation found something worth knowing that does not block sending.
    Warning {
        code: String,
        path: String,
        message: String,
    },
    /// A local image is being uploaded.
    Uploading { path: PathBuf, bytes: u64 },
    /// A local image was uploaded.
    Uploaded { path: PathBuf, img_id: u64 },
    /// A local image was uploaded before (same content, same provider): its img_id is reused.
    UploadReused { path: PathBuf, img_id: u64 },
    /// The trace id and request are durable in the journal; the submit is about to be sent.
    Journaled { job_id: i64, trace_id: Uuid },
    /// The server accepted the job.
    Submitted {
        job_id: i64,
        video_id: u64,
        credits: Option<i64>,
    },
    /// A status poll answered.
    Polled {
        video_id: u64,
        status: i64,
        elapsed: Duration,
        polls: u32,
    },
    /// The video is ready at `url`.
    Ready { video_id: u64, url: String },
    /// Download progress (`total` when the server sent a length).
    Downloading { received: u64, total: Option<u64> },
    /// The video is on disk.
    Downloaded { path: PathBuf, bytes: u64 },
    /// The sidecar `<output>.json` was written.
    SidecarWritten { path: PathBuf },
    /// A request is being retried after a temporary failure.
    Retrying {
        what: String,
        attempt: u32,
        delay: Duration,
        reason: String,
    },
}

impl std::fmt::Display for Event {
    /// One plain log line, as the CLI prints it when stderr is not a terminal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Warning {
                code,
                path,
                message,
            } => write!(f, "warning[{code}] at {path}: {message}"),
            Event::Uploading { path, bytes } => {
                write!(f, "uploading {} ({bytes} bytes)", path.display())
            }
            Event::Uploaded { path, img_id } => {
                write!(f, "uploaded {} as img_id {img_id}", path.display())
            }
            Event::UploadReused { path, img_id } => write!(
                f,
                "reusing img_id {img_id} for {} (uploaded before)",
                path.display()
            ),
            Event::Journaled { job_id, trace_id } => {
                write!(f, "job {job_id} journaled with trace id {trace_id}")
            }
            Event::Submitted {
                job_id,
                video_id,
                credits,
            } => match credits {
                Some(c) => write!(
                    f,
                    "job {job_id} submitted: video id {video_id}, {c} credits"
                ),
                None => write!(f, "job {job_id} submitted: video id {video_id}"),
            },
            Event::Polled {
                video_id,
                status,
                elapsed,
                polls,
            } => write!(
                f,
                "video {video_id}: {} after {:.1}s ({polls} polls)",
                status_name(*status),
                elapsed.as_secs_f64()
            ),
            Event::Ready { video_id, .. } => write!(f, "video {video_id} is ready"),
            Event::Downloading { received, total } => match total {
                Some(t) => write!(f, "downloading {received}/{t} bytes"),
                None => write!(f, "downloading {received} bytes"),
            },
            Event::Downloaded { path, bytes } => {
                write!(f, "saved {} ({bytes} bytes)", path.display())
            }
            Event::SidecarWritten { path } => write!(f, "wrote {}", path.display()),
            Event::Retrying {
                what,
                attempt,
                delay,
                reason,
            } => write!(
                f,
                "{what}: attempt {attempt} failed ({reason}); retrying in {:.1}s",
                delay.as_secs_f64()
            ),
        }
    }
}

/// A readable name for a vendor status code.
pub fn status_name(status: i64) -> &'static str {
    match status {
        1 => "succeeded",
        5 => "generating",
        6 => "deleted",
        7 => "rejected by content moderation",
        8 => "generation failed",
        _ => "unknown status (still waiting)",
    }
}
