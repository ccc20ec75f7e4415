//! Waiting for a job: poll on core's schedule until a final status or the caller's deadline.

use std::time::{Duration, Instant};

use pixfuse_core::poll::{self, Age, JobShape, JobStatus};

use crate::api::VideoStatus;
use crate::client::{Transport, jitter};
use crate::error::TransportError;

/// Progress while waiting.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitEvent {
    /// A poll answered.
    Polled {
        /// The video asked about.
        video_id: u64,
        /// What the poll answered.
        status: JobStatus,
        /// Since `wait` started.
        elapsed: Duration,
        /// Polls so far, this one included.
        polls: u32,
        /// The job's age in the vendor's terms (stuck after 10 min, refunded after 2 h).
        age: Age,
        /// Delay before the next poll (`None` when this status is final).
        next_poll_in: Option<Duration>,
    },
    /// A poll failed after the transport's own retries; waiting continues.
    PollFailed {
        /// The video asked about.
        video_id: u64,
        /// Since `wait` started.
        elapsed: Duration,
        /// Polls so far, this one included.
        polls: u32,
        /// Why the poll failed.
        error: TransportError,
        /// Delay before the next poll.
        next_poll_in: Duration,
    },
}

/// How waiting ended.
#[derive(Debug)]
pub enum WaitOutcome {
    /// Status 1, 6, 7 or 8.
    Finished(VideoStatus),
    /// The deadline passed first. The job keeps running (and may still bill); wait again
    /// later with the same id.
    StillRunning {
        /// The video waited for.
        video_id: u64,
        /// The last status that arrived, if any did.
        last: Option<VideoStatus>,
        /// Time spent waiting.
        elapsed: Duration,
        /// Polls made.
        polls: u32,
    },
}

impl Transport {
    /// Waits for `video_id` with no knowledge of the job's shape.
    pub async fn wait(
        &self,
        video_id: u64,
        deadline: Option<Duration>,
        on_event: &mut (dyn FnMut(WaitEvent) + Send),
    ) -> Result<WaitOutcome, TransportError> {
        self.wait_for(
            video_id,
            &JobShape::default(),
            Duration::ZERO,
            deadline,
            on_event,
        )
        .await
    }

    /// Waits for `video_id`, spacing polls by the configured [`poll::PollPolicy`] for a job
    /// of `shape` that has already been running for `already_running` (e.g. since its
    /// submission, when resuming). Returns on a final status, on a non-retryable poll error
    /// (bad key, unknown id), or with [`WaitOutcome::StillRunning`] once `deadline` (measured
    /// from this call) or the handle's own deadline ([`Transport::with_deadline`]) has passed.
    /// A success without a usable URL is not final: it is polled again.
    pub async fn wait_for(
        &self,
        video_id: u64,
        shape: &JobShape,
        already_running: Duration,
        deadline: Option<Duration>,
        on_event: &mut (dyn FnMut(WaitEvent) + Send),
    ) -> Result<WaitOutcome, TransportError> {
        let policy = self.inner.config.poll;
        let started = Instant::now();
        let mut polls = 0u32;
        let mut last = None;
        // A fresh job cannot be ready yet; a resumed one may have finished long ago.
        let mut delay = if already_running.is_zero() {
            poll::next_poll(policy, shape, Duration::ZERO, jitter())
        } else {
            Duration::ZERO
        };
        let still_running = |last, polls| {
            Ok(WaitOutcome::StillRunning {
                video_id,
                last,
                elapsed: started.elapsed(),
                polls,
            })
        };
        loop {
            if let Some(limit) = deadline {
                let left = limit.saturating_sub(started.elapsed());
                // Poll once more at the deadline rather than give up early, but never after.
                if left.is_zero() {
                    return still_running(last, polls);
                }
                delay = delay.min(left);
            }
            // The handle's deadline ends the whole call: no poll starts at or after it.
            if let Some(left) = self.time_left()
                && left <= delay
            {
                tokio::time::sleep(left).await;
                return still_running(last, polls);
            }
            tokio::time::sleep(delay).await;
            polls += 1;
            let elapsed = started.elapsed();
            let age_then = already_running + elapsed;
            let next = poll::next_poll(policy, shape, age_then, jitter());
            match self.status(video_id).await {
                Ok(status) => {
                    let unusable = status.status == JobStatus::Succeeded && status.url.is_none();
                    if unusable {
                        tracing::warn!(video_id, "status 1 (success) without a url; asking again");
                    }
                    let is_final = status.status.is_final() && !unusable;
                    if let JobStatus::Unknown(code) = status.status {
                        tracing::warn!(video_id, code, "undocumented job status; still waiting");
                    }
                    on_event(WaitEvent::Polled {
                        video_id,
                        status: status.status,
                        elapsed,
                        polls,
                        age: poll::age(shape, age_then),
                        next_poll_in: (!is_final).then_some(next),
                    });
                    if is_final {
                        return Ok(WaitOutcome::Finished(status));
                    }
                    last = Some(status);
                }
                Err(error) if error.is_timed_out() => return still_running(last, polls),
                Err(error) if error.is_retryable() => on_event(WaitEvent::PollFailed {
                    video_id,
                    elapsed,
                    polls,
                    error,
                    next_poll_in: next,
                }),
                Err(error) => return Err(error),
            }
            delay = next;
        }
    }
}
