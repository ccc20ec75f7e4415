//! Continuing journaled jobs: `resume` (from wherever a job stopped), `wait` and `download` of a
//! video by its id.

use std::path::Path;

use pixfuse_core::lifecycle::Goal;

use crate::client::{Client, VideoStatus};
use crate::drive::DriveOptions;
use crate::error::Error;
use crate::event::Event;
use crate::journal::JobRecord;
use crate::run::{JobOutcome, OnEvent, absolute};

impl Client {
    /// Continues journaled job `job_id` from where it stopped: an unanswered submit is resent
    /// with its same trace id (the vendor answers with the earlier result; nothing is billed
    /// twice); a job with a video id is only polled; a finished job is downloaded again only if
    /// its file is missing; one refused before billing is tried again with a new trace id.
    /// `output` overrides the journaled destination. A job another live process runs is waited
    /// for instead.
    pub async fn resume(
        &self,
        job_id: i64,
        output: Option<&Path>,
        mut on_event: impl FnMut(Event) + Send,
    ) -> Result<JobOutcome, Error> {
        let record = self
            .continue_job(job_id, output, Goal::Downloaded, &mut on_event)
            .await?;
        Ok(JobOutcome::of(&record))
    }

    /// Claims journaled job `job_id` and drives it to `goal`.
    async fn continue_job(
        &self,
        job_id: i64,
        output: Option<&Path>,
        goal: Goal,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        let record = self.job(job_id).await?;
        self.check_origin(&record)?;
        if record.state.failed_for_good() || record.state == crate::JobState::Abandoned {
            return Err(Error::AlreadyFailed {
                job_id,
                state: record.state,
                reason: record
                    .last_error
                    .unwrap_or_else(|| format!("the job is {}", record.state)),
            });
        }
        let output = output.map(absolute);
        if let Some(output) = &output {
            crate::output::prove_writable(output)?;
        }
        self.settle_releases().await;
        let claimed = self
            .store()
            .claim_job(job_id, &self.inner.owner, self.inner.lease)
            .await?;
        let opts = DriveOptions {
            form: None,
            output,
            retry_refused: true,
        };
        self.continue_claimed(claimed, goal, opts, on_event).await
    }

    /// A trace id only deduplicates at the server that first saw it: sending the job elsewhere
    /// could make (and bill) a second video.
    fn check_origin(&self, record: &JobRecord) -> Result<(), Error> {
        if record.origin == self.inner.origin {
            return Ok(());
        }
        Err(Error::OtherServer {
            job_id: record.id,
            base_url: record.base_url.clone(),
        })
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
        let record = match self
            .store()
            .job_by_video(&self.inner.origin, video_id)
            .await?
        {
            Some(job) => {
                self.continue_job(job.id, None, Goal::Ready, &mut on_event)
                    .await?
            }
            None => {
                self.drive_unjournaled(video_id, Goal::Ready, None, &mut on_event)
                    .await?
            }
        };
        Ok(VideoStatus::of_record(&record, video_id))
    }

    /// Downloads the finished video `video_id` to `dest` (polling for a fresh URL), and writes
    /// the sidecar when the journal knows the job.
    pub async fn download(&self, video_id: u64, dest: &Path) -> Result<JobOutcome, Error> {
        let dest = absolute(dest);
        crate::output::prove_writable(&dest)?;
        let mut on_event = |_: Event| {};
        let record = match self
            .store()
            .job_by_video(&self.inner.origin, video_id)
            .await?
        {
            Some(job) => {
                self.continue_job(job.id, Some(&dest), Goal::Downloaded, &mut on_event)
                    .await?
            }
            None => {
                self.drive_unjournaled(video_id, Goal::Downloaded, Some(dest), &mut on_event)
                    .await?
            }
        };
        Ok(JobOutcome::of(&record))
    }
}
