//! Judging a local image before it is uploaded: its format by magic bytes, its size and its
//! longest side against the capability table's upload rules. Pure: the caller reads the file
//! (the transport before an upload, the facade for `validate`, `estimate` and `--dry-run`) and
//! hands over what it found; the same judgments serve both, so a file `validate` calls valid is
//! one the upload accepts.

use crate::{CAPABILITIES, Diagnostic, Severity};

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

/// How many leading bytes [`ImageFormat::sniff`] needs.
pub const SNIFF_BYTES: usize = 12;

impl ImageFormat {
    /// Recognises the format from the first bytes of the file ([`SNIFF_BYTES`] suffice).
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

    /// Whether `ext` (lower case, no dot) is a spelling of this format's extension.
    pub fn matches_extension(self, ext: &str) -> bool {
        match self {
            ImageFormat::Jpeg => ext == "jpg" || ext == "jpeg",
            other => ext == other.extension(),
        }
    }
}

/// One thing wrong with a local image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageProblem {
    /// Whether it blocks the upload.
    pub severity: Severity,
    /// Stable diagnostic code (`docs/diagnostics.md`).
    pub code: &'static str,
    /// What is wrong and what to do, without the file's name.
    pub message: String,
}

impl ImageProblem {
    fn error(code: &'static str, message: String) -> Self {
        ImageProblem {
            severity: Severity::Error,
            code,
            message,
        }
    }

    /// Whether it blocks the upload.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The file does not exist.
    pub fn not_found() -> Self {
        Self::error(
            "image_not_found",
            "no such file (paths in a job file are relative to the job file)".into(),
        )
    }

    /// The file exists but cannot be read (`reason` says why), or is not a regular file.
    pub fn unreadable(reason: impl std::fmt::Display) -> Self {
        Self::error("image_unreadable", format!("cannot be read: {reason}"))
    }

    /// The file's header cannot be parsed for its dimensions.
    pub fn damaged(format: ImageFormat, reason: impl std::fmt::Display) -> Self {
        Self::error(
            "image_damaged",
            format!(
                "cannot read the {} header ({reason}); the file may be damaged",
                format.extension()
            ),
        )
    }

    /// The problem as a diagnostic at `pointer`, naming the file as `shown`.
    pub fn to_diagnostic(&self, pointer: impl Into<String>, shown: &str) -> Diagnostic {
        Diagnostic::new(
            self.severity,
            self.code,
            pointer,
            format!("image \"{shown}\": {}", self.message),
        )
    }
}

/// A file of `bytes` bytes against the upload limit.
pub fn judge_size(bytes: u64) -> Option<ImageProblem> {
    let limit = CAPABILITIES.upload.max_bytes;
    (bytes > limit.value).then(|| ImageProblem {
        severity: limit.severity,
        code: "image_too_large",
        message: format!(
            "{bytes} bytes is over the upload limit of {} bytes ({} MB); shrink or re-encode the image",
            limit.value,
            limit.value / (1024 * 1024)
        ),
    })
}

/// The file's first bytes: a format the upload accepts, or the problem.
pub fn judge_format(head: &[u8]) -> Result<ImageFormat, ImageProblem> {
    ImageFormat::sniff(head).ok_or_else(|| {
        let what = if head.is_empty() {
            "an empty file, "
        } else {
            ""
        };
        ImageProblem::error(
            "image_not_an_image",
            format!(
                "{what}not a png, jpeg or webp image (by its first bytes); accepted extensions: {}",
                CAPABILITIES.upload.extensions.join(", ")
            ),
        )
    })
}

/// An image of `width` × `height` pixels against the longest-side bounds: the largest bound it
/// exceeds decides (an error bound before a warning one of the same value).
pub fn judge_dimensions(width: u64, height: u64) -> Option<ImageProblem> {
    let longest = width.max(height);
    let mut limits: Vec<_> = CAPABILITIES.upload.max_side_px.iter().collect();
    limits.sort_by_key(|l| (std::cmp::Reverse(l.value), l.severity));
    let limit = limits.into_iter().find(|l| longest > l.value)?;
    let mut message = format!(
        "{width}×{height} px exceeds {} px on its longest side; scale the image down",
        limit.value
    );
    if limit.severity == Severity::Warning {
        message.push_str(" (older vendor pages limit images to that)");
    }
    Some(ImageProblem {
        severity: limit.severity,
        code: "image_too_big",
        message,
    })
}

/// The file's extension (`ext`, any case, no dot) against its content.
pub fn judge_extension(format: ImageFormat, ext: &str) -> Option<ImageProblem> {
    let ext = ext.to_ascii_lowercase();
    (!format.matches_extension(&ext)).then(|| ImageProblem {
        severity: Severity::Warning,
        code: "image_extension_mismatch",
        message: format!(
            "the extension .{ext} does not match the content ({}); it is uploaded as {}",
            format.extension(),
            format.mime()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_three_formats_by_their_magic() {
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::sniff(b"GIF89a"), None);
        let text = judge_format(b"just some text").unwrap_err();
        assert_eq!(text.code, "image_not_an_image");
        assert!(
            judge_format(b"")
                .unwrap_err()
                .message
                .starts_with("an empty file")
        );
    }

    #[test]
    fn limits_come_from_the_table() {
        let max = CAPABILITIES.upload.max_bytes.value;
        assert_eq!(judge_size(max), None);
        assert_eq!(judge_size(max + 1).map(|p| p.code), Some("image_too_large"));
        let strictest_error = CAPABILITIES
            .upload
            .max_side_px
            .iter()
            .filter(|l| l.severity == Severity::Error)
            .map(|l| l.value)
            .min()
            .unwrap();
        let p = judge_dimensions(strictest_error + 1, 10).unwrap();
        assert!(p.is_error(), "{p:?}");
        assert_eq!(judge_dimensions(10, 10), None);
        assert_eq!(judge_extension(ImageFormat::Jpeg, "JPEG"), None);
        assert_eq!(
            judge_extension(ImageFormat::Png, "jpg").map(|p| p.severity),
            Some(Severity::Warning)
        );
    }
}
