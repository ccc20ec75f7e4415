//! Counters a test can read to check what really happened on the server side.

/// A snapshot of what the sandbox has seen since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxStats {
    /// Authenticated `POST …/video/fusion/generate` requests, whatever their answer.
    pub submits_received: u64,
    /// Jobs created (and charged). A re-sent trace id creates none.
    pub billable_jobs: u64,
    /// Submits answered with an earlier job because their trace id was already known.
    pub deduplicated_submits: u64,
    /// Credits charged, minus refunds of jobs that ended in status 7 or 8.
    pub credits_spent: u64,
    /// Images stored by `POST …/image/upload`.
    pub uploads: u64,
    /// Video downloads answered with 200 or 206 (including ones cut by a fault).
    pub downloads_served: u64,
    pub faults: FaultStats,
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
