//! A small vendor-shaped client over reqwest, for the sandbox's own tests.

use std::time::Duration;

use pixfuse_core::endpoint;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

pub const DOG_PNG: &[u8] = include_bytes!("../../../../../examples/dog.png");
pub const ROOM_PNG: &[u8] = include_bytes!("../../../../../examples/room.png");

pub struct Api {
    pub sandbox: RunningSandbox,
    pub http: reqwest::Client,
    pub key: String,
}

pub async fn start(config: SandboxConfig) -> Api {
    let sandbox = Sandbox::start(config).await.unwrap();
    let key = sandbox.demo_key_str();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Api { sandbox, http, key }
}

pub fn fast() -> SandboxConfig {
    SandboxConfig {
        generation_time: Duration::from_millis(30),
        ..SandboxConfig::default()
    }
}

/// A valid vendor request over `img_ids` (first subject "dog", second background "room").
pub fn request(img_ids: &[u64], prompt: &str) -> Value {
    let names = ["dog", "room"];
    let types = ["subject", "background"];
    let refs: Vec<Value> = img_ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({ "type": types[i], "img_id": id, "ref_name": names[i] }))
        .collect();
    json!({
        "image_references": refs,
        "prompt": prompt,
        "model": "v5",
        "duration": 5,
        "quality": "540p",
        "aspect_ratio": "16:9",
    })
}

impl Api {
    /// The sandbox's URL of `path` (one of core's endpoint paths).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    /// Raw upload answer: (HTTP status, body text).
    pub async fn upload_raw(&self, file_name: &str, bytes: &[u8]) -> (u16, String) {
        let part = Part::bytes(bytes.to_vec()).file_name(file_name.to_owned());
        let response = self
            .http
            .post(self.url(endpoint::UPLOAD.path))
            .header("API-KEY", &self.key)
            .header("Ai-trace-id", uuid())
            .multipart(Form::new().part("image", part))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The envelope answering an upload of `form` (any HTTP status).
    pub async fn upload_form(&self, form: Form) -> Value {
        self.http
            .post(self.url(endpoint::UPLOAD.path))
            .header("API-KEY", &self.key)
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Uploads and returns the img_id, read as an exact u64.
    pub async fn upload(&self, file_name: &str, bytes: &[u8]) -> u64 {
        let (status, body) = self.upload_raw(file_name, bytes).await;
        assert_eq!(status, 200, "{body}");
        let envelope: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(envelope["ErrCode"], 0, "{body}");
        envelope["Resp"]["img_id"].as_u64().unwrap()
    }

    pub async fn dog_and_room(&self) -> Vec<u64> {
        vec![
            self.upload("dog.png", DOG_PNG).await,
            self.upload("room.png", ROOM_PNG).await,
        ]
    }

    pub async fn submit_raw(
        &self,
        body: &Value,
        trace_id: &str,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.http
            .post(self.url(endpoint::GENERATE.path))
            .header("API-KEY", &self.key)
            .header("Ai-trace-id", trace_id)
            .json(body)
            .send()
            .await
    }

    /// Submits and returns the envelope (HTTP status must be 200).
    pub async fn submit(&self, body: &Value, trace_id: &str) -> Value {
        let response = self.submit_raw(body, trace_id).await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self
            .http
            .get(self.url(path))
            .header("API-KEY", &self.key)
            .header("Ai-trace-id", uuid())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn result(&self, video_id: u64) -> Value {
        self.get_json(&endpoint::result_path(video_id)).await
    }

    /// Polls until the status is no longer 5 (bounded: at most 5 s).
    pub async fn wait(&self, video_id: u64) -> Value {
        for _ in 0..500 {
            let envelope = self.result(video_id).await;
            if envelope["Resp"]["status"] != 5 {
                return envelope;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("video {video_id} still generating after 5 s");
    }

    pub async fn credits_left(&self) -> u64 {
        let balance = self.get_json(endpoint::BALANCE.path).await;
        balance["Resp"]["credit_monthly"].as_u64().unwrap()
            + balance["Resp"]["credit_package"].as_u64().unwrap()
    }
}

pub fn video_id(envelope: &Value) -> u64 {
    assert_eq!(envelope["ErrCode"], 0, "{envelope}");
    envelope["Resp"]["video_id"].as_u64().unwrap()
}

/// A fresh trace id (tests need uniqueness, not randomness).
pub fn uuid() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "00000000-0000-4000-8000-{:012x}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
