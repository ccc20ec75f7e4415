//! Offline validation: every documented mistake in a request, found before credits are spent.
//!
//! The fast path is one typed parse into [`Job`] followed by the rules; only when that parse
//! fails does a second pass walk a `serde_json::Value` to say which field is missing or of the
//! wrong type (and still run every rule on the fields it could read).

use crate::diagnostic::Diagnostic;
use crate::fields::Fields;
use crate::job::Job;
use crate::rules;
use crate::shape;

pub use crate::rules::ValidateOptions;

/// The verdict on a request.
#[derive(Clone, Debug, PartialEq)]
pub struct Validation {
    /// Every problem found, errors and warnings, in document order of the rules.
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed job, when the request had the right shape (even if rules failed).
    pub job: Option<Job>,
}

impl Validation {
    /// No errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics that block sending.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The diagnostics that only inform.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Validates raw JSON bytes (a vendor request or a job file). Never panics.
pub fn validate_bytes(bytes: &[u8], opts: &ValidateOptions) -> Validation {
    if let Ok(job) = serde_json::from_slice::<Job>(bytes) {
        let diagnostics = validate_job(&job, opts);
        return Validation {
            diagnostics,
            job: Some(job),
        };
    }
    let value = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(value) => value,
        Err(e) => {
            return Validation {
                diagnostics: vec![syntax_error(&e)],
                job: None,
            };
        }
    };
    let mut diagnostics = Vec::new();
    let partial = shape::walk(value, &mut diagnostics);
    rules::check(&partial.fields(), opts, &mut diagnostics);
    Validation {
        diagnostics,
        job: partial.into_job(),
    }
}

/// Validates a job already in typed form.
pub fn validate_job(job: &Job, opts: &ValidateOptions) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    rules::check(&Fields::of(job), opts, &mut out);
    out
}

fn syntax_error(e: &serde_json::Error) -> Diagnostic {
    let (line, column) = (e.line(), e.column());
    let what = e.to_string();
    // serde_json appends " at line L column C"; we say it first, in words.
    let what = what
        .rsplit_once(" at line ")
        .map_or(what.as_str(), |(head, _)| head);
    let message = if line == 0 {
        format!("not valid JSON: {what}")
    } else {
        format!("not valid JSON at line {line}, column {column}: {what}")
    };
    Diagnostic::error("json_syntax", "", message)
}
