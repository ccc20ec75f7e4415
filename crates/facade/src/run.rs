//! The end-to-end job and its first half: validate, upload, journal (write-ahead), submit.
//! Waiting is in `wait.rs`; downloading and resuming in `resume.rs`.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use pixfuse_core::{Diagnostic, ImageSource, Job, validate_job};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, NewJob};

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

pub(crate) type OnEvent<'a> = dyn FnMut(Event) + Send + 'a;

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
            Err(unresolved) => return Err(Error::Internal(unresolved.to_string())),
        };
        if let Some(twin) = self
            .journal()
            .find_unfinished_duplicate(&self.inner.origin, &request)?
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
        if let Some(dir) = output.as_deref().and_then(Path::parent) {
            // Fail on an unwritable destination now, not after the video is paid for.
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::io("cannot create the output directory", dir, e))?;
        }
        let trace_id = Uuid::new_v4();
        // Write-ahead: durable before a single byte of the submit is sent.
        let record = self.journal().begin_job(&NewJob {
            trace_id,
            request: &request,
            provider: self.inner.provider.as_str(),
            base_url: &self.inner.origin,
            output_path: output.as_deref(),
        })?;
        on_event(Event::Journaled {
            job_id: record.id,
            trace_id,
        });
        self.send_submit(&record, on_event).await
    }

    /// Sends (or resends, with the same trace id) the journaled request of `record`.
    pub(crate) async fn send_submit(
        &self,
        record: &JobRecord,
        on_event: &mut OnEvent<'_>,
    ) -> Result<Submission, Error> {
        let body = Bytes::from(record.request.clone());
        match self.transport().submit(body, record.trace_id).await {
            Ok(submitted) => {
                self.journal()
                    .record_submitted(record.id, submitted.video_id, submitted.credits)
                    .map_err(|e| Error::journal_write(record.id, "the video id", e))?;
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
                let recorded = if refused {
                    journal.record_failed(record.id, &e.to_string())
                } else {
                    journal.record_error(record.id, &e.to_string())
                };
                recorded
                    .map_err(|source| Error::journal_write(record.id, "the failure", source))?;
                if e.err_code() == Some(pixfuse_core::errcode::INVALID_IMAGE_ID) {
                    // The server forgot (or never had) an image we cached: upload it again
                    // next time instead of failing the same way forever.
                    journal.forget_uploads(&record.base_url, &img_ids_of(&record.request))?;
                }
                Err(Error::from(e).for_job(record.id))
            }
        }
    }

    /// Replaces each local path or URL by an img_id, uploading each distinct file once.
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
        Ok(())
    }
}

/// The img_ids a journaled request refers to.
fn img_ids_of(request: &str) -> Vec<u64> {
    let request: serde_json::Value = serde_json::from_str(request).unwrap_or_default();
    request["image_references"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["img_id"].as_u64()).collect())
        .unwrap_or_default()
}

/// Journaled paths are absolute, so `resume` works from any directory.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
