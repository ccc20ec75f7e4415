//! This machine's record of how long jobs took to generate, read from the journal, for the
//! progress display's estimate of the time left ([`pixfuse_core::eta`]).

use std::time::Duration;

use pixfuse_core::eta::{self, Expected};
use pixfuse_core::poll::{JobShape, JobStatus};

use crate::journal::JobRecord;
use crate::{Client, Error, Job};

/// The most recent finished jobs an estimate looks at: the service's speed changes, so old
/// jobs say little.
const RECENT: usize = 20;

impl Client {
    /// How long `job` should take from its submit to the video being ready: the median of the
    /// last finished jobs of the same model, quality and duration in the journal, else the
    /// capability table's guess.
    pub async fn expected_generation(&self, job: &Job) -> Result<Expected, Error> {
        let jobs = self.jobs().await?;
        Ok(eta::expected(
            &JobShape::from(job),
            &generation_times(&jobs, job),
        ))
    }

    /// [`Client::expected_generation`] of the journaled job that made `video_id`; `None` when
    /// the journal does not know the video (submitted elsewhere).
    pub async fn expected_generation_of_video(
        &self,
        video_id: u64,
    ) -> Result<Option<Expected>, Error> {
        self.expected_generation_of(|r| r.video_id == Some(video_id))
            .await
    }

    /// [`Client::expected_generation`] of the journal's job `job_id` (what `resume` shows);
    /// `None` when the journal has no such job or it never recorded a request.
    pub async fn expected_generation_of_job(&self, job_id: i64) -> Result<Option<Expected>, Error> {
        self.expected_generation_of(|r| r.id == job_id).await
    }

    /// The estimate for the first journaled job `which` picks, against this journal's history.
    async fn expected_generation_of(
        &self,
        which: impl Fn(&JobRecord) -> bool,
    ) -> Result<Option<Expected>, Error> {
        let jobs = self.jobs().await?;
        let Some(job) = jobs.iter().find(|r| which(r)).and_then(JobRecord::sent_job) else {
            return Ok(None);
        };
        Ok(Some(eta::expected(
            &JobShape::from(&job),
            &generation_times(&jobs, &job),
        )))
    }
}

/// Generation times (submit to finish) of the newest [`RECENT`] succeeded jobs shaped like
/// `job`, newest first (`jobs` is newest first, as the journal lists them).
fn generation_times(jobs: &[JobRecord], job: &Job) -> Vec<Duration> {
    jobs.iter()
        .filter(|r| r.status == Some(JobStatus::Succeeded))
        .filter_map(|r| {
            let sent = r.sent_job()?;
            let same = sent.model == job.model
                && sent.quality == job.quality
                && sent.duration == job.duration;
            let took = u64::try_from(r.finished_ms?.checked_sub(r.submitted_ms?)?).ok()?;
            same.then(|| Duration::from_millis(took))
        })
        .take(RECENT)
        .collect()
}
