//! `pixfuse jobs | jobs rm | resume`: the journal of jobs, forgetting some, and finishing the
//! ones a crash, a timeout, an interrupt or a network failure left unfinished.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use pixfuse::{Event, Journal};
use serde_json::json;

use crate::cmd::job::result_json;
use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::interrupt::{self, Jobs};
use crate::net_args::NetArgs;
use crate::progress::Progress;

/// `pixfuse jobs`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pixfuse jobs --json
  pixfuse jobs --state failed,moderated --limit 5
  pixfuse jobs show 3          everything the journal knows of job 3
  pixfuse jobs rm 3 4          forget jobs 3 and 4 (unless generating)")]
pub struct JobsArgs {
    #[command(subcommand)]
    pub action: Option<JobsAction>,
    /// Only jobs in these states (comma-separated or repeated), e.g. failed,moderated.
    #[arg(long, value_name = "STATE", value_delimiter = ',', value_parser = job_state)]
    pub state: Vec<pixfuse::JobState>,
    /// At most N jobs, the newest.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// A `--state` value: one of the journal's state names.
fn job_state(name: &str) -> Result<pixfuse::JobState, String> {
    pixfuse::JobState::parse(name).ok_or_else(|| {
        let names: Vec<&str> = pixfuse::JobState::ALL.iter().map(|s| s.as_str()).collect();
        format!("unknown job state {name} (one of {})", names.join(", "))
    })
}

/// What to do with the journal instead of listing it.
#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// Everything the journal knows of one job: the request as sent, the server, the times, the
    /// video, the last error and the callbacks received (never a key).
    Show {
        /// The journal id (from `pixfuse jobs`).
        #[arg(value_name = "JOB_ID", value_parser = crate::values::job_id)]
        job_id: i64,
    },
    /// Forget jobs: a job that may still be generating (its video may be paid for) is refused
    /// unless --force.
    Rm {
        /// Journal ids (from `pixfuse jobs`).
        #[arg(value_name = "JOB_ID", required = true, value_parser = crate::values::job_id)]
        job_ids: Vec<i64>,
        /// Forget them even if they may still be generating.
        #[arg(long)]
        force: bool,
    },
}

/// `pixfuse resume`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  pixfuse resume            finish every interrupted job
  pixfuse resume 3 -o a.mp4 finish job 3 and save it as a.mp4")]
pub struct ResumeArgs {
    /// Journal ids (from `pixfuse jobs`); none: every job that needs it.
    #[arg(value_name = "JOB_ID", value_parser = crate::values::job_id)]
    pub job_ids: Vec<i64>,
    /// Save the video here instead of the journaled path (one job only).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

fn open_journal(settings: &Settings) -> Result<Journal, Failure> {
    settings.open_journal()
}

pub(crate) use crate::cmd::jobs_view::job_json;

pub fn jobs(ctx: &Ctx, net: &NetArgs, args: &JobsArgs) -> Result<Exit, Failure> {
    let settings = Settings::resolve(net)?;
    let journal = open_journal(&settings)?;
    let rt = crate::connect::runtime()?;
    match &args.action {
        Some(JobsAction::Rm { job_ids, force }) => {
            return forget(ctx, &rt, &journal, job_ids, *force);
        }
        Some(JobsAction::Show { job_id }) => {
            let record = rt
                .block_on(journal.job(*job_id))
                .map_err(|e| Failure::from(pixfuse::Error::from(e)))?;
            // A journal without callbacks (no `webhook serve`) still shows the job.
            let callbacks = rt.block_on(journal.callbacks()).unwrap_or_default();
            return crate::cmd::jobs_view::show(ctx, &record, &callbacks);
        }
        None => {}
    }
    let mut list = rt
        .block_on(journal.jobs())
        .map_err(|e| Failure::from(pixfuse::Error::from(e)))?;
    let elsewhere = if list.is_empty() {
        sandbox_jobs_beside(&settings, &rt)
    } else {
        0
    };
    if !args.state.is_empty() {
        list.retain(|r| args.state.contains(&r.state));
    }
    if let Some(limit) = args.limit {
        // The newest `limit`, still in the journal's order.
        let newest: Vec<i64> = {
            let mut ids: Vec<(i64, i64)> = list.iter().map(|r| (r.created_ms, r.id)).collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids.into_iter().take(limit).map(|(_, id)| id).collect()
        };
        list.retain(|r| newest.contains(&r.id));
    }
    crate::cmd::jobs_view::list(ctx, &list, settings.sandbox(), elsewhere)
}

/// How many jobs the `--sandbox` journal beside this real, SQLite one holds: an empty `jobs`
/// says where they are. Zero under `--sandbox`, with a shared journal (which holds both
/// kinds, told apart by origin), or when that journal cannot be read.
fn sandbox_jobs_beside(settings: &Settings, rt: &tokio::runtime::Runtime) -> usize {
    if settings.sandbox() || settings.journal.is_some() {
        return 0;
    }
    let Ok(dir) = settings.journal_dir() else {
        return 0;
    };
    let dir = dir.join("sandbox");
    // Only look: opening a journal where there is none would create one.
    if !dir.join(pixfuse::journal::JOURNAL_FILE).is_file() {
        return 0;
    }
    pixfuse::Journal::open_in(&dir)
        .ok()
        .and_then(|journal| rt.block_on(journal.jobs()).ok())
        .map_or(0, |jobs| jobs.len())
}

/// `pixfuse jobs rm`.
fn forget(
    ctx: &Ctx,
    rt: &tokio::runtime::Runtime,
    journal: &Journal,
    ids: &[i64],
    force: bool,
) -> Result<Exit, Failure> {
    let answers = rt.block_on(journal.forget(ids, force));
    let mut first_refusal = None;
    let mut results = Vec::new();
    for (id, answer) in ids.iter().zip(answers) {
        match answer {
            Ok(job) => {
                if !ctx.json {
                    println!("forgot job {} ({})", job.id, job.state);
                }
                results.push(json!({"job_id": id, "status": "forgotten", "state": job.state}));
            }
            Err(e) => {
                if !ctx.json {
                    eprintln!("pixfuse: {e}");
                }
                results.push(json!({"job_id": id, "status": "kept", "error": e.to_string()}));
                first_refusal.get_or_insert(e);
            }
        }
    }
    if ctx.json {
        ctx.print_json(&json!({ "results": results }))?;
    }
    match first_refusal {
        None => Ok(Exit::Success),
        Some(e) => Err(Failure {
            exit: Exit::Usage,
            message: e.to_string(),
        }),
    }
}

pub fn resume(ctx: &Ctx, net: &NetArgs, args: &ResumeArgs) -> Result<Exit, Failure> {
    let settings = Settings::resolve(net)?;
    if args.output.is_some() && args.job_ids.len() != 1 {
        return Err(Failure::usage("-o needs exactly one JOB_ID"));
    }
    let session = settings.session()?;
    let client = &session.client;
    let rt = &session.rt;
    let ids: Vec<i64> = if args.job_ids.is_empty() {
        let unfinished = rt
            .block_on(client.journal().unfinished())
            .map_err(|e| Failure::from(pixfuse::Error::from(e)))?;
        let (here, elsewhere): (Vec<_>, Vec<_>) = unfinished
            .into_iter()
            .partition(|r| r.origin == client.origin());
        for r in &elsewhere {
            if r.origin.starts_with("sandbox:") {
                // A sandbox's origin names its state, and that state is not this one's (it was
                // deleted, or the journal was copied): no server can finish the job.
                eprintln!(
                    "pixfuse: skipping job {} (sent to a sandbox whose state is gone)",
                    r.id
                );
            } else {
                eprintln!(
                    "pixfuse: skipping job {} (sent to {}; resume it with --base-url {})",
                    r.id, r.base_url, r.base_url
                );
            }
        }
        here.iter().map(|r| r.id).collect()
    } else {
        args.job_ids.clone()
    };
    let progress = Progress::new(ctx.quiet);
    let jobs = Jobs::default();
    let mut results = Vec::new();
    let mut first_failure: Option<Failure> = None;
    for id in &ids {
        jobs.add(*id);
        // The same estimate of the time left as `run` and `wait` show.
        if let Ok(Some(expected)) = rt.block_on(client.expected_generation_of_job(*id)) {
            progress.expect(expected);
        }
        let outcome = interrupt::run(
            rt,
            client.resume(*id, args.output.as_deref(), |e: Event| progress.event(&e)),
        );
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(signal) => {
                progress.finish();
                return Err(interrupt::stopped(ctx, rt, client, &jobs, signal));
            }
        };
        match outcome {
            Ok(done) => {
                progress.note(&format!(
                    "job {id}: video {} saved to {}",
                    done.video_id,
                    done.output.display()
                ));
                results.push(result_json(&done));
            }
            Err(e) => {
                let exit = crate::failure::exit_for(&e);
                if ids.len() > 1 {
                    progress.note(&format!("job {id}: {e}"));
                }
                let mut result = crate::cmd::job::error_json(ctx, &e);
                result["job_id"] = json!(id);
                results.push(result);
                if first_failure.is_none() {
                    first_failure = Some(Failure {
                        exit,
                        message: format!("job {id}: {e}"),
                    });
                }
            }
        }
    }
    progress.finish();
    let mut out = std::io::stdout().lock();
    if ctx.json {
        ctx.print_json(&json!({ "results": results }))?;
    } else if ids.is_empty() {
        eprintln!("nothing to resume");
    } else {
        for r in results.iter().filter(|r| r["status"] == "succeeded") {
            writeln!(
                out,
                "job {}: {}",
                r["job_id"],
                r["output"].as_str().unwrap_or("?")
            )?;
        }
    }
    match first_failure {
        // Already reported per job above (and in the JSON object).
        Some(f) => Err(f),
        None => Ok(Exit::Success),
    }
}
