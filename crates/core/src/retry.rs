//! Retry decisions: what a failed request means and whether, and when, to send it again.
//!
//! Pure: the transport reports what happened ([`Failure`]), how many attempts it made, how long
//! it has been trying, the `Retry-After` header it saw, a jitter value it drew and the current
//! time; these functions answer. A retried submission always keeps its trace id (the vendor
//! returns the earlier job for a repeated trace id, so a resend can never bill twice) — that is
//! the transport's duty, and the reason every retry here is safe for a submit.

use std::time::{Duration, SystemTime};

use crate::ErrorClass;
use crate::errcode::{self, RetryRule};

/// What went wrong with one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The server answered: an HTTP error status, or an envelope whose `ErrCode` is not 0
    /// (often with HTTP 200).
    Answer {
        /// HTTP status of the answer.
        status: u16,
        /// `ErrCode`/`err_code` when the body was an envelope with a non-zero code.
        err_code: Option<i64>,
        /// `ErrMsg`/`err_msg`, when present.
        err_msg: Option<&'a str>,
    },
    /// No usable answer arrived.
    Transport(TransportFailure),
}

/// How an attempt failed below HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailure {
    /// The connection could not be made (refused, DNS, TLS handshake): nothing was sent.
    Connect,
    /// A timeout struck before the request was fully sent.
    TimeoutBeforeSend,
    /// A timeout or a reset after the request was sent: the server may have acted on it.
    LostAfterSend,
    /// A successful HTTP answer whose body is not the expected envelope.
    BodyDecode,
    /// A successful HTTP answer whose JSON ends early: the server acted on the request but
    /// its answer was cut on the way, as ambiguous as a dropped connection.
    TruncatedBody,
}

impl TransportFailure {
    /// Whether the server may have received (and acted on) the request.
    pub fn may_have_reached_server(self) -> bool {
        matches!(
            self,
            TransportFailure::LostAfterSend
                | TransportFailure::BodyDecode
                | TransportFailure::TruncatedBody
        )
    }
}

/// What to do about a failure, before counting attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Send again after the normal backoff (a submit: with the same trace id).
    Retry,
    /// Send again once at most.
    RetryOnce,
    /// The account's concurrency limit: wait for a slot on the longer schedule, same trace id.
    WaitForSlot,
    /// Sending again cannot help.
    Fail,
}

/// A failure's class and the reaction to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What kind of failure it is.
    pub class: ErrorClass,
    /// What to do about it.
    pub decision: Decision,
    /// The ErrCode table's row, when the failure carried a known code.
    pub info: Option<&'static errcode::ErrCodeInfo>,
}

impl Verdict {
    fn new(class: ErrorClass, decision: Decision) -> Self {
        Verdict {
            class,
            decision,
            info: None,
        }
    }

    /// Whether another attempt may help (before attempt limits and deadlines).
    pub fn is_retryable(&self) -> bool {
        self.decision != Decision::Fail
    }
}

/// The message some answers carry for a bad key, whatever the status or code.
const INVALID_KEY_MESSAGE: &str = "invalid api-key";

/// Classifies one failed attempt (fusion-api.md §7). The ErrCode table decides every known
/// code; the HTTP status decides the rest.
pub fn classify(failure: &Failure<'_>) -> Verdict {
    let (status, err_code, err_msg) = match *failure {
        Failure::Transport(t) => return classify_transport(t),
        Failure::Answer {
            status,
            err_code,
            err_msg,
        } => (status, err_code, err_msg),
    };
    if status == 401
        || status == 403
        || err_msg.is_some_and(|m| m.to_ascii_lowercase().contains(INVALID_KEY_MESSAGE))
    {
        return Verdict::new(ErrorClass::Auth, Decision::Fail);
    }
    if let Some(code) = err_code.filter(|&c| c != 0) {
        if let Some(info) = errcode::lookup(code) {
            let decision = match info.retry {
                RetryRule::Never => Decision::Fail,
                RetryRule::Once => Decision::RetryOnce,
                RetryRule::Backoff => Decision::Retry,
                RetryRule::WaitForSlot => Decision::WaitForSlot,
            };
            return Verdict {
                class: info.class,
                decision,
                info: Some(info),
            };
        }
        // A code the table does not know yet: 400xxx are request errors by the vendor's
        // numbering; anything else is not retried blindly either (it might be billing).
        if (400_000..500_000).contains(&code) {
            return Verdict::new(ErrorClass::InvalidRequest, Decision::Fail);
        }
        if !(500..600).contains(&status) {
            return Verdict::new(ErrorClass::Transient, Decision::Fail);
        }
    }
    match status {
        429 => Verdict::new(ErrorClass::Concurrency, Decision::Retry),
        408 | 500..=599 => Verdict::new(ErrorClass::Transient, Decision::Retry),
        404 | 410 => Verdict::new(ErrorClass::NotFound, Decision::Fail),
        _ => Verdict::new(ErrorClass::InvalidRequest, Decision::Fail),
    }
}

fn classify_transport(failure: TransportFailure) -> Verdict {
    match failure {
        TransportFailure::Connect
        | TransportFailure::TimeoutBeforeSend
        | TransportFailure::LostAfterSend
        // A cut-short answer says nothing about the job: send again (a submit with the same
        // trace id, so the vendor returns the job it already made).
        | TransportFailure::TruncatedBody => Verdict::new(ErrorClass::Transient, Decision::Retry),
        // The server answered 2xx with something that is not an envelope (a relay's `{}` or
        // an HTML page): sending again would get the same answer.
        TransportFailure::BodyDecode => Verdict::new(ErrorClass::Transient, Decision::Fail),
    }
}

/// An exponential schedule: `base × factor^(n-1)`, capped at `max`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    /// The first delay.
    pub base: Duration,
    /// How much each delay grows over the one before.
    pub factor: f64,
    /// The longest delay.
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `retry` (1 = the first retry), with "equal jitter":
    /// half the nominal delay is fixed and half scaled by `jitter` in `[0, 1)`, so delays
    /// spread out but never collapse to zero.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(64) as i32;
        let nominal = self.base.as_secs_f64() * self.factor.max(1.0).powi(exponent);
        let capped = nominal.min(self.max.as_secs_f64()).max(0.0);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        Duration::from_secs_f64(capped * (0.5 + 0.5 * jitter))
    }
}

/// How hard to try. Defaults suit an interactive CLI.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total for failures retried on the normal schedule (1 = never retry).
    pub max_attempts: u32,
    /// Schedule for transient failures and rate limits.
    pub backoff: Backoff,
    /// Attempts in total while waiting for a concurrency slot (500044).
    pub max_slot_waits: u32,
    /// Longer schedule while waiting for a concurrency slot.
    pub slot_backoff: Backoff,
    /// No retry starts after this much time since the first attempt.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            backoff: Backoff {
                base: Duration::from_millis(500),
                factor: 2.0,
                max: Duration::from_secs(30),
            },
            max_slot_waits: 40,
            // A running job usually finishes within minutes; a stuck one frees its slot
            // after 10 minutes (vendor), so checking every half minute or so is enough.
            slot_backoff: Backoff {
                base: Duration::from_secs(5),
                factor: 1.5,
                max: Duration::from_secs(45),
            },
            deadline: Some(Duration::from_secs(15 * 60)),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            max_slot_waits: 1,
            ..RetryPolicy::default()
        }
    }

    /// This policy with its schedules rescaled so the first normal retry waits `base`: every
    /// delay (the longest one, and the wait for a concurrency slot) keeps its proportion to it
    /// (`pixfuse --retry-base-delay`). Attempt counts and the deadline stay.
    pub fn with_base_delay(self, base: Duration) -> Self {
        let from = self.backoff.base;
        let rescale = |d: Duration| scale(d, from, base);
        let rescale_all = |b: Backoff| Backoff {
            base: rescale(b.base),
            factor: b.factor,
            max: rescale(b.max),
        };
        RetryPolicy {
            backoff: rescale_all(self.backoff),
            slot_backoff: rescale_all(self.slot_backoff),
            ..self
        }
    }
}

/// `d × to / from`, exact in nanoseconds and saturating (`d` itself when `from` is zero).
fn scale(d: Duration, from: Duration, to: Duration) -> Duration {
    if from.is_zero() {
        return d;
    }
    let nanos = d
        .as_nanos()
        .checked_mul(to.as_nanos())
        .map_or(u128::MAX, |n| n / from.as_nanos());
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it fits.
    let sub = (nanos % 1_000_000_000) as u32;
    if secs == u64::MAX {
        Duration::MAX
    } else {
        Duration::new(secs, sub)
    }
}

/// What the transport knows when an attempt has failed.
#[derive(Clone, Copy, Debug)]
pub struct Attempted {
    /// Attempts made so far, this one included (1 after the first failure).
    pub attempts: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// The parsed `Retry-After` of the answer, if any.
    pub retry_after: Option<Duration>,
    /// A value in `[0, 1)` drawn by the caller.
    pub jitter: f64,
    /// What the caller's own deadline leaves from now, when it has one: no retry is scheduled
    /// to start after it.
    pub time_left: Option<Duration>,
}

/// The next step after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Sleep this long, then send again (same trace id for a submit).
    RetryAfter(Duration),
    /// Stop and report the failure.
    GiveUp(GiveUpReason),
}

/// Why the transport stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GiveUpReason {
    /// The failure is not retryable.
    NotRetryable,
    /// The policy's attempt limit is reached.
    AttemptsExhausted,
    /// The next attempt would start after the overall deadline.
    DeadlineReached,
    /// The next attempt would start after the caller's deadline ([`Attempted::time_left`]).
    OutOfTime,
}

/// The attempts `policy` allows for a failure judged `verdict` (`None`: not retried at all),
/// as a progress display says it (`attempt 2 of 5`).
pub fn attempt_limit(policy: &RetryPolicy, verdict: &Verdict) -> Option<u32> {
    schedule(policy, verdict).map(|(limit, _)| limit)
}

fn schedule<'a>(policy: &'a RetryPolicy, verdict: &Verdict) -> Option<(u32, &'a Backoff)> {
    Some(match verdict.decision {
        Decision::Fail => return None,
        Decision::RetryOnce => (policy.max_attempts.min(2), &policy.backoff),
        Decision::Retry => (policy.max_attempts, &policy.backoff),
        Decision::WaitForSlot => (policy.max_slot_waits, &policy.slot_backoff),
    })
}

/// Decides the next step for a classified failure.
pub fn next_step(policy: &RetryPolicy, verdict: &Verdict, at: &Attempted) -> Step {
    let Some((limit, schedule)) = schedule(policy, verdict) else {
        return Step::GiveUp(GiveUpReason::NotRetryable);
    };
    if at.attempts >= limit {
        return Step::GiveUp(GiveUpReason::AttemptsExhausted);
    }
    let mut delay = schedule.delay(at.attempts, at.jitter);
    // The server knows its own load better than our schedule does: never retry sooner.
    if let Some(after) = at.retry_after {
        delay = delay.max(after);
    }
    if let Some(deadline) = policy.deadline
        && at.elapsed.saturating_add(delay) > deadline
    {
        return Step::GiveUp(GiveUpReason::DeadlineReached);
    }
    if at.time_left.is_some_and(|left| delay >= left) {
        return Step::GiveUp(GiveUpReason::OutOfTime);
    }
    Step::RetryAfter(delay)
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP date (RFC 9110 §10.2.3), relative to
/// `now`. A date in the past means "now" (zero). `None` for anything unreadable.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_delay_rescales_every_schedule_in_proportion() {
        let base = Duration::from_millis(10);
        let p = RetryPolicy::default().with_base_delay(base);
        assert_eq!(
            (p.backoff.base, p.backoff.max, p.backoff.factor),
            (base, base * 60, 2.0)
        );
        assert_eq!(
            (
                p.slot_backoff.base,
                p.slot_backoff.max,
                p.slot_backoff.factor
            ),
            (base * 10, base * 90, 1.5)
        );
        let d = RetryPolicy::default();
        assert_eq!(
            (p.max_attempts, p.max_slot_waits, p.deadline),
            (d.max_attempts, d.max_slot_waits, d.deadline)
        );
        let huge = RetryPolicy::default().with_base_delay(Duration::MAX);
        assert_eq!(huge.backoff.max, Duration::MAX);
    }

    fn answer(status: u16, code: Option<i64>) -> Verdict {
        classify(&Failure::Answer {
            status,
            err_code: code,
            err_msg: None,
        })
    }

    #[test]
    fn classes_follow_the_table_and_the_status() {
        assert_eq!(answer(200, Some(500090)).class, ErrorClass::Credits);
        assert_eq!(answer(200, Some(500090)).decision, Decision::Fail);
        assert_eq!(answer(200, Some(400017)).decision, Decision::Fail);
        assert_eq!(answer(200, Some(500063)).class, ErrorClass::Moderation);
        assert_eq!(answer(500, Some(500052)).decision, Decision::Fail);
        assert_eq!(answer(200, Some(500044)).decision, Decision::WaitForSlot);
        assert_eq!(answer(200, Some(500041)).decision, Decision::RetryOnce);
        assert_eq!(answer(200, Some(500069)).decision, Decision::Retry);
        assert_eq!(answer(200, Some(99999)).decision, Decision::Retry);
        assert_eq!(answer(401, None).class, ErrorClass::Auth);
        assert_eq!(answer(403, Some(500069)).class, ErrorClass::Auth);
        assert_eq!(answer(429, None).class, ErrorClass::Concurrency);
        assert_eq!(answer(429, None).decision, Decision::Retry);
        assert_eq!(answer(502, None).decision, Decision::Retry);
        assert_eq!(answer(400, None).decision, Decision::Fail);
        assert_eq!(answer(200, Some(400999)).class, ErrorClass::InvalidRequest);
        assert_eq!(answer(200, Some(777777)).decision, Decision::Fail);
        assert_eq!(answer(503, Some(777777)).decision, Decision::Retry);
    }

    #[test]
    fn every_table_row_maps_to_its_rule() {
        for row in crate::ERROR_CODES {
            let v = answer(200, Some(row.code));
            assert_eq!(v.class, row.class, "{}", row.code);
            assert_eq!(v.info.map(|i| i.code), Some(row.code));
            assert_eq!(v.decision == Decision::Fail, row.retry == RetryRule::Never);
        }
    }

    #[test]
    fn invalid_key_message_is_auth_whatever_the_code() {
        let v = classify(&Failure::Answer {
            status: 200,
            err_code: Some(10002),
            err_msg: Some("Invalid API-KEY"),
        });
        assert_eq!(v.class, ErrorClass::Auth);
        assert!(!v.is_retryable());
    }

    #[test]
    fn transport_failures() {
        for t in [
            TransportFailure::Connect,
            TransportFailure::TimeoutBeforeSend,
            TransportFailure::LostAfterSend,
            TransportFailure::TruncatedBody,
        ] {
            let v = classify(&Failure::Transport(t));
            assert_eq!(
                (v.class, v.decision),
                (ErrorClass::Transient, Decision::Retry)
            );
        }
        assert!(!classify(&Failure::Transport(TransportFailure::BodyDecode)).is_retryable());
        assert!(TransportFailure::LostAfterSend.may_have_reached_server());
        assert!(TransportFailure::TruncatedBody.may_have_reached_server());
        assert!(!TransportFailure::Connect.may_have_reached_server());
    }

    fn at(attempts: u32, elapsed: u64, retry_after: Option<u64>) -> Attempted {
        Attempted {
            attempts,
            elapsed: Duration::from_secs(elapsed),
            retry_after: retry_after.map(Duration::from_secs),
            jitter: 0.0,
            time_left: None,
        }
    }

    #[test]
    fn steps() {
        let p = RetryPolicy::default();
        let retry = answer(502, None);
        assert_eq!(
            next_step(&p, &retry, &at(1, 0, None)),
            Step::RetryAfter(Duration::from_millis(250))
        );
        assert_eq!(
            next_step(&p, &retry, &at(5, 0, None)),
            Step::GiveUp(GiveUpReason::AttemptsExhausted)
        );
        assert_eq!(
            next_step(&p, &retry, &at(1, 0, Some(7))),
            Step::RetryAfter(Duration::from_secs(7))
        );
        assert_eq!(
            next_step(&p, &retry, &at(1, 899, Some(7))),
            Step::GiveUp(GiveUpReason::DeadlineReached)
        );
        let once = answer(200, Some(500041));
        assert!(matches!(
            next_step(&p, &once, &at(1, 0, None)),
            Step::RetryAfter(_)
        ));
        assert_eq!(
            next_step(&p, &once, &at(2, 0, None)),
            Step::GiveUp(GiveUpReason::AttemptsExhausted)
        );
        let slot = answer(200, Some(500044));
        assert_eq!(
            next_step(&p, &slot, &at(1, 0, None)),
            Step::RetryAfter(Duration::from_millis(2500))
        );
        assert!(matches!(
            next_step(&p, &slot, &at(10, 0, None)),
            Step::RetryAfter(_)
        ));
        assert_eq!(
            next_step(&p, &answer(200, Some(500090)), &at(1, 0, None)),
            Step::GiveUp(GiveUpReason::NotRetryable)
        );
    }

    #[test]
    fn no_retry_starts_after_the_callers_deadline() {
        let p = RetryPolicy::default();
        let slot = answer(200, Some(500044));
        let left = |secs| Attempted {
            time_left: Some(Duration::from_secs(secs)),
            ..at(1, 0, None)
        };
        assert_eq!(
            next_step(&p, &slot, &left(2)),
            Step::GiveUp(GiveUpReason::OutOfTime)
        );
        assert_eq!(
            next_step(&p, &slot, &left(60)),
            Step::RetryAfter(Duration::from_millis(2500))
        );
        let late = Attempted {
            retry_after: Some(Duration::from_secs(30)),
            ..left(10)
        };
        assert_eq!(
            next_step(&p, &answer(429, None), &late),
            Step::GiveUp(GiveUpReason::OutOfTime)
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn backoff_stays_within_half_and_full_cap(
                base_ms in 1u64..10_000, factor in 1.0f64..4.0, max_ms in 1u64..120_000,
                retry in 0u32..200, jitter in 0.0f64..1.0,
            ) {
                let b = Backoff {
                    base: Duration::from_millis(base_ms),
                    factor,
                    max: Duration::from_millis(max_ms),
                };
                let d = b.delay(retry, jitter);
                prop_assert!(d <= b.max);
                prop_assert!(d >= b.base.min(b.max) / 2 - Duration::from_micros(1));
                prop_assert!(b.delay(retry + 1, jitter) >= d);
            }

            #[test]
            fn never_retries_what_the_table_forbids(idx in 0usize..64, status in 100u16..600) {
                let rows = crate::ERROR_CODES;
                let row = &rows[idx % rows.len()];
                let v = classify(&Failure::Answer { status, err_code: Some(row.code), err_msg: None });
                if row.retry == RetryRule::Never {
                    prop_assert!(!v.is_retryable());
                }
                let step = next_step(&RetryPolicy::default(), &v, &Attempted {
                    attempts: 1, elapsed: Duration::ZERO, retry_after: None, jitter: 0.5,
                    time_left: None,
                });
                prop_assert_eq!(matches!(step, Step::RetryAfter(_)), v.is_retryable());
            }

            #[test]
            fn retry_after_is_honoured(secs in 0u64..600, attempts in 1u32..5) {
                let p = RetryPolicy { deadline: None, ..RetryPolicy::default() };
                let v = classify(&Failure::Answer { status: 429, err_code: None, err_msg: None });
                let step = next_step(&p, &v, &Attempted {
                    attempts, elapsed: Duration::ZERO,
                    retry_after: Some(Duration::from_secs(secs)), jitter: 0.3,
                    time_left: None,
                });
                match step {
                    Step::RetryAfter(d) => prop_assert!(d >= Duration::from_secs(secs)),
                    Step::GiveUp(r) => prop_assert!(false, "gave up: {:?}", r),
                }
            }
        }
    }
}
