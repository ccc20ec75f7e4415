//! The end-to-end job, and the one write-ahead entry point every flow goes through: validate,
//! prove the destination writable, claim the job's identity (before any upload or submit), then
//! drive it — or wait for the process that already does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pixfuse_core::lifecycle::{ClaimStatus, Goal, JobState, Owner};
use pixfuse_core::poll::JobStatus;
use pixfuse_core::{Diagnostic, ImageSource, Job, VideoSource, validate_job};
use uuid::Uuid;

use crate::client::Client;
use crate::drive::DriveOptions;
use crate::error::Error;
use crate::event::Event;
use crate::journal::{ClaimOutcome, ClaimRequest, Fresh, JobRecord, liveness, now_ms};

/// A job the server accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Submission {
    /// The journal's id (`pixfuse resume ID`).
    pub job_id: i64,
    /// The `Ai-trace-id` the submit carried.
    pub trace_id: Uuid,
    /// The vendor's id of the video.
    pub video_id: u64,
    /// Credits charged, when the answer said.
    pub credits: Option<i64>,
}

/// How a job ended (successfully).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobOutcome {
    /// The journal's id, when the job is journaled.
    pub job_id: Option<i64>,
    /// The `Ai-trace-id` of its submit, when known.
    pub trace_id: Option<Uuid>,
    /// The vendor's id of the video.
    pub video_id: u64,
    /// Its final status.
    pub status: JobStatus,
    /// Where the video is.
    pub output: PathBuf,
    /// Its sidecar (`<output>.json`), when one was written.
    pub sidecar: Option<PathBuf>,
    /// Credits charged, when the server said.
    pub credits: Option<i64>,
    /// The URL it was downloaded from.
    pub url: String,
}

impl JobOutcome {
    pub(crate) fn of(record: &JobRecord) -> JobOutcome {
        let output = record.output_path.clone().unwrap_or_default();
        let journaled = record.id > 0;
        JobOutcome {
            job_id: journaled.then_some(record.id),
            trace_id: journaled.then_some(record.trace_id),
            video_id: record.video_id.unwrap_or_default(),
            status: record.status.unwrap_or(JobStatus::Succeeded),
            sidecar: Some(crate::sidecar::sidecar_path(&output))
                .filter(|p| journaled && p.is_file()),
            output,
            credits: record.credits,
            url: record.url.clone().unwrap_or_default(),
        }
    }
}

/// How a job is identified and whether an earlier one is continued.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobOptions {
    /// Submit a new, separately billed video even when this job was journaled before (else the
    /// earlier job is continued with its trace id, and nothing is billed twice).
    pub new: bool,
    /// Take the output file from another unfinished job (which is then abandoned; its video
    /// stays on the server). Without it such a job is refused, naming the other one.
    pub force: bool,
    /// Identify the job by this key instead of its content (an agent's idempotency key): a
    /// second call with the same key continues the first job whatever its content.
    pub key: Option<String>,
}

impl JobOptions {
    /// A new, separately billed video (`--new`).
    pub fn new_video() -> Self {
        JobOptions {
            new: true,
            ..JobOptions::default()
        }
    }

    /// With [`JobOptions::force`] set.
    pub fn forced(mut self) -> Self {
        self.force = true;
        self
    }

    /// Identified by `key`.
    pub fn keyed(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

pub(crate) type OnEvent<'a> = dyn FnMut(Event) + Send + 'a;

/// A job to claim: its identity and what comes with it.
pub(crate) struct ClaimSpec {
    pub identity: String,
    pub form: Job,
    pub output: Option<PathBuf>,
    pub fresh: Fresh,
    pub force: bool,
}

/// How long a process waiting for another one's job sleeps between looks at the journal.
const WATCH_EVERY: Duration = Duration::from_millis(200);

impl Client {
    /// Validates `job`: errors refuse it, warnings come back (and [`Client::run_with`] turns them
    /// into [`Event::Warning`]s). A local reference video that is no video at all is an error
    /// here too, so nothing (not even an image) is uploaded for a job that cannot be sent; its
    /// other problems are warned about when it is uploaded.
    pub fn check(&self, job: &Job) -> Result<Vec<Diagnostic>, Error> {
        let mut diagnostics = validate_job(job, &self.inner.validate);
        for (i, reference) in job.video_references.iter().enumerate() {
            if let VideoSource::Path(p) = &reference.source {
                let (_, problems) = pixfuse_transport::video_problems(Path::new(p));
                let pointer = format!("/video_references/{i}/video");
                diagnostics.extend(
                    problems
                        .iter()
                        .filter(|problem| problem.is_error())
                        .map(|problem| problem.to_diagnostic(pointer.clone(), p)),
                );
            }
        }
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Error::Invalid { diagnostics });
        }
        Ok(diagnostics)
    }

    /// The whole job: the video ends up at `output`, with `<output>.json` beside it. Running the
    /// same job to the same output again continues (or reports) the earlier one instead of
    /// paying again; see [`JobOptions`].
    pub async fn run(&self, job: Job, output: &Path) -> Result<JobOutcome, Error> {
        self.run_with(job, output, |_| {}).await
    }

    /// [`Client::run`], reporting progress to `on_event`.
    pub async fn run_with(
        &self,
        job: Job,
        output: &Path,
        on_event: impl FnMut(Event) + Send,
    ) -> Result<JobOutcome, Error> {
        self.run_with_options(job, output, &JobOptions::default(), on_event)
            .await
    }

    /// [`Client::run_with`] with [`JobOptions`].
    pub async fn run_with_options(
        &self,
        job: Job,
        output: &Path,
        opts: &JobOptions,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<JobOutcome, Error> {
        let record = self
            .job_flow(job, Some(output), opts, Goal::Downloaded, &mut on_event)
            .await?;
        Ok(JobOutcome::of(&record))
    }

    /// Validates, uploads and submits, without waiting. The job is journaled, so
    /// [`Client::resume`] (or `pixfuse resume`) can finish it later.
    pub async fn submit(&self, job: Job, output: Option<&Path>) -> Result<Submission, Error> {
        self.submit_with(job, output, |_| {}).await
    }

    /// [`Client::submit`], reporting progress to `on_event`.
    pub async fn submit_with(
        &self,
        job: Job,
        output: Option<&Path>,
        on_event: impl FnMut(Event) + Send,
    ) -> Result<Submission, Error> {
        self.submit_with_options(job, output, &JobOptions::default(), on_event)
            .await
    }

    /// [`Client::submit_with`] with [`JobOptions`].
    pub async fn submit_with_options(
        &self,
        job: Job,
        output: Option<&Path>,
        opts: &JobOptions,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<Submission, Error> {
        let record = self
            .job_flow(job, output, opts, Goal::Submitted, &mut on_event)
            .await?;
        let Some(video_id) = record.video_id else {
            return Err(Error::Internal(format!(
                "job {} was submitted without a video id",
                record.id
            )));
        };
        Ok(Submission {
            job_id: record.id,
            trace_id: record.trace_id,
            video_id,
            credits: record.credits,
        })
    }

    async fn job_flow(
        &self,
        mut job: Job,
        output: Option<&Path>,
        opts: &JobOptions,
        goal: Goal,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        for warning in self.check(&job)? {
            on_event(Event::Warning {
                code: warning.code.to_owned(),
                path: warning.path,
                message: warning.message,
            });
        }
        crate::identity::absolute_paths(&mut job);
        let output = output.map(absolute);
        if let Some(output) = &output {
            crate::output::prove_writable(output)?;
        }
        let identity = match &opts.key {
            Some(key) => crate::identity::of_key(key),
            None => crate::identity::of_job(&job, output.as_deref()).await?,
        };
        let spec = ClaimSpec {
            identity,
            form: job,
            output,
            fresh: if opts.new {
                Fresh::New
            } else {
                Fresh::Continue
            },
            force: opts.force,
        };
        self.claim_and_drive(spec, goal, on_event).await
    }

    /// The write-ahead entry point: claims `spec`'s identity in one transaction (before any
    /// upload or submit), then drives the job — or, when another live process holds it, waits
    /// for that process and takes the job over (same trace id) if it goes away.
    pub(crate) async fn claim_and_drive(
        &self,
        spec: ClaimSpec,
        goal: Goal,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        let form = crate::identity::form_text(&spec.form)?;
        self.settle_releases().await;
        let claimed = self
            .store()
            .claim(ClaimRequest {
                identity: spec.identity,
                origin: self.inner.origin.clone(),
                provider: self.inner.provider.as_str().to_owned(),
                base_url: self.inner.base_url.clone(),
                form: Some(form),
                output: spec.output.clone(),
                trace_id: Uuid::new_v4(),
                owner: self.inner.owner.clone(),
                lease: self.inner.lease,
                fresh: spec.fresh,
                force: spec.force,
            })
            .await?;
        let opts = DriveOptions {
            form: Some(spec.form),
            output: spec.output.clone(),
            retry_refused: true,
        };
        self.continue_claimed(claimed, goal, opts, on_event).await
    }

    /// Acts on a claim's outcome: drive what is ours, wait for what another process holds.
    pub(crate) async fn continue_claimed(
        &self,
        claimed: ClaimOutcome,
        goal: Goal,
        opts: DriveOptions,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        let job = match claimed {
            ClaimOutcome::New {
                job,
                superseded,
                abandoned,
            } => {
                if let Some(earlier) = superseded {
                    on_event(Event::Superseding {
                        job_id: job.id,
                        earlier: earlier.id,
                        state: earlier.state,
                    });
                }
                for old in abandoned {
                    on_event(Event::Abandoned {
                        job_id: old.id,
                        output: old.output_path.unwrap_or_default(),
                    });
                }
                on_event(Event::Planned {
                    job_id: job.id,
                    trace_id: job.trace_id,
                });
                job
            }
            ClaimOutcome::Existing { job, took_over } => {
                self.announce_continuing(&job, took_over.as_ref(), &opts, on_event);
                job
            }
            ClaimOutcome::Held { job, owner } => {
                on_event(Event::HeldElsewhere {
                    job_id: job.id,
                    pid: owner.pid,
                    host: owner.host.clone(),
                });
                match self.watch(job, goal, on_event).await? {
                    Watched::Finished(job) => return finished_elsewhere(job, goal),
                    Watched::TakenOver(job) => job,
                }
            }
            ClaimOutcome::OutputTaken { holder } => {
                return Err(Error::OutputTaken {
                    output: opts.output.clone().unwrap_or_default(),
                    holder: holder.id,
                    state: holder.state,
                });
            }
        };
        self.drive(job, goal, opts, on_event).await
    }

    fn announce_continuing(
        &self,
        job: &JobRecord,
        took_over: Option<&Owner>,
        opts: &DriveOptions,
        on_event: &mut OnEvent<'_>,
    ) {
        if let Some(owner) = took_over {
            on_event(Event::TakenOver {
                job_id: job.id,
                pid: owner.pid,
            });
        }
        let output = opts.output.clone().or_else(|| job.output_path.clone());
        match (job.state, output) {
            (JobState::Downloaded, Some(output)) if output.is_file() => {
                on_event(Event::AlreadyDone {
                    job_id: job.id,
                    output,
                })
            }
            (JobState::Planned, _) => {}
            (state, _) => on_event(Event::Continuing {
                job_id: job.id,
                state,
            }),
        }
    }

    /// Waits while another live process drives `job`: returns once the job reached `goal` (or
    /// ended) there, or once its owner is gone and this client took it over.
    async fn watch(
        &self,
        job: JobRecord,
        goal: Goal,
        on_event: &mut OnEvent<'_>,
    ) -> Result<Watched, Error> {
        let id = job.id;
        let deadline = self.wait_until();
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let Some(row) = self.store().job(id).await? else {
                return Err(crate::journal::JournalError::NoSuchJob(id).into());
            };
            if reached(&row, goal) || row.state.is_final() {
                return Ok(Watched::Finished(row));
            }
            let free = row.claim.as_ref().is_none_or(|c| {
                c.status(&self.inner.owner, now_ms(), liveness) == ClaimStatus::Expired
            });
            if free {
                self.settle_releases().await;
                match self
                    .store()
                    .claim_job(id, &self.inner.owner, self.inner.lease)
                    .await?
                {
                    ClaimOutcome::Existing { job, took_over } => {
                        if let Some(owner) = took_over {
                            on_event(Event::TakenOver {
                                job_id: id,
                                pid: owner.pid,
                            });
                        }
                        return Ok(Watched::TakenOver(job));
                    }
                    // Another waiter was quicker: keep waiting, for that one now.
                    _ => continue,
                }
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return Err(Error::StillRunning {
                    job_id: Some(id),
                    video_id: row.video_id.unwrap_or_default(),
                    resume_command: format!("pixfuse resume {id}"),
                });
            }
        }
    }

    /// Replaces each local path or URL by an img_id (an image) or a media_id (a reference
    /// video), uploading each distinct file once.
    pub(crate) async fn upload_sources(
        &self,
        job: &mut Job,
        on_event: &mut OnEvent<'_>,
    ) -> Result<(), Error> {
        for reference in &mut job.image_references {
            let img_id = match &reference.source {
                ImageSource::ImgId(_) => continue,
                ImageSource::Path(p) => self.upload_with(Path::new(p), on_event).await?.img_id,
                ImageSource::Url(u) => self.upload_url(u).await?.img_id,
            };
            reference.source = ImageSource::ImgId(img_id);
        }
        for (i, reference) in job.video_references.iter_mut().enumerate() {
            let media_id = match &reference.source {
                VideoSource::Path(p) => {
                    let pointer = format!("/video_references/{i}/video");
                    self.upload_video_with(Path::new(p), &pointer, on_event)
                        .await?
                        .media_id
                }
                VideoSource::Url(u) => self.upload_video_url(u).await?.media_id,
                _ => continue,
            };
            reference.source = VideoSource::MediaId(media_id);
        }
        Ok(())
    }
}

/// How waiting for another process ended.
enum Watched {
    /// The job reached the goal there, or ended.
    Finished(JobRecord),
    /// Its owner went away; the job is now ours.
    TakenOver(JobRecord),
}

fn reached(job: &JobRecord, goal: Goal) -> bool {
    match goal {
        Goal::Submitted => job.video_id.is_some(),
        Goal::Ready => matches!(job.state, JobState::Succeeded | JobState::Downloaded),
        Goal::Downloaded => job.state == JobState::Downloaded,
    }
}

/// The outcome of a job another process finished.
fn finished_elsewhere(job: JobRecord, goal: Goal) -> Result<JobRecord, Error> {
    if reached(&job, goal) {
        return Ok(job);
    }
    Err(match (job.state, job.video_id, job.state.status()) {
        (JobState::Abandoned, video_id, _) => Error::Abandoned {
            job_id: job.id,
            video_id,
        },
        (state, Some(video_id), Some(status)) if state.failed_for_good() => {
            Error::Generation { video_id, status }
        }
        (state, _, _) => Error::AlreadyFailed {
            job_id: job.id,
            state,
            reason: job
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown reason".to_owned()),
        },
    })
}

/// Journaled paths are absolute, so `resume` works from any directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
