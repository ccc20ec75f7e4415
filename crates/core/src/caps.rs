//! The capability table: what each model accepts, each rule with its severity and source.
//!
//! The values come from `spec/capabilities.json` (generated into [`CAPABILITIES`]); this module
//! only defines their shape and lookups.

use crate::{AspectRatio, Model, Quality};

pub use crate::generated::tables::CAPABILITIES;

/// How much a broken rule matters (fusion-api.md §4): errors block sending, warnings inform.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The server rejects it (per the vendor's own documents): never sent.
    Error,
    /// Only third parties say so, sources disagree, or it merely has no effect.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A rule without a value: the severity of something happening at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How much it matters.
    pub severity: Severity,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

/// An upper bound: exceeding `value` yields `severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The largest value allowed.
    pub value: u64,
    /// How much exceeding it matters.
    pub severity: Severity,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

/// A set of allowed values; anything else yields `severity`.
#[derive(Debug, PartialEq, Eq)]
pub struct Allowed<T: 'static> {
    /// The allowed values, in spec order.
    pub values: &'static [T],
    /// How much another value matters.
    pub severity: Severity,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

impl<T: PartialEq> Allowed<T> {
    /// Whether `value` is in the set.
    pub fn contains(&self, value: &T) -> bool {
        self.values.contains(value)
    }
}

/// Durations a model refuses at one quality.
#[derive(Debug, PartialEq, Eq)]
pub struct Forbidden {
    /// The quality.
    pub quality: Quality,
    /// Durations refused at that quality.
    pub durations: &'static [u32],
    /// How much asking for one matters.
    pub severity: Severity,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

/// Whether `generate_audio_switch` is honoured, and how sending it elsewhere is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioSwitch {
    /// The model honours the switch.
    pub supported: bool,
    /// Severity of `true` on a model without audio.
    pub when_true: Severity,
    /// Severity of `false` on a model without audio (it has no effect).
    pub when_false: Severity,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

/// One model's row.
#[derive(Debug, PartialEq)]
pub struct ModelCaps {
    /// The model this row describes.
    pub model: Model,
    /// How much longer than [`RenderTime`]'s base this model renders (1.0: as the table says).
    pub render_factor: f64,
    /// Most `image_references`.
    pub max_images: Limit,
    /// Allowed durations in seconds.
    pub durations: Allowed<u32>,
    /// Allowed qualities.
    pub qualities: Allowed<Quality>,
    /// Allowed aspect ratios.
    pub aspect_ratios: Allowed<AspectRatio>,
    /// Quality × duration pairs the model refuses.
    pub forbidden: &'static [Forbidden],
    /// Whether `generate_audio_switch` is honoured.
    pub audio_switch: AudioSwitch,
    /// Prompt length bounds in characters, one per severity (e.g. warning past 2048, error past 5000).
    pub prompt_max_chars: &'static [Limit],
}

impl ModelCaps {
    /// The forbidden-pair rule that refuses `quality` at `duration`, if any.
    pub fn forbidden_pair(&self, quality: &Quality, duration: u32) -> Option<&'static Forbidden> {
        self.forbidden
            .iter()
            .find(|f| &f.quality == quality && f.durations.contains(&duration))
    }
}

/// Rules for every model.
#[derive(Debug, PartialEq, Eq)]
pub struct RequestRules {
    /// Longest ref_name in bytes of UTF-8.
    pub ref_name_max_bytes: Limit,
    /// Largest seed.
    pub seed_max: Limit,
    /// A model the table does not list.
    pub unknown_model: Policy,
    /// A field the schema does not list.
    pub unknown_field: Policy,
    /// A reference the prompt never mentions.
    pub unmentioned_ref: Policy,
    /// A mention that ends the prompt (no space can follow it).
    pub mention_at_end: Policy,
}

/// What an image upload accepts.
#[derive(Debug, PartialEq, Eq)]
pub struct UploadRules {
    /// Lower-case file extensions.
    pub extensions: &'static [&'static str],
    /// Largest file in bytes.
    pub max_bytes: Limit,
    /// Longest side in pixels, one bound per severity.
    pub max_side_px: &'static [Limit],
}

/// Rendering seconds per second of video at one quality.
#[derive(Debug, PartialEq)]
pub struct QualityRate {
    /// The quality.
    pub quality: Quality,
    /// Rendering seconds per second of video.
    pub seconds: f64,
}

/// A rough guess of how long a video takes to render: `(overhead_seconds + seconds of video ×
/// the quality's rate) × the model's render_factor`. Only the polling schedule depends on it.
#[derive(Debug, PartialEq)]
pub struct RenderTime {
    /// Seconds every job takes whatever its length.
    pub overhead_seconds: f64,
    /// Rendering seconds per second of video, by quality.
    pub seconds_per_video_second: &'static [QualityRate],
    /// The rate for a quality the table does not list.
    pub other_quality_seconds_per_video_second: f64,
    /// Seconds of video assumed when a job's duration is unknown.
    pub typical_duration: u32,
    /// Quality assumed when a job's quality is unknown.
    pub typical_quality: Quality,
    /// Key of [`Capabilities::sources`].
    pub source: &'static str,
}

impl RenderTime {
    /// Rendering seconds per second of video at `quality`.
    pub fn rate(&self, quality: &Quality) -> f64 {
        self.seconds_per_video_second
            .iter()
            .find(|r| &r.quality == quality)
            .map_or(self.other_quality_seconds_per_video_second, |r| r.seconds)
    }
}

/// What a video upload (`POST /openapi/v2/media/upload`) accepts. Third-party and disputed
/// facts: every severity here is a warning in the spec.
#[derive(Debug, PartialEq, Eq)]
pub struct VideoUploadRules {
    /// Lower-case file extensions (containers).
    pub extensions: &'static [&'static str],
    /// A video named by a path or URL whose extension is not listed.
    pub extension: Policy,
    /// Longest video in seconds.
    pub max_seconds: Limit,
    /// Longest side in pixels.
    pub max_side_px: Limit,
    /// Largest file in bytes, one bound per source (the sources disagree: 50 MB and 100 MB).
    pub max_bytes: &'static [Limit],
}

/// v6 Omni mode (`reference_mode: "omni"` with `video_references`): what it changes. No vendor
/// page describes it, so every rule is third-party and (in the spec) a warning.
#[derive(Debug, PartialEq, Eq)]
pub struct OmniRules {
    /// Models that take Omni requests.
    pub models: Allowed<Model>,
    /// `reference_mode: "omni"` without any video reference.
    pub without_videos: Policy,
    /// Most `image_references` in Omni mode (replaces the model's `max_images` there).
    pub max_images: Limit,
    /// Most `video_references`.
    pub max_videos: Limit,
    /// Longest reference video, seconds.
    pub video_max_seconds: Limit,
    /// Longest total of the reference videos, seconds.
    pub videos_total_max_seconds: Limit,
    /// Allowed durations in Omni mode (0: the output follows the longest video); replaces the
    /// model's durations there.
    pub durations: Allowed<u32>,
    /// Aspect ratios valid only in Omni mode, beside the model's (severity: of using one, as
    /// the sources disagree).
    pub extra_aspect_ratios: Allowed<AspectRatio>,
    /// Longest `negative_prompt` in characters.
    pub negative_prompt_max_chars: Limit,
    /// A request without `reference_mode: "omni"` that uses an Omni-only feature.
    pub looks_like_omni: Policy,
    /// What a video upload accepts.
    pub upload: VideoUploadRules,
}

impl OmniRules {
    /// Whether `model` takes Omni requests.
    pub fn supports(&self, model: &Model) -> bool {
        self.models.contains(model)
    }
}

/// The whole table.
#[derive(Debug, PartialEq)]
pub struct Capabilities {
    /// Source tag → where the fact came from.
    pub sources: &'static [(&'static str, &'static str)],
    /// Rules for every model.
    pub request: RequestRules,
    /// What an image upload accepts.
    pub upload: UploadRules,
    /// v6 Omni mode (reference videos).
    pub omni: OmniRules,
    /// Rough rendering times (for the polling schedule).
    pub render: RenderTime,
    /// One row per model.
    pub models: &'static [ModelCaps],
}

impl Capabilities {
    /// The row of `model`; `None` for a model the spec does not know.
    pub fn model(&self, model: &Model) -> Option<&ModelCaps> {
        self.models.iter().find(|m| &m.model == model)
    }

    /// What a source tag stands for.
    pub fn source(&self, tag: &str) -> Option<&'static str> {
        self.sources
            .iter()
            .find(|(k, _)| *k == tag)
            .map(|(_, v)| *v)
    }
}
