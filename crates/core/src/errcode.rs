//! The vendor's ErrCode table: meaning, class and retry rule of every known code.

pub use crate::generated::tables::ERROR_CODES;

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
    pub code: i64,
    /// Stable snake_case name.
    pub name: &'static str,
    /// What the vendor means.
    pub meaning: &'static str,
    pub class: ErrorClass,
    pub retry: RetryRule,
    /// What the user should do.
    pub hint: &'static str,
    pub source: &'static str,
}

/// The row of `code`, if the table knows it.
pub fn lookup(code: i64) -> Option<&'static ErrCodeInfo> {
    ERROR_CODES
        .binary_search_by_key(&code, |row| row.code)
        .ok()
        .map(|i| &ERROR_CODES[i])
}
