//! Loading spec/ into memory: raw JSON for the schemas, typed structs for the tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::order::{KeyOrder, key_order};

pub(crate) const REQUEST_SCHEMA: &str = "fusion-generate.request.schema.json";
pub(crate) const JOB_SCHEMA: &str = "job.schema.json";
pub(crate) const RESPONSE_SCHEMAS: &[&str] = &[
    "responses/envelope.schema.json",
    "responses/generate.resp.schema.json",
    "responses/video-result.resp.schema.json",
    "responses/image-upload.resp.schema.json",
    "responses/media-upload.resp.schema.json",
    "responses/balance.resp.schema.json",
];
pub(crate) const CAPABILITIES: &str = "capabilities.json";
pub(crate) const ERROR_CODES: &str = "error-codes.json";
pub(crate) const PRICING: &str = "pricing.json";

pub(crate) struct Spec {
    pub request_schema: serde_json::Value,
    pub job_schema: serde_json::Value,
    /// Key order of the request and job schemas (file name → pointer → keys).
    pub key_orders: BTreeMap<&'static str, KeyOrder>,
    pub response_schemas: Vec<(&'static str, serde_json::Value)>,
    pub capabilities: Capabilities,
    pub error_codes: ErrorCodes,
    pub pricing: Pricing,
    pub inputs: Vec<PathBuf>,
}

impl Spec {
    pub(crate) fn load(dir: &Path) -> Result<Spec, Error> {
        let mut inputs = Vec::new();
        let mut load = |name: &str| -> Result<(PathBuf, String), Error> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            inputs.push(path.clone());
            Ok((path, text))
        };
        let mut key_orders = BTreeMap::new();
        let mut schema = |name: &'static str| -> Result<serde_json::Value, Error> {
            let (path, text) = load(name)?;
            let order = key_order(&text).map_err(|source| Error::Parse {
                path: path.clone(),
                source,
            })?;
            key_orders.insert(name, order);
            parse((path, text))
        };
        let request_schema = schema(REQUEST_SCHEMA)?;
        let job_schema = schema(JOB_SCHEMA)?;
        let mut response_schemas = Vec::new();
        for name in RESPONSE_SCHEMAS {
            response_schemas.push((*name, parse(load(name)?)?));
        }
        let capabilities = parse(load(CAPABILITIES)?)?;
        let error_codes = parse(load(ERROR_CODES)?)?;
        let pricing = parse(load(PRICING)?)?;
        // The schemas of the tables are inputs too: a change there must rerun the build.
        for name in [
            "capabilities.schema.json",
            "error-codes.schema.json",
            "pricing.schema.json",
        ] {
            load(name)?;
        }
        Ok(Spec {
            request_schema,
            job_schema,
            key_orders,
            response_schemas,
            capabilities,
            error_codes,
            pricing,
            inputs,
        })
    }
}

fn parse<T: DeserializeOwned>((path, text): (PathBuf, String)) -> Result<T, Error> {
    serde_json::from_str(&text).map_err(|source| Error::Parse { path, source })
}

// The table shapes below mirror spec/*.schema.json; `deny_unknown_fields` makes a typo in a
// table key a build error instead of a silently ignored rule.

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Severity {
    Error,
    Warning,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Policy {
    pub severity: Severity,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    pub value: u64,
    pub severity: Severity,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Allowed<T> {
    pub values: Vec<T>,
    pub severity: Severity,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Capabilities {
    #[serde(rename = "$schema")]
    pub _schema: Option<String>,
    pub sources: BTreeMap<String, String>,
    pub request: RequestRules,
    pub upload: UploadRules,
    pub omni: OmniRules,
    pub render: RenderRules,
    pub models: Vec<ModelCaps>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenderRules {
    pub overhead_seconds: f64,
    pub seconds_per_video_second: Vec<QualityRate>,
    pub other_quality_seconds_per_video_second: f64,
    pub typical_duration: u32,
    pub typical_quality: String,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct QualityRate {
    pub quality: String,
    pub value: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestRules {
    pub ref_name_max_bytes: Limit,
    pub seed_max: Limit,
    pub unknown_model: Policy,
    pub unknown_field: Policy,
    pub unmentioned_ref: Policy,
    pub mention_at_end: Policy,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadRules {
    pub extensions: Vec<String>,
    pub max_bytes: Limit,
    pub max_side_px: Vec<Limit>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct OmniRules {
    pub models: Allowed<String>,
    pub without_videos: Policy,
    pub max_images: Limit,
    pub max_videos: Limit,
    pub video_max_seconds: Limit,
    pub videos_total_max_seconds: Limit,
    pub durations: Allowed<u32>,
    pub extra_aspect_ratios: Allowed<String>,
    pub negative_prompt_max_chars: Limit,
    pub looks_like_omni: Policy,
    pub upload: VideoUploadRules,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct VideoUploadRules {
    pub extensions: Vec<String>,
    pub extension: Policy,
    pub max_seconds: Limit,
    pub max_side_px: Limit,
    pub max_bytes: Vec<Limit>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelCaps {
    pub model: String,
    pub render_factor: f64,
    pub max_images: Limit,
    pub durations: Allowed<u32>,
    pub qualities: Allowed<String>,
    pub aspect_ratios: Allowed<String>,
    pub forbidden: Vec<Forbidden>,
    pub audio_switch: AudioSwitch,
    pub prompt_max_chars: Vec<Limit>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Forbidden {
    pub quality: String,
    pub durations: Vec<u32>,
    pub severity: Severity,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct AudioSwitch {
    pub supported: bool,
    pub when_true: Severity,
    pub when_false: Severity,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorCodes {
    #[serde(rename = "$schema")]
    pub _schema: Option<String>,
    pub codes: Vec<ErrorCode>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorCode {
    pub code: i64,
    pub name: String,
    pub meaning: String,
    pub class: String,
    pub retry: String,
    pub hint: String,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Pricing {
    #[serde(rename = "$schema")]
    pub _schema: Option<String>,
    pub credits_per_usd: f64,
    pub sources: BTreeMap<String, String>,
    pub fixed: Vec<FixedPrice>,
    pub per_second: Vec<PerSecondPrice>,
    pub omni: Vec<OmniPrice>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixedPrice {
    pub model: String,
    pub quality: String,
    pub duration: u32,
    pub audio: bool,
    pub credits: f64,
    pub confidence: String,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PerSecondPrice {
    pub model: String,
    pub quality: String,
    pub audio: bool,
    pub credits_per_second: f64,
    pub confidence: String,
    pub source: String,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct OmniPrice {
    pub model: String,
    pub factor_per_reference_second: f64,
    pub confidence: String,
    pub source: String,
}
