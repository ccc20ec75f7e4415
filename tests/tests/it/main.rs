//! All of pixfuse-e2e's integration tests in one binary, a module per area (one link of the
//! whole dependency tree instead of one per file). Run one area with
//! `cargo nextest run -p pixfuse-e2e -E 'test(/^client_run::/)'`.

mod batch_sandbox;
mod client_run;
mod lifecycle;
mod sandbox_e2e;
mod video_upload;
