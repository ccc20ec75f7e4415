//! `--dry-run`: the exact HTTP requests a job would send, with the key redacted. Nothing is sent
//! and nothing is journaled; no key is needed.

use std::fmt;
use std::path::Path;

use pixfuse_core::endpoint::{GENERATE, MEDIA_UPLOAD, UPLOAD};
use pixfuse_core::{ImageSource, Job, VideoSource};
use pixfuse_transport::Provider;
use serde_json::Value;
use uuid::Uuid;

use crate::journal::{Journal, MediaType};

/// One request that would be sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlannedRequest {
    /// `GET` or `POST`.
    pub method: &'static str,
    /// The full URL.
    pub url: String,
    /// Headers, the key's redacted.
    pub headers: Vec<(String, String)>,
    /// What it carries.
    pub body: PlannedBody,
}

/// Its body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PlannedBody {
    /// A JSON body.
    Json {
        /// The body as it would be sent.
        json: String,
    },
    /// A multipart form of one field.
    Multipart {
        /// The field's name (`image`, `image_url`).
        field: &'static str,
        /// What it would carry (a file's path, a URL).
        value: String,
    },
}

impl fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.method, self.url)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}: {value}")?;
        }
        writeln!(f)?;
        match &self.body {
            PlannedBody::Json { json } => writeln!(f, "{json}"),
            PlannedBody::Multipart { field, value } => writeln!(f, "{field}={value}"),
        }
    }
}

/// The requests `job` would cause at `base_url`: one upload per local image the journal has not
/// seen (same content at the same origin — the base URL — reuses its img_id), then the submit.
/// Unknown img_ids appear as a placeholder string naming their upload.
pub async fn plan(
    job: &Job,
    provider: Provider,
    base_url: &str,
    journal: Option<&Journal>,
) -> Vec<PlannedRequest> {
    let base = base_url.trim_end_matches('/');
    let headers = |trace: Uuid, content_type: &str| {
        vec![
            {
                let (name, value) = provider.auth_style().redacted_header();
                (name.to_owned(), value.to_owned())
            },
            ("Ai-trace-id".into(), trace.to_string()),
            ("Content-Type".into(), content_type.into()),
        ]
    };
    let mut requests = Vec::new();
    // The submit body as it will be sent; an id still to upload shows as a placeholder.
    let mut body_job = job.clone();
    let mut placeholders = Vec::new();
    for reference in &mut body_job.image_references {
        let (field, value) = match &reference.source {
            ImageSource::ImgId(_) => {
                placeholders.push(None);
                continue;
            }
            ImageSource::Path(p) => {
                if let Some(id) = cached_id(Path::new(p), base, journal, MediaType::Image).await {
                    reference.source = ImageSource::ImgId(id);
                    placeholders.push(None);
                    continue;
                }
                ("image", format!("@{p}"))
            }
            ImageSource::Url(u) => ("image_url", u.clone()),
        };
        placeholders.push(Some(format!(
            "<img_id from upload of {}>",
            reference.ref_name
        )));
        reference.source = ImageSource::ImgId(0);
        requests.push(PlannedRequest {
            method: UPLOAD.method,
            url: format!("{base}{}", UPLOAD.path),
            headers: headers(Uuid::new_v4(), "multipart/form-data"),
            body: PlannedBody::Multipart { field, value },
        });
    }
    let mut video_placeholders = Vec::new();
    for reference in &mut body_job.video_references {
        let (field, value) = match &reference.source {
            VideoSource::Path(p) => {
                if let Some(id) = cached_id(Path::new(p), base, journal, MediaType::Video).await {
                    reference.source = VideoSource::MediaId(id);
                    video_placeholders.push(None);
                    continue;
                }
                ("file", format!("@{p}"))
            }
            VideoSource::Url(u) => ("file_url", u.clone()),
            _ => {
                video_placeholders.push(None);
                continue;
            }
        };
        video_placeholders.push(Some(format!(
            "<video_media_id from upload of {}>",
            reference.ref_name
        )));
        reference.source = VideoSource::MediaId(0);
        requests.push(PlannedRequest {
            method: MEDIA_UPLOAD.method,
            url: format!("{base}{}", MEDIA_UPLOAD.path),
            headers: headers(Uuid::new_v4(), "multipart/form-data"),
            body: PlannedBody::Multipart { field, value },
        });
    }
    let json = body_job
        .to_request_json()
        .map(|body| with_placeholders(&body, "\"img_id\":", &placeholders))
        .map(|body| with_placeholders(&body, "\"video_media_id\":", &video_placeholders))
        .unwrap_or_default();
    requests.push(PlannedRequest {
        method: GENERATE.method,
        url: format!("{base}{}", GENERATE.path),
        headers: headers(Uuid::new_v4(), "application/json"),
        body: PlannedBody::Json { json },
    });
    requests
}

/// Writes `placeholders[i]` (a JSON string) in place of the i-th reference's id under `key`
/// (`"img_id":` or `"video_media_id":`). Each reference has exactly one such key, and a string
/// value can only hold that text escaped, so the occurrences in order are the references' ids.
fn with_placeholders(body: &str, key: &str, placeholders: &[Option<String>]) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    for placeholder in placeholders {
        let Some(at) = rest.find(key) else { break };
        let value_start = at + key.len();
        out.push_str(&rest[..value_start]);
        rest = &rest[value_start..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match placeholder {
            Some(text) => out.push_str(&Value::String(text.clone()).to_string()),
            None => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

async fn cached_id(
    path: &Path,
    origin: &str,
    journal: Option<&Journal>,
    media_type: MediaType,
) -> Option<u64> {
    let journal = journal?;
    let (sha, _) = crate::client::hash_file(path).await.ok()?;
    journal
        .cached_upload(origin, &sha, media_type)
        .await
        .ok()
        .flatten()
        .map(|u| u.img_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn placeholders_replace_only_the_reference_ids_in_order() {
        let job: Job = serde_json::from_str(
            r#"{"image_references":[
                {"type":"subject","img_id":18446744073709551615,"ref_name":"dog"},
                {"type":"background","image":"room.png","ref_name":"room"}],
                "prompt":"@dog \"img_id\":1 at @room ","model":"v5","duration":5,"quality":"540p",
                "aspect_ratio":"16:9","zz":{"img_id":3}}"#,
        )
        .unwrap();
        let plan = plan(&job, Provider::Pixverse, "http://127.0.0.1:1", None).await;
        assert_eq!(plan.len(), 2, "one upload, then the submit");
        let PlannedBody::Json { json } = &plan[1].body else {
            panic!("the submit has a JSON body")
        };
        assert_eq!(
            json,
            r#"{"image_references":[{"type":"subject","img_id":18446744073709551615,"ref_name":"dog"},{"type":"background","img_id":"<img_id from upload of room>","ref_name":"room"}],"prompt":"@dog \"img_id\":1 at @room ","model":"v5","duration":5,"quality":"540p","aspect_ratio":"16:9","zz":{"img_id":3}}"#
        );
    }
}
