//! The end-to-end job — validate, upload, journal, submit, wait, download, sidecar — and
//! `resume`, which continues a journaled job from wherever it stopped.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use pixfuse_core::poll::JobShape;
use pixfuse_core::{Diagnostic, ImageSource, Job, validate_job};
use pixfuse_transport::{WaitEvent, WaitOutcome};
use uuid::Uuid;

use crate::client::{Client, VideoStatus, video_status};
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, JobState, NewJob, StatusUpdate};
use crate::sidecar::Sidecar;

/// A job the server accepted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Submission {
    pub job_id: i64,
    pub trace_id: Uuid,
    pub video_id: u64,
    pub credits: Option<i64>,
}

/// How a job ended (successfully).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobOutcome {
    /// The journal's id, when the job is journaled.
    pub job_id: Option<i64>,
    pub trace_id: Option<Uuid>,
    pub video_id: u64,
    pub status: i64,
    pub output: PathBuf,
    pub sidecar: Option<PathBuf>,
    pub credits: Option<i64>,
    pub url: String,
}

type OnEvent<'a> = dyn FnMut(Event) + Send + 'a;

impl Client {
    /// Validates `job`: errors refuse it, warnings come back (and [`Client::run_with`] turns them
    /// into [`Event::Warning`]s).
    pub fn check(&self, job: &Job) -> Result<Vec<Diagnostic>, Error> {
        let diagnostics = validate_job(job, &self.inner.validate);
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(Error::Invalid { diagnostics });
        }
        Ok(diagnostics)
    }

    /// The whole job: the video ends up at `output`, with `<output>.json` beside it.
    pub async fn run(&self, job: Job, output: &Path) -> Result<JobOutcome, Error> {
        self.run_with(job, output, |_| {}).await
    }

    /// [`Client::run`], reporting progress to `on_event`.
    pub async fn run_with(
        &self,
        job: Job,
        output: &Path,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<JobOutcome, Error> {
        let submission = self.submit_inner(job, Some(output), &mut on_event).await?;
        self.finish(submission.job_id, Some(output), &mut on_event)
            .await
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
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<Submission, Error> {
        self.submit_inner(job, output, &mut on_event).await
    }

    async fn submit_inner(
        &self,
        mut job: Job,
        output: Option<&Path>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<Submission, Error> {
        for warning in self.check(&job)? {
            on_event(Event::Warning {
                code: warning.code.to_owned(),
                path: warning.path,
                message: warning.message,
            });
        }
        self.upload_sources(&mut job, on_event).await?;
        let request = match job.to_request_json() {
            Ok(value) => value.to_string(),
            // upload_sources resolved every source; this is a bug, not a user error.
            Err(unresolved) => return Err(Error::Config(unresolved.to_string())),
        };
        if let Some(twin) = self
            .journal()
            .find_unfinished_duplicate(&self.inner.base_url, &request)?
        {
            on_event(Event::Warning {
                code: "duplicate_unfinished_job".to_owned(),
                path: String::new(),
                message: format!(
                    "job {} sent this exact request and is not finished; this submits a new, \
                     separately billed video (`pixfuse resume {}` would finish the earlier one)",
                    twin.id, twin.id
                ),
            });
        }
        let output = output.map(absolute);
        let trace_id = Uuid::new_v4();
        // Write-ahead: durable before a single byte of the submit is sent.
        let record = self.journal().begin_job(&NewJob {
            trace_id,
            request: &request,
            provider: self.inner.provider.as_str(),
            base_url: &self.inner.base_url,
            output_path: output.as_deref(),
        })?;
        on_event(Event::Journaled {
            job_id: record.id,
            trace_id,
        });
        self.send_submit(&record, on_event).await
    }

    /// Sends (or resends, with the same trace id) the journaled request of `record`.
    async fn send_submit(
        &self,
        record: &JobRecord,
        on_event: &mut OnEvent<'_>,
    ) -> Result<Submission, Error> {
        let body = Bytes::from(record.request.clone());
        match self.inner.transport.submit(body, record.trace_id).await {
            Ok(submitted) => {
                self.journal().record_submitted(
                    record.id,
                    submitted.video_id,
                    submitted.credits,
                )?;
                on_event(Event::Submitted {
                    job_id: record.id,
                    video_id: submitted.video_id,
                    credits: submitted.credits,
                });
                Ok(Submission {
                    job_id: record.id,
                    trace_id: record.trace_id,
                    video_id: submitted.video_id,
                    credits: submitted.credits,
                })
            }
            Err(e) => {
                // Only a definite refusal by the server ends the job; anything else (network,
                // retries exhausted) stays resumable with the same trace id.
                let refused =
                    !e.is_retryable() && e.status().is_some() && !e.may_have_reached_server();
                let journal = self.journal();
                if refused {
                    journal.record_failed(record.id, &e.to_string())?;
                } else {
                    journal.record_error(record.id, &e.to_string())?;
                }
                if e.err_code() == Some(INVALID_IMAGE_ID) {
                    // The server forgot (or never had) an image we cached: upload it again
                    // next time instead of failing the same way forever.
                    journal.forget_uploads(&record.base_url, &img_ids_of(&record.request))?;
                }
                Err(e.into())
            }
        }
    }

    /// Replaces each local path or URL by an img_id, uploading each distinct file once.
    async fn upload_sources(&self, job: &mut Job, on_event: &mut OnEvent<'_>) -> Result<(), Error> {
        for reference in &mut job.image_references {
            let img_id = match &reference.source {
                ImageSource::ImgId(_) => continue,
                ImageSource::Path(p) => self.upload_with(Path::new(p), on_event).await?.img_id,
                ImageSource::Url(u) => self.upload_url(u).await?.img_id,
            };
            reference.source = ImageSource::ImgId(img_id);
        }
        Ok(())
    }

    /// Waits until the video is done. On success returns its status; a failed, moderated or
    /// deleted video is an [`Error::Generation`]; the wait timeout is [`Error::StillRunning`].
    pub async fn wait(&self, video_id: u64) -> Result<VideoStatus, Error> {
        self.wait_with(video_id, |_| {}).await
    }

    /// [`Client::wait`], reporting each poll to `on_event`.
    pub async fn wait_with(
        &self,
        video_id: u64,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<VideoStatus, Error> {
        let job_id = self.journal().find_by_video_id(video_id)?.map(|r| r.id);
        self.wait_inner(video_id, job_id, &mut on_event).await
    }

    async fn wait_inner(
        &self,
        video_id: u64,
        job_id: Option<i64>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<VideoStatus, Error> {
        let (shape, already_running) = match job_id {
            Some(id) => shape_of(&self.journal().get(id)?),
            None => (JobShape::default(), Duration::ZERO),
        };
        let mut forward = |event: WaitEvent| match event {
            WaitEvent::Polled {
                video_id,
                status,
                elapsed,
                polls,
                ..
            } => on_event(Event::Polled {
                video_id,
                status: status.code(),
                elapsed,
                polls,
            }),
            WaitEvent::PollFailed {
                error,
                next_poll_in,
                polls,
                ..
            } => on_event(Event::Retrying {
                what: format!("status poll {polls}"),
                attempt: polls,
                delay: next_poll_in,
                reason: error.to_string(),
            }),
            _ => {}
        };
        let outcome = self
            .inner
            .transport
            .wait_for(
                video_id,
                &shape,
                already_running,
                self.inner.wait_timeout,
                &mut forward,
            )
            .await;
        let finished = match outcome {
            Ok(WaitOutcome::Finished(status)) => status,
            Ok(WaitOutcome::StillRunning { .. }) => {
                let resume_command = match job_id {
                    Some(id) => format!("pixfuse resume {id}"),
                    None => format!("pixfuse wait {video_id}"),
                };
                if let Some(id) = job_id {
                    self.journal()
                        .record_error(id, "still running when the wait timeout expired")?;
                }
                return Err(Error::StillRunning {
                    job_id,
                    video_id,
                    resume_command,
                });
            }
            Err(e) => {
                if let Some(id) = job_id {
                    self.journal().record_error(id, &e.to_string())?;
                }
                return Err(e.into());
            }
        };
        let status = video_status(&finished);
        if let Some(id) = job_id {
            self.journal().record_status(id, &update_of(&status))?;
        }
        match status.status {
            1 => {
                if let Some(url) = &status.url {
                    on_event(Event::Ready {
                        video_id,
                        url: url.clone(),
                    });
                }
                Ok(status)
            }
            other => Err(Error::Generation {
                video_id,
                status: other,
            }),
        }
    }

    /// Downloads the finished video `video_id` to `dest` (polling once for its URL), and writes
    /// the sidecar when the journal knows the job.
    pub async fn download(&self, video_id: u64, dest: &Path) -> Result<JobOutcome, Error> {
        let record = self.journal().find_by_video_id(video_id)?;
        let status = self.status(video_id).await?;
        if let Some(r) = &record {
            self.journal().record_status(r.id, &update_of(&status))?;
        }
        match (&status.url, status.status) {
            (Some(_), 1) => {}
            (_, 6..=8) => {
                return Err(Error::Generation {
                    video_id,
                    status: status.status,
                });
            }
            _ => {
                let job_id = record.as_ref().map(|r| r.id);
                return Err(Error::StillRunning {
                    job_id,
                    video_id,
                    resume_command: match job_id {
                        Some(id) => format!("pixfuse resume {id}"),
                        None => format!("pixfuse wait {video_id}"),
                    },
                });
            }
        }
        self.fetch(record.map(|r| r.id), &status, dest, &mut |_| {})
            .await
    }

    /// Downloads a ready video and, for a journaled job, records it and writes the sidecar.
    async fn fetch(
        &self,
        job_id: Option<i64>,
        status: &VideoStatus,
        dest: &Path,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobOutcome, Error> {
        let url = status.url.clone().unwrap_or_default();
        let dest = absolute(dest);
        let bytes = self.download_url_with(&url, &dest, on_event).await?;
        on_event(Event::Downloaded {
            path: dest.clone(),
            bytes,
        });
        let mut outcome = JobOutcome {
            job_id,
            trace_id: None,
            video_id: status.video_id,
            status: status.status,
            output: dest.clone(),
            sidecar: None,
            credits: status.credits,
            url,
        };
        if let Some(id) = job_id {
            let record = {
                let journal = self.journal();
                journal.record_downloaded(id, &dest)?;
                journal.get(id)?
            };
            let sidecar = Sidecar::from_record(&record, &dest)
                .write(&dest)
                .map_err(|e| Error::io("cannot write the sidecar next to", &dest, e))?;
            on_event(Event::SidecarWritten {
                path: sidecar.clone(),
            });
            outcome.trace_id = Some(record.trace_id);
            outcome.credits = record.credits;
            outcome.sidecar = Some(sidecar);
        }
        Ok(outcome)
    }

    /// Continues journaled job `job_id` from where it stopped: an unanswered submit is resent
    /// with its same trace id (the vendor answers with the earlier result; nothing is billed
    /// twice); a job with a video id is only polled; a finished job is downloaded again only if
    /// its file is missing. `output` overrides the journaled destination.
    pub async fn resume(
        &self,
        job_id: i64,
        output: Option<&Path>,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<JobOutcome, Error> {
        if let Some(path) = output {
            self.journal().record_output_path(job_id, &absolute(path))?;
        }
        let record = self.journal().get(job_id)?;
        // A trace id only deduplicates at the server that first saw it: sending the job
        // elsewhere could make (and bill) a second video.
        if record.base_url != self.inner.base_url {
            return Err(Error::OtherServer {
                job_id,
                base_url: record.base_url,
            });
        }
        match record.state {
            JobState::Failed => {
                return Err(Error::AlreadyFailed {
                    job_id,
                    reason: record
                        .last_error
                        .unwrap_or_else(|| "unknown reason".to_owned()),
                });
            }
            JobState::Prepared => {
                self.send_submit(&record, &mut on_event).await?;
            }
            JobState::Downloaded if !record.needs_resume() => {
                return outcome_of(&record);
            }
            JobState::Submitted | JobState::Succeeded | JobState::Downloaded => {}
        }
        self.finish(job_id, None, &mut on_event).await
    }

    /// Waits for a submitted job and downloads it to `output` (or its journaled destination).
    async fn finish(
        &self,
        job_id: i64,
        output: Option<&Path>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobOutcome, Error> {
        let record = self.journal().get(job_id)?;
        let Some(video_id) = record.video_id else {
            return Err(Error::Config(format!(
                "job {job_id} has no video id yet; run `pixfuse resume {job_id}`"
            )));
        };
        let dest = match (output, &record.output_path) {
            (Some(p), _) => p.to_owned(),
            (None, Some(p)) => p.clone(),
            (None, None) => PathBuf::from(format!("pixfuse-{video_id}.mp4")),
        };
        // A finished job's URL may have expired since: one fresh status gives a current one.
        let status = match record.state {
            JobState::Succeeded | JobState::Downloaded => {
                let status = self.status(video_id).await?;
                if status.is_ready() {
                    self.journal().record_status(job_id, &update_of(&status))?;
                    status
                } else {
                    self.wait_inner(video_id, Some(job_id), on_event).await?
                }
            }
            _ => self.wait_inner(video_id, Some(job_id), on_event).await?,
        };
        self.fetch(Some(job_id), &status, &dest, on_event).await
    }
}

/// What a status answer tells the journal.
fn update_of(status: &VideoStatus) -> StatusUpdate {
    StatusUpdate {
        vendor_status: status.status,
        url: status.url.clone(),
        credits: status.credits,
        seed: status.seed,
    }
}

/// ErrCode of an img_id the server does not know.
const INVALID_IMAGE_ID: i64 = 400032;

/// The img_ids a journaled request refers to.
fn img_ids_of(request: &str) -> Vec<u64> {
    let request: serde_json::Value = serde_json::from_str(request).unwrap_or_default();
    request["image_references"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["img_id"].as_u64()).collect())
        .unwrap_or_default()
}

/// What the journaled request says about how long the job takes, and how long it has run.
fn shape_of(record: &JobRecord) -> (JobShape, Duration) {
    let request: serde_json::Value = serde_json::from_str(&record.request).unwrap_or_default();
    let shape = JobShape {
        model: request["model"].as_str().map(pixfuse_core::Model::from),
        duration: request["duration"]
            .as_u64()
            .and_then(|d| u32::try_from(d).ok()),
        quality: request["quality"].as_str().map(pixfuse_core::Quality::from),
    };
    let running = record.submitted_ms.map_or(Duration::ZERO, |at| {
        Duration::from_millis(u64::try_from(crate::journal::now_ms() - at).unwrap_or(0))
    });
    (shape, running)
}

fn outcome_of(record: &JobRecord) -> Result<JobOutcome, Error> {
    let output = record.output_path.clone().unwrap_or_default();
    Ok(JobOutcome {
        job_id: Some(record.id),
        trace_id: Some(record.trace_id),
        video_id: record.video_id.unwrap_or_default(),
        status: record.vendor_status.unwrap_or(1),
        sidecar: Some(crate::sidecar::sidecar_path(&output)),
        output,
        credits: record.credits,
        url: record.url.clone().unwrap_or_default(),
    })
}

/// Journaled paths are absolute, so `resume` works from any directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
