//! Waiting for a video: the transport's poll loop, its progress as events, the outcome in the
//! journal.

use std::time::Duration;

use pixfuse_core::poll::JobShape;
use pixfuse_transport::{WaitEvent, WaitOutcome};

use crate::client::{Client, VideoStatus, video_status};
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, StatusUpdate};
use crate::run::OnEvent;

impl Client {
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
        // Only a job sent to this server can be this video: another server's ids are its own.
        let job_id = self
            .journal()
            .find_by_video_id(&self.inner.origin, video_id)?
            .map(|r| r.id);
        self.wait_inner(video_id, job_id, &mut on_event).await
    }

    pub(crate) async fn wait_inner(
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
            .transport()
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
                let Some(id) = job_id else {
                    return Err(e.into());
                };
                self.journal().record_error(id, &e.to_string())?;
                return Err(Error::from(e).for_job(id));
            }
        };
        let status = video_status(&finished);
        if let Some(other) = status.answered_for {
            on_event(Event::Warning {
                code: "status_for_other_id".to_owned(),
                path: String::new(),
                message: format!(
                    "the status answer for video {video_id} names video {other}; keeping {video_id}"
                ),
            });
        }
        if let Some(id) = job_id {
            self.journal()
                .record_status(id, &update_of(&status))
                .map_err(|e| Error::journal_write(id, "the status", e))?;
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
}

/// What a status answer tells the journal.
pub(crate) fn update_of(status: &VideoStatus) -> StatusUpdate {
    StatusUpdate {
        vendor_status: status.status,
        url: status.url.clone(),
        credits: status.credits,
        seed: status.seed,
    }
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
