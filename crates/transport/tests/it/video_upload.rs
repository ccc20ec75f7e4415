//! Reference videos: checked locally (a text file named .mp4 never leaves the machine), streamed
//! as multipart field `file` to the media endpoint, retried like every upload (re-opening the
//! file), and the key never in an error.

use std::path::PathBuf;

use crate::common;

use common::*;
use pixfuse_core::endpoint::MEDIA_UPLOAD;
use pixfuse_transport::{TransportError, VideoFormat};
use serde_json::json;
use wiremock::matchers::{header_exists, method, path};
use wiremock::{Mock, Request, ResponseTemplate};

/// Matches a body holding `needle` (the body is binary: a string matcher would refuse it).
fn body_has(needle: &'static str) -> impl Fn(&Request) -> bool {
    move |req: &Request| {
        req.body
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/video")
        .join(name)
}

#[tokio::test]
async fn a_video_is_streamed_as_field_file_and_its_media_id_read_exactly() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .and(header_exists("ai-trace-id"))
        .and(body_has("name=\"file\"; filename=\"clip-2s.mp4\""))
        .and(body_has("Content-Type: video/mp4"))
        .respond_with(ok(json!({
            "media_id": 9007199254740993u64,
            "media_type": "video",
            "url": "https://cdn.example/v.mp4",
            "width": 64,
            "height": 36
        })))
        .expect(1)
        .mount(&server)
        .await;
    let up = transport(&server)
        .upload_video(&fixture("clip-2s.mp4"))
        .await
        .unwrap();
    assert_eq!(up.media_id, 9007199254740993);
    assert_eq!(up.media_type.as_deref(), Some("video"));
    assert_eq!((up.width, up.height), (Some(64), Some(36)));
    let info = up.video.unwrap();
    assert_eq!(info.format, VideoFormat::Mp4);
    assert_eq!(info.duration_ms, Some(2000));
    let sent = &server.received_requests().await.unwrap()[0];
    let bytes = std::fs::read(fixture("clip-2s.mp4")).unwrap();
    assert!(
        sent.body.windows(bytes.len()).any(|w| w == bytes),
        "the whole file is in the part"
    );
}

#[tokio::test]
async fn a_text_file_named_mp4_is_refused_before_any_request() {
    let server = server().await;
    let e = transport(&server)
        .upload_video(&fixture("not-a-video.mp4"))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Video { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("not-a-video.mp4") && text.contains("not a video"),
        "{text}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_long_video_goes_with_its_warnings() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .respond_with(ok(json!({"media_id": 5})))
        .expect(1)
        .mount(&server)
        .await;
    let up = transport(&server)
        .upload_video(&fixture("long-31s.mp4"))
        .await
        .unwrap();
    let codes: Vec<_> = up.video.unwrap().warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["video_too_long"]);
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_the_file_sent_again() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .and(body_has("filename=\"clip-2s.webm\""))
        .respond_with(ok(json!({"media_id": 7, "media_type": "video"})))
        .expect(1)
        .mount(&server)
        .await;
    let up = transport(&server)
        .upload_video(&fixture("clip-2s.webm"))
        .await
        .unwrap();
    assert_eq!(up.media_id, 7);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    let trace = |i: usize| sent[i].headers.get("ai-trace-id").cloned();
    assert_eq!(
        trace(0),
        trace(1),
        "one upload, one trace id across its attempts"
    );
    assert_eq!(sent[0].body.len(), sent[1].body.len());
}

#[tokio::test]
async fn a_refusal_names_the_code_and_never_the_key() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .respond_with(err(500032, &format!("bad format for key {KEY}")))
        .expect(1)
        .mount(&server)
        .await;
    let e = transport(&server)
        .upload_video(&fixture("clip-3s.mov"))
        .await
        .unwrap_err();
    assert_eq!(e.err_code(), Some(500032));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn a_url_goes_as_field_file_url() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(MEDIA_UPLOAD.path))
        .and(body_has("name=\"file_url\""))
        .and(body_has("https://cdn.example/clip.mp4"))
        .respond_with(ok(json!({"media_id": 8})))
        .expect(1)
        .mount(&server)
        .await;
    let t = transport(&server);
    let up = t
        .upload_video_url("https://cdn.example/clip.mp4")
        .await
        .unwrap();
    assert_eq!((up.media_id, up.video), (8, None));
    let e = t
        .upload_video_url("ftp://cdn.example/clip.mp4")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("https"), "{e}");
}
