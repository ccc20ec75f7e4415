//! The exact shape of every request (method, path, headers, body), snapshotted with the key
//! and trace id redacted after checking them.

use crate::common;

use common::*;
use pixfuse_core::endpoint::{BALANCE, GENERATE, UPLOAD, result_path};
use pixfuse_transport::Transport;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request};

fn shape(req: &Request) -> Value {
    let mut headers = serde_json::Map::new();
    let mut names: Vec<_> = req.headers.keys().map(|k| k.as_str().to_owned()).collect();
    names.sort();
    let mut boundary = None;
    for name in names {
        let value = req.headers.get(&name).unwrap().to_str().unwrap().to_owned();
        let shown = match name.as_str() {
            "host" => continue,
            "api-key" => {
                assert_eq!(value, KEY);
                "[key]".to_owned()
            }
            "authorization" => {
                assert_eq!(value, format!("Bearer {KEY}"));
                "Bearer [key]".to_owned()
            }
            "ai-trace-id" => {
                Uuid::parse_str(&value).expect("trace id is a UUID");
                "[uuid]".to_owned()
            }
            "content-type" if value.starts_with("multipart/form-data; boundary=") => {
                boundary = Some(value["multipart/form-data; boundary=".len()..].to_owned());
                "multipart/form-data; boundary=[boundary]".to_owned()
            }
            _ => value,
        };
        headers.insert(name, Value::String(shown));
    }
    let body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(json) => json,
        Err(_) => {
            let text = String::from_utf8_lossy(&req.body).into_owned();
            Value::String(match &boundary {
                Some(b) => text.replace(b, "[boundary]"),
                None => text,
            })
        }
    };
    json!({
        "method": req.method.as_str(),
        "path": req.url.path(),
        "headers": headers,
        "body": body,
    })
}

async fn only_request(server: &MockServer) -> Value {
    let mut reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    shape(&reqs.remove(0))
}

async fn mount(server: &MockServer, m: &str, p: &str, resp: Value) {
    Mock::given(method(m))
        .and(path(p))
        .respond_with(ok(resp))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn submit() {
    let server = server().await;
    mount(&server, "POST", GENERATE.path, json!({"video_id": 1})).await;
    transport(&server)
        .submit(fusion_body(), Uuid::new_v4())
        .await
        .unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}

#[tokio::test]
async fn upload_file() {
    let server = server().await;
    mount(&server, "POST", UPLOAD.path, json!({"img_id": 1})).await;
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("cat.png");
    std::fs::write(&img, png(2, 3)).unwrap();
    transport(&server).upload_image(&img).await.unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}

#[tokio::test]
async fn upload_url() {
    let server = server().await;
    mount(&server, "POST", UPLOAD.path, json!({"img_id": 1})).await;
    transport(&server)
        .upload_image_url("https://example.com/cat.png")
        .await
        .unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}

#[tokio::test]
async fn status() {
    let server = server().await;
    mount(
        &server,
        "GET",
        &result_path(12345678901234567),
        json!({"status": 5}),
    )
    .await;
    transport(&server).status(12345678901234567).await.unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}

#[tokio::test]
async fn balance() {
    let server = server().await;
    mount(&server, "GET", BALANCE.path, json!({"credit_monthly": 1})).await;
    transport(&server).balance().await.unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}

#[tokio::test]
async fn download_carries_no_key_and_no_trace_id() {
    let server = server().await;
    Mock::given(method("GET"))
        .and(path("/v.mp4"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_bytes(mp4(64)))
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let t: Transport = transport(&server);
    t.download(
        &format!("{}/v.mp4", server.uri()),
        &dir.path().join("v.mp4"),
        &Default::default(),
        &mut |_| {},
    )
    .await
    .unwrap();
    insta::assert_json_snapshot!(only_request(&server).await);
}
