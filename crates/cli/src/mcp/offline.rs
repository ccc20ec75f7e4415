//! The tools that need no server: `models`, `validate`, `estimate`. Their answers are the CLI's
//! `--json` objects.

use std::path::{Path, PathBuf};

use pixfuse::{Error, ValidateOptions};
use pixfuse_core::validate_bytes;
use serde_json::Value;

use super::answer::{self, Answer};
use super::params::{CheckArgs, RequestArg};
use crate::cmd::validate::Report;

/// A request's bytes and the directory its relative image paths are relative to.
pub struct Loaded {
    pub bytes: Vec<u8>,
    pub base: PathBuf,
}

/// The request an argument names: inline JSON, or a job file.
pub fn load(arg: &RequestArg) -> Result<Loaded, Answer> {
    match (&arg.request, &arg.job_file) {
        (Some(request), None) => Ok(Loaded {
            bytes: serde_json::to_vec(request).map_err(|e| Answer::usage(e.to_string()))?,
            base: PathBuf::new(),
        }),
        (None, Some(file)) => {
            let path = Path::new(file);
            let bytes = pixfuse::read_job_file(path).map_err(|e| {
                Answer::usage(format!("cannot read the job file {}: {e}", path.display()))
            })?;
            Ok(Loaded {
                bytes,
                base: path.parent().map(Path::to_owned).unwrap_or_default(),
            })
        }
        (Some(_), Some(_)) => Err(Answer::usage(
            "give either `request` or `job_file`, not both",
        )),
        (None, None) => Err(Answer::usage(
            "give the request: `request` (a JSON object) or `job_file` (a path)",
        )),
    }
}

fn options(args: &CheckArgs) -> ValidateOptions {
    ValidateOptions::default().allow_unknown_model(args.allow_unknown_model)
}

/// `models`: the capability table.
pub fn models() -> Answer {
    Answer::ok(crate::cmd::models::table_json())
}

/// `validate`: every diagnostic, errors and warnings apart. An invalid request is a
/// successful call whose answer says `valid: false` (the tool did its job).
pub fn validate(args: &CheckArgs) -> Answer {
    let loaded = match load(&args.request) {
        Ok(loaded) => loaded,
        Err(refusal) => return refusal,
    };
    let validation = validate_bytes(&loaded.bytes, &options(args));
    match serde_json::to_value(Report::new(&validation, None)) {
        Ok(value) => Answer::ok(value),
        Err(e) => Answer::refusal("internal", e.to_string(), "report this bug"),
    }
}

/// `estimate`: credits, USD and how sure the price is; an invalid request is refused with its
/// diagnostics.
pub fn estimate(args: &CheckArgs) -> Answer {
    let loaded = match load(&args.request) {
        Ok(loaded) => loaded,
        Err(refusal) => return refusal,
    };
    let validation = validate_bytes(&loaded.bytes, &options(args));
    match &validation.job {
        Some(job) if validation.is_valid() => {
            Answer::ok(crate::cmd::estimate::estimate_json(job, &[]))
        }
        _ => answer::from_error(&Error::Invalid {
            diagnostics: validation.diagnostics,
        }),
    }
}

/// The estimate of a valid job, for `generate`'s answer.
pub fn estimate_of(job: &pixfuse::Job) -> Value {
    crate::cmd::estimate::estimate_json(job, &pixfuse::local_video_seconds(job))
}
