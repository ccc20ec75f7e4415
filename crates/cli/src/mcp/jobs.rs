//! The tools that talk to the server, each a thin call into the facade: `generate`, `wait`,
//! `download`, `resume`, `status`, `jobs`, `balance`, `upload_image`. The client has no
//! overall deadline (a server lives for hours); each call bounds itself.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pixfuse::{Client, Error, Event, JobOptions, ValidateOptions};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedSender;

use super::answer::{self, Answer};
use super::budget::Spending;
use super::offline;
use super::params::{
    DownloadArgs, GenerateArgs, JobsArgs, ResumeArgs, StatusArgs, UploadArgs, UploadVideoArgs,
    WaitArgs, parse_video_id,
};
use crate::cmd::job::result_json;
use crate::cmd::journal::job_json;
use crate::cmd::video::status_json;

/// Default bounds of one call.
const WAIT_DEFAULT: Duration = Duration::from_secs(120);
const SUBMIT_DEFAULT: Duration = Duration::from_secs(300);
const FINISH_DEFAULT: Duration = Duration::from_secs(600);
const QUICK_DEFAULT: Duration = Duration::from_secs(120);
/// No single call waits longer than an hour: an agent can always call again.
const LONGEST: Duration = Duration::from_secs(3600);

/// What every tool call shares.
pub struct Service {
    /// The client, or why there is none (no API key: the offline tools still work, the others
    /// answer with the `auth` class and the fix).
    pub client: Result<Client, String>,
    pub spending: Spending,
    /// Scrubbed from every answer.
    pub key: Option<SecretString>,
}

/// Where a call's progress lines go (MCP progress notifications), if the caller asked.
pub type Progress = Option<UnboundedSender<String>>;

fn observer<'a>(progress: &'a Progress, planned: &'a AtomicBool) -> impl FnMut(Event) + Send + 'a {
    move |event: Event| {
        if matches!(event, Event::Planned { .. }) {
            planned.store(true, Ordering::SeqCst);
        }
        if let Some(sink) = progress {
            let _ = sink.send(event.to_string());
        }
    }
}

fn bound(timeout_s: Option<u64>, default: Duration) -> Duration {
    timeout_s
        .map(Duration::from_secs)
        .unwrap_or(default)
        .clamp(Duration::from_secs(1), LONGEST)
}

impl Service {
    /// The client, bounded to `limit` from now.
    fn within(&self, limit: Duration) -> Result<Client, Answer> {
        self.client
            .as_ref()
            .map(|c| c.with_deadline(Some(Instant::now() + limit)))
            .map_err(|reason| {
                Answer::refusal(
                    "auth",
                    reason.clone(),
                    "this server has no API key: ask the user to set PIXFUSE_API_KEY (or the provider's key variable) in the MCP host's configuration for this server (its \"env\"), or api_key in the pixfuse config file, and restart it; validate, estimate and models work meanwhile",
                )
            })
    }

    /// `generate`: validate, upload, journal, submit; the same call again returns the same job.
    pub async fn generate(&self, args: GenerateArgs, progress: Progress) -> Answer {
        let loaded = match offline::load(&args.request) {
            Ok(loaded) => loaded,
            Err(refusal) => return refusal,
        };
        let (job, warnings) =
            match pixfuse::parse_job(&loaded.bytes, &loaded.base, &ValidateOptions::default()) {
                Ok(found) => found,
                Err(e) => return answer::from_error(&e),
            };
        let estimate = offline::estimate_of(&job);
        let output = args.output.as_deref().map(PathBuf::from);
        let call = call_name(&job, output.as_deref(), args.idempotency_key.as_deref());
        let credits = estimate["credits"].as_f64();
        let reserved = match self.spending.reserve(&call, credits, args.new) {
            Ok(reserved) => reserved,
            Err(refusal) => return self.over_budget(&refusal, estimate),
        };
        let mut opts = JobOptions::default();
        opts.new = args.new;
        if let Some(key) = &args.idempotency_key {
            opts = opts.keyed(key.clone());
        }
        let planned = AtomicBool::new(false);
        let client = match self.within(bound(args.timeout_s, SUBMIT_DEFAULT)) {
            Ok(client) => client,
            Err(refusal) => {
                self.spending.unbilled(&call, reserved, false);
                return refusal;
            }
        };
        let result = client
            .submit_with_options(job, output.as_deref(), &opts, observer(&progress, &planned))
            .await;
        let new_job = planned.load(Ordering::SeqCst);
        match result {
            Ok(sub) => {
                if new_job {
                    self.spending.billed(&call, reserved, sub.credits);
                } else {
                    self.spending.unbilled(&call, reserved, true);
                }
                Answer::ok(json!({
                    "status": "submitted",
                    "job_id": sub.job_id,
                    "video_id": sub.video_id.to_string(),
                    "trace_id": sub.trace_id,
                    "credits": sub.credits,
                    "estimate": estimate,
                    "new_video": new_job,
                    "warnings": warnings,
                    "budget": budget_json(self.spending.summary()),
                    "next": format!(
                        "call wait with video_id \"{}\", then download it to a path",
                        sub.video_id
                    ),
                }))
            }
            Err(e) => {
                // Nothing new was claimed, or it was refused before billing: nothing was spent.
                if new_job && may_have_billed(&e) {
                    self.spending.billed(&call, reserved, None);
                } else {
                    self.spending.unbilled(&call, reserved, new_job);
                }
                let mut refusal = answer::from_error(&e);
                if refusal.value["class"] == "still_running" {
                    refusal.value["next"] = json!(
                        "the job is journaled: call generate again with the same arguments (or resume with its job_id) to continue it; nothing is billed twice"
                    );
                }
                refusal
            }
        }
    }

    fn over_budget(&self, refusal: &impl std::fmt::Display, estimate: Value) -> Answer {
        let mut answer = Answer::refusal(
            "budget",
            format!("refused by the server's budget: this video {refusal}; nothing was sent"),
            "tell the user: this MCP server was started with --budget, and this video does not fit what is left of it",
        );
        answer.value["estimate"] = estimate;
        answer.value["budget"] = budget_json(self.spending.summary());
        answer
    }

    /// `wait`: until the video is ready, or `timeout_s` passes ("still generating", not an
    /// error: the job goes on and `wait` picks it up again).
    pub async fn wait(&self, args: WaitArgs, progress: Progress) -> Answer {
        let video_id = match self.video_of(args.video_id.as_deref(), args.job_id).await {
            Ok(id) => id,
            Err(refusal) => return refusal,
        };
        let limit = bound(args.timeout_s, WAIT_DEFAULT);
        let client = match self.within(limit) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        let planned = AtomicBool::new(false);
        let result = client
            .wait_with(video_id, observer(&progress, &planned))
            .await;
        match result {
            Ok(status) => {
                let mut value = status_json(&status);
                value["next"] = json!(format!(
                    "call download with video_id \"{video_id}\" and the path to save it to"
                ));
                Answer::ok(value)
            }
            Err(Error::StillRunning { job_id, .. }) => still_generating(video_id, job_id, limit),
            Err(Error::TimedOut { job_id, .. }) => still_generating(video_id, job_id, limit),
            Err(e) => answer::from_error(&e),
        }
    }

    /// The video a `wait` names, by its id or its job's.
    async fn video_of(&self, video_id: Option<&str>, job_id: Option<i64>) -> Result<u64, Answer> {
        match (video_id, job_id) {
            (Some(text), _) => parse_video_id(text).map_err(Answer::usage),
            (None, Some(id)) => {
                let record = self
                    .within(QUICK_DEFAULT)?
                    .job(id)
                    .await
                    .map_err(|e| answer::from_error(&e))?;
                record.video_id.ok_or_else(|| {
                    Answer::refusal(
                        "usage",
                        format!("job {id} has no video id yet: it was not submitted"),
                        format!("call resume with job_id {id} to submit and finish it"),
                    )
                })
            }
            (None, None) => Err(Answer::usage("give video_id (or job_id)")),
        }
    }

    /// `download`: the finished video to `path`, with its sidecar.
    pub async fn download(&self, args: DownloadArgs) -> Answer {
        let video_id = match parse_video_id(&args.video_id) {
            Ok(id) => id,
            Err(message) => return Answer::usage(message),
        };
        let client = match self.within(bound(args.timeout_s, FINISH_DEFAULT)) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        match client.download(video_id, Path::new(&args.path)).await {
            Ok(done) => Answer::ok(result_json(&done)),
            Err(e) => {
                let mut refusal = answer::from_error(&e);
                if refusal.value["class"] == "still_running" {
                    refusal.value["next"] = json!(
                        "not finished in time: call download again with the same arguments (a partial file is continued)"
                    );
                }
                refusal
            }
        }
    }

    /// `resume`: a journaled job from wherever it stopped, to its output.
    pub async fn resume(&self, args: ResumeArgs, progress: Progress) -> Answer {
        let limit = bound(args.timeout_s, FINISH_DEFAULT);
        let output = args.output.as_deref().map(Path::new);
        let client = match self.within(limit) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        let planned = AtomicBool::new(false);
        let result = client
            .resume(args.job_id, output, observer(&progress, &planned))
            .await;
        match result {
            Ok(done) => Answer::ok(result_json(&done)),
            Err(Error::StillRunning { video_id, .. }) => {
                let mut answer = still_generating(video_id, Some(args.job_id), limit);
                answer.value["next"] = json!(format!(
                    "call resume with job_id {} again later",
                    args.job_id
                ));
                answer
            }
            Err(e) => answer::from_error(&e),
        }
    }

    /// `status`: one poll.
    pub async fn status(&self, args: StatusArgs) -> Answer {
        let video_id = match parse_video_id(&args.video_id) {
            Ok(id) => id,
            Err(message) => return Answer::usage(message),
        };
        let client = match self.within(QUICK_DEFAULT) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        match client.status(video_id).await {
            Ok(status) => Answer::ok(status_json(&status)),
            Err(e) => answer::from_error(&e),
        }
    }

    /// `jobs`: the journal, newest first.
    pub async fn jobs(&self, args: JobsArgs) -> Answer {
        let client = match self.within(QUICK_DEFAULT) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        match client.jobs().await {
            Ok(list) => {
                let jobs: Vec<Value> = list
                    .iter()
                    .take(args.limit.unwrap_or(20))
                    .map(job_json)
                    .collect();
                Answer::ok(json!({ "jobs": jobs, "total": list.len() }))
            }
            Err(e) => answer::from_error(&e),
        }
    }

    /// `balance`: credits left on the account.
    pub async fn balance(&self) -> Answer {
        let client = match self.within(QUICK_DEFAULT) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        match client.balance().await {
            Ok(balance) => Answer::ok(json!(balance)),
            Err(e) => answer::from_error(&e),
        }
    }

    /// `upload_image`: one image, uploaded once per content.
    pub async fn upload_image(&self, args: UploadArgs) -> Answer {
        let client = match self.within(QUICK_DEFAULT) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        let uploaded = if pixfuse_core::job::is_https_url(&args.image) {
            client.upload_url(&args.image).await
        } else {
            client.upload(Path::new(&args.image)).await
        };
        match uploaded {
            Ok(up) => Answer::ok(json!({
                "image": args.image,
                "img_id": up.img_id.to_string(),
                "img_url": up.img_url,
                "reused": up.reused,
            })),
            Err(e) => answer::from_error(&e),
        }
    }
}

impl Service {
    /// `upload_video`: one v6 Omni reference video, checked locally, uploaded once per content;
    /// the same object as `upload --video --json` gives for each video.
    pub async fn upload_video(&self, args: UploadVideoArgs) -> Answer {
        let client = match self.within(bound(args.timeout_s, SUBMIT_DEFAULT)) {
            Ok(client) => client,
            Err(refusal) => return refusal,
        };
        let uploaded = if pixfuse_core::job::is_https_url(&args.video) {
            client.upload_video_url(&args.video).await
        } else {
            client.upload_video(Path::new(&args.video)).await
        };
        match uploaded {
            Ok(up) => Answer::ok(crate::cmd::account::uploaded_video_json(&args.video, &up)),
            Err(e) => answer::from_error(&e),
        }
    }
}

/// Whether a new job that ended in `error` may have been billed (when unsure: yes, so the
/// budget errs on the side of refusing).
fn may_have_billed(error: &Error) -> bool {
    match error {
        Error::Invalid { .. }
        | Error::OutputTaken { .. }
        | Error::Destination { .. }
        | Error::Config(_)
        | Error::Io { .. } => false,
        // A definite refusal (an ErrCode, a bad image) never reached a billing server.
        Error::Transport(e) | Error::TimedOut { error: e, .. } => e.may_have_reached_server(),
        _ => true,
    }
}

/// The non-error answer of a wait that ran out of time.
fn still_generating(video_id: u64, job_id: Option<i64>, waited: Duration) -> Answer {
    Answer::ok(json!({
        "status": "running",
        "video_status": "generating",
        "video_id": video_id.to_string(),
        "job_id": job_id,
        "message": format!(
            "still generating after {} s; nothing is lost and nothing is billed again",
            waited.as_secs()
        ),
        "next": format!("call wait again with video_id \"{video_id}\""),
    }))
}

/// What names a `generate` call for the budget's "made before" check: its idempotency key, or
/// its job, output and the images' sizes and times (a changed image is a new job).
fn call_name(job: &pixfuse::Job, output: Option<&Path>, key: Option<&str>) -> String {
    if let Some(key) = key {
        return format!("key:{key}");
    }
    let images: Vec<String> = job
        .image_references
        .iter()
        .filter_map(|r| match &r.source {
            pixfuse::ImageSource::Path(p) => Some(p),
            _ => None,
        })
        .map(|p| {
            let meta = std::fs::metadata(p).ok();
            let len = meta.as_ref().map(std::fs::Metadata::len);
            let modified = meta.and_then(|m| m.modified().ok());
            format!("{p}:{len:?}:{modified:?}")
        })
        .collect();
    let form = serde_json::to_string(job).unwrap_or_default();
    let output = output.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
    format!("job:{form}:{output:?}:{images:?}")
}

/// The server's budget as JSON. Credits are whole numbers in every answer, as in
/// `credits`/`estimate.credits`; only a fractional `--budget` shows a fraction.
fn budget_json((limit, spent, remaining): (Option<f64>, f64, Option<f64>)) -> Value {
    json!({
        "limit": limit.map(credits_json),
        "spent": credits_json(spent),
        "remaining": remaining.map(credits_json),
    })
}

fn credits_json(credits: f64) -> Value {
    // Whole numbers of credits within u64's range are integers; the cast is exact then.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    if credits.fract() == 0.0 && (0.0..9.0e15).contains(&credits) {
        json!(credits as u64)
    } else {
        json!(credits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_before_any_submit_counts_as_unbilled() {
        let invalid = Error::Invalid {
            diagnostics: Vec::new(),
        };
        assert!(!may_have_billed(&invalid));
        assert!(!may_have_billed(&Error::Config("no key".into())));
        let failed = Error::Generation {
            video_id: 1,
            status: pixfuse::JobStatus::Failed,
        };
        assert!(may_have_billed(&failed));
        assert_eq!(bound(None, WAIT_DEFAULT), WAIT_DEFAULT);
        assert_eq!(bound(Some(0), WAIT_DEFAULT), Duration::from_secs(1));
        assert_eq!(bound(Some(86_400), WAIT_DEFAULT), LONGEST);
    }
}
