//! Checks an image before it is uploaded, so a bad file fails locally with a clear reason
//! instead of costing a round trip and a vague 5000xx code. Only the header is read.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use pixfuse_core::{CAPABILITIES, Severity};

use crate::error::TransportError;

/// An image format the vendor accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (`.jpg` or `.jpeg`).
    Jpeg,
    /// WebP.
    Webp,
}

impl ImageFormat {
    /// Recognises the format from the first bytes of the file.
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageFormat::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageFormat::Jpeg)
        } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
            Some(ImageFormat::Webp)
        } else {
            None
        }
    }

    /// The MIME type the upload declares.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Webp => "webp",
        }
    }

    fn matches_extension(self, ext: &str) -> bool {
        match self {
            ImageFormat::Jpeg => ext == "jpg" || ext == "jpeg",
            other => ext == other.extension(),
        }
    }
}

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
/// limit, dimensions within the pixel limits (all limits from `CAPABILITIES.upload`).
pub fn preflight_image(path: &Path) -> Result<ImageInfo, TransportError> {
    let rules = &CAPABILITIES.upload;
    let problem = |problem: String| TransportError::Image {
        path: path.to_owned(),
        problem,
    };
    let io = |action, source| TransportError::Io {
        action,
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(|e| io("cannot open", e))?;
    let meta = file.metadata().map_err(|e| io("cannot inspect", e))?;
    if !meta.is_file() {
        return Err(problem(
            "not a regular file; give the path of an image".into(),
        ));
    }
    let bytes = meta.len();
    if bytes > rules.max_bytes.value {
        return Err(problem(format!(
            "{} bytes is over the upload limit of {} bytes ({} MB); shrink or re-encode the image",
            bytes,
            rules.max_bytes.value,
            rules.max_bytes.value / (1024 * 1024)
        )));
    }
    let mut head = [0u8; 12];
    let n = read_up_to(&mut file, &mut head).map_err(|e| io("cannot read", e))?;
    let format = ImageFormat::sniff(&head[..n]).ok_or_else(|| {
        problem(format!(
            "not a png, jpeg or webp image (by its first bytes); accepted extensions: {}",
            rules.extensions.join(", ")
        ))
    })?;
    file.rewind().map_err(|e| io("cannot read", e))?;
    let size = imagesize::reader_size(BufReader::new(file)).map_err(|e| {
        problem(format!(
            "cannot read the {format:?} header ({e}); the file may be damaged"
        ))
    })?;
    let (width, height) = (size.width as u64, size.height as u64);
    let mut warnings = Vec::new();
    let longest = width.max(height);
    let mut limits: Vec<_> = rules.max_side_px.iter().collect();
    limits.sort_by_key(|l| std::cmp::Reverse(l.value));
    for limit in limits {
        if longest <= limit.value {
            continue;
        }
        let text = format!(
            "{width}×{height} px exceeds {} px on its longest side; scale the image down",
            limit.value
        );
        match limit.severity {
            Severity::Error => return Err(problem(text)),
            Severity::Warning => {
                warnings.push(format!("{text} (older vendor pages limit images to that)"))
            }
        }
        break;
    }
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        let ext = ext.to_ascii_lowercase();
        if !format.matches_extension(&ext) {
            warnings.push(format!(
                "the extension .{ext} does not match the content ({}); it is uploaded as {}",
                format.extension(),
                format.mime()
            ));
        }
    }
    Ok(ImageInfo {
        format,
        bytes,
        width: u32::try_from(width).unwrap_or(u32::MAX),
        height: u32::try_from(height).unwrap_or(u32::MAX),
        warnings,
    })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}
