//! `Client::upload_video` against the sandbox: checked locally, uploaded once per content (the
//! images' cache, per server), and a text file named `.mp4` never sent.

use std::path::PathBuf;
use std::time::Duration;

use pixfuse::{Error, MediaType};
use pixfuse_e2e::{sandbox_client, start_sandbox};
use pixfuse_sandbox::{Sandbox, SandboxConfig};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/video")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_is_uploaded_once_per_content_and_never_taken_for_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::for_tests()).await.unwrap();
    let state = dir.path().join("state");
    let client = sandbox_client(&sandbox, &state, Duration::from_millis(5));
    let first = client.upload_video(&fixture("clip-2s.mp4")).await.unwrap();
    assert!(!first.reused);
    let info = first.video.as_ref().unwrap();
    assert_eq!(
        (info.duration_ms, info.width, info.height),
        (Some(2000), Some(64), Some(36))
    );
    // The same bytes under another name, from a new client on the same journal: reused.
    let copy = dir.path().join("copy.mp4");
    std::fs::copy(fixture("clip-2s.mp4"), &copy).unwrap();
    let again = sandbox_client(&sandbox, &state, Duration::from_millis(5));
    let second = again.upload_video(&copy).await.unwrap();
    assert_eq!((second.media_id, second.reused), (first.media_id, true));
    assert_eq!(
        second.video.unwrap().duration_ms,
        Some(2000),
        "still measured locally"
    );
    let other = client.upload_video(&fixture("clip-2s.webm")).await.unwrap();
    assert_ne!(other.media_id, first.media_id);
    assert_eq!(sandbox.stats().video_uploads, 2);
    let sha = pixfuse_sha(&fixture("clip-2s.mp4"));
    let journal = client.journal();
    let origin = client.origin();
    let as_image = journal
        .cached_upload(origin, &sha, MediaType::Image)
        .await
        .unwrap();
    assert_eq!(as_image, None);
    let as_video = journal
        .cached_upload(origin, &sha, MediaType::Video)
        .await
        .unwrap();
    assert_eq!(as_video.map(|u| u.img_id), Some(first.media_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_file_named_mp4_is_refused_before_any_upload() {
    let dir = tempfile::tempdir().unwrap();
    let (sandbox, client) = start_sandbox(dir.path(), Duration::from_millis(5)).await;
    let e = client
        .upload_video(&fixture("not-a-video.mp4"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("not-a-video.mp4: not a video"), "{text}");
    let stats = sandbox.stats();
    assert_eq!((stats.media_upload_requests, stats.video_uploads), (0, 0));
}

fn pixfuse_sha(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}
