//! The slow path: when the typed parse fails, walk the JSON value to say exactly which field is
//! missing or of the wrong type, and keep every field that could be read for the other rules.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::diagnostic::{Diagnostic, ref_path, video_path};
use crate::fields::{Fields, PartialRef, PartialVideoRef, Refs, VideoFields};
use crate::job::{ImageSource, Job, JobReference, JobVideoReference, VideoSource};
use crate::{AspectRatio, CAPABILITIES, Model, Quality, RefType, ReferenceMode};

/// The request as far as it could be read.
pub(crate) struct Partial {
    refs: Option<Vec<PartialRef>>,
    prompt: Option<String>,
    model: Option<Model>,
    duration: Option<i128>,
    quality: Option<Quality>,
    aspect_ratio: Option<AspectRatio>,
    audio: Option<bool>,
    seed: Option<i128>,
    reference_mode: Option<ReferenceMode>,
    videos: Option<Vec<PartialVideoRef>>,
    negative_prompt: Option<String>,
    style: Option<String>,
    extra: BTreeMap<String, Value>,
    /// Whether every required field was read (so a [`Job`] can be built).
    complete: bool,
}

impl Partial {
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            refs: self.refs.as_deref().map(Refs::Partial),
            prompt: self.prompt.as_deref(),
            model: self.model.as_ref(),
            duration: self.duration,
            quality: self.quality.as_ref(),
            aspect_ratio: self.aspect_ratio.as_ref(),
            audio: self.audio,
            seed: self.seed,
            reference_mode: self.reference_mode.as_ref(),
            videos: self.videos.as_ref().map(|videos| {
                videos
                    .iter()
                    .map(|v| VideoFields {
                        source: v.source.as_ref(),
                        ref_name: v.ref_name.as_deref(),
                    })
                    .collect()
            }),
            negative_prompt: self.negative_prompt.as_deref(),
            extra: &self.extra,
        }
    }

    /// The job, if every field was read and fits its type.
    pub(crate) fn into_job(self) -> Option<Job> {
        if !self.complete {
            return None;
        }
        let refs = self
            .refs?
            .into_iter()
            .map(|r| Some(JobReference::new(r.type_?, r.source?, r.ref_name?)))
            .collect::<Option<Vec<_>>>()?;
        let videos = self
            .videos?
            .into_iter()
            .map(|v| Some(JobVideoReference::new(v.ref_name?, v.source?)))
            .collect::<Option<Vec<_>>>()?;
        Some(Job {
            image_references: refs,
            prompt: self.prompt?,
            model: self.model?,
            duration: u32::try_from(self.duration?).ok()?,
            quality: self.quality?,
            aspect_ratio: self.aspect_ratio?,
            generate_audio_switch: self.audio,
            seed: match self.seed {
                Some(seed) => Some(u32::try_from(seed).ok()?),
                None => None,
            },
            reference_mode: self.reference_mode,
            video_references: videos,
            negative_prompt: self.negative_prompt,
            style: self.style,
            extra: self.extra,
        })
    }
}

/// Walks `root`, reporting shape problems into `out`.
pub(crate) fn walk(root: Value, out: &mut Vec<Diagnostic>) -> Partial {
    let mut partial = Partial {
        refs: None,
        prompt: None,
        model: None,
        duration: None,
        quality: None,
        aspect_ratio: None,
        audio: None,
        seed: None,
        reference_mode: None,
        videos: None,
        negative_prompt: None,
        style: None,
        extra: BTreeMap::new(),
        complete: false,
    };
    let Value::Object(mut map) = root else {
        out.push(Diagnostic::error(
            "wrong_type",
            "",
            format!("the request must be a JSON object, not {}", kind(&root)),
        ));
        return partial;
    };
    let before = out.iter().filter(|d| d.is_error()).count();
    let mut r = Reader { out };

    // Optional since Omni mode (absent reads as none; the rules say when that is wrong).
    partial.refs = match r.optional(&mut map, "image_references") {
        None => Some(Vec::new()),
        Some(v) => r.array(v, "/image_references"),
    }
    .map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| r.reference(i, item))
            .collect()
    });
    partial.prompt = r
        .required(&mut map, "prompt", "/prompt")
        .and_then(|v| r.string(v, "/prompt"));
    partial.model = r
        .required(&mut map, "model", "/model")
        .and_then(|v| r.string(v, "/model"))
        .map(|s| Model::from(s.as_str()));
    partial.duration = r
        .required(&mut map, "duration", "/duration")
        .and_then(|v| r.integer(v, "/duration", "a whole number of seconds"));
    partial.quality = r
        .required(&mut map, "quality", "/quality")
        .and_then(|v| r.string(v, "/quality"))
        .map(|s| Quality::from(s.as_str()));
    partial.aspect_ratio = r
        .required(&mut map, "aspect_ratio", "/aspect_ratio")
        .and_then(|v| r.string(v, "/aspect_ratio"))
        .map(|s| AspectRatio::from(s.as_str()));
    partial.audio = r
        .optional(&mut map, "generate_audio_switch")
        .and_then(|v| r.boolean(v, "/generate_audio_switch"));
    partial.seed = r
        .optional(&mut map, "seed")
        .and_then(|v| r.integer(v, "/seed", "an integer"));
    partial.reference_mode = r
        .optional(&mut map, Job::REFERENCE_MODE)
        .and_then(|v| r.string(v, "/reference_mode"))
        .map(|s| ReferenceMode::from(s.as_str()));
    partial.videos = match r.optional(&mut map, Job::VIDEO_REFERENCES) {
        None => Some(Vec::new()),
        Some(v) => r.array(v, "/video_references"),
    }
    .map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(i, item)| r.video_reference(i, item))
            .collect()
    });
    partial.negative_prompt = r
        .optional(&mut map, Job::NEGATIVE_PROMPT)
        .and_then(|v| r.string(v, "/negative_prompt"));
    partial.style = r
        .optional(&mut map, Job::STYLE)
        .and_then(|v| r.string(v, "/style"));
    partial.extra = map.into_iter().collect();

    partial.complete = out.iter().filter(|d| d.is_error()).count() == before;
    partial
}

struct Reader<'o> {
    out: &'o mut Vec<Diagnostic>,
}

impl Reader<'_> {
    fn required(&mut self, map: &mut Map<String, Value>, key: &str, path: &str) -> Option<Value> {
        let value = map.remove(key);
        if value.is_none() {
            self.out.push(Diagnostic::error(
                "missing_field",
                path,
                format!("required field \"{key}\" is missing"),
            ));
        }
        value
    }

    /// An optional field; `null` counts as absent.
    fn optional(&mut self, map: &mut Map<String, Value>, key: &str) -> Option<Value> {
        map.remove(key).filter(|v| !v.is_null())
    }

    fn wrong(&mut self, path: &str, expected: &str, value: &Value) {
        self.out.push(Diagnostic::error(
            "wrong_type",
            path,
            format!("expected {expected}, found {}", describe(value)),
        ));
    }

    fn string(&mut self, value: Value, path: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s),
            other => {
                self.wrong(path, "a string", &other);
                None
            }
        }
    }

    fn boolean(&mut self, value: Value, path: &str) -> Option<bool> {
        match value {
            Value::Bool(b) => Some(b),
            other => {
                self.wrong(path, "true or false", &other);
                None
            }
        }
    }

    /// Any JSON integer (range rules come later), never through a float.
    fn integer(&mut self, value: Value, path: &str, expected: &str) -> Option<i128> {
        let n = match &value {
            Value::Number(n) => n
                .as_u64()
                .map(i128::from)
                .or_else(|| n.as_i64().map(i128::from)),
            _ => None,
        };
        if n.is_none() {
            self.wrong(path, expected, &value);
        }
        n
    }

    fn array(&mut self, value: Value, path: &str) -> Option<Vec<Value>> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.wrong(path, "an array of references", &other);
                None
            }
        }
    }

    fn reference(&mut self, i: usize, item: Value) -> PartialRef {
        let mut r = PartialRef {
            type_: None,
            source: None,
            ref_name: None,
        };
        let Value::Object(mut map) = item else {
            self.wrong(
                &ref_path(i, None),
                "a reference object {\"type\", \"img_id\" or \"image\", \"ref_name\"}",
                &item,
            );
            return r;
        };
        r.type_ = self
            .required(&mut map, "type", &ref_path(i, Some("type")))
            .and_then(|v| self.string(v, &ref_path(i, Some("type"))))
            .map(|s| RefType::from(s.as_str()));
        r.ref_name = self
            .required(&mut map, "ref_name", &ref_path(i, Some("ref_name")))
            .and_then(|v| self.string(v, &ref_path(i, Some("ref_name"))));
        let img_id = map.remove("img_id");
        let image = map.remove("image");
        match (img_id, image) {
            (Some(id), None) => {
                let path = ref_path(i, Some("img_id"));
                match id.as_u64() {
                    Some(id) => r.source = Some(ImageSource::ImgId(id)),
                    None => self.wrong(&path, "a non-negative integer image id", &id),
                }
            }
            (None, Some(image)) => {
                r.source = self
                    .string(image, &ref_path(i, Some("image")))
                    .map(ImageSource::from_image);
            }
            (Some(_), Some(_)) => self.out.push(
                Diagnostic::error(
                    "image_source_conflict",
                    ref_path(i, None),
                    "the reference has both img_id and image; give exactly one",
                )
                .with_suggestion("keep img_id for an uploaded image, or image to upload a file"),
            ),
            (None, None) => self.out.push(
                Diagnostic::error(
                    "image_source_missing",
                    ref_path(i, None),
                    "the reference has neither img_id nor image",
                )
                .with_suggestion(
                    "add \"img_id\" (an uploaded image) or \"image\" (a local path or https URL)",
                ),
            ),
        }
        let policy = CAPABILITIES.request.unknown_field;
        for key in map.keys() {
            self.out.push(Diagnostic::new(
                policy.severity,
                "unknown_field",
                ref_path(i, Some(key)),
                format!(
                    "\"{key}\" is not a field of an image reference ({}); pixfuse does not send it",
                    JobReference::FIELDS.join(", ")
                ),
            ));
        }
        r
    }
}

impl Reader<'_> {
    fn video_reference(&mut self, i: usize, item: Value) -> PartialVideoRef {
        let mut r = PartialVideoRef {
            source: None,
            ref_name: None,
        };
        let Value::Object(mut map) = item else {
            self.wrong(
                &video_path(i, None),
                "a video reference object {\"ref_name\", \"video_media_id\", \"source_video_id\" or \"video\"}",
                &item,
            );
            return r;
        };
        r.ref_name = self
            .required(&mut map, "ref_name", &video_path(i, Some("ref_name")))
            .and_then(|v| self.string(v, &video_path(i, Some("ref_name"))));
        let media = map.remove(JobVideoReference::VIDEO_MEDIA_ID);
        let source = map.remove(JobVideoReference::SOURCE_VIDEO_ID);
        let video = map.remove(JobVideoReference::VIDEO);
        let given = [&media, &source, &video]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given == 1 {
            let mut id = |value: Value, field: &str| {
                let n = value.as_u64();
                if n.is_none() {
                    self.wrong(
                        &video_path(i, Some(field)),
                        "a non-negative integer id",
                        &value,
                    );
                }
                n
            };
            r.source = if let Some(v) = media {
                id(v, JobVideoReference::VIDEO_MEDIA_ID).map(VideoSource::MediaId)
            } else if let Some(v) = source {
                id(v, JobVideoReference::SOURCE_VIDEO_ID).map(VideoSource::SourceVideoId)
            } else {
                video
                    .and_then(|v| self.string(v, &video_path(i, Some(JobVideoReference::VIDEO))))
                    .map(VideoSource::from_video)
            };
        } else if given == 0 {
            self.out.push(
                Diagnostic::error(
                    "video_source_missing",
                    video_path(i, None),
                    "the video reference has none of video_media_id, source_video_id and video",
                )
                .with_suggestion("add \"video_media_id\" (an uploaded video), \"source_video_id\" (an earlier generation) or \"video\" (a local path or https URL)"),
            );
        } else {
            self.out.push(
                Diagnostic::error(
                    "video_source_conflict",
                    video_path(i, None),
                    "the video reference gives more than one of video_media_id, source_video_id and video; give exactly one",
                )
                .with_suggestion("keep the one that names the video you mean"),
            );
        }
        let policy = CAPABILITIES.request.unknown_field;
        for key in map.keys() {
            self.out.push(Diagnostic::new(
                policy.severity,
                "unknown_field",
                video_path(i, Some(key)),
                format!(
                    "\"{key}\" is not a field of a video reference ({}); pixfuse does not send it",
                    JobVideoReference::FIELDS.join(", ")
                ),
            ));
        }
        r
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// "a string (\"5\")" — the kind, and the value when it is short.
fn describe(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => {
            let text = value.to_string();
            if text.len() <= 40 {
                format!("{} ({text})", kind(value))
            } else {
                kind(value).to_owned()
            }
        }
        _ => kind(value).to_owned(),
    }
}
