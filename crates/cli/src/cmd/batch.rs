//! `pixfuse batch`: many jobs from a JSONL file at the account's concurrency limit, within a
//! budget, resumable by running it again.
//!
//! Exit code: 0 when every line is done; otherwise the most severe exit code among the lines,
//! in the order of `SEVERITY` (a line skipped by `--budget` counts as 5, credits).
//! Account-wide blockers come first (nothing else can succeed until they are fixed), then
//! problems in the batch file, then infrastructure a rerun may get past, then per-video
//! outcomes, and last a job that only needs a rerun to finish.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pixfuse::ValidateOptions;
use pixfuse::batch::{
    BatchEvent, BatchOptions, BatchOutcome, BatchPlan, BatchResult, BatchSummary, Concurrency,
    LineKind,
};
use pixfuse_core::text::{plural, sanitize};
use serde_json::{Value, json};

use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::failure::exit_for;
use crate::interrupt::{self, Jobs};
use crate::net_args::NetArgs;

/// Exit codes from most to least severe (see the module docs).
const SEVERITY: [Exit; 10] = [
    Exit::Internal,
    Exit::Auth,
    Exit::Credits,
    Exit::Usage,
    Exit::InvalidRequest,
    Exit::Network,
    Exit::Concurrency,
    Exit::Moderation,
    Exit::GenerationFailed,
    Exit::StillRunning,
];

/// What `batch --help` says before the exit codes.
const NOTES: &str =
    "Each line of JOBS.jsonl is a job file's JSON, optionally with \"id\" (a stable name,
also the default output name) and \"output\" (relative to --out-dir; an absolute path or one
with `..` is refused). Image paths are relative to the batch file. Running the same batch again
finishes only what is unfinished (and tries lines the server refused before billing again); two
batches on one journal never bill a line twice: the second waits for the lines the first runs.
Ctrl-C stops at once (exit 130).";

const EXAMPLES: &str = "Examples:
  pixfuse batch jobs.jsonl --out-dir out --dry-run
  pixfuse batch jobs.jsonl --out-dir out --concurrency auto --budget 2000
  pixfuse batch jobs.jsonl --out-dir out --retry-failed   retake failed lines
  PIXFUSE_JOURNAL_URL=postgres://app:pw@db/pixfuse \\
      pixfuse batch jobs.jsonl --out-dir out --worker   one of many workers
  pixfuse batch jobs.jsonl --journal postgres://db/pixfuse --status
      the shared batch's progress";

/// `batch --help`'s footer: the notes, the exit codes in [`SEVERITY`] order, the examples.
fn batch_footer() -> String {
    let order: Vec<String> = SEVERITY.iter().map(|e| e.label()).collect();
    format!(
        "{NOTES}\n\nExit code: 0 when all are done, else the most severe among the jobs, in this \
         order\n(`pixfuse help exit-codes` explains each):\n{}\n{EXAMPLES}",
        crate::exit::wrap_list(&order, " >", 80, "  ")
    )
}

/// `pixfuse batch`.
#[derive(Debug, Args)]
#[command(after_help = batch_footer())]
pub struct BatchArgs {
    /// The batch file: one job per line (JSONL).
    #[arg(value_name = "JOBS.jsonl")]
    pub jobs: PathBuf,
    /// Where the videos (and their sidecars) go.
    #[arg(long, value_name = "DIR", required_unless_present = "status")]
    pub out_dir: Option<PathBuf>,
    /// Jobs generating at once: a number; `auto` to discover the account's limit (at most 20);
    /// or `auto:N` to discover it but never run more than N.
    #[arg(long, value_name = "N|auto|auto:N", default_value = "auto", value_parser = parse_concurrency)]
    pub concurrency: Concurrency,
    /// Stop submitting before the credits of what this run submits would exceed this: each job
    /// counts at its estimate until the server says what it charged (jobs already submitted by
    /// an earlier run cost nothing more).
    #[arg(long, value_name = "CREDITS", value_parser = crate::values::budget)]
    pub budget: Option<f64>,
    /// Print the plan and the total estimated cost; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Send models this build does not know (their checks are skipped).
    #[arg(long)]
    pub allow_unknown_model: bool,
    /// Submit lines whose job failed for good (moderated, failed, deleted) again, with new trace
    /// ids: a new bill each, counted against --budget.
    #[arg(long)]
    pub retry_failed: bool,
    /// Take output files from other unfinished jobs that write them (those are abandoned).
    #[arg(long)]
    pub force: bool,
    /// Be one of many workers of this batch, on any machines sharing the journal (--journal
    /// postgres://…): the first loads the plan, each claims lines until none are left, each
    /// line is billed once, and --concurrency is the account's limit for all of them together.
    #[arg(long, conflicts_with_all = ["dry_run", "budget", "status"])]
    pub worker: bool,
    /// Show the shared batch's progress, whoever runs it (needs the shared journal); no key
    /// needed.
    #[arg(long, conflicts_with_all = ["dry_run", "worker"])]
    pub status: bool,
}

fn parse_concurrency(text: &str) -> Result<Concurrency, String> {
    const EXPECTED: &str =
        "write a number of jobs (at least 1), `auto`, or `auto:N` (discover the limit, at most N)";
    let at_least_one = |n: &str| n.parse::<u32>().ok().filter(|n| *n >= 1);
    if text.eq_ignore_ascii_case("auto") {
        return Ok(Concurrency::AUTO);
    }
    if let Some((auto, cap)) = text.split_once(':')
        && auto.eq_ignore_ascii_case("auto")
    {
        return at_least_one(cap)
            .map(|max| Concurrency::Auto { max })
            .ok_or_else(|| EXPECTED.to_owned());
    }
    at_least_one(text)
        .map(Concurrency::Fixed)
        .ok_or_else(|| EXPECTED.to_owned())
}

pub fn run(ctx: &Ctx, net: &NetArgs, args: &BatchArgs) -> Result<Exit, Failure> {
    if let Some(b) = args.budget
        && !(b.is_finite() && b >= 0.0)
    {
        return Err(Failure::usage(
            "--budget must be a number of credits, 0 or more",
        ));
    }
    if args.status {
        return status(ctx, net, args);
    }
    let Some(out_dir) = &args.out_dir else {
        return Err(Failure::usage("--out-dir DIR is needed to run a batch"));
    };
    let opts = ValidateOptions::default().allow_unknown_model(args.allow_unknown_model);
    let plan = BatchPlan::load(&args.jobs, out_dir, &opts).map_err(Failure::from)?;
    if plan.items.is_empty() && plan.rejected.is_empty() {
        return Err(Failure::usage(format!(
            "{} has no jobs (one job object per line)",
            args.jobs.display()
        )));
    }
    if args.dry_run {
        let settings = Settings::resolve(net)?;
        return dry_run(ctx, &settings, plan, args.budget);
    }
    let settings = Settings::resolve(net)?;
    if args.worker && settings.journal.is_none() {
        return Err(Failure::usage(NEEDS_SHARED));
    }
    let batch_id = pixfuse::batch::batch_id(&args.jobs).map_err(Failure::from)?;
    let session = settings.session()?;
    let batch_opts = BatchOptions {
        concurrency: args.concurrency,
        budget: args.budget,
        retry_failed: args.retry_failed,
        force: args.force,
        ..BatchOptions::default()
    };
    let total = plan.items.len() + plan.rejected.len();
    let mut view = View::new(ctx, total as u64);
    let mut summary = BatchSummary::default();
    let mut outcomes = Vec::new();
    let jobs = Jobs::default();
    let work = async {
        let mut events: std::pin::Pin<Box<dyn futures_util::Stream<Item = BatchEvent> + Send>> =
            if args.worker {
                Box::pin(
                    session
                        .client
                        .run_batch_worker(plan, batch_id, batch_opts)?,
                )
            } else {
                Box::pin(session.client.run_batch(plan, batch_opts)?)
            };
        while let Some(event) = events.next().await {
            view.show(&event);
            match event {
                BatchEvent::Job { event, .. } => jobs.note(&event),
                BatchEvent::Finished(outcome) => {
                    summary.add(&outcome.end);
                    outcomes.push(outcome);
                }
                _ => {}
            }
        }
        Ok::<(), pixfuse::Error>(())
    };
    let finished = interrupt::run(&session.rt, work);
    view.finish();
    match finished {
        Ok(result) => result?,
        Err(signal) => {
            return Err(interrupt::stopped(
                ctx,
                &session.rt,
                &session.client,
                &jobs,
                signal,
            ));
        }
    }
    outcomes.sort_by_key(|o| o.line);
    let exit = aggregate_exit(&outcomes);
    print_summary(ctx, &summary, &outcomes, exit)?;
    Ok(exit)
}

/// What --worker and --status say without a shared journal.
const NEEDS_SHARED: &str = "a batch shared by workers needs the shared journal they all use: \
pass --journal postgres://HOST/DB (a password only in PIXFUSE_JOURNAL_URL or `journal_url` in the \
config file, never on the command line)";

/// `pixfuse batch JOBS.jsonl --status`: every line of the shared batch, whoever runs it.
fn status(ctx: &Ctx, net: &NetArgs, args: &BatchArgs) -> Result<Exit, Failure> {
    let settings = Settings::resolve(net)?;
    if settings.journal.is_none() {
        return Err(Failure::usage(NEEDS_SHARED));
    }
    let batch = pixfuse::batch::batch_id(&args.jobs).map_err(Failure::from)?;
    let journal = settings.open_journal()?;
    let rt = crate::connect::runtime()?;
    let lines = rt
        .block_on(journal.batch_lines(&batch))
        .map_err(|e| Failure::from(pixfuse::Error::from(e)))?
        .ok_or_else(|| {
            Failure::usage(format!(
                "no worker has loaded {} on {} yet (start one with `pixfuse batch {} --out-dir DIR \
                 --worker`); an edited file is another batch",
                args.jobs.display(),
                journal.location(),
                args.jobs.display()
            ))
        })?;
    let count = |state: &str| lines.iter().filter(|l| l.state == state).count();
    let (done, failed, running, pending) = (
        count("done"),
        count("failed"),
        count("running"),
        count("pending"),
    );
    let credits: i64 = lines.iter().filter_map(|l| l.credits).sum();
    if ctx.json {
        let value = json!({
            "batch": batch,
            "lines": lines.len(),
            "done": done,
            "failed": failed,
            "running": running,
            "pending": pending,
            "credits": credits,
            "finished": running + pending == 0,
            "jobs": lines,
        });
        ctx.print_json(&value)?;
        return Ok(Exit::Success);
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let job = match (l.job_id, l.job_state) {
                (Some(id), Some(state)) => format!("{id} {}", state.as_str()),
                _ => "-".to_owned(),
            };
            let state = l
                .outcome
                .as_ref()
                .map_or(l.state.clone(), |o| format!("{} ({o})", l.state));
            vec![
                l.line.to_string(),
                l.name.clone(),
                state,
                l.worker.clone().unwrap_or_else(|| "-".to_owned()),
                l.attempts.to_string(),
                job,
                l.trace_id.map_or("-".to_owned(), |t| t.to_string()),
            ]
        })
        .collect();
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}",
        crate::render::table::render(
            &["LINE", "NAME", "STATE", "WORKER", "TRY", "JOB", "TRACE ID"],
            &rows
        )
    )?;
    writeln!(
        out,
        "{}: {done} done, {failed} failed, {running} running, {pending} pending; {} charged",
        plural(lines.len() as u64, "line"),
        plural(credits, "credit")
    )?;
    Ok(Exit::Success)
}

/// The exit code of one line's end.
fn exit_of(outcome: &BatchOutcome) -> Exit {
    match &outcome.result {
        BatchResult::Done { .. } => Exit::Success,
        BatchResult::Failed(e) => exit_for(e),
        BatchResult::SkippedBudget(_) => Exit::Credits,
    }
}

/// 0 when all are done, else the most severe line's code.
fn aggregate_exit(outcomes: &[BatchOutcome]) -> Exit {
    let worst = outcomes
        .iter()
        .map(exit_of)
        .filter(|e| *e != Exit::Success)
        .min_by_key(|e| SEVERITY.iter().position(|s| s == e).unwrap_or(0));
    worst.unwrap_or(Exit::Success)
}

/// The lines `budget` would skip, by line number, with why: a real run stops submitting at the
/// first line whose estimate does not fit (lines an earlier run finished cost nothing then, so
/// this is the most a fresh run skips).
fn budget_skips(plan: &BatchPlan, budget: Option<f64>) -> HashMap<usize, String> {
    let mut skips = HashMap::new();
    let Some(limit) = budget else { return skips };
    let mut budget = pixfuse_core::batch::Budget::limited(limit);
    let mut stopped: Option<usize> = None;
    for item in &plan.items {
        match stopped {
            Some(first) => {
                skips.insert(
                    item.line,
                    format!("after line {first}, nothing more is submitted"),
                );
            }
            None => {
                if let Err(refusal) = budget.reserve(item.estimate.map(|c| c as f64)) {
                    skips.insert(item.line, refusal.to_string());
                    stopped = Some(item.line);
                }
            }
        }
    }
    skips
}

fn dry_run(
    ctx: &Ctx,
    settings: &Settings,
    mut plan: BatchPlan,
    budget: Option<f64>,
) -> Result<Exit, Failure> {
    // The images the uploads would read, checked now: a line whose file is missing or not an
    // image is rejected here as the run would reject it, before anything is billed.
    let mut image_warnings: HashMap<usize, Vec<pixfuse::Diagnostic>> = HashMap::new();
    let mut kept = Vec::with_capacity(plan.items.len());
    for item in std::mem::take(&mut plan.items) {
        let found = pixfuse::check_local_images(&item.job);
        if found.iter().any(pixfuse::Diagnostic::is_error) {
            plan.rejected.push(pixfuse::batch::RejectedLine {
                line: item.line,
                id: item.id.clone(),
                error: pixfuse::Error::Invalid { diagnostics: found },
            });
            continue;
        }
        if !found.is_empty() {
            image_warnings.insert(item.line, found);
        }
        kept.push(item);
    }
    plan.items = kept;
    plan.rejected.sort_by_key(|r| r.line);
    let plan = &plan;
    let skips = budget_skips(plan, budget);
    let exit = plan
        .rejected
        .iter()
        .map(|r| exit_for(&r.error))
        .chain((!skips.is_empty()).then_some(Exit::Credits))
        .min_by_key(|e| SEVERITY.iter().position(|s| s == e).unwrap_or(0))
        .unwrap_or(Exit::Success);
    let destination = if settings.sandbox() {
        "the local sandbox (no key, no credits)".to_owned()
    } else {
        format!("{} ({})", settings.base_url, settings.provider.as_str())
    };
    let to_submit: u64 = plan
        .items
        .iter()
        .filter(|i| !skips.contains_key(&i.line))
        .filter_map(|i| i.estimate)
        .sum();
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let jobs: Vec<Value> = plan
            .items
            .iter()
            .map(|i| {
                let mut v = json!({
                    "line": i.line, "id": i.id, "output": i.output, "model": i.job.model.as_str(),
                    "duration": i.job.duration, "quality": i.job.quality.as_str(),
                    "estimated_credits": i.estimate,
                    "skipped_by_budget": skips.contains_key(&i.line),
                });
                if let Some(why) = skips.get(&i.line) {
                    v["budget"] = json!(why);
                }
                if let Some(w) = image_warnings.get(&i.line) {
                    v["warnings"] = json!(w);
                }
                v
            })
            .collect();
        let rejected: Vec<Value> = plan
            .rejected
            .iter()
            .map(|r| json!({"line": r.line, "id": r.id, "error": r.error.to_string()}))
            .collect();
        let value = json!({
            "dry_run": true,
            "destination": {
                "base_url": if settings.sandbox() {
                    crate::cmd::job::SANDBOX_DESTINATION
                } else {
                    settings.base_url.as_str()
                },
                "provider": settings.provider.as_str(),
                "sandbox": settings.sandbox(),
            },
            "jobs": jobs,
            "rejected": rejected,
            "estimated_credits": plan.estimated_credits(),
            "budget": budget,
            "estimated_credits_within_budget": budget.map(|_| to_submit),
            "skipped_by_budget": skips.len(),
            "unpriced": plan.unpriced(),
            "exit_code": exit.code(),
        });
        ctx.print_json(&value)?;
        return Ok(exit);
    }
    writeln!(out, "destination: {destination}")?;
    writeln!(
        out,
        "{:>5}  {:<20} {:<6} {:>4} {:<6} {:>8}  OUTPUT",
        "LINE", "ID", "MODEL", "SEC", "QUAL", "CREDITS"
    )?;
    for i in &plan.items {
        let credits = i.estimate.map_or("?".to_owned(), |c| format!("{c}"));
        let skipped = match skips.get(&i.line) {
            Some(why) => format!("  {}: {why}", ctx.style.warning("skipped by --budget")),
            None => String::new(),
        };
        writeln!(
            out,
            "{:>5}  {:<20} {:<6} {:>4} {:<6} {:>8}  {}{skipped}",
            i.line,
            sanitize(i.id.as_deref().unwrap_or("-")),
            i.job.model.as_str(),
            i.job.duration,
            i.job.quality.as_str(),
            credits,
            i.output.display()
        )?;
        for w in image_warnings.get(&i.line).into_iter().flatten() {
            writeln!(
                out,
                "{:>5}  {}: {}",
                "",
                ctx.style.warning("warning"),
                sanitize(&w.message)
            )?;
        }
    }
    for r in &plan.rejected {
        writeln!(
            out,
            "{:>5}  {}: {}",
            r.line,
            ctx.style.error("rejected"),
            sanitize(&r.error.to_string())
        )?;
    }
    let unpriced = match plan.unpriced() {
        0 => String::new(),
        n => format!(" ({} without a price estimate)", plural(n as u64, "job")),
    };
    let within = match budget {
        Some(limit) if !skips.is_empty() => format!(
            "; --budget {limit} would skip {} (about {to_submit} credits submitted)",
            plural(skips.len() as u64, "line")
        ),
        Some(limit) => format!("; all within --budget {limit}"),
        None => String::new(),
    };
    writeln!(
        out,
        "{}, about {} estimated{unpriced}{within}; nothing was sent",
        plural(plan.items.len() as u64, "job"),
        plural(plan.estimated_credits(), "credit")
    )?;
    Ok(exit)
}

fn print_summary(
    ctx: &Ctx,
    summary: &BatchSummary,
    outcomes: &[BatchOutcome],
    exit: Exit,
) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let jobs: Vec<Value> = outcomes.iter().map(|o| outcome_json(ctx, o)).collect();
        let value = json!({
            "status": if exit == Exit::Success { "done" } else { "incomplete" },
            "exit_code": exit.code(),
            "done": summary.done,
            "done_earlier": summary.done_earlier,
            "failed": summary.failed,
            "still_running": summary.still_running,
            "skipped_budget": summary.skipped_budget,
            "refused_before_billing": summary.refused_before_billing,
            "credits_this_run": summary.credits_this_run,
            "credits_earlier": summary.credits_earlier,
            "unreported_charges": summary.unreported_charges,
            "jobs": jobs,
        });
        ctx.print_json(&value)?;
        return Ok(());
    }
    // Each line under its one category, then the counts.
    for o in outcomes {
        let (label, text) = match (&o.end.kind, &o.result) {
            (LineKind::Done { .. }, _) => continue,
            (LineKind::StillRunning, _) => ("still running", resume_hint(o)),
            (LineKind::RefusedBeforeBilling { .. }, BatchResult::Failed(e)) => {
                ("refused before billing", e.to_string())
            }
            (LineKind::SkippedBudget(r), _) => ("skipped by budget", r.to_string()),
            (_, BatchResult::Failed(e)) => ("failed", e.to_string()),
            (_, _) => continue,
        };
        let label = match label {
            "failed" => ctx.style.error(label).to_string(),
            other => other.to_owned(),
        };
        let text = sanitize(&text).into_owned();
        writeln!(out, "{label} {}: {text}", line_name(o))?;
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    let done = match summary.done_earlier {
        0 => summary.done.to_string(),
        n => format!("{} ({n} earlier)", summary.done),
    };
    rows.push(("done".into(), done));
    if summary.failed.is_empty() {
        rows.push(("failed".into(), "0".into()));
    }
    for (class, n) in &summary.failed {
        rows.push((format!("failed: {}", class_label(class)), n.to_string()));
    }
    rows.push(("still running".into(), summary.still_running.to_string()));
    rows.push((
        "skipped by budget".into(),
        summary.skipped_budget.to_string(),
    ));
    if summary.refused_before_billing.is_empty() {
        rows.push(("refused before billing".into(), "0".into()));
    }
    for (class, n) in &summary.refused_before_billing {
        rows.push((
            format!("refused before billing: {}", class_label(class)),
            n.to_string(),
        ));
    }
    rows.push((
        "credits charged this run".into(),
        summary.credits_this_run.to_string(),
    ));
    rows.push((
        "credits charged earlier".into(),
        summary.credits_earlier.to_string(),
    ));
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let numbers = rows
        .iter()
        .map(|(_, n)| n.chars().count())
        .max()
        .unwrap_or(0);
    writeln!(
        out,
        "batch summary ({})",
        plural(summary.lines() as u64, "line")
    )?;
    for (label, n) in &rows {
        writeln!(out, "  {label:<width$}  {n:>numbers$}")?;
    }
    if summary.unreported_charges > 0 {
        writeln!(
            out,
            "  ({} without a reported charge {} not in the credits above)",
            plural(summary.unreported_charges as u64, "billed job"),
            if summary.unreported_charges == 1 {
                "is"
            } else {
                "are"
            }
        )?;
    }
    let unfinished = summary.still_running
        + summary.refused_total()
        + summary.failed.get("network").copied().unwrap_or(0);
    if unfinished > 0 {
        writeln!(
            out,
            "run the same command again to finish what is unfinished (nothing is billed twice)"
        )?;
    }
    let failed_for_good = ["moderation", "generation_failed", "deleted"]
        .iter()
        .any(|class| summary.failed.contains_key(class));
    if failed_for_good {
        writeln!(
            out,
            "add --retry-failed to submit lines that failed for good again (a new bill each)"
        )?;
    }
    Ok(())
}

fn line_name(o: &BatchOutcome) -> String {
    match &o.id {
        Some(id) => format!("line {} ({id})", o.line),
        None => format!("line {}", o.line),
    }
}

fn resume_hint(o: &BatchOutcome) -> String {
    match o.job_id {
        Some(id) => format!("job {id} is still generating; `pixfuse resume {id}` finishes it"),
        None => "still generating".to_owned(),
    }
}

/// A failure class as people read it.
fn class_label(class: &str) -> String {
    match class {
        "generation_failed" => "generation failed".to_owned(),
        "network" => "network or server".to_owned(),
        "invalid_request" => "invalid request".to_owned(),
        "credits" => "not enough credits".to_owned(),
        "auth" => "API key".to_owned(),
        "moderation" => "content moderation".to_owned(),
        "local" => "local file or setting".to_owned(),
        "output_taken" => "output taken by another job".to_owned(),
        other => other.replace('_', " "),
    }
}

fn outcome_json(ctx: &Ctx, o: &BatchOutcome) -> Value {
    let mut v = json!({"line": o.line, "id": o.id, "output": o.output, "job_id": o.job_id});
    match &o.result {
        BatchResult::Done { outcome, earlier } => {
            v["status"] = json!("done");
            v["earlier"] = json!(earlier);
            v["video_id"] = json!(outcome.video_id.to_string());
            v["credits"] = json!(outcome.credits);
        }
        BatchResult::Failed(e) => {
            let fields = crate::cmd::job::error_json(ctx, e);
            for key in ["err_code", "err_msg", "trace_id", "resume_command"] {
                if let Some(field) = fields.get(key) {
                    v[key] = field.clone();
                }
            }
            v["status"] = json!(match o.end.kind {
                LineKind::StillRunning => "running",
                LineKind::RefusedBeforeBilling { .. } => "refused_before_billing",
                _ => "failed",
            });
            v["class"] = json!(pixfuse::batch::failure_class(e));
            v["exit_code"] = json!(exit_for(e).code());
            v["error"] = json!(e.to_string());
        }
        BatchResult::SkippedBudget(refusal) => {
            v["status"] = json!("skipped_budget");
            v["error"] = json!(refusal.to_string());
        }
    }
    v
}

/// Progress on stderr: on a terminal, an overall bar counting what the summary counts, a row
/// per job in flight showing its state, and a line per finished job that stays; plain lines
/// otherwise; nothing with `-q`.
struct View {
    quiet: bool,
    verbose: u8,
    multi: Option<(MultiProgress, ProgressBar)>,
    /// Jobs in flight: their row and when they started.
    lines: HashMap<usize, (Option<ProgressBar>, Instant)>,
    /// The same tally the summary prints, so the bar's counts match it.
    tally: BatchSummary,
    /// Request lines and transport retries print above the bars while they draw.
    _attached: Option<crate::calls::Attached>,
}

impl View {
    fn new(ctx: &Ctx, total: u64) -> Self {
        let multi = (!ctx.quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let bar = multi.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            (multi, bar)
        });
        let attached = multi.as_ref().map(|(_, overall)| {
            let overall = overall.clone();
            crate::calls::attach(std::sync::Arc::new(
                move |shown: crate::calls::Shown<'_>| match shown {
                    crate::calls::Shown::Line(line) => overall.println(sanitize(line)),
                    crate::calls::Shown::Retry(event) => {
                        overall.println(sanitize(&event.to_string()))
                    }
                },
            ))
        });
        View {
            quiet: ctx.quiet,
            verbose: ctx.verbose,
            multi,
            lines: HashMap::new(),
            tally: BatchSummary::default(),
            _attached: attached,
        }
    }

    fn show(&mut self, event: &BatchEvent) {
        if self.quiet {
            return;
        }
        if matches!(event, BatchEvent::ConcurrencyChanged { .. }) && self.verbose == 0 {
            return;
        }
        let row = match (event, &self.multi) {
            (BatchEvent::Started { line, name }, Some((multi, _))) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {elapsed:>4} {prefix:<16} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(sanitize(name).into_owned());
                bar.set_message("starting");
                bar.enable_steady_tick(Duration::from_millis(200));
                self.lines.insert(*line, (Some(bar), Instant::now()));
                return;
            }
            (BatchEvent::Started { line, .. }, None) => {
                self.lines.entry(*line).or_insert((None, Instant::now()));
                None
            }
            (BatchEvent::Finished(outcome), _) => {
                self.tally.add(&outcome.end);
                let started = match self.lines.remove(&outcome.line) {
                    Some((bar, started)) => {
                        if let (Some(bar), Some((multi, _))) = (bar, &self.multi) {
                            bar.finish_and_clear();
                            multi.remove(&bar);
                        }
                        Some(started)
                    }
                    None => None,
                };
                Some(finished_line(outcome, started.map(|s| s.elapsed())))
            }
            _ => None,
        };
        let Some((_, overall)) = &self.multi else {
            if let Some(line) = row.or_else(|| plain_line(event)) {
                let _ = writeln!(std::io::stderr().lock(), "pixfuse: {}", sanitize(&line));
            }
            return;
        };
        if let Some(row) = row {
            overall.inc(1);
            overall.set_message(counts(&self.tally));
            overall.println(sanitize(&row));
            return;
        }
        match event {
            // A row shows the job's state, not the event that moved it.
            BatchEvent::Job {
                line, event: step, ..
            } => {
                if let (Some((Some(bar), _)), Some(state)) =
                    (self.lines.get(line), crate::progress::state_of(step))
                {
                    bar.set_message(sanitize(&state).into_owned());
                }
                if matches!(
                    step,
                    pixfuse::Event::Retrying { .. } | pixfuse::Event::Warning { .. }
                ) && let Some(text) = plain_line(event)
                {
                    overall.println(sanitize(&text));
                }
            }
            other => {
                if let Some(line) = plain_line(other) {
                    overall.println(sanitize(&line));
                }
            }
        }
    }

    fn finish(&mut self) {
        for (_, (bar, _)) in self.lines.drain() {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
        }
        if let Some((_, overall)) = &self.multi {
            overall.finish_and_clear();
        }
    }
}

/// The overall bar's counts, in the summary's words (`3 done, 1 failed`).
fn counts(tally: &BatchSummary) -> String {
    let failed: usize = tally.failed.values().sum();
    let refused: usize = tally.refused_total();
    [
        (tally.done, "done"),
        (failed, "failed"),
        (tally.still_running, "still running"),
        (tally.skipped_budget, "skipped by budget"),
        (refused, "refused before billing"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, label)| format!("{n} {label}"))
    .collect::<Vec<_>>()
    .join(", ")
}

/// The plain log line for an event worth one (in log mode).
fn plain_line(event: &BatchEvent) -> Option<String> {
    Some(match event {
        BatchEvent::Started { name, .. } => format!("[{name}] started"),
        BatchEvent::Job { name, event, .. } => match event {
            pixfuse::Event::Submitted { .. }
            | pixfuse::Event::Warning { .. }
            | pixfuse::Event::Uploaded { .. }
            | pixfuse::Event::VideoUploaded { .. }
            | pixfuse::Event::Retrying { .. }
            | pixfuse::Event::Continuing { .. }
            | pixfuse::Event::TakenOver { .. }
            | pixfuse::Event::Abandoned { .. }
            | pixfuse::Event::Reuploading { .. }
            | pixfuse::Event::NewTraceId { .. } => format!("[{name}] {event}"),
            _ => return None,
        },
        BatchEvent::SlotRefused { name, .. } => {
            format!("[{name}] no concurrency slot free (500044); queued again, same trace id")
        }
        BatchEvent::Watching { name, pid, .. } => {
            format!("[{name}] is being run by another pixfuse process (pid {pid}); waiting for it")
        }
        BatchEvent::Retrying { name, .. } => {
            format!("[{name}] failed earlier; submitting it again with a new trace id (a new bill)")
        }
        BatchEvent::Restarted { name, reason, .. } => {
            format!("[{name}] {reason}; continuing it from the journal")
        }
        BatchEvent::ConcurrencyChanged { limit } => format!("concurrency now {limit}"),
        BatchEvent::BudgetStop { name, refusal, .. } => {
            format!("budget: [{name}] {refusal}; submitting nothing more")
        }
        BatchEvent::Finished(outcome) => finished_line(outcome, None),
        _ => return None,
    })
}

/// The line a finished job leaves: `✓ dog-room  12.3 s  45 credits  out/dog-room.mp4`, `✗` for
/// a failure, `-` for a line not run; the time is this run's, when it ran the job.
fn finished_line(o: &BatchOutcome, took: Option<Duration>) -> String {
    let name = o.id.clone().unwrap_or_else(|| format!("line {}", o.line));
    let took = took
        .map(|t| format!("  {:.1} s", t.as_secs_f64()))
        .unwrap_or_default();
    match &o.result {
        BatchResult::Done { earlier: true, .. } => {
            format!("✓ {name}  done earlier  {}", shown_path(&o.output))
        }
        BatchResult::Done { outcome, .. } => {
            let credits = outcome
                .credits
                .map(|c| format!("  {}", plural(c, "credit")))
                .unwrap_or_default();
            format!("✓ {name}{took}{credits}  {}", shown_path(&outcome.output))
        }
        BatchResult::Failed(e) => match o.end.kind {
            LineKind::StillRunning => format!("… {name}{took}  still running: {e}"),
            LineKind::RefusedBeforeBilling { .. } => {
                format!("✗ {name}{took}  refused before billing: {e}")
            }
            _ => format!("✗ {name}{took}  failed: {e}"),
        },
        BatchResult::SkippedBudget(r) => format!("- {name}  skipped by budget: {r}"),
    }
}

/// A path as the user would type it: relative to the working directory when under it.
fn shown_path(path: &std::path::Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_lists_every_failure_code_once() {
        for exit in [
            Exit::Internal,
            Exit::Usage,
            Exit::InvalidRequest,
            Exit::Auth,
            Exit::Credits,
            Exit::Moderation,
            Exit::GenerationFailed,
            Exit::StillRunning,
            Exit::Concurrency,
            Exit::Network,
        ] {
            assert_eq!(
                SEVERITY.iter().filter(|e| **e == exit).count(),
                1,
                "{exit:?}"
            );
        }
        assert!(parse_concurrency("0").is_err());
        assert_eq!(parse_concurrency("3"), Ok(Concurrency::Fixed(3)));
        assert_eq!(parse_concurrency("AUTO"), Ok(Concurrency::AUTO));
    }

    #[test]
    fn auto_concurrency_takes_a_cap() {
        assert_eq!(
            parse_concurrency("auto:4"),
            Ok(Concurrency::Auto { max: 4 })
        );
        assert_eq!(
            parse_concurrency("Auto:50"),
            Ok(Concurrency::Auto { max: 50 })
        );
        for bad in ["auto:", "auto:0", "auto:x", "fast:3", "3:auto"] {
            assert!(parse_concurrency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_help_states_the_library_s_auto_cap() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        let batch = cli.find_subcommand("batch").expect("a batch command");
        let arg = batch
            .get_arguments()
            .find(|a| a.get_id() == "concurrency")
            .expect("--concurrency");
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let cap = pixfuse::batch::AUTO_CONCURRENCY_MAX;
        assert!(help.contains(&format!("(at most {cap})")), "{help}");
    }
}
