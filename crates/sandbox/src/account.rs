//! The account's books: balance, uploads, jobs and trace ids, as rows of the store. The
//! handlers decide; these functions read and write rows inside the caller's transaction.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use crate::clock;
use crate::stats::counter;
use crate::store::{bump, meta_int, set_meta_int, to_i64};

/// How a job ends once its generation time has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// Status 7, refunded.
    Moderated,
    /// Status 8, refunded.
    Failed,
}

impl Outcome {
    pub(crate) fn status(self) -> i64 {
        match self {
            Outcome::Success => 1,
            Outcome::Moderated => 7,
            Outcome::Failed => 8,
        }
    }

    fn from_status(status: i64) -> Self {
        match status {
            1 => Outcome::Success,
            7 => Outcome::Moderated,
            _ => Outcome::Failed,
        }
    }
}

/// A job as the result endpoint sees it.
pub(crate) struct Job {
    pub(crate) credits: u64,
    pub(crate) created_ms: i64,
    pub(crate) ready_ms: i64,
    pub(crate) outcome: Outcome,
    /// The answer fields fixed at submit time (prompt, seed, dimensions…).
    pub(crate) fixed: Map<String, Value>,
}

impl Job {
    /// Vendor status at `now_ms`: 5 while generating, then the outcome's.
    pub(crate) fn status(&self, now_ms: i64) -> i64 {
        if now_ms < self.ready_ms {
            5
        } else {
            self.outcome.status()
        }
    }

    /// What the job costs by `now_ms`: nothing once it has ended in a refunded failure.
    pub(crate) fn credits_at(&self, now_ms: i64) -> u64 {
        if now_ms >= self.ready_ms && self.outcome != Outcome::Success {
            0
        } else {
            self.credits
        }
    }
}

/// The stored field with the output's length in seconds (kept beside the result fields, left
/// out of the answer: see `result::answer`).
pub(crate) const DURATION: &str = "duration";

impl Job {
    /// The output's length in seconds, as stored with its result (`duration`); a job booked
    /// before the field existed is taken to have the render table's typical duration.
    pub(crate) fn output_seconds(&self) -> f64 {
        self.fixed
            .get(DURATION)
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or_else(|| f64::from(pixfuse_core::CAPABILITIES.render.typical_duration))
    }
}

/// What a new job needs from the submit handler.
pub(crate) struct NewJob {
    pub(crate) key_hash: String,
    pub(crate) trace_id: Option<String>,
    pub(crate) credits: u64,
    pub(crate) generation_ms: i64,
    pub(crate) outcome: Outcome,
    pub(crate) fixed: Map<String, Value>,
}

/// Books what happened by `now_ms`: the monthly grant of a new month, and the refund of every
/// job that has ended in moderation or failure since the last settlement (the vendor refunds
/// both). Every write transaction starts with it, so the books are current whoever reads them.
pub(crate) fn settle(tx: &Connection, now_ms: i64) -> rusqlite::Result<()> {
    let month = clock::month_index(now_ms);
    if meta_int(tx, "grant_month")? != month {
        set_meta_int(tx, "credit_monthly", meta_int(tx, "monthly_grant")?)?;
        set_meta_int(tx, "grant_month", month)?;
    }
    let refund: i64 = tx.query_row(
        "SELECT COALESCE(SUM(credits), 0) FROM jobs
         WHERE settled = 0 AND ready_ms <= ?1 AND outcome != 1",
        [now_ms],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE jobs SET settled = 1 WHERE settled = 0 AND ready_ms <= ?1",
        [now_ms],
    )?;
    if refund > 0 {
        set_meta_int(
            tx,
            "credit_package",
            meta_int(tx, "credit_package")?.saturating_add(refund),
        )?;
        bump(tx, counter::CREDITS_SPENT, -refund)?;
    }
    Ok(())
}

/// `(credit_monthly, credit_package)`.
pub(crate) fn balance(tx: &Connection) -> rusqlite::Result<(u64, u64)> {
    let read = |key| meta_int(tx, key).map(|v| u64::try_from(v).unwrap_or(0));
    Ok((read("credit_monthly")?, read("credit_package")?))
}

pub(crate) fn credits_left(tx: &Connection) -> rusqlite::Result<u64> {
    let (monthly, package) = balance(tx)?;
    Ok(monthly.saturating_add(package))
}

/// Spends monthly credits first, then package credits; the caller has checked the balance.
fn charge(tx: &Connection, credits: u64) -> rusqlite::Result<()> {
    let (monthly, package) = balance(tx)?;
    let from_monthly = credits.min(monthly);
    set_meta_int(tx, "credit_monthly", to_i64(monthly - from_monthly))?;
    set_meta_int(
        tx,
        "credit_package",
        to_i64(package.saturating_sub(credits - from_monthly)),
    )?;
    bump(tx, counter::CREDITS_SPENT, to_i64(credits))
}

/// Kinds of upload.
pub(crate) const IMAGE: &str = "image";
/// A video upload (`POST /openapi/v2/media/upload`): a `media` row of this kind, and its
/// [`VideoMedia`] record.
pub(crate) const VIDEO: &str = "video";

/// What judging and the result answer need of an uploaded video.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct VideoMedia {
    /// The video's length in seconds, as the upload read it from the container; `None` when
    /// it could not tell.
    pub(crate) duration_secs: Option<f64>,
}

impl VideoMedia {
    /// The length to work with: the known one, else the render table's typical duration (the
    /// length the sandbox assumes for any job it knows nothing about).
    pub(crate) fn seconds(&self) -> f64 {
        self.duration_secs
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or_else(|| f64::from(pixfuse_core::CAPABILITIES.render.typical_duration))
    }
}

/// Stores a video upload: its bytes as a `media` row of kind [`VIDEO`], and its length
/// (`duration_secs`, from the container's header; `None` if unknown).
// Written by the media upload route (`crate::media_upload`); tests seed videos with it too.
pub(crate) fn add_video(
    tx: &Connection,
    id: u64,
    content_type: &str,
    bytes: &[u8],
    duration_secs: Option<f64>,
) -> rusqlite::Result<()> {
    add_media(tx, id, VIDEO, content_type, bytes)?;
    tx.execute(
        "INSERT INTO video_media (id, duration_secs) VALUES (?1, ?2)",
        params![to_i64(id), duration_secs.filter(|s| s.is_finite())],
    )?;
    Ok(())
}

/// The uploaded video `id`, if there is one.
pub(crate) fn video(tx: &Connection, id: u64) -> rusqlite::Result<Option<VideoMedia>> {
    tx.query_row(
        "SELECT v.duration_secs FROM media m LEFT JOIN video_media v ON v.id = m.id
         WHERE m.id = ?1 AND m.kind = ?2",
        params![to_i64(id), VIDEO],
        |r| {
            Ok(VideoMedia {
                duration_secs: r.get(0)?,
            })
        },
    )
    .optional()
}

pub(crate) fn add_media(
    tx: &Connection,
    id: u64,
    kind: &str,
    content_type: &str,
    bytes: &[u8],
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO media (id, kind, content_type, bytes, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![to_i64(id), kind, content_type, bytes, clock::now_ms()],
    )?;
    let stored = if kind == VIDEO {
        counter::VIDEO_UPLOADS
    } else {
        counter::UPLOADS
    };
    bump(tx, stored, 1)
}

/// An upload's `(kind, content type, bytes)`.
pub(crate) fn media(
    tx: &Connection,
    id: u64,
) -> rusqlite::Result<Option<(String, String, Vec<u8>)>> {
    tx.query_row(
        "SELECT kind, content_type, bytes FROM media WHERE id = ?1",
        [to_i64(id)],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// Whether `id` is an uploaded image.
pub(crate) fn is_image(tx: &Connection, id: u64) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT 1 FROM media WHERE id = ?1 AND kind = ?2",
        params![to_i64(id), IMAGE],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
}

/// The video an earlier submit with this trace id created, and what it was charged.
pub(crate) fn video_for_trace(
    tx: &Connection,
    trace_id: &str,
) -> rusqlite::Result<Option<(u64, u64)>> {
    tx.query_row(
        "SELECT id, credits FROM jobs WHERE trace_id = ?1",
        [trace_id],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    )
    .optional()
    .map(|row| row.map(|(id, credits)| (unsigned(id), unsigned(credits))))
}

/// Jobs of the key with this hash still generating at `now_ms`.
pub(crate) fn running(tx: &Connection, key_hash: &str, now_ms: i64) -> rusqlite::Result<u64> {
    tx.query_row(
        "SELECT COUNT(*) FROM jobs WHERE key_hash = ?1 AND ready_ms > ?2",
        params![key_hash, now_ms],
        |r| r.get::<_, i64>(0),
    )
    .map(unsigned)
}

/// Books job `id` and charges it; the caller has checked the limit and the balance.
pub(crate) fn add_job(tx: &Connection, id: u64, job: &NewJob, now_ms: i64) -> rusqlite::Result<()> {
    charge(tx, job.credits)?;
    tx.execute(
        "INSERT INTO jobs (id, key_hash, trace_id, credits, created_ms, ready_ms, outcome, result)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            to_i64(id),
            job.key_hash,
            job.trace_id,
            to_i64(job.credits),
            now_ms,
            now_ms.saturating_add(job.generation_ms),
            job.outcome.status(),
            Value::Object(job.fixed.clone()).to_string(),
        ],
    )?;
    bump(tx, counter::BILLABLE_JOBS, 1)
}

pub(crate) fn job(tx: &Connection, id: u64) -> rusqlite::Result<Option<Job>> {
    tx.query_row(
        "SELECT credits, created_ms, ready_ms, outcome, result FROM jobs WHERE id = ?1",
        [to_i64(id)],
        |r| {
            let fixed: String = r.get(4)?;
            Ok(Job {
                credits: unsigned(r.get(0)?),
                created_ms: r.get(1)?,
                ready_ms: r.get(2)?,
                outcome: Outcome::from_status(r.get(3)?),
                fixed: match serde_json::from_str(&fixed) {
                    Ok(Value::Object(map)) => map,
                    _ => Map::new(),
                },
            })
        },
    )
    .optional()
}

fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn job(credits: u64, outcome: Outcome, ms: i64) -> NewJob {
        NewJob {
            key_hash: "k".into(),
            trace_id: Some(format!("trace-{credits}-{ms}")),
            credits,
            generation_ms: ms,
            outcome,
            fixed: Map::new(),
        }
    }

    #[test]
    fn spends_monthly_first_and_refunds_failures_when_they_end() {
        let store = Store::open(None, 100, 300_000_000_000_000).unwrap();
        let now = clock::now_ms();
        store
            .write(|tx| add_job(tx, 7, &job(60, Outcome::Failed, 10), now))
            .unwrap();
        assert_eq!(store.read(|tx| balance(tx)).unwrap(), (0, 40));
        assert_eq!(store.read(|tx| running(tx, "k", now)).unwrap(), 1);
        store.write(|tx| settle(tx, now)).unwrap();
        assert_eq!(store.read(|tx| credits_left(tx)).unwrap(), 40);
        store.write(|tx| settle(tx, now + 10)).unwrap();
        assert_eq!(store.read(|tx| credits_left(tx)).unwrap(), 100);
        assert_eq!(store.read(|tx| running(tx, "k", now + 10)).unwrap(), 0);
        // Settling again refunds nothing more.
        store.write(|tx| settle(tx, now + 20)).unwrap();
        assert_eq!(store.read(|tx| credits_left(tx)).unwrap(), 100);
        let row = store.read(|tx| super::job(tx, 7)).unwrap().unwrap();
        assert_eq!((row.status(now), row.status(now + 10)), (5, 8));
        assert_eq!((row.credits_at(now), row.credits_at(now + 10)), (60, 0));
    }

    #[test]
    fn a_new_month_grants_the_monthly_credits_again() {
        let store = Store::open(None, 100, 300_000_000_000_000).unwrap();
        let now = clock::now_ms();
        store
            .write(|tx| add_job(tx, 9, &job(70, Outcome::Success, 0), now))
            .unwrap();
        assert_eq!(store.read(|tx| balance(tx)).unwrap(), (0, 30));
        let next_month = now + 32 * 86_400_000;
        store.write(|tx| settle(tx, next_month)).unwrap();
        assert_eq!(store.read(|tx| balance(tx)).unwrap(), (50, 30));
    }

    #[test]
    fn trace_ids_point_at_their_video() {
        let store = Store::open(None, 100, 300_000_000_000_000).unwrap();
        let now = clock::now_ms();
        store
            .write(|tx| add_job(tx, 11, &job(10, Outcome::Success, 0), now))
            .unwrap();
        let found = store.read(|tx| video_for_trace(tx, "trace-10-0")).unwrap();
        assert_eq!(found, Some((11, 10)));
        assert_eq!(store.read(|tx| video_for_trace(tx, "other")).unwrap(), None);
    }
}
