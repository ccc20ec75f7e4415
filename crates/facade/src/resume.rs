//! Downloading a finished video (with its sidecar) and `resume`, which continues a journaled
//! job from wherever it stopped.

use std::path::{Path, PathBuf};

use pixfuse_transport::{DownloadOptions, discard_partial, partial_path};

use crate::client::{Client, VideoStatus};
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, JobState};
use crate::run::{JobOutcome, OnEvent, absolute};
use crate::sidecar::Sidecar;
use crate::wait::update_of;

impl Client {
    /// Downloads the finished video `video_id` to `dest` (polling once for its URL), and writes
    /// the sidecar when the journal knows the job.
    pub async fn download(&self, video_id: u64, dest: &Path) -> Result<JobOutcome, Error> {
        let record = self
            .journal()
            .find_by_video_id(&self.inner.origin, video_id)?;
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
    /// The bytes collect in a partial file named after the job (or the video), which a later
    /// call continues; a partial left for another destination of the same job is removed once
    /// the video is in place.
    async fn fetch(
        &self,
        job_id: Option<i64>,
        status: &VideoStatus,
        dest: &Path,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobOutcome, Error> {
        let url = status.url.clone().unwrap_or_default();
        let dest = absolute(dest);
        let owner = match job_id {
            Some(id) => id.to_string(),
            None => format!("v{}", status.video_id),
        };
        let options = DownloadOptions {
            partial: Some(partial_path(&dest, &owner)),
            expected_len: status.size_bytes,
        };
        let earlier_output = match job_id {
            Some(id) => self.journal().get(id)?.output_path,
            None => None,
        };
        let bytes = self
            .download_url_with(&url, &dest, &options, on_event)
            .await
            .map_err(|e| match job_id {
                Some(id) => e.for_job(id),
                None => e,
            })?;
        if let Some(earlier) = earlier_output.filter(|p| *p != dest) {
            let _ = discard_partial(&partial_path(&earlier, &owner));
        }
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
                journal
                    .record_downloaded(id, &dest)
                    .map_err(|e| Error::journal_write(id, "the download", e))?;
                journal.get(id)?
            };
            outcome.trace_id = Some(record.trace_id);
            outcome.credits = record.credits;
            outcome.sidecar = self.write_sidecar(&record, &dest, on_event)?;
        }
        Ok(outcome)
    }

    /// Writes the sidecar of a downloaded job. A failure does not undo the video: it is a
    /// warning, recorded in the journal, and `resume` writes the sidecar later.
    fn write_sidecar(
        &self,
        record: &JobRecord,
        dest: &Path,
        on_event: &mut OnEvent<'_>,
    ) -> Result<Option<PathBuf>, Error> {
        match Sidecar::from_record(record, dest).write(dest) {
            Ok(path) => {
                on_event(Event::SidecarWritten { path: path.clone() });
                Ok(Some(path))
            }
            Err(e) => {
                let path = crate::sidecar::sidecar_path(dest);
                let message = format!(
                    "the video is saved, but its sidecar {} could not be written ({e}); `pixfuse resume {}` writes it once the path is writable",
                    path.display(),
                    record.id
                );
                self.journal()
                    .record_error(record.id, &message)
                    .map_err(|e| Error::journal_write(record.id, "the missing sidecar", e))?;
                on_event(Event::Warning {
                    code: "sidecar_not_written".to_owned(),
                    path: String::new(),
                    message,
                });
                Ok(None)
            }
        }
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
            let path = absolute(path);
            let earlier = self.journal().get(job_id)?.output_path;
            self.journal().record_output_path(job_id, &path)?;
            // A partial download for the old destination will never be continued.
            if let Some(earlier) = earlier.filter(|p| *p != path) {
                let _ = discard_partial(&partial_path(&earlier, &job_id.to_string()));
            }
        }
        let record = self.journal().get(job_id)?;
        // A trace id only deduplicates at the server that first saw it: sending the job
        // elsewhere could make (and bill) a second video.
        if record.base_url != self.inner.origin {
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
            JobState::Downloaded if record.output_path.as_deref().is_some_and(Path::exists) => {
                let mut outcome = outcome_of(&record)?;
                if outcome.sidecar.as_deref().is_some_and(|p| !p.is_file()) {
                    // The video is here; only its sidecar is missing (a blocked path earlier).
                    outcome.sidecar =
                        self.write_sidecar(&record, &outcome.output, &mut on_event)?;
                    if outcome.sidecar.is_none() {
                        return Err(Error::io(
                            "cannot write the sidecar next to",
                            &outcome.output,
                            std::io::Error::other("the path is still blocked"),
                        ));
                    }
                    self.journal().clear_error(job_id)?;
                }
                return Ok(outcome);
            }
            JobState::Submitted | JobState::Succeeded | JobState::Downloaded => {}
        }
        self.finish(job_id, None, &mut on_event).await
    }

    /// Waits for a submitted job and downloads it to `output` (or its journaled destination).
    pub(crate) async fn finish(
        &self,
        job_id: i64,
        output: Option<&Path>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobOutcome, Error> {
        let record = self.journal().get(job_id)?;
        let Some(video_id) = record.video_id else {
            // Callers submit (or find the video id) first; reaching here is a bug.
            return Err(Error::Internal(format!(
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
                let status = self.status(video_id).await.map_err(|e| e.for_job(job_id))?;
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
