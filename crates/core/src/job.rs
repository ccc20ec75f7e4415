//! The job form of a request: like the vendor body, but each reference names its image either by
//! an uploaded `img_id` or by `image` (a local path or an https URL, uploaded later).
//!
//! Unknown top-level fields are kept verbatim in [`Job::extra`] and sent along: pixfuse warns
//! about them but never drops what the user wrote.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{AspectRatio, Model, Quality, RefType};

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

pub(crate) fn is_https_url(s: &str) -> bool {
    s.get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
}

/// One reference image of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobReference {
    pub type_: RefType,
    pub source: ImageSource,
    pub ref_name: String,
}

impl JobReference {
    pub fn new(type_: RefType, source: ImageSource, ref_name: impl Into<String>) -> Self {
        JobReference {
            type_,
            source,
            ref_name: ref_name.into(),
        }
    }
}

/// A Fusion request in job form.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub image_references: Vec<JobReference>,
    pub prompt: String,
    pub model: Model,
    pub duration: u32,
    pub quality: Quality,
    pub aspect_ratio: AspectRatio,
    pub generate_audio_switch: Option<bool>,
    pub seed: Option<u32>,
    /// Top-level fields the spec does not know, kept verbatim and sent as written.
    pub extra: BTreeMap<String, Value>,
}

/// The job still names images by path or URL: upload them and call [`Job::resolve_images`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} reference(s) have no img_id yet (upload first): {}", .ref_names.len(), .ref_names.join(", "))]
pub struct UnresolvedImages {
    /// The `ref_name` of every reference still without an img_id, in order.
    pub ref_names: Vec<String>,
}

/// The top-level fields of the request, in the order the vendor documents them.
pub const KNOWN_FIELDS: &[&str] = &[
    "image_references",
    "prompt",
    "model",
    "duration",
    "quality",
    "aspect_ratio",
    "generate_audio_switch",
    "seed",
];

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

    /// Whether every reference has an img_id.
    pub fn check_resolved(&self) -> Result<(), UnresolvedImages> {
        let ref_names: Vec<String> = self
            .image_references
            .iter()
            .filter(|r| r.source.img_id().is_none())
            .map(|r| r.ref_name.clone())
            .collect();
        if ref_names.is_empty() {
            Ok(())
        } else {
            Err(UnresolvedImages { ref_names })
        }
    }

    /// The vendor's request body: every field in documented order, then the extra fields.
    pub fn to_request_json(&self) -> Result<Value, UnresolvedImages> {
        self.check_resolved()?;
        Ok(self.to_json_value())
    }

    /// The job-file form as a JSON value (sources as `img_id` or `image`).
    pub fn to_json_value(&self) -> Value {
        // Serializing our own types into a Value cannot fail (string keys, finite numbers).
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Stable bytes for journaling and hashing: compact JSON with object keys sorted at every
    /// depth (extra fields included).
    pub fn canonical_json(&self) -> String {
        let mut out = String::new();
        write_canonical(&self.to_json_value(), &mut out);
        out
    }
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl Serialize for JobReference {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("type", &self.type_)?;
        match &self.source {
            ImageSource::ImgId(id) => map.serialize_entry("img_id", id)?,
            ImageSource::Path(s) | ImageSource::Url(s) => map.serialize_entry("image", s)?,
        }
        map.serialize_entry("ref_name", &self.ref_name)?;
        map.end()
    }
}

/// The reference as written; [`JobReference`] requires exactly one source.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    #[serde(rename = "type")]
    type_: RefType,
    #[serde(default)]
    img_id: Option<u64>,
    #[serde(default)]
    image: Option<String>,
    ref_name: String,
}

impl<'de> Deserialize<'de> for JobReference {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawReference::deserialize(deserializer)?;
        let source = match (raw.img_id, raw.image) {
            (Some(id), None) => ImageSource::ImgId(id),
            (None, Some(image)) => ImageSource::from_image(image),
            (Some(_), Some(_)) => {
                return Err(de::Error::custom(
                    "a reference takes exactly one of `img_id` and `image`, not both",
                ));
            }
            (None, None) => {
                return Err(de::Error::custom(
                    "a reference needs `img_id` (an uploaded image) or `image` (a path or https URL)",
                ));
            }
        };
        Ok(JobReference {
            type_: raw.type_,
            source,
            ref_name: raw.ref_name,
        })
    }
}

impl Serialize for Job {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let optional =
            usize::from(self.generate_audio_switch.is_some()) + usize::from(self.seed.is_some());
        let mut map = serializer.serialize_map(Some(6 + optional + self.extra.len()))?;
        map.serialize_entry("image_references", &self.image_references)?;
        map.serialize_entry("prompt", &self.prompt)?;
        map.serialize_entry("model", &self.model)?;
        map.serialize_entry("duration", &self.duration)?;
        map.serialize_entry("quality", &self.quality)?;
        map.serialize_entry("aspect_ratio", &self.aspect_ratio)?;
        if let Some(audio) = self.generate_audio_switch {
            map.serialize_entry("generate_audio_switch", &audio)?;
        }
        if let Some(seed) = self.seed {
            map.serialize_entry("seed", &seed)?;
        }
        for (key, value) in &self.extra {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

enum Field {
    ImageReferences,
    Prompt,
    Model,
    Duration,
    Quality,
    AspectRatio,
    Audio,
    Seed,
    Other(String),
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Field, E> {
                Ok(match s {
                    "image_references" => Field::ImageReferences,
                    "prompt" => Field::Prompt,
                    "model" => Field::Model,
                    "duration" => Field::Duration,
                    "quality" => Field::Quality,
                    "aspect_ratio" => Field::AspectRatio,
                    "generate_audio_switch" => Field::Audio,
                    "seed" => Field::Seed,
                    other => Field::Other(other.to_owned()),
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct JobVisitor;
        impl<'de> Visitor<'de> for JobVisitor {
            type Value = Job;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Fusion request object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Job, A::Error> {
                let mut refs = None;
                let mut prompt = None;
                let mut model = None;
                let mut duration = None;
                let mut quality = None;
                let mut aspect_ratio = None;
                let mut audio = None;
                let mut seed = None;
                let mut extra = BTreeMap::new();
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::ImageReferences => set(&mut refs, &mut map, "image_references")?,
                        Field::Prompt => set(&mut prompt, &mut map, "prompt")?,
                        Field::Model => set(&mut model, &mut map, "model")?,
                        Field::Duration => set(&mut duration, &mut map, "duration")?,
                        Field::Quality => set(&mut quality, &mut map, "quality")?,
                        Field::AspectRatio => set(&mut aspect_ratio, &mut map, "aspect_ratio")?,
                        Field::Audio => set(&mut audio, &mut map, "generate_audio_switch")?,
                        Field::Seed => set(&mut seed, &mut map, "seed")?,
                        Field::Other(key) => {
                            let value: Value = map.next_value()?;
                            if extra.insert(key, value).is_some() {
                                return Err(de::Error::custom("duplicate field"));
                            }
                        }
                    }
                }
                Ok(Job {
                    image_references: refs
                        .ok_or_else(|| de::Error::missing_field("image_references"))?,
                    prompt: prompt.ok_or_else(|| de::Error::missing_field("prompt"))?,
                    model: model.ok_or_else(|| de::Error::missing_field("model"))?,
                    duration: duration.ok_or_else(|| de::Error::missing_field("duration"))?,
                    quality: quality.ok_or_else(|| de::Error::missing_field("quality"))?,
                    aspect_ratio: aspect_ratio
                        .ok_or_else(|| de::Error::missing_field("aspect_ratio"))?,
                    generate_audio_switch: audio.flatten(),
                    seed: seed.flatten(),
                    extra,
                })
            }
        }
        deserializer.deserialize_map(JobVisitor)
    }
}

fn set<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}
