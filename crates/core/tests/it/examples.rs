//! Every request in spec/examples/ reaches exactly the verdict of its `.expect.json`, every valid
//! one serializes to a body the spec's request schema accepts, and the job schema accepts it.

use std::collections::BTreeSet;
use std::path::PathBuf;

use pixfuse_core::{ValidateOptions, validate_bytes};
use serde_json::Value;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/examples")
}

/// (name, request bytes, expected verdict) for every example.
fn examples() -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(stem) = name.strip_suffix(".expect.json") else {
            continue;
        };
        let request = std::fs::read(examples_dir().join(format!("{stem}.json")))
            .unwrap_or_else(|e| panic!("{stem}.json: {e}"));
        let expect: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        out.push((stem.to_owned(), request, expect));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 30, "only {} examples found", out.len());
    out
}

fn expected_set(expect: &Value, key: &str) -> BTreeSet<(String, String)> {
    expect[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_owned(),
                d["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn every_example_reaches_its_expected_verdict() {
    let mut failures = Vec::new();
    for (name, request, expect) in examples() {
        let mut v = validate_bytes(&request, &ValidateOptions::default());
        // `video_seconds`: the reference videos' lengths, as the media side would have probed
        // them (core reads no files); their rules run only with them.
        if let (Some(seconds), Some(job)) = (expect["video_seconds"].as_array(), &v.job) {
            let seconds: Vec<Option<f64>> = seconds.iter().map(Value::as_f64).collect();
            v.diagnostics
                .extend(pixfuse_core::omni::check_video_lengths(job, &seconds));
        }
        let errors: BTreeSet<(String, String)> = v
            .errors()
            .map(|d| (d.path.clone(), d.code.to_owned()))
            .collect();
        let warnings: BTreeSet<(String, String)> = v
            .warnings()
            .map(|d| (d.path.clone(), d.code.to_owned()))
            .collect();
        let want_valid = expect["valid"].as_bool().unwrap();
        if v.is_valid() != want_valid
            || errors != expected_set(&expect, "errors")
            || warnings != expected_set(&expect, "warnings")
        {
            failures.push(format!(
                "{name}: got valid={} errors={errors:?} warnings={warnings:?}\n  diagnostics: {:#?}",
                v.is_valid(),
                v.diagnostics
            ));
        }
        // Every diagnostic explains itself.
        for d in &v.diagnostics {
            assert!(!d.message.is_empty(), "{name}: {d:?}");
            assert!(
                d.code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}: {d:?}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_valid_example_serializes_to_a_schema_valid_body() {
    let schema: Value = serde_json::from_slice(
        &std::fs::read(examples_dir().join("../fusion-generate.request.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut checked = 0;
    for (name, request, expect) in examples() {
        if !expect["valid"].as_bool().unwrap() {
            continue;
        }
        let v = validate_bytes(&request, &ValidateOptions::default());
        let mut job = v.job.unwrap_or_else(|| panic!("{name}: valid but no job"));
        // A job with paths or URLs is not a request yet.
        let unresolved = job.to_request_json();
        let mut next_id = u64::MAX - 10;
        let pending = job
            .image_references
            .iter()
            .any(|r| r.source.img_id().is_none())
            || job.video_references.iter().any(|r| !r.source.is_resolved());
        let _ = job.resolve_images(|_| {
            next_id += 1;
            Some(next_id)
        });
        job.resolve_videos(|_| {
            next_id += 1;
            Some(next_id)
        })
        .unwrap();
        if pending {
            assert!(unresolved.is_err(), "{name}");
        }
        let body: Value = serde_json::from_str(&job.to_request_json().unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        // Extra fields are sent as written; the schema itself does not forbid them.
        assert!(errors.is_empty(), "{name}: {errors:#?}\n{body:#}");
        checked += 1;
    }
    assert!(checked >= 5);
}

#[test]
fn every_code_is_catalogued_and_documented() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/diagnostics.md"
    ))
    .unwrap();
    for (code, meaning) in pixfuse_core::diagnostic::CODES {
        assert!(
            docs.contains(&format!("`{code}`")),
            "{code} missing from docs/diagnostics.md"
        );
        assert!(!meaning.is_empty());
    }
    // Every code the examples produce is in the catalogue.
    for (name, request, _) in examples() {
        for d in validate_bytes(&request, &ValidateOptions::default()).diagnostics {
            assert!(
                pixfuse_core::diagnostic::CODES
                    .iter()
                    .any(|(c, _)| *c == d.code),
                "{name}: {} is not catalogued",
                d.code
            );
        }
    }
}

/// The job schema is a real JSON Schema (its `$ref`s into the request schema resolve): every
/// valid example, in job form or request form, conforms to it, and so does every request the
/// serializer writes; an example with both or neither image source does not.
#[test]
fn the_job_schema_accepts_what_validation_accepts() {
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(examples_dir().join("..").join(name)).unwrap())
            .unwrap()
    };
    let request_schema = read("fusion-generate.request.schema.json");
    let registry = jsonschema::Registry::new()
        .add(
            request_schema["$id"].as_str().unwrap(),
            request_schema.clone(),
        )
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options()
        .with_registry(&registry)
        .build(&read("job.schema.json"))
        .unwrap();
    let mut checked = 0;
    for (name, request, expect) in examples() {
        let Ok(value) = serde_json::from_slice::<Value>(&request) else {
            continue;
        };
        if expect["valid"] == true {
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}");
            let job = validate_bytes(&request, &ValidateOptions::default())
                .job
                .unwrap();
            let body: Value = serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
            assert!(validator.is_valid(&body), "{name}: the serialized job");
            checked += 1;
        }
    }
    assert!(checked >= 5);
    for name in [
        "job-form-both-sources",
        "job-form-no-source",
        "job-form-video-both-sources",
        "job-form-video-no-source",
    ] {
        let value = read(&format!("examples/{name}.json"));
        assert!(!validator.is_valid(&value), "{name} should not conform");
    }
}
