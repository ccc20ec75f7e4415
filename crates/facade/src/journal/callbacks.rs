//! The SQLite side of webhook callbacks: the durable nonce store, the events, the job's end
//! written by a receiver, and the receivers' heartbeats (schema version 3).

use pixfuse_core::lifecycle::{ClaimStatus, JobState, Owner};
use pixfuse_core::poll::JobStatus;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::sqlite::{get, one};
use super::store::{NewCallback, ReceiverBeat, Recorded, Watch};
use super::{CallbackRecord, JobRecord, JournalError, liveness, now_ms};

/// See [`super::Store::record_callback`].
pub(super) fn record(
    conn: &mut Connection,
    callback: &NewCallback,
    receiver: &Owner,
) -> Result<Recorded, JournalError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_ms();
    tx.execute("DELETE FROM callback_nonces WHERE expires_ms < ?1", [now])?;
    let replayed = tx
        .query_row(
            "SELECT 1 FROM callback_nonces WHERE nonce = ?1",
            [&callback.nonce],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if replayed {
        return Ok(Recorded::ReplayedNonce);
    }
    tx.execute(
        "INSERT INTO callback_nonces (nonce, expires_ms) VALUES (?1, ?2)",
        params![callback.nonce, callback.nonce_expires_ms],
    )?;
    let event = &callback.record;
    let video = event.video_id.to_string();
    let job = job_of(&tx, &event.origin, &video)?;
    let seen = tx.execute(
        "UPDATE callbacks SET deliveries = deliveries + 1, last_ms = ?4
         WHERE origin = ?1 AND video_id = ?2 AND vendor_status = ?3",
        params![event.origin, video, event.status.code(), now],
    )?;
    if seen > 0 {
        tx.commit()?;
        return Ok(Recorded::Duplicate {
            job: job.map(Box::new),
        });
    }
    let moved = match &job {
        Some(job) => end_job(&tx, job, event, receiver, now)?,
        None => false,
    };
    tx.execute(
        "INSERT INTO callbacks (origin, video_id, vendor_status, url, credits, job_id,
                                signed_as, trace_id, body, received_ms, last_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
        params![
            event.origin,
            video,
            event.status.code(),
            event.url,
            event.credits,
            job.as_ref().map(|j| j.id),
            event.signed_as,
            event.trace_id,
            event.body,
            now,
        ],
    )?;
    let job = match job {
        Some(job) => get(&tx, job.id)?,
        None => None,
    };
    tx.commit()?;
    Ok(Recorded::New {
        job: job.map(Box::new),
        moved,
    })
}

/// Writes the end `event` reports into `job`, if the job is still generating and no live
/// process drives it (a driving process reads the callback itself and persists it through its
/// own lifecycle, so the two never write one job at once). Whether it wrote.
fn end_job(
    conn: &Connection,
    job: &JobRecord,
    event: &CallbackRecord,
    receiver: &Owner,
    now: i64,
) -> Result<bool, JournalError> {
    let Some(to) = JobState::from_status(event.status) else {
        return Ok(false);
    };
    let driven = job
        .claim
        .as_ref()
        .is_some_and(|c| c.status(receiver, now, liveness) == ClaimStatus::Held);
    if !job.state.is_generating() || driven || (to == JobState::Succeeded && event.url.is_none()) {
        return Ok(false);
    }
    let changed = conn.execute(
        "UPDATE jobs SET state = ?3, vendor_status = ?4, url = COALESCE(?5, url),
                         credits = COALESCE(?6, credits), finished_ms = COALESCE(finished_ms, ?7),
                         updated_ms = ?7
         WHERE id = ?1 AND state = ?2",
        params![
            job.id,
            job.state.as_str(),
            to.as_str(),
            event.status.code(),
            event.url,
            event.credits,
            now,
        ],
    )?;
    Ok(changed > 0)
}

/// The newest job of `video` at `origin`.
fn job_of(conn: &Connection, origin: &str, video: &str) -> Result<Option<JobRecord>, JournalError> {
    one(
        conn,
        "SELECT * FROM jobs WHERE video_id = ?1 AND origin = ?2 ORDER BY id DESC LIMIT 1",
        params![video, origin],
    )
}

/// See [`super::Store::watch`].
pub(super) fn watch(
    conn: &mut Connection,
    id: Option<i64>,
    origin: &str,
    video_id: Option<u64>,
    fresh_since_ms: i64,
) -> Result<Watch, JournalError> {
    let tx = conn.transaction()?;
    let job = match id {
        Some(id) => get(&tx, id)?,
        None => None,
    };
    let video = job.as_ref().and_then(|j| j.video_id).or(video_id);
    let origin = job.as_ref().map_or(origin, |j| j.origin.as_str());
    let callback = match video {
        Some(video) => final_callback(&tx, origin, video)?,
        None => None,
    };
    let receiver_live = tx
        .query_row(
            "SELECT 1 FROM receivers WHERE origin = ?1 AND beat_ms >= ?2 LIMIT 1",
            params![origin, fresh_since_ms],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    Ok(Watch {
        job,
        callback,
        receiver_live,
    })
}

/// The first callback that ended `video` (status 1, 6, 7 or 8).
fn final_callback(
    conn: &Connection,
    origin: &str,
    video: u64,
) -> Result<Option<CallbackRecord>, JournalError> {
    let mut stmt = conn.prepare(
        "SELECT * FROM callbacks WHERE origin = ?1 AND video_id = ?2 ORDER BY received_ms",
    )?;
    let rows = stmt.query_map(params![origin, video.to_string()], read_callback)?;
    for row in rows {
        let callback = row??;
        if callback.status.is_final() {
            return Ok(Some(callback));
        }
    }
    Ok(None)
}

/// See [`super::Store::beat`].
pub(super) fn beat(conn: &mut Connection, beat: &ReceiverBeat) -> Result<(), JournalError> {
    conn.execute(
        "INSERT INTO receivers (instance, origin, host, pid, listen, started_ms, beat_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(instance) DO UPDATE SET beat_ms = ?7, listen = ?5",
        params![
            beat.owner.instance,
            beat.origin,
            beat.owner.host,
            beat.owner.pid,
            beat.listen,
            beat.started_ms,
            now_ms(),
        ],
    )?;
    Ok(())
}

/// See [`super::Store::callbacks`].
pub(super) fn all(conn: &mut Connection) -> Result<Vec<CallbackRecord>, JournalError> {
    let mut stmt = conn.prepare("SELECT * FROM callbacks ORDER BY received_ms DESC")?;
    let rows = stmt.query_map([], read_callback)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

fn read_callback(r: &Row<'_>) -> rusqlite::Result<Result<CallbackRecord, JournalError>> {
    let video: String = r.get("video_id")?;
    let Ok(video_id) = video.parse::<u64>() else {
        return Ok(Err(JournalError::Corrupt {
            id: r.get("job_id").unwrap_or_default(),
            what: format!("callback video_id {video:?} is not an integer"),
        }));
    };
    Ok(Ok(CallbackRecord {
        origin: r.get("origin")?,
        video_id,
        // A stored vendor code becomes a status here, as in the jobs table's reader.
        status: JobStatus::from_code(r.get("vendor_status")?),
        url: r.get("url")?,
        credits: r.get("credits")?,
        job_id: r.get("job_id")?,
        deliveries: r.get("deliveries")?,
        signed_as: r.get("signed_as")?,
        trace_id: r.get("trace_id")?,
        body: r.get("body")?,
        received_ms: r.get("received_ms")?,
    }))
}
