//! One line of a batch file: a job in the job-file format, plus optional `"id"` and `"output"`.

use serde_json::{Map, Value};

/// A batch line split into its batch keys and the job itself.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchLine {
    /// The caller's name for the job (stable across runs), if given.
    pub id: Option<String>,
    /// Where the video goes, if given (relative paths are relative to the output directory).
    pub output: Option<String>,
    /// The job object without the batch keys, ready for validation.
    pub job: Map<String, Value>,
}

/// Why a line is not a job.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchLineError {
    /// The line is not JSON.
    #[error("line {line}: not valid JSON ({message}); each line must be one job object")]
    Json {
        /// 1-based line number.
        line: usize,
        /// serde_json's description of the syntax error.
        message: String,
    },
    /// The line is JSON but not an object.
    #[error("line {line}: expected a JSON object (one job per line)")]
    NotAnObject {
        /// 1-based line number.
        line: usize,
    },
    /// A batch key (`id`, `output`) is not a non-empty string.
    #[error("line {line}: \"{key}\" must be a non-empty string")]
    BadKey {
        /// 1-based line number.
        line: usize,
        /// The key at fault.
        key: &'static str,
    },
}

/// Splits line number `line` (1-based, for messages) of a batch file.
pub fn split_batch_line(line: usize, text: &str) -> Result<BatchLine, BatchLineError> {
    let value: Value = serde_json::from_str(text).map_err(|e| BatchLineError::Json {
        line,
        message: e.to_string(),
    })?;
    let Value::Object(mut job) = value else {
        return Err(BatchLineError::NotAnObject { line });
    };
    let mut take = |key: &'static str| -> Result<Option<String>, BatchLineError> {
        match job.remove(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
            Some(_) => Err(BatchLineError::BadKey { line, key }),
        }
    };
    let id = take("id")?;
    let output = take("output")?;
    Ok(BatchLine { id, output, job })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_batch_keys_from_the_job() {
        let l = split_batch_line(
            3,
            r#"{"id":"a1","output":"a1.mp4","model":"v5","prompt":"@dog "}"#,
        )
        .unwrap();
        assert_eq!(l.id.as_deref(), Some("a1"));
        assert_eq!(l.output.as_deref(), Some("a1.mp4"));
        assert_eq!(l.job.len(), 2);
        assert!(!l.job.contains_key("id"));
    }

    #[test]
    fn explains_bad_lines() {
        assert!(matches!(
            split_batch_line(1, "{"),
            Err(BatchLineError::Json { line: 1, .. })
        ));
        assert_eq!(
            split_batch_line(2, "[1]"),
            Err(BatchLineError::NotAnObject { line: 2 })
        );
        assert_eq!(
            split_batch_line(4, r#"{"id": 5}"#),
            Err(BatchLineError::BadKey { line: 4, key: "id" })
        );
        let err = split_batch_line(7, r#"{"output": ""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 7") && err.contains("output"), "{err}");
    }
}
