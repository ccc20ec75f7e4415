//! The command line: global options and one subcommand.

use clap::{Args, Parser, Subcommand};

use crate::cmd::{
    estimate::EstimateArgs, models::ModelsArgs, sandbox::SandboxArgs, validate::ValidateArgs,
};

/// pixfuse: multi-subject image-to-video with PixVerse Fusion, checked offline before any credit
/// is spent.
#[derive(Debug, Parser)]
#[command(name = "pixfuse", version, propagate_version = true)]
#[command(after_help = "Examples:
  pixfuse validate job.json          check a request offline
  pixfuse models                     what each model accepts
  pixfuse estimate job.json          what it will cost
  pixfuse sandbox                    a local emulator of the API (no key needed)")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print one JSON object on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail (repeatable).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(ValidateArgs),
    Models(ModelsArgs),
    Estimate(EstimateArgs),
    Sandbox(SandboxArgs),
}
