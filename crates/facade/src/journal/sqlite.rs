//! The journal in one SQLite file: WAL, full sync, mode 0600. Every call runs on tokio's
//! blocking pool, so a transaction waiting for another process's write lock never stalls the
//! runtime (nor its signal handling).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pixfuse_core::lifecycle::{Claim, ClaimStatus, JobState, Owner};
use pixfuse_core::poll::JobStatus;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::callbacks;
use super::schema::{self, Opened};
use super::store::{
    ClaimOutcome, ClaimRequest, ForgetRefusal, Fresh, NewCallback, ReceiverBeat, Recorded, Store,
    StoreFuture, Transition, Watch,
};
use super::{
    CallbackRecord, JOURNAL_FILE, JobRecord, JournalError, MediaType, UploadRecord,
    create_private_dir, liveness, now_ms, released_slot_filter, request_hash, slot_owner_gone,
};

/// How long a write waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// States in which a job may still be (or become) generating on the server.
const MAY_GENERATE: [JobState; 4] = [
    JobState::Claimed,
    JobState::Submitted,
    JobState::Generating,
    JobState::Succeeded,
];

/// The SQLite journal.
#[derive(Debug)]
pub(crate) struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
}

/// Switches a new connection to WAL with full sync and migrates the schema.
fn configure(conn: &mut Connection) -> rusqlite::Result<Opened> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed write-ahead record survives power loss, not just a process crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    schema::migrate(conn)
}

/// Runs `f` again while SQLite reports the database busy, for up to [`BUSY_TIMEOUT`].
///
/// The busy timeout does not cover everything: two processes opening a new journal at once
/// both hold a shared lock while switching it to WAL, and SQLite answers one of them
/// `SQLITE_BUSY` at once rather than let them deadlock. Every step here is idempotent.
fn retry_while_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the journal in `state_dir` (created with mode 0700).
    pub(crate) fn open_in(state_dir: &Path) -> Result<Self, JournalError> {
        create_private_dir(state_dir).map_err(|source| JournalError::StateDir {
            path: state_dir.to_owned(),
            source,
        })?;
        Self::open(&state_dir.join(JOURNAL_FILE))
    }

    /// Opens (creating if needed) the journal file at `path` and migrates it.
    pub(crate) fn open(path: &Path) -> Result<Self, JournalError> {
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
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        match retry_while_busy(|| configure(&mut conn)).map_err(open_err)? {
            Opened::Current => {}
            Opened::Newer(found) => {
                return Err(JournalError::NewerSchema {
                    path: path.to_owned(),
                    found,
                });
            }
        }
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            path: path.to_owned(),
        })
    }

    /// Runs `f` on the connection, off the async runtime.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, JournalError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            let joined = tokio::task::spawn_blocking(move || {
                // A panic while holding the lock cannot leave SQLite inconsistent: go on.
                let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                f(&mut conn)
            })
            .await;
            joined.unwrap_or_else(|e| Err(JournalError::Storage(e.to_string())))
        })
    }
}

impl Store for SqliteStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn job(&self, id: i64) -> StoreFuture<'_, Option<JobRecord>> {
        self.run(move |conn| get(conn, id))
    }

    fn jobs(&self) -> StoreFuture<'_, Vec<JobRecord>> {
        self.run(|conn| {
            let mut stmt = conn.prepare("SELECT * FROM jobs ORDER BY id DESC")?;
            let rows = stmt.query_map([], read_job)?;
            let mut jobs = Vec::new();
            for row in rows {
                jobs.push(row??);
            }
            Ok(jobs)
        })
    }

    fn job_by_video<'a>(
        &'a self,
        origin: &'a str,
        video_id: u64,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        let origin = origin.to_owned();
        self.run(move |conn| {
            one(
                conn,
                "SELECT * FROM jobs WHERE video_id = ?1 AND origin = ?2 ORDER BY id DESC LIMIT 1",
                params![video_id.to_string(), origin],
            )
        })
    }

    fn job_by_identity<'a>(
        &'a self,
        origin: &'a str,
        identity: &'a str,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        let (origin, identity) = (origin.to_owned(), identity.to_owned());
        self.run(move |conn| by_identity(conn, &origin, &identity))
    }

    fn newer_writer<'a>(
        &'a self,
        output: &'a Path,
        than: i64,
    ) -> StoreFuture<'a, Option<JobRecord>> {
        let output = path_text(output);
        self.run(move |conn| {
            one(
                conn,
                "SELECT * FROM jobs WHERE output_path = ?1 AND id > ?2 AND state != 'abandoned'
                 ORDER BY id DESC LIMIT 1",
                params![output, than],
            )
        })
    }

    fn claim(&self, request: ClaimRequest) -> StoreFuture<'_, ClaimOutcome> {
        self.run(move |conn| claim(conn, &request))
    }

    fn claim_job<'a>(
        &'a self,
        id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, ClaimOutcome> {
        let owner = owner.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let job = get(&tx, id)?.ok_or(JournalError::NoSuchJob(id))?;
            let outcome = take(&tx, job, &owner, lease)?;
            tx.commit()?;
            Ok(outcome)
        })
    }

    fn renew<'a>(
        &'a self,
        instance: &'a str,
        ids: &'a [i64],
        lease: Duration,
    ) -> StoreFuture<'a, usize> {
        let (instance, ids) = (instance.to_owned(), ids.to_vec());
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let until = lease_until(lease);
            let mut renewed = 0;
            for id in ids {
                renewed += tx.execute(
                    "UPDATE jobs SET lease_until_ms = ?3 WHERE id = ?1 AND owner_instance = ?2",
                    params![id, instance, until],
                )?;
                // The account slot a driven job holds lives as long as the job's claim.
                tx.execute(
                    "UPDATE account_slots SET lease_until_ms = ?3
                     WHERE job_id = ?1 AND owner_instance = ?2",
                    params![id, instance, until],
                )?;
            }
            tx.commit()?;
            Ok(renewed)
        })
    }

    fn release<'a>(&'a self, id: i64, instance: &'a str) -> StoreFuture<'a, ()> {
        let instance = instance.to_owned();
        self.run(move |conn| {
            conn.execute(
                &format!("UPDATE jobs SET {NO_OWNER} WHERE id = ?1 AND owner_instance = ?2"),
                params![id, instance],
            )?;
            Ok(())
        })
    }

    fn release_all<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, usize> {
        let instance = instance.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                &format!("UPDATE jobs SET {NO_OWNER} WHERE owner_instance = ?1"),
                params![instance],
            )?;
            tx.execute(
                &format!(
                    "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                          lease_until_ms = NULL
                 WHERE owner_instance = ?1 AND {}",
                    released_slot_filter()
                ),
                params![instance],
            )?;
            tx.commit()?;
            Ok(n)
        })
    }

    fn transition<'a>(
        &'a self,
        id: i64,
        instance: &'a str,
        change: Transition,
    ) -> StoreFuture<'a, JobRecord> {
        let instance = instance.to_owned();
        self.run(move |conn| transition(conn, id, &instance, &change))
    }

    fn note_error<'a>(&'a self, id: i64, error: Option<&'a str>) -> StoreFuture<'a, ()> {
        let error = error.map(str::to_owned);
        self.run(move |conn| {
            conn.execute(
                "UPDATE jobs SET last_error = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, error, now_ms()],
            )?;
            Ok(())
        })
    }

    fn forget<'a>(
        &'a self,
        ids: &'a [i64],
        force: bool,
        me: &'a Owner,
    ) -> StoreFuture<'a, Vec<Result<JobRecord, ForgetRefusal>>> {
        let (ids, me) = (ids.to_vec(), me.clone());
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut answers = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(job) = get(&tx, id)? else {
                    answers.push(Err(ForgetRefusal::Missing));
                    continue;
                };
                let driven = job
                    .claim
                    .as_ref()
                    .is_some_and(|c| c.status(&me, now_ms(), liveness) == ClaimStatus::Held);
                if !force && (MAY_GENERATE.contains(&job.state) || driven) {
                    answers.push(Err(ForgetRefusal::Unfinished(Box::new(job))));
                    continue;
                }
                tx.execute("DELETE FROM jobs WHERE id = ?1", [id])?;
                answers.push(Ok(job));
            }
            tx.commit()?;
            Ok(answers)
        })
    }

    fn upload<'a>(
        &'a self,
        origin: &'a str,
        sha256: &'a str,
        media_type: MediaType,
    ) -> StoreFuture<'a, Option<UploadRecord>> {
        let (origin, sha256) = (origin.to_owned(), sha256.to_owned());
        self.run(move |conn| {
            let row = conn
                .query_row(
                    "SELECT img_id, img_url FROM uploads
                     WHERE origin = ?1 AND sha256 = ?2 AND media_type = ?3",
                    params![origin, sha256, media_type.as_str()],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?)),
                )
                .optional()?;
            // A corrupt cache entry is not worth failing a job for: upload again.
            Ok(row.and_then(|(img_id, img_url)| {
                Some(UploadRecord {
                    img_id: img_id.parse().ok()?,
                    sha256,
                    media_type,
                    img_url,
                })
            }))
        })
    }

    fn record_upload<'a>(
        &'a self,
        origin: &'a str,
        upload: &'a UploadRecord,
        size: u64,
    ) -> StoreFuture<'a, ()> {
        let (origin, upload) = (origin.to_owned(), upload.clone());
        self.run(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO uploads
                     (origin, sha256, img_id, img_url, size, created_ms, media_type)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    origin,
                    upload.sha256,
                    upload.img_id.to_string(),
                    upload.img_url,
                    i64::try_from(size).unwrap_or(i64::MAX),
                    now_ms(),
                    upload.media_type.as_str(),
                ],
            )?;
            Ok(())
        })
    }

    fn forget_uploads<'a>(&'a self, origin: &'a str, img_ids: &'a [u64]) -> StoreFuture<'a, usize> {
        let (origin, img_ids) = (origin.to_owned(), img_ids.to_vec());
        self.run(move |conn| {
            let mut forgotten = 0;
            for id in img_ids {
                forgotten += conn.execute(
                    "DELETE FROM uploads WHERE origin = ?1 AND img_id = ?2 AND media_type = 'image'",
                    params![origin, id.to_string()],
                )?;
            }
            Ok(forgotten)
        })
    }

    fn check_batch_lines(&self, lines: Vec<(String, String)>) -> StoreFuture<'_, Vec<bool>> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut verdicts = Vec::with_capacity(lines.len());
            for (key, hash) in &lines {
                let journaled = tx
                    .query_row("SELECT 1 FROM jobs WHERE identity = ?1", [key], |_| Ok(()))
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
                        "INSERT OR REPLACE INTO batch_line_hashes (batch_key, job_hash)
                         VALUES (?1, ?2)",
                        params![key, hash],
                    )?;
                }
                verdicts.push(same);
            }
            tx.commit()?;
            Ok(verdicts)
        })
    }

    fn record_callback<'a>(
        &'a self,
        callback: &'a NewCallback,
        receiver: &'a Owner,
    ) -> StoreFuture<'a, Recorded> {
        let (callback, receiver) = (callback.clone(), receiver.clone());
        self.run(move |conn| callbacks::record(conn, &callback, &receiver))
    }

    fn watch<'a>(
        &'a self,
        id: Option<i64>,
        origin: &'a str,
        video_id: Option<u64>,
        fresh_since_ms: i64,
    ) -> StoreFuture<'a, Watch> {
        let origin = origin.to_owned();
        self.run(move |conn| callbacks::watch(conn, id, &origin, video_id, fresh_since_ms))
    }

    fn beat<'a>(&'a self, beat: &'a ReceiverBeat) -> StoreFuture<'a, ()> {
        let beat = beat.clone();
        self.run(move |conn| callbacks::beat(conn, &beat))
    }

    fn receiver_stopped<'a>(&'a self, instance: &'a str) -> StoreFuture<'a, ()> {
        let instance = instance.to_owned();
        self.run(move |conn| {
            conn.execute("DELETE FROM receivers WHERE instance = ?1", [instance])?;
            Ok(())
        })
    }

    fn acquire_slot<'a>(
        &'a self,
        account: &'a str,
        limit: u32,
        job_id: i64,
        owner: &'a Owner,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let (account, instance) = (account.to_owned(), owner.instance.clone());
        self.run(move |conn| {
            // The write lock serializes takers: what PostgreSQL does with row locks.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let learned: Option<i64> = tx
                .query_row(
                    "SELECT slots FROM account_limits WHERE account = ?1",
                    params![account],
                    |r| r.get(0),
                )
                .optional()?;
            let limit = learned.map_or(i64::from(limit.max(1)), |l| {
                l.max(1).min(i64::from(limit.max(1)))
            });
            for slot in 0..limit {
                tx.execute(
                    "INSERT OR IGNORE INTO account_slots (account, slot) VALUES (?1, ?2)",
                    params![account, slot],
                )?;
            }
            free_slots_of_gone_owners(&tx, &account)?;
            let until = lease_until(lease);
            let kept = tx.execute(
                "UPDATE account_slots SET owner_instance = ?3, lease_until_ms = ?4
                 WHERE account = ?1 AND job_id = ?2",
                params![account, job_id, instance, until],
            )?;
            let granted = kept > 0
                || tx.execute(
                    "UPDATE account_slots SET job_id = ?3, owner_instance = ?4, lease_until_ms = ?5
                     WHERE account = ?1 AND slot = (
                         SELECT slot FROM account_slots
                         WHERE account = ?1 AND slot < ?2
                           AND (job_id IS NULL OR lease_until_ms IS NULL OR lease_until_ms < ?6)
                         ORDER BY slot LIMIT 1)",
                    params![account, limit, job_id, instance, until, now_ms()],
                )? > 0;
            tx.commit()?;
            Ok(granted)
        })
    }

    fn release_slot<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, ()> {
        let account = account.to_owned();
        self.run(move |conn| {
            conn.execute(
                "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                          lease_until_ms = NULL
                 WHERE account = ?1 AND job_id = ?2",
                params![account, job_id],
            )?;
            Ok(())
        })
    }

    fn learn_limit<'a>(&'a self, account: &'a str, job_id: i64) -> StoreFuture<'a, u32> {
        let account = account.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let seen: i64 = tx.query_row(
                "SELECT count(*) FROM account_slots s JOIN jobs j ON j.id = s.job_id
                 WHERE s.account = ?1 AND s.job_id <> ?2 AND s.lease_until_ms >= ?3
                   AND j.state IN (?4, ?5)",
                params![
                    account,
                    job_id,
                    now_ms(),
                    JobState::Submitted.as_str(),
                    JobState::Generating.as_str()
                ],
                |r| r.get(0),
            )?;
            let slots: i64 = tx.query_row(
                "INSERT INTO account_limits (account, slots, learned, updated_ms)
                 VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (account) DO UPDATE
                     SET slots = min(slots, excluded.slots), learned = 1,
                         updated_ms = excluded.updated_ms
                 RETURNING slots",
                params![account, seen.max(1), now_ms()],
                |r| r.get(0),
            )?;
            tx.commit()?;
            Ok(u32::try_from(slots).unwrap_or(1))
        })
    }

    fn learned_limit<'a>(&'a self, account: &'a str) -> StoreFuture<'a, Option<u32>> {
        let account = account.to_owned();
        self.run(move |conn| {
            let slots: Option<i64> = conn
                .query_row(
                    "SELECT slots FROM account_limits WHERE account = ?1 AND learned",
                    params![account],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(slots.and_then(|n| u32::try_from(n).ok()))
        })
    }

    fn callbacks(&self) -> StoreFuture<'_, Vec<CallbackRecord>> {
        self.run(callbacks::all)
    }
}

/// Frees `account`'s slots whose holder is gone from this host (see [`slot_owner_gone`]).
fn free_slots_of_gone_owners(
    tx: &rusqlite::Transaction<'_>,
    account: &str,
) -> Result<(), JournalError> {
    let mut stmt = tx.prepare(
        "SELECT s.slot, j.owner_host, j.owner_pid, j.owner_start, j.owner_instance, j.state
         FROM account_slots s JOIN jobs j
           ON j.id = s.job_id AND j.owner_instance = s.owner_instance
         WHERE s.account = ?1 AND s.lease_until_ms >= ?2",
    )?;
    let held = stmt
        .query_map(params![account, now_ms()], |r| {
            let owner = Owner {
                host: r.get(1)?,
                pid: r.get(2)?,
                start: r.get(3)?,
                instance: r.get(4)?,
            };
            Ok((r.get::<_, i64>(0)?, owner, r.get::<_, String>(5)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for (slot, owner, state) in held {
        if JobState::parse(&state).is_some_and(|state| slot_owner_gone(&owner, state)) {
            tx.execute(
                "UPDATE account_slots SET job_id = NULL, owner_instance = NULL,
                                          lease_until_ms = NULL
                 WHERE account = ?1 AND slot = ?2",
                params![account, slot],
            )?;
        }
    }
    Ok(())
}

const NO_OWNER: &str = "owner_host = NULL, owner_pid = NULL, owner_start = NULL, \
                        owner_instance = NULL, lease_until_ms = NULL";

fn lease_until(lease: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(lease.as_millis()).unwrap_or(i64::MAX))
}

fn claim(conn: &mut Connection, req: &ClaimRequest) -> Result<ClaimOutcome, JournalError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut superseded = None;
    if let Some(job) = by_identity(&tx, &req.origin, &req.identity)? {
        let start_new = match req.fresh {
            Fresh::Continue => false,
            Fresh::New => true,
            Fresh::RetryFailed => job.state.failed_for_good(),
        };
        if !start_new {
            let outcome = take(&tx, job, &req.owner, req.lease)?;
            tx.commit()?;
            return Ok(outcome);
        }
        tx.execute("UPDATE jobs SET identity = NULL WHERE id = ?1", [job.id])?;
        superseded = Some(Box::new(job));
    }
    let mut abandoned = Vec::new();
    if let Some(output) = &req.output {
        let holders = unfinished_writers(&tx, output)?;
        if let Some(holder) = holders.first()
            && !req.force
        {
            // Dropping the transaction rolls the supersession back too.
            return Ok(ClaimOutcome::OutputTaken {
                holder: holder.clone(),
            });
        }
        for holder in holders {
            tx.execute(
                &format!(
                    "UPDATE jobs SET state = 'abandoned', identity = NULL, {NO_OWNER},
                     updated_ms = ?2 WHERE id = ?1"
                ),
                params![holder.id, now_ms()],
            )?;
            abandoned.extend(get(&tx, holder.id)?);
        }
    }
    let now = now_ms();
    tx.execute(
        "INSERT INTO jobs (trace_id, state, origin, identity, form, provider, base_url,
                           output_path, created_ms, updated_ms, owner_host, owner_pid,
                           owner_start, owner_instance, lease_until_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14)",
        params![
            req.trace_id.to_string(),
            JobState::Planned.as_str(),
            req.origin,
            req.identity,
            req.form,
            req.provider,
            req.base_url,
            req.output.as_deref().map(path_text),
            now,
            req.owner.host,
            req.owner.pid,
            req.owner.start,
            req.owner.instance,
            lease_until(req.lease),
        ],
    )?;
    let id = tx.last_insert_rowid();
    let job = get(&tx, id)?.ok_or(JournalError::NoSuchJob(id))?;
    tx.commit()?;
    Ok(ClaimOutcome::New {
        job,
        superseded,
        abandoned,
    })
}

/// Makes `owner` the claimant of `job` unless a live other owner holds it.
fn take(
    conn: &Connection,
    job: JobRecord,
    owner: &Owner,
    lease: Duration,
) -> Result<ClaimOutcome, JournalError> {
    let took_over = match &job.claim {
        None => None,
        Some(claim) => match claim.status(owner, now_ms(), liveness) {
            ClaimStatus::Mine => None,
            ClaimStatus::Held => {
                return Ok(ClaimOutcome::Held {
                    owner: claim.owner.clone(),
                    job,
                });
            }
            ClaimStatus::Expired => Some(claim.owner.clone()),
        },
    };
    conn.execute(
        "UPDATE jobs SET owner_host = ?2, owner_pid = ?3, owner_start = ?4, owner_instance = ?5,
                         lease_until_ms = ?6
         WHERE id = ?1",
        params![
            job.id,
            owner.host,
            owner.pid,
            owner.start,
            owner.instance,
            lease_until(lease)
        ],
    )?;
    let job = get(conn, job.id)?.ok_or(JournalError::NoSuchJob(job.id))?;
    Ok(ClaimOutcome::Existing { job, took_over })
}

fn transition(
    conn: &mut Connection,
    id: i64,
    instance: &str,
    change: &Transition,
) -> Result<JobRecord, JournalError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let job = get(&tx, id)?.ok_or(JournalError::NoSuchJob(id))?;
    let holder = job.claim.as_ref().map(|c| &c.owner);
    if holder.is_none_or(|o| o.instance != instance) {
        return Err(JournalError::ClaimLost {
            id,
            by: holder.cloned(),
        });
    }
    if let Some(expected) = change.from
        && job.state != expected
    {
        return Err(JournalError::Conflict {
            id,
            expected,
            found: job.state,
        });
    }
    if change.trace_id.is_some() && job.state != JobState::RefusedBeforeBilling {
        // The lifecycle never asks for it; refuse rather than risk a second bill.
        return Err(JournalError::Storage(format!(
            "refusing to give job {id} a new trace id while it is {}",
            job.state
        )));
    }
    let to = change.to.unwrap_or(job.state);
    let now = now_ms();
    let stamp = |when: bool, old: Option<i64>| if when { old.or(Some(now)) } else { old };
    let error = match &change.error {
        Some(error) => error.clone(),
        None => job.last_error.clone(),
    };
    tx.execute(
        "UPDATE jobs SET state = ?2, trace_id = ?3, request = ?4, request_hash = ?5,
                         video_id = ?6, vendor_status = ?7, url = ?8, credits = ?9, seed = ?10,
                         output_path = ?11, last_error = ?12, submitted_ms = ?13,
                         finished_ms = ?14, downloaded_ms = ?15, updated_ms = ?16
         WHERE id = ?1",
        params![
            id,
            to.as_str(),
            change.trace_id.unwrap_or(job.trace_id).to_string(),
            change.request.as_ref().or(job.request.as_ref()),
            change
                .request
                .as_deref()
                .map(request_hash)
                .or(job.request_hash.clone()),
            change.video_id.or(job.video_id).map(|v| v.to_string()),
            change.status.or(job.status).map(JobStatus::code),
            change.url.as_ref().or(job.url.as_ref()),
            change.credits.or(job.credits),
            change.seed.or(job.seed),
            change
                .output
                .as_deref()
                .or(job.output_path.as_deref())
                .map(path_text),
            error,
            stamp(to == JobState::Submitted, job.submitted_ms),
            stamp(
                to == JobState::Succeeded || to.failed_for_good(),
                job.finished_ms
            ),
            if change.to == Some(JobState::Downloaded) {
                Some(now)
            } else {
                job.downloaded_ms
            },
            now,
        ],
    )?;
    let job = get(&tx, id)?.ok_or(JournalError::NoSuchJob(id))?;
    tx.commit()?;
    Ok(job)
}

pub(super) fn get(conn: &Connection, id: i64) -> Result<Option<JobRecord>, JournalError> {
    one(conn, "SELECT * FROM jobs WHERE id = ?1", [id])
}

fn by_identity(
    conn: &Connection,
    origin: &str,
    identity: &str,
) -> Result<Option<JobRecord>, JournalError> {
    one(
        conn,
        "SELECT * FROM jobs WHERE origin = ?1 AND identity = ?2",
        params![origin, identity],
    )
}

/// Unfinished jobs writing `output`.
fn unfinished_writers(conn: &Connection, output: &Path) -> Result<Vec<JobRecord>, JournalError> {
    let mut stmt = conn.prepare("SELECT * FROM jobs WHERE output_path = ?1 ORDER BY id")?;
    let rows = stmt.query_map([path_text(output)], read_job)?;
    let mut jobs = Vec::new();
    for row in rows {
        let job = row??;
        if job.state.is_unfinished() {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

pub(super) fn one(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Option<JobRecord>, JournalError> {
    conn.query_row(sql, params, read_job)
        .optional()?
        .transpose()
}

fn path_text(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn read_job(r: &Row<'_>) -> rusqlite::Result<Result<JobRecord, JournalError>> {
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
    let claim = match (
        r.get::<_, Option<String>>("owner_host")?,
        r.get::<_, Option<u32>>("owner_pid")?,
        r.get::<_, Option<String>>("owner_start")?,
        r.get::<_, Option<String>>("owner_instance")?,
        r.get::<_, Option<i64>>("lease_until_ms")?,
    ) {
        (Some(host), Some(pid), Some(start), Some(instance), Some(lease_until_ms)) => Some(Claim {
            owner: Owner {
                host,
                pid,
                start,
                instance,
            },
            lease_until_ms,
        }),
        _ => None,
    };
    Ok(Ok(JobRecord {
        id,
        trace_id,
        state,
        origin: r.get("origin")?,
        identity: r.get("identity")?,
        form: r.get("form")?,
        request: r.get("request")?,
        request_hash: r.get("request_hash")?,
        provider: r.get("provider")?,
        base_url: r.get("base_url")?,
        video_id,
        // The one place a stored vendor code becomes a status.
        status: r
            .get::<_, Option<i64>>("vendor_status")?
            .map(JobStatus::from_code),
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
        claim,
    }))
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
