//! The SQLite journal's schema and its versioned migrations.
//!
//! `PRAGMA user_version` is the number of migrations applied. A fresh journal runs every
//! migration in order, so the path an existing user's journal takes is the path every new one
//! takes too. Each migration runs in one write transaction that re-reads the version first, so
//! two processes opening an old journal at once migrate it once.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `n` takes a journal from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// Version 1 (the first release): jobs in states prepared/submitted/succeeded/downloaded/
/// failed, uploads per base URL, batch lines mapped to jobs.
const V1: &str = "
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

/// Version 2: the lifecycle's states, identities and claims.
///
/// - `state` takes the lifecycle's names: `prepared` becomes `claimed`; `submitted` with a
///   "generating" status becomes `generating`; `failed` splits by vendor status into
///   `moderated`, `failed` and `deleted`, and a `failed` job without a video id (the server
///   refused its submit) becomes `refused_before_billing`.
/// - `identity` (unique per `origin`) names a job across reruns: a batch line's key (copied from
///   `batch_lines`, which goes), a `run`'s job form, a caller's idempotency key.
/// - `origin` is the server a job belongs to (the base URL, unless the client names another);
///   uploads are cached per origin.
/// - `form` keeps the job form (images by path) so a job interrupted before its uploads can be
///   continued; `request` is empty until the job is claimed.
/// - `owner_*` and `lease_until_ms` hold the claim of the process driving the job.
const V2: &str = "
CREATE TABLE jobs_v2 (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id       TEXT    NOT NULL UNIQUE,
    state          TEXT    NOT NULL,
    origin         TEXT    NOT NULL,
    identity       TEXT,
    form           TEXT,
    request        TEXT,
    request_hash   TEXT,
    provider       TEXT    NOT NULL,
    base_url       TEXT    NOT NULL,
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
    last_error     TEXT,
    owner_host     TEXT,
    owner_pid      INTEGER,
    owner_start    TEXT,
    owner_instance TEXT,
    lease_until_ms INTEGER,
    UNIQUE (origin, identity)
);
INSERT INTO jobs_v2 (id, trace_id, state, origin, identity, request, request_hash, provider,
                     base_url, video_id, vendor_status, url, output_path, credits, seed,
                     created_ms, submitted_ms, finished_ms, downloaded_ms, updated_ms, last_error)
SELECT j.id, j.trace_id,
       CASE j.state
           WHEN 'prepared' THEN 'claimed'
           WHEN 'submitted' THEN CASE j.vendor_status WHEN 5 THEN 'generating' ELSE 'submitted' END
           WHEN 'failed' THEN CASE
               WHEN j.vendor_status = 6 THEN 'deleted'
               WHEN j.vendor_status = 7 THEN 'moderated'
               WHEN j.video_id IS NULL THEN 'refused_before_billing'
               ELSE 'failed' END
           ELSE j.state END,
       j.base_url,
       (SELECT b.batch_key FROM batch_lines b WHERE b.job_id = j.id),
       j.request, j.request_hash, j.provider, j.base_url, j.video_id, j.vendor_status, j.url,
       j.output_path, j.credits, j.seed, j.created_ms, j.submitted_ms, j.finished_ms,
       j.downloaded_ms, j.updated_ms, j.last_error
FROM jobs j;
DROP TABLE batch_lines;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_video_id ON jobs(video_id);
CREATE INDEX jobs_output_path ON jobs(output_path);
CREATE INDEX jobs_owner_instance ON jobs(owner_instance);
ALTER TABLE uploads RENAME COLUMN base_url TO origin;
";

/// Version 3: webhook callbacks.
///
/// - `callbacks` keeps one row per verified event, keyed by origin, video id and vendor status
///   (a retry or a duplicate bumps `deliveries`); `job_id` is the job it matched when it came,
///   `NULL` for a video the journal did not know (another tool's, or a job whose video id is
///   journaled later: it is found by video id then).
/// - `callback_nonces` keeps each delivery's nonce until `expires_ms`, so a replay within the
///   timestamp window is refused, across restarts and by every receiver on the journal.
/// - `receivers` holds each running receiver's heartbeat (`beat_ms`), per origin: waiting
///   processes read the journal often and poll slowly while one is fresh.
const V3: &str = "
CREATE TABLE callbacks (
    origin         TEXT    NOT NULL,
    video_id       TEXT    NOT NULL,
    vendor_status  INTEGER NOT NULL,
    url            TEXT,
    credits        INTEGER,
    job_id         INTEGER,
    deliveries     INTEGER NOT NULL DEFAULT 1,
    signed_as      TEXT    NOT NULL,
    trace_id       TEXT,
    body           TEXT    NOT NULL,
    received_ms    INTEGER NOT NULL,
    last_ms        INTEGER NOT NULL,
    PRIMARY KEY (origin, video_id, vendor_status)
);
CREATE TABLE callback_nonces (
    nonce       TEXT    PRIMARY KEY,
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX callback_nonces_expiry ON callback_nonces(expires_ms);
CREATE TABLE receivers (
    instance    TEXT    PRIMARY KEY,
    origin      TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    pid         INTEGER NOT NULL,
    listen      TEXT    NOT NULL,
    started_ms  INTEGER NOT NULL,
    beat_ms     INTEGER NOT NULL
);
CREATE INDEX receivers_origin ON receivers(origin, beat_ms);
";

/// Version 4: the account's concurrency, shared by every process on this machine.
/// - `account_slots` has one row per slot of an account (numbered from 0): a job holds one
///   from just before its submit until its generation ends, under its owner's lease.
/// - `account_limits` holds the limit learned from the server's refusals (`--concurrency
///   auto`), so every process uses it once one has learned it.
const V4: &str = "
CREATE TABLE account_slots (
    account        TEXT    NOT NULL,
    slot           INTEGER NOT NULL,
    job_id         INTEGER,
    owner_instance TEXT,
    lease_until_ms INTEGER,
    PRIMARY KEY (account, slot)
);
CREATE INDEX account_slots_job ON account_slots(account, job_id);
CREATE TABLE account_limits (
    account     TEXT    PRIMARY KEY,
    slots       INTEGER NOT NULL,
    learned     INTEGER NOT NULL DEFAULT 0,
    updated_ms  INTEGER NOT NULL
);
";

/// Version 5: the upload cache holds reference videos beside images. `media_type` says which
/// the cached id is (`image`: an img_id; `video`: a media_id); every earlier row is an image.
const V5: &str = "
ALTER TABLE uploads ADD COLUMN media_type TEXT NOT NULL DEFAULT 'image';
";

/// What opening found.
pub(crate) enum Opened {
    /// At the current version (after migrating, if it was older).
    Current,
    /// Written by a newer pixfuse.
    Newer(i64),
}

/// Brings the journal on `conn` to [`VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<Opened> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version == 0 && has_jobs_table(&tx)? {
            // Journals of the earliest builds recorded no version; their tables are version 1.
            version = 1;
        }
        if version > VERSION {
            return Ok(Opened::Newer(version));
        }
        let Some(step) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(Opened::Current);
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

fn has_jobs_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// The version-1 schema, for tests that build a journal as the first release wrote it.
#[cfg(test)]
pub(crate) const V1_SCHEMA: &str = V1;
