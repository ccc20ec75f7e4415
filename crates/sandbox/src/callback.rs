//! The account's callbacks as rows of the store: one per job submitted while a webhook is set,
//! due when the job ends, claimed by one server at a time (several may share a state
//! directory), and retried on the vendor's schedule until delivered or given up.

use rusqlite::{Connection, OptionalExtension, params};

use crate::account;
use crate::stats::counter;
use crate::store::{bump, to_i64};

/// What strikes one event's delivery (drawn once, when its job is submitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallbackFault {
    Duplicate,
    Replay,
    OutOfOrder,
    BadSignature,
    StaleTimestamp,
}

impl CallbackFault {
    fn as_str(self) -> &'static str {
        match self {
            CallbackFault::Duplicate => "duplicate",
            CallbackFault::Replay => "replay",
            CallbackFault::OutOfOrder => "out_of_order",
            CallbackFault::BadSignature => "bad_signature",
            CallbackFault::StaleTimestamp => "stale_timestamp",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            CallbackFault::Duplicate,
            CallbackFault::Replay,
            CallbackFault::OutOfOrder,
            CallbackFault::BadSignature,
            CallbackFault::StaleTimestamp,
        ]
        .into_iter()
        .find(|f| f.as_str() == text)
    }
}

/// A delivery a server has claimed: the job, how many deliveries were tried before, the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) job_id: u64,
    pub(crate) attempts: u32,
    pub(crate) fault: Option<CallbackFault>,
}

/// Books the callback of job `job_id`, due at `due_ms`.
pub(crate) fn schedule(
    tx: &Connection,
    job_id: u64,
    due_ms: i64,
    fault: Option<CallbackFault>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO callbacks (job_id, fault, due_ms) VALUES (?1, ?2, ?3)",
        params![to_i64(job_id), fault.map(CallbackFault::as_str), due_ms],
    )?;
    bump(tx, counter::CALLBACKS_SCHEDULED, 1)
}

/// Claims up to `limit` deliveries due by `now_ms`, each for `lease_ms`: should the claiming
/// process die mid-delivery, the callback falls due again when the lease ends. The books are
/// settled first, so a callback agrees with the balance of its moment.
pub(crate) fn claim_due(
    tx: &Connection,
    now_ms: i64,
    lease_ms: i64,
    limit: u32,
) -> rusqlite::Result<Vec<Claim>> {
    account::settle(tx, now_ms)?;
    let due: Vec<(i64, i64, Option<String>)> = {
        let mut stmt = tx.prepare(
            "SELECT job_id, attempts, fault FROM callbacks
             WHERE state = 'pending' AND due_ms <= ?1 ORDER BY due_ms LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut claims = Vec::with_capacity(due.len());
    for (job_id, attempts, fault) in due {
        tx.execute(
            "UPDATE callbacks SET due_ms = ?2 WHERE job_id = ?1",
            params![job_id, now_ms.saturating_add(lease_ms)],
        )?;
        claims.push(Claim {
            job_id: u64::try_from(job_id).unwrap_or(0),
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            fault: fault.as_deref().and_then(CallbackFault::parse),
        });
    }
    Ok(claims)
}

/// When the next pending delivery falls due, if any.
pub(crate) fn next_due(tx: &Connection) -> rusqlite::Result<Option<i64>> {
    tx.query_row(
        "SELECT MIN(due_ms) FROM callbacks WHERE state = 'pending'",
        [],
        |r| r.get(0),
    )
    .optional()
    .map(Option::flatten)
}

/// What became of a delivery attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Booked {
    Delivered,
    /// Retried at this time.
    RetryAt(i64),
    /// Every retry of the schedule failed.
    Abandoned,
}

/// Books one attempt of job `job_id`'s callback: `retry_delays_ms[n]` is the wait after the
/// `n + 1`-th failed attempt; once they are used up, the callback is abandoned.
pub(crate) fn finish(
    tx: &Connection,
    job_id: u64,
    delivered: bool,
    now_ms: i64,
    retry_delays_ms: &[i64],
) -> rusqlite::Result<Booked> {
    let attempts: i64 = tx.query_row(
        "UPDATE callbacks SET attempts = attempts + 1 WHERE job_id = ?1 RETURNING attempts",
        [to_i64(job_id)],
        |r| r.get(0),
    )?;
    bump(tx, counter::CALLBACK_ATTEMPTS, 1)?;
    let booked = if delivered {
        Booked::Delivered
    } else {
        let failed = usize::try_from(attempts).unwrap_or(usize::MAX);
        match retry_delays_ms.get(failed.saturating_sub(1)) {
            Some(delay) => Booked::RetryAt(now_ms.saturating_add(*delay)),
            None => Booked::Abandoned,
        }
    };
    let (state, due) = match booked {
        Booked::Delivered => ("delivered", now_ms),
        Booked::RetryAt(at) => ("pending", at),
        Booked::Abandoned => ("abandoned", now_ms),
    };
    tx.execute(
        "UPDATE callbacks SET state = ?2, due_ms = ?3 WHERE job_id = ?1",
        params![to_i64(job_id), state, due],
    )?;
    if delivered {
        bump(tx, counter::CALLBACKS_DELIVERED, 1)?;
    } else {
        bump(tx, counter::CALLBACKS_REFUSED, 1)?;
    }
    if booked == Booked::Abandoned {
        bump(tx, counter::CALLBACKS_ABANDONED, 1)?;
    }
    Ok(booked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn a_callback_is_claimed_once_retried_on_schedule_and_given_up_after_it() {
        let store = Store::open(None, 100, 300_000_000_000_000).unwrap();
        store
            .write(|tx| schedule(tx, 7, 1_000, Some(CallbackFault::BadSignature)))
            .unwrap();
        assert_eq!(store.write(|tx| claim_due(tx, 999, 50, 8)).unwrap(), []);
        let claims = store.write(|tx| claim_due(tx, 1_000, 50, 8)).unwrap();
        assert_eq!(
            claims,
            [Claim {
                job_id: 7,
                attempts: 0,
                fault: Some(CallbackFault::BadSignature)
            }]
        );
        // Claimed: not due again until the lease ends.
        assert_eq!(store.write(|tx| claim_due(tx, 1_010, 50, 8)).unwrap(), []);
        assert_eq!(store.read(|tx| next_due(tx)).unwrap(), Some(1_050));
        let delays = [20, 40];
        let booked = store
            .write(|tx| finish(tx, 7, false, 1_020, &delays))
            .unwrap();
        assert_eq!(booked, Booked::RetryAt(1_040));
        assert_eq!(
            store.write(|tx| claim_due(tx, 1_040, 50, 8)).unwrap()[0].attempts,
            1
        );
        assert_eq!(
            store
                .write(|tx| finish(tx, 7, false, 1_041, &delays))
                .unwrap(),
            Booked::RetryAt(1_081)
        );
        store.write(|tx| claim_due(tx, 1_081, 50, 8)).unwrap();
        assert_eq!(
            store
                .write(|tx| finish(tx, 7, false, 1_082, &delays))
                .unwrap(),
            Booked::Abandoned
        );
        assert_eq!(store.read(|tx| next_due(tx)).unwrap(), None);
    }

    #[test]
    fn a_delivered_callback_is_done() {
        let store = Store::open(None, 100, 300_000_000_000_000).unwrap();
        store.write(|tx| schedule(tx, 9, 0, None)).unwrap();
        store.write(|tx| schedule(tx, 9, 5, None)).unwrap();
        let claims = store.write(|tx| claim_due(tx, 10, 50, 8)).unwrap();
        assert_eq!(claims.len(), 1, "one row per job");
        let booked = store.write(|tx| finish(tx, 9, true, 11, &[20])).unwrap();
        assert_eq!(booked, Booked::Delivered);
        assert_eq!(store.write(|tx| claim_due(tx, 1_000, 50, 8)).unwrap(), []);
    }
}
