//! All of pixfuse-cli's integration tests in one binary, a module per area (one link of the
//! whole dependency tree instead of one per file). Run one area with
//! `cargo nextest run -p pixfuse-cli -E 'test(/^hostile::/)'`.

mod common;

mod account_slots;
mod batch_cli;
mod cli;
mod config_cli;
mod crash_e2e;
mod docs_cli;
mod doctor_cli;
mod exit_codes;
mod flags_cli;
mod help_cli;
mod hostile;
mod interrupt_cli;
mod jobs_cli;
mod json_docs;
mod json_failures;
mod lifecycle_cli;
mod local_limits;
mod mcp_stdio;
mod mcp_tools;
mod omni_e2e;
mod progress_cli;
mod run_e2e;
mod sandbox_cmd;
mod sandbox_journal;
mod secrets;
mod shared_journal;
mod terminal;
mod webhook_e2e;
