//! The webhook receiver's work, whatever serves HTTP (`pixfuse webhook serve` is a thin axum
//! adapter over it): verify a callback over its raw bytes ([`pixfuse_webhook::verify`]), record
//! it durably in the journal — its nonce, the event, and the end of a job no process is driving
//! — and only then let the server answer `ok`. The heartbeat it records tells waiting processes
//! on the same journal to rely on callbacks: they read the journal every 100 ms and poll the API
//! only every 60 s.
//!
//! Everything goes through the journal's storage boundary, so any journal backend has it.

use std::sync::Arc;
use std::time::Duration;

use pixfuse_core::lifecycle::Owner;
use secrecy::{ExposeSecret, SecretString};

pub use pixfuse_webhook::{
    Canonicalisation, Headers, MAX_BODY_BYTES, Rejection, TIMESTAMP_WINDOW_SECS, WebhookError,
    WebhookEvent,
};

use crate::client::Client;
use crate::error::Error;
use crate::journal::{
    CallbackRecord, JobRecord, Journal, JournalError, NewCallback, ReceiverBeat, Recorded, Store,
    now_ms, this_process,
};

/// How often a receiver records its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// A heartbeat older than this means its receiver is gone (three missed beats).
pub(crate) const HEARTBEAT_FRESH_MS: i64 = 3_000;

/// Receives callbacks for one origin into one journal.
pub struct Receiver {
    store: Arc<dyn Store>,
    origin: String,
    secret: SecretString,
    owner: Owner,
    started_ms: i64,
    /// For downloads ([`Receiver::download`]), when built from a client.
    client: Option<Client>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("origin", &self.origin)
            .field("journal", &self.store.location())
            .finish_non_exhaustive()
    }
}

/// A callback that was handled: the server answers `ok`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Received {
    /// A new event, now durable in the journal. `job`: the journaled job of its video, if any
    /// (an unknown video is recorded too: it may be another tool's on the same account, or a
    /// job whose video id is journaled later). `moved`: the receiver wrote the job's end,
    /// because no live process was driving it (one that is reads the event itself).
    Recorded {
        /// The verified event.
        event: WebhookEvent,
        /// The journaled job of its video, if any.
        job: Option<JobRecord>,
        /// Whether the receiver wrote the job's end.
        moved: bool,
    },
    /// The same event (video and status) was recorded before: a retry or a duplicate delivery.
    /// Nothing changed.
    Duplicate {
        /// The verified event.
        event: WebhookEvent,
        /// The journaled job of its video, if any.
        job: Option<JobRecord>,
    },
}

impl Received {
    /// The verified event.
    pub fn event(&self) -> &WebhookEvent {
        match self {
            Received::Recorded { event, .. } | Received::Duplicate { event, .. } => event,
        }
    }

    /// The journaled job of the event's video.
    pub fn job(&self) -> Option<&JobRecord> {
        match self {
            Received::Recorded { job, .. } | Received::Duplicate { job, .. } => job.as_ref(),
        }
    }
}

/// Why a callback was not handled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiveError {
    /// It failed verification, or its nonce was seen before. Nothing was written.
    #[error(transparent)]
    Rejected(#[from] WebhookError),
    /// The journal could not record it: the sender should retry (nothing was answered `ok`).
    #[error("the callback could not be recorded: {0}")]
    Journal(#[from] JournalError),
}

impl ReceiveError {
    /// The HTTP status to answer with: 401, 409, 400 or 413 as [`Rejection::http_status`]
    /// says, 503 when the journal failed (the vendor retries).
    pub fn http_status(&self) -> u16 {
        match self {
            ReceiveError::Rejected(e) => e.rejection().http_status(),
            ReceiveError::Journal(_) => 503,
        }
    }
}

impl Receiver {
    /// A receiver recording callbacks about `origin`'s videos into `journal`.
    pub fn new(
        journal: &Journal,
        origin: impl Into<String>,
        secret: SecretString,
    ) -> Result<Receiver, Error> {
        if secret.expose_secret().is_empty() {
            return Err(Error::Config(
                "the webhook secret is empty; anyone could sign callbacks with it".to_owned(),
            ));
        }
        Ok(Receiver {
            store: Arc::clone(journal.store()),
            origin: origin.into(),
            secret,
            owner: this_process(uuid::Uuid::new_v4()),
            started_ms: now_ms(),
            client: None,
        })
    }

    /// A receiver for `client`'s origin and journal, which can also download the videos of
    /// jobs it ends ([`Receiver::download`]).
    pub fn for_client(client: &Client, secret: SecretString) -> Result<Receiver, Error> {
        let mut receiver = Receiver::new(client.journal(), client.origin(), secret)?;
        receiver.client = Some(client.clone());
        Ok(receiver)
    }

    /// The server whose callbacks this receiver records.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Where the journal is.
    pub fn journal_location(&self) -> String {
        self.store.location()
    }

    /// Verifies one callback over its raw bytes and records it. `Ok` means it is durable in
    /// the journal (answer `ok`); a duplicate of a recorded event is `Ok` too, so its sender
    /// stops retrying.
    pub async fn receive(
        &self,
        headers: &Headers<'_>,
        body: &[u8],
    ) -> Result<Received, ReceiveError> {
        let now_s = u64::try_from(now_ms() / 1000).unwrap_or(0);
        let event = pixfuse_webhook::verify(headers, body, &self.secret, now_s)?;
        let expires_s = pixfuse_webhook::nonce_expiry(event.delivery.timestamp, now_s);
        let callback = NewCallback {
            record: CallbackRecord {
                origin: self.origin.clone(),
                video_id: event.video_id,
                status: event.status,
                url: event.url.clone(),
                credits: event.credits.and_then(|c| i64::try_from(c).ok()),
                job_id: None,
                deliveries: 1,
                signed_as: event.delivery.signed_as.as_str().to_owned(),
                trace_id: event.delivery.trace_id.clone(),
                // Verified, so a callback, and at most MAX_BODY_BYTES.
                body: String::from_utf8_lossy(body).into_owned(),
                received_ms: now_ms(),
            },
            nonce: event.delivery.nonce.clone(),
            nonce_expires_ms: i64::try_from(expires_s.saturating_mul(1000)).unwrap_or(i64::MAX),
        };
        match self.store.record_callback(&callback, &self.owner).await? {
            Recorded::New { job, moved } => Ok(Received::Recorded {
                event,
                job: job.map(|j| *j),
                moved,
            }),
            Recorded::Duplicate { job } => Ok(Received::Duplicate {
                event,
                job: job.map(|j| *j),
            }),
            Recorded::ReplayedNonce => Err(ReceiveError::Rejected(WebhookError::ReplayedNonce {
                nonce: event.delivery.nonce,
            })),
        }
    }

    /// Records the heartbeat (call it every [`HEARTBEAT_EVERY`]); `listen` says where the
    /// receiver listens, for people reading the journal.
    pub async fn heartbeat(&self, listen: &str) -> Result<(), Error> {
        let beat = ReceiverBeat {
            owner: self.owner.clone(),
            origin: self.origin.clone(),
            listen: listen.to_owned(),
            started_ms: self.started_ms,
        };
        Ok(self.store.beat(&beat).await?)
    }

    /// The receiver stops: its heartbeat goes, and waiting processes poll as before at once.
    pub async fn stop(&self) -> Result<(), Error> {
        Ok(self.store.receiver_stopped(&self.owner.instance).await?)
    }

    /// Downloads the video of journaled job `job_id` to its output, as `pixfuse resume` would
    /// (the same verified, atomic download; a job another live process drives is left to it).
    pub async fn download(
        &self,
        job_id: i64,
        on_event: impl FnMut(crate::Event) + Send,
    ) -> Result<crate::JobOutcome, Error> {
        let Some(client) = &self.client else {
            return Err(Error::Config(
                "this receiver has no client to download with; build it with Receiver::for_client"
                    .to_owned(),
            ));
        };
        client.resume(job_id, None, on_event).await
    }
}
