//! `POST …/media/upload`: reference videos as field `file` or `file_url`, judged by core's video
//! preflight (only a file that is no video at all is refused), stored with what the header said
//! and served back at the answer's `url`.

use crate::common::*;
use pixfuse_core::endpoint::MEDIA_UPLOAD;
use pixfuse_sandbox::{SandboxConfig, UrlUploads};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../tests/fixtures/video/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn media_upload(api: &Api, form: Form) -> Value {
    let response = api
        .http
        .post(api.url(MEDIA_UPLOAD.path))
        .header("API-KEY", &api.key)
        .header("Ai-trace-id", uuid())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn file(name: &str) -> Form {
    let part = Part::bytes(fixture(name)).file_name(name.to_owned());
    Form::new().part("file", part)
}

#[tokio::test]
async fn a_video_is_stored_with_its_sides_and_served_back() {
    let api = start(fast()).await;
    for (name, w, h) in [
        ("clip-2s.mp4", 64, 36),
        ("clip-3s.mov", 48, 32),
        ("clip-2s.webm", 64, 36),
    ] {
        let envelope = media_upload(&api, file(name)).await;
        assert_eq!(envelope["ErrCode"], 0, "{name}: {envelope}");
        let resp = &envelope["Resp"];
        assert_eq!(resp["media_type"], "video");
        assert_eq!(
            (resp["width"].as_u64(), resp["height"].as_u64()),
            (Some(w), Some(h))
        );
        let media_id = resp["media_id"].as_u64().unwrap();
        let url = resp["url"].as_str().unwrap();
        assert!(url.contains(&media_id.to_string()), "{url}");
        let served = api.http.get(url).send().await.unwrap();
        assert_eq!(served.status(), 200, "{url}");
        assert_eq!(served.bytes().await.unwrap(), fixture(name), "{name}");
    }
    let stats = api.sandbox.stats();
    assert_eq!(
        (
            stats.video_uploads,
            stats.media_upload_requests,
            stats.uploads
        ),
        (3, 3, 0)
    );
}

#[tokio::test]
async fn a_text_file_named_mp4_is_refused_and_limits_are_only_warnings() {
    let api = start(fast()).await;
    let envelope = media_upload(&api, file("not-a-video.mp4")).await;
    assert_eq!(envelope["ErrCode"], 500032, "{envelope}");
    // Longer than the upload's 30 s and wider than 1920 px: the table says warning, so stored.
    for name in ["long-31s.mp4", "wide-2000px.mp4"] {
        let envelope = media_upload(&api, file(name)).await;
        assert_eq!(envelope["ErrCode"], 0, "{name}: {envelope}");
    }
    let empty = media_upload(&api, Form::new().text("other", "x")).await;
    assert_eq!(empty["ErrCode"], 400011, "{empty}");
    assert_eq!(api.sandbox.stats().video_uploads, 2);
}

#[tokio::test]
async fn a_file_url_is_fetched_like_an_image_url() {
    let source = start(fast()).await;
    let first = media_upload(&source, file("clip-2s.webm")).await;
    let url = first["Resp"]["url"].as_str().unwrap().to_owned();
    let api = start(SandboxConfig {
        url_uploads: UrlUploads::Fetch,
        ..fast()
    })
    .await;
    let envelope = media_upload(&api, Form::new().text("file_url", url)).await;
    assert_eq!(envelope["ErrCode"], 0, "{envelope}");
    assert_eq!(envelope["Resp"]["width"], 64);
    // A remote host in the default placeholder mode gets the sandbox's own sample video.
    let remote = media_upload(
        &source,
        Form::new().text("file_url", "https://cdn.example.com/clip.mp4"),
    )
    .await;
    assert_eq!(remote["ErrCode"], 0, "{remote}");
    assert_eq!(remote["Resp"]["media_type"], "video");
}
