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
pub mod render;
mod stdout_video;
mod values;
mod version;

use clap::{CommandFactory, FromArgMatches};

/// Parses the command line, runs the command, and returns the process's exit status.
pub fn run() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = render::ColorWhen::from_args(&args);
    render::set_color(color);
    // clap prints its own errors and exits with 2 (usage), or 0 for --help and --version.
    let mut command = cli::Cli::command().color(color.for_clap());
    let mut matches = command.clone().get_matches_from(args);
    let cli = match cli::Cli::from_arg_matches_mut(&mut matches) {
        Ok(cli) => cli,
        Err(e) => e.format(&mut command).exit(),
    };
    cmd::run(cli).into()
}
