//! Counters a test can read to check what really happened on the server side. They live in the
//! store, so every process sharing a persistent store counts into the same ones.

/// A snapshot of what the emulator has seen since its store was created (for an in-memory
/// store: since the server started).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxStats {
    /// Authenticated `POST …/video/fusion/generate` requests, whatever their answer.
    pub submits_received: u64,
    /// Jobs created (and charged). A re-sent trace id creates none.
    pub billable_jobs: u64,
    /// Authenticated `GET …/video/result/{id}` requests (status polls), whatever their answer.
    pub status_requests: u64,
    /// Submits answered with an earlier job because their trace id was already known.
    pub deduplicated_submits: u64,
    /// Credits charged, minus refunds of jobs that ended in status 7 or 8.
    pub credits_spent: u64,
    /// Images stored by `POST …/image/upload`.
    pub uploads: u64,
    /// Authenticated `POST …/media/upload` requests (reference videos), whatever their answer.
    pub media_upload_requests: u64,
    /// Videos stored by `POST …/media/upload`.
    pub video_uploads: u64,
    /// Video downloads answered with 200 or 206 (including ones cut by a fault).
    pub downloads_served: u64,
    /// Submits refused because the key had its limit of jobs generating (ErrCode 500044).
    pub concurrency_refusals: u64,
    /// The most jobs one key ever had generating at once (counted when a job is accepted).
    pub peak_generating: u64,
    pub faults: FaultStats,
    pub callbacks: CallbackStats,
}

/// What the account's webhook did (see [`crate::WebhookConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackStats {
    /// Jobs submitted while a webhook was set: each gets one event.
    pub scheduled: u64,
    /// Deliveries tried (first ones and retries; not the extra copies below).
    pub attempts: u64,
    /// Events the receiver answered with HTTP 200 `ok`.
    pub delivered: u64,
    /// Attempts answered otherwise, or not at all.
    pub refused: u64,
    /// Events given up after the last retry of the schedule.
    pub abandoned: u64,
    /// Extra copies sent after delivery by the `duplicate` and `replay` faults.
    pub duplicates_sent: u64,
    pub replays_sent: u64,
    /// Events held back by the `out_of_order` fault.
    pub held_back: u64,
    /// Attempts sent with a wrong signature or a stale timestamp.
    pub bad_signatures_sent: u64,
    pub stale_timestamps_sent: u64,
}

/// How often each fault was injected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultStats {
    pub rate_limited: u64,
    pub server_errors: u64,
    pub dropped_submits: u64,
    pub truncated_bodies: u64,
    pub cut_downloads: u64,
}

/// Names of the counters in the store.
pub(crate) mod counter {
    pub(crate) const SUBMITS_RECEIVED: &str = "submits_received";
    pub(crate) const BILLABLE_JOBS: &str = "billable_jobs";
    pub(crate) const STATUS_REQUESTS: &str = "status_requests";
    pub(crate) const DEDUPLICATED_SUBMITS: &str = "deduplicated_submits";
    pub(crate) const CREDITS_SPENT: &str = "credits_spent";
    pub(crate) const UPLOADS: &str = "uploads";
    pub(crate) const MEDIA_UPLOAD_REQUESTS: &str = "media_upload_requests";
    pub(crate) const VIDEO_UPLOADS: &str = "video_uploads";
    pub(crate) const DOWNLOADS_SERVED: &str = "downloads_served";
    pub(crate) const CONCURRENCY_REFUSALS: &str = "concurrency_refusals";
    pub(crate) const PEAK_GENERATING: &str = "peak_generating";
    pub(crate) const RATE_LIMITED: &str = "faults.rate_limited";
    pub(crate) const SERVER_ERRORS: &str = "faults.server_errors";
    pub(crate) const DROPPED_SUBMITS: &str = "faults.dropped_submits";
    pub(crate) const TRUNCATED_BODIES: &str = "faults.truncated_bodies";
    pub(crate) const CUT_DOWNLOADS: &str = "faults.cut_downloads";
    pub(crate) const CALLBACKS_SCHEDULED: &str = "callbacks.scheduled";
    pub(crate) const CALLBACK_ATTEMPTS: &str = "callbacks.attempts";
    pub(crate) const CALLBACKS_DELIVERED: &str = "callbacks.delivered";
    pub(crate) const CALLBACKS_REFUSED: &str = "callbacks.refused";
    pub(crate) const CALLBACKS_ABANDONED: &str = "callbacks.abandoned";
    pub(crate) const CALLBACK_DUPLICATES: &str = "callbacks.duplicates_sent";
    pub(crate) const CALLBACK_REPLAYS: &str = "callbacks.replays_sent";
    pub(crate) const CALLBACKS_HELD_BACK: &str = "callbacks.held_back";
    pub(crate) const CALLBACK_BAD_SIGNATURES: &str = "callbacks.bad_signatures_sent";
    pub(crate) const CALLBACK_STALE_TIMESTAMPS: &str = "callbacks.stale_timestamps_sent";
}

impl SandboxStats {
    pub(crate) fn from_counters(counters: &[(String, i64)]) -> Self {
        let get = |name: &str| {
            counters
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, v)| u64::try_from(*v).unwrap_or(0))
        };
        SandboxStats {
            submits_received: get(counter::SUBMITS_RECEIVED),
            billable_jobs: get(counter::BILLABLE_JOBS),
            status_requests: get(counter::STATUS_REQUESTS),
            deduplicated_submits: get(counter::DEDUPLICATED_SUBMITS),
            credits_spent: get(counter::CREDITS_SPENT),
            uploads: get(counter::UPLOADS),
            media_upload_requests: get(counter::MEDIA_UPLOAD_REQUESTS),
            video_uploads: get(counter::VIDEO_UPLOADS),
            downloads_served: get(counter::DOWNLOADS_SERVED),
            concurrency_refusals: get(counter::CONCURRENCY_REFUSALS),
            peak_generating: get(counter::PEAK_GENERATING),
            faults: FaultStats {
                rate_limited: get(counter::RATE_LIMITED),
                server_errors: get(counter::SERVER_ERRORS),
                dropped_submits: get(counter::DROPPED_SUBMITS),
                truncated_bodies: get(counter::TRUNCATED_BODIES),
                cut_downloads: get(counter::CUT_DOWNLOADS),
            },
            callbacks: CallbackStats {
                scheduled: get(counter::CALLBACKS_SCHEDULED),
                attempts: get(counter::CALLBACK_ATTEMPTS),
                delivered: get(counter::CALLBACKS_DELIVERED),
                refused: get(counter::CALLBACKS_REFUSED),
                abandoned: get(counter::CALLBACKS_ABANDONED),
                duplicates_sent: get(counter::CALLBACK_DUPLICATES),
                replays_sent: get(counter::CALLBACK_REPLAYS),
                held_back: get(counter::CALLBACKS_HELD_BACK),
                bad_signatures_sent: get(counter::CALLBACK_BAD_SIGNATURES),
                stale_timestamps_sent: get(counter::CALLBACK_STALE_TIMESTAMPS),
            },
        }
    }
}
