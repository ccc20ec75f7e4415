//! The PixVerse Fusion HTTP transport: executes what `pixfuse-core` decides, over reqwest
//! (rustls) and tokio.
//!
//! - Every answer's envelope is checked: `ErrCode != 0` is an error even on HTTP 200.
//! - Failures are classified by core; retries reuse the call's trace id, so a resent submit
//!   returns the earlier job instead of billing twice.
//! - The API key lives in a `SecretString` and a sensitive header; it never appears in
//!   `Debug`, `Display`, errors or tracing fields. Text a server sends back is stripped of the
//!   key (in any form) and of terminal control sequences before it is kept anywhere.
//! - Time is bounded: every attempt has a timeout and a limit on silence while reading, and a
//!   handle made by [`Transport::with_deadline`] stops every phase of a call by its deadline.
//! - Downloads are verified (length, or a range probe when none is announced; a video
//!   signature) and resumable across processes from a partial file the caller names.
//!
//! ```no_run
//! # async fn demo() -> Result<(), pixfuse_transport::TransportError> {
//! use pixfuse_transport::{Provider, Transport, TransportConfig};
//! let key = secrecy::SecretString::from("…".to_owned());
//! let transport = Transport::new(TransportConfig::new(Provider::Pixverse, key))?;
//! let credits = transport.balance().await?.total();
//! # let _ = credits; Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod api;
mod attempt;
mod client;
mod config;
mod download;
mod envelope;
mod error;
mod preflight;
mod video_preflight;
mod wait;

pub use api::{Balance, Submitted, UploadedImage, UploadedVideo, VideoStatus};

pub use client::{ServerClock, Transport, download_redirect_policy, redirect_policy};
pub use config::{
    AuthStyle, CallNotice, CallObserver, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT, MIN_REMOTE_POLL_INTERVAL, Provider, TransportConfig,
};
pub use download::{DownloadOptions, DownloadProgress, Downloaded, discard_partial, partial_path};
pub use error::{CallInfo, TransportError};
pub use preflight::{ImageFormat, ImageInfo, image_problems, preflight_image};
pub use video_preflight::{VideoInfo, preflight_video, video_problems};

pub use pixfuse_core::video::{VideoFormat, VideoHeader, VideoProblem};
pub use wait::{WaitEvent, WaitOutcome};

pub use pixfuse_core::endpoint::Endpoint;
pub use pixfuse_core::poll::{Age, JobShape, JobStatus, PollPolicy};
pub use pixfuse_core::retry::{Backoff, GiveUpReason, RetryPolicy, TransportFailure};
