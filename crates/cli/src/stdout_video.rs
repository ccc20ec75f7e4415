//! `-o -`: the video on standard output. It is downloaded to a file in the state directory
//! first (a download resumes and is verified as a file, and a rerun of the same job finds it
//! there instead of paying again), then copied out; every message stays on stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::failure::Failure;

/// Whether `output` asks for standard output.
pub fn wanted(output: Option<&Path>) -> bool {
    output == Some(Path::new("-"))
}

/// Refuses a terminal: a video is bytes, not text.
pub fn check_not_a_terminal() -> Result<(), Failure> {
    if std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "-o - writes the video to standard output, which is a terminal here; redirect it \
             (`… -o - > clip.mp4`) or pipe it (`… -o - | mpv -`)",
        ));
    }
    Ok(())
}

/// Where the video of `identity` (the request body, or the video id) is kept on its way out:
/// `<journal dir>/stdout/<sha256 prefix>.mp4`, the same path for the same job every time, so
/// the journal sees the same job to the same output and a rerun continues it.
pub fn spool_path(journal_dir: &Path, identity: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(identity.as_bytes()));
    journal_dir
        .join("stdout")
        .join(format!("{}.mp4", &digest[..16]))
}

/// Copies the finished video to standard output.
pub fn copy_out(path: &Path) -> Result<(), Failure> {
    let mut file = std::fs::File::open(path).map_err(|e| Failure {
        exit: crate::exit::Exit::Internal,
        message: format!("cannot read the downloaded video {}: {e}", path.display()),
    })?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)?;
    out.flush()?;
    Ok(())
}
