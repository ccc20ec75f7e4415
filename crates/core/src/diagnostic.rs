//! One problem found in a request: what, where, how bad, and how to fix it.

use std::ops::Range;

use crate::Severity;

/// A problem in a request, located by an RFC 6901 JSON pointer (and a byte span for the prompt).
///
/// `code` is stable snake_case (every code is listed in `docs/diagnostics.md`); `message` is
/// plain English naming the allowed values; `suggestion` is the nearest allowed value or the
/// edit to make, when there is one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    /// RFC 6901 pointer into the request (`/duration`, `/image_references/2/ref_name`);
    /// `""` for the whole document.
    pub path: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// Byte span into the prompt, for prompt diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    /// A diagnostic without suggestion or span.
    pub fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            path: path.into(),
            message: message.into(),
            suggestion: None,
            span: None,
        }
    }

    /// An error (blocks sending).
    pub fn error(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, path, message)
    }

    /// A warning (informs, never blocks).
    pub fn warning(
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, path, message)
    }

    /// Adds a suggestion.
    #[must_use]
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// Adds a byte span into the prompt.
    #[must_use]
    pub fn with_span(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    /// Whether this blocks sending.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Escapes one RFC 6901 reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1").into()
    } else {
        token.into()
    }
}

/// `/image_references/{index}` and below.
pub(crate) fn ref_path(index: usize, field: Option<&str>) -> String {
    match field {
        Some(field) => format!("/image_references/{index}/{}", escape_pointer_token(field)),
        None => format!("/image_references/{index}"),
    }
}
