//! The generated tables say what spec/ says, and spec/'s tables obey their own schemas.

use pixfuse_core::errcode::{RetryRule, lookup};
use pixfuse_core::{AspectRatio, CAPABILITIES, ErrorClass, Model, Quality, Severity};
use serde_json::Value;

fn spec(name: &str) -> Value {
    let path = format!("{}/../../spec/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn tables_obey_their_schemas() {
    for (table, schema) in [
        ("capabilities.json", "capabilities.schema.json"),
        ("error-codes.json", "error-codes.schema.json"),
        ("pricing.json", "pricing.schema.json"),
    ] {
        let validator = jsonschema::validator_for(&spec(schema)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&spec(table))
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{table}: {errors:#?}");
    }
}

#[test]
fn every_known_model_has_one_row() {
    for model in Model::KNOWN {
        assert!(
            CAPABILITIES.model(model).is_some(),
            "{model} has no capabilities row"
        );
    }
    assert!(CAPABILITIES.model(&Model::Other("v7".into())).is_none());
}

#[test]
fn capability_rows_match_fusion_api_section_3() {
    let v45 = CAPABILITIES.model(&Model::V4_5).unwrap();
    assert_eq!(v45.max_images.value, 3);
    assert_eq!(v45.durations.values, &[5, 8]);
    assert!(v45.forbidden_pair(&Quality::Q1080p, 8).is_some());
    assert!(v45.forbidden_pair(&Quality::Q1080p, 5).is_none());
    assert!(!v45.audio_switch.supported);

    let v6 = CAPABILITIES.model(&Model::V6).unwrap();
    assert_eq!(v6.max_images.value, 7);
    assert_eq!(
        v6.durations.values,
        (1..=15).collect::<Vec<u32>>().as_slice()
    );
    assert!(v6.aspect_ratios.contains(&AspectRatio::R21x9));
    assert!(v6.audio_switch.supported);
    assert_eq!(v6.prompt_max_chars.len(), 2);
    assert!(
        v6.prompt_max_chars
            .iter()
            .any(|l| l.value == 2048 && l.severity == Severity::Warning)
    );
    assert!(
        v6.prompt_max_chars
            .iter()
            .any(|l| l.value == 5000 && l.severity == Severity::Error)
    );

    let v5 = CAPABILITIES.model(&Model::V5).unwrap();
    assert!(!v5.aspect_ratios.contains(&AspectRatio::R21x9));
    assert!(v5.forbidden.is_empty());
    assert!(CAPABILITIES.source(v5.durations.source).is_some());
}

#[test]
fn error_codes_classify_per_section_7() {
    assert_eq!(lookup(500044).unwrap().retry, RetryRule::WaitForSlot);
    assert_eq!(lookup(500044).unwrap().class, ErrorClass::Concurrency);
    assert_eq!(lookup(500090).unwrap().class, ErrorClass::Credits);
    assert_eq!(lookup(500090).unwrap().retry, RetryRule::Never);
    assert_eq!(lookup(500063).unwrap().class, ErrorClass::Moderation);
    assert_eq!(lookup(400017).unwrap().class, ErrorClass::InvalidRequest);
    assert_eq!(lookup(500041).unwrap().retry, RetryRule::Once);
    assert_eq!(lookup(99999).unwrap().retry, RetryRule::Backoff);
    assert!(lookup(123).is_none());
}

#[test]
fn only_transient_and_concurrency_failures_clear_on_retry() {
    assert!(ErrorClass::Transient.may_clear_on_retry());
    assert!(ErrorClass::Concurrency.may_clear_on_retry());
    for class in [
        ErrorClass::InvalidRequest,
        ErrorClass::Auth,
        ErrorClass::Credits,
        ErrorClass::Moderation,
        ErrorClass::NotFound,
        ErrorClass::Deleted,
    ] {
        assert!(!class.may_clear_on_retry(), "{class:?}");
    }
}
