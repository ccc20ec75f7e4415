//! One problem found in a request: what, where, how bad, and how to fix it.

use std::ops::Range;

use crate::Severity;

/// A problem in a request, located by an RFC 6901 JSON pointer (and a byte span for the prompt).
///
/// `code` is stable snake_case (every code is listed in `docs/diagnostics.md`); `message` is
/// plain English naming the allowed values; `suggestion` is the nearest allowed value or the
/// edit to make, when there is one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// Whether it blocks sending.
    pub severity: Severity,
    /// Stable snake_case code (docs/diagnostics.md lists them all).
    pub code: &'static str,
    /// RFC 6901 pointer into the request (`/duration`, `/image_references/2/ref_name`);
    /// `""` for the whole document.
    pub path: String,
    /// What is wrong, naming what is allowed.
    pub message: String,
    /// The nearest allowed value or the edit to make, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
    /// Byte span into the prompt, for prompt diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    /// A diagnostic without suggestion or span.
    pub fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            code,
            path: path.into(),
            message: message.into(),
            suggestion: None,
            span: None,
        }
    }

    /// An error (blocks sending).
    pub fn error(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, code, path, message)
    }

    /// A warning (informs, never blocks).
    pub fn warning(
        code: &'static str,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, path, message)
    }

    /// Adds a suggestion.
    #[must_use]
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// Adds a byte span into the prompt.
    #[must_use]
    pub fn with_span(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    /// Whether this blocks sending.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Escapes one RFC 6901 reference token (`~` → `~0`, `/` → `~1`).
pub fn escape_pointer_token(token: &str) -> std::borrow::Cow<'_, str> {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1").into()
    } else {
        token.into()
    }
}

/// `/image_references/{index}` and below.
pub(crate) fn ref_path(index: usize, field: Option<&str>) -> String {
    match field {
        Some(field) => format!("/image_references/{index}/{}", escape_pointer_token(field)),
        None => format!("/image_references/{index}"),
    }
}

/// `/video_references/{index}` or `/video_references/{index}/{field}`.
pub(crate) fn video_path(index: usize, field: Option<&str>) -> String {
    match field {
        Some(field) => format!("/video_references/{index}/{}", escape_pointer_token(field)),
        None => format!("/video_references/{index}"),
    }
}

/// Every diagnostic code with its meaning: the stable catalogue (`docs/diagnostics.md` lists the
/// same codes; a test keeps them in step).
pub const CODES: &[(&str, &str)] = &[
    (
        "json_syntax",
        "the bytes are not valid JSON (the message gives line and column)",
    ),
    (
        "wrong_type",
        "a field has the wrong JSON type (a string where a number belongs, a negative img_id, …)",
    ),
    ("missing_field", "a required field is absent"),
    (
        "line_too_long",
        "a line of a JSONL input longer than the line limit; it is skipped unread",
    ),
    (
        "unknown_field",
        "a field the spec does not know (top level: sent as written; inside a reference: not sent)",
    ),
    ("unknown_model", "the model is not in the capability table"),
    ("no_images", "image_references is empty"),
    ("too_many_images", "more references than the model accepts"),
    (
        "ref_type_unknown",
        "a reference type other than subject or background",
    ),
    ("ref_name_empty", "an empty ref_name"),
    ("ref_name_too_long", "a ref_name longer than the byte limit"),
    (
        "ref_name_duplicate",
        "a ref_name already used by an earlier reference",
    ),
    (
        "ref_name_invalid_char",
        "a ref_name with whitespace or @, which no mention can name",
    ),
    (
        "image_source_conflict",
        "a reference with both img_id and image",
    ),
    (
        "image_source_missing",
        "a reference with neither img_id nor image (or an empty image)",
    ),
    (
        "image_extension_not_allowed",
        "an image whose extension the upload does not accept",
    ),
    (
        "image_url_not_https",
        "an image URL with a scheme other than https",
    ),
    ("image_not_found", "a local image file that does not exist"),
    (
        "image_unreadable",
        "a local image that cannot be read, or is not a regular file",
    ),
    (
        "image_not_an_image",
        "a local file that is not a png, jpeg or webp image by its magic bytes",
    ),
    (
        "image_damaged",
        "a local image whose header cannot be parsed",
    ),
    (
        "image_too_large",
        "a local image over the upload's byte limit",
    ),
    (
        "image_too_big",
        "a local image whose longest side exceeds a pixel bound (per bound)",
    ),
    (
        "image_extension_mismatch",
        "a local image whose extension does not match its content",
    ),
    (
        "video_not_found",
        "a local reference video file that does not exist",
    ),
    (
        "video_unreadable",
        "a local reference video that cannot be read, or is not a regular file",
    ),
    (
        "video_not_a_video",
        "a local file given as a video that is no mp4/mov or webm/mkv container by its first bytes (or is empty)",
    ),
    (
        "video_header_unreadable",
        "a local video whose container header cannot be read (length and sides unknown)",
    ),
    (
        "video_too_large",
        "a local video over a size bound of the media upload (the sources disagree)",
    ),
    (
        "video_too_long",
        "a local video longer than the media upload takes",
    ),
    (
        "video_too_big",
        "a local video whose longest side exceeds the media upload's bound",
    ),
    (
        "video_format_unlisted",
        "a local Matroska video: the vendor lists mp4, mov and webm",
    ),
    (
        "video_extension_mismatch",
        "a local video whose extension does not match its container",
    ),
    ("prompt_empty", "an empty prompt"),
    (
        "prompt_too_long",
        "a prompt longer than the model's bound (a warning or an error, per bound)",
    ),
    (
        "mention_unknown",
        "@name matches no ref_name (exact, case-sensitive)",
    ),
    (
        "mention_no_space",
        "@name followed directly by punctuation instead of whitespace",
    ),
    (
        "mention_at_end",
        "@name ends the prompt, so no space can follow it",
    ),
    ("ref_unmentioned", "a reference the prompt never mentions"),
    ("duration_not_allowed", "a duration the model does not make"),
    ("quality_not_allowed", "a quality the model does not offer"),
    (
        "quality_duration_forbidden",
        "a quality the model refuses at this duration",
    ),
    (
        "aspect_ratio_not_allowed",
        "an aspect ratio the model does not offer",
    ),
    (
        "audio_not_supported",
        "generate_audio_switch on a model without audio",
    ),
    ("seed_out_of_range", "a seed outside 0..=2147483647"),
    (
        "video_source_conflict",
        "a video reference with more than one of video_media_id, source_video_id and video",
    ),
    (
        "video_source_missing",
        "a video reference with none of video_media_id, source_video_id and video (or an empty video)",
    ),
    (
        "video_url_not_https",
        "a video URL with a scheme other than https",
    ),
    (
        "video_extension_not_allowed",
        "a video whose extension the media upload is not known to accept",
    ),
    (
        "reference_mode_unknown",
        "a reference_mode other than \"omni\"",
    ),
    (
        "omni_model_not_supported",
        "Omni mode on a model not known to take it (only v6)",
    ),
    (
        "omni_without_videos",
        "reference_mode omni without any video reference",
    ),
    (
        "omni_too_many_images",
        "more reference images than Omni mode takes",
    ),
    (
        "omni_too_many_videos",
        "more reference videos than Omni mode takes",
    ),
    (
        "omni_duration_not_zero",
        "a duration other than 0 in Omni mode",
    ),
    (
        "omni_aspect_ratio_disputed",
        "aspect_ratio auto in Omni mode, which one source rejects",
    ),
    (
        "omni_video_too_long",
        "a reference video longer than Omni mode takes",
    ),
    (
        "omni_videos_too_long",
        "reference videos longer together than Omni mode takes",
    ),
    (
        "looks_like_omni",
        "an Omni-only feature (video_references, duration 0, aspect_ratio auto) without reference_mode omni",
    ),
    (
        "negative_prompt_too_long",
        "a negative prompt longer than the third-party limit",
    ),
];
