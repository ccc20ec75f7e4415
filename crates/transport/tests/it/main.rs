//! All of pixfuse-transport's integration tests in one binary, a module per area (one link of the
//! whole dependency tree instead of one per file). Run one area with
//! `cargo nextest run -p pixfuse-transport -E 'test(/^happy_path::/)'`.

mod common;

mod auth_styles;
mod catch_all;
mod config_rules;
mod deadline;
mod download_resume;
mod download_verify;
mod dropped_connection;
mod errcode_on_200;
mod happy_path;
mod html_502;
mod key_never_leaks;
mod lowercase_body;
mod never_retried;
mod preflight;
mod rate_limit_retry_after;
mod redirect_keeps_key;
mod request_shape;
mod send_futures;
mod slot_wait_same_trace;
mod timeouts;
mod truncated_answer;
mod video_upload;
mod wait_outcomes;
