//! The job form of a request: like the vendor body, but each reference names its image either by
//! an uploaded `img_id` or by `image` (a local path or an https URL, uploaded later), and each
//! reference video (Omni mode) by `video_media_id`, `source_video_id` or `video` likewise.
//!
//! [`Job`], [`JobReference`] and [`JobVideoReference`], their serde code and [`KNOWN_FIELDS`]
//! are generated from `spec/job.schema.json`; only the sources ([`ImageSource`],
//! [`VideoSource`]) are written here. Unknown
//! top-level fields are kept verbatim in [`Job::extra`] and sent along: pixfuse warns about them
//! but never drops what the user wrote. Serializing a job writes the fields in the vendor's
//! documented order, and any journaled request reads back with `serde_json::from_str::<Job>`.

use serde::ser::SerializeMap;

pub use crate::generated::job::{Job, JobReference, JobVideoReference};

/// Where a reference's image comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageSource {
    /// Already uploaded: the vendor's image id.
    ImgId(u64),
    /// A local file (relative paths are relative to the job file; resolving them is the
    /// caller's business, core never touches the filesystem).
    Path(String),
    /// An `https://` URL.
    Url(String),
}

impl ImageSource {
    /// Reads the job file's `image` value: an https URL is a [`ImageSource::Url`], anything else
    /// a [`ImageSource::Path`] (validation reports `http://` and other schemes).
    pub fn from_image(image: impl Into<String>) -> Self {
        let image = image.into();
        if is_https_url(&image) {
            ImageSource::Url(image)
        } else {
            ImageSource::Path(image)
        }
    }

    /// The image id, once uploaded.
    pub fn img_id(&self) -> Option<u64> {
        match self {
            ImageSource::ImgId(id) => Some(*id),
            _ => None,
        }
    }

    /// The path or URL still to upload.
    pub fn image(&self) -> Option<&str> {
        match self {
            ImageSource::ImgId(_) => None,
            ImageSource::Path(s) | ImageSource::Url(s) => Some(s),
        }
    }
}

/// Whether `s` names an https URL (the scheme in any case) rather than a local path: the one
/// test the job form, the upload commands and the MCP tools share.
pub fn is_https_url(s: &str) -> bool {
    s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

/// Where a reference video comes from (Omni mode).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum VideoSource {
    /// Already uploaded: the media id of `POST /openapi/v2/media/upload`.
    MediaId(u64),
    /// An earlier generation: its `video_id`.
    SourceVideoId(u64),
    /// A local file (relative to the job file; core never touches the filesystem).
    Path(String),
    /// An `https://` URL.
    Url(String),
}

impl VideoSource {
    /// Reads the job file's `video` value: an https URL is a [`VideoSource::Url`], anything
    /// else a [`VideoSource::Path`] (validation reports `http://` and other schemes).
    pub fn from_video(video: impl Into<String>) -> Self {
        let video = video.into();
        if is_https_url(&video) {
            VideoSource::Url(video)
        } else {
            VideoSource::Path(video)
        }
    }

    /// Whether the request can name it as it is (a media id or an earlier generation).
    pub fn is_resolved(&self) -> bool {
        matches!(
            self,
            VideoSource::MediaId(_) | VideoSource::SourceVideoId(_)
        )
    }

    /// The media id, once uploaded.
    pub fn media_id(&self) -> Option<u64> {
        match self {
            VideoSource::MediaId(id) => Some(*id),
            _ => None,
        }
    }

    /// The earlier generation's video id.
    pub fn source_video_id(&self) -> Option<u64> {
        match self {
            VideoSource::SourceVideoId(id) => Some(*id),
            _ => None,
        }
    }

    /// The path or URL still to upload.
    pub fn video(&self) -> Option<&str> {
        match self {
            VideoSource::Path(s) | VideoSource::Url(s) => Some(s),
            _ => None,
        }
    }

    /// Exactly one of `video_media_id`, `source_video_id` and `video`, as the generated
    /// deserializer read them.
    pub(crate) fn from_fields(
        video_media_id: Option<u64>,
        source_video_id: Option<u64>,
        video: Option<String>,
    ) -> Result<Self, &'static str> {
        match (video_media_id, source_video_id, video) {
            (Some(id), None, None) => Ok(VideoSource::MediaId(id)),
            (None, Some(id), None) => Ok(VideoSource::SourceVideoId(id)),
            (None, None, Some(video)) => Ok(VideoSource::from_video(video)),
            (None, None, None) => Err(
                "a video reference needs `video_media_id` (an uploaded video), `source_video_id` (an earlier generation) or `video` (a path or https URL)",
            ),
            _ => Err(
                "a video reference takes exactly one of `video_media_id`, `source_video_id` and `video`",
            ),
        }
    }

    /// Writes the one field this source is.
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            VideoSource::MediaId(id) => map.serialize_entry("video_media_id", id),
            VideoSource::SourceVideoId(id) => map.serialize_entry("source_video_id", id),
            VideoSource::Path(s) | VideoSource::Url(s) => map.serialize_entry("video", s),
        }
    }
}

/// The job still names images or videos by path or URL: upload them and call
/// [`Job::resolve_images`] and [`Job::resolve_videos`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} reference(s) have no img_id or video_media_id yet (upload first): {}", .ref_names.len(), .ref_names.join(", "))]
pub struct UnresolvedImages {
    /// The `ref_name` of every reference still without an id (images first, then videos), in
    /// order.
    pub ref_names: Vec<String>,
}

/// The top-level fields of the request, in the order the vendor documents them (from the job
/// schema).
pub const KNOWN_FIELDS: &[&str] = Job::FIELDS;

impl Job {
    /// Replaces each path or URL source by the img_id `upload` returns for it (`None` leaves it
    /// as is). Fails listing the references still unresolved afterwards.
    pub fn resolve_images(
        &mut self,
        mut upload: impl FnMut(&ImageSource) -> Option<u64>,
    ) -> Result<(), UnresolvedImages> {
        for reference in &mut self.image_references {
            if reference.source.img_id().is_none()
                && let Some(id) = upload(&reference.source)
            {
                reference.source = ImageSource::ImgId(id);
            }
        }
        self.check_resolved()
    }

    /// Replaces each path or URL video source by the media id `upload` returns for it (`None`
    /// leaves it as is). Fails listing the references (images and videos) still unresolved.
    pub fn resolve_videos(
        &mut self,
        mut upload: impl FnMut(&VideoSource) -> Option<u64>,
    ) -> Result<(), UnresolvedImages> {
        for reference in &mut self.video_references {
            if !reference.source.is_resolved()
                && let Some(id) = upload(&reference.source)
            {
                reference.source = VideoSource::MediaId(id);
            }
        }
        self.check_resolved()
    }

    /// Whether every image reference has an img_id and every video reference a media id or
    /// source video id.
    pub fn check_resolved(&self) -> Result<(), UnresolvedImages> {
        let ref_names: Vec<String> = self
            .image_references
            .iter()
            .filter(|r| r.source.img_id().is_none())
            .map(|r| r.ref_name.clone())
            .chain(
                self.video_references
                    .iter()
                    .filter(|r| !r.source.is_resolved())
                    .map(|r| r.ref_name.clone()),
            )
            .collect();
        if ref_names.is_empty() {
            Ok(())
        } else {
            Err(UnresolvedImages { ref_names })
        }
    }

    /// The vendor's request body as JSON text: every field in the documented order, then the
    /// extra fields. Fails while a reference still names an image by path or URL.
    pub fn to_request_json(&self) -> Result<String, UnresolvedImages> {
        self.check_resolved()?;
        // Our own types into a string cannot fail (string keys, no floats).
        Ok(serde_json::to_string(self).unwrap_or_default())
    }

    /// The img_ids of the references that have one, in order (all of them once resolved, as in
    /// every journaled request).
    pub fn img_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.image_references
            .iter()
            .filter_map(|r| r.source.img_id())
    }

    /// Whether the request asks for Omni mode (`reference_mode: "omni"`).
    pub fn is_omni(&self) -> bool {
        self.reference_mode
            .as_ref()
            .is_some_and(|m| *m == crate::ReferenceMode::Omni)
    }
}

// The hand-written half of the generated reference code: which of the alternative fields
// (`img_id`, `image`; spec/job.schema.json `x-rust-source`) a reference gives.
impl ImageSource {
    /// Exactly one of `img_id` and `image`, as the generated deserializer read them.
    pub(crate) fn from_fields(
        img_id: Option<u64>,
        image: Option<String>,
    ) -> Result<Self, &'static str> {
        match (img_id, image) {
            (Some(id), None) => Ok(ImageSource::ImgId(id)),
            (None, Some(image)) => Ok(ImageSource::from_image(image)),
            (Some(_), Some(_)) => {
                Err("a reference takes exactly one of `img_id` and `image`, not both")
            }
            (None, None) => Err(
                "a reference needs `img_id` (an uploaded image) or `image` (a path or https URL)",
            ),
        }
    }

    /// Writes the one field this source is (`img_id` or `image`).
    pub(crate) fn serialize_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        match self {
            ImageSource::ImgId(id) => map.serialize_entry("img_id", id),
            ImageSource::Path(s) | ImageSource::Url(s) => map.serialize_entry("image", s),
        }
    }
}
