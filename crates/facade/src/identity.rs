//! Who a job is across reruns and processes: the key its claim is made under.
//!
//! - `run`/`submit`: the canonical job form with each local image identified by its path *and*
//!   the sha256 of its content (img_ids are not known before the upload), plus the output path.
//!   Running the same command again finds the same job; changing an image's content, the prompt
//!   or the output makes another.
//! - a batch line: its line key (see `batch::plan`).
//! - a caller's idempotency key (an agent's tool call).
//!
//! The origin is not part of the key: the journal keys identities per origin.

use std::path::{Path, PathBuf};

use pixfuse_core::{ImageSource, Job, VideoSource};
use sha2::{Digest, Sha256};

use crate::client::hash_file;
use crate::error::Error;

/// What the identity of a `run` is computed from.
#[derive(serde::Serialize)]
struct RunIdentity<'a> {
    form: String,
    images: Vec<(&'a str, String)>,
    /// Local reference videos (path, sha256), like the images; absent when there are none, so
    /// the identity of a job without videos is what it was before videos existed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    videos: Vec<(&'a str, String)>,
    #[serde(serialize_with = "output_text")]
    output: Option<&'a Path>,
}

/// A UTF-8 output path as its text (the identity every such path always had); any other as
/// its bytes, so a file name that is not UTF-8 works too and cannot meet a UTF-8 one's.
fn output_text<S: serde::Serializer>(output: &Option<&Path>, s: S) -> Result<S::Ok, S::Error> {
    match output.map(|p| (p.to_str(), p)) {
        None => s.serialize_none(),
        Some((Some(text), _)) => s.serialize_some(text),
        Some((None, path)) => s.serialize_some(&Raw {
            bytes: path.as_os_str().as_encoded_bytes(),
        }),
    }
}

#[derive(serde::Serialize)]
struct Raw<'a> {
    bytes: &'a [u8],
}

/// The identity of a job run from its job form, to `output`.
pub(crate) async fn of_job(job: &Job, output: Option<&Path>) -> Result<String, Error> {
    let mut images = Vec::new();
    for reference in &job.image_references {
        if let ImageSource::Path(path) = &reference.source {
            let (sha256, _) = hash_file(Path::new(path)).await?;
            images.push((path.as_str(), sha256));
        }
    }
    let mut videos = Vec::new();
    for reference in &job.video_references {
        if let VideoSource::Path(path) = &reference.source {
            let (sha256, _) = hash_file(Path::new(path)).await?;
            videos.push((path.as_str(), sha256));
        }
    }
    let identity = RunIdentity {
        form: form_text(job)?,
        images,
        videos,
        output,
    };
    let text = serde_json::to_string(&identity).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(digest(&["run", &text]))
}

/// The job form as the journal keeps it: serialized in the documented field order, so the same
/// job always gives the same text.
pub(crate) fn form_text(job: &Job) -> Result<String, Error> {
    serde_json::to_string(job).map_err(|e| Error::Internal(e.to_string()))
}

/// The identity of a job named by a caller's idempotency key.
pub(crate) fn of_key(key: &str) -> String {
    digest(&["key", key])
}

/// sha256 over `parts`, each terminated by a NUL (so no two part lists collide).
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Makes every local image and video path of `job` absolute, so the journaled job form (and the
/// identity) does not depend on the directory the command ran in.
pub(crate) fn absolute_paths(job: &mut Job) {
    let absolute = |path: &str| -> String {
        let absolute: PathBuf = crate::run::absolute(Path::new(path));
        absolute.to_string_lossy().into_owned()
    };
    for reference in &mut job.image_references {
        if let ImageSource::Path(path) = &reference.source {
            reference.source = ImageSource::Path(absolute(path));
        }
    }
    for reference in &mut job.video_references {
        if let VideoSource::Path(path) = &reference.source {
            reference.source = VideoSource::Path(absolute(path));
        }
    }
}
