//! The job journal: a small SQLite database that makes jobs survive crashes.
//!
//! The one rule that keeps a job from being billed twice: the trace id and the canonical
//! request are committed *before* the first submit leaves the process ([`Journal::begin_job`]).
//! A resumed job then resends with that same trace id, and the vendor answers with the earlier
//! result instead of making (and billing) a new video. The video id is written as soon as it is
//! known, then status, URL, output path and credits. The API key is never written here.
//!
//! Content-addressed uploads live in the same file: sha256 of an image file → `img_id`, per base
//! URL, so the same subject is never uploaded twice.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// File name of the journal inside the state directory.
pub const JOURNAL_FILE: &str = "journal.sqlite3";

// Bumped only by changes an older pixfuse cannot live with. Additive tables (like
// `batch_line_hashes`) keep it: an older binary ignores them, and a row they lack is read as
// "unknown" rather than as a mismatch.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id       TEXT    NOT NULL UNIQUE,
    request        TEXT    NOT NULL,
    request_hash   TEXT    NOT NULL,
    provider       TEXT    NOT NULL,
    base_url       TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    video_id       TEXT,
    vendor_status  INTEGER,
    url            TEXT,
    output_path    TEXT,
    credits        INTEGER,
    seed           INTEGER,
    created_ms     INTEGER NOT NULL,
    submitted_ms   INTEGER,
    finished_ms    INTEGER,
    downloaded_ms  INTEGER,
    updated_ms     INTEGER NOT NULL,
    last_error     TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_video_id ON jobs(video_id);
CREATE INDEX IF NOT EXISTS jobs_request_hash ON jobs(request_hash);
CREATE TABLE IF NOT EXISTS uploads (
    base_url    TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    img_id      TEXT    NOT NULL,
    img_url     TEXT,
    size        INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    PRIMARY KEY (base_url, sha256)
);
CREATE TABLE IF NOT EXISTS batch_lines (
    batch_key   TEXT    PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs(id)
);
CREATE TABLE IF NOT EXISTS batch_line_hashes (
    batch_key   TEXT    PRIMARY KEY,
    job_hash    TEXT    NOT NULL
);
";

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    #[error(
        "cannot create the state directory {path}: {source} (set --state-dir or PIXFUSE_STATE_DIR to a writable directory)"
    )]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the journal {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "journal {path} has schema version {found}, newer than this pixfuse understands ({SCHEMA_VERSION}); upgrade pixfuse or use another --state-dir"
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("journal query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("no job {0} in the journal (list them with `pixfuse jobs`)")]
    NoSuchJob(i64),
    #[error("journal row {id} is corrupt: {what}")]
    Corrupt { id: i64, what: String },
}

/// Where a job stands, as far as the journal knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Trace id and request are durable; the submit may or may not have reached the server.
    /// Resume resends with the same trace id.
    Prepared,
    /// The server answered with a video id; resume only polls.
    Submitted,
    /// The video is ready (status 1) and its URL known; resume downloads it.
    Succeeded,
    /// The video is on disk at `output_path`; resume downloads again only if the file is gone.
    Downloaded,
    /// Terminal: the server refused the submit, or generation failed, was moderated or deleted.
    Failed,
}

impl JobState {
    /// Stable snake_case name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Prepared => "prepared",
            JobState::Submitted => "submitted",
            JobState::Succeeded => "succeeded",
            JobState::Downloaded => "downloaded",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "prepared" => JobState::Prepared,
            "submitted" => JobState::Submitted,
            "succeeded" => JobState::Succeeded,
            "downloaded" => JobState::Downloaded,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What must be durable before the first submit is sent.
#[derive(Clone, Debug)]
pub struct NewJob<'a> {
    pub trace_id: Uuid,
    /// The canonical request JSON exactly as it will be sent (img_ids resolved).
    pub request: &'a str,
    pub provider: &'a str,
    /// The server's origin ([`crate::ClientBuilder::origin`]; by default its base URL).
    pub base_url: &'a str,
    pub output_path: Option<&'a Path>,
}

/// One row of the `jobs` table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub trace_id: Uuid,
    pub request: String,
    pub request_hash: String,
    pub provider: String,
    /// The origin of the server the job was sent to (by default its base URL).
    pub base_url: String,
    pub state: JobState,
    pub video_id: Option<u64>,
    pub vendor_status: Option<i64>,
    pub url: Option<String>,
    pub output_path: Option<PathBuf>,
    pub credits: Option<i64>,
    pub seed: Option<i64>,
    pub created_ms: i64,
    pub submitted_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub downloaded_ms: Option<i64>,
    pub updated_ms: i64,
    pub last_error: Option<String>,
}

impl JobRecord {
    /// Whether `resume` has anything to do for this job.
    pub fn needs_resume(&self) -> bool {
        match self.state {
            JobState::Prepared | JobState::Submitted | JobState::Succeeded => true,
            // The video is gone, or its sidecar could not be written (a blocked path).
            JobState::Downloaded => self
                .output_path
                .as_deref()
                .is_some_and(|p| !p.exists() || !crate::sidecar::sidecar_path(p).is_file()),
            JobState::Failed => false,
        }
    }
}

/// A cached upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub sha256: String,
    pub img_id: u64,
    pub img_url: Option<String>,
}

/// What a status answer tells the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusUpdate {
    pub vendor_status: i64,
    pub url: Option<String>,
    pub credits: Option<i64>,
    pub seed: Option<i64>,
}

/// The journal. Cheap to open; one connection per handle.
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
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

impl Journal {
    /// Opens (creating if needed) the journal in `state_dir`, which is created with mode 0700.
    pub fn open_in(state_dir: &Path) -> Result<Self, JournalError> {
        create_private_dir(state_dir).map_err(|source| JournalError::StateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        Self::open(&state_dir.join(JOURNAL_FILE))
    }

    /// Opens (creating if needed) the journal file at `path`: mode 0600, WAL, full sync.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        // Create the file ourselves so its mode is 0600 from the first byte; SQLite gives the
        // -wal and -shm files the same mode as the database file.
        create_private_file(path).map_err(|source| JournalError::StateDir {
            path: path.to_owned(),
            source,
        })?;
        let open_err = |source| JournalError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        // FULL: a committed write-ahead record survives power loss, not just a process crash.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(open_err)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::NewerSchema {
                path: path.to_owned(),
                found: version,
            });
        }
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(open_err)?;
        Ok(Journal {
            conn,
            path: path.to_owned(),
        })
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write-ahead: commits the trace id and the canonical request. Call before the first send.
    pub fn begin_job(&self, job: &NewJob<'_>) -> Result<JobRecord, JournalError> {
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO jobs (trace_id, request, request_hash, provider, base_url, state,
                               output_path, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                job.trace_id.to_string(),
                job.request,
                request_hash(job.request),
                job.provider,
                job.base_url,
                JobState::Prepared.as_str(),
                job.output_path.map(path_text),
                now,
            ],
        )?;
        self.get(self.conn.last_insert_rowid())
    }

    /// [`Journal::begin_job`] for a batch line: the job and its stable batch key are committed
    /// together, so a rerun of the batch maps the line to this job (and its trace id).
    pub fn begin_batch_job(
        &self,
        job: &NewJob<'_>,
        batch_key: &str,
    ) -> Result<JobRecord, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        let record = self.begin_job(job)?;
        tx.execute(
            "INSERT OR REPLACE INTO batch_lines (batch_key, job_id) VALUES (?1, ?2)",
            params![batch_key, record.id],
        )?;
        tx.commit()?;
        Ok(record)
    }

    /// The job a batch line was journaled as, if any.
    pub fn find_batch_job(&self, batch_key: &str) -> Result<Option<JobRecord>, JournalError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT job_id FROM batch_lines WHERE batch_key = ?1",
                [batch_key],
                |r| r.get(0),
            )
            .optional()?;
        id.map(|id| self.get(id)).transpose()
    }

    /// Checks batch lines `(batch_key, job_hash)` against what the journal knows, in one
    /// transaction. A line whose key already has a job but whose job hash differs from the one
    /// recorded for it is `false` (the user changed a line that kept its id); every other line
    /// is `true`, and its hash is recorded. A journaled key without a recorded hash (written by
    /// an older pixfuse) is accepted and gets this hash.
    pub fn check_batch_lines(&self, lines: &[(&str, &str)]) -> Result<Vec<bool>, JournalError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut verdicts = Vec::with_capacity(lines.len());
        for &(key, hash) in lines {
            let journaled = tx
                .query_row(
                    "SELECT 1 FROM batch_lines WHERE batch_key = ?1",
                    [key],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            let recorded: Option<String> = tx
                .query_row(
                    "SELECT job_hash FROM batch_line_hashes WHERE batch_key = ?1",
                    [key],
                    |r| r.get(0),
                )
                .optional()?;
            let same = !journaled || recorded.as_deref().is_none_or(|h| h == hash);
            if same {
                tx.execute(
                    "INSERT OR REPLACE INTO batch_line_hashes (batch_key, job_hash) VALUES (?1, ?2)",
                    params![key, hash],
                )?;
            }
            verdicts.push(same);
        }
        tx.commit()?;
        Ok(verdicts)
    }

    /// The server accepted the submit: the video id is durable from here on.
    pub fn record_submitted(
        &self,
        id: i64,
        video_id: u64,
        credits: Option<i64>,
    ) -> Result<(), JournalError> {
        self.update(
            id,
            "state = ?2, video_id = ?3, credits = COALESCE(?4, credits),
             submitted_ms = COALESCE(submitted_ms, ?5), last_error = NULL",
            params![
                id,
                JobState::Submitted.as_str(),
                video_id.to_string(),
                credits,
                now_ms()
            ],
        )
    }

    /// A status answer. Status 1 with a URL makes the job `succeeded`; 6, 7, 8 make it `failed`;
    /// anything else only records the status.
    pub fn record_status(&self, id: i64, update: &StatusUpdate) -> Result<(), JournalError> {
        let state = match update.vendor_status {
            1 if update.url.is_some() => Some(JobState::Succeeded),
            6..=8 => Some(JobState::Failed),
            _ => None,
        };
        let finished = state.map(|_| now_ms());
        self.update(
            id,
            "vendor_status = ?2, url = COALESCE(?3, url), credits = COALESCE(?4, credits),
             seed = COALESCE(?5, seed), finished_ms = COALESCE(finished_ms, ?6),
             state = CASE WHEN state = 'downloaded' THEN state ELSE COALESCE(?7, state) END",
            params![
                id,
                update.vendor_status,
                update.url,
                update.credits,
                update.seed,
                finished,
                state.map(JobState::as_str),
            ],
        )
    }

    /// The video is on disk at `path`.
    pub fn record_downloaded(&self, id: i64, path: &Path) -> Result<(), JournalError> {
        self.update(
            id,
            "state = ?2, output_path = ?3, downloaded_ms = ?4, last_error = NULL",
            params![id, JobState::Downloaded.as_str(), path_text(path), now_ms()],
        )
    }

    /// Sets where the video should go (a later `download -o` or `resume` may change it).
    pub fn record_output_path(&self, id: i64, path: &Path) -> Result<(), JournalError> {
        self.update(id, "output_path = ?2", params![id, path_text(path)])
    }

    /// The job can never succeed (a refused submit, a failed or moderated generation).
    pub fn record_failed(&self, id: i64, error: &str) -> Result<(), JournalError> {
        self.update(
            id,
            "state = ?2, last_error = ?3, finished_ms = COALESCE(finished_ms, ?4)",
            params![id, JobState::Failed.as_str(), error, now_ms()],
        )
    }

    /// A failure that leaves the job resumable (network down, timeout expired).
    pub fn record_error(&self, id: i64, error: &str) -> Result<(), JournalError> {
        self.update(id, "last_error = ?2", params![id, error])
    }

    /// The last failure is mended (a missing sidecar written later).
    pub fn clear_error(&self, id: i64) -> Result<(), JournalError> {
        self.update(id, "last_error = NULL", params![id])
    }

    fn update(
        &self,
        id: i64,
        set: &str,
        params: impl rusqlite::Params,
    ) -> Result<(), JournalError> {
        let sql = format!(
            "UPDATE jobs SET {set}, updated_ms = {} WHERE id = ?1",
            now_ms()
        );
        match self.conn.execute(&sql, params)? {
            0 => Err(JournalError::NoSuchJob(id)),
            _ => Ok(()),
        }
    }

    /// One job by id.
    pub fn get(&self, id: i64) -> Result<JobRecord, JournalError> {
        self.conn
            .query_row("SELECT * FROM jobs WHERE id = ?1", [id], read_job)
            .optional()?
            .ok_or(JournalError::NoSuchJob(id))?
    }

    /// The most recent job sent to `origin` with this video id, if any (video ids are unique
    /// only per server).
    pub fn find_by_video_id(
        &self,
        origin: &str,
        video_id: u64,
    ) -> Result<Option<JobRecord>, JournalError> {
        self.conn
            .query_row(
                "SELECT * FROM jobs WHERE base_url = ?1 AND video_id = ?2 ORDER BY id DESC LIMIT 1",
                params![origin, video_id.to_string()],
                read_job,
            )
            .optional()?
            .transpose()
    }

    /// The newest unfinished job (not failed, not downloaded) that sent exactly `request` to
    /// `base_url`: running the same request again would pay a second time.
    pub fn find_unfinished_duplicate(
        &self,
        base_url: &str,
        request: &str,
    ) -> Result<Option<JobRecord>, JournalError> {
        self.conn
            .query_row(
                "SELECT * FROM jobs WHERE base_url = ?1 AND request_hash = ?2
                 AND state IN ('prepared', 'submitted', 'succeeded') ORDER BY id DESC LIMIT 1",
                params![base_url, request_hash(request)],
                read_job,
            )
            .optional()?
            .transpose()
    }

    /// All jobs, newest first.
    pub fn list(&self) -> Result<Vec<JobRecord>, JournalError> {
        let mut stmt = self.conn.prepare("SELECT * FROM jobs ORDER BY id DESC")?;
        let rows = stmt.query_map([], read_job)?;
        let mut jobs = Vec::new();
        for row in rows {
            jobs.push(row??);
        }
        Ok(jobs)
    }

    /// Jobs `resume` has something to do for, oldest first.
    pub fn unfinished(&self) -> Result<Vec<JobRecord>, JournalError> {
        let mut jobs = self.list()?;
        jobs.retain(JobRecord::needs_resume);
        jobs.reverse();
        Ok(jobs)
    }

    /// The cached upload of a file with this sha256 at this base URL.
    pub fn find_upload(
        &self,
        base_url: &str,
        sha256: &str,
    ) -> Result<Option<UploadRecord>, JournalError> {
        let row = self
            .conn
            .query_row(
                "SELECT img_id, img_url FROM uploads WHERE base_url = ?1 AND sha256 = ?2",
                params![base_url, sha256],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
            )
            .optional()?;
        let Some((img_id, img_url)) = row else {
            return Ok(None);
        };
        match img_id.parse() {
            Ok(img_id) => Ok(Some(UploadRecord {
                sha256: sha256.to_owned(),
                img_id,
                img_url,
            })),
            // A corrupt cache entry is not worth failing a job for: upload again.
            Err(_) => Ok(None),
        }
    }

    /// Forgets cached uploads with these img_ids at `base_url` (the server no longer knows
    /// them), so the next job uploads the files again. Returns how many were forgotten.
    pub fn forget_uploads(&self, base_url: &str, img_ids: &[u64]) -> Result<usize, JournalError> {
        let mut forgotten = 0;
        for id in img_ids {
            forgotten += self.conn.execute(
                "DELETE FROM uploads WHERE base_url = ?1 AND img_id = ?2",
                params![base_url, id.to_string()],
            )?;
        }
        Ok(forgotten)
    }

    /// Remembers an upload (replacing an older entry for the same content).
    pub fn record_upload(
        &self,
        base_url: &str,
        upload: &UploadRecord,
        size: u64,
    ) -> Result<(), JournalError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO uploads (base_url, sha256, img_id, img_url, size, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                base_url,
                upload.sha256,
                upload.img_id.to_string(),
                upload.img_url,
                i64::try_from(size).unwrap_or(i64::MAX),
                now_ms()
            ],
        )?;
        Ok(())
    }
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

type RowResult = Result<JobRecord, JournalError>;

fn read_job(r: &Row<'_>) -> rusqlite::Result<RowResult> {
    let id: i64 = r.get("id")?;
    let corrupt = |what: &str| JournalError::Corrupt {
        id,
        what: what.to_owned(),
    };
    let trace: String = r.get("trace_id")?;
    let Ok(trace_id) = Uuid::parse_str(&trace) else {
        return Ok(Err(corrupt("trace_id is not a UUID")));
    };
    let state: String = r.get("state")?;
    let Some(state) = JobState::parse(&state) else {
        return Ok(Err(corrupt("unknown state")));
    };
    let video_id = match r.get::<_, Option<String>>("video_id")? {
        None => None,
        Some(v) => match v.parse::<u64>() {
            Ok(v) => Some(v),
            Err(_) => return Ok(Err(corrupt("video_id is not an integer"))),
        },
    };
    Ok(Ok(JobRecord {
        id,
        trace_id,
        request: r.get("request")?,
        request_hash: r.get("request_hash")?,
        provider: r.get("provider")?,
        base_url: r.get("base_url")?,
        state,
        video_id,
        vendor_status: r.get("vendor_status")?,
        url: r.get("url")?,
        output_path: r
            .get::<_, Option<String>>("output_path")?
            .map(PathBuf::from),
        credits: r.get("credits")?,
        seed: r.get("seed")?,
        created_ms: r.get("created_ms")?,
        submitted_ms: r.get("submitted_ms")?,
        finished_ms: r.get("finished_ms")?,
        downloaded_ms: r.get("downloaded_ms")?,
        updated_ms: r.get("updated_ms")?,
        last_error: r.get("last_error")?,
    }))
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

fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    #[cfg(unix)]
    {
        // An older file may have been created with a laxer mode: tighten it.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode != 0o600 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
