//! Checks an image before it is uploaded, so a bad file fails locally with a clear reason
//! instead of costing a round trip and a vague 5000xx code. Only the header is read.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Seek};
use std::path::Path;

use pixfuse_core::image::{
    ImageProblem, SNIFF_BYTES, judge_dimensions, judge_extension, judge_format, judge_size,
};

use crate::error::TransportError;

pub use pixfuse_core::image::ImageFormat;

/// What preflight learned about an image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// What the content is (whatever the extension says).
    pub format: ImageFormat,
    /// File size in bytes.
    pub bytes: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Problems that do not block the upload (a side beyond the older 4000 px limit, an
    /// extension that does not match the content).
    pub warnings: Vec<String>,
}

/// Reads the image's magic bytes and header: format png/jpeg/webp, size within the upload
/// limit, dimensions within the pixel limits (the judgments are `pixfuse_core::image`'s, the
/// limits `CAPABILITIES.upload`'s). The first blocking problem fails it; the others become
/// [`ImageInfo::warnings`].
pub fn preflight_image(path: &Path) -> Result<ImageInfo, TransportError> {
    let Inspection { info, problems } = inspect(path)?;
    if let Some(p) = problems.iter().find(|p| p.is_error()) {
        return Err(TransportError::Image {
            path: path.to_owned(),
            problem: p.message.clone(),
        });
    }
    let mut info = info.ok_or_else(|| TransportError::Image {
        path: path.to_owned(),
        problem: "cannot be measured".into(),
    })?;
    info.warnings = problems.into_iter().map(|p| p.message).collect();
    Ok(info)
}

/// Every problem with the local image at `path`, a missing or unreadable file included, for
/// offline checks (`validate`, `estimate`, `--dry-run`): the same judgments as
/// [`preflight_image`], as data. Empty when the upload would accept it without a word.
pub fn image_problems(path: &Path) -> Vec<ImageProblem> {
    match inspect(path) {
        Ok(inspection) => inspection.problems,
        Err(TransportError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
            vec![ImageProblem::not_found()]
        }
        Err(TransportError::Io { source, .. }) => vec![ImageProblem::unreadable(source)],
        Err(other) => vec![ImageProblem::unreadable(other)],
    }
}

/// What reading an image found: its facts when it could be measured, and its problems (the
/// reading stops at the first blocking one).
struct Inspection {
    info: Option<ImageInfo>,
    problems: Vec<ImageProblem>,
}

fn inspect(path: &Path) -> Result<Inspection, TransportError> {
    let io = |action, source| TransportError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let stop = |problem: ImageProblem| {
        Ok(Inspection {
            info: None,
            problems: vec![problem],
        })
    };
    let mut file = File::open(path).map_err(|e| io("cannot open", e))?;
    let meta = file.metadata().map_err(|e| io("cannot inspect", e))?;
    if !meta.is_file() {
        return stop(ImageProblem::unreadable(
            "not a regular file; give the path of an image",
        ));
    }
    let bytes = meta.len();
    if let Some(p) = judge_size(bytes).filter(ImageProblem::is_error) {
        return stop(p);
    }
    let mut head = [0u8; SNIFF_BYTES];
    let n =
        pixfuse_core::prefix::read_up_to(&mut file, &mut head).map_err(|e| io("cannot read", e))?;
    let format = match judge_format(&head[..n]) {
        Ok(format) => format,
        Err(p) => return stop(p),
    };
    file.rewind().map_err(|e| io("cannot read", e))?;
    let size = match imagesize::reader_size(BufReader::new(file)) {
        Ok(size) => size,
        Err(e) => return stop(ImageProblem::damaged(format, e)),
    };
    let (width, height) = (size.width as u64, size.height as u64);
    let mut problems = Vec::new();
    problems.extend(judge_dimensions(width, height));
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        problems.extend(judge_extension(format, ext));
    }
    Ok(Inspection {
        info: Some(ImageInfo {
            format,
            bytes,
            width: u32::try_from(width).unwrap_or(u32::MAX),
            height: u32::try_from(height).unwrap_or(u32::MAX),
            warnings: Vec::new(),
        }),
        problems,
    })
}
