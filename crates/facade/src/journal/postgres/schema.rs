//! The PostgreSQL journal's schema and its versioned migrations.
//!
//! `pixfuse_schema.version` is the number of migrations applied. They run on the first
//! connection of a process, in one transaction holding an advisory lock, so many workers
//! starting at once migrate once; a database a newer pixfuse migrated is refused.
//!
//! Version 1 holds what the SQLite journal's version 3 holds (jobs with claims, uploads, batch
//! line hashes, webhook callbacks, nonces and receivers) plus the shared-batch tables: account
//! slots and learned limits, batches and their lines.

/// The schema version this build writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Key of the advisory lock migrations hold (any constant; "pixfuse" in ASCII).
pub(crate) const MIGRATION_LOCK: i64 = 0x0070_6978_6675_7365;

/// Migration `n` takes the database from version `n` to `n + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3];

const V1: &str = "
CREATE TABLE jobs (
    id             BIGSERIAL PRIMARY KEY,
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
    vendor_status  BIGINT,
    url            TEXT,
    output_path    TEXT,
    credits        BIGINT,
    seed           BIGINT,
    created_ms     BIGINT  NOT NULL,
    submitted_ms   BIGINT,
    finished_ms    BIGINT,
    downloaded_ms  BIGINT,
    updated_ms     BIGINT  NOT NULL,
    last_error     TEXT,
    owner_host     TEXT,
    owner_pid      BIGINT,
    owner_start    TEXT,
    owner_instance TEXT,
    lease_until_ms BIGINT,
    UNIQUE (origin, identity)
);
CREATE INDEX jobs_state ON jobs(state);
CREATE INDEX jobs_video_id ON jobs(video_id);
CREATE INDEX jobs_output_path ON jobs(output_path);
CREATE INDEX jobs_owner_instance ON jobs(owner_instance);
CREATE INDEX jobs_identity ON jobs(identity);
CREATE TABLE uploads (
    origin      TEXT    NOT NULL,
    sha256      TEXT    NOT NULL,
    img_id      TEXT    NOT NULL,
    img_url     TEXT,
    size        BIGINT  NOT NULL,
    created_ms  BIGINT  NOT NULL,
    PRIMARY KEY (origin, sha256)
);
CREATE TABLE batch_line_hashes (
    batch_key   TEXT    PRIMARY KEY,
    job_hash    TEXT    NOT NULL
);
CREATE TABLE callbacks (
    origin         TEXT    NOT NULL,
    video_id       TEXT    NOT NULL,
    vendor_status  BIGINT  NOT NULL,
    url            TEXT,
    credits        BIGINT,
    job_id         BIGINT,
    deliveries     BIGINT  NOT NULL DEFAULT 1,
    signed_as      TEXT    NOT NULL,
    trace_id       TEXT,
    body           TEXT    NOT NULL,
    received_ms    BIGINT  NOT NULL,
    last_ms        BIGINT  NOT NULL,
    PRIMARY KEY (origin, video_id, vendor_status)
);
CREATE TABLE callback_nonces (
    nonce       TEXT    PRIMARY KEY,
    expires_ms  BIGINT  NOT NULL
);
CREATE INDEX callback_nonces_expiry ON callback_nonces(expires_ms);
CREATE TABLE receivers (
    instance    TEXT    PRIMARY KEY,
    origin      TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    pid         BIGINT  NOT NULL,
    listen      TEXT    NOT NULL,
    started_ms  BIGINT  NOT NULL,
    beat_ms     BIGINT  NOT NULL
);
CREATE INDEX receivers_origin ON receivers(origin, beat_ms);
-- One row per slot of an account (numbered from 0): a job holds one from its submit until
-- its video is ready, under its owner's lease.
CREATE TABLE account_slots (
    account        TEXT    NOT NULL,
    slot           INTEGER NOT NULL,
    job_id         BIGINT,
    owner_instance TEXT,
    lease_until_ms BIGINT,
    PRIMARY KEY (account, slot)
);
CREATE INDEX account_slots_job ON account_slots(account, job_id);
-- The account's concurrency limit: fixed by a worker, or learned once for all (`auto`).
CREATE TABLE account_limits (
    account     TEXT    PRIMARY KEY,
    slots       INTEGER NOT NULL,
    learned     BOOLEAN NOT NULL DEFAULT FALSE,
    updated_ms  BIGINT  NOT NULL
);
-- A batch file loaded by its first worker, keyed by the file's content hash.
CREATE TABLE batches (
    id          TEXT    PRIMARY KEY,
    origin      TEXT    NOT NULL,
    lines       INTEGER NOT NULL,
    created_ms  BIGINT  NOT NULL
);
CREATE TABLE batch_items (
    batch          TEXT    NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
    line           INTEGER NOT NULL,
    key            TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending',
    owner_host     TEXT,
    owner_pid      BIGINT,
    owner_instance TEXT,
    lease_until_ms BIGINT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    outcome        TEXT,
    updated_ms     BIGINT  NOT NULL,
    PRIMARY KEY (batch, line)
);
";

/// Version 2: a batch line's worker is known by its process too (a worker gone from this host
/// gives its lines up at once, as its jobs), and claims of the next line find it by index.
const V2: &str = "
ALTER TABLE batch_items ADD COLUMN owner_start TEXT;
CREATE INDEX batch_items_state ON batch_items(batch, state, line);
";

/// Version 3: the upload cache holds reference videos beside images (`media_type`: `image` for
/// an img_id, `video` for a media_id; every earlier row is an image).
const V3: &str = "
ALTER TABLE uploads ADD COLUMN media_type TEXT NOT NULL DEFAULT 'image';
";
