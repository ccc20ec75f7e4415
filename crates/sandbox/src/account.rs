//! The account the sandbox serves: balance, uploaded images, jobs, trace ids and counters.
//! Plain data behind one mutex; the handlers decide, this module keeps the books.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::time::Instant;

use crate::stats::SandboxStats;

/// Ids start just above 2^53 and stay odd, so none of them survives a trip through an f64:
/// a client that parses ids as floats fails at once instead of on some later day.
const IMG_ID_BASE: u64 = (1 << 53) + 1;
const VIDEO_ID_BASE: u64 = (1 << 53) + 1_000_000_001;

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
}

pub(crate) struct Image {
    pub(crate) bytes: Bytes,
    pub(crate) content_type: &'static str,
}

pub(crate) struct Job {
    /// Index of the key that submitted it (concurrency is counted per key).
    pub(crate) key: usize,
    pub(crate) prompt: String,
    pub(crate) seed: Option<u32>,
    pub(crate) has_audio: bool,
    pub(crate) credits: u64,
    pub(crate) created: SystemTime,
    pub(crate) ready_at: Instant,
    pub(crate) generation_time: Duration,
    pub(crate) outcome: Outcome,
}

impl Job {
    /// Vendor status: 5 while generating, then the outcome's.
    pub(crate) fn status(&self, now: Instant) -> i64 {
        if now < self.ready_at {
            5
        } else {
            self.outcome.status()
        }
    }
}

/// What a new job needs from the submit handler.
pub(crate) struct NewJob {
    pub(crate) key: usize,
    pub(crate) trace_id: Option<String>,
    pub(crate) prompt: String,
    pub(crate) seed: Option<u32>,
    pub(crate) has_audio: bool,
    pub(crate) credits: u64,
    pub(crate) generation_time: Duration,
    pub(crate) outcome: Outcome,
}

pub(crate) struct Account {
    pub(crate) account_id: u64,
    credit_monthly: u64,
    credit_package: u64,
    images: HashMap<u64, Image>,
    jobs: HashMap<u64, Job>,
    /// `Ai-trace-id` of every recorded submit → its video.
    traces: HashMap<String, u64>,
    /// Jobs whose refund (if any) is not booked yet.
    unsettled: Vec<u64>,
    next_img_id: u64,
    next_video_id: u64,
    pub(crate) stats: SandboxStats,
}

impl Account {
    pub(crate) fn new(starting_credits: u64) -> Self {
        let monthly = starting_credits / 2;
        Self {
            account_id: 2_026_112_401,
            credit_monthly: monthly,
            credit_package: starting_credits - monthly,
            images: HashMap::new(),
            jobs: HashMap::new(),
            traces: HashMap::new(),
            unsettled: Vec::new(),
            next_img_id: IMG_ID_BASE,
            next_video_id: VIDEO_ID_BASE,
            stats: SandboxStats::default(),
        }
    }

    /// `(credit_monthly, credit_package)`.
    pub(crate) fn balance(&self) -> (u64, u64) {
        (self.credit_monthly, self.credit_package)
    }

    pub(crate) fn credits_left(&self) -> u64 {
        self.credit_monthly.saturating_add(self.credit_package)
    }

    pub(crate) fn add_image(&mut self, image: Image) -> u64 {
        let id = self.next_img_id;
        self.next_img_id += 2;
        self.images.insert(id, image);
        self.stats.uploads += 1;
        id
    }

    pub(crate) fn image(&self, id: u64) -> Option<&Image> {
        self.images.get(&id)
    }

    pub(crate) fn job(&self, id: u64) -> Option<&Job> {
        self.jobs.get(&id)
    }

    /// The video an earlier submit with this trace id created.
    pub(crate) fn video_for_trace(&self, trace_id: &str) -> Option<u64> {
        self.traces.get(trace_id).copied()
    }

    /// Jobs of `key` still generating at `now`.
    pub(crate) fn running(&self, key: usize, now: Instant) -> usize {
        self.jobs
            .values()
            .filter(|job| job.key == key && now < job.ready_at)
            .count()
    }

    /// Books a new job and charges it; the caller has checked the balance.
    pub(crate) fn add_job(&mut self, job: NewJob, now: Instant) -> u64 {
        let id = self.next_video_id;
        self.next_video_id += 2;
        self.charge(job.credits);
        if let Some(trace) = job.trace_id {
            self.traces.insert(trace, id);
        }
        self.jobs.insert(
            id,
            Job {
                key: job.key,
                prompt: job.prompt,
                seed: job.seed,
                has_audio: job.has_audio,
                credits: job.credits,
                created: SystemTime::now(),
                ready_at: now + job.generation_time,
                generation_time: job.generation_time,
                outcome: job.outcome,
            },
        );
        self.unsettled.push(id);
        self.stats.billable_jobs += 1;
        id
    }

    /// Refunds jobs that ended in moderation or failure by `now` (the vendor refunds both).
    pub(crate) fn settle(&mut self, now: Instant) {
        let jobs = &self.jobs;
        let mut refund = 0;
        self.unsettled.retain(|id| match jobs.get(id) {
            Some(job) if now >= job.ready_at => {
                if job.outcome != Outcome::Success {
                    refund += job.credits;
                }
                false
            }
            Some(_) => true,
            None => false,
        });
        if refund > 0 {
            self.credit_package = self.credit_package.saturating_add(refund);
            self.stats.credits_spent = self.stats.credits_spent.saturating_sub(refund);
        }
    }

    fn charge(&mut self, credits: u64) {
        let from_monthly = credits.min(self.credit_monthly);
        self.credit_monthly -= from_monthly;
        self.credit_package = self.credit_package.saturating_sub(credits - from_monthly);
        self.stats.credits_spent += credits;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(credits: u64, outcome: Outcome, ms: u64) -> NewJob {
        NewJob {
            key: 0,
            trace_id: Some(format!("trace-{credits}-{ms}")),
            prompt: "p".into(),
            seed: None,
            has_audio: false,
            credits,
            generation_time: Duration::from_millis(ms),
            outcome,
        }
    }

    #[test]
    fn ids_exceed_two_to_the_53_and_are_not_floats() {
        let mut account = Account::new(100);
        let id = account.add_image(Image {
            bytes: Bytes::new(),
            content_type: "image/png",
        });
        assert!(id > 1 << 53);
        assert_ne!(id as f64 as u64, id);
    }

    #[test]
    fn spends_monthly_first_and_refunds_failures_when_they_end() {
        let now = Instant::now();
        let mut account = Account::new(100);
        account.add_job(job(60, Outcome::Failed, 10), now);
        assert_eq!(account.balance(), (0, 40));
        assert_eq!(account.running(0, now), 1);
        account.settle(now);
        assert_eq!(account.credits_left(), 40);
        let later = now + Duration::from_millis(10);
        account.settle(later);
        assert_eq!(account.credits_left(), 100);
        assert_eq!(account.stats.credits_spent, 0);
        assert_eq!(account.running(0, later), 0);
    }

    #[test]
    fn trace_ids_point_at_their_video() {
        let now = Instant::now();
        let mut account = Account::new(100);
        let id = account.add_job(job(10, Outcome::Success, 0), now);
        assert_eq!(account.video_for_trace("trace-10-0"), Some(id));
        assert_eq!(account.video_for_trace("other"), None);
    }
}
