//! `pixfuse status | wait | download`: one video by its id.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use pixfuse::{Event, VideoStatus};
use pixfuse_core::text::sanitize;
use serde_json::json;

use crate::cmd::job::{failed, print_result, result_json};
use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::interrupt::{self, Jobs};
use crate::net_args::NetArgs;
use crate::progress::Progress;

/// A video id (a 64-bit integer, as `submit` prints it).
fn parse_video_id(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a video id (a non-negative integer)"))
}

/// `pixfuse status`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pixfuse status 312345678901234")]
pub struct StatusArgs {
    /// The video id (`pixfuse submit` prints it, `pixfuse jobs` lists them).
    #[arg(value_name = "ID", value_parser = parse_video_id)]
    pub video_id: u64,
}

/// `pixfuse wait`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pixfuse wait 312345678901234 --timeout 10m")]
pub struct WaitArgs {
    /// The video id (`pixfuse submit` prints it, `pixfuse jobs` lists them).
    #[arg(value_name = "ID", value_parser = parse_video_id)]
    pub video_id: u64,
}

/// `pixfuse download`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pixfuse download 312345678901234 -o clip.mp4")]
pub struct DownloadArgs {
    /// The video id (`pixfuse submit` prints it, `pixfuse jobs` lists them).
    #[arg(value_name = "ID", value_parser = parse_video_id)]
    pub video_id: u64,
    /// Where to save the video; `-` writes it to standard output (messages stay on stderr).
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// A status as `status --json` shows it (also the MCP `status` and `wait` tools).
pub(crate) fn status_json(s: &VideoStatus) -> serde_json::Value {
    json!({
        "video_id": s.video_id.to_string(),
        "video_status": s.status.describe(),
        "vendor_status": s.status.code(),
        "url": s.url,
        "credits": s.credits,
        "seed": s.seed,
    })
}

pub fn status(ctx: &Ctx, net: &NetArgs, args: &StatusArgs) -> Result<Exit, Failure> {
    let session = Settings::resolve(net)?.session()?;
    let (rt, client) = (&session.rt, &session.client);
    let s = rt
        .block_on(client.status(args.video_id))
        .map_err(|e| failed(ctx, e))?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        ctx.print_json(&status_json(&s))?;
    } else {
        writeln!(out, "video {}: {}", s.video_id, s.status)?;
        if let Some(url) = &s.url {
            writeln!(out, "url: {}", sanitize(url))?;
        }
        if let Some(c) = s.credits {
            writeln!(out, "credits: {c}")?;
        }
    }
    Ok(Exit::Success)
}

pub fn wait(ctx: &Ctx, net: &NetArgs, args: &WaitArgs) -> Result<Exit, Failure> {
    let session = Settings::resolve(net)?.session()?;
    let (rt, client) = (&session.rt, &session.client);
    let progress = Progress::new(ctx.quiet);
    // A video the journal knows has an estimate; one submitted elsewhere shows none.
    if let Ok(Some(expected)) = rt.block_on(client.expected_generation_of_video(args.video_id)) {
        progress.expect(expected);
    }
    let jobs = Jobs::default();
    let result = interrupt::run(
        rt,
        client.wait_with(args.video_id, |e: Event| {
            jobs.note(&e);
            progress.event(&e)
        }),
    );
    progress.finish();
    let result = result.map_err(|signal| interrupt::stopped(ctx, rt, client, &jobs, signal))?;
    let s = result.map_err(|e| failed(ctx, e))?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        ctx.print_json(&status_json(&s))?;
    } else {
        writeln!(
            out,
            "video {} is ready: {}",
            s.video_id,
            sanitize(s.url.as_deref().unwrap_or(""))
        )?;
    }
    Ok(Exit::Success)
}

pub fn download(ctx: &Ctx, net: &NetArgs, args: &DownloadArgs) -> Result<Exit, Failure> {
    let settings = Settings::resolve(net)?;
    let to_stdout = crate::stdout_video::wanted(Some(&args.output));
    let output = if to_stdout {
        crate::stdout_video::check_not_a_terminal()?;
        let identity = format!("video {}", args.video_id);
        crate::stdout_video::spool_path(&settings.journal_dir()?, &identity)
    } else {
        args.output.clone()
    };
    let session = settings.session()?;
    let (rt, client) = (&session.rt, &session.client);
    let jobs = Jobs::default();
    let result = interrupt::run(rt, client.download(args.video_id, &output))
        .map_err(|signal| interrupt::stopped(ctx, rt, client, &jobs, signal))?;
    let done = result.map_err(|e| failed(ctx, e))?;
    let value = result_json(&done);
    if to_stdout {
        crate::stdout_video::copy_out(&done.output)?;
        if ctx.json {
            eprintln!("{value}");
        } else {
            eprintln!(
                "pixfuse: video {} written to standard output",
                args.video_id
            );
        }
        return Ok(Exit::Success);
    }
    print_result(ctx, &value, true)?;
    Ok(Exit::Success)
}
