//! Where pixfuse keeps its journal: `--state-dir`, env `PIXFUSE_STATE_DIR`, or the platform's
//! data directory for pixfuse (`~/.local/share/pixfuse` on Linux).

use std::path::PathBuf;

/// Environment variable naming the state directory.
pub const STATE_DIR_ENV: &str = "PIXFUSE_STATE_DIR";

/// The platform's data directory for pixfuse, if the platform has one (no home directory → None).
pub fn default_state_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pixfuse").map(|dirs| dirs.data_dir().to_owned())
}

/// `PIXFUSE_STATE_DIR` if set and non-empty, else [`default_state_dir`].
pub fn state_dir_from_env() -> Option<PathBuf> {
    match std::env::var_os(STATE_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => default_state_dir(),
    }
}
