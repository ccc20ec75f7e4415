use std::path::PathBuf;

/// Why the spec could not be turned into Rust.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON of the expected shape: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("spec problem in {file}: {message}")]
    Spec { file: String, message: String },
    #[error("typify failed on {file}: {message}")]
    Typify { file: String, message: String },
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
