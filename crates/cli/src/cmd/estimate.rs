//! `pixfuse estimate`: what a request will cost, before anything is spent.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use pixfuse_core::{Job, ValidateOptions, estimate_job_with_videos, validate_bytes};
use serde_json::{Value, json};

use super::{Ctx, Failure};
use crate::exit::Exit;
use crate::input;
use crate::render::diagnostics;

/// Estimate the credits (and USD, at $1 = 100 credits) a request will cost, with how sure the
/// price is: official (vendor table), inferred (derived from official figures) or unofficial.
///
/// An invalid request is reported (exit 3) instead of priced: the server would refuse it. Local
/// image files are checked offline as `validate` checks them. An Omni request (v6 with
/// reference videos) is priced per second of reference video (unofficial); lengths not known
/// offline are assumed at Omni's maximum, and the answer says so.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pixfuse estimate job.json
  pixfuse estimate --json job.json")]
pub struct EstimateArgs {
    /// The request or job file (JSON), or `-` for stdin.
    pub file: PathBuf,
    /// Accept a model this build does not know (it then has no price).
    #[arg(long)]
    pub allow_unknown_model: bool,
}

pub fn run(ctx: &Ctx, args: &EstimateArgs) -> Result<Exit, Failure> {
    let bytes = input::read(&args.file)?;
    let opts = ValidateOptions::default().allow_unknown_model(args.allow_unknown_model);
    let mut v = validate_bytes(&bytes, &opts);
    // A request whose images cannot be uploaded costs nothing: it is never sent.
    super::validate::check_files(&mut v, &super::validate::base_dir(&args.file));
    let mut stdout = std::io::stdout().lock();
    let job = match &v.job {
        Some(job) if v.is_valid() => job,
        _ => {
            if ctx.json {
                let errors: Vec<_> = v.errors().collect();
                crate::json_out::write_line(
                    &mut stdout,
                    &json!({ "valid": false, "errors": errors }),
                )?;
            } else {
                // Messages, not data: the diagnostics go to stderr, as `validate` and `run` put
                // them.
                let prompt = v.job.as_ref().map(|j| j.prompt.as_str());
                let style = crate::render::Style::for_stderr();
                let mut stderr = std::io::stderr().lock();
                for d in v.errors() {
                    write!(stderr, "{}", diagnostics::render(d, prompt, style))?;
                }
                writeln!(
                    stderr,
                    "{}: {} (run `pixfuse validate` for details); not priced",
                    input::display_name(&args.file),
                    style.error("invalid")
                )?;
            }
            return Ok(Exit::InvalidRequest);
        }
    };
    let audio = job.generate_audio_switch == Some(true);
    // Omni is priced per second of reference video: the local files say how long theirs are.
    let seconds = local_video_seconds(job, &super::validate::base_dir(&args.file));
    let estimate = estimate_job_with_videos(job, &seconds);
    if ctx.json {
        crate::json_out::write_line(&mut stdout, &estimate_json(job, &seconds))?;
        return Ok(Exit::Success);
    }
    let length = if job.is_omni() && !job.video_references.is_empty() {
        format!(
            "omni, {} reference video{} (the output follows the longest)",
            job.video_references.len(),
            if job.video_references.len() == 1 {
                ""
            } else {
                "s"
            }
        )
    } else {
        format!("{} s", job.duration)
    };
    let what = format!(
        "{} · {} · {length} · {}",
        job.model,
        job.quality,
        if audio { "with audio" } else { "no audio" }
    );
    match estimate {
        Some(e) => {
            writeln!(
                stdout,
                "{what}\n{} {} (${:.2}), {}",
                ctx.style.bold(&e.credits.to_string()),
                if e.credits == 1 { "credit" } else { "credits" },
                e.usd,
                e.confidence.as_str()
            )?;
            if let Some(r) = e.reference_video {
                writeln!(
                    stdout,
                    "priced on {} s of reference video{}",
                    r.seconds,
                    if r.assumed {
                        " (assumed: the lengths are not known offline, so Omni's maximum)"
                    } else {
                        ""
                    }
                )?;
            }
            if ctx.verbose > 0 {
                writeln!(
                    stdout,
                    "source: {}",
                    e.source_description().unwrap_or(e.source)
                )?;
            }
        }
        None => writeln!(stdout, "{what}\nno price known for this combination")?,
    }
    Ok(Exit::Success)
}

/// The lengths of `job`'s local reference videos (paths relative to `base`), for the estimate.
pub(crate) fn local_video_seconds(job: &Job, base: &std::path::Path) -> Vec<Option<f64>> {
    if job.video_references.is_empty() {
        return Vec::new();
    }
    pixfuse::local_video_seconds(&pixfuse::rebase_paths(job.clone(), base))
}

/// The `--json` estimate of a valid job (also the MCP `estimate` tool's answer), its reference
/// videos lasting `seconds[i]` (unknown ones are assumed, and the answer says so).
pub(crate) fn estimate_json(job: &Job, seconds: &[Option<f64>]) -> Value {
    let mut value = json!({
        "model": job.model.as_str(),
        "quality": job.quality.as_str(),
        "duration": job.duration,
        "audio": job.generate_audio_switch == Some(true),
        "credits": null,
        "usd": null,
        "confidence": null,
    });
    if let Some(e) = estimate_job_with_videos(job, seconds) {
        value["credits"] = json!(e.credits);
        value["usd"] = json!(e.usd);
        value["confidence"] = json!(e.confidence);
        value["source"] = json!(e.source);
        value["basis"] = json!(e.basis);
        if let Some(r) = e.reference_video {
            value["reference_video"] = json!(r);
        }
    }
    value
}
