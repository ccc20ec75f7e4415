//! All of pixfuse-sandbox's integration tests in one binary, a module per area (one link of the
//! whole dependency tree instead of one per file). Run one area with
//! `cargo nextest run -p pixfuse-sandbox -E 'test(/^jobs::/)'`.

mod common;

mod api;
mod faults;
mod jobs;
mod media_upload;
mod replay;
mod state;
mod webhooks;
