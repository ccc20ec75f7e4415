use std::path::PathBuf;

/// Why the spec could not be turned into Rust.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A spec file is not JSON, or not of the shape its schema describes.
    #[error("{path} is not valid JSON of the expected shape: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde_json's explanation.
        source: serde_json::Error,
    },
    /// The spec is consistent JSON but says something codegen cannot honour.
    #[error("spec problem in {file}: {message}")]
    Spec {
        /// The spec file, relative to the spec directory.
        file: String,
        /// What is wrong, and where in the file.
        message: String,
    },
    /// typify refused a schema.
    #[error("typify failed on {file}: {message}")]
    Typify {
        /// The schema file.
        file: String,
        /// typify's message.
        message: String,
    },
    /// The generated tokens are not valid Rust: a bug in codegen, not in the spec.
    #[error("generated code does not parse (a codegen bug): {0}")]
    Render(String),
}

impl Error {
    pub(crate) fn spec(file: &str, message: impl Into<String>) -> Self {
        Error::Spec {
            file: file.to_owned(),
            message: message.into(),
        }
    }
}
