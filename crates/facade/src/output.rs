//! Proving a video's destination writable before anything is paid for.

use std::path::Path;

use crate::error::Error;

/// Creates `output`'s directory, then creates and removes a temporary file in it. An existing
/// directory at `output` is refused (the video would be paid for and then could not be moved
/// into place).
pub(crate) fn prove_writable(output: &Path) -> Result<(), Error> {
    let refuse = |problem: String| Error::Destination {
        path: output.to_owned(),
        problem,
    };
    if output.is_dir() {
        return Err(refuse(
            "it is a directory; give a file name such as clip.mp4".to_owned(),
        ));
    }
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        refuse(format!(
            "cannot create its directory {}: {e}",
            dir.display()
        ))
    })?;
    tempfile::Builder::new()
        .prefix(".pixfuse-probe")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| refuse(format!("cannot create a file in {}: {e}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_or_an_unwritable_parent_is_refused_and_nothing_is_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        assert!(prove_writable(dir.path()).is_err());
        let nested = dir.path().join("a/b/clip.mp4");
        prove_writable(&nested).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("a/b")).unwrap().count(),
            0
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let locked = dir.path().join("locked");
            std::fs::create_dir(&locked).unwrap();
            std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
            // Root may write anyway; the check is only meaningful for others.
            let writable = tempfile::tempfile_in(&locked).is_ok();
            assert_eq!(prove_writable(&locked.join("clip.mp4")).is_ok(), writable);
        }
    }
}
