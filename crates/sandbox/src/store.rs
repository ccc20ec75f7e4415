//! Where the emulator keeps its state: one SQLite database, in memory or in
//! `<state dir>/sandbox.sqlite3`. Every request's decision runs in one immediate transaction,
//! so several processes on one file see one consistent vendor: a trace id is deduplicated, the
//! concurrency limit counted and the balance charged exactly once, whichever process answers.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::SandboxError;

/// File name of the database inside the state directory.
pub const STORE_FILE: &str = "sandbox.sqlite3";

// Bumped only by a change an older sandbox cannot read.
const SCHEMA_VERSION: i64 = 1;

// `media` holds every upload (images now; a `kind` column leaves room for videos). `jobs` keeps
// what the result endpoint reports: the answer fields fixed at submit time are in `result`.
// `callbacks` (added without a version bump: older sandboxes ignore it) holds one row per job
// submitted while a webhook was set: its fault, when its next delivery is due (or its claim's
// lease ends), how many deliveries were tried, and `pending`, `delivered` or `abandoned`.
// `video_media` (added the same way) holds what judging needs of a video upload (`media` row of
// kind `video`): its length in seconds, NULL when the upload could not tell.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key    TEXT PRIMARY KEY,
    value  NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS media (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    content_type  TEXT    NOT NULL,
    bytes         BLOB    NOT NULL,
    created_ms    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id          INTEGER PRIMARY KEY,
    key_hash    TEXT    NOT NULL,
    trace_id    TEXT    UNIQUE,
    credits     INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    ready_ms    INTEGER NOT NULL,
    outcome     INTEGER NOT NULL,
    settled     INTEGER NOT NULL DEFAULT 0,
    result      TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_running ON jobs(key_hash, ready_ms);
CREATE INDEX IF NOT EXISTS jobs_unsettled ON jobs(settled, ready_ms);
CREATE TABLE IF NOT EXISTS callbacks (
    job_id    INTEGER PRIMARY KEY,
    fault     TEXT,
    due_ms    INTEGER NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0,
    state     TEXT    NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(state, due_ms);
CREATE TABLE IF NOT EXISTS video_media (
    id             INTEGER PRIMARY KEY,
    duration_secs  REAL
);
";

/// Realistic ids start at a random point in this range, like the vendor's (3–4 × 10^14): well
/// below 2^53, so clients that parse JSON numbers as doubles read them exactly.
const REALISTIC_IDS: std::ops::Range<u64> = 300_000_000_000_000..390_000_000_000_000;
/// Where a new store's ids start: a random point of [`REALISTIC_IDS`], so two stores rarely
/// share an id.
pub(crate) fn random_first_id() -> u64 {
    use rand::{Rng, SeedableRng};
    rand::rngs::SmallRng::seed_from_u64(uuid::Uuid::new_v4().as_u64_pair().1)
        .random_range(REALISTIC_IDS)
}

/// Big ids start just above 2^53 and stay odd: no f64 can hold one.
const BIG_ID_FLOOR: u64 = (1 << 53) + 1;

/// The database and the identity of the emulator it holds.
pub(crate) struct Store {
    conn: Mutex<Connection>,
    id: String,
    path: Option<PathBuf>,
}

/// How long a statement waits for another process's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sets a persistent store up (WAL) and creates its tables; returns the schema version that
/// was found, or [`SCHEMA_VERSION`] once the tables exist. A newer version is left untouched.
fn prepare(conn: &Connection, persistent: bool) -> rusqlite::Result<i64> {
    if persistent {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Pretend money: a crash may lose the last write, never corrupt the file.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Ok(version);
    }
    conn.execute_batch(SCHEMA)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(SCHEMA_VERSION)
}

/// Runs `f` again while SQLite reports the database busy, for up to [`BUSY_TIMEOUT`]: two
/// processes opening a new state file at once both hold a shared lock while switching it to
/// WAL, and SQLite answers one of them `SQLITE_BUSY` at once instead of waiting.
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

impl Store {
    /// Opens (creating if needed) the store in `dir`, or an in-memory one. A new store gets a
    /// fresh identity, an account with `starting_credits`, and ids from `first_id` on (see
    /// [`random_first_id`]); an existing one keeps all three.
    pub(crate) fn open(
        dir: Option<&Path>,
        starting_credits: u64,
        first_id: u64,
    ) -> Result<Store, SandboxError> {
        let path = dir.map(|d| d.join(STORE_FILE));
        let fail = |e: rusqlite::Error| SandboxError::State {
            path: path.clone(),
            source: Box::new(e),
        };
        let conn = match (dir, &path) {
            (Some(dir), Some(file)) => {
                create_dir(dir).map_err(|e| SandboxError::State {
                    path: Some(dir.to_owned()),
                    source: Box::new(e),
                })?;
                let conn = Connection::open(file).map_err(fail)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
                conn
            }
            _ => Connection::open_in_memory().map_err(fail)?,
        };
        let version = retry_while_busy(|| prepare(&conn, path.is_some())).map_err(fail)?;
        if version > SCHEMA_VERSION {
            return Err(SandboxError::InvalidConfig(format!(
                "the sandbox state in {} was written by a newer pixfuse (schema {version}); \
                 upgrade, or use another state directory",
                path.as_deref().unwrap_or(Path::new("memory")).display()
            )));
        }
        let mut store = Store {
            conn: Mutex::new(conn),
            id: String::new(),
            path: path.clone(),
        };
        store.id = store
            .write(|tx| init(tx, starting_credits, first_id))
            .map_err(fail)?;
        Ok(store)
    }

    /// A stable name for this emulator's state (a UUID kept in the store).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The database file, when the store is persistent.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` in one immediate transaction (the write lock is taken first, so two processes
    /// never decide on the same stale state) and commits it if `f` succeeds.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Runs `f` on one consistent snapshot.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        f(&tx)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction rolls that transaction back: the database stays consistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates the account of a new store; returns the store's identity either way.
fn init(tx: &Connection, starting_credits: u64, first_id: u64) -> rusqlite::Result<String> {
    if let Some(id) = meta_text(tx, "store_id")? {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let credits = i64::try_from(starting_credits).unwrap_or(i64::MAX);
    let monthly = credits / 2;
    let defaults: [(&str, rusqlite::types::Value); 6] = [
        ("store_id", id.clone().into()),
        ("next_id", to_i64(first_id).into()),
        ("credit_monthly", monthly.into()),
        ("credit_package", (credits - monthly).into()),
        ("monthly_grant", monthly.into()),
        (
            "grant_month",
            crate::clock::month_index(crate::clock::now_ms()).into(),
        ),
    ];
    for (key, value) in defaults {
        tx.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
    }
    Ok(id)
}

pub(crate) fn meta_int(tx: &Connection, key: &str) -> rusqlite::Result<i64> {
    tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
        .map(Option::unwrap_or_default)
}

pub(crate) fn set_meta_int(tx: &Connection, key: &str, value: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
        params![key, value],
    )
    .map(drop)
}

fn meta_text(tx: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    tx.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// A new id for an upload or a job, unique in this store whatever the mode: ids only grow, by
/// a random step (vendor ids are not consecutive either). With `big`, above 2^53 and odd.
pub(crate) fn allocate_id(tx: &Connection, big: bool, step: u64) -> rusqlite::Result<u64> {
    let next = u64::try_from(meta_int(tx, "next_id")?).unwrap_or_default();
    let mut id = if big { next.max(BIG_ID_FLOOR) } else { next };
    if big && id % 2 == 0 {
        id += 1;
    }
    // Odd plus an even step stays odd.
    let step = if big { step.max(1) * 2 } else { step.max(1) };
    set_meta_int(tx, "next_id", to_i64(id.saturating_add(step)))?;
    Ok(id)
}

/// Adds `by` to counter `name`.
pub(crate) fn bump(tx: &Connection, name: &str, by: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO counters (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = value + ?2",
        params![name, by],
    )
    .map(drop)
}

/// Raises counter `name` to `value` if it is lower (a peak).
pub(crate) fn raise(tx: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO counters (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = max(value, ?2)",
        params![name, value],
    )
    .map(drop)
}

/// Every counter, by name.
pub(crate) fn counters(tx: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = tx.prepare("SELECT name, value FROM counters")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Ids and credits are below 2^63 (they start far below and grow by small steps).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// As the journal creates its directory (pixfuse's facade is not a dependency of the sandbox).
fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    // The same mode pixfuse gives its journal directory, which this one usually is.
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realistic_ids_survive_a_double_and_big_ids_do_not() {
        let store = Store::open(None, 100, REALISTIC_IDS.start).unwrap();
        let ids: Vec<u64> = (0..50)
            .map(|n| store.write(|tx| allocate_id(tx, false, 1 + n % 7)).unwrap())
            .collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "unique and growing");
        assert!(ids.iter().all(|id| REALISTIC_IDS.contains(id)));
        assert!(ids.iter().all(|&id| id as f64 as u64 == id));

        let big: Vec<u64> = (0..50)
            .map(|n| store.write(|tx| allocate_id(tx, true, 1 + n % 7)).unwrap())
            .collect();
        assert!(big.windows(2).all(|w| w[0] < w[1]));
        assert!(big.iter().all(|&id| id > 1 << 53 && id as f64 as u64 != id));
        // Back to realistic mode: still unique (ids never go down).
        let after = store.write(|tx| allocate_id(tx, false, 1)).unwrap();
        assert!(after > *big.last().unwrap());
    }

    #[test]
    fn sandboxes_opening_one_new_state_dir_at_once_are_one_vendor() {
        // `run --sandbox` twice at once: both emulators open the same new state file.
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    let (dir, barrier) = (dir.path().to_owned(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        Store::open(Some(&dir), 100, REALISTIC_IDS.start).map(|s| s.id().to_owned())
                    })
                })
                .collect();
            let ids: Vec<String> = openers
                .into_iter()
                .map(|o| o.join().unwrap().unwrap_or_else(|e| panic!("{e}")))
                .collect();
            assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
        }
    }

    #[test]
    fn a_persistent_store_keeps_its_identity_and_its_ids() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(Some(dir.path()), 100, REALISTIC_IDS.start).unwrap();
        let id = first.write(|tx| allocate_id(tx, false, 5)).unwrap();
        let identity = first.id().to_owned();
        drop(first);
        let again = Store::open(Some(dir.path()), 999, REALISTIC_IDS.end - 1).unwrap();
        assert_eq!(again.id(), identity);
        assert!(again.write(|tx| allocate_id(tx, false, 5)).unwrap() > id);
        assert_eq!(again.path(), Some(dir.path().join(STORE_FILE).as_path()));
    }

    #[test]
    fn two_in_memory_stores_are_different_emulators() {
        let a = Store::open(None, 1, random_first_id()).unwrap();
        let b = Store::open(None, 1, random_first_id()).unwrap();
        assert_ne!(a.id(), b.id());
    }
}
