//! The `pixfuse` command-line tool as a library: `main.rs` only calls [`run`]. Commands live in
//! [`cmd`], one module each; exit codes in [`exit`].

pub mod cli;
pub mod cmd;
mod config;
mod connect;
mod ctx;
pub mod exit;
mod failure;
mod input;
mod interrupt;
mod key;
pub mod mcp;
pub mod net_args;
mod progress;
mod render;

use clap::Parser;

/// Parses the command line, runs the command, and returns the process's exit status.
pub fn run() -> std::process::ExitCode {
    // clap prints its own errors and exits with 2 (usage), or 0 for --help and --version.
    let cli = cli::Cli::parse();
    cmd::run(cli).into()
}
