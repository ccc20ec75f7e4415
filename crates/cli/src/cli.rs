//! The command line: global options and one subcommand.

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::cmd::{
    account::{BalanceArgs, UploadArgs},
    batch::BatchArgs,
    completions::{CompletionsArgs, ManArgs},
    config::ConfigArgs,
    doctor::DoctorArgs,
    estimate::EstimateArgs,
    help::HelpArgs,
    job::{RunArgs, SubmitArgs},
    journal::{JobsArgs, ResumeArgs},
    models::ModelsArgs,
    sandbox::SandboxArgs,
    validate::ValidateArgs,
    video::{DownloadArgs, StatusArgs, WaitArgs},
    webhook::WebhookArgs,
};
use crate::mcp::McpArgs;
use crate::net_args::NetArgs;
use crate::render::ColorWhen;

/// pixfuse: multi-subject image-to-video with PixVerse Fusion, checked offline before any credit
/// is spent.
#[derive(Debug, Parser)]
#[command(
    name = "pixfuse",
    version = crate::version::SHORT,
    long_version = crate::version::LONG,
    propagate_version = true
)]
// `help` is ours: it knows topics (`pixfuse help exit-codes`) as well as commands.
#[command(disable_help_subcommand = true, after_help = footer())]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts, before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub net: NetArgs,
    /// Print one JSON object on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,
    /// More detail (repeatable).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: auto (a terminal, unless NO_COLOR is set or TERM=dumb; CLICOLOR_FORCE=1 forces
    /// it), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate, upload, submit, wait and download: a video on disk.
    Run(RunArgs),
    /// Validate, upload and submit; print the video id without waiting.
    Submit(SubmitArgs),
    /// One status poll of a video.
    Status(StatusArgs),
    /// Wait until a video is done.
    Wait(WaitArgs),
    /// Download a finished video.
    Download(DownloadArgs),
    /// Upload images (each distinct file once) and print their img_ids.
    Upload(UploadArgs),
    /// Credits left on the account.
    Balance(BalanceArgs),
    /// The journal of jobs.
    Jobs(JobsArgs),
    /// Finish jobs a crash, timeout or network failure interrupted.
    Resume(ResumeArgs),
    /// Many jobs from a JSONL file at the account's concurrency limit, within a budget.
    Batch(BatchArgs),
    Validate(ValidateArgs),
    Models(ModelsArgs),
    Estimate(EstimateArgs),
    Sandbox(SandboxArgs),
    /// Receive the vendor's signed callbacks (`webhook serve`).
    Webhook(WebhookArgs),
    Mcp(McpArgs),
    /// Where pixfuse reads and writes, and what is in effect (`config path|show|init`).
    Config(ConfigArgs),
    /// Check the key, the server, the clock, the journal and the state directory.
    Doctor(DoctorArgs),
    Completions(CompletionsArgs),
    #[command(hide = true)]
    Man(ManArgs),
    Help(HelpArgs),
}

const EXAMPLES: &str = "Examples:
  pixfuse validate job.json          check a request offline
  pixfuse models                     what each model accepts
  pixfuse estimate job.json          what it will cost
  pixfuse run job.json -o clip.mp4   upload, submit, wait, download (journaled)
  pixfuse resume                     finish jobs a crash or timeout interrupted
  pixfuse sandbox                    a local emulator of the API (no key needed)
  pixfuse webhook serve              the vendor's callbacks into the journal
  pixfuse mcp                        tools for an AI agent (MCP)";

/// The top-level `--help` footer: examples, then the exit codes.
fn footer() -> String {
    format!("{EXAMPLES}\n\n{}", crate::exit::help_footer())
}

/// The commands that never talk to a server: the network options are accepted there (so that
/// `pixfuse --sandbox validate job.json` works) but not offered in their help or completions.
const OFFLINE: [&str; 6] = [
    "validate",
    "models",
    "estimate",
    "sandbox",
    "completions",
    "help",
];

/// The command line as clap parses and documents it: [`Cli`], with the network options hidden
/// from the commands that never talk to a server.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for name in OFFLINE {
        // Deferred: clap copies the global options into a subcommand before it builds it.
        cmd = cmd.mut_subcommand(name, |sub| sub.defer(hide_network_options));
    }
    cmd
}

fn hide_network_options(mut sub: clap::Command) -> clap::Command {
    let net = NetArgs::augment_args(clap::Command::new("net"));
    for arg in net.get_arguments() {
        let id = arg.get_id().as_str();
        if sub.get_arguments().any(|a| a.get_id() == id) {
            sub = sub.mut_arg(id, |a| a.hide(true));
        }
    }
    sub
}
