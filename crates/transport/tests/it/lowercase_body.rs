//! A moderation rejection arrives as HTTP 500 with lower-case keys: it is still read as its
//! ErrCode (moderation, never retried), not as a retryable server error.

use crate::common;

use common::*;
use pixfuse_core::ErrorClass;
use pixfuse_core::endpoint::UPLOAD;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

#[tokio::test]
async fn lower_case_error_body_on_500() {
    let server = server().await;
    Mock::given(method("POST"))
        .and(path(UPLOAD.path))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            json!({"err_code": 500052, "err_msg": "image moderation failed", "resp": null}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("a.png");
    std::fs::write(&img, png(10, 10)).unwrap();
    let e = transport(&server).upload_image(&img).await.unwrap_err();
    assert_eq!(e.class(), Some(ErrorClass::Moderation));
    assert_eq!((e.status(), e.err_code()), (Some(500), Some(500052)));
    assert_eq!(e.err_msg(), Some("image moderation failed"));
    assert!(!e.is_retryable());
    assert_eq!(
        e.to_string(),
        "content moderation rejected the input (ErrCode 500052): change the image or prompt \
         (the server said: \"image moderation failed\")"
    );
}
