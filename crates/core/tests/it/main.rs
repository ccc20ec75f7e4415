//! All of pixfuse-core's integration tests in one binary, a module per area (one link of the
//! whole dependency tree instead of one per file). Run one area with
//! `cargo nextest run -p pixfuse-core -E 'test(/^examples::/)'`.

mod examples;
mod lifecycle;
mod lint_fix_estimate;
mod omni;
mod properties;
mod scheduler;
mod spec_tables;
mod video;
mod wire_roundtrip;
