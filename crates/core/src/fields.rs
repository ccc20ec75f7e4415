//! The request as far as it could be read: one borrowed view of its fields, built from a parsed
//! [`Job`] or from the slow path's partial read, so the rules check both without a copy and
//! without knowing which parser produced them.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::job::{ImageSource, Job, JobReference, VideoSource};
use crate::{AspectRatio, Model, Quality, RefType, ReferenceMode};

/// One reference as the slow path read it (`None`: missing or of the wrong type).
pub(crate) struct PartialRef {
    pub type_: Option<RefType>,
    pub source: Option<ImageSource>,
    pub ref_name: Option<String>,
}

/// One reference video as the slow path read it (`None`: missing or of the wrong type).
pub(crate) struct PartialVideoRef {
    pub source: Option<VideoSource>,
    pub ref_name: Option<String>,
}

/// One reference video as far as it could be read.
#[derive(Clone, Copy)]
pub(crate) struct VideoFields<'a> {
    pub source: Option<&'a VideoSource>,
    pub ref_name: Option<&'a str>,
}

/// One reference as far as it could be read.
pub(crate) struct RefFields<'a> {
    pub type_: Option<&'a RefType>,
    pub source: Option<&'a ImageSource>,
    pub ref_name: Option<&'a str>,
}

/// The references, borrowed from a parsed job or from the slow path's partial read (no copy).
#[derive(Clone, Copy)]
pub(crate) enum Refs<'a> {
    Job(&'a [JobReference]),
    Partial(&'a [PartialRef]),
}

impl<'a> Refs<'a> {
    pub(crate) fn len(self) -> usize {
        match self {
            Refs::Job(refs) => refs.len(),
            Refs::Partial(refs) => refs.len(),
        }
    }

    pub(crate) fn get(self, i: usize) -> RefFields<'a> {
        match self {
            Refs::Job(refs) => RefFields {
                type_: Some(&refs[i].type_),
                source: Some(&refs[i].source),
                ref_name: Some(&refs[i].ref_name),
            },
            Refs::Partial(refs) => RefFields {
                type_: refs[i].type_.as_ref(),
                source: refs[i].source.as_ref(),
                ref_name: refs[i].ref_name.as_deref(),
            },
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = RefFields<'a>> {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// The request as far as it could be read (`None`: missing or of the wrong type).
pub(crate) struct Fields<'a> {
    pub refs: Option<Refs<'a>>,
    pub prompt: Option<&'a str>,
    pub model: Option<&'a Model>,
    pub duration: Option<i128>,
    pub quality: Option<&'a Quality>,
    pub aspect_ratio: Option<&'a AspectRatio>,
    pub audio: Option<bool>,
    pub seed: Option<i128>,
    pub reference_mode: Option<&'a ReferenceMode>,
    /// The reference videos (empty when absent; `None`: not an array).
    pub videos: Option<Vec<VideoFields<'a>>>,
    pub negative_prompt: Option<&'a str>,
    pub extra: &'a BTreeMap<String, Value>,
}

impl Fields<'_> {
    /// Whether the request asks for Omni mode.
    pub(crate) fn is_omni(&self) -> bool {
        self.reference_mode == Some(&ReferenceMode::Omni)
    }

    /// How many reference videos could be read (0 when none or unreadable).
    pub(crate) fn video_count(&self) -> usize {
        self.videos.as_ref().map_or(0, Vec::len)
    }
}

impl<'a> Fields<'a> {
    /// Every field of a parsed job.
    pub(crate) fn of(job: &'a Job) -> Self {
        Fields {
            refs: Some(Refs::Job(&job.image_references)),
            prompt: Some(&job.prompt),
            model: Some(&job.model),
            duration: Some(i128::from(job.duration)),
            quality: Some(&job.quality),
            aspect_ratio: Some(&job.aspect_ratio),
            audio: job.generate_audio_switch,
            seed: job.seed.map(i128::from),
            reference_mode: job.reference_mode.as_ref(),
            videos: Some(
                job.video_references
                    .iter()
                    .map(|v| VideoFields {
                        source: Some(&v.source),
                        ref_name: Some(&v.ref_name),
                    })
                    .collect(),
            ),
            negative_prompt: job.negative_prompt.as_deref(),
            extra: &job.extra,
        }
    }
}
