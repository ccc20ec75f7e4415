//! What a failed submit means for its job: the one place that decides whether it ended.

use crate::errcode::{CONCURRENCY_LIMIT, INVALID_IMAGE_ID};

/// The facts about a failed submit that decide its job's fate (the transport knows them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubmitError {
    /// The server answered (an HTTP status or an ErrCode), as opposed to no usable answer.
    pub answered: bool,
    /// Trying the same submit again later may succeed.
    pub retryable: bool,
    /// The request may have reached the server and created a job (a lost answer, a bare 5xx).
    pub may_have_reached_server: bool,
    /// The vendor's ErrCode, when there was one.
    pub err_code: Option<i64>,
}

/// How a failed submit leaves its job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubmitFailure {
    /// A definite refusal: nothing was made, nothing billed. A new attempt may use a new trace
    /// id.
    Refused {
        /// The server does not know an img_id (400032): uploading the images again can fix
        /// it.
        invalid_image: bool,
    },
    /// The account's concurrency limit (500044): resend later with the same trace id.
    SlotRefused,
    /// The fate of the submit is unknown: resend with the same trace id to learn it without
    /// paying twice.
    Ambiguous,
}

impl SubmitFailure {
    /// Classifies a failed submit.
    pub fn of(error: &SubmitError) -> SubmitFailure {
        if error.err_code == Some(CONCURRENCY_LIMIT) {
            return SubmitFailure::SlotRefused;
        }
        if error.answered && !error.retryable && !error.may_have_reached_server {
            return SubmitFailure::Refused {
                invalid_image: error.err_code == Some(INVALID_IMAGE_ID),
            };
        }
        SubmitFailure::Ambiguous
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(answered: bool, retryable: bool, reached: bool, code: Option<i64>) -> SubmitError {
        SubmitError {
            answered,
            retryable,
            may_have_reached_server: reached,
            err_code: code,
        }
    }

    #[test]
    fn only_a_definite_answer_ends_a_submit() {
        assert_eq!(
            SubmitFailure::of(&error(true, false, false, Some(500090))),
            SubmitFailure::Refused {
                invalid_image: false
            }
        );
        assert_eq!(
            SubmitFailure::of(&error(true, false, false, Some(INVALID_IMAGE_ID))),
            SubmitFailure::Refused {
                invalid_image: true
            }
        );
        // A bare 5xx may have created the job; so may a connection lost after sending.
        assert_eq!(
            SubmitFailure::of(&error(true, true, true, None)),
            SubmitFailure::Ambiguous
        );
        assert_eq!(
            SubmitFailure::of(&error(false, true, true, None)),
            SubmitFailure::Ambiguous
        );
        // Retries exhausted on a retryable answer: the server may accept it later.
        assert_eq!(
            SubmitFailure::of(&error(true, true, false, None)),
            SubmitFailure::Ambiguous
        );
        assert_eq!(
            SubmitFailure::of(&error(true, true, false, Some(CONCURRENCY_LIMIT))),
            SubmitFailure::SlotRefused
        );
    }
}
