//! `pixfuse upload | balance`.

use std::io::Write;
use std::path::Path;

use clap::Args;
use pixfuse::Event;
use serde_json::json;

use crate::cmd::job::failed;
use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::net_args::NetArgs;
use crate::progress::Progress;

/// `pixfuse upload`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  pixfuse upload dog.png park.jpg     prints one img_id per image"
)]
pub struct UploadArgs {
    /// Local images (png, jpeg, webp) or https URLs. The same file is uploaded only once.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

/// `pixfuse balance`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  pixfuse balance --json")]
pub struct BalanceArgs {}

pub fn upload(ctx: &Ctx, net: &NetArgs, args: &UploadArgs) -> Result<Exit, Failure> {
    let session = Settings::resolve(net)?.session()?;
    let (rt, client) = (&session.rt, &session.client);
    let progress = Progress::new(ctx.quiet);
    let mut images = Vec::new();
    for image in &args.images {
        let result = if image.starts_with("https://") {
            rt.block_on(client.upload_url(image))
        } else {
            progress.event(&Event::Uploading {
                path: image.into(),
                bytes: std::fs::metadata(image).map(|m| m.len()).unwrap_or(0),
            });
            rt.block_on(client.upload(Path::new(image)))
        };
        let up = result.map_err(|e| {
            progress.finish();
            failed(ctx, e)
        })?;
        images.push(json!({
            "image": image,
            "img_id": up.img_id.to_string(),
            "img_url": up.img_url,
            "reused": up.reused,
        }));
    }
    progress.finish();
    let mut out = std::io::stdout().lock();
    if ctx.json {
        ctx.print_json(&json!({ "images": images }))?;
    } else {
        for i in &images {
            let note = if i["reused"] == true {
                " (already uploaded)"
            } else {
                ""
            };
            writeln!(
                out,
                "{}\t{}{note}",
                i["img_id"].as_str().unwrap_or("?"),
                i["image"].as_str().unwrap_or("?")
            )?;
        }
    }
    Ok(Exit::Success)
}

pub fn balance(ctx: &Ctx, net: &NetArgs, _args: &BalanceArgs) -> Result<Exit, Failure> {
    let session = Settings::resolve(net)?.session()?;
    let (rt, client) = (&session.rt, &session.client);
    let b = rt.block_on(client.balance()).map_err(|e| failed(ctx, e))?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        ctx.print_json(&serde_json::to_value(b).unwrap_or_default())?;
    } else {
        writeln!(
            out,
            "{} ({} monthly + {} package)",
            pixfuse_core::text::plural(b.total, "credit"),
            b.credit_monthly,
            b.credit_package
        )?;
    }
    Ok(Exit::Success)
}
