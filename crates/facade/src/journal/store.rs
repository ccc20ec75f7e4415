//! The journal's storage boundary: what the flows need from wherever jobs are kept. SQLite
//! implements it today ([`super::sqlite::SqliteStore`]); a shared database can implement it
//! again. Every method is async (a boxed `Send` future, so `dyn Store` works) and every write
//! that moves a job is a compare-and-set on its state and its claim, so two writers never both
//! win.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use pixfuse_core::lifecycle::{JobState, Owner};
use pixfuse_core::poll::JobStatus;
use uuid::Uuid;

use super::{CallbackRecord, JobRecord, JournalError, MediaType, UploadRecord};

/// What every store method returns.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// Whether a claim continues the job its identity names or starts another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Fresh {
    /// Continue the existing job (a rerun bills nothing more). A job refused before billing is
    /// continued too: it gets a new trace id when it is tried again.
    #[default]
    Continue,
    /// A new job even when one exists (`--new`): a new trace id, a new bill.
    New,
    /// A new job if the existing one failed for good (`--retry-failed`), else continue it.
    RetryFailed,
}

/// A claim on a job's identity: made in one transaction before any upload or submit.
#[derive(Clone, Debug)]
pub(crate) struct ClaimRequest {
    /// Who the job is across reruns and processes (see `crate::identity`).
    pub identity: String,
    pub origin: String,
    pub provider: String,
    pub base_url: String,
    /// The job form (images by path), kept so the job can be continued before its uploads.
    pub form: Option<String>,
    /// Where its video goes.
    pub output: Option<PathBuf>,
    /// The trace id of a new job.
    pub trace_id: Uuid,
    pub owner: Owner,
    pub lease: Duration,
    pub fresh: Fresh,
    /// Take the output from another unfinished job (which is then abandoned).
    pub force: bool,
}

/// What a claim found.
#[derive(Clone, Debug)]
pub(crate) enum ClaimOutcome {
    /// A new job, planned and ours. `superseded`: the job that had this identity before
    /// (`--new`, `--retry-failed`); `abandoned`: unfinished jobs whose output it took (`force`).
    New {
        job: JobRecord,
        superseded: Option<Box<JobRecord>>,
        abandoned: Vec<JobRecord>,
    },
    /// The existing job, now ours. `took_over`: the owner whose claim had expired.
    Existing {
        job: JobRecord,
        took_over: Option<Owner>,
    },
    /// A live owner holds the job: do not submit it, wait for it.
    Held { job: JobRecord, owner: Owner },
    /// The output belongs to another unfinished job (and `force` was not given).
    OutputTaken { holder: JobRecord },
}

/// A state change and the facts learned with it, written only if the job is still in `from`
/// and still claimed by the writer.
#[derive(Clone, Debug, Default)]
pub(crate) struct Transition {
    pub from: Option<JobState>,
    pub to: Option<JobState>,
    pub trace_id: Option<Uuid>,
    pub request: Option<String>,
    pub video_id: Option<u64>,
    pub status: Option<JobStatus>,
    pub url: Option<String>,
    pub credits: Option<i64>,
    pub seed: Option<i64>,
    pub output: Option<PathBuf>,
    /// `Some(None)` clears the last error.
    pub error: Option<Option<String>>,
}

/// Why a job could not be forgotten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ForgetRefusal {
    /// No such job.
    Missing,
    /// It may still be generating (or another live process drives it): forgetting it would
    /// lose a paid video.
    Unfinished(Box<JobRecord>),
}

/// The storage boundary.
pub(crate) trait Store: Send + Sync + fmt::Debug {
    /// Where the journal lives, for messages (never holds a password).
    fn location(&self) -> String;

    // ---- reads ----
    fn job(&self, id: i64) -> StoreFuture<'_, Option<JobRecord>>;
    /// Every job, newest first.
    fn jobs(&self) -> StoreFuture<'_, Vec<JobRecord>>;
    /// The newest job with this video id at `origin`.
    fn job_by_video<'a>(
        &'a self,
        origin: &'a str,
        video_id: u64,
    ) -> StoreFuture<'a, Option<JobRecord>>;
    /// The job that has this identity at `origin`.
    fn job_by_identity<'a>(
        &'a self,
        origin: &'a str,
        identity: &'a str,
    ) -> StoreFuture<'a, Option<JobRecord>>;
    /// A newer job (id above `than`) that writes `output` and is not abandoned: the file is
    /// its, not the older job's, to write.
    fn newer_writer<'a>(
        &'a self,
        output: &'a std::path::Path,
        than: i64,
    ) -> StoreFuture<'a, Option<JobRecord>>;

    // ---- claims ----
    /// Claims an identity (see [`ClaimRequest`]) in one transaction.
    fn claim(&self, request: ClaimRequest) -> StoreFuture<'_, ClaimOutcome>;
    /// Claims job `id` (to resume it): `Existing` when ours now, `Held` when a live owner has it.
    fn claim_job<'a>(
        &'a self,
        id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome>;
    /// Renews the leases `instance` holds on jobs `ids` (the ones it is driving); returns how
    /// many.
    fn renew<'a>(
        &'a self,
        instance: &'a str,
        ids: &'a [i64],
        lease: Duration,
    ) -> StoreFuture<'a, usize>;
    /// Gives up `instance`'s claim on job `id` (if it holds one).
    fn release<'a>(&'a self, id: i64, instance: &'a str) -> StoreFuture<'a, ()>;
    /// Gives up every claim `instance` holds, and the account slots of its jobs that cannot be
    /// generating (a generating job's slot stays under its lease until it is continued).
    fn release_all<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, usize>;

    // ---- lifecycle writes (by the claim's owner) ----
    /// Applies `change` to job `id` if it is in `change.from` (when given) and claimed by
    /// `instance`; returns the updated job.
    fn transition<'a>(
        &'a self,
        id: i64,
        instance: &'a str,
        change: Transition,
    ) -> StoreFuture<'a, JobRecord>;
    /// Records a failure that leaves the job as it is (network down, a timeout), or with
    /// `None` that the last one is mended (a missing sidecar written later).
    fn note_error<'a>(&'a self, id: i64, error: Option<&'a str>) -> StoreFuture<'a, ()>;
    /// Forgets jobs (refusing unfinished ones unless `force`); one answer per id.
    fn forget<'a>(
        &'a self,
        ids: &'a [i64],
        force: bool,
        me: &'a Owner,
    ) -> StoreFuture<'a, Vec<Result<JobRecord, ForgetRefusal>>>;

    // ---- the upload cache (images and reference videos) ----
    fn upload<'a>(
        &'a self,
        origin: &'a str,
        sha256: &'a str,
        media_type: MediaType,
    ) -> StoreFuture<'a, Option<UploadRecord>>;
    fn record_upload<'a>(
        &'a self,
        origin: &'a str,
        upload: &'a UploadRecord,
        size: u64,
    ) -> StoreFuture<'a, ()>;
    /// Forgets cached image uploads with these img_ids (the server no longer knows them).
    fn forget_uploads<'a>(&'a self, origin: &'a str, img_ids: &'a [u64]) -> StoreFuture<'a, usize>;

    // ---- batch files ----
    /// Checks `(line key, job hash)` pairs against the hashes recorded for the keys (see
    /// `BatchPlan::reject_changed_lines`); records the hash of every line that passes.
    fn check_batch_lines(&self, lines: Vec<(String, String)>) -> StoreFuture<'_, Vec<bool>>;

    // ---- webhook callbacks ----
    /// Records a verified callback in one transaction: its nonce (refused if still live), the
    /// event (deduplicated on origin, video id and status) and, for a new event whose job no
    /// live process drives, the job's end.
    fn record_callback<'a>(
        &'a self,
        callback: &'a NewCallback,
        receiver: &'a Owner,
    ) -> StoreFuture<'a, Recorded>;
    /// What a waiting process looks at between polls, in one read: job `id`'s row, the final
    /// callback recorded for its video (or for `video_id`, for a video the journal does not
    /// know), and whether a receiver for `origin` beat at `fresh_since_ms` or later.
    fn watch<'a>(
        &'a self,
        id: Option<i64>,
        origin: &'a str,
        video_id: Option<u64>,
        fresh_since_ms: i64,
    ) -> StoreFuture<'a, Watch>;
    /// Records a receiver's heartbeat.
    fn beat<'a>(&'a self, beat: &'a ReceiverBeat) -> StoreFuture<'a, ()>;
    /// A receiver stopped: waiting processes poll as before at once.
    fn receiver_stopped<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, ()>;
    /// Every recorded callback, newest first.
    fn callbacks(&self) -> StoreFuture<'_, Vec<CallbackRecord>>;

    // ---- account slots ----
    /// Takes one of `account`'s slots for job `job_id` under `owner`'s lease, without waiting
    /// on slots other processes are taking; `false` when all are held. The account has `limit`
    /// slots, or fewer once a limit was learned ([`Store::learn_limit`]). A slot the job holds
    /// already (a takeover) is kept. Renewed by [`Store::renew`] with the owner's jobs. A held
    /// slot is free before its lease when the process that claimed its job is gone from this
    /// host and the job cannot be generating ([`super::slot_owner_gone`]).
    fn acquire_slot<'a>(
        &'a self,
        account: &'a str,
        limit: u32,
        job_id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, bool>;
    /// Gives job `job_id`'s slot back (its generation ended, or its submit was refused).
    fn release_slot<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, ()>;
    /// The server refused job `job_id`'s submit for lack of a slot: the account's limit is the
    /// number of other jobs holding a live slot that the server accepted (at least 1). Records
    /// it for every worker (keeping a lower one learned before) and returns the limit in force.
    fn learn_limit<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, u32>;
    /// The limit learned for `account`, if any.
    fn learned_limit<'a>(&'a self, account: &'a str) -> StoreFuture<'a, Option<u32>>;

    // ---- shared batches (workers on many machines) ----
    /// Loads batch `batch` (its file's content hash) and its lines, idempotently: `true` when
    /// this call loaded it, `false` when another worker had.
    fn load_batch<'a>(
        &'a self,
        _batch: &'a str,
        _origin: &'a str,
        _lines: &'a [NewBatchLine],
    ) -> StoreFuture<'a, bool> {
        Box::pin(async { Err(shared_only()) })
    }
    /// Claims the batch's next line nobody holds (a pending one, or one whose owner is gone)
    /// without waiting on lines other workers are claiming.
    fn claim_batch_line<'a>(
        &'a self,
        _batch: &'a str,
        _owner: &'a Owner,
        _lease: Duration,
    ) -> StoreFuture<'a, LineClaim> {
        Box::pin(async { Err(shared_only()) })
    }
    /// Ends `instance`'s hold on a line: `state` is `done`, `failed` or `pending` (given back
    /// for another try), `outcome` what it came to.
    fn finish_batch_line<'a>(
        &'a self,
        _batch: &'a str,
        _line: i64,
        _instance: &'a str,
        _state: &'a str,
        _outcome: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async { Err(shared_only()) })
    }
    /// Every line of the batch with its job as the journal has it; `None` when it was never
    /// loaded.
    fn batch_lines<'a>(
        &'a self,
        _batch: &'a str,
    ) -> StoreFuture<'a, Option<Vec<super::SharedLine>>> {
        Box::pin(async { Err(shared_only()) })
    }
}

fn shared_only() -> JournalError {
    JournalError::Unsupported(
        "a batch shared by workers needs the shared journal: pass --journal postgres://… (with \
         any password in PIXFUSE_JOURNAL_URL), set PIXFUSE_JOURNAL_URL, or `journal_url` in \
         the config file"
            .to_owned(),
    )
}

/// A line of a batch to load.
#[derive(Clone, Debug)]
pub(crate) struct NewBatchLine {
    pub line: i64,
    pub key: String,
    pub name: String,
}

/// What claiming a batch's next line found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineClaim {
    /// This line is ours now; `took_over`: the gone worker that held it.
    Claimed { line: i64, took_over: Option<Owner> },
    /// Nothing is free, but live workers still run lines.
    Busy,
    /// Every line is finished.
    Finished,
}

/// A verified callback to record.
#[derive(Clone, Debug)]
pub(crate) struct NewCallback {
    pub record: CallbackRecord,
    /// The delivery's nonce, remembered until `nonce_expires_ms`.
    pub nonce: String,
    pub nonce_expires_ms: i64,
}

/// What recording a callback did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// A new event. `job`: the journaled job of its video (after the change); `moved`: the
    /// receiver wrote the job's end (no live process was driving it).
    New {
        job: Option<Box<JobRecord>>,
        moved: bool,
    },
    /// The same event (video and status) was recorded before: a retry or a duplicate.
    Duplicate { job: Option<Box<JobRecord>> },
    /// The nonce was seen within the window: a replayed delivery; nothing was written.
    ReplayedNonce,
}

/// See [`Store::watch`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Watch {
    pub job: Option<JobRecord>,
    pub callback: Option<CallbackRecord>,
    pub receiver_live: bool,
}

/// A receiver's heartbeat.
#[derive(Clone, Debug)]
pub(crate) struct ReceiverBeat {
    pub owner: Owner,
    pub origin: String,
    /// Where it listens (for `pixfuse jobs` and logs).
    pub listen: String,
    pub started_ms: i64,
}
