//! v6 Omni mode: its rules (warnings, from the table's `omni` section), video references in the
//! job form, and the Omni estimate. The conformance examples (spec/examples/omni-*.json,
//! plain-*.json, job-form-video*.json) cover each rule's verdict; these tests cover what they
//! cannot: messages, the typed job, lengths, and prices.

use pixfuse_core::estimate::{Basis, reference_video};
use pixfuse_core::omni::check_video_lengths;
use pixfuse_core::{
    CAPABILITIES, Confidence, Job, PRICING, Severity, ValidateOptions, VideoSource, estimate_job,
    estimate_job_with_videos, fix_job, validate_bytes,
};
use serde_json::{Value, json};

fn omni(edit: impl FnOnce(&mut Value)) -> Value {
    let mut r = json!({
        "model": "v6", "prompt": "@subject1 dances like @video1 ", "quality": "720p",
        "duration": 0, "aspect_ratio": "16:9", "generate_audio_switch": true, "seed": 42,
        "reference_mode": "omni",
        "image_references": [{"img_id": 1, "ref_name": "subject1", "type": "subject"}],
        "video_references": [{"ref_name": "video1", "video_media_id": 2}]
    });
    edit(&mut r);
    r
}

fn job(value: &Value) -> Job {
    let v = validate_bytes(value.to_string().as_bytes(), &ValidateOptions::default());
    v.job.unwrap_or_else(|| panic!("{:#?}", v.diagnostics))
}

fn codes(value: &Value) -> Vec<(&'static str, Severity, String)> {
    validate_bytes(value.to_string().as_bytes(), &ValidateOptions::default())
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.severity, d.path))
        .collect()
}

#[test]
fn every_omni_rule_in_the_table_is_a_warning() {
    // Third-party facts are never errors (fusion-api.md §4, §10): the spec keeps them so, and
    // a change there would be a policy change, not a number change.
    let o = &CAPABILITIES.omni;
    let severities = [
        o.models.severity,
        o.without_videos.severity,
        o.max_images.severity,
        o.max_videos.severity,
        o.video_max_seconds.severity,
        o.videos_total_max_seconds.severity,
        o.durations.severity,
        o.extra_aspect_ratios.severity,
        o.negative_prompt_max_chars.severity,
        o.looks_like_omni.severity,
        o.upload.extension.severity,
        o.upload.max_seconds.severity,
        o.upload.max_side_px.severity,
    ];
    assert!(severities.iter().all(|s| *s == Severity::Warning));
    assert!(
        o.upload
            .max_bytes
            .iter()
            .all(|l| l.severity == Severity::Warning)
    );
    let sizes: Vec<u64> = o.upload.max_bytes.iter().map(|l| l.value).collect();
    assert_eq!(sizes, [50 << 20, 100 << 20]);
    assert!(o.supports(&pixfuse_core::Model::V6));
    assert!(!o.supports(&pixfuse_core::Model::C1));
    // Omni's image cap is above the plain one on v6: the mode replaces it.
    let v6 = CAPABILITIES.model(&pixfuse_core::Model::V6).unwrap();
    assert!(o.max_images.value > v6.max_images.value);
}

#[test]
fn the_client_shape_is_sent_and_reads_back_typed() {
    let value = omni(|_| {});
    assert_eq!(codes(&value), []);
    let mut job = job(&value);
    assert!(job.is_omni());
    assert_eq!(job.video_references[0].source, VideoSource::MediaId(2));
    assert_eq!(Job::VIDEO_REFERENCES, "video_references");
    assert_eq!(Job::REFERENCE_MODE, "reference_mode");
    let body = job.to_request_json().unwrap();
    assert!(
        body.ends_with(
            r#""reference_mode":"omni","video_references":[{"ref_name":"video1","video_media_id":2}]}"#
        ),
        "{body}"
    );
    let back: Job = serde_json::from_str(&body).unwrap();
    assert_eq!(back, job);
    // `@video1,` is fixed like an image mention.
    job.prompt = "@subject1 dances like @video1, fast".into();
    assert_eq!(fix_job(&mut job).len(), 1);
    assert_eq!(job.prompt, "@subject1 dances like @video1 , fast");
}

#[test]
fn a_plain_request_without_images_keeps_no_images_and_an_empty_list_is_not_sent() {
    let plain = json!({
        "prompt": "a dog", "model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"
    });
    assert_eq!(
        codes(&plain),
        [("no_images", Severity::Error, "/image_references".to_owned())]
    );
    let job = job(&plain);
    assert!(job.image_references.is_empty() && job.video_references.is_empty());
    let text = serde_json::to_string(&job).unwrap();
    assert!(!text.contains("image_references") && !text.contains("video_references"));
}

#[test]
fn job_form_videos_resolve_to_media_ids() {
    let mut job = job(&omni(|r| {
        r["video_references"] = json!([
            {"ref_name": "video1", "video": "clips/a.MP4"},
            {"ref_name": "video2", "source_video_id": 77},
        ]);
        r["prompt"] = json!("@subject1 like @video1 and @video2 ");
    }));
    assert_eq!(
        job.video_references[0].source,
        VideoSource::Path("clips/a.MP4".into())
    );
    let err = job.to_request_json().unwrap_err();
    assert_eq!(err.ref_names, ["video1"]);
    job.resolve_videos(|s| (s.video() == Some("clips/a.MP4")).then_some(9))
        .unwrap();
    let body: Value = serde_json::from_str(&job.to_request_json().unwrap()).unwrap();
    assert_eq!(
        body["video_references"],
        json!([{"ref_name": "video1", "video_media_id": 9}, {"ref_name": "video2", "source_video_id": 77}])
    );
}

#[test]
fn the_looks_like_omni_hint_names_the_mode() {
    let plain = omni(|r| {
        r.as_object_mut().unwrap().remove("reference_mode");
        r["duration"] = json!(5);
    });
    let v = validate_bytes(plain.to_string().as_bytes(), &ValidateOptions::default());
    let hint = v
        .diagnostics
        .iter()
        .find(|d| d.code == "looks_like_omni")
        .unwrap();
    assert_eq!(hint.path, "/video_references");
    assert!(hint.message.contains("Omni") && hint.message.contains("\"v6\""));
    assert!(
        hint.suggestion
            .as_deref()
            .unwrap()
            .contains("\"reference_mode\": \"omni\"")
    );
    assert!(v.is_valid());
}

#[test]
fn an_unknown_reference_mode_is_a_warning_with_a_suggestion_and_checked_as_plain() {
    let v = validate_bytes(
        omni(|r| {
            r["reference_mode"] = json!("omini");
            r["duration"] = json!(5);
        })
        .to_string()
        .as_bytes(),
        &ValidateOptions::default(),
    );
    let found: Vec<(&str, Severity)> = v.diagnostics.iter().map(|d| (d.code, d.severity)).collect();
    assert_eq!(
        found,
        [
            ("reference_mode_unknown", Severity::Warning),
            ("looks_like_omni", Severity::Warning)
        ]
    );
    assert_eq!(
        v.diagnostics[0].suggestion.as_deref(),
        Some("did you mean \"omni\"?")
    );
}

#[test]
fn an_omni_request_skips_the_models_duration_and_image_cap_but_not_its_quality() {
    let found = codes(&omni(|r| {
        r["quality"] = json!("4k");
        r["image_references"] = json!(
            (0..8)
                .map(|i| json!({"type": "subject", "img_id": i, "ref_name": format!("p{i}")}))
                .collect::<Vec<_>>()
        );
        r["prompt"] = json!("@p0 @p1 @p2 @p3 @p4 @p5 @p6 @p7 like @video1 ");
    }));
    assert_eq!(
        found,
        [(
            "quality_not_allowed",
            Severity::Error,
            "/quality".to_owned()
        )]
    );
}

#[test]
fn video_lengths_are_judged_once_known() {
    let two = job(&omni(|r| {
        r["video_references"] = json!([
            {"ref_name": "video1", "video_media_id": 1},
            {"ref_name": "clip", "video_media_id": 2},
        ]);
        r["prompt"] = json!("@subject1 like @video1 and @clip ");
    }));
    assert!(check_video_lengths(&two, &[Some(7.0), Some(8.0)]).is_empty());
    assert!(check_video_lengths(&two, &[None, Some(15.0)]).is_empty());
    let found: Vec<(&str, String)> = check_video_lengths(&two, &[Some(15.5), Some(1.0)])
        .into_iter()
        .map(|d| (d.code, d.path))
        .collect();
    assert_eq!(
        found,
        [
            ("omni_video_too_long", "/video_references/0".to_owned()),
            ("omni_videos_too_long", "/video_references".to_owned())
        ]
    );
    let d = &check_video_lengths(&two, &[Some(10.0), Some(6.0)])[0];
    assert_eq!(d.severity, Severity::Warning);
    assert!(d.message.contains("16.0 s together"), "{}", d.message);
}

#[test]
fn the_omni_estimate_prices_reference_seconds_and_says_when_it_assumed_them() {
    let job = job(&omni(|_| {}));
    let rate = PRICING
        .per_second
        .iter()
        .find(|p| {
            p.model == pixfuse_core::Model::V6
                && p.quality == pixfuse_core::Quality::Q720p
                && p.audio
        })
        .unwrap()
        .credits_per_second;
    let factor = PRICING.omni[0].factor_per_reference_second;
    // Offline: the length is unknown, so Omni's total maximum (15 s) is assumed, and said.
    let offline = estimate_job(&job).unwrap();
    assert_eq!(offline.basis, Basis::PerReferenceSecond);
    assert_eq!(offline.confidence, Confidence::Unofficial);
    let r = offline.reference_video.unwrap();
    assert!(r.assumed && r.seconds == 15.0);
    assert_eq!(offline.credits, (rate * factor * 15.0).ceil() as u64);
    // Known: 4.2 s, rounded up to whole credits.
    let known = estimate_job_with_videos(&job, &[Some(4.2)]).unwrap();
    assert_eq!(
        known.reference_video.map(|r| (r.seconds, r.assumed)),
        Some((4.2, false))
    );
    assert_eq!(known.credits, (rate * factor * 4.2).ceil() as u64);
    let json = serde_json::to_value(known).unwrap();
    assert_eq!(json["basis"], "per_reference_second");
    assert_eq!(json["reference_video"]["assumed"], false);
    // A plain job ignores lengths and has no reference video.
    let plain = estimate_job_with_videos(
        &self::job(&omni(|r| {
            r.as_object_mut().unwrap().remove("reference_mode");
            r["duration"] = json!(5);
        })),
        &[Some(4.2)],
    )
    .unwrap();
    assert_eq!(
        (plain.basis, plain.reference_video),
        (Basis::PerSecond, None)
    );
}

#[test]
fn unknown_lengths_are_assumed_within_omnis_limits() {
    let r = |count, seconds: &[Option<f64>]| {
        let r = reference_video(count, seconds);
        (r.seconds, r.assumed)
    };
    assert_eq!(r(1, &[]), (15.0, true));
    assert_eq!(r(2, &[None, None]), (15.0, true));
    assert_eq!(r(2, &[Some(3.0), None]), (15.0, true));
    assert_eq!(r(2, &[Some(3.0), Some(2.5)]), (5.5, false));
    // Known lengths past the limit are priced as they are (the warning says they are long).
    assert_eq!(r(2, &[Some(14.0), None]), (15.0, true));
    assert_eq!(r(2, &[Some(20.0), None]), (20.0, true));
    assert_eq!(r(1, &[Some(f64::NAN)]), (15.0, true));
}
