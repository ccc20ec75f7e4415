//! The generated wire types carry the vendor's JSON through unchanged.

use pixfuse_core::wire::{FusionGenerateRequest, VideoResultResp};
use pixfuse_core::{AspectRatio, Model, Quality, RefType};
use serde_json::Value;

fn example(name: &str) -> String {
    let path = format!(
        "{}/../../spec/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn seed_example_round_trips_to_equal_json() {
    let text = example("seed");
    let request: FusionGenerateRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.model, Model::V5_6);
    assert_eq!(request.quality, Quality::Q720p);
    assert_eq!(request.aspect_ratio, AspectRatio::R16x9);
    assert_eq!(request.image_references[1].type_, RefType::Background);
    assert_eq!(request.seed, Some(123_456_789));
    let back = serde_json::to_value(&request).unwrap();
    let original: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, original);
}

#[test]
fn ids_above_2_pow_53_survive_exactly() {
    let text = example("v6-seven-refs-big-ids");
    let request: FusionGenerateRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.image_references[0].img_id, 9_007_199_254_740_993);
    assert_eq!(request.image_references[6].img_id, u64::MAX);
    let back = serde_json::to_string(&request).unwrap();
    assert!(back.contains("9007199254740993"), "{back}");
    assert!(back.contains("18446744073709551615"), "{back}");
    assert_eq!(
        serde_json::from_str::<Value>(&back).unwrap(),
        serde_json::from_str::<Value>(&text).unwrap()
    );
}

#[test]
fn unknown_enum_values_are_kept_verbatim() {
    let text = example("unknown-model");
    let request: FusionGenerateRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.model, Model::Other("v7".into()));
    assert!(!request.model.is_known());
    assert_eq!(serde_json::to_value(&request).unwrap()["model"], "v7");
}

#[test]
fn responses_ignore_unknown_fields_and_keep_big_ids() {
    let body = r#"{"id": 18446744073709551615, "status": 1, "url": "https://x/y.mp4", "brand_new_field": {"a": 1}}"#;
    let resp: VideoResultResp = serde_json::from_str(body).unwrap();
    assert_eq!(resp.id, Some(u64::MAX));
    assert_eq!(resp.status, Some(1));
}

#[test]
fn readable_enums_match_the_spec_strings() {
    for model in Model::KNOWN {
        assert_eq!(&Model::from(model.as_str()), model);
    }
    assert_eq!("16:9".parse::<AspectRatio>().unwrap(), AspectRatio::R16x9);
    assert_eq!(AspectRatio::R21x9.to_string(), "21:9");
    assert_eq!(Model::V4_5.as_str(), "v4.5");
    assert!(Model::C1.description().is_some_and(|d| d.contains("C1")));
}
