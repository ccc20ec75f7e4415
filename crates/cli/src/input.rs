//! Reading the request: a file, or stdin for `-`, at most [`pixfuse::MAX_JOB_FILE_BYTES`] of
//! it (a larger input is refused before any of it is parsed).

use std::path::Path;

use crate::failure::Failure;

/// The bytes of `path` (`-`: all of stdin). Unreadable or oversized input is a usage error.
pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        return pixfuse::read_job_bytes(std::io::stdin().lock(), "standard input")
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")));
    }
    pixfuse::read_job_file(path)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
}
/// How to name the input in messages.
pub fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        String::from("<stdin>")
    } else {
        path.display().to_string()
    }
}
