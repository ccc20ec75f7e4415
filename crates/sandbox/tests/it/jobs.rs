//! Fusion jobs: validation, trace-id dedup, status progression, triggers, limits, credits,
//! and the media server's Range support.

use crate::common;

use std::time::Duration;

use common::{fast, request, start, uuid, video_id};
use pixfuse_core::endpoint;
use pixfuse_sandbox::SandboxConfig;
use serde_json::json;

const VIDEO: &[u8] = include_bytes!("../../assets/sample.mp4");
/// v5, 540p, 5 s (pricing.json, official).
const PRICE: u64 = 45;

#[tokio::test]
async fn an_invalid_request_gets_one_vendor_error_in_a_200_envelope() {
    let api = start(fast()).await;
    let ids = api.dog_and_room().await;
    let mut body = request(&ids, "@dog naps in @room today");
    body["duration"] = json!(10);
    body["prompt"] = json!("@dog, naps in @room today");
    let envelope = api.submit(&body, &uuid()).await;
    // Two mistakes, one answer: the code and a short message naming the parameter, no advice.
    assert_eq!(envelope["ErrCode"], 400017, "{envelope}");
    assert_eq!(envelope["ErrMsg"], "a parameter is invalid: duration");
    assert!(envelope["Resp"].is_null(), "{envelope}");
    body["duration"] = json!(5);
    let envelope = api.submit(&body, &uuid()).await;
    assert_eq!(
        envelope["ErrMsg"], "a parameter is invalid: prompt",
        "{envelope}"
    );

    let envelope = api.submit(&json!({ "prompt": "x" }), &uuid()).await;
    assert_eq!(envelope["ErrCode"], 400011, "{envelope}");
    assert!(envelope["Resp"].is_null());
    let response = api
        .http
        .post(api.url(endpoint::GENERATE.path))
        .header("API-KEY", &api.key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let envelope: serde_json::Value = response.json().await.unwrap();
    assert_eq!(envelope["ErrCode"], 400013, "{envelope}");

    let stats = api.sandbox.stats();
    assert_eq!((stats.submits_received, stats.billable_jobs), (4, 0));
    assert_eq!(api.sandbox.credits_left(), 10_000);
}

#[tokio::test]
async fn references_by_image_path_are_refused_the_vendor_wants_img_ids() {
    let api = start(fast()).await;
    let job: serde_json::Value =
        serde_json::from_str(include_str!("../../../../examples/dog-in-room.json")).unwrap();
    let envelope = api.submit(&job, &uuid()).await;
    assert_eq!(envelope["ErrCode"], 400011, "{envelope}");
    assert!(envelope["ErrMsg"].as_str().unwrap().contains("img_id"));
}

#[tokio::test]
async fn img_ids_the_sandbox_never_issued_are_invalid() {
    let api = start(fast()).await;
    let ids = api.dog_and_room().await;
    let envelope = api
        .submit(
            &request(&[ids[0], ids[1] + 1_000_000], "@dog naps in @room today"),
            &uuid(),
        )
        .await;
    assert_eq!(envelope["ErrCode"], 400032, "{envelope}");
    assert_eq!(api.sandbox.stats().billable_jobs, 0);
}

#[tokio::test]
async fn a_job_generates_then_succeeds_with_a_downloadable_video() {
    let api = start(fast()).await;
    let ids = api.dog_and_room().await;
    let envelope = api
        .submit(&request(&ids, "@dog naps in @room today"), &uuid())
        .await;
    assert_eq!(envelope["Resp"]["credits"], PRICE);
    let id = video_id(&envelope);
    assert!(id < 1 << 53, "a realistic id by default: {id}");

    let first = api.result(id).await;
    assert_eq!(first["Resp"]["status"], 5, "{first}");
    assert_eq!(first["Resp"]["url"], "");
    assert_eq!(api.credits_left().await, 10_000 - PRICE);

    let done = api.wait(id).await;
    let resp = &done["Resp"];
    assert_eq!(resp["status"], 1, "{done}");
    assert_eq!(resp["id"], id);
    assert_eq!(resp["credits"], PRICE);
    assert_eq!(resp["prompt"], "@dog naps in @room today");
    let url = resp["url"].as_str().unwrap();
    let download = api.http.get(url).send().await.unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "video/mp4");
    assert_eq!(download.bytes().await.unwrap().as_ref(), VIDEO);

    let stats = api.sandbox.stats();
    assert_eq!(stats.billable_jobs, 1);
    assert_eq!(stats.credits_spent, PRICE);
    assert_eq!(stats.downloads_served, 1);
}

#[tokio::test]
async fn a_finished_job_reports_the_fields_its_request_decided() {
    // Long enough that the second job is surely still generating when first polled.
    let api = start(SandboxConfig {
        generation_time: Duration::from_millis(300),
        ..SandboxConfig::default()
    })
    .await;
    let ids = api.dog_and_room().await;
    let mut body = request(&ids, "@dog naps in @room today");
    body["model"] = json!("v6");
    body["quality"] = json!("720p");
    body["aspect_ratio"] = json!("9:16");
    body["generate_audio_switch"] = json!(true);
    body["negative_prompt"] = json!("blurry");
    body["style"] = json!("anime");
    let id = video_id(&api.submit(&body, &uuid()).await);
    let done = api.wait(id).await;
    let resp = &done["Resp"];
    assert_eq!(
        (resp["outputWidth"].as_u64(), resp["outputHeight"].as_u64()),
        (Some(720), Some(1280)),
        "{done}"
    );
    assert_eq!(resp["resolution_ratio"], 720);
    assert_eq!(resp["has_audio"], true);
    assert_eq!(resp["negative_prompt"], "blurry");
    assert_eq!(resp["style"], "anime");
    let seed = resp["seed"].as_u64().unwrap();
    assert!(seed <= 2_147_483_647, "a seed was drawn: {seed}");
    for time in ["create_time", "modify_time"] {
        let text = resp[time].as_str().unwrap();
        assert_eq!(text.len(), 19, "YYYY-MM-DD HH:MM:SS: {text}");
        assert_eq!((&text[4..5], &text[10..11], &text[13..14]), ("-", " ", ":"));
    }
    let cover = api
        .http
        .get(resp["cover_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(cover.status(), 200);
    assert_eq!(cover.headers()["content-type"], "image/png");
    assert!(cover.bytes().await.unwrap().starts_with(b"\x89PNG"));

    // A seed that was sent is reported as sent; fields not sent are not invented.
    body["seed"] = json!(42);
    for field in ["negative_prompt", "style"] {
        body.as_object_mut().unwrap().remove(field);
    }
    let id = video_id(&api.submit(&body, &uuid()).await);
    let resp = api.result(id).await["Resp"].clone();
    assert_eq!(resp["seed"], 42);
    assert!(
        resp.get("style").is_none() && resp.get("negative_prompt").is_none(),
        "{resp}"
    );
    assert_eq!(
        (resp["status"].as_u64(), resp["cover_url"].as_str()),
        (Some(5), Some(""))
    );
}

#[tokio::test]
async fn a_resent_trace_id_returns_the_earlier_video_and_bills_nothing() {
    let api = start(fast()).await;
    let ids = api.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    let trace = uuid();
    let first = video_id(&api.submit(&body, &trace).await);
    let again = video_id(&api.submit(&body, &trace).await);
    assert_eq!(first, again);
    let other = video_id(&api.submit(&body, &uuid()).await);
    assert_ne!(first, other);

    let stats = api.sandbox.stats();
    assert_eq!(stats.submits_received, 3);
    assert_eq!(stats.billable_jobs, 2);
    assert_eq!(stats.deduplicated_submits, 1);
    assert_eq!(api.credits_left().await, 10_000 - 2 * PRICE);
}

#[tokio::test]
async fn trigger_words_end_in_moderation_or_failure_and_are_refunded() {
    let api = start(fast()).await;
    let ids = api.dog_and_room().await;
    let moderated = video_id(
        &api.submit(&request(&ids, "@dog sandbox-moderate @room now"), &uuid())
            .await,
    );
    let failed = video_id(
        &api.submit(&request(&ids, "@dog sandbox-fail in @room now"), &uuid())
            .await,
    );
    assert_eq!(api.credits_left().await, 10_000 - 2 * PRICE);

    let moderated = api.wait(moderated).await;
    assert_eq!(moderated["Resp"]["status"], 7, "{moderated}");
    assert_eq!(moderated["Resp"]["url"], "");
    assert_eq!(moderated["Resp"]["credits"], 0, "refunded: {moderated}");
    let failed = api.wait(failed).await;
    assert_eq!(failed["Resp"]["status"], 8, "{failed}");
    assert_eq!(failed["Resp"]["credits"], 0, "refunded: {failed}");
    assert_eq!(api.credits_left().await, 10_000);
    assert_eq!(api.sandbox.stats().credits_spent, 0);

    let id = failed["Resp"]["id"].as_u64().unwrap();
    let media = format!("{}/media/video/{id}.mp4", api.sandbox.base_url());
    assert_eq!(api.http.get(media).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn one_job_past_the_concurrency_limit_is_refused_until_a_slot_frees() {
    let api = start(SandboxConfig {
        concurrency_limit: 2,
        generation_time: Duration::from_millis(300),
        ..SandboxConfig::default()
    })
    .await;
    let ids = api.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    let first_trace = uuid();
    let first = video_id(&api.submit(&body, &first_trace).await);
    video_id(&api.submit(&body, &uuid()).await);
    let refused = api.submit(&body, &uuid()).await;
    assert_eq!(refused["ErrCode"], 500044, "{refused}");
    // The retry of a submit already recorded is answered, limit or not.
    assert_eq!(video_id(&api.submit(&body, &first_trace).await), first);
    assert_eq!(api.sandbox.stats().billable_jobs, 2);

    api.wait(first).await;
    let retried = api.submit(&body, &uuid()).await;
    assert_eq!(
        retried["ErrCode"], 0,
        "a finished job frees its slot: {retried}"
    );
}

#[tokio::test]
async fn the_limit_counts_per_key() {
    let api = start(SandboxConfig {
        concurrency_limit: 1,
        generation_time: Duration::from_secs(30),
        keys: vec!["a".to_owned().into(), "b".to_owned().into()],
        ..SandboxConfig::default()
    })
    .await;
    let ids = api.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    video_id(&api.submit(&body, &uuid()).await);
    assert_eq!(api.submit(&body, &uuid()).await["ErrCode"], 500044);
    let other_key: serde_json::Value = api
        .http
        .post(api.url(endpoint::GENERATE.path))
        .header("Authorization", "Bearer b")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(other_key["ErrCode"], 0, "{other_key}");
}

#[tokio::test]
async fn exhausted_credits_answer_500090() {
    let api = start(SandboxConfig {
        starting_credits: 2 * PRICE + 10,
        ..fast()
    })
    .await;
    let ids = api.dog_and_room().await;
    let body = request(&ids, "@dog naps in @room today");
    video_id(&api.submit(&body, &uuid()).await);
    video_id(&api.submit(&body, &uuid()).await);
    let refused = api.submit(&body, &uuid()).await;
    assert_eq!(refused["ErrCode"], 500090, "{refused}");
    assert_eq!(api.credits_left().await, 10);
    assert_eq!(api.sandbox.stats().billable_jobs, 2);
}

#[tokio::test]
async fn media_honours_range_requests() {
    // Slow enough that the "not ready yet" answer comes before the video is, however loaded
    // the machine (30 ms did not always).
    let api = start(SandboxConfig {
        generation_time: Duration::from_millis(1500),
        ..SandboxConfig::default()
    })
    .await;
    let ids = api.dog_and_room().await;
    let id = video_id(
        &api.submit(&request(&ids, "@dog naps in @room today"), &uuid())
            .await,
    );
    let media = format!("{}/media/video/{id}.mp4", api.sandbox.base_url());
    assert_eq!(
        api.http.get(&media).send().await.unwrap().status(),
        404,
        "not ready yet"
    );
    api.wait(id).await;

    let len = VIDEO.len();
    let cases = [
        ("bytes=0-99".to_owned(), 0..100),
        (format!("bytes={}-", len - 10), len - 10..len),
        ("bytes=-7".to_owned(), len - 7..len),
        ("bytes=1000-1999".to_owned(), 1000..2000),
    ];
    for (range, expected) in cases {
        let response = api
            .http
            .get(&media)
            .header("Range", &range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 206, "{range}");
        let headers = response.headers();
        assert_eq!(
            headers["content-range"],
            format!("bytes {}-{}/{len}", expected.start, expected.end - 1).as_str()
        );
        assert_eq!(
            headers["content-length"],
            expected.len().to_string().as_str()
        );
        assert_eq!(response.bytes().await.unwrap().as_ref(), &VIDEO[expected]);
    }

    let head = api.http.head(&media).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], len.to_string().as_str());

    let whole = api.http.get(&media).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], len.to_string().as_str());

    let beyond = api
        .http
        .get(&media)
        .header("Range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);
    assert_eq!(
        beyond.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
}

#[tokio::test]
async fn generation_time_scales_with_duration_quality_and_the_time_scale() {
    let config = SandboxConfig {
        generation_time: Duration::from_secs(3),
        ..SandboxConfig::default()
    };
    let v5 = pixfuse_core::Model::from("v5");
    let q = |s: &str| pixfuse_core::Quality::from_known(s).unwrap();
    let time = |config: &SandboxConfig, duration, quality| {
        config.generation_time_for(&v5, duration, &q(quality))
    };
    assert_eq!(time(&config, 5, "540p"), Duration::from_secs(3));
    assert_eq!(time(&config, 5, "360p"), Duration::from_secs(3));
    assert_eq!(time(&config, 10, "540p"), Duration::from_secs(6));
    assert_eq!(time(&config, 5, "1080p"), Duration::from_secs(6));
    assert_eq!(time(&config, 5, "720p"), Duration::from_secs(4));
    let faster = SandboxConfig {
        time_scale: 0.1,
        ..config
    };
    assert_eq!(time(&faster, 10, "540p"), Duration::from_millis(600));
}

#[test]
fn the_example_job_is_valid_without_warnings() {
    let job = include_bytes!("../../../../examples/dog-in-room.json");
    let validation = pixfuse_core::validate_bytes(job, &Default::default());
    assert!(
        validation.diagnostics.is_empty(),
        "{:?}",
        validation.diagnostics
    );
}
