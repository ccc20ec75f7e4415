//! The lifecycle of one job, owned in one place: its states ([`JobState`], stored by name), the
//! pure state machine that drives it ([`Lifecycle`]), what a failed submit means for it
//! ([`SubmitFailure`]), and when another process's claim on it has expired ([`Claim`]).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pixfuse_core::lifecycle::{Action, Input, JobState, Lifecycle, Params};
//!
//! // The caller passes the time in (core never reads a clock).
//! fn first_steps(now: Instant) {
//!     let trace = uuid::Uuid::from_u128(7);
//!     let mut job = Lifecycle::new(JobState::Planned, trace, None, Params::default());
//!     job.handle(Input::Start { file_present: false, running_for: Duration::ZERO }, now);
//!     assert!(matches!(job.poll_action(), Some(Action::Persist { to: JobState::Uploading, .. })));
//!     assert_eq!(job.poll_action(), Some(Action::Upload));
//!     job.handle(Input::Uploaded, now);
//!     // Write-ahead: the claim is durable before the submit goes out.
//!     assert!(matches!(job.poll_action(), Some(Action::Persist { to: JobState::Claimed, .. })));
//!     assert_eq!(job.poll_action(), Some(Action::Submit { trace_id: trace }));
//! }
//! # let _ = first_steps;
//! ```

mod lease;
mod machine;
mod state;
mod submit;

pub use lease::{Claim, ClaimStatus, Liveness, Owner};
pub use machine::{Action, End, Goal, Input, Lifecycle, Params, ReceiverCadence, Source};
pub use state::JobState;
pub use submit::{SubmitError, SubmitFailure};
