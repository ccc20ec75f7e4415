//! Every public future is `Send`, so callers can spawn them on a multi-threaded runtime.
//! (A compile-time check: the body never runs the futures.)

use std::path::Path;
use std::time::Duration;

use pixfuse_transport::Transport;

fn assert_send<T: Send>(_: &T) {}

#[allow(dead_code)]
fn futures_are_send(t: &Transport) {
    let mut on_event = |_| {};
    let mut on_progress = |_| {};
    assert_send(&t.upload_image(Path::new("a.png")));
    assert_send(&t.upload_image_url("https://x"));
    assert_send(&t.upload_video(Path::new("a.mp4")));
    assert_send(&t.upload_video_url("https://x"));
    assert_send(&t.submit(bytes::Bytes::new(), uuid::Uuid::nil()));
    assert_send(&t.status(1));
    assert_send(&t.balance());
    assert_send(&t.wait(1, Some(Duration::ZERO), &mut on_event));
    let options = pixfuse_transport::DownloadOptions::default();
    assert_send(&t.download("https://x", Path::new("v.mp4"), &options, &mut on_progress));
}

#[test]
fn transport_is_send_and_sync() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Transport>();
}
