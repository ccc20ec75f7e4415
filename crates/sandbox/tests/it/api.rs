//! Uploads, balance, results and auth: the vendor's envelope shapes and ErrCodes.

use crate::common;

use common::{DOG_PNG, fast, start, uuid};
use pixfuse_core::endpoint;
use pixfuse_sandbox::{AuthStyle, SandboxConfig};
use secrecy::SecretString;
use serde_json::Value;

#[tokio::test]
async fn upload_answers_a_realistic_img_id_and_serves_the_image() {
    let api = start(fast()).await;
    let (status, body) = api.upload_raw("dog.png", DOG_PNG).await;
    assert_eq!(status, 200);
    let envelope: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["ErrCode"], 0);
    assert_eq!(envelope["ErrMsg"], "success");
    let img_id = envelope["Resp"]["img_id"].as_u64().unwrap();
    // Like the vendor's: around 3 × 10^14, exact in a JavaScript number.
    assert!((100_000_000_000_000..1 << 53).contains(&img_id), "{img_id}");
    assert_eq!(img_id as f64 as u64, img_id);
    assert!(body.contains(&format!("\"img_id\":{img_id}")), "{body}");

    let img_url = envelope["Resp"]["img_url"].as_str().unwrap();
    let served = api.http.get(img_url).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.bytes().await.unwrap().as_ref(), DOG_PNG);
    assert_eq!(api.sandbox.stats().uploads, 1);
}

#[tokio::test]
async fn big_ids_are_above_2_to_the_53_for_clients_that_use_floats() {
    let api = start(SandboxConfig {
        big_ids: true,
        ..fast()
    })
    .await;
    let (_, body) = api.upload_raw("dog.png", DOG_PNG).await;
    let envelope: Value = serde_json::from_str(&body).unwrap();
    let img_id = envelope["Resp"]["img_id"].as_u64().unwrap();
    assert!(img_id > 1 << 53, "{img_id}");
    assert_ne!(img_id as f64 as u64, img_id, "no f64 holds it");
    assert!(body.contains(&format!("\"img_id\":{img_id}")), "{body}");
}

#[tokio::test]
async fn upload_judges_the_format_by_its_bytes_not_its_name() {
    let api = start(fast()).await;
    let (status, body) = api.upload_raw("cat.png", b"GIF89a\x01\x00\x01\x00").await;
    assert_eq!(status, 200);
    let envelope: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["ErrCode"], 500032, "{body}");
    // The error table's meaning, as terse as the vendor's.
    let meaning = pixfuse_core::errcode::lookup(500032).unwrap().meaning;
    assert_eq!(envelope["ErrMsg"], meaning);

    // A PNG named .jpg is still a PNG.
    api.upload("dog.jpg", DOG_PNG).await;

    // PNG magic with a damaged header cannot be measured.
    let (_, body) = api.upload_raw("broken.png", b"\x89PNG\r\n\x1a\n").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["ErrCode"],
        500031,
        "{body}"
    );
    assert_eq!(api.sandbox.stats().uploads, 1);
}

#[tokio::test]
async fn upload_refuses_images_over_the_size_limit() {
    let api = start(fast()).await;
    let limit = pixfuse_core::CAPABILITIES.upload.max_bytes.value as usize;
    let mut big = DOG_PNG.to_vec();
    big.resize(limit + 1, 0);
    let (status, body) = api.upload_raw("big.png", &big).await;
    assert_eq!(status, 200);
    let envelope: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["ErrCode"], 500030, "{body}");
}

#[tokio::test]
async fn upload_without_the_image_field_is_an_empty_parameter() {
    let api = start(fast()).await;
    let form = reqwest::multipart::Form::new().text("other", "x");
    let envelope = api.upload_form(form).await;
    assert_eq!(envelope["ErrCode"], 400011);
}

#[tokio::test]
async fn moderation_refuses_an_upload_with_the_lower_case_500_body() {
    let api = start(fast()).await;
    let (status, body) = api.upload_raw("sandbox-moderate.png", DOG_PNG).await;
    assert_eq!(status, 500);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["err_code"], 500052);
    assert!(body["err_msg"].is_string());
    assert!(
        body["resp"].is_null() && body.get("resp").is_some(),
        "{body}"
    );
    assert!(body.get("ErrCode").is_none());
}

#[tokio::test]
async fn balance_splits_the_starting_credits() {
    let api = start(SandboxConfig {
        starting_credits: 1001,
        ..fast()
    })
    .await;
    let envelope = api.get_json(endpoint::BALANCE.path).await;
    assert_eq!(envelope["ErrCode"], 0);
    let resp = &envelope["Resp"];
    assert!(resp["account_id"].is_u64());
    assert_eq!(resp["credit_monthly"], 500);
    assert_eq!(resp["credit_package"], 501);
}

#[tokio::test]
async fn result_of_an_unknown_video_is_not_found_in_a_200_envelope() {
    let api = start(fast()).await;
    let envelope = api.result(42).await;
    assert_eq!(envelope["ErrCode"], 500008);
    assert!(envelope["Resp"].is_null(), "{envelope}");
    let envelope = api
        .get_json(&format!("{}not-a-number", endpoint::RESULT_PREFIX))
        .await;
    assert_eq!(envelope["ErrCode"], 400013);
}

async fn balance_status(api: &common::Api, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = api.http.get(api.url(endpoint::BALANCE.path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_missing_or_wrong_key_is_refused_as_the_vendor_does() {
    let api = start(fast()).await;
    for headers in [
        vec![],
        vec![("API-KEY", "nope")],
        vec![("Authorization", "Bearer nope")],
    ] {
        let (status, body) = balance_status(&api, &headers).await;
        assert_eq!(status, 401, "{headers:?}");
        assert_eq!(body["ErrCode"], 400012);
        assert_eq!(body["ErrMsg"], "Invalid API-KEY");
        assert!(body["Resp"].is_null());
    }
    let key = api.key.clone();
    let bearer = format!("Bearer {key}");
    assert_eq!(balance_status(&api, &[("API-KEY", &key)]).await.0, 200);
    assert_eq!(
        balance_status(&api, &[("Authorization", &bearer)]).await.0,
        200
    );
}

#[tokio::test]
async fn the_auth_style_and_the_keys_are_configurable() {
    let api = start(SandboxConfig {
        keys: vec![SecretString::from("k-one"), SecretString::from("k-two")],
        auth_style: AuthStyle::Bearer,
        ..fast()
    })
    .await;
    assert_eq!(api.key, "k-one");
    assert_eq!(
        balance_status(&api, &[("Authorization", "Bearer k-two")])
            .await
            .0,
        200
    );
    assert_eq!(balance_status(&api, &[("API-KEY", "k-two")]).await.0, 401);
    assert_eq!(
        balance_status(
            &api,
            &[(
                "Authorization",
                &format!("Bearer {}", pixfuse_sandbox::DEMO_KEY)
            )]
        )
        .await
        .0,
        401
    );

    let api = start(SandboxConfig {
        auth_style: AuthStyle::ApiKey,
        ..fast()
    })
    .await;
    let bearer = format!("Bearer {}", api.key);
    assert_eq!(
        balance_status(&api, &[("Authorization", &bearer)]).await.0,
        401
    );
    let key = api.key.clone();
    assert_eq!(
        balance_status(&api, &[("api-key", &key), ("Ai-trace-id", &uuid())])
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn invalid_knobs_are_refused_at_start() {
    let bad = [
        SandboxConfig {
            concurrency_limit: 0,
            ..fast()
        },
        SandboxConfig {
            faults: pixfuse_sandbox::FaultConfig {
                rate_limit: 1.5,
                ..Default::default()
            },
            ..fast()
        },
        SandboxConfig {
            moderation_trigger: Some(" ".into()),
            ..fast()
        },
        SandboxConfig {
            generation_time: std::time::Duration::from_secs(3 * 3600),
            ..fast()
        },
        SandboxConfig {
            time_scale: 0.0,
            ..fast()
        },
        SandboxConfig {
            prices: pixfuse_sandbox::Prices::Scaled(f64::NAN),
            ..fast()
        },
    ];
    for config in bad {
        let error = pixfuse_sandbox::Sandbox::start(config).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid sandbox configuration"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let api = start(fast()).await;
    let url = api.url(endpoint::BALANCE.path);
    api.sandbox.shutdown().await.unwrap();
    let refused = api.http.get(url).send().await;
    assert!(refused.is_err());
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An upload by `image_url` in a urlencoded body: (HTTP status, envelope).
async fn upload_url(api: &common::Api, url: &str) -> (u16, Value) {
    let response = api
        .http
        .post(api.url(endpoint::UPLOAD.path))
        .header("API-KEY", &api.key)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("image_url={}", percent_encode(url)))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn url_uploads_fetch_loopback_and_stand_in_for_other_hosts() {
    let api = start(fast()).await;
    let dog = api.upload("dog.png", DOG_PNG).await;
    let dog_url = format!("{}/media/image/{dog}.png", api.sandbox.base_url());
    let (_, fetched) = upload_url(&api, &dog_url).await;
    let served = |envelope: &Value| {
        let url = envelope["Resp"]["img_url"].as_str().unwrap().to_owned();
        let http = api.http.clone();
        async move { http.get(url).send().await.unwrap().bytes().await.unwrap() }
    };
    assert_eq!(served(&fetched).await.as_ref(), DOG_PNG, "{fetched}");
    let (_, remote) = upload_url(&api, "https://cdn.example.com/dog.png").await;
    let placeholder = include_bytes!("../../assets/placeholder.png");
    assert_eq!(served(&remote).await.as_ref(), placeholder, "{remote}");

    // A loopback URL that serves nothing: the upload failed.
    let missing = format!("{}/media/image/1.png", api.sandbox.base_url());
    assert_eq!(upload_url(&api, &missing).await.1["ErrCode"], 500041);
    // Not a URL at all, or not http(s).
    for bad in ["not a url", "ftp://127.0.0.1/dog.png"] {
        let (_, envelope) = upload_url(&api, bad).await;
        assert_eq!(envelope["ErrCode"], 400017, "{bad}: {envelope}");
        assert_eq!(envelope["ErrMsg"], "a parameter is invalid: image_url");
    }
    // The moderation trigger in a URL, as in a file name.
    let (status, body) = upload_url(&api, "https://cdn.example.com/sandbox-moderate.png").await;
    assert_eq!(
        (status, &body["err_code"]),
        (500, &Value::from(500052)),
        "{body}"
    );
    // A form with neither field.
    let (_, envelope) = upload_url(&api, "").await;
    assert_eq!(envelope["ErrCode"], 400011, "{envelope}");
    assert_eq!(api.sandbox.stats().uploads, 3);
}

#[tokio::test]
async fn a_loopback_redirect_off_the_machine_is_not_followed() {
    use axum::response::Redirect;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/away.png",
        axum::routing::get(|| async { Redirect::temporary("https://cdn.example.com/x.png") }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let api = start(fast()).await;
    let (_, envelope) = upload_url(&api, &format!("http://{addr}/away.png")).await;
    assert_eq!(envelope["ErrCode"], 500041, "{envelope}");
    server.abort();
}

#[tokio::test]
async fn url_uploads_can_be_refused_altogether() {
    let api = start(SandboxConfig {
        url_uploads: pixfuse_sandbox::UrlUploads::Refuse,
        ..fast()
    })
    .await;
    let (_, envelope) = upload_url(&api, "https://cdn.example.com/dog.png").await;
    assert_eq!(envelope["ErrCode"], 400017, "{envelope}");
    let form = reqwest::multipart::Form::new().text("image_url", "http://127.0.0.1:9/a.png");
    let envelope = api.upload_form(form).await;
    assert_eq!(envelope["ErrCode"], 400017, "{envelope}");
    // Files are still welcome.
    api.upload("dog.png", DOG_PNG).await;
}

#[tokio::test]
async fn every_endpoint_of_core_s_table_is_served_and_nothing_else() {
    let api = start(fast()).await;
    for e in endpoint::ALL {
        let url = api.url(&e.path.replace("{video_id}", "1"));
        let request = match e.method {
            "GET" => api.http.get(&url),
            "POST" => api.http.post(&url),
            other => panic!("{e}: unexpected method {other}"),
        };
        let response = request
            .header("API-KEY", &api.key)
            .header("Ai-trace-id", uuid())
            .send()
            .await
            .unwrap();
        // Whatever the (empty) request earns, the answer is the vendor's envelope, not a 404.
        assert_ne!(response.status(), 404, "{e}");
        let envelope: Value = response.json().await.unwrap();
        assert!(envelope["ErrCode"].is_i64(), "{e}: {envelope}");
    }
    let elsewhere = api
        .http
        .get(api.url("/openapi/v2/video/other"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 404);
}
