//! Driving one job: core's [`Lifecycle`] decides, this module executes — uploads, journal
//! writes, the submit, polls, journal checks, the download and its sidecar — and feeds back
//! what happened. Every flow (`run`, `submit`, `resume`, `wait`, `download`, a batch line) ends
//! up here with a job it has claimed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use pixfuse_core::Job;
use pixfuse_core::errcode::CONCURRENCY_LIMIT;
use pixfuse_core::lifecycle::{
    Action, End, Goal, Input, JobState, Lifecycle, Params, ReceiverCadence, Source, SubmitError,
    SubmitFailure,
};
use pixfuse_core::poll::JobShape;
use pixfuse_transport::{DownloadOptions, discard_partial, partial_path};
use uuid::Uuid;

use crate::client::{Client, video_status};
use crate::error::Error;
use crate::event::Event;
use crate::journal::{JobRecord, JournalError, Transition, now_ms};
use crate::run::OnEvent;
use crate::sidecar::Sidecar;

/// How often the journal is looked at between polls.
const JOURNAL_EVERY: Duration = Duration::from_secs(1);

/// How long a submit waits between looks for a free account slot.
const SLOT_WAIT: Duration = Duration::from_millis(100);

/// What a drive is asked to do besides its goal.
#[derive(Clone, Debug, Default)]
pub(crate) struct DriveOptions {
    /// The job form to upload from (else the journaled one).
    pub form: Option<Job>,
    /// Where the video goes instead of the journaled output.
    pub output: Option<PathBuf>,
    /// Try a job refused before billing again (a rerun); `false` reports the refusal.
    pub retry_refused: bool,
}

impl Client {
    /// Drives `job` (claimed by this client) towards `goal`; the claim is given up however it
    /// ends, so another process may continue at once.
    pub(crate) async fn drive(
        &self,
        job: JobRecord,
        goal: Goal,
        opts: DriveOptions,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        let claim = self.keep_claim_alive(job.id);
        let mut driver = Driver::new(self, job, true, opts, on_event);
        let result = driver.run(goal).await;
        // A job that may still be generating (an ambiguous submit leaves it claimed) keeps its
        // slot (under a lease nobody renews now) until whoever continues it takes it on. One
        // that ended gives back any slot it has, even one a gated `submit` of another client
        // took for it.
        if !driver.job.state.may_be_generating() {
            driver.slot_held |= driver.journaled;
            driver.release_slot().await;
        }
        claim.release().await;
        result.map(|()| driver.into_record())
    }

    /// Waits for (and with [`Goal::Downloaded`], downloads) a video the journal does not know:
    /// the same lifecycle, with nothing persisted.
    pub(crate) async fn drive_unjournaled(
        &self,
        video_id: u64,
        goal: Goal,
        output: Option<PathBuf>,
        on_event: &mut OnEvent<'_>,
    ) -> Result<JobRecord, Error> {
        let mut job = unjournaled(self, video_id);
        job.output_path = output.clone();
        let opts = DriveOptions {
            output,
            ..DriveOptions::default()
        };
        let mut driver = Driver::new(self, job, false, opts, on_event);
        driver.run(goal).await.map(|()| driver.into_record())
    }
}

/// A stand-in record for a video the journal does not know.
fn unjournaled(client: &Client, video_id: u64) -> JobRecord {
    JobRecord {
        id: 0,
        trace_id: Uuid::nil(),
        state: JobState::Submitted,
        origin: client.inner.origin.clone(),
        identity: None,
        form: None,
        request: None,
        request_hash: None,
        provider: client.inner.provider.as_str().to_owned(),
        base_url: client.inner.base_url.clone(),
        video_id: Some(video_id),
        status: None,
        url: None,
        output_path: None,
        credits: None,
        seed: None,
        created_ms: now_ms(),
        // Known to the server already: the first poll goes out at once.
        submitted_ms: Some(now_ms() - 1),
        finished_ms: None,
        downloaded_ms: None,
        updated_ms: now_ms(),
        last_error: None,
        claim: None,
    }
}

struct Driver<'c, 'e, 'f> {
    client: &'c Client,
    /// Whether the job is in the journal (else nothing is written).
    journaled: bool,
    job: JobRecord,
    opts: DriveOptions,
    /// The request built by the last upload.
    request: Option<String>,
    /// The download URL of the latest status.
    url: Option<String>,
    /// The file size the latest status reported.
    size_bytes: Option<u64>,
    /// Facts of the last input, written by the next persist.
    pending: Transition,
    /// The failure behind the end, when there is one.
    error: Option<Error>,
    /// A failed poll that will be tried again, to announce with its delay.
    poll_retry: Option<String>,
    /// Whether a webhook receiver was live at the last look at the journal.
    receiver_live: bool,
    /// A second input from the last action (a receiver that came or went), fed after its first.
    news: Option<Input>,
    /// Whether this job holds one of the account's slots (see [`Client::with_policies`]).
    slot_held: bool,
    on_event: &'e mut OnEvent<'f>,
}

impl<'c, 'e, 'f> Driver<'c, 'e, 'f> {
    fn new(
        client: &'c Client,
        job: JobRecord,
        journaled: bool,
        opts: DriveOptions,
        on_event: &'e mut OnEvent<'f>,
    ) -> Self {
        Driver {
            client,
            journaled,
            url: job.url.clone(),
            size_bytes: None,
            job,
            opts,
            request: None,
            pending: Transition::default(),
            error: None,
            poll_retry: None,
            receiver_live: false,
            news: None,
            slot_held: false,
            on_event,
        }
    }

    fn into_record(self) -> JobRecord {
        self.job
    }

    fn id(&self) -> i64 {
        self.job.id
    }

    /// Where the video goes.
    fn destination(&self) -> PathBuf {
        self.opts
            .output
            .clone()
            .or_else(|| self.job.output_path.clone())
            .unwrap_or_else(|| {
                crate::run::absolute(Path::new(&format!(
                    "pixfuse-{}.mp4",
                    self.job.video_id.unwrap_or_default()
                )))
            })
    }

    fn params(&self, goal: Goal, receiver_live: bool) -> Params {
        let sent = self.job.sent_job();
        let job = sent.as_ref().or(self.opts.form.as_ref());
        Params {
            goal,
            poll: self.client.inner.transport.config().poll(),
            shape: job.map_or_else(JobShape::default, |j| JobShape {
                model: Some(j.model.clone()),
                duration: Some(j.duration),
                quality: Some(j.quality.clone()),
            }),
            journal_every: JOURNAL_EVERY,
            receiver: ReceiverCadence {
                live: receiver_live,
                ..ReceiverCadence::default()
            },
            wait_until: self.client.wait_until(),
            retry_refused: self.opts.retry_refused,
            reuploads: 1,
        }
    }

    async fn run(&mut self, goal: Goal) -> Result<(), Error> {
        // A job taken over while it generates goes on occupying the account's slot it had.
        if self.job.state.is_generating() {
            self.try_slot().await?;
        }
        // Whether a webhook receiver is live decides how the wait is watched from the start.
        let receiver_live = self.watch().await?.receiver_live;
        self.receiver_live = receiver_live;
        let mut machine = Lifecycle::new(
            self.job.state,
            self.job.trace_id,
            self.job.video_id,
            self.params(goal, receiver_live),
        );
        let running_for = self.job.submitted_ms.map_or(Duration::ZERO, |at| {
            Duration::from_millis(u64::try_from(now_ms() - at).unwrap_or(0))
        });
        let file_present = self.destination().is_file();
        machine.handle(
            Input::Start {
                file_present,
                running_for,
            },
            Instant::now(),
        );
        loop {
            while let Some(action) = machine.poll_action() {
                if let Action::Finish(end) = action {
                    return self.finish(end, &machine).await;
                }
                if let Some(input) = self.execute(action, &machine).await? {
                    let now = Instant::now();
                    machine.handle(input, now);
                    if let Some(news) = self.news.take() {
                        machine.handle(news, now);
                    }
                    if let Some(reason) = self.poll_retry.take() {
                        let delay = machine
                            .poll_timeout()
                            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
                        (self.on_event)(Event::Retrying {
                            what: "status poll".to_owned(),
                            attempt: machine.polls(),
                            limit: None,
                            delay,
                            reason,
                        });
                    }
                }
            }
            let Some(at) = machine.poll_timeout() else {
                return Err(self.error.take().unwrap_or_else(|| {
                    Error::Internal(format!("job {} stopped without an outcome", self.id()))
                }));
            };
            tokio::time::sleep_until(at.into()).await;
            machine.handle(Input::Timeout, Instant::now());
        }
    }

    /// Executes one action; returns what to tell the machine.
    async fn execute(
        &mut self,
        action: Action,
        machine: &Lifecycle,
    ) -> Result<Option<Input>, Error> {
        Ok(match action {
            Action::Persist { from, to, trace_id } => {
                self.persist(from, to, trace_id).await?;
                None
            }
            Action::Upload => Some(self.upload().await?),
            Action::ForgetUploads => {
                let img_ids: Vec<u64> = self
                    .job
                    .sent_job()
                    .map(|job| job.img_ids().collect())
                    .unwrap_or_default();
                if self.journaled {
                    self.client
                        .store()
                        .forget_uploads(&self.job.origin, &img_ids)
                        .await?;
                }
                let job_id = self.id();
                (self.on_event)(Event::Reuploading { job_id });
                None
            }
            Action::NewTraceId => {
                let (trace_id, job_id) = (Uuid::new_v4(), self.id());
                (self.on_event)(Event::NewTraceId { job_id, trace_id });
                Some(Input::Restart { trace_id })
            }
            Action::Submit { trace_id } => Some(self.submit(trace_id).await?),
            Action::Poll { video_id } => Some(self.poll(video_id, machine).await?),
            Action::CheckJournal => self.check_journal(machine).await?,
            Action::Download => Some(self.download().await?),
            // Handled by the loop.
            Action::Finish(_) => None,
        })
    }

    async fn persist(
        &mut self,
        from: JobState,
        to: JobState,
        trace_id: Option<Uuid>,
    ) -> Result<(), Error> {
        let mut change = std::mem::take(&mut self.pending);
        change.from = Some(from);
        change.to = Some(to);
        change.trace_id = trace_id;
        if to == JobState::Claimed {
            change.request = self.request.clone();
        }
        if to == JobState::Downloaded {
            change.output = Some(self.destination());
            change.error = Some(None);
        }
        if !self.journaled {
            self.job.state = to;
            return Ok(());
        }
        let written = self
            .client
            .store()
            .transition(self.id(), &self.client.inner.owner.instance, change)
            .await;
        // Once the server has the job, a write that fails leaves it safe there: say how to
        // continue rather than calling it a bug.
        let what = match to {
            JobState::Submitted => Some("the video id"),
            JobState::Downloaded => Some("the download"),
            state if state.status().is_some() => Some("the status"),
            _ => None,
        };
        self.job = match (written, what) {
            (Ok(job), _) => job,
            (Err(e @ (JournalError::Conflict { .. } | JournalError::ClaimLost { .. })), _) => {
                return Err(e.into());
            }
            (Err(e), Some(what)) => return Err(Error::journal_write(self.id(), what, e)),
            (Err(e), None) => return Err(e.into()),
        };
        if !to.may_be_generating() {
            self.release_slot().await;
        }
        let (job_id, trace_id) = (self.id(), self.job.trace_id);
        match to {
            JobState::Claimed => (self.on_event)(Event::Journaled { job_id, trace_id }),
            JobState::Downloaded => self.write_sidecar().await?,
            _ => {}
        }
        Ok(())
    }

    /// Writes the sidecar of the downloaded job. A failure does not undo the video: it is a
    /// warning, recorded in the journal, and `resume` writes the sidecar later.
    async fn write_sidecar(&mut self) -> Result<(), Error> {
        let output = self.destination();
        match Sidecar::from_record(&self.job, &output).write(&output) {
            Ok(path) => {
                (self.on_event)(Event::SidecarWritten { path });
                if self.job.last_error.is_some() {
                    self.clear_error().await?;
                }
                Ok(())
            }
            Err(e) => {
                let path = crate::sidecar::sidecar_path(&output);
                let message = format!(
                    "the video is saved, but its sidecar {} could not be written ({e}); `pixfuse resume {}` writes it once the path is writable",
                    path.display(),
                    self.id()
                );
                self.client
                    .store()
                    .note_error(self.id(), Some(&message))
                    .await
                    .map_err(|e| Error::journal_write(self.id(), "the missing sidecar", e))?;
                (self.on_event)(Event::Warning {
                    code: "sidecar_not_written".to_owned(),
                    path: String::new(),
                    message,
                });
                Ok(())
            }
        }
    }

    async fn clear_error(&mut self) -> Result<(), Error> {
        self.client.store().note_error(self.id(), None).await?;
        self.job.last_error = None;
        Ok(())
    }

    /// Uploads the job form's local images and builds the request.
    async fn upload(&mut self) -> Result<Input, Error> {
        let form = match &self.opts.form {
            Some(job) => Some(job.clone()),
            None => self
                .job
                .form
                .as_deref()
                .and_then(|f| serde_json::from_str::<Job>(f).ok()),
        };
        // A job journaled before forms were kept can still be sent as it was.
        let Some(mut job) = form.or_else(|| self.job.sent_job()) else {
            return Err(Error::Internal(format!(
                "job {} has no job form to upload from; run its job file again",
                self.id()
            )));
        };
        {
            let _one_at_a_time = self.client.inner.uploads.lock().await;
            let uploaded = self
                .client
                .upload_sources(&mut job, &mut *self.on_event)
                .await;
            uploaded.map_err(|e| self.for_job(e))?;
        }
        let request = job
            .to_request_json()
            // upload_sources resolved every source; this is a bug, not a user error.
            .map_err(|unresolved| Error::Internal(unresolved.to_string()))?;
        self.request = Some(request);
        Ok(Input::Uploaded)
    }

    async fn submit(&mut self, trace_id: Uuid) -> Result<Input, Error> {
        let Some(request) = self.request.clone().or_else(|| self.job.request.clone()) else {
            return Err(Error::Internal(format!(
                "job {} is claimed without a request",
                self.id()
            )));
        };
        self.take_slot().await?;
        match self
            .client
            .transport()
            .submit(Bytes::from(request), trace_id)
            .await
        {
            Ok(submitted) => {
                self.pending.video_id = Some(submitted.video_id);
                self.pending.credits = submitted.credits;
                self.pending.error = Some(None);
                let job_id = self.id();
                (self.on_event)(Event::Submitted {
                    job_id,
                    video_id: submitted.video_id,
                    credits: submitted.credits,
                });
                Ok(Input::SubmitAccepted {
                    video_id: submitted.video_id,
                })
            }
            Err(e) => {
                let failure = SubmitFailure::of(&SubmitError {
                    answered: e.status().is_some(),
                    retryable: e.is_retryable(),
                    may_have_reached_server: e.may_have_reached_server(),
                    err_code: e.err_code(),
                });
                if e.err_code() == Some(CONCURRENCY_LIMIT) {
                    self.learn_limit().await;
                }
                if !e.may_have_reached_server() {
                    self.release_slot().await;
                }
                let message = e.to_string();
                if matches!(failure, SubmitFailure::Refused { .. }) {
                    self.pending.error = Some(Some(message));
                } else {
                    self.note_error(&message).await;
                }
                self.error = Some(self.for_job(e.into()));
                Ok(Input::SubmitFailed(failure))
            }
        }
    }

    async fn poll(&mut self, video_id: u64, machine: &Lifecycle) -> Result<Input, Error> {
        match self.client.transport().status(video_id).await {
            Ok(answer) => {
                let status = video_status(&answer);
                if let Some(other) = status.answered_for {
                    (self.on_event)(Event::Warning {
                        code: "status_for_other_id".to_owned(),
                        path: String::new(),
                        message: format!(
                            "the status answer for video {video_id} names video {other}; keeping {video_id}"
                        ),
                    });
                }
                if status.url.is_some() {
                    self.url = status.url.clone();
                }
                self.size_bytes = status.size_bytes.or(self.size_bytes);
                self.pending.status = Some(status.status);
                self.pending.url = status.url.clone();
                self.pending.credits = status.credits;
                self.pending.seed = status.seed;
                (self.on_event)(Event::Polled {
                    video_id,
                    status: status.status,
                    elapsed: machine.running_for(Instant::now()),
                    polls: machine.polls(),
                });
                Ok(Input::Observed {
                    status: status.status,
                    has_url: status.url.is_some(),
                    source: Source::Poll,
                })
            }
            // The deadline struck mid-poll: the wait deadline (the same instant) ends it.
            Err(e) if e.is_timed_out() => Ok(Input::PollFailed { retryable: true }),
            Err(e) => {
                let retryable = e.is_retryable();
                if retryable {
                    self.poll_retry = Some(e.to_string());
                } else {
                    self.note_error(&e.to_string()).await;
                    self.error = Some(self.for_job(e.into()));
                }
                Ok(Input::PollFailed { retryable })
            }
        }
    }

    /// The journal's view of this job (its row, a callback for its video, a live receiver).
    fn watch(&self) -> impl Future<Output = Result<crate::journal::Watch, Error>> + Send + 'static {
        let store = std::sync::Arc::clone(self.client.store());
        let id = self.journaled.then_some(self.id());
        let (origin, video_id) = (self.job.origin.clone(), self.job.video_id);
        async move {
            let fresh_since = now_ms() - crate::webhook::HEARTBEAT_FRESH_MS;
            Ok(store.watch(id, &origin, video_id, fresh_since).await?)
        }
    }

    /// Another writer may have recorded the end: another process in the job's row, or a
    /// webhook receiver as a callback for its video (written to the row too when no process
    /// was driving the job). Also notices a receiver that came or went.
    async fn check_journal(&mut self, machine: &Lifecycle) -> Result<Option<Input>, Error> {
        let watch = self.watch().await?;
        if watch.receiver_live != self.receiver_live {
            self.receiver_live = watch.receiver_live;
            self.news = Some(Input::Receiver {
                live: watch.receiver_live,
            });
        }
        let mut input = None;
        if self.journaled {
            let Some(row) = watch.job else {
                return Err(crate::journal::JournalError::NoSuchJob(self.id()).into());
            };
            if row.state == JobState::Abandoned {
                return Err(Error::Abandoned {
                    job_id: row.id,
                    video_id: row.video_id,
                });
            }
            let ended = row.state == JobState::Succeeded || row.state.failed_for_good();
            if let Some(status) = row.state.status()
                && ended
                && row.state != machine.state()
            {
                if row.url.is_some() {
                    self.url = row.url.clone();
                }
                input = Some(Input::Observed {
                    status,
                    has_url: row.url.is_some(),
                    source: Source::Journal,
                });
            }
            self.job = row;
        }
        if input.is_none()
            && machine.state().is_generating()
            && let Some(callback) = watch.callback
        {
            let job_id = self.id();
            (self.on_event)(Event::Callback {
                job_id: self.journaled.then_some(job_id),
                video_id: callback.video_id,
                status: callback.status,
            });
            if callback.url.is_some() {
                self.url = callback.url.clone();
            }
            self.pending.status = Some(callback.status);
            self.pending.url = callback.url.clone();
            self.pending.credits = callback.credits.or(self.pending.credits);
            input = Some(Input::Observed {
                status: callback.status,
                has_url: callback.url.is_some(),
                source: Source::Callback,
            });
        }
        Ok(input)
    }

    async fn download(&mut self) -> Result<Input, Error> {
        let output = self.destination();
        if self.journaled
            && let Some(newer) = self.client.store().newer_writer(&output, self.id()).await?
        {
            return Err(Error::OutputOwnedByNewer {
                job_id: self.id(),
                newer: newer.id,
                output,
            });
        }
        let (Some(url), Some(video_id)) = (self.url.clone(), self.job.video_id) else {
            return Err(Error::Internal(format!(
                "job {} is ready without a URL",
                self.id()
            )));
        };
        (self.on_event)(Event::Ready {
            video_id,
            url: url.clone(),
        });
        // The bytes collect in a partial file named after the job, which a later download
        // (another process, after a crash or a signal) continues.
        let owner = if self.journaled {
            self.id().to_string()
        } else {
            format!("v{video_id}")
        };
        let options = DownloadOptions {
            partial: Some(partial_path(&output, &owner)),
            expected_len: self.size_bytes,
        };
        let bytes = match self
            .client
            .download_url_with(&url, &output, &options, &mut *self.on_event)
            .await
        {
            Ok(bytes) => bytes,
            Err(e) => {
                self.note_error(&e.to_string()).await;
                return Err(self.for_job(e));
            }
        };
        // A partial left for another destination of this job will never be continued.
        if let Some(earlier) = self.job.output_path.clone().filter(|p| *p != output) {
            let _ = discard_partial(&partial_path(&earlier, &owner));
        }
        (self.on_event)(Event::Downloaded {
            path: output,
            bytes,
        });
        Ok(Input::Downloaded)
    }

    /// Waits for one of the account's slots, when submits are gated (see
    /// [`Client::with_policies`]): together, every process on the journal keeps under the
    /// account's limit.
    async fn take_slot(&mut self) -> Result<(), Error> {
        if self.client.inner.slot_limit.is_none() || !self.journaled {
            return Ok(());
        }
        let mut told = false;
        while !self.try_slot().await? {
            if !told {
                told = true;
                self.tell_waiting_for_slot().await;
            }
            if let Some(at) = self.client.deadline() {
                let now = std::time::Instant::now();
                if now >= at {
                    return Err(self.for_job(Error::TimedOut {
                        job_id: None,
                        error: pixfuse_transport::TransportError::TimedOut {
                            what: "the wait for an account slot".to_owned(),
                            trace_id: None,
                            attempts: 0,
                            may_have_reached_server: false,
                            last: None,
                        },
                    }));
                }
                tokio::time::sleep(SLOT_WAIT.min(at - now)).await;
            } else {
                tokio::time::sleep(SLOT_WAIT).await;
            }
        }
        Ok(())
    }

    /// Says the submit waits: every one of the account's slots (its limit, or the lower one
    /// learned) is held by another job.
    async fn tell_waiting_for_slot(&mut self) {
        let Some(limit) = self.client.inner.slot_limit else {
            return;
        };
        let learned = self
            .client
            .store()
            .learned_limit(&self.client.inner.account)
            .await
            .ok()
            .flatten();
        let limit = learned.map_or(limit, |l| l.min(limit)).max(1);
        let job_id = self.id();
        (self.on_event)(Event::WaitingForSlot {
            job_id,
            in_use: limit,
            limit,
        });
    }

    /// Takes (or keeps) one of the account's slots if one is free.
    async fn try_slot(&mut self) -> Result<bool, Error> {
        let Some(limit) = self.client.inner.slot_limit.filter(|_| self.journaled) else {
            return Ok(false);
        };
        let inner = &self.client.inner;
        self.slot_held = self
            .client
            .store()
            .acquire_slot(&inner.account, limit, self.id(), &inner.owner, inner.lease)
            .await?;
        Ok(self.slot_held)
    }

    /// Gives the account's slot back (the generation ended, or the submit was refused).
    async fn release_slot(&mut self) {
        if !self.slot_held {
            return;
        }
        self.slot_held = false;
        let account = &self.client.inner.account;
        if let Err(e) = self.client.store().release_slot(account, self.id()).await {
            // Its lease runs out by itself: the slot comes back then.
            tracing::warn!(job_id = self.id(), error = %e, "cannot give the account slot back");
        }
    }

    /// The server refused a slot: the account's limit is what the other slot holders it
    /// accepted add up to, recorded for every process.
    async fn learn_limit(&mut self) {
        if !self.slot_held {
            return;
        }
        match self
            .client
            .store()
            .learn_limit(&self.client.inner.account, self.id())
            .await
        {
            Ok(limit) => tracing::debug!(limit, "learned the account's concurrency limit"),
            Err(e) => tracing::warn!(error = %e, "cannot record the account's limit"),
        }
    }

    /// `error` with this job's id, when the deadline cut a step of a journaled job short.
    fn for_job(&self, error: Error) -> Error {
        if self.journaled {
            error.for_job(self.id())
        } else {
            error
        }
    }

    async fn note_error(&mut self, message: &str) {
        if self.journaled
            && let Err(e) = self
                .client
                .store()
                .note_error(self.id(), Some(message))
                .await
        {
            tracing::warn!(job_id = self.id(), error = %e, "cannot record the job's last error");
        }
    }

    async fn finish(&mut self, end: End, machine: &Lifecycle) -> Result<(), Error> {
        let id = self.id();
        match end {
            End::Done => {
                // Done earlier, but its sidecar was blocked then: write it now.
                let output = self.destination();
                let missing = crate::sidecar::sidecar_path(&output);
                if self.journaled
                    && self.job.state == JobState::Downloaded
                    && output.is_file()
                    && !missing.is_file()
                {
                    self.write_sidecar().await?;
                }
                Ok(())
            }
            End::StillRunning => {
                self.note_error("still running when the wait timeout expired")
                    .await;
                let video_id = machine.video_id().unwrap_or_default();
                Err(Error::StillRunning {
                    job_id: self.journaled.then_some(id),
                    video_id,
                    resume_command: if self.journaled {
                        format!("pixfuse resume {id}")
                    } else {
                        format!("pixfuse wait {video_id}")
                    },
                })
            }
            End::FailedForGood(state) => Err(match (machine.video_id(), state.status()) {
                (Some(video_id), Some(status)) => Error::Generation { video_id, status },
                _ => self.already_failed(state),
            }),
            End::Refused | End::SlotRefused | End::Ambiguous => Err(self
                .error
                .take()
                .unwrap_or_else(|| self.already_failed(machine.state()))),
            End::Abandoned => Err(Error::Abandoned {
                job_id: id,
                video_id: self.job.video_id,
            }),
        }
    }

    fn already_failed(&self, state: JobState) -> Error {
        Error::AlreadyFailed {
            job_id: self.id(),
            state,
            reason: self
                .job
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown reason".to_owned()),
        }
    }
}
