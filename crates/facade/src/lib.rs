//! PixVerse Fusion SDK: validate, upload, submit, wait and download, with a crash-safe journal.

#![forbid(unsafe_code)]

pub mod event;
pub mod journal;
pub mod sidecar;
pub mod state;

pub use event::Event;
pub use journal::{JobRecord, JobState, Journal};
pub use sidecar::Sidecar;
