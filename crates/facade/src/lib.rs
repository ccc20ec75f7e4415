//! PixVerse Fusion SDK: validate, upload, submit, wait and download, with a crash-safe journal.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pixfuse::Error> {
//! use std::path::Path;
//! let client = pixfuse::Client::from_env()?;
//! let (job, _warnings) = pixfuse::load_job_file(Path::new("job.json"), &Default::default())?;
//! let done = client.run(job, Path::new("clip.mp4")).await?;
//! println!("video {} saved to {}", done.video_id, done.output.display());
//! # Ok(()) }
//! ```
//!
//! Or configured in code: the [`TransportConfig`] says how to reach the API (provider, key,
//! base URL, auth style, timeouts, retries, polling, HTTP client), the builder the rest.
//!
//! ```no_run
//! # fn demo() -> Result<(), pixfuse::Error> {
//! use std::time::Duration;
//! use pixfuse::{Client, Provider, SecretString, TransportConfig};
//! let key = SecretString::from("…".to_owned());
//! let transport = TransportConfig::new(Provider::QuickRouter, key)
//!     .with_request_timeout(Duration::from_secs(30));
//! let client = Client::builder().transport(transport).state_dir("/tmp/pixfuse").build()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! Every job is claimed in the journal (SQLite in the state directory) before anything is
//! uploaded or sent, and its request is durable before its submit leaves, so a crash, a timeout,
//! an interrupt, a rerun or a second process never bills a job twice nor loses a paid result:
//! running the same job again, or [`Client::resume`], continues it with the same trace id. The
//! lifecycle itself is core's pure [`core::lifecycle`] state machine; this crate drives it.

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod atomic;
pub mod batch;
mod client;
mod drive;
pub mod dry_run;
mod error;
pub mod event;
mod history;
mod identity;
mod jobfile;
pub mod journal;
mod media;
mod output;
mod resume;
mod run;
pub mod sidecar;
pub mod state;
pub mod webhook;

pub use atomic::write_file_atomically;
pub use client::{
    BASE_URL_ENV, Balance, Client, ClientBuilder, DEFAULT_LEASE, KEY_ENV, PROVIDER_ENV,
    UploadedImage, VideoStatus, key_from_env, origin_of,
};
pub use error::Error;
pub use event::Event;
pub use jobfile::{
    MAX_JOB_FILE_BYTES, check_local_images, load_job_file, local_video_seconds, parse_job,
    read_job_bytes, read_job_file, rebase_paths,
};
pub use journal::{JOURNAL_URL_ENV, JobRecord, JobState, Journal, JournalUrl, MediaType};
pub use media::UploadedVideo;
pub use run::{JobOptions, JobOutcome, Submission};
pub use sidecar::Sidecar;

/// The pure layer, re-exported so users depend on `pixfuse` alone.
pub use pixfuse_core as core;
pub use pixfuse_core::poll::{JobStatus, PollPolicy};
pub use pixfuse_core::retry::RetryPolicy;
pub use pixfuse_core::{
    AspectRatio, Diagnostic, ErrorClass, Estimate, ImageSource, Job, JobReference,
    JobVideoReference, Model, Quality, RefType, Severity, ValidateOptions, Validation, VideoSource,
    estimate_job, estimate_job_with_videos, validate_bytes, validate_job, wire,
};
/// The HTTP layer, re-exported for its settings and types (timeouts, `Backoff`, …).
pub use pixfuse_transport as transport;
pub use pixfuse_transport::{
    AuthStyle, CallNotice, CallObserver, Provider, ServerClock, TransportConfig, TransportError,
    download_redirect_policy, redirect_policy,
};
pub use secrecy::SecretString;
pub use uuid::Uuid;
