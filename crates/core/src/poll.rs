//! When to ask for a job's status again, and what its age means.
//!
//! Vendor advice (fusion-api.md §5): poll every 3–5 s; a job stuck 10 minutes in "generating"
//! frees its concurrency slot, and is refunded after 2 hours. The adaptive schedule polls at
//! the slow end of that advice while the job cannot be ready yet, at the fast end around the
//! time it should finish, and backs off once the job is clearly stuck, so a long wait does not
//! turn into thousands of requests. Pure: the caller passes the elapsed time and a jitter value.

use std::time::Duration;

use crate::{CAPABILITIES, Job, Model, Quality};

/// The vendor's advised polling interval, fast end.
pub const ADVISED_MIN: Duration = Duration::from_secs(3);
/// The vendor's advised polling interval, slow end.
pub const ADVISED_MAX: Duration = Duration::from_secs(5);
/// After this long in "generating" a job frees its concurrency slot (vendor).
pub const STUCK_AFTER: Duration = Duration::from_secs(10 * 60);
/// After this long a stuck job is refunded (vendor).
pub const REFUND_AFTER: Duration = Duration::from_secs(2 * 60 * 60);
/// Interval once a job is stuck: it will most likely fail or be refunded, not finish soon.
pub const STUCK_INTERVAL: Duration = Duration::from_secs(30);

/// A job's `status` on the video result endpoint (fusion-api.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// 1: done; the url is usable now.
    Succeeded,
    /// 5: generating or waiting.
    Generating,
    /// 6: deleted.
    Deleted,
    /// 7: content moderation failed (refunded).
    Moderated,
    /// 8: generation failed (refunded).
    Failed,
    /// A code the docs do not list: keep waiting, but say so.
    Unknown(i64),
}

impl JobStatus {
    /// Maps the vendor's code.
    pub fn from_code(code: i64) -> Self {
        match code {
            1 => JobStatus::Succeeded,
            5 => JobStatus::Generating,
            6 => JobStatus::Deleted,
            7 => JobStatus::Moderated,
            8 => JobStatus::Failed,
            other => JobStatus::Unknown(other),
        }
    }

    /// The vendor's code.
    pub fn code(self) -> i64 {
        match self {
            JobStatus::Succeeded => 1,
            JobStatus::Generating => 5,
            JobStatus::Deleted => 6,
            JobStatus::Moderated => 7,
            JobStatus::Failed => 8,
            JobStatus::Unknown(code) => code,
        }
    }

    /// Whether waiting is over (1, 6, 7, 8).
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Generating | JobStatus::Unknown(_))
    }

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Succeeded => "succeeded",
            JobStatus::Generating => "generating",
            JobStatus::Deleted => "deleted",
            JobStatus::Moderated => "moderated",
            JobStatus::Failed => "failed",
            JobStatus::Unknown(_) => "unknown",
        }
    }

    /// A readable phrase for people (`rejected by content moderation`).
    pub fn describe(self) -> &'static str {
        match self {
            JobStatus::Succeeded => "succeeded",
            JobStatus::Generating => "generating",
            JobStatus::Deleted => "deleted",
            JobStatus::Moderated => "rejected by content moderation",
            JobStatus::Failed => "generation failed",
            JobStatus::Unknown(_) => "unknown status (still waiting)",
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Serialized as its stable name (`succeeded`, `generating`, …); [`JobStatus::code`] gives the
/// vendor's number.
impl serde::Serialize for JobStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// How to space status polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PollPolicy {
    /// Follow [`next_poll`]'s adaptive schedule.
    #[default]
    Adaptive,
    /// Always wait exactly this long between polls.
    Fixed(Duration),
}

/// What is known about the job, to estimate how long it takes. Everything is optional: an
/// unknown job is assumed to be a typical one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobShape {
    /// The model, if known.
    pub model: Option<Model>,
    /// Seconds of video.
    pub duration: Option<u32>,
    /// The output quality, if known.
    pub quality: Option<Quality>,
}

impl JobShape {
    /// A rough guess of the rendering time, from the capability table's render figures
    /// ([`crate::caps::RenderTime`] and the model's `render_factor`). Only the shape of the
    /// schedule depends on it, so being wrong costs a few extra polls, never a missed result.
    pub fn expected_render(&self) -> Duration {
        let render = &CAPABILITIES.render;
        // A minute bounds a duration nobody checked (an unknown model's, say).
        let seconds_of_video = f64::from(
            self.duration
                .unwrap_or(render.typical_duration)
                .clamp(1, 60),
        );
        let rate = render.rate(self.quality.as_ref().unwrap_or(&render.typical_quality));
        let factor = self
            .model
            .as_ref()
            .and_then(|m| CAPABILITIES.model(m))
            .map_or(1.0, |caps| caps.render_factor);
        let seconds = (render.overhead_seconds + seconds_of_video * rate) * factor;
        // codegen refuses negative or non-finite figures; the fallback only keeps this total.
        Duration::try_from_secs_f64(seconds).unwrap_or(STUCK_AFTER)
    }
}

impl From<&Job> for JobShape {
    /// The shape of a job (a journaled request read back with `serde_json::from_str::<Job>`).
    fn from(job: &Job) -> Self {
        JobShape {
            model: Some(job.model.clone()),
            duration: Some(job.duration),
            quality: Some(job.quality.clone()),
        }
    }
}

/// How old a job is, in the vendor's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Age {
    /// Younger than its expected rendering time (and a margin).
    OnTime,
    /// Older than expected but not stuck yet.
    Late,
    /// Over 10 minutes in "generating": its concurrency slot is freed.
    Stuck,
    /// Over 2 hours: the vendor refunds it.
    Refundable,
}

/// Classifies a job's age.
pub fn age(job: &JobShape, elapsed: Duration) -> Age {
    if elapsed >= REFUND_AFTER {
        Age::Refundable
    } else if elapsed >= STUCK_AFTER {
        Age::Stuck
    } else if elapsed > job.expected_render().saturating_mul(2) {
        Age::Late
    } else {
        Age::OnTime
    }
}

/// The delay before the next status poll of a job that has been running for `elapsed`
/// (since submission). `jitter` in `[0, 1)` spreads polls of many jobs by ±10 %.
pub fn next_poll(policy: PollPolicy, job: &JobShape, elapsed: Duration, jitter: f64) -> Duration {
    let nominal = match policy {
        PollPolicy::Fixed(interval) => return interval,
        PollPolicy::Adaptive => adaptive(job, elapsed),
    };
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    nominal.mul_f64(0.9 + 0.2 * jitter)
}

fn adaptive(job: &JobShape, elapsed: Duration) -> Duration {
    let expected = job.expected_render();
    if elapsed < expected / 2 {
        // Cannot be ready yet: the slow end of the advice, but never sleep past the window
        // where it might finish.
        return ADVISED_MAX.min((expected / 2 - elapsed).max(ADVISED_MIN));
    }
    match age(job, elapsed) {
        Age::OnTime => ADVISED_MIN,
        Age::Late => ADVISED_MAX,
        // The slot is freed and the job will most likely fail or be refunded; grow from the
        // advice to the stuck interval over the next ten minutes instead of jumping.
        Age::Stuck | Age::Refundable => {
            let over = (elapsed - STUCK_AFTER).as_secs_f64() / STUCK_AFTER.as_secs_f64();
            let span = (STUCK_INTERVAL - ADVISED_MAX).as_secs_f64();
            ADVISED_MAX + Duration::from_secs_f64(span * over.min(1.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn job(model: Model, duration: u32, quality: Quality) -> JobShape {
        JobShape {
            model: Some(model),
            duration: Some(duration),
            quality: Some(quality),
        }
    }

    #[test]
    fn longer_and_sharper_jobs_are_expected_to_take_longer() {
        let short = job(Model::V5, 5, Quality::Q360p).expected_render();
        let long = job(Model::V5, 8, Quality::Q360p).expected_render();
        let sharp = job(Model::V5, 5, Quality::Q1080p).expected_render();
        let newer = job(Model::V6, 5, Quality::Q360p).expected_render();
        assert!(short < long && short < sharp && short < newer);
        assert_eq!(short, Duration::from_secs(40));
    }

    #[test]
    fn schedule_phases() {
        let j = job(Model::V5, 5, Quality::Q360p); // expected 40 s
        let at = |s| next_poll(PollPolicy::Adaptive, &j, Duration::from_secs(s), 0.5);
        assert_eq!(at(0), Duration::from_secs(5));
        assert_eq!(at(17), Duration::from_secs(3));
        assert_eq!(at(30), Duration::from_secs(3));
        assert_eq!(at(100), Duration::from_secs(5));
        assert_eq!(at(600), Duration::from_secs(5));
        assert_eq!(at(1200), STUCK_INTERVAL);
        assert_eq!(at(3 * 3600), STUCK_INTERVAL);
        assert_eq!(age(&j, Duration::from_secs(601)), Age::Stuck);
        assert_eq!(age(&j, Duration::from_secs(7200)), Age::Refundable);
        assert_eq!(age(&j, Duration::from_secs(81)), Age::Late);
    }

    #[test]
    fn final_statuses() {
        for code in [1, 6, 7, 8] {
            assert!(JobStatus::from_code(code).is_final());
            assert_eq!(JobStatus::from_code(code).code(), code);
        }
        for code in [0, 2, 5, 9, 10, -1] {
            assert!(!JobStatus::from_code(code).is_final());
        }
    }

    #[test]
    fn fixed_interval_is_exact() {
        let d = Duration::from_millis(1234);
        for s in [0, 10, 1000, 100_000] {
            let got = next_poll(
                PollPolicy::Fixed(d),
                &JobShape::default(),
                Duration::from_secs(s),
                0.99,
            );
            assert_eq!(got, d);
        }
    }

    fn any_job() -> impl Strategy<Value = JobShape> {
        (
            proptest::option::of(proptest::sample::select(Model::KNOWN.to_vec())),
            proptest::option::of(0u32..100),
            proptest::option::of(proptest::sample::select(Quality::KNOWN.to_vec())),
        )
            .prop_map(|(model, duration, quality)| JobShape {
                model,
                duration,
                quality,
            })
    }

    proptest! {
        #[test]
        fn adaptive_stays_within_the_advice_until_stuck(
            j in any_job(), elapsed_ms in 0u64..20_000_000, jitter in 0.0f64..1.0,
        ) {
            let elapsed = Duration::from_millis(elapsed_ms);
            let d = next_poll(PollPolicy::Adaptive, &j, elapsed, jitter);
            let low = ADVISED_MIN.mul_f64(0.9);
            let high = if elapsed < STUCK_AFTER { ADVISED_MAX } else { STUCK_INTERVAL }.mul_f64(1.1);
            prop_assert!(d >= low && d <= high, "{:?} at {:?}", d, elapsed);
        }

        #[test]
        fn never_slower_than_advice_near_the_expected_time(j in any_job(), frac in 0.5f64..2.0) {
            let elapsed = j.expected_render().mul_f64(frac);
            prop_assume!(elapsed < STUCK_AFTER);
            let d = next_poll(PollPolicy::Adaptive, &j, elapsed, 0.5);
            prop_assert!(d <= ADVISED_MAX);
        }
    }
}
