//! The sidecar `<output>.json` next to each video: what was asked, what was paid, where it
//! came from. Built from the journal record, which never holds the key.

use std::path::{Path, PathBuf};

use crate::journal::JobRecord;

/// The sidecar's contents.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Sidecar {
    /// The pixfuse that wrote it.
    pub pixfuse_version: String,
    /// The journal's id.
    pub job_id: i64,
    /// The submit's `Ai-trace-id`.
    pub trace_id: String,
    /// A string: ids are 64-bit and JSON readers often go through f64.
    pub video_id: Option<String>,
    /// Who served it (`pixverse`, `quickrouter`).
    pub provider: String,
    /// The URL the job was sent to.
    pub base_url: String,
    /// The request exactly as sent.
    pub request: serde_json::Value,
    /// Credits charged, when the server said.
    pub credits: Option<i64>,
    /// The server's seed when it reported one, else the one requested.
    pub seed: Option<i64>,
    /// The URL the video was downloaded from.
    pub url: Option<String>,
    /// Where the video is (a name that is not UTF-8 written with U+FFFD for its odd bytes: the
    /// sidecar is JSON, and the file is beside it anyway).
    #[serde(serialize_with = "lossy")]
    pub output: PathBuf,
    /// When each step happened.
    pub timings: Timings,
}

/// Unix milliseconds of each step, and the durations between them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Timings {
    /// The job was claimed.
    pub created_ms: i64,
    /// The server accepted it.
    pub submitted_ms: Option<i64>,
    /// The server reported its end.
    pub finished_ms: Option<i64>,
    /// Its video was on disk.
    pub downloaded_ms: Option<i64>,
    /// From submit to the video being ready.
    pub generation_ms: Option<i64>,
    /// From ready to the file on disk.
    pub download_ms: Option<i64>,
}

impl Sidecar {
    /// The sidecar of a job whose video is at `output`.
    pub fn from_record(record: &JobRecord, output: &Path) -> Self {
        let between = |a: Option<i64>, b: Option<i64>| Some(b? - a?);
        let text = record.request.as_deref().unwrap_or_default();
        // The journal stores what we serialized; fall back to the raw text if it is odd.
        let request = serde_json::from_str(text)
            .unwrap_or_else(|_| serde_json::Value::String(text.to_owned()));
        let requested_seed = record.sent_job().and_then(|job| job.seed).map(i64::from);
        Sidecar {
            pixfuse_version: env!("CARGO_PKG_VERSION").to_owned(),
            job_id: record.id,
            trace_id: record.trace_id.to_string(),
            video_id: record.video_id.map(|v| v.to_string()),
            provider: record.provider.clone(),
            base_url: record.base_url.clone(),
            credits: record.credits,
            // The server's seed when it reports one, else the one requested.
            seed: record.seed.or(requested_seed),
            request,
            url: record.url.clone(),
            output: output.to_owned(),
            timings: Timings {
                created_ms: record.created_ms,
                submitted_ms: record.submitted_ms,
                finished_ms: record.finished_ms,
                downloaded_ms: record.downloaded_ms,
                generation_ms: between(record.submitted_ms, record.finished_ms),
                download_ms: between(record.finished_ms, record.downloaded_ms),
            },
        }
    }

    /// Writes the sidecar next to `output` atomically; returns its path.
    pub fn write(&self, output: &Path) -> std::io::Result<PathBuf> {
        let path = sidecar_path(output);
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        crate::write_file_atomically(&path, &bytes)?;
        Ok(path)
    }
}

fn lossy<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&path.to_string_lossy())
}

/// `<output>.json`: `clip.mp4` → `clip.mp4.json`.
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::tests::{fixture_job, open};
    use pixfuse_core::lifecycle::JobState;
    use pixfuse_core::poll::JobStatus;

    #[tokio::test]
    async fn sidecar_carries_the_job_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let out = dir.path().join("v.mp4");
        let job = fixture_job(&store, JobState::Downloaded, Some(u64::MAX), Some(&out)).await;
        assert_eq!(job.status, Some(JobStatus::Succeeded));
        let sidecar = Sidecar::from_record(&job, &out);
        let path = sidecar.write(&out).unwrap();
        assert_eq!(path, dir.path().join("v.mp4.json"));
        let back: Sidecar = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(back, sidecar);
        assert_eq!(back.trace_id, job.trace_id.to_string());
        assert_eq!(back.video_id.as_deref(), Some("18446744073709551615"));
        assert_eq!(back.credits, Some(60));
        assert_eq!(
            back.seed,
            Some(3),
            "the requested seed when the server reports none"
        );
        assert!(back.timings.generation_ms.is_some());
    }
}
