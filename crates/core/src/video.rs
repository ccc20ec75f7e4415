//! Judging a local video before it is uploaded (Omni's reference videos): its container by
//! magic bytes, its duration and dimensions from the container's header, and its size, against
//! the capability table's media-upload rules. (Omni's limits on a request's videos, each and
//! together, are `crate::omni::check_video_lengths`'s, fed the lengths read here.)
//!
//! Pure: the caller opens the file (the transport before an upload, the facade for offline
//! checks) or holds the bytes (the sandbox) and hands over a `Read + Seek`; the headers are read
//! by well-kept demuxers (`mp4` for ISO-BMFF and QuickTime, `matroska-demuxer` for WebM and
//! Matroska), never by hand. Every video rule comes from third parties (fusion-api.md §10), so
//! the table makes them warnings: only a file that is no video at all is refused.

use std::io::{Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::caps::{Limit, Policy};
use crate::{CAPABILITIES, Diagnostic, Severity};

/// How many leading bytes [`VideoFormat::sniff`] needs.
pub const SNIFF_BYTES: usize = 64;

/// A video container the vendor accepts (mp4, mov, webm) or one close to it (Matroska).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoFormat {
    /// ISO base media file (`ftyp` of an MP4 brand).
    Mp4,
    /// QuickTime (`ftyp` brand `qt  `, or an old file that starts with its `moov`/`mdat`).
    QuickTime,
    /// WebM (EBML with DocType `webm`).
    Webm,
    /// Matroska (EBML with DocType `matroska`): WebM's parent format, not on the vendor's list.
    Matroska,
}

/// Top-level atoms an old QuickTime file (one without `ftyp`) may start with.
const QUICKTIME_FIRST_ATOMS: [&[u8; 4]; 6] = [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"];
/// The EBML magic every Matroska/WebM file starts with.
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

impl VideoFormat {
    /// Recognises the container from the first bytes of the file ([`SNIFF_BYTES`] suffice).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&EBML_MAGIC) {
            // The DocType sits in the EBML header, within the first few dozen bytes.
            let matroska = head.windows(8).any(|w| w == b"matroska");
            return Some(if matroska {
                VideoFormat::Matroska
            } else {
                VideoFormat::Webm
            });
        }
        let atom = head.get(4..8)?;
        if atom == b"ftyp" {
            let brand = head.get(8..12)?;
            return Some(if brand == b"qt  " {
                VideoFormat::QuickTime
            } else {
                VideoFormat::Mp4
            });
        }
        QUICKTIME_FIRST_ATOMS
            .iter()
            .any(|a| atom == *a)
            .then_some(VideoFormat::QuickTime)
    }

    /// The MIME type the upload declares.
    pub fn mime(self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "video/mp4",
            VideoFormat::QuickTime => "video/quicktime",
            VideoFormat::Webm => "video/webm",
            VideoFormat::Matroska => "video/x-matroska",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::QuickTime => "mov",
            VideoFormat::Webm => "webm",
            VideoFormat::Matroska => "mkv",
        }
    }

    /// Whether `ext` (lower case, no dot) is a usual extension of this container. ISO-BMFF and
    /// QuickTime are one family: players read either under either name.
    pub fn matches_extension(self, ext: &str) -> bool {
        match self {
            VideoFormat::Mp4 | VideoFormat::QuickTime => {
                matches!(ext, "mp4" | "m4v" | "mov" | "qt")
            }
            VideoFormat::Webm => ext == "webm",
            VideoFormat::Matroska => matches!(ext, "mkv" | "webm"),
        }
    }
}

/// What a container's header says about the video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VideoHeader {
    /// The container.
    pub format: VideoFormat,
    /// Length in milliseconds, when the header states it.
    pub duration_ms: Option<u64>,
    /// Width in pixels of the first video track, when known.
    pub width: Option<u32>,
    /// Height in pixels of the first video track, when known.
    pub height: Option<u32>,
}

impl VideoHeader {
    /// The length in seconds, for messages and estimates.
    pub fn seconds(&self) -> Option<f64> {
        self.duration_ms.map(|ms| ms as f64 / 1000.0)
    }
}

/// The video rules of the capability table, as this module applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoRules {
    /// Lower-case extensions of the containers the vendor lists.
    pub extensions: &'static [&'static str],
    /// A file whose extension does not match its content (or is not listed).
    pub extension: Policy,
    /// Largest file in bytes, one bound per source (they disagree).
    pub max_bytes: &'static [Limit],
    /// Longest video an upload takes, in seconds.
    pub max_seconds: Limit,
    /// Longest side in pixels.
    pub max_side_px: Limit,
}

/// The capability table's media-upload rules (its `omni.upload` section).
pub fn rules() -> VideoRules {
    let omni = &CAPABILITIES.omni;
    VideoRules {
        extensions: omni.upload.extensions,
        extension: omni.upload.extension,
        max_bytes: omni.upload.max_bytes,
        max_seconds: omni.upload.max_seconds,
        max_side_px: omni.upload.max_side_px,
    }
}

/// One thing wrong with a local video file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VideoProblem {
    /// Whether it blocks the upload.
    pub severity: Severity,
    /// Stable diagnostic code (`docs/diagnostics.md`).
    pub code: &'static str,
    /// What is wrong and what to do, without the file's name.
    pub message: String,
}

impl VideoProblem {
    fn new(severity: Severity, code: &'static str, message: String) -> Self {
        VideoProblem {
            severity,
            code,
            message,
        }
    }

    fn of(limit: &Limit, code: &'static str, message: String) -> Self {
        Self::new(limit.severity, code, message)
    }

    /// Whether it blocks the upload.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The file does not exist.
    pub fn not_found() -> Self {
        Self::new(
            Severity::Error,
            "video_not_found",
            "no such file (paths in a job file are relative to the job file)".into(),
        )
    }

    /// The file exists but cannot be read (`reason` says why), or is not a regular file.
    pub fn unreadable(reason: impl std::fmt::Display) -> Self {
        Self::new(
            Severity::Error,
            "video_unreadable",
            format!("cannot be read: {reason}"),
        )
    }

    /// The problem as a diagnostic at `pointer`, naming the file as `shown`.
    pub fn to_diagnostic(&self, pointer: impl Into<String>, shown: &str) -> Diagnostic {
        Diagnostic::new(
            self.severity,
            self.code,
            pointer,
            format!("video \"{shown}\": {}", self.message),
        )
    }
}

/// What reading a video found: its header when it is a video at all, and every problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// `None` when the file is not a video (then `problems` holds the error).
    pub header: Option<VideoHeader>,
    /// Everything worth saying, errors first.
    pub problems: Vec<VideoProblem>,
}

impl Inspection {
    /// The first problem that blocks the upload.
    pub fn error(&self) -> Option<&VideoProblem> {
        self.problems.iter().find(|p| p.is_error())
    }

    /// The verdict every uploader acts on: the header and the warnings of a video the rules
    /// let through, else the problem that blocks it.
    pub fn verdict(self) -> Result<(VideoHeader, Vec<VideoProblem>), VideoProblem> {
        if let Some(problem) = self.error() {
            return Err(problem.clone());
        }
        match self.header {
            Some(header) => Ok((header, self.problems)),
            // `inspect` gives no header only with an error; kept total all the same.
            None => Err(VideoProblem::new(
                Severity::Error,
                "video_not_a_video",
                "cannot be measured".into(),
            )),
        }
    }
}

/// Reads the video in `reader` (`bytes` long; `extension` is the file's, lower or upper case,
/// when it has one) and judges it against `rules`: container by magic bytes, then size,
/// duration and dimensions from the header. A file that is no video at all is the only error;
/// a video whose header cannot be read is a warning (the vendor may still take it).
pub fn inspect<R: Read + Seek>(
    mut reader: R,
    bytes: u64,
    extension: Option<&str>,
    rules: &VideoRules,
) -> std::io::Result<Inspection> {
    let mut head = [0u8; SNIFF_BYTES];
    let n = crate::prefix::read_up_to(&mut reader, &mut head)?;
    let Some(format) = VideoFormat::sniff(&head[..n]) else {
        return Ok(Inspection {
            header: None,
            problems: vec![not_a_video(n == 0, rules)],
        });
    };
    reader.seek(SeekFrom::Start(0))?;
    let mut problems = Vec::new();
    problems.extend(judge_size(bytes, rules));
    if format == VideoFormat::Matroska {
        problems.push(VideoProblem::new(
            Severity::Warning,
            "video_format_unlisted",
            format!(
                "a Matroska file; the vendor lists {} (remux it to webm or mp4 if it is refused)",
                rules.extensions.join(", ")
            ),
        ));
    }
    if let Some(ext) = extension.map(str::to_ascii_lowercase)
        && !format.matches_extension(&ext)
    {
        problems.push(VideoProblem::new(
            rules.extension.severity,
            "video_extension_mismatch",
            format!(
                "the extension .{ext} does not match the content ({}); it is uploaded as {}",
                format.extension(),
                format.mime()
            ),
        ));
    }
    let header = match read_header(reader, bytes, format) {
        Ok(header) => header,
        Err(reason) => {
            problems.push(VideoProblem::new(
                Severity::Warning,
                "video_header_unreadable",
                format!(
                    "looks like {} but its header cannot be read ({reason}), so its length and size are unknown; the file may be damaged",
                    format.extension()
                ),
            ));
            VideoHeader {
                format,
                duration_ms: None,
                width: None,
                height: None,
            }
        }
    };
    problems.extend(judge_header(&header, rules));
    problems.sort_by_key(|p| p.severity);
    Ok(Inspection {
        header: Some(header),
        problems,
    })
}

fn not_a_video(empty: bool, rules: &VideoRules) -> VideoProblem {
    let what = if empty { "an empty file, " } else { "" };
    VideoProblem::new(
        Severity::Error,
        "video_not_a_video",
        format!(
            "{what}not a video (by its first bytes, neither ISO-BMFF/QuickTime nor WebM/Matroska); accepted: {}",
            rules.extensions.join(", ")
        ),
    )
}

/// A file of `bytes` bytes against the size bounds: the largest bound it exceeds decides.
pub fn judge_size(bytes: u64, rules: &VideoRules) -> Option<VideoProblem> {
    let limit = largest_exceeded(rules.max_bytes, bytes)?;
    let others: Vec<String> = rules
        .max_bytes
        .iter()
        .filter(|l| l.value != limit.value)
        .map(|l| mb(l.value))
        .collect();
    let mut message = format!(
        "{bytes} bytes is over {} ({} says so); shrink or re-encode the video",
        mb(limit.value),
        limit.source
    );
    if !others.is_empty() {
        message.push_str(&format!(
            " (sources disagree: other limits are {})",
            others.join(", ")
        ));
    }
    Some(VideoProblem::of(limit, "video_too_large", message))
}

/// The header's length and sides against the upload's bounds.
pub fn judge_header(header: &VideoHeader, rules: &VideoRules) -> Vec<VideoProblem> {
    let mut problems = Vec::new();
    if let Some(ms) = header.duration_ms
        && ms > rules.max_seconds.value * 1000
    {
        problems.push(VideoProblem::of(
            &rules.max_seconds,
            "video_too_long",
            format!(
                "{} s is longer than the {} s an upload takes; trim it",
                secs(ms),
                rules.max_seconds.value
            ),
        ));
    }
    if let (Some(w), Some(h)) = (header.width, header.height)
        && u64::from(w.max(h)) > rules.max_side_px.value
    {
        problems.push(VideoProblem::of(
            &rules.max_side_px,
            "video_too_big",
            format!(
                "{w}×{h} px exceeds {} px on its longest side; scale it down",
                rules.max_side_px.value
            ),
        ));
    }
    problems
}

/// The largest of `limits` that `value` exceeds, an error bound before a warning of the same
/// value.
fn largest_exceeded(limits: &[Limit], value: u64) -> Option<&Limit> {
    let mut sorted: Vec<&Limit> = limits.iter().collect();
    sorted.sort_by_key(|l| (std::cmp::Reverse(l.value), l.severity));
    sorted.into_iter().find(|l| value > l.value)
}

fn mb(bytes: u64) -> String {
    format!("{} MB", bytes / (1024 * 1024))
}

fn secs(ms: u64) -> String {
    let s = format!("{:.2}", ms as f64 / 1000.0);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The container's header, by the demuxer of its family. A demuxer that panics on a damaged
/// file is contained: a file must never take the process down.
fn read_header<R: Read + Seek>(
    reader: R,
    bytes: u64,
    format: VideoFormat,
) -> Result<VideoHeader, String> {
    let read = AssertUnwindSafe(move || match format {
        VideoFormat::Mp4 | VideoFormat::QuickTime => iso_bmff(reader, bytes, format),
        VideoFormat::Webm | VideoFormat::Matroska => matroska(reader, format),
    });
    catch_unwind(read).unwrap_or_else(|_| Err("the demuxer gave up on it".to_owned()))
}

fn iso_bmff<R: Read + Seek>(
    reader: R,
    bytes: u64,
    format: VideoFormat,
) -> Result<VideoHeader, String> {
    let mp4 = mp4::Mp4Reader::read_header(reader, bytes).map_err(|e| e.to_string())?;
    let ms = |duration: u64, timescale: u32| {
        (timescale > 0 && duration > 0)
            .then(|| u64::try_from(u128::from(duration) * 1000 / u128::from(timescale)).ok())
            .flatten()
    };
    let mvhd = &mp4.moov.mvhd;
    let fragments = mp4
        .moov
        .mvex
        .as_ref()
        .and_then(|mvex| mvex.mehd.as_ref())
        .map(|mehd| mehd.fragment_duration);
    let video = mp4
        .tracks()
        .values()
        .filter(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video)))
        .min_by_key(|t| t.track_id());
    let track_ms = video.and_then(|t| ms(t.trak.mdia.mdhd.duration, t.trak.mdia.mdhd.timescale));
    let duration_ms = ms(mvhd.duration, mvhd.timescale)
        .or_else(|| fragments.and_then(|d| ms(d, mvhd.timescale)))
        .or(track_ms);
    let side = |v: u16| (v > 0).then_some(u32::from(v));
    Ok(VideoHeader {
        format,
        duration_ms,
        width: video.and_then(|t| side(t.width())),
        height: video.and_then(|t| side(t.height())),
    })
}

fn matroska<R: Read + Seek>(reader: R, format: VideoFormat) -> Result<VideoHeader, String> {
    use matroska_demuxer::{Frame, MatroskaFile, TrackType};
    let mut mkv = MatroskaFile::open(reader).map_err(|e| e.to_string())?;
    let scale_ns = mkv.info().timestamp_scale().get() as f64;
    let video = mkv
        .tracks()
        .iter()
        .find(|t| t.track_type() == TrackType::Video);
    let (width, height) = video
        .and_then(|t| t.video())
        .map(|v| {
            (
                u32::try_from(v.pixel_width().get()).ok(),
                u32::try_from(v.pixel_height().get()).ok(),
            )
        })
        .unwrap_or_default();
    let frame_ns = video
        .and_then(|t| t.default_duration())
        .map_or(0.0, |d| d.get() as f64);
    let to_ms = |ticks: f64| {
        let ms = ticks * scale_ns / 1e6;
        (ms.is_finite() && ms > 0.0 && ms < u64::MAX as f64).then_some(ms.round() as u64)
    };
    let duration_ms = match mkv.info().duration() {
        Some(ticks) => to_ms(ticks),
        // A recording that was never finalised (a browser's MediaRecorder, a pipe) has no
        // Duration element: the last frame's timestamp says it, at the cost of one read through.
        None => {
            let mut frame = Frame::default();
            let mut last = None;
            while mkv.next_frame(&mut frame).map_err(|e| e.to_string())? {
                last = last.max(Some(frame.timestamp));
            }
            last.and_then(|t| to_ms(t as f64 + frame_ns / scale_ns))
        }
    };
    Ok(VideoHeader {
        format,
        duration_ms,
        width,
        height,
    })
}
