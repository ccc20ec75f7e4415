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
//! Every job is journaled (SQLite in the state directory) before its submit is sent, so a crash,
//! a timeout or a dropped connection never bills a job twice nor loses a paid result:
//! [`Client::resume`] continues it with the same trace id.

#![forbid(unsafe_code)]

mod atomic;
pub mod batch;
mod client;
pub mod dry_run;
mod error;
pub mod event;
mod jobfile;
pub mod journal;
mod resume;
mod run;
pub mod sidecar;
pub mod state;
mod wait;

pub use atomic::write_file_atomically;
pub use client::{
    BASE_URL_ENV, Balance, Client, ClientBuilder, KEY_ENV, PROVIDER_ENV, UploadedImage,
    VideoStatus, parse_provider, provider_key_env,
};
pub use error::Error;
pub use event::Event;
pub use jobfile::{
    MAX_JOB_FILE_BYTES, load_job_file, parse_job, read_job_bytes, read_job_file, rebase_paths,
};
pub use journal::{JobRecord, JobState, Journal};
pub use run::{JobOutcome, Submission};
pub use sidecar::Sidecar;

/// The pure layer, re-exported so users depend on `pixfuse` alone.
pub use pixfuse_core as core;
pub use pixfuse_core::poll::{JobStatus, PollPolicy};
pub use pixfuse_core::retry::RetryPolicy;
pub use pixfuse_core::{
    AspectRatio, Diagnostic, ErrorClass, Estimate, ImageSource, Job, JobReference, Model, Quality,
    RefType, Severity, ValidateOptions, Validation, estimate_job, validate_bytes, validate_job,
    wire,
};
pub use pixfuse_transport::{Provider, TransportError, redirect_policy};
pub use secrecy::SecretString;
pub use uuid::Uuid;
