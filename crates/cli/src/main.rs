//! `pixfuse`: the command-line tool for PixVerse Fusion.

mod cli;
mod cmd;
mod config;
mod connect;
mod exit;
mod failure;
mod input;
mod key;
mod net_args;
mod progress;
mod render;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // clap prints its own errors and exits with 2 (usage), or 0 for --help and --version.
    let cli = cli::Cli::parse();
    cmd::run(cli).into()
}
