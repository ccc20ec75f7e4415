//! Reading the request: a file, or stdin for `-`.

use std::io::Read;
use std::path::Path;

use crate::cmd::Failure;

/// The bytes of `path` (`-`: all of stdin). Unreadable input is a usage error.
pub fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::usage(format!("cannot read stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
}

/// How to name the input in messages.
pub fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        String::from("<stdin>")
    } else {
        path.display().to_string()
    }
}
