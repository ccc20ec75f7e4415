//! `pixfuse mcp`: a Model Context Protocol server on stdio, so AI agents make Fusion videos
//! with every pixfuse guarantee (offline validation, exactly-once submission, resumable waits).
//! A thin adapter over the facade, like the CLI commands: `server` speaks the protocol,
//! `offline` and `jobs` hold the tools, `answer` shapes their answers and errors.

mod answer;
mod budget;
mod catalog;
mod jobs;
mod offline;
mod params;
mod server;

use clap::Args;

pub use answer::Answer;
pub use server::{McpOptions, PixfuseMcp};

use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::net_args::NetArgs;

/// Serve the pixfuse tools to an AI agent over the Model Context Protocol (stdio).
///
/// The host starts `pixfuse mcp` and speaks JSON-RPC on its standard input and output; logs go
/// to standard error. It uses the same provider, key, config file, state directory and journal
/// as the other commands, so a job an agent started can be finished with `pixfuse resume`, and
/// the other way round. The key never appears in a tool result.
#[derive(Debug, Args)]
#[command(
    after_help = "Host configuration (Claude Desktop, Cursor, VS Code and other MCP hosts):
  {\"mcpServers\": {\"pixfuse\": {\"command\": \"pixfuse\", \"args\": [\"mcp\"]}}}
  (add \"--sandbox\" to args to try it without a key or credits; give the key in the server's
  \"env\", e.g. {\"PIXVERSE_API_KEY\": \"…\"}, or as api_key in the config file. Without a key
  the server still starts: the offline tools work and the others say how to give one.)

Tools:
  models        what each model accepts
  validate      every diagnostic of a request (code, severity, JSON pointer, message, suggestion, span)
  estimate      credits, USD and how sure the price is
  upload_image  a local image or https URL, uploaded once per content
  upload_video  a v6 Omni reference video (local or https URL), checked, uploaded once per content
  balance       credits left on the account
  generate      validate, upload, journal, submit; the same call again returns the same job
  status        one status poll of a video
  wait          until the video is ready, at most timeout_s (default 120 s), then \"call wait again\"
  download      a finished video to a path, with its sidecar
  resume        a journaled job from wherever it stopped
  jobs          the journal
Resources: pixfuse://models, pixfuse://docs/diagnostics.md. Prompt: fusion_video.

Examples:
  pixfuse mcp
  pixfuse mcp --sandbox                 the emulator: no key, no credits
  pixfuse mcp --budget 500              refuse generating past 500 credits spent"
)]
pub struct McpArgs {
    /// The most credits this server process may spend (estimates of the new videos it
    /// submits); a `generate` that would go past it is refused with its estimate. Default: the
    /// config file's `mcp_budget`, else no limit.
    #[arg(long, value_name = "CREDITS")]
    pub budget: Option<f64>,
}

pub fn run(_ctx: &Ctx, net: &NetArgs, args: &McpArgs) -> Result<Exit, Failure> {
    if net.api_key_stdin {
        return Err(Failure::usage(
            "--api-key-stdin cannot be used with `pixfuse mcp`: standard input carries the protocol; set PIXFUSE_API_KEY (or api_key in the config file) instead",
        ));
    }
    if net.timeout.is_some() {
        return Err(Failure::usage(
            "--timeout bounds one command, but an MCP server runs as long as its host: each tool call takes its own timeout_s instead",
        ));
    }
    let settings = Settings::resolve(net)?;
    let budget = args.budget.or(settings.mcp_budget());
    if let Some(b) = budget
        && !(b.is_finite() && b >= 0.0)
    {
        return Err(Failure::usage(
            "--budget must be a number of credits, 0 or more",
        ));
    }
    let options = |key| McpOptions::new(budget, key);
    match settings.session() {
        Ok(session) => {
            let key = match session.sandbox() {
                Some(sandbox) => sandbox.demo_key(),
                None => settings.api_key()?,
            };
            // The settings' deadline counts from process start; a server bounds each call.
            let client = session.client.with_deadline(None);
            serve(
                &session.rt,
                PixfuseMcp::new(client, options(Some(key))),
                budget,
            )
        }
        // Without a key the server still starts: the agent hears how to give one (a host does
        // not always pass the user's shell environment on), and the offline tools work.
        Err(f) if f.exit == Exit::Auth => {
            eprintln!(
                "pixfuse: warning: {}; until then only the offline tools work",
                f.message
            );
            let rt = crate::connect::runtime()?;
            serve(
                &rt,
                PixfuseMcp::without_key(f.message, options(None)),
                budget,
            )
        }
        Err(f) => Err(f),
    }
}

/// Serves `server` on stdio until the host closes it.
fn serve(
    rt: &tokio::runtime::Runtime,
    server: PixfuseMcp,
    budget: Option<f64>,
) -> Result<Exit, Failure> {
    match budget {
        Some(b) => eprintln!("pixfuse: MCP server on stdio, budget {b} credits"),
        None => eprintln!("pixfuse: MCP server on stdio"),
    }
    rt.block_on(server.serve_stdio())
        .map_err(|message| Failure {
            exit: Exit::Internal,
            message,
        })?;
    Ok(Exit::Success)
}
