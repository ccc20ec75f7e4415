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
#[command(after_help = "Examples:
  pixfuse upload dog.png park.jpg     prints one img_id per image
  pixfuse upload --video dance.mp4    the media_id of a v6 Omni reference video")]
pub struct UploadArgs {
    /// Local images (png, jpeg, webp) or https URLs. The same file is uploaded only once.
    #[arg(value_name = "IMAGE", required_unless_present = "videos")]
    pub images: Vec<String>,
    /// A reference video for v6 Omni mode (mp4, mov, webm), a local file or an https URL;
    /// repeatable. A file is checked first: one that is no video at all is refused before
    /// anything is sent, and limits the sources disagree on (length, size, sides) are warnings.
    /// The same file is uploaded only once.
    #[arg(long = "video", value_name = "VIDEO")]
    pub videos: Vec<String>,
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
        let result = if pixfuse_core::job::is_https_url(image) {
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
    let mut videos = Vec::new();
    for video in &args.videos {
        let result = if pixfuse_core::job::is_https_url(video) {
            rt.block_on(client.upload_video_url(video))
        } else {
            rt.block_on(client.upload_video(Path::new(video)))
        };
        let up = result.map_err(|e| {
            progress.finish();
            failed(ctx, e)
        })?;
        if !ctx.json {
            let warnings = up.video.as_ref().map(|i| i.warnings.as_slice());
            for w in warnings.unwrap_or_default() {
                progress.note(&format!(
                    "warning[{}]: video \"{video}\": {}",
                    w.code, w.message
                ));
            }
        }
        videos.push(uploaded_video_json(video, &up));
    }
    progress.finish();
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let mut answer = json!({ "images": images });
        if !args.videos.is_empty() {
            answer["videos"] = json!(videos);
        }
        ctx.print_json(&answer)?;
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
        for v in &videos {
            writeln!(
                out,
                "{}\t{}{}",
                v["media_id"].as_str().unwrap_or("?"),
                v["video"].as_str().unwrap_or("?"),
                video_note(v)
            )?;
        }
    }
    Ok(Exit::Success)
}

/// ` (2.5 s, 1280×720)`, and ` (already uploaded)` for a reused one: what the header said.
/// The JSON object of one uploaded video (`upload --video` and the MCP `upload_video` tool):
/// `video` is what the user named.
pub(crate) fn uploaded_video_json(video: &str, up: &pixfuse::UploadedVideo) -> serde_json::Value {
    let info = up.video.as_ref();
    let warnings: Vec<_> = info
        .map(|i| i.warnings.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|w| json!({ "code": w.code, "message": w.message }))
        .collect();
    json!({
        "video": video,
        "media_id": up.media_id.to_string(),
        "url": up.url,
        "reused": up.reused,
        "format": info.map(|i| i.format),
        "bytes": info.map(|i| i.bytes),
        "duration_ms": info.and_then(|i| i.duration_ms),
        "width": info.and_then(|i| i.width),
        "height": info.and_then(|i| i.height),
        "warnings": warnings,
    })
}

fn video_note(v: &serde_json::Value) -> String {
    let mut facts = Vec::new();
    if let Some(ms) = v["duration_ms"].as_u64() {
        facts.push(format!("{} s", ms as f64 / 1000.0));
    }
    if let (Some(w), Some(h)) = (v["width"].as_u64(), v["height"].as_u64()) {
        facts.push(format!("{w}×{h}"));
    }
    if v["reused"] == true {
        facts.push("already uploaded".to_owned());
    }
    if facts.is_empty() {
        String::new()
    } else {
        format!(" ({})", facts.join(", "))
    }
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
