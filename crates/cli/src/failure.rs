//! How a library error becomes an exit code and a message (the table in `exit.rs`).

use pixfuse::{Error, ErrorClass, TransportError};

use crate::cmd::Failure;
use crate::exit::Exit;

/// The exit code for `error`.
pub fn exit_for(error: &Error) -> Exit {
    match error {
        Error::Invalid { .. } => Exit::InvalidRequest,
        Error::Generation { status: 7, .. } => Exit::Moderation,
        Error::Generation { .. } | Error::AlreadyFailed { .. } => Exit::GenerationFailed,
        Error::StillRunning { .. } => Exit::StillRunning,
        Error::Transport(TransportError::Config(_)) => Exit::Usage,
        Error::Transport(TransportError::Io { .. }) | Error::Io { .. } => Exit::Usage,
        Error::Transport(e) => e.class().map_or(Exit::Network, Exit::from),
        Error::Journal(
            pixfuse::journal::JournalError::StateDir { .. }
            | pixfuse::journal::JournalError::NoSuchJob(_),
        ) => Exit::Usage,
        Error::Journal(_) | Error::Internal(_) => Exit::Internal,
        Error::Config(_) | Error::OtherServer { .. } => Exit::Usage,
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
