//! The vendor's ErrCode table: meaning, class and retry rule of every known code.

pub use crate::generated::tables::ERROR_CODES;

/// An img_id the server does not know (`invalid_image_id`): the image must be uploaded again.
pub const INVALID_IMAGE_ID: i64 = 400032;

/// A submit beyond the account's concurrent-generation limit (`concurrency_limit`).
pub const CONCURRENCY_LIMIT: i64 = 500044;

/// What kind of failure something is; it decides the reaction and the CLI's exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// The request is wrong; sending it again cannot help.
    InvalidRequest,
    /// The key is missing, wrong or lacks permission.
    Auth,
    /// The account has too few credits.
    Credits,
    /// Content moderation rejected the input or the output.
    Moderation,
    /// The account's concurrency limit or a rate limit.
    Concurrency,
    /// A temporary server or network problem.
    Transient,
    /// The id is unknown.
    NotFound,
    /// The content was deleted.
    Deleted,
}

impl ErrorClass {
    /// Whether a later attempt of the same request can succeed: only a transient failure or a
    /// full concurrency slot clears by itself. The key, the credits, the request, the content,
    /// an unknown or deleted id do not change by trying again.
    pub fn may_clear_on_retry(self) -> bool {
        match self {
            ErrorClass::Transient | ErrorClass::Concurrency => true,
            ErrorClass::InvalidRequest
            | ErrorClass::Auth
            | ErrorClass::Credits
            | ErrorClass::Moderation
            | ErrorClass::NotFound
            | ErrorClass::Deleted => false,
        }
    }

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::InvalidRequest => "invalid_request",
            ErrorClass::Auth => "auth",
            ErrorClass::Credits => "credits",
            ErrorClass::Moderation => "moderation",
            ErrorClass::Concurrency => "concurrency",
            ErrorClass::Transient => "transient",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Deleted => "deleted",
        }
    }
}

/// Whether and how a code may be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetryRule {
    /// Never: the same request fails the same way.
    Never,
    /// One more try at most.
    Once,
    /// Exponential backoff.
    Backoff,
    /// Wait for a concurrency slot (longer backoff), same trace id.
    WaitForSlot,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrCodeInfo {
    /// The vendor's ErrCode.
    pub code: i64,
    /// Stable snake_case name.
    pub name: &'static str,
    /// What the vendor means.
    pub meaning: &'static str,
    /// What kind of failure it is.
    pub class: ErrorClass,
    /// Whether and how it may be retried.
    pub retry: RetryRule,
    /// What the user should do.
    pub hint: &'static str,
    /// Where the row's facts came from (a source tag of spec/SOURCES.md).
    pub source: &'static str,
}

/// The row of `code`, if the table knows it.
pub fn lookup(code: i64) -> Option<&'static ErrCodeInfo> {
    ERROR_CODES
        .binary_search_by_key(&code, |row| row.code)
        .ok()
        .map(|i| &ERROR_CODES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The named codes other crates react to must be rows of the table, with the meaning the
    /// reaction assumes; a spec change that renumbers them fails here, not in production.
    #[test]
    fn named_codes_are_rows_of_the_table() {
        let image = lookup(INVALID_IMAGE_ID).unwrap();
        assert_eq!(image.name, "invalid_image_id");
        assert_eq!(image.class, ErrorClass::InvalidRequest);
        let slot = lookup(CONCURRENCY_LIMIT).unwrap();
        assert_eq!(slot.name, "concurrency_limit");
        assert_eq!(slot.class, ErrorClass::Concurrency);
        assert_eq!(slot.retry, RetryRule::WaitForSlot);
    }
}
