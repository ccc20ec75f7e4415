//! How a library error becomes an exit code and a message (the table in `exit.rs`).

use pixfuse::{Error, ErrorClass, JobStatus, TransportError};

use crate::cmd::Failure;
use crate::exit::Exit;

/// The exit code for `error`.
pub fn exit_for(error: &Error) -> Exit {
    match error {
        Error::Invalid { .. } => Exit::InvalidRequest,
        Error::Generation {
            status: JobStatus::Moderated,
            ..
        } => Exit::Moderation,
        Error::Generation { .. } | Error::Abandoned { .. } => Exit::GenerationFailed,
        Error::AlreadyFailed { state, .. } => match state {
            pixfuse::JobState::Moderated => Exit::Moderation,
            pixfuse::JobState::RefusedBeforeBilling => Exit::InvalidRequest,
            _ => Exit::GenerationFailed,
        },
        Error::StillRunning { .. }
        // Another process took the job over: it goes on there.
        | Error::Journal(pixfuse::journal::JournalError::ClaimLost { .. }) => Exit::StillRunning,
        Error::Transport(TransportError::Config(_)) => Exit::Usage,
        Error::Transport(TransportError::Io { .. }) | Error::Io { .. } => Exit::Usage,
        Error::Transport(e) => e.class().map_or(Exit::Network, Exit::from),
        Error::Journal(
            pixfuse::journal::JournalError::StateDir { .. }
            | pixfuse::journal::JournalError::NoSuchJob(_),
        ) => Exit::Usage,
        Error::Journal(_) | Error::Internal(_) => Exit::Internal,
        Error::Config(_)
        | Error::OtherServer { .. }
        | Error::Destination { .. }
        | Error::OutputTaken { .. }
        | Error::OutputOwnedByNewer { .. } => Exit::Usage,
        _ => error
            .class()
            .map_or(Exit::Internal, |c: ErrorClass| Exit::from(c)),
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            exit: exit_for(&error),
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_bugs_exit_1_and_configuration_mistakes_exit_2() {
        assert_eq!(exit_for(&Error::Internal("bug".into())), Exit::Internal);
        assert_eq!(exit_for(&Error::Internal("bug".into())).code(), 1);
        assert_eq!(exit_for(&Error::Config("no key".into())), Exit::Usage);
    }
}
