//! The job journal: what makes jobs survive crashes, reruns and other processes.
//!
//! The rule that keeps a job from being billed twice: a job's identity is claimed, and its trace
//! id minted, in one transaction before anything is uploaded or sent; the request is committed
//! with that trace id *before* the first submit leaves the process. A continued job resends with
//! the same trace id, and the vendor answers with the earlier result instead of making (and
//! billing) a new video. The video id is written as soon as it is known, then status, URL,
//! output path and credits. The API key is never written here.
//!
//! Only the flows write it (through the crate-private `Store` boundary, whose one implementation
//! today is SQLite in the state directory); this module's public face is read-only:
//! [`Journal::jobs`], [`Journal::job`], the upload cache for dry runs, and [`Journal::forget`],
//! which refuses to forget a job that may still be generating.

mod callbacks;
mod owner;
mod postgres;
mod schema;
mod sqlite;
mod store;
mod url;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub use pixfuse_core::lifecycle::{Claim, JobState, Owner};
use pixfuse_core::poll::JobStatus;
use pixfuse_transport::{discard_partial, partial_path};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub(crate) use owner::{liveness, released_slot_filter, slot_owner_gone, this_process};
pub(crate) use postgres::PostgresStore;
pub(crate) use sqlite::SqliteStore;
pub(crate) use store::{
    ClaimOutcome, ClaimRequest, ForgetRefusal, Fresh, LineClaim, NewBatchLine, NewCallback,
    ReceiverBeat, Recorded, Store, Transition, Watch,
};
pub use url::JournalUrl;

/// Environment variable naming a shared journal (`postgres://…`) instead of the SQLite file.
pub const JOURNAL_URL_ENV: &str = "PIXFUSE_JOURNAL_URL";

/// File name of the journal inside the state directory.
pub const JOURNAL_FILE: &str = "journal.sqlite3";

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The state directory (or the journal file in it) cannot be created.
    #[error(
        "cannot create the state directory {path}: {source} (set --state-dir or PIXFUSE_STATE_DIR to a writable directory)"
    )]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The journal file cannot be opened as a database.
    #[error("cannot open the journal {path}: {source}")]
    Open {
        /// The journal file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A newer pixfuse wrote it.
    #[error(
        "journal {path} has schema version {found}, newer than this pixfuse understands ({}); upgrade pixfuse or use another --state-dir",
        schema::VERSION
    )]
    NewerSchema {
        /// The journal file.
        path: PathBuf,
        /// The version it has.
        found: i64,
    },
    /// A query failed.
    #[error("journal query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// No job with this id.
    #[error("no job {0} in the journal (list them with `pixfuse jobs`)")]
    NoSuchJob(i64),
    /// A row the journal cannot read back.
    #[error("journal row {id} is corrupt: {what}")]
    Corrupt {
        /// The job.
        id: i64,
        /// What is wrong with it.
        what: String,
    },
    /// Another writer moved the job first (it is no longer in the state this write expected).
    #[error("job {id} changed meanwhile: it is {found}, not {expected}")]
    Conflict {
        /// The job.
        id: i64,
        /// The state the write expected.
        expected: JobState,
        /// The state the job is in.
        found: JobState,
    },
    /// This process no longer holds the job's claim (its lease ran out and another process
    /// took the job over).
    #[error(
        "job {id} was taken over by another pixfuse process{}; it continues there",
        by.as_ref().map(|o| format!(" (pid {} on {})", o.pid, o.host)).unwrap_or_default()
    )]
    ClaimLost {
        /// The job.
        id: i64,
        /// The process that holds it now, when known.
        by: Option<Owner>,
    },
    /// A shared journal's URL that cannot be used (shown with its password redacted).
    #[error("journal URL {url}: {why}")]
    BadUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The shared journal's database failed or cannot be reached.
    #[error("journal database {location}: {message}")]
    Database {
        /// The URL, password redacted.
        location: String,
        /// The driver's message (any password scrubbed).
        message: String,
    },
    /// A transaction lost a race with another process's and is run again (never escapes the
    /// store unless the race repeats twenty times).
    #[error("the journal stayed busy with other processes' transactions; try again")]
    Retry,
    /// What this journal cannot do (a shared batch needs the PostgreSQL journal).
    #[error("{0}")]
    Unsupported(String),
    /// The storage failed in a way of its own (a worker thread stopped).
    #[error("journal storage failed: {0}")]
    Storage(String),
}

impl JournalError {
    /// A lost race with another process's transaction: running it again clears it.
    pub(crate) fn is_retryable_conflict(&self) -> bool {
        matches!(self, JournalError::Retry)
    }
}

/// One job as the journal has it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    /// The journal's id (`pixfuse resume ID`).
    pub id: i64,
    /// The `Ai-trace-id` every submit of this job carries.
    pub trace_id: Uuid,
    /// Where the job is in its lifecycle.
    pub state: JobState,
    /// The server the job belongs to (its trace id deduplicates only there).
    pub origin: String,
    /// Who the job is across reruns (a hash; `None` once a newer job took the identity).
    pub identity: Option<String>,
    /// The job form (images by path), as claimed.
    pub form: Option<String>,
    /// The request exactly as sent (img_ids resolved), from `claimed` on.
    pub request: Option<String>,
    /// sha256 of `request`.
    pub request_hash: Option<String>,
    /// Who served it (`pixverse`, `quickrouter`).
    pub provider: String,
    /// The URL the job was sent to.
    pub base_url: String,
    /// The vendor's id of the video, once submitted.
    pub video_id: Option<u64>,
    /// The last status the server reported.
    pub status: Option<JobStatus>,
    /// The download URL, once the video is ready.
    pub url: Option<String>,
    /// Where the video goes.
    pub output_path: Option<PathBuf>,
    /// Credits charged, when the server said.
    pub credits: Option<i64>,
    /// The seed the server reports it used.
    pub seed: Option<i64>,
    /// When the job was claimed (Unix milliseconds, like every `_ms` here).
    pub created_ms: i64,
    /// When the server accepted it.
    pub submitted_ms: Option<i64>,
    /// When the server reported its end.
    pub finished_ms: Option<i64>,
    /// When its video was on disk.
    pub downloaded_ms: Option<i64>,
    /// When the record last changed.
    pub updated_ms: i64,
    /// The last failure met while driving it (cleared by progress).
    pub last_error: Option<String>,
    /// The process driving it, if one holds a claim.
    #[serde(skip)]
    pub claim: Option<Claim>,
}

impl JobRecord {
    /// Whether `resume` has anything to do for this job.
    pub fn needs_resume(&self) -> bool {
        match self.state {
            // The video is gone, or its sidecar could not be written (a blocked path).
            JobState::Downloaded => self
                .output_path
                .as_deref()
                .is_some_and(|p| !p.exists() || !crate::sidecar::sidecar_path(p).is_file()),
            state => state.is_unfinished(),
        }
    }

    /// The journaled request, read back as a job (img_ids resolved).
    pub fn sent_job(&self) -> Option<pixfuse_core::Job> {
        serde_json::from_str(self.request.as_deref()?).ok()
    }
}

/// A verified webhook callback as the journal keeps it: one per event (video and status),
/// however many times it was delivered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CallbackRecord {
    /// The server it is about (the receiver's origin).
    pub origin: String,
    /// The video it is about.
    pub video_id: u64,
    /// The status it reports.
    pub status: JobStatus,
    /// The download URL it carries (successes only).
    pub url: Option<String>,
    /// The credits it reports.
    pub credits: Option<i64>,
    /// The job it matched when it came (`None`: a video the journal did not know then).
    pub job_id: Option<i64>,
    /// How many deliveries of it came (retries, duplicates).
    pub deliveries: i64,
    /// The reading of the payload its signature matched (`form_encoded`, …).
    pub signed_as: String,
    /// `Ai-Trace-Id` of its first delivery.
    pub trace_id: Option<String>,
    /// The body as received.
    pub body: String,
    /// When its first delivery came (Unix milliseconds).
    pub received_ms: i64,
}

/// A cached upload: content (by sha256) the server already has, images and reference videos
/// alike.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    /// Hex sha256 of the file's bytes.
    pub sha256: String,
    /// What was uploaded: the id below is an `img_id` for an image, a `media_id` for a video.
    pub media_type: MediaType,
    /// The vendor's id for it (`img_id` or `media_id`, see `media_type`).
    pub img_id: u64,
    /// Where the vendor keeps it, when the upload said.
    pub img_url: Option<String>,
}

/// What kind of upload a cached id names: the vendor numbers images and media separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MediaType {
    /// `POST …/image/upload`: an `img_id`.
    Image,
    /// `POST …/media/upload`: a reference video's `media_id`.
    Video,
}

impl MediaType {
    /// The journal's spelling (`image`, `video`).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
        }
    }
}

/// Hex sha256 of a canonical request, to spot identical jobs.
pub fn request_hash(request: &str) -> String {
    hex::encode(Sha256::digest(request.as_bytes()))
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The journal, read-only. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Journal {
    store: Arc<dyn Store>,
}

/// A line of a batch shared by workers, as the shared journal has it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SharedLine {
    /// The line's number in the batch file (from 1).
    pub line: i64,
    /// Its name (its `"id"`, else `line N`).
    pub name: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    /// The worker running it (`host:pid`), while it runs.
    pub worker: Option<String>,
    /// Times a worker claimed it.
    pub attempts: i64,
    /// What it came to (a failure's class), once finished.
    pub outcome: Option<String>,
    /// Its job in the journal, once a worker claimed the line.
    pub job_id: Option<i64>,
    /// Its job's state.
    pub job_state: Option<JobState>,
    /// Its job's trace id (kept across takeovers).
    pub trace_id: Option<Uuid>,
    /// Credits its job was charged, when the server said.
    pub credits: Option<i64>,
}

impl Journal {
    /// Opens (creating if needed) the journal in `state_dir`, which is created with mode 0700;
    /// an older journal is migrated to this build's schema.
    pub fn open_in(state_dir: &Path) -> Result<Journal, JournalError> {
        Ok(Journal {
            store: Arc::new(SqliteStore::open_in(state_dir)?),
        })
    }

    /// The shared journal at `url` (PostgreSQL). Nothing is connected yet: the first use
    /// connects and migrates the schema (refusing one a newer pixfuse wrote).
    pub fn connect(url: &JournalUrl) -> Result<Journal, JournalError> {
        Ok(Journal {
            store: Arc::new(PostgresStore::new(url)?),
        })
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Where the journal lives.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Every job, newest first.
    pub async fn jobs(&self) -> Result<Vec<JobRecord>, JournalError> {
        self.store.jobs().await
    }

    /// One job.
    pub async fn job(&self, id: i64) -> Result<JobRecord, JournalError> {
        self.store.job(id).await?.ok_or(JournalError::NoSuchJob(id))
    }

    /// Jobs `resume` has something to do for, oldest first. A job whose output now belongs to
    /// a newer job is left out: resuming it would overwrite that job's file.
    pub async fn unfinished(&self) -> Result<Vec<JobRecord>, JournalError> {
        let mut jobs = self.store.jobs().await?;
        jobs.retain(JobRecord::needs_resume);
        jobs.reverse();
        let mut kept = Vec::with_capacity(jobs.len());
        for job in jobs {
            let superseded = match &job.output_path {
                Some(output) => self.store.newer_writer(output, job.id).await?.is_some(),
                None => false,
            };
            if !superseded {
                kept.push(job);
            }
        }
        Ok(kept)
    }

    /// Every line of the shared batch `batch` (see [`crate::batch::batch_id`]) with its job, in
    /// line order; `None` when no worker loaded it. Needs the shared journal.
    pub async fn batch_lines(&self, batch: &str) -> Result<Option<Vec<SharedLine>>, JournalError> {
        self.store.batch_lines(batch).await
    }

    /// Every webhook callback recorded (by `pixfuse webhook serve`), newest first.
    pub async fn callbacks(&self) -> Result<Vec<CallbackRecord>, JournalError> {
        self.store.callbacks().await
    }

    /// The cached upload of content `sha256` as `media_type` at `origin` (what a dry run would
    /// reuse).
    pub async fn cached_upload(
        &self,
        origin: &str,
        sha256: &str,
        media_type: MediaType,
    ) -> Result<Option<UploadRecord>, JournalError> {
        self.store.upload(origin, sha256, media_type).await
    }

    /// Forgets jobs (and any partial download of theirs). One that may still be generating, or
    /// that another live process drives, is refused unless `force` (its video may be paid for).
    /// One answer per id, in order.
    pub async fn forget(&self, ids: &[i64], force: bool) -> Vec<Result<JobRecord, ForgetError>> {
        let me = this_process(Uuid::new_v4());
        match self.store.forget(ids, force, &me).await {
            Ok(answers) => answers
                .into_iter()
                .zip(ids)
                .map(|(answer, id)| {
                    if let Ok(job) = &answer
                        && let Some(output) = &job.output_path
                    {
                        // Nothing will continue a forgotten job's partial download.
                        let _ = discard_partial(&partial_path(output, &job.id.to_string()));
                    }
                    answer.map_err(|refusal| match refusal {
                        ForgetRefusal::Missing => ForgetError::NoSuchJob(*id),
                        ForgetRefusal::Unfinished(job) => ForgetError::Unfinished {
                            id: job.id,
                            state: job.state,
                        },
                    })
                })
                .collect(),
            Err(e) => {
                let message = e.to_string();
                ids.iter()
                    .map(|_| Err(ForgetError::Journal(message.clone())))
                    .collect()
            }
        }
    }
}

/// Why [`Journal::forget`] kept a job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ForgetError {
    /// No such job.
    #[error("no job {0} in the journal")]
    NoSuchJob(i64),
    /// It may still be generating (or another process drives it).
    #[error(
        "job {id} is {state} and may still be generating (a paid video would be lost); finish it with `pixfuse resume {id}`, or forget it anyway with --force"
    )]
    Unfinished {
        /// The job.
        id: i64,
        /// Where it stands.
        state: JobState,
    },
    /// The journal failed.
    #[error("{0}")]
    Journal(String),
}

/// Creates `dir` (and parents); a directory pixfuse creates itself gets mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
pub(crate) mod tests;

/// Claims per second on the shared journal at `url`, for `cargo xtask bench` (not an API):
/// `workers` workers, each with its own connection pool as a separate process has, make
/// `per_worker` job claims of fresh identities each (one transaction that creates the job),
/// then share one batch of `workers × per_worker` lines, claiming and finishing them until none
/// are left. Returns (job claims per second, batch-line claims per second).
#[doc(hidden)]
pub async fn bench_claims(
    url: &JournalUrl,
    workers: usize,
    per_worker: usize,
) -> Result<(f64, f64), JournalError> {
    use std::time::{Duration, Instant};
    let lease = Duration::from_secs(30);
    let stores = (0..workers)
        .map(|_| PostgresStore::new(url).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    for store in &stores {
        drop(store.conn().await?); // connected and migrated before the clock starts
    }
    let run = Uuid::new_v4().simple().to_string();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (w, store) in stores.iter().enumerate() {
        let (store, run) = (Arc::clone(store), run.clone());
        tasks.spawn(async move {
            let owner = this_process(Uuid::new_v4());
            for i in 0..per_worker {
                store
                    .claim(ClaimRequest {
                        identity: format!("bench-{run}-{w}-{i}"),
                        origin: "bench".to_owned(),
                        provider: "pixverse".to_owned(),
                        base_url: "bench".to_owned(),
                        form: None,
                        output: None,
                        trace_id: Uuid::new_v4(),
                        owner: owner.clone(),
                        lease,
                        fresh: Fresh::Continue,
                        force: false,
                    })
                    .await?;
            }
            Ok::<(), JournalError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| JournalError::Storage(e.to_string()))??;
    }
    let job_rate = (workers * per_worker) as f64 / started.elapsed().as_secs_f64();
    let lines: Vec<NewBatchLine> = (0..workers * per_worker)
        .map(|i| NewBatchLine {
            line: i as i64 + 1,
            key: format!("bench-{run}-line-{i}"),
            name: format!("line {}", i + 1),
        })
        .collect();
    stores[0].load_batch(&run, "bench", &lines).await?;
    let started = Instant::now();
    for store in &stores {
        let (store, run) = (Arc::clone(store), run.clone());
        tasks.spawn(async move {
            let owner = this_process(Uuid::new_v4());
            loop {
                match store.claim_batch_line(&run, &owner, lease).await? {
                    LineClaim::Claimed { line, .. } => {
                        store
                            .finish_batch_line(&run, line, &owner.instance, "done", None)
                            .await?;
                    }
                    LineClaim::Busy => tokio::task::yield_now().await,
                    LineClaim::Finished => return Ok(()),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| JournalError::Storage(e.to_string()))??;
    }
    let line_rate = lines.len() as f64 / started.elapsed().as_secs_f64();
    Ok((job_rate, line_rate))
}
