//! Exit codes: the complete table every pixfuse command uses (other tooling depends on it).

use pixfuse_core::ErrorClass;

/// How a `pixfuse` process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done.
    Success = 0,
    /// 1: an unexpected internal error (a bug).
    Internal = 1,
    /// 2: bad command line, missing or unreadable input file.
    Usage = 2,
    /// 3: the request is invalid (offline validation, or a server 400xxx).
    InvalidRequest = 3,
    /// 4: missing, wrong or unauthorised API key.
    Auth = 4,
    /// 5: not enough credits.
    Credits = 5,
    /// 6: content moderation refused the input or the output.
    Moderation = 6,
    /// 7: the generation failed or the video was deleted.
    GenerationFailed = 7,
    /// 8: `--timeout` expired once the job was journaled (still generating, or cut short while
    /// uploading, submitting or downloading): `pixfuse resume` continues it later.
    StillRunning = 8,
    /// 9: the concurrency or rate limit persisted after retries.
    Concurrency = 9,
    /// 10: network or server failure after retries, or `--timeout` expired before the job was
    /// journaled (nothing to resume: run it again).
    Network = 10,
    /// 130: interrupted (SIGINT, Ctrl-C); the journal is consistent and the job resumable.
    Interrupted = 130,
    /// 143: terminated (SIGTERM); the journal is consistent and the job resumable.
    Terminated = 143,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ErrorClass> for Exit {
    fn from(class: ErrorClass) -> Self {
        match class {
            ErrorClass::InvalidRequest | ErrorClass::NotFound => Exit::InvalidRequest,
            ErrorClass::Auth => Exit::Auth,
            ErrorClass::Credits => Exit::Credits,
            ErrorClass::Moderation => Exit::Moderation,
            ErrorClass::Deleted => Exit::GenerationFailed,
            ErrorClass::Concurrency => Exit::Concurrency,
            ErrorClass::Transient => Exit::Network,
            _ => Exit::Internal,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_issue_5_table() {
        let table = [
            (Exit::Success, 0),
            (Exit::Internal, 1),
            (Exit::Usage, 2),
            (Exit::InvalidRequest, 3),
            (Exit::Auth, 4),
            (Exit::Credits, 5),
            (Exit::Moderation, 6),
            (Exit::GenerationFailed, 7),
            (Exit::StillRunning, 8),
            (Exit::Concurrency, 9),
            (Exit::Network, 10),
            (Exit::Interrupted, 130),
            (Exit::Terminated, 143),
        ];
        for (exit, code) in table {
            assert_eq!(exit.code(), code, "{exit:?}");
        }
        assert_eq!(Exit::from(ErrorClass::Credits), Exit::Credits);
        assert_eq!(Exit::from(ErrorClass::Concurrency), Exit::Concurrency);
        assert_eq!(Exit::from(ErrorClass::Transient), Exit::Network);
        assert_eq!(Exit::from(ErrorClass::Moderation), Exit::Moderation);
        assert_eq!(Exit::from(ErrorClass::Deleted), Exit::GenerationFailed);
        assert_eq!(Exit::from(ErrorClass::Auth), Exit::Auth);
    }
}
