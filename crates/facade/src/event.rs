//! Progress events: what a job is doing, for the CLI's progress display and for library users.

use std::path::PathBuf;
use std::time::Duration;

use pixfuse_core::lifecycle::JobState;
use pixfuse_core::poll::JobStatus;
use pixfuse_core::text::plural;
use pixfuse_transport::CallNotice;
use uuid::Uuid;

/// One step of a job. Observe them with a closure passed to [`crate::Client::run_with`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Validation found something worth knowing that does not block sending.
    Warning {
        /// The diagnostic's code (`prompt_long`, …).
        code: String,
        /// A JSON pointer to the field it is about.
        path: String,
        /// What it means, and what to do.
        message: String,
    },
    /// A local image is being uploaded.
    Uploading {
        /// The local image.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// A local image was uploaded.
    Uploaded {
        /// The local image.
        path: PathBuf,
        /// The vendor's id for the image.
        img_id: u64,
    },
    /// A local image was uploaded before (same content, same provider): its img_id is reused.
    UploadReused {
        /// The local image.
        path: PathBuf,
        /// The vendor's id for the image.
        img_id: u64,
    },
    /// A local reference video was uploaded.
    VideoUploaded {
        /// The local video.
        path: PathBuf,
        /// The vendor's id for the video (`video_references[].video_media_id`).
        media_id: u64,
    },
    /// A local reference video was uploaded before (same content, same server): its media_id is
    /// reused.
    VideoUploadReused {
        /// The local video.
        path: PathBuf,
        /// The vendor's id for the video.
        media_id: u64,
    },
    /// A new job is in the journal: its identity is claimed and its trace id minted; nothing
    /// was sent yet.
    Planned {
        /// The journal's id.
        job_id: i64,
        /// The job's `Ai-trace-id`.
        trace_id: Uuid,
    },
    /// An earlier job with this identity is continued (same trace id: nothing is billed twice).
    Continuing {
        /// The journal's id.
        job_id: i64,
        /// Where the job stood.
        state: JobState,
    },
    /// The job's video was already made and saved earlier: nothing was sent.
    AlreadyDone {
        /// The journal's id.
        job_id: i64,
        /// The video's path.
        output: PathBuf,
    },
    /// Another live pixfuse process runs this job: this one waits for it instead of submitting.
    HeldElsewhere {
        /// The journal's id.
        job_id: i64,
        /// The other process's id.
        pid: u32,
        /// The host it runs on.
        host: String,
    },
    /// The process that ran this job is gone (or its claim ran out): this one continues it.
    TakenOver {
        /// The journal's id.
        job_id: i64,
        /// The id of the process that ran it.
        pid: u32,
    },
    /// This job is a new, separately billed attempt at an earlier one (`--new`,
    /// `--retry-failed`).
    Superseding {
        /// The journal's id.
        job_id: i64,
        /// The earlier job.
        earlier: i64,
        /// Where the earlier job stands.
        state: JobState,
    },
    /// An unfinished job was abandoned: its output was given to this job (`--force`).
    Abandoned {
        /// The journal's id.
        job_id: i64,
        /// The video's path.
        output: PathBuf,
    },
    /// The server refused the submit before billing anything because it no longer knows an
    /// uploaded image: the images are uploaded again.
    Reuploading {
        /// The journal's id.
        job_id: i64,
    },
    /// The job was refused before billing and is tried again with a new trace id.
    NewTraceId {
        /// The journal's id.
        job_id: i64,
        /// The new `Ai-trace-id`.
        trace_id: Uuid,
    },
    /// The trace id and request are durable in the journal; the submit is about to be sent.
    Journaled {
        /// The journal's id.
        job_id: i64,
        /// The job's `Ai-trace-id`.
        trace_id: Uuid,
    },
    /// The server accepted the job.
    Submitted {
        /// The journal's id.
        job_id: i64,
        /// The vendor's id of the video.
        video_id: u64,
        /// Credits charged, when the answer said.
        credits: Option<i64>,
    },
    /// A status poll answered. `elapsed` is the time since the submit.
    Polled {
        /// The vendor's id of the video.
        video_id: u64,
        /// Where the job stands.
        status: JobStatus,
        /// Time since the submit.
        elapsed: Duration,
        /// Polls so far, this one included.
        polls: u32,
    },
    /// A webhook callback in the journal said how the video ended (no status poll needed).
    Callback {
        /// The journal's id.
        job_id: Option<i64>,
        /// The vendor's id of the video.
        video_id: u64,
        /// Where the job stands.
        status: JobStatus,
    },
    /// The video is ready at `url`.
    Ready {
        /// The vendor's id of the video.
        video_id: u64,
        /// The download URL.
        url: String,
    },
    /// Download progress (`total` when the server sent a length).
    Downloading {
        /// Bytes on disk so far.
        received: u64,
        /// The whole size, when the server said.
        total: Option<u64>,
    },
    /// The video is on disk.
    Downloaded {
        /// Where the video is.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },
    /// The sidecar `<output>.json` was written.
    SidecarWritten {
        /// Where the sidecar is.
        path: PathBuf,
    },
    /// The submit waits for one of the account's slots: every one is held by another job
    /// (of any process on the journal). Said once per wait.
    WaitingForSlot {
        /// The journaled job.
        job_id: i64,
        /// Slots held now.
        in_use: u32,
        /// The account's slots (its limit, or the lower one learned from the server).
        limit: u32,
    },
    /// A request is being retried after a temporary failure.
    Retrying {
        /// The request (`POST …/video/fusion/generate`).
        what: String,
        /// The attempt about to be made (2 = the first retry).
        attempt: u32,
        /// Attempts allowed for this kind of failure, when known.
        limit: Option<u32>,
        /// The pause before it.
        delay: Duration,
        /// What went wrong.
        reason: String,
    },
}

impl Event {
    /// The event a transport notice means for a job's progress: a retry (the attempts
    /// themselves are for request logs, not progress).
    pub fn from_call(notice: &CallNotice) -> Option<Event> {
        match notice {
            CallNotice::Retrying {
                endpoint,
                path,
                attempt,
                limit,
                delay,
                reason,
            } => Some(Event::Retrying {
                what: format!("{} {path}", endpoint.method),
                attempt: *attempt,
                limit: Some(*limit),
                delay: *delay,
                reason: reason.clone(),
            }),
            _ => None,
        }
    }
}

/// A pause as a person reads it: `2 s`, `0.5 s`, `1.5 s`.
fn seconds(d: Duration) -> String {
    let tenths = (d.as_secs_f64() * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:.0} s")
    } else {
        format!("{tenths:.1} s")
    }
}

impl std::fmt::Display for Event {
    /// One plain log line, as the CLI prints it when stderr is not a terminal.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Warning {
                code,
                path,
                message,
            } if path.is_empty() => write!(f, "warning[{code}]: {message}"),
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
            Event::VideoUploaded { path, media_id } => {
                write!(f, "uploaded {} as media_id {media_id}", path.display())
            }
            Event::VideoUploadReused { path, media_id } => write!(
                f,
                "reusing media_id {media_id} for {} (uploaded before)",
                path.display()
            ),
            Event::Planned { job_id, .. } => write!(f, "job {job_id} planned"),
            Event::Continuing { job_id, state } => write!(
                f,
                "continuing job {job_id} ({state}) with its own trace id: nothing is billed twice"
            ),
            Event::AlreadyDone { job_id, output } => write!(
                f,
                "job {job_id} already saved this video to {}; nothing was sent (--new makes a new, separately billed one)",
                output.display()
            ),
            Event::HeldElsewhere { job_id, pid, host } => write!(
                f,
                "job {job_id} is being run by another pixfuse process (pid {pid} on {host}); waiting for it"
            ),
            Event::TakenOver { job_id, pid } => write!(
                f,
                "job {job_id}: the process that ran it (pid {pid}) is gone; continuing it with the same trace id"
            ),
            Event::Superseding {
                job_id,
                earlier,
                state,
            } => write!(
                f,
                "job {job_id} is a new attempt at job {earlier} ({state}), with a new trace id: it is billed separately"
            ),
            Event::Abandoned { job_id, output } => write!(
                f,
                "job {job_id} was abandoned: {} now belongs to this job (its video stays on the server)",
                output.display()
            ),
            Event::Reuploading { job_id } => write!(
                f,
                "job {job_id}: the server no longer knows an uploaded image (nothing was billed); uploading again"
            ),
            Event::NewTraceId { job_id, trace_id } => write!(
                f,
                "job {job_id}: refused before billing earlier; trying again with a new trace id {trace_id}"
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
                    "job {job_id} submitted: video id {video_id}, {}",
                    plural(*c, "credit")
                ),
                None => write!(f, "job {job_id} submitted: video id {video_id}"),
            },
            Event::Callback {
                video_id, status, ..
            } => write!(f, "video {video_id}: {status} (webhook callback)"),
            Event::Polled {
                video_id,
                status,
                elapsed,
                polls,
            } => write!(
                f,
                "video {video_id}: {status} after {:.1}s ({})",
                elapsed.as_secs_f64(),
                plural(*polls, "poll")
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
            Event::WaitingForSlot {
                job_id,
                in_use,
                limit,
            } => write!(
                f,
                "job {job_id}: waiting for an account slot: {in_use} of {limit} in use"
            ),
            Event::Retrying {
                what,
                attempt,
                limit,
                delay,
                reason,
            } => {
                write!(
                    f,
                    "{what}: retrying in {} (attempt {attempt}",
                    seconds(*delay)
                )?;
                if let Some(limit) = limit {
                    write!(f, " of {limit}")?;
                }
                write!(f, "): {reason}")
            }
        }
    }
}
