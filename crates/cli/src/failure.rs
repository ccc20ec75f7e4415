//! [`Failure`]: a command that could not do its job, and how a library error becomes one (an
//! exit code from the table in `exit.rs`, and a message).

use pixfuse::{Error, ErrorClass, JobStatus, TransportError};

use crate::exit::Exit;

/// A command that could not do its job, with the exit code that says why.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        // A closed pipe (`pixfuse models | head -1`) is the reader's choice, not a failure.
        let exit = if e.kind() == std::io::ErrorKind::BrokenPipe {
            Exit::Success
        } else {
            Exit::Internal
        };
        Failure {
            exit,
            message: format!("cannot write output: {e}"),
        }
    }
}

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
        | Error::TimedOut {
            job_id: Some(_), ..
        }
        // Another process took the job over: it goes on there.
        | Error::Journal(pixfuse::journal::JournalError::ClaimLost { .. }) => Exit::StillRunning,
        Error::TimedOut { job_id: None, .. } => Exit::Network,
        Error::Transport(TransportError::Config(_)) => Exit::Usage,
        Error::Transport(TransportError::Io { .. }) | Error::Io { .. } => Exit::Usage,
        Error::Transport(e) => e.class().map_or(Exit::Network, Exit::from),
        Error::Journal(
            pixfuse::journal::JournalError::StateDir { .. }
            | pixfuse::journal::JournalError::NoSuchJob(_)
            | pixfuse::journal::JournalError::NewerSchema { .. }
            | pixfuse::journal::JournalError::BadUrl { .. }
            | pixfuse::journal::JournalError::Unsupported(_),
        ) => Exit::Usage,
        // A shared journal's server that is down or refuses: the network's or the database's
        // failure, as a vendor server's would be — not a bug.
        Error::Journal(pixfuse::journal::JournalError::Database { .. }) => Exit::Network,
        // A full or vanished state directory after the server took the job: the user's
        // environment to mend, then `pixfuse resume` (the message names it), not a bug.
        Error::JournalWrite { .. } => Exit::Usage,
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

    #[test]
    fn a_shared_journal_out_of_reach_is_the_network_and_a_bad_url_the_user_s() {
        use pixfuse::journal::JournalError;
        let down = Error::Journal(JournalError::Database {
            location: "postgres://app@db/pixfuse".into(),
            message: "error connecting to server: Connection refused".into(),
        });
        assert_eq!(exit_for(&down), Exit::Network);
        let bad = Error::Journal(JournalError::BadUrl {
            url: "postgres://app:***@db".into(),
            why: "no database name".into(),
        });
        assert_eq!(exit_for(&bad), Exit::Usage);
    }

    #[test]
    fn a_failed_journal_write_is_not_a_bug_and_a_journaled_timeout_resumes() {
        let corrupt = || pixfuse::journal::JournalError::Corrupt {
            id: 1,
            what: "x".into(),
        };
        let write = Error::JournalWrite {
            job_id: 4,
            what: "the video id",
            resume_command: "pixfuse resume 4".into(),
            source: Box::new(corrupt()),
        };
        assert_eq!(exit_for(&write), Exit::Usage);
        assert!(write.to_string().contains("`pixfuse resume 4`"));
        let late = || pixfuse::TransportError::TimedOut {
            what: "POST /x".into(),
            trace_id: None,
            attempts: 1,
            may_have_reached_server: true,
            last: None,
        };
        let journaled = Error::TimedOut {
            job_id: Some(3),
            error: late(),
        };
        assert_eq!(exit_for(&journaled), Exit::StillRunning);
        assert!(journaled.to_string().contains("`pixfuse resume 3`"));
        let early = Error::TimedOut {
            job_id: None,
            error: late(),
        };
        assert_eq!(exit_for(&early), Exit::Network);
    }
}
