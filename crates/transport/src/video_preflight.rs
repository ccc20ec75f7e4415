//! Checks a reference video before it is uploaded, so a file that is no video at all fails
//! locally with a clear reason instead of costing a 100 MB round trip. Only the container's
//! header is read (a WebM without a stated duration is read through once, in constant memory).

use std::fs::File;
use std::io::{BufReader, ErrorKind};
use std::path::Path;

use pixfuse_core::video::{self, Inspection, VideoFormat, VideoHeader, VideoProblem};

use crate::error::TransportError;

/// What preflight learned about a video.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VideoInfo {
    /// The container (whatever the extension says).
    pub format: VideoFormat,
    /// File size in bytes.
    pub bytes: u64,
    /// Length in milliseconds, when the header states it.
    pub duration_ms: Option<u64>,
    /// Width in pixels, when known.
    pub width: Option<u32>,
    /// Height in pixels, when known.
    pub height: Option<u32>,
    /// Problems that do not block the upload (every rule but "is a video" is a warning: the
    /// sources disagree or are third parties).
    pub warnings: Vec<VideoProblem>,
}

/// Reads the video's magic bytes and header and judges them with `pixfuse_core::video` against
/// the capability table's video rules. Only a file that is not a video (or cannot be read)
/// fails; every other problem becomes one of [`VideoInfo::warnings`].
pub fn preflight_video(path: &Path) -> Result<VideoInfo, TransportError> {
    let (bytes, inspection) = inspect(path)?;
    let refuse = |problem: String| TransportError::Video {
        path: path.to_owned(),
        problem,
    };
    let (
        VideoHeader {
            format,
            duration_ms,
            width,
            height,
        },
        warnings,
    ) = inspection.verdict().map_err(|p| refuse(p.message))?;
    Ok(VideoInfo {
        format,
        bytes,
        duration_ms,
        width,
        height,
        warnings,
    })
}

/// Every problem with the local video at `path`, a missing or unreadable file included, for
/// offline checks (`validate`, `estimate`, `--dry-run`), with the header when there is one: the
/// same judgments as [`preflight_video`], as data.
pub fn video_problems(path: &Path) -> (Option<VideoHeader>, Vec<VideoProblem>) {
    match inspect(path) {
        Ok((_, inspection)) => (inspection.header, inspection.problems),
        Err(TransportError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            (None, vec![VideoProblem::not_found()])
        }
        Err(TransportError::Io { source, .. }) => (None, vec![VideoProblem::unreadable(source)]),
        Err(other) => (None, vec![VideoProblem::unreadable(other)]),
    }
}

fn inspect(path: &Path) -> Result<(u64, Inspection), TransportError> {
    let io = |action, source| TransportError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|e| io("cannot open", e))?;
    let meta = file.metadata().map_err(|e| io("cannot inspect", e))?;
    if !meta.is_file() {
        return Ok((
            0,
            Inspection {
                header: None,
                problems: vec![VideoProblem::unreadable(
                    "not a regular file; give the path of a video",
                )],
            },
        ));
    }
    let bytes = meta.len();
    let extension = path.extension().and_then(|e| e.to_str());
    let inspection = video::inspect(BufReader::new(file), bytes, extension, &video::rules())
        .map_err(|e| io("cannot read", e))?;
    Ok((bytes, inspection))
}
