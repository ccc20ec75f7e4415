//! `--dry-run`: the exact HTTP requests a job would send, with the key redacted. Nothing is sent
//! and nothing is journaled; no key is needed.

use std::fmt;
use std::path::Path;

use pixfuse_core::{ImageSource, Job};
use pixfuse_transport::Provider;
use pixfuse_transport::endpoints::{GENERATE, UPLOAD};
use serde_json::Value;
use uuid::Uuid;

use crate::journal::Journal;

/// One request that would be sent.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlannedRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: PlannedBody,
}

/// Its body.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PlannedBody {
    Json { json: String },
    Multipart { field: &'static str, value: String },
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
    let mut img_ids = Vec::new();
    for reference in &job.image_references {
        let (field, value) = match &reference.source {
            ImageSource::ImgId(id) => {
                img_ids.push(Value::from(*id));
                continue;
            }
            ImageSource::Path(p) => {
                if let Some(id) = cached_img_id(Path::new(p), base, journal).await {
                    img_ids.push(Value::from(id));
                    continue;
                }
                ("image", format!("@{p}"))
            }
            ImageSource::Url(u) => ("image_url", u.clone()),
        };
        img_ids.push(Value::String(format!(
            "<img_id from upload of {}>",
            reference.ref_name
        )));
        requests.push(PlannedRequest {
            method: UPLOAD.method,
            url: format!("{base}{}", UPLOAD.path),
            headers: headers(Uuid::new_v4(), "multipart/form-data"),
            body: PlannedBody::Multipart { field, value },
        });
    }
    let mut body = job.to_json_value();
    if let Some(refs) = body
        .get_mut("image_references")
        .and_then(Value::as_array_mut)
    {
        for (reference, img_id) in refs.iter_mut().zip(img_ids) {
            if let Some(obj) = reference.as_object_mut() {
                obj.remove("image");
                obj.insert("img_id".into(), img_id);
            }
        }
    }
    let json = reorder(&body);
    requests.push(PlannedRequest {
        method: GENERATE.method,
        url: format!("{base}{}", GENERATE.path),
        headers: headers(Uuid::new_v4(), "application/json"),
        body: PlannedBody::Json { json },
    });
    requests
}

/// Re-serializes with `type, img_id, ref_name` order in references, as the submit sends them.
fn reorder(body: &Value) -> String {
    let mut body = body.clone();
    if let Some(refs) = body
        .get_mut("image_references")
        .and_then(Value::as_array_mut)
    {
        for reference in refs.iter_mut() {
            if let Some(obj) = reference.as_object_mut() {
                let mut ordered = serde_json::Map::new();
                for key in ["type", "img_id", "ref_name"] {
                    if let Some(v) = obj.remove(key) {
                        ordered.insert(key.into(), v);
                    }
                }
                ordered.append(obj);
                *obj = ordered;
            }
        }
    }
    body.to_string()
}

async fn cached_img_id(path: &Path, origin: &str, journal: Option<&Journal>) -> Option<u64> {
    let journal = journal?;
    let (sha, _) = crate::client::hash_file(path).await.ok()?;
    journal
        .cached_upload(origin, &sha)
        .await
        .ok()
        .flatten()
        .map(|u| u.img_id)
}
