//! The tools' arguments. Their JSON Schemas (what `tools/list` shows an agent) are derived from
//! these types; the doc comments are the descriptions the agent reads. Video ids are strings:
//! they exceed 2^53, which a JSON number read as a double cannot hold (a number is accepted
//! too, for hosts that send one).

use rmcp::schemars::{self, JsonSchema};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// A request, given inline or as a job file. The request is an open object on purpose: a strict
/// schema would let the host refuse a mistake with its own terse message, while pixfuse's
/// validation names every mistake with its pointer and its fix.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct RequestArg {
    /// The Fusion request as a JSON object: `image_references` (each with `type` "subject" or
    /// "background", a `ref_name`, and either `img_id` or `image`: an absolute local path or
    /// an https URL), `prompt` (mention each reference as `@ref_name` followed by a space),
    /// `model`, `duration`, `quality`, `aspect_ratio`, and optionally `seed` and
    /// `generate_audio_switch`. v6 Omni mode (`"reference_mode": "omni"`, `duration` 0) adds
    /// `video_references` (at most 2), each with a `ref_name` (mentioned as `@ref_name `) and
    /// either `video_media_id` (from `upload_video`) or `video`: an absolute local path
    /// (mp4, mov, webm) or an https URL, uploaded once per content. The `models` tool lists
    /// the allowed values.
    #[serde(default)]
    pub request: Option<Map<String, Value>>,
    /// Instead of `request`: the path of a job file on this machine (the same JSON; relative
    /// image paths are relative to the file).
    #[serde(default)]
    pub job_file: Option<String>,
}

/// `validate` and `estimate`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct CheckArgs {
    #[serde(flatten)]
    pub request: RequestArg,
    /// Accept a model this build does not know (a warning instead of an error; its
    /// model-specific checks are skipped and it has no price).
    #[serde(default)]
    pub allow_unknown_model: bool,
}

/// `generate`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GenerateArgs {
    #[serde(flatten)]
    pub request: RequestArg,
    /// Where `resume` saves the video later (optional; `download` takes its own path).
    #[serde(default)]
    pub output: Option<String>,
    /// Names the job: a later call with the same key returns this job (nothing is billed
    /// again) whatever its other arguments. Without it, the same arguments name the same job.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Make a new, separately billed video even if the same call was made before.
    #[serde(default)]
    pub new: bool,
    /// Give up after this many seconds (uploads and the submit; default 300). A job cut
    /// short is journaled: the same call continues it.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// `wait`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct WaitArgs {
    /// The video id `generate` returned (a string of digits).
    #[serde(default, deserialize_with = "opt_id_text")]
    #[schemars(with = "Option<String>")]
    pub video_id: Option<String>,
    /// Or the journal's job id.
    #[serde(default)]
    pub job_id: Option<i64>,
    /// Return after this many seconds if the video is not ready yet (default 120). The job
    /// goes on: call `wait` again.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// `status`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StatusArgs {
    /// The video id (a string of digits).
    #[serde(deserialize_with = "id_text")]
    #[schemars(with = "String")]
    pub video_id: String,
}

/// `download`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DownloadArgs {
    /// The video id (a string of digits).
    #[serde(deserialize_with = "id_text")]
    #[schemars(with = "String")]
    pub video_id: String,
    /// Where to save the video (an absolute path is best; a relative one is relative to the
    /// server's working directory). A sidecar `<path>.json` with the job's details is
    /// written beside it.
    pub path: String,
    /// Give up after this many seconds (default 600); a partial download is continued by the
    /// same call.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// `resume`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ResumeArgs {
    /// The journal's job id (from `generate` or `jobs`).
    pub job_id: i64,
    /// Save the video here instead of the job's journaled output.
    #[serde(default)]
    pub output: Option<String>,
    /// Return after this many seconds if the job is not finished (default 600); call
    /// `resume` again to go on.
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// `jobs`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct JobsArgs {
    /// At most this many jobs, newest first (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// `upload_image`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UploadArgs {
    /// A local image (png, jpeg, webp; an absolute path is best) or an https URL. The same
    /// file is uploaded only once: its img_id is reused.
    pub image: String,
}

/// `upload_video`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UploadVideoArgs {
    /// A local reference video for v6 Omni mode (mp4, mov, webm; an absolute path is best) or
    /// an https URL. A file is checked first: one that is no video at all is refused before
    /// anything is sent. The same file is uploaded only once: its media_id is reused.
    pub video: String,
    /// Give up after this many seconds (default 300; a large video over a slow link takes a
    /// while).
    #[serde(default)]
    pub timeout_s: Option<u64>,
}

/// The `fusion_video` prompt.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct FusionPromptArgs {
    /// The images to use, comma-separated (local paths or https URLs); the first ones are
    /// subjects, the last one the background.
    pub images: String,
    /// What should happen in the video.
    pub idea: String,
}

/// A video id sent as a string or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum IdText {
    Text(String),
    Number(u64),
}

impl IdText {
    fn text(self) -> String {
        match self {
            IdText::Text(text) => text,
            IdText::Number(n) => n.to_string(),
        }
    }
}

fn id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    IdText::deserialize(deserializer).map(IdText::text)
}

fn opt_id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<IdText>::deserialize(deserializer).map(|id| id.map(IdText::text))
}

/// A video id from its text.
pub fn parse_video_id(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| {
        format!("video_id `{text}` is not a video id (a string of digits, as generate returns it)")
    })
}
