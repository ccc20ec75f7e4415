//! The lifecycle of one job as a state machine: inputs and the current time in, actions out,
//! and the instant of the next timeout. The caller (the facade) executes each action — upload,
//! persist, submit, poll, download — and feeds back what happened.
//!
//! Two rules are enforced here rather than left to callers:
//! - **write-ahead**: [`Action::Submit`] is only ever emitted while the job is `claimed`, right
//!   after the [`Action::Persist`] that made it so (or when continuing a job the journal already
//!   holds as claimed);
//! - **one trace id per bill**: the trace id never changes, except by [`Input::Restart`] while
//!   the job is `refused_before_billing` — the one state in which the server definitely billed
//!   nothing for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::state::JobState;
use super::submit::SubmitFailure;
use crate::poll::{self, JobShape, JobStatus, PollPolicy};

/// How far the caller wants the job taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Goal {
    /// Until the server accepted the submit (`pixfuse submit`).
    Submitted,
    /// Until the video is ready (`pixfuse wait`).
    Ready,
    /// Until the video is on disk (`pixfuse run`, `resume`, `batch`).
    Downloaded,
}

/// What the machine is told besides its inputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// How far to take the job.
    pub goal: Goal,
    /// How to space status polls.
    pub poll: PollPolicy,
    /// What the request says about how long the job takes.
    pub shape: JobShape,
    /// How often to look at the journal between polls: another process or a webhook receiver
    /// may have recorded the job's end there first.
    pub journal_every: Duration,
    /// What changes while a webhook receiver on the journal is live ([`Input::Receiver`]).
    pub receiver: ReceiverCadence,
    /// Stop waiting at this instant (the job keeps running on the server).
    pub wait_until: Option<Instant>,
    /// Whether a job found `refused_before_billing` is tried again (with a new trace id): a
    /// rerun asks for it, `resume` of every job does not.
    pub retry_refused: bool,
    /// Automatic new attempts after the server forgot an image (400032): forget the cached
    /// upload, upload again, resubmit.
    pub reuploads: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            goal: Goal::Downloaded,
            poll: PollPolicy::Adaptive,
            shape: JobShape::default(),
            journal_every: Duration::from_secs(1),
            receiver: ReceiverCadence::default(),
            wait_until: None,
            retry_refused: true,
            reuploads: 1,
        }
    }
}

/// How a job is watched while a webhook receiver on the journal is live: the callback brings
/// the end, so the journal is read often and the API is only asked as a slow fallback (for a
/// callback that never comes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiverCadence {
    /// Whether a receiver is live when the job starts.
    pub live: bool,
    /// How often the journal is read meanwhile.
    pub journal_every: Duration,
    /// How far apart status polls are meanwhile.
    pub poll_every: Duration,
}

impl Default for ReceiverCadence {
    fn default() -> Self {
        ReceiverCadence {
            live: false,
            journal_every: Duration::from_millis(100),
            poll_every: Duration::from_secs(60),
        }
    }
}

/// Where a status came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A status poll of the API.
    Poll,
    /// The journal: another writer (a webhook receiver, another process) recorded it, so it
    /// is already durable.
    Journal,
    /// A verified callback the journal holds for the job's video, not yet written to the job
    /// (its process was driving it): persisted as a poll's answer is, but answers no poll.
    Callback,
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// Begin, or continue from the journaled state.
    Start {
        /// The job's output file exists.
        file_present: bool,
        /// How long the job has been on the server (since its submit).
        running_for: Duration,
    },
    /// The local images are uploaded and the request with their img_ids is built.
    Uploaded,
    /// The server accepted the submit.
    SubmitAccepted {
        /// The video id it answered with.
        video_id: u64,
    },
    /// The submit failed after the transport's retries.
    SubmitFailed(SubmitFailure),
    /// A new trace id for a job refused before billing (asked for by [`Action::NewTraceId`]).
    /// Ignored in every other state.
    Restart {
        /// The new trace id.
        trace_id: Uuid,
    },
    /// The job's status, from a poll or from the journal.
    Observed {
        /// The status.
        status: JobStatus,
        /// A download URL came with it.
        has_url: bool,
        /// Where it was seen.
        source: Source,
    },
    /// A webhook receiver on the journal became live (a fresh heartbeat) or went away: the
    /// journal is read and the API polled at the [`ReceiverCadence`], or as before.
    Receiver {
        /// Whether one is live now.
        live: bool,
    },
    /// A status poll failed.
    PollFailed {
        /// Polling again on the schedule may succeed (else waiting stops).
        retryable: bool,
    },
    /// The video is on disk.
    Downloaded,
    /// Time passed (the instant [`Lifecycle::poll_timeout`] gave, or later).
    Timeout,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make the transition durable (in the journal) before anything else.
    Persist {
        /// The state the journal must still hold.
        from: JobState,
        /// The state to record.
        to: JobState,
        /// Set when the transition gives the job a new trace id.
        trace_id: Option<Uuid>,
    },
    /// Upload the job's local images (the content-addressed cache makes repeats free) and
    /// build the request, then feed [`Input::Uploaded`].
    Upload,
    /// Forget the cached uploads of this job's images: the server no longer knows them.
    ForgetUploads,
    /// Mint a new trace id and feed [`Input::Restart`].
    NewTraceId,
    /// Send the journaled request with this trace id.
    Submit {
        /// The job's trace id.
        trace_id: Uuid,
    },
    /// Ask the API for the video's status.
    Poll {
        /// The video to ask about.
        video_id: u64,
    },
    /// Read the job's row in the journal; feed a status found there as [`Source::Journal`].
    CheckJournal,
    /// Download the video from the URL of the latest status (a poll's or the journal's).
    Download,
    /// Stop driving the job.
    Finish(End),
}

/// How driving a job stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// The goal is reached.
    Done,
    /// The wait deadline passed; the job keeps running on the server.
    StillRunning,
    /// Refused before billing, with no automatic attempt left.
    Refused,
    /// The server ended it badly: moderated, failed or deleted.
    FailedForGood(JobState),
    /// The concurrency limit refused the submit: resend later, same trace id.
    SlotRefused,
    /// The submit's fate is unknown: resend later, same trace id.
    Ambiguous,
    /// The job was given up; it is never continued.
    Abandoned,
}

/// One job's lifecycle.
#[derive(Clone, Debug)]
pub struct Lifecycle {
    state: JobState,
    trace_id: Uuid,
    video_id: Option<u64>,
    params: Params,
    file_present: bool,
    reuploads_left: u32,
    /// When the job went to the server (for the poll schedule).
    running_since: Option<Instant>,
    next_poll: Option<Instant>,
    /// A [`Action::Poll`] is out and not answered yet.
    polling: bool,
    next_journal: Option<Instant>,
    polls: u32,
    started: bool,
    actions: VecDeque<Action>,
    end: Option<End>,
    /// Cheap per-job randomness for poll jitter, seeded from the trace id.
    rng: u64,
}

impl Lifecycle {
    /// A job as the journal holds it. Every input before [`Input::Start`] is ignored.
    pub fn new(state: JobState, trace_id: Uuid, video_id: Option<u64>, params: Params) -> Self {
        let (hi, lo) = trace_id.as_u64_pair();
        Lifecycle {
            state,
            trace_id,
            video_id,
            reuploads_left: params.reuploads,
            params,
            file_present: false,
            running_since: None,
            next_poll: None,
            polling: false,
            next_journal: None,
            polls: 0,
            started: false,
            actions: VecDeque::new(),
            end: None,
            rng: (hi ^ lo) | 1,
        }
    }

    /// The current state.
    pub fn state(&self) -> JobState {
        self.state
    }

    /// The trace id every submit of this job carries.
    pub fn trace_id(&self) -> Uuid {
        self.trace_id
    }

    /// The video id, once the server gave one.
    pub fn video_id(&self) -> Option<u64> {
        self.video_id
    }

    /// Status polls made so far.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// How long the job has been on the server at `now`, as far as this process knows.
    pub fn running_for(&self, now: Instant) -> Duration {
        self.running_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// How driving ended, once it has.
    pub fn end(&self) -> Option<End> {
        self.end
    }

    /// The next action to execute, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When to feed [`Input::Timeout`] (nothing is due without one).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        [self.next_poll, self.next_journal, self.waiting_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The wait deadline, while the machine is waiting for the server.
    fn waiting_deadline(&self) -> Option<Instant> {
        self.params.wait_until.filter(|_| self.is_waiting())
    }

    fn is_waiting(&self) -> bool {
        self.next_poll.is_some() || self.polling || self.next_journal.is_some()
    }

    /// Feeds one input.
    pub fn handle(&mut self, input: Input, now: Instant) {
        // Nothing is asked of a job before it starts, nor after it ended.
        if self.end.is_some() || !(self.started || matches!(input, Input::Start { .. })) {
            return;
        }
        match input {
            Input::Start {
                file_present,
                running_for,
            } if !self.started => {
                self.started = true;
                self.start(file_present, running_for, now)
            }
            Input::Uploaded if self.state == JobState::Uploading => {
                self.persist(JobState::Claimed, None);
                self.actions.push_back(Action::Submit {
                    trace_id: self.trace_id,
                });
            }
            Input::SubmitAccepted { video_id } if self.state == JobState::Claimed => {
                self.video_id = Some(video_id);
                self.persist(JobState::Submitted, None);
                self.running_since = Some(now);
                if self.params.goal == Goal::Submitted {
                    self.finish(End::Done);
                } else {
                    self.schedule_poll(now);
                }
            }
            Input::SubmitFailed(failure) if self.state == JobState::Claimed => {
                self.submit_failed(failure)
            }
            Input::Restart { trace_id } if self.state == JobState::RefusedBeforeBilling => {
                self.trace_id = trace_id;
                self.persist(JobState::Uploading, Some(trace_id));
                self.actions.push_back(Action::Upload);
            }
            Input::Observed {
                status,
                has_url,
                source,
            } => self.observed(status, has_url, source, now),
            Input::Receiver { live } => self.receiver(live, now),
            Input::PollFailed { retryable } if self.polling => {
                self.polling = false;
                if retryable {
                    self.schedule_poll(now);
                } else {
                    self.stop_timers();
                }
            }
            Input::Downloaded
                if matches!(self.state, JobState::Succeeded | JobState::Downloaded) =>
            {
                self.file_present = true;
                self.actions.push_back(Action::Persist {
                    from: self.state,
                    to: JobState::Downloaded,
                    trace_id: None,
                });
                self.state = JobState::Downloaded;
                self.finish(End::Done);
            }
            Input::Timeout => self.timeout(now),
            // Stale or out-of-order news (an answer for a state already left) changes nothing.
            _ => {}
        }
    }

    fn start(&mut self, file_present: bool, running_for: Duration, now: Instant) {
        self.file_present = file_present;
        if self.state.is_generating() || self.state == JobState::Succeeded {
            self.running_since = Some(now.checked_sub(running_for).unwrap_or(now));
        }
        match self.state {
            JobState::Planned => {
                self.persist(JobState::Uploading, None);
                self.actions.push_back(Action::Upload);
            }
            JobState::Uploading => self.actions.push_back(Action::Upload),
            JobState::Claimed => self.actions.push_back(Action::Submit {
                trace_id: self.trace_id,
            }),
            JobState::Submitted | JobState::Generating => {
                if self.params.goal == Goal::Submitted {
                    self.finish(End::Done);
                } else if running_for.is_zero() {
                    self.schedule_poll(now);
                } else {
                    // It may have finished long ago: ask at once.
                    self.poll_at(now, now);
                }
            }
            JobState::Succeeded => {
                if self.params.goal <= Goal::Ready {
                    self.finish(End::Done);
                } else {
                    // The URL may have expired since: a fresh status gives a current one.
                    self.poll_at(now, now);
                }
            }
            JobState::Downloaded => {
                if self.file_present || self.params.goal <= Goal::Ready {
                    self.finish(End::Done);
                } else {
                    self.poll_at(now, now);
                }
            }
            JobState::RefusedBeforeBilling => {
                if self.params.retry_refused {
                    self.actions.push_back(Action::NewTraceId);
                } else {
                    self.finish(End::Refused);
                }
            }
            JobState::Moderated | JobState::Failed | JobState::Deleted => {
                self.finish(End::FailedForGood(self.state))
            }
            JobState::Abandoned => self.finish(End::Abandoned),
        }
    }

    fn submit_failed(&mut self, failure: SubmitFailure) {
        match failure {
            SubmitFailure::Refused { invalid_image } => {
                self.persist(JobState::RefusedBeforeBilling, None);
                if invalid_image && self.reuploads_left > 0 {
                    self.reuploads_left -= 1;
                    self.actions.push_back(Action::ForgetUploads);
                    self.actions.push_back(Action::NewTraceId);
                } else {
                    self.finish(End::Refused);
                }
            }
            SubmitFailure::SlotRefused => self.finish(End::SlotRefused),
            SubmitFailure::Ambiguous => self.finish(End::Ambiguous),
        }
    }

    fn observed(&mut self, status: JobStatus, has_url: bool, source: Source, now: Instant) {
        let waiting = self.state.is_generating();
        let refreshing = matches!(self.state, JobState::Succeeded | JobState::Downloaded);
        if !(waiting || refreshing) {
            return;
        }
        if source == Source::Poll {
            self.polling = false;
        }
        let next = JobState::from_status(status).filter(|s| *s != JobState::Succeeded || has_url);
        match next {
            // Still generating (or "done" without a URL yet): keep waiting.
            None => {
                if self.state == JobState::Submitted && status == JobStatus::Generating {
                    self.record(JobState::Generating, source);
                }
                if !self.polling && self.next_poll.is_none() {
                    self.schedule_poll(now);
                }
            }
            Some(JobState::Succeeded) => {
                if waiting {
                    self.record(JobState::Succeeded, source);
                }
                let on_disk = self.state == JobState::Downloaded && self.file_present;
                if self.params.goal <= Goal::Ready || on_disk {
                    self.finish(End::Done);
                } else {
                    self.stop_timers();
                    self.actions.push_back(Action::Download);
                }
            }
            Some(bad) => {
                if waiting || self.state == JobState::Succeeded {
                    self.record(bad, source);
                }
                self.finish(End::FailedForGood(bad));
            }
        }
    }

    fn receiver(&mut self, live: bool, now: Instant) {
        if live == self.params.receiver.live {
            return;
        }
        self.params.receiver.live = live;
        if self.next_journal.is_some() {
            self.next_journal = Some(now + self.journal_every());
        }
        if let Some(at) = self.next_poll {
            if live {
                // Stretched: the callback is expected first.
                self.next_poll = Some(at.max(now + self.params.receiver.poll_every));
            } else {
                // Back to the schedule (which may be due at once).
                self.next_poll = None;
                self.schedule_poll(now);
            }
        }
    }

    /// How often the journal is read now.
    fn journal_every(&self) -> Duration {
        if self.params.receiver.live {
            self.params.receiver.journal_every
        } else {
            self.params.journal_every
        }
    }

    fn timeout(&mut self, now: Instant) {
        if self.params.wait_until.is_some_and(|at| now >= at) && self.waiting_deadline().is_some() {
            self.finish(End::StillRunning);
            return;
        }
        if self.next_journal.is_some_and(|at| now >= at) {
            self.next_journal = Some(now + self.journal_every());
            self.actions.push_back(Action::CheckJournal);
        }
        if let Some(at) = self.next_poll
            && now >= at
            && !self.polling
            && let Some(video_id) = self.video_id
        {
            // Answered by Observed or PollFailed; no second poll meanwhile.
            self.next_poll = None;
            self.polling = true;
            self.polls += 1;
            self.actions.push_back(Action::Poll { video_id });
        }
    }

    fn schedule_poll(&mut self, now: Instant) {
        let elapsed = self.running_for(now);
        let jitter = self.jitter();
        let delay = if self.params.receiver.live {
            self.params.receiver.poll_every
        } else {
            poll::next_poll(self.params.poll, &self.params.shape, elapsed, jitter)
        };
        self.poll_at(now + delay, now);
    }

    fn poll_at(&mut self, at: Instant, now: Instant) {
        if self.video_id.is_none() {
            // Nothing to poll (a journal row without a video id): nothing to wait for.
            self.finish(End::Ambiguous);
            return;
        }
        self.next_poll = Some(at);
        if self.next_journal.is_none() {
            self.next_journal = Some(now + self.journal_every());
        }
        if at <= now {
            self.timeout(now);
        }
    }

    fn stop_timers(&mut self) {
        self.next_poll = None;
        self.polling = false;
        self.next_journal = None;
    }

    /// A state another writer already made durable is adopted; one we learned is persisted.
    fn record(&mut self, to: JobState, source: Source) {
        match source {
            Source::Poll | Source::Callback => self.persist(to, None),
            Source::Journal => self.state = to,
        }
    }

    fn persist(&mut self, to: JobState, trace_id: Option<Uuid>) {
        self.actions.push_back(Action::Persist {
            from: self.state,
            to,
            trace_id,
        });
        self.state = to;
    }

    fn finish(&mut self, end: End) {
        self.stop_timers();
        self.end = Some(end);
        self.actions.push_back(Action::Finish(end));
    }

    fn jitter(&mut self) -> f64 {
        // xorshift64: plenty to spread the polls of many jobs.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}
