//! `pixfuse models`: the capability table, as this build knows it.

use std::io::Write;

use clap::Args;
use pixfuse_core::caps::ModelCaps;
use pixfuse_core::{CAPABILITIES, Quality, Severity};
use serde_json::{Value, json};

use super::{Ctx, Failure};
use crate::exit::Exit;
use crate::render::table;

/// Show what each model accepts: image count, durations, qualities, aspect ratios, audio and
/// prompt length, and what v6 Omni mode (reference videos) changes (from this build's
/// capability table).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pixfuse models
  pixfuse models --json | jq '.models[] | select(.audio_switch) | .model'")]
pub struct ModelsArgs {}

pub fn run(ctx: &Ctx, _args: &ModelsArgs) -> Result<Exit, Failure> {
    if ctx.json {
        ctx.print_json(&table_json())?;
    } else {
        std::io::stdout().lock().write_all(human(ctx).as_bytes())?;
    }
    Ok(Exit::Success)
}

/// The capability table as `--json` prints it (also the MCP `models` tool and resource).
pub(crate) fn table_json() -> Value {
    let models: Vec<Value> = CAPABILITIES.models.iter().map(row_json).collect();
    json!({ "models": models, "omni": omni_json() })
}

/// The Omni section of the table (every rule with its severity: third-party, so warnings).
fn omni_json() -> Value {
    let o = &CAPABILITIES.omni;
    let limit = |l: &pixfuse_core::caps::Limit| json!({ "value": l.value, "severity": l.severity });
    json!({
        "models": o.models.values.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "max_images": limit(&o.max_images),
        "max_videos": limit(&o.max_videos),
        "video_max_seconds": limit(&o.video_max_seconds),
        "videos_total_max_seconds": limit(&o.videos_total_max_seconds),
        "durations": o.durations.values,
        "extra_aspect_ratios": o.extra_aspect_ratios.values.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "negative_prompt_max_chars": limit(&o.negative_prompt_max_chars),
        "upload": {
            "extensions": o.upload.extensions,
            "max_seconds": limit(&o.upload.max_seconds),
            "max_side_px": limit(&o.upload.max_side_px),
            "max_bytes": o.upload.max_bytes.iter().map(limit).collect::<Vec<_>>(),
        },
    })
}

/// The Omni section in words, one line per rule.
fn omni_human() -> String {
    let o = &CAPABILITIES.omni;
    let words = |values: &mut dyn Iterator<Item = String>| values.collect::<Vec<_>>().join(" ");
    let mib = |bytes: u64| format!("{} MB", bytes / (1024 * 1024));
    let sizes: Vec<String> = o.upload.max_bytes.iter().map(|l| mib(l.value)).collect();
    let rows = [
        (
            "models",
            words(&mut o.models.values.iter().map(ToString::to_string)),
        ),
        (
            "images",
            format!("≤ {} (instead of the model's limit)", o.max_images.value),
        ),
        (
            "videos",
            format!(
                "≤ {}, each ≤ {} s, together ≤ {} s",
                o.max_videos.value, o.video_max_seconds.value, o.videos_total_max_seconds.value
            ),
        ),
        (
            "duration",
            format!(
                "{} (the output follows the longest video)",
                durations(o.durations.values)
            ),
        ),
        (
            "aspect ratios",
            format!(
                "the model's, and {} (disputed)",
                words(&mut o.extra_aspect_ratios.values.iter().map(ToString::to_string))
            ),
        ),
        (
            "negative prompt",
            format!("≤ {} chars", o.negative_prompt_max_chars.value),
        ),
        (
            "video upload",
            format!(
                "{} · ≤ {} s · ≤ {} px per side",
                o.upload.extensions.join(" "),
                o.upload.max_seconds.value,
                o.upload.max_side_px.value,
            ),
        ),
        (
            "video size",
            format!("≤ {} (sources disagree)", sizes.join(" or ")),
        ),
    ];
    let mut out = String::from(
        "\nOmni mode (\"reference_mode\": \"omni\" with video_references); third-party\n\
         sources, so every rule is a warning:\n",
    );
    for (name, value) in rows {
        out.push_str(&format!("  {name:<16}{value}\n"));
    }
    out
}

fn human(ctx: &Ctx) -> String {
    let rows: Vec<Vec<String>> = CAPABILITIES
        .models
        .iter()
        .map(|m| {
            vec![
                m.model.to_string(),
                m.max_images.value.to_string(),
                durations(m.durations.values),
                qualities(m),
                m.aspect_ratios
                    .values
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                if m.audio_switch.supported {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                prompt_max(m),
            ]
        })
        .collect();
    // Fits 80 columns whole: the aspect ratios wrap (a truncated list would mislead), then the
    // terminal's width truncates as in every table.
    let mut out = table::render_wrapping(
        &[
            "model",
            "images",
            "seconds",
            "qualities",
            "aspect ratios",
            "audio",
            "prompt",
        ],
        &rows,
        table::output_width(),
        &[(4, ASPECT_WIDTH)],
    );
    if !ctx.quiet {
        out.push_str(&legend());
    }
    out.push_str(&omni_human());
    out
}

/// Explains the table's two notations with the first row that uses each.
fn legend() -> String {
    let mut notes = Vec::new();
    if let Some(f) = CAPABILITIES.models.iter().flat_map(|m| m.forbidden).next() {
        let durations: Vec<String> = f.durations.iter().map(u32::to_string).collect();
        notes.push(format!(
            "{}*({}): that quality is refused at {} s.",
            f.quality,
            durations.join(","),
            durations.join(" or ")
        ));
    }
    let graded = CAPABILITIES
        .models
        .iter()
        .find(|m| m.prompt_max_chars.len() > 1);
    if let Some(m) = graded {
        let mut limits: Vec<_> = m.prompt_max_chars.iter().collect();
        limits.sort_by_key(|l| l.value);
        let words: Vec<String> = limits
            .iter()
            .map(|l| format!("{} past {}", article(l.severity), l.value))
            .collect();
        notes.push(format!(
            "Prompt {}: {}.",
            prompt_max(m),
            words.join(" characters, ")
        ));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("\n{}\n", notes.join("\n"))
    }
}

/// The aspect-ratio column's width: the five ratios every model takes on one line.
const ASPECT_WIDTH: usize = 21;

fn article(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "an error",
        Severity::Warning => "a warning",
    }
}

fn durations(values: &[u32]) -> String {
    let consecutive = values.len() > 3 && values.windows(2).all(|w| w[1] == w[0] + 1);
    match values {
        [first, .., last] if consecutive => format!("{first}–{last}"),
        _ => values
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// "360p–1080p*(8)": the qualities (a range when they are a run of the known ones); a star
/// marks a quality refused at some durations.
fn qualities(m: &ModelCaps) -> String {
    let values = m.qualities.values;
    let run = Quality::KNOWN
        .windows(values.len())
        .any(|w| values.len() > 2 && w == values);
    let refused = |q: &Quality| -> String {
        let durations: Vec<String> = m
            .forbidden
            .iter()
            .filter(|f| &f.quality == q)
            .flat_map(|f| f.durations.iter().map(u32::to_string))
            .collect();
        if durations.is_empty() {
            String::new()
        } else {
            format!("*({})", durations.join(","))
        }
    };
    if let (true, [first, .., last]) = (run, values) {
        let inner: String = values[..values.len() - 1].iter().map(&refused).collect();
        if inner.is_empty() {
            return format!("{first}–{last}{}", refused(last));
        }
    }
    values
        .iter()
        .map(|q| {
            let refused: Vec<String> = m
                .forbidden
                .iter()
                .filter(|f| &f.quality == q)
                .flat_map(|f| f.durations.iter().map(u32::to_string))
                .collect();
            if refused.is_empty() {
                q.to_string()
            } else {
                format!("{q}*({})", refused.join(","))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn prompt_max(m: &ModelCaps) -> String {
    let mut limits: Vec<_> = m.prompt_max_chars.iter().collect();
    limits.sort_by_key(|l| l.value);
    limits
        .iter()
        .map(|l| l.value.to_string())
        .collect::<Vec<_>>()
        .join("/")
}

fn row_json(m: &ModelCaps) -> Value {
    json!({
        "model": m.model.as_str(),
        "description": m.model.description(),
        "max_images": m.max_images.value,
        "durations": m.durations.values,
        "qualities": m.qualities.values.iter().map(|q| q.as_str()).collect::<Vec<_>>(),
        "forbidden": m.forbidden.iter().map(|f| json!({
            "quality": f.quality.as_str(),
            "durations": f.durations,
            "severity": f.severity,
        })).collect::<Vec<_>>(),
        "aspect_ratios": m.aspect_ratios.values.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        "audio_switch": m.audio_switch.supported,
        "render_factor": m.render_factor,
        "prompt_max_chars": m.prompt_max_chars.iter().map(|l| json!({
            "value": l.value,
            "severity": l.severity,
        })).collect::<Vec<_>>(),
        "prompt_error_above": m.prompt_max_chars.iter()
            .filter(|l| l.severity == Severity::Error).map(|l| l.value).min(),
    })
}
