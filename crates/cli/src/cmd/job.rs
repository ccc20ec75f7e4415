//! `pixfuse run` and `pixfuse submit`: a request from a job file and/or flags, validated offline,
//! then sent (or, with `--dry-run`, only shown).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use pixfuse::core::CAPABILITIES;
use pixfuse::{Diagnostic, Error, Event, Job, JobOptions, Quality, ValidateOptions};
use serde_json::{Map, Value, json};

use crate::cmd::{Ctx, Failure, flag_mode};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::failure::exit_for;
use crate::interrupt::{self, Jobs};
use crate::net_args::NetArgs;
use crate::progress::Progress;
use crate::render::diagnostics;
use crate::stdout_video;

/// The request: a job file, flags, or both (flags override the file's fields; `--ref`s are added
/// to its references).
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Job file: the vendor's request JSON, each reference with `img_id` or `image` (a path
    /// relative to the job file, or an https URL). `-` reads stdin.
    #[arg(value_name = "JOB")]
    pub job: Option<PathBuf>,
    /// A reference image: `NAME=PATH[:subject|:background]` (repeatable; default subject).
    #[arg(long = "ref", value_name = "NAME=PATH[:TYPE]", value_parser = crate::values::Utf8Ref)]
    pub refs: Vec<String>,
    /// A reference video for v6 Omni mode: `NAME=PATH` (a local mp4/mov/webm or an https URL;
    /// repeatable). Mention it as `@NAME ` like an image. Sets `reference_mode: "omni"` unless
    /// the job says otherwise; Omni takes `--duration 0` (the output follows the longest video).
    /// Each file is checked first (one that is no video is refused before any upload) and
    /// uploaded once.
    #[arg(long = "video-ref", value_name = "NAME=PATH", value_parser = crate::values::Utf8Ref)]
    pub video_refs: Vec<String>,
    /// The prompt; mention references as `@NAME ` (a space after the name).
    #[arg(long)]
    pub prompt: Option<String>,
    #[arg(long, help = model_help())]
    pub model: Option<String>,
    /// Seconds of video (whole seconds); without a job file 5 (0, the longest video's, with
    /// --video-ref).
    #[arg(long, value_parser = flag_mode::parse_seconds)]
    pub duration: Option<u32>,
    #[arg(long, help = quality_help())]
    pub quality: Option<String>,
    /// Aspect ratio such as 9:16; without a job file 16:9.
    #[arg(long = "aspect", value_name = "RATIO")]
    pub aspect_ratio: Option<String>,
    /// Seed, 0..=2147483647.
    #[arg(long, value_parser = crate::values::seed)]
    pub seed: Option<u32>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL", help = audio_help())]
    pub audio: Option<bool>,
    /// Send a model this build does not know (its checks are skipped).
    #[arg(long)]
    pub allow_unknown_model: bool,
    /// Print the exact HTTP requests (key redacted) and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit a new, separately billed video even if this job ran before (by default the same
    /// job to the same output continues the earlier one, billing nothing more).
    #[arg(long)]
    pub new: bool,
    /// Take the output file from another unfinished job that writes it (that job is abandoned;
    /// its video stays on the server).
    #[arg(long)]
    pub force: bool,
}

// Help text that names models or qualities comes from this build's capability table, so a model
// added under spec/ appears in `--help` without an edit here.

fn model_help() -> String {
    let models: Vec<&str> = CAPABILITIES
        .models
        .iter()
        .map(|m| m.model.as_str())
        .collect();
    format!("Model: {}.", models.join(", "))
}

fn quality_help() -> String {
    let qualities: Vec<&str> = Quality::KNOWN.iter().map(Quality::as_str).collect();
    match qualities.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!(
            "{} or {last}; without a job file {DEFAULT_QUALITY}.",
            rest.join(", ")
        ),
        _ => format!("{}.", qualities.join("")),
    }
}

fn audio_help() -> String {
    let models: Vec<&str> = CAPABILITIES
        .models
        .iter()
        .filter(|m| m.audio_switch.supported)
        .map(|m| m.model.as_str())
        .collect();
    format!(
        "Generate audio ({}): `--audio` or `--audio=false`.",
        models.join(", ")
    )
}

/// `pixfuse run`.
#[derive(Debug, Args)]
#[command(
    after_help = "Running the same job to the same output again continues it (an interrupted or crashed
run resumes with its trace id; a finished one is reported, not paid for again); --new makes a
new video. Ctrl-C stops at once and says how to continue (exit 130; 143 for SIGTERM).

Examples:
  pixfuse run job.json -o clip.mp4
  pixfuse run job.json -o clip.mp4 --new      another, separately billed take
  pixfuse run job.json -o - | ffplay -        the video on standard output
  pixfuse run --ref dog=dog.png --ref park=park.jpg:background \\
      --prompt '@dog runs in @park ' --model v5 --duration 5 --quality 540p \\
      --aspect 16:9 -o clip.mp4"
)]
pub struct RunArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Where to save the video (a sidecar `<OUT>.json` is written next to it). `-` writes it
    /// to standard output (kept in the state directory's `stdout/` on the way, so a rerun does
    /// not pay again); messages stay on stderr.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// `pixfuse submit`.
#[derive(Debug, Args)]
#[command(after_help = "Example:
  pixfuse submit job.json            prints the video id, for `pixfuse wait`")]
pub struct SubmitArgs {
    #[command(flatten)]
    pub request: RequestArgs,
    /// Where `pixfuse resume` should save the video later.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

pub fn run(ctx: &Ctx, net: &NetArgs, args: &RunArgs) -> Result<Exit, Failure> {
    execute(ctx, net, &args.request, Some(&args.output), true)
}

pub fn submit(ctx: &Ctx, net: &NetArgs, args: &SubmitArgs) -> Result<Exit, Failure> {
    execute(ctx, net, &args.request, args.output.as_deref(), false)
}

fn execute(
    ctx: &Ctx,
    net: &NetArgs,
    request: &RequestArgs,
    output: Option<&Path>,
    wait: bool,
) -> Result<Exit, Failure> {
    if net.api_key_stdin && request.job.as_deref() == Some(Path::new("-")) {
        return Err(Failure::usage(
            "--api-key-stdin and a job on stdin (`-`) cannot share standard input; put the job in a file",
        ));
    }
    if request.job.is_none() && !has_flags(request) {
        let example = if wait {
            "`pixfuse run job.json -o clip.mp4`"
        } else {
            "`pixfuse submit job.json`"
        };
        return Err(Failure::usage(format!(
            "nothing to send: give a job file ({example}) or the request as flags (--ref, \
             --prompt, --model, …; see --help)"
        )));
    }
    let settings = Settings::resolve(net)?;
    let opts = ValidateOptions::default().allow_unknown_model(request.allow_unknown_model);
    let (job, warnings) = match build_job(request, &opts) {
        Ok(found) => found,
        Err(Error::Invalid { diagnostics }) => {
            let diagnostics = if ctx.json || request.job.is_some() {
                diagnostics
            } else {
                flag_mode::in_flag_terms(diagnostics, &request.refs, &request.video_refs)
            };
            return Err(invalid(ctx, &diagnostics, None));
        }
        Err(e) => return Err(e.into()),
    };
    if request.dry_run {
        // The files the upload would read, checked now: a dry run that passes is a run that
        // gets past its uploads.
        let mut warnings = warnings;
        warnings.extend(pixfuse::check_local_images(&job));
        if warnings.iter().any(Diagnostic::is_error) {
            return Err(invalid(ctx, &warnings, Some(&job.prompt)));
        }
        return dry_run(ctx, &settings, &job, &warnings);
    }
    let to_stdout = wait && stdout_video::wanted(output);
    let spool;
    let output = if to_stdout {
        stdout_video::check_not_a_terminal()?;
        let identity = job.to_request_json().unwrap_or_default();
        spool = stdout_video::spool_path(&settings.journal_dir()?, &identity);
        Some(spool.as_path())
    } else {
        output
    };
    let session = settings.session()?;
    let client = &session.client;
    // The flow reports the warnings itself (as events), once.
    let progress = Progress::new(ctx.quiet);
    // The journal ids the job went by: after a failure or a signal, say how to continue.
    let jobs = Jobs::default();
    let on_event = |e: Event| {
        jobs.note(&e);
        progress.event(&e)
    };
    let rt = &session.rt;
    // An unreadable journal only costs the estimate its local history.
    if let Ok(expected) = rt.block_on(client.expected_generation(&job)) {
        progress.expect(expected);
    }
    let prompt = job.prompt.clone();
    let mut opts = JobOptions::default();
    opts.new = request.new;
    opts.force = request.force;
    let work = async {
        if wait {
            let output = output.unwrap_or(Path::new("out.mp4"));
            client
                .run_with_options(job, output, &opts, on_event)
                .await
                .map(|done| result_json(&done))
        } else {
            client
                .submit_with_options(job, output, &opts, on_event)
                .await
                .map(|sub| {
                    json!({
                        "job_id": sub.job_id,
                        "video_id": sub.video_id.to_string(),
                        "trace_id": sub.trace_id,
                        "status": "submitted",
                        "credits": sub.credits,
                    })
                })
        }
    };
    let result = interrupt::run(rt, work);
    progress.finish();
    let result = match result {
        Ok(result) => result,
        Err(signal) => return Err(interrupt::stopped(ctx, rt, client, &jobs, signal)),
    };
    match result {
        Ok(value) if to_stdout => {
            if let Some(path) = value["output"].as_str() {
                stdout_video::copy_out(Path::new(path))?;
            }
            // Standard output holds the video: the result goes to stderr.
            if ctx.json {
                eprintln!("{}", crate::json_out::stamped(value.clone()));
            } else {
                eprintln!(
                    "pixfuse: {} video {} written to standard output",
                    crate::render::Style::for_stderr().ok("done:"),
                    value["video_id"].as_str().unwrap_or("?")
                );
            }
            Ok(Exit::Success)
        }
        Ok(value) => {
            print_result(ctx, &value, wait)?;
            Ok(Exit::Success)
        }
        Err(Error::Invalid { diagnostics }) => Err(invalid(ctx, &diagnostics, Some(&prompt))),
        Err(e) => {
            let mut failure = failed(ctx, e);
            let resumable = jobs
                .last()
                .filter(|id| rt.block_on(client.job(*id)).is_ok_and(|r| r.needs_resume()));
            if let Some(job_id) = resumable
                && !failure.message.contains("pixfuse resume")
            {
                failure.message.push_str(&format!(
                    "\nthe job is journaled: `pixfuse resume {job_id}` (or the same command again) continues it without paying twice"
                ));
            }
            Err(failure)
        }
    }
}

/// The result object of a finished job.
pub fn result_json(done: &pixfuse::JobOutcome) -> Value {
    json!({
        "job_id": done.job_id,
        "video_id": done.video_id.to_string(),
        "trace_id": done.trace_id,
        "status": "succeeded",
        "output": done.output,
        "sidecar": done.sidecar,
        "credits": done.credits,
    })
}

/// Prints the result: the object with `--json`, a line otherwise.
pub fn print_result(ctx: &Ctx, value: &Value, finished: bool) -> Result<(), Failure> {
    if ctx.json {
        ctx.print_json(value)?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if finished {
        writeln!(
            out,
            "{} video {} saved to {}",
            ctx.style.ok("done:"),
            value["video_id"].as_str().unwrap_or("?"),
            value["output"].as_str().unwrap_or("?")
        )?;
    } else {
        // The bare id, so `id=$(pixfuse submit job.json)` works.
        writeln!(out, "{}", value["video_id"].as_str().unwrap_or("?"))?;
    }
    Ok(())
}

/// A failure, also as a JSON object on stdout with `--json`.
pub fn failed(ctx: &Ctx, error: Error) -> Failure {
    let exit = exit_for(&error);
    if ctx.json {
        let _ = ctx.print_json(&error_json(ctx, &error));
    }
    Failure {
        exit,
        message: error.to_string(),
    }
}

/// A failure as a JSON object ([`crate::error_json::render`]), each command in it as it must
/// be typed in this session.
pub fn error_json(ctx: &Ctx, error: &Error) -> Value {
    crate::error_json::render(error, &|c| ctx.command(c))
}

fn invalid(ctx: &Ctx, diagnostics: &[Diagnostic], prompt: Option<&str>) -> Failure {
    if ctx.json {
        let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
        let warnings: Vec<&Diagnostic> = diagnostics.iter().filter(|d| !d.is_error()).collect();
        let value = json!({
            "status": "invalid",
            "exit_code": Exit::InvalidRequest.code(),
            "errors": errors,
            "warnings": warnings,
        });
        let _ = ctx.print_json(&value);
    } else {
        let style = crate::render::Style::for_stderr();
        let mut err = std::io::stderr().lock();
        for d in diagnostics {
            let _ = writeln!(err, "{}", diagnostics::render(d, prompt, style).trim_end());
        }
    }
    let count = diagnostics.iter().filter(|d| d.is_error()).count();
    Failure {
        exit: Exit::InvalidRequest,
        message: format!(
            "the request has {}; nothing was sent",
            pixfuse_core::text::plural(count as u64, "error")
        ),
    }
}

fn warning_event(d: &Diagnostic) -> Event {
    Event::Warning {
        code: d.code.to_owned(),
        path: d.path.clone(),
        message: d.message.clone(),
    }
}

fn dry_run(
    ctx: &Ctx,
    settings: &Settings,
    job: &Job,
    warnings: &[Diagnostic],
) -> Result<Exit, Failure> {
    // Only read an existing journal (to show reused uploads); a dry run creates nothing.
    let journal = settings.journal_dir().ok().and_then(|dir| {
        dir.join(pixfuse::journal::JOURNAL_FILE)
            .is_file()
            .then(|| pixfuse::Journal::open_in(&dir).ok())
            .flatten()
    });
    // Under --sandbox the requests go to the emulator the command would start, on a loopback
    // port picked then; its journal origin is its own, so no upload of the real one is reused.
    let (base_url, journal) = if settings.sandbox() {
        (SANDBOX_DESTINATION.to_owned(), None)
    } else {
        (settings.base_url.clone(), journal)
    };
    let rt = crate::connect::runtime()?;
    let plan = rt.block_on(pixfuse::dry_run::plan(
        job,
        settings.provider,
        &base_url,
        journal.as_ref(),
    ));
    let destination = if settings.sandbox() {
        "the local sandbox (no key, no credits)".to_owned()
    } else {
        format!("{} ({})", settings.base_url, settings.provider.as_str())
    };
    let seconds = pixfuse::local_video_seconds(job);
    let estimate = pixfuse::estimate_job_with_videos(job, &seconds);
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let requests: Vec<Value> = plan.iter().map(request_json).collect();
        let value = json!({
            "dry_run": true,
            "destination": {
                "base_url": base_url,
                "provider": settings.provider.as_str(),
                "sandbox": settings.sandbox(),
            },
            "estimate": crate::cmd::estimate::estimate_json(job, &seconds),
            "requests": requests,
            "warnings": warnings,
        });
        ctx.print_json(&value)?;
    } else {
        for w in warnings {
            eprintln!("pixfuse: {}", warning_event(w));
        }
        writeln!(out, "destination: {destination}")?;
        match estimate {
            Some(e) => writeln!(
                out,
                "estimate: {} (${:.2}), {}\n",
                pixfuse_core::text::plural(e.credits, "credit"),
                e.usd,
                e.confidence.as_str()
            )?,
            None => writeln!(out, "estimate: no price known for this combination\n")?,
        }
        for (i, request) in plan.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{request}")?;
        }
        eprintln!("pixfuse: dry run: nothing was sent");
    }
    Ok(Exit::Success)
}

/// Where a `--sandbox` dry run says its requests go.
pub(crate) const SANDBOX_DESTINATION: &str = "http://127.0.0.1:<sandbox port>";

/// A planned request for `--json`: a JSON body as the object it is, not a string of it.
fn request_json(request: &pixfuse::dry_run::PlannedRequest) -> Value {
    let mut value = serde_json::to_value(request).unwrap_or(Value::Null);
    if let pixfuse::dry_run::PlannedBody::Json { json } = &request.body
        && let Ok(body) = serde_json::from_str::<Value>(json)
    {
        value["body"]["json"] = body;
    }
    value
}

/// Builds the job from the file and the flags, validated. Errors come as [`Error::Invalid`].
fn build_job(args: &RequestArgs, opts: &ValidateOptions) -> Result<(Job, Vec<Diagnostic>), Error> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let (mut value, base) = match &args.job {
        Some(path) => {
            let bytes = crate::input::read(path).map_err(|f| Error::Config(f.message))?;
            let base = if path == Path::new("-") {
                cwd.clone()
            } else {
                path.parent().map(Path::to_owned).unwrap_or_default()
            };
            if !has_flags(args) {
                // No flags: validate the bytes as written (diagnostics point into the file).
                return pixfuse::parse_job(&bytes, &base, opts);
            }
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => (map, base),
                // Let validation explain malformed JSON with its line and column.
                _ => return pixfuse::parse_job(&bytes, &base, opts),
            }
        }
        None => (Map::new(), cwd.clone()),
    };
    let mut set = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            value.insert(key.to_owned(), v);
        }
    };
    set(Job::PROMPT, args.prompt.clone().map(Value::from));
    set(Job::MODEL, args.model.clone().map(Value::from));
    set(Job::DURATION, args.duration.map(Value::from));
    set(Job::QUALITY, args.quality.clone().map(Value::from));
    set(
        Job::ASPECT_RATIO,
        args.aspect_ratio.clone().map(Value::from),
    );
    set(Job::SEED, args.seed.map(Value::from));
    set(Job::GENERATE_AUDIO_SWITCH, args.audio.map(Value::from));
    if args.job.is_none() {
        // A request made of flags alone has the common shape's defaults (said in --help); a job
        // file says what it means.
        let duration = if args.video_refs.is_empty() {
            DEFAULT_DURATION
        } else {
            0 // Omni follows the longest video.
        };
        for (key, default) in [
            (Job::DURATION, Value::from(duration)),
            (Job::QUALITY, Value::from(DEFAULT_QUALITY)),
            (Job::ASPECT_RATIO, Value::from(DEFAULT_ASPECT)),
        ] {
            value.entry(key).or_insert(default);
        }
    }
    if !args.refs.is_empty() {
        let refs = value
            .entry(Job::IMAGE_REFERENCES)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(list) = refs.as_array_mut() else {
            return pixfuse::parse_job(
                &serde_json::to_vec(&value).unwrap_or_default(),
                &base,
                opts,
            );
        };
        for spec in &args.refs {
            list.push(flag_mode::parse_ref(spec, &cwd)?);
        }
    }
    if !args.video_refs.is_empty() {
        value
            .entry(Job::REFERENCE_MODE)
            .or_insert_with(|| Value::from(pixfuse::core::ReferenceMode::Omni.as_str()));
        let videos = value
            .entry(Job::VIDEO_REFERENCES)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Some(list) = videos.as_array_mut() else {
            return pixfuse::parse_job(
                &serde_json::to_vec(&value).unwrap_or_default(),
                &base,
                opts,
            );
        };
        for spec in &args.video_refs {
            list.push(flag_mode::parse_video_ref(spec, &cwd)?);
        }
    }
    let bytes = serde_json::to_vec(&Value::Object(value)).unwrap_or_default();
    pixfuse::parse_job(&bytes, &base, opts)
}

/// Flag mode's defaults (no job file): what `--help` names.
const DEFAULT_DURATION: u32 = 5;
const DEFAULT_QUALITY: &str = "540p";
const DEFAULT_ASPECT: &str = "16:9";

fn has_flags(args: &RequestArgs) -> bool {
    !args.refs.is_empty()
        || !args.video_refs.is_empty()
        || args.prompt.is_some()
        || args.model.is_some()
        || args.duration.is_some()
        || args.quality.is_some()
        || args.aspect_ratio.is_some()
        || args.seed.is_some()
        || args.audio.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_what_the_table_knows() {
        assert_eq!(model_help(), "Model: v4.5, v5, v5.5, v5.6, v6, c1.");
        assert_eq!(
            quality_help(),
            "360p, 540p, 720p or 1080p; without a job file 540p."
        );
        assert_eq!(
            audio_help(),
            "Generate audio (v5.6, v6, c1): `--audio` or `--audio=false`."
        );
    }
}
