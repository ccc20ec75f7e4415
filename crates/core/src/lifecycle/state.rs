//! Where one job stands: the states of its lifecycle, stored by their snake_case names.

use crate::poll::JobStatus;

/// A job's state, as the journal stores it.
///
/// The order of the happy path: planned → uploading → claimed → submitted → generating →
/// succeeded → downloaded. The ends: moderated, failed and deleted (the server ended it badly),
/// refused-before-billing (the server definitely refused the submit; nothing was billed, so a
/// retry with a new trace id is free) and abandoned (its output was handed to a newer job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// The job's identity is claimed and its trace id minted; nothing was sent.
    Planned,
    /// Its local images are being uploaded (uploads are cached, so redoing them is free).
    Uploading,
    /// The trace id and the request are durable: a submit may have been sent. Continuing
    /// resends with the same trace id, and the vendor answers with the earlier job.
    Claimed,
    /// The server accepted the submit: the video id is known.
    Submitted,
    /// A status poll said the video is being generated.
    Generating,
    /// The video is ready and its URL known.
    Succeeded,
    /// The video is on disk at the job's output path.
    Downloaded,
    /// Content moderation rejected it (status 7; the vendor refunds it).
    Moderated,
    /// The generation failed (status 8; the vendor refunds it).
    Failed,
    /// The video was deleted on the server (status 6).
    Deleted,
    /// The server definitely refused the submit and billed nothing.
    RefusedBeforeBilling,
    /// Given up: its output belongs to a newer job. Never continued.
    Abandoned,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 12] = [
        JobState::Planned,
        JobState::Uploading,
        JobState::Claimed,
        JobState::Submitted,
        JobState::Generating,
        JobState::Succeeded,
        JobState::Downloaded,
        JobState::Moderated,
        JobState::Failed,
        JobState::Deleted,
        JobState::RefusedBeforeBilling,
        JobState::Abandoned,
    ];

    /// The stable snake_case name the journal stores.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Planned => "planned",
            JobState::Uploading => "uploading",
            JobState::Claimed => "claimed",
            JobState::Submitted => "submitted",
            JobState::Generating => "generating",
            JobState::Succeeded => "succeeded",
            JobState::Downloaded => "downloaded",
            JobState::Moderated => "moderated",
            JobState::Failed => "failed",
            JobState::Deleted => "deleted",
            JobState::RefusedBeforeBilling => "refused_before_billing",
            JobState::Abandoned => "abandoned",
        }
    }

    /// The state a stored name stands for.
    pub fn parse(name: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state a final vendor status puts a job in (`None` while it is still generating).
    pub fn from_status(status: JobStatus) -> Option<JobState> {
        match status {
            JobStatus::Succeeded => Some(JobState::Succeeded),
            JobStatus::Moderated => Some(JobState::Moderated),
            JobStatus::Failed => Some(JobState::Failed),
            JobStatus::Deleted => Some(JobState::Deleted),
            JobStatus::Generating | JobStatus::Unknown(_) => None,
        }
    }

    /// The vendor status a state stands for, where it stands for one.
    pub fn status(self) -> Option<JobStatus> {
        match self {
            JobState::Generating => Some(JobStatus::Generating),
            JobState::Succeeded | JobState::Downloaded => Some(JobStatus::Succeeded),
            JobState::Moderated => Some(JobStatus::Moderated),
            JobState::Failed => Some(JobStatus::Failed),
            JobState::Deleted => Some(JobStatus::Deleted),
            _ => None,
        }
    }

    /// The server ended the job badly (moderated, failed or deleted): only a new job, with a
    /// new bill, can try again.
    pub fn failed_for_good(self) -> bool {
        matches!(
            self,
            JobState::Moderated | JobState::Failed | JobState::Deleted
        )
    }

    /// The video is being made on the server (it may hold one of the account's slots).
    pub fn is_generating(self) -> bool {
        matches!(self, JobState::Submitted | JobState::Generating)
    }

    /// The server may be generating it: accepted, or claimed with a submit perhaps sent (its
    /// answer lost). Such a job holds its account slot until its end is seen.
    pub fn may_be_generating(self) -> bool {
        self == JobState::Claimed || self.is_generating()
    }

    /// Work remains that continuing the job does without a new bill: upload, (re)send with the
    /// same trace id, wait, download.
    pub fn is_unfinished(self) -> bool {
        matches!(
            self,
            JobState::Planned
                | JobState::Uploading
                | JobState::Claimed
                | JobState::Submitted
                | JobState::Generating
                | JobState::Succeeded
        )
    }

    /// Nothing will change it any more unless someone asks for a new attempt.
    pub fn is_final(self) -> bool {
        !self.is_unfinished() && self != JobState::Downloaded
    }

    /// A submit of this job may have been accepted (and billed) by the server.
    pub fn may_be_billed(self) -> bool {
        matches!(
            self,
            JobState::Claimed
                | JobState::Submitted
                | JobState::Generating
                | JobState::Succeeded
                | JobState::Downloaded
                | JobState::Deleted
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for JobState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_snake_case() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert!(
                state
                    .as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_'),
                "{state:?}"
            );
        }
        assert_eq!(JobState::parse("prepared"), None);
    }

    #[test]
    fn final_statuses_map_to_their_states() {
        assert_eq!(
            JobState::from_status(JobStatus::Moderated),
            Some(JobState::Moderated)
        );
        assert_eq!(JobState::from_status(JobStatus::Generating), None);
        assert_eq!(JobState::from_status(JobStatus::Unknown(3)), None);
        for state in JobState::ALL {
            if let Some(status) = state.status().filter(|s| s.is_final()) {
                let back = JobState::from_status(status).unwrap();
                assert!(back == state || state == JobState::Downloaded);
            }
        }
    }

    #[test]
    fn every_state_is_exactly_one_of_unfinished_downloaded_or_final() {
        for state in JobState::ALL {
            let kinds = [
                state.is_unfinished(),
                state == JobState::Downloaded,
                state.is_final(),
            ];
            assert_eq!(kinds.iter().filter(|k| **k).count(), 1, "{state:?}");
        }
    }
}
