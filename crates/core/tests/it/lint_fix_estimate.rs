//! The prompt linter, fixes, estimates and the job form, case by case.

use pixfuse_core::estimate::Basis;
use pixfuse_core::mention::{MentionKind, classify, mentions};
use pixfuse_core::{
    Confidence, ImageSource, Model, Quality, Severity, ValidateOptions, estimate, estimate_job,
    fix_job, fix_prompt, validate_bytes,
};
use serde_json::json;

fn request(prompt: &str, names: &[&str]) -> Vec<u8> {
    let refs: Vec<_> = names
        .iter()
        .map(|n| json!({"type": "subject", "img_id": 1, "ref_name": n}))
        .collect();
    serde_json::to_vec(&json!({
        "image_references": refs, "prompt": prompt, "model": "v5.6",
        "duration": 5, "quality": "720p", "aspect_ratio": "16:9",
    }))
    .unwrap()
}

fn codes(prompt: &str, names: &[&str]) -> Vec<(&'static str, Option<std::ops::Range<usize>>)> {
    validate_bytes(&request(prompt, names), &ValidateOptions::default())
        .diagnostics
        .into_iter()
        .map(|d| (d.code, d.span))
        .collect()
}

#[test]
fn mentions_run_from_at_to_whitespace() {
    let found: Vec<_> = mentions("@dog, plays\twith @cat's @ toy @end")
        .map(|m| (m.token, m.span))
        .collect();
    assert_eq!(
        found,
        vec![
            ("dog,", 0..5),
            ("cat's", 17..23),
            ("", 24..25),
            ("end", 30..34)
        ]
    );
}

#[test]
fn punctuation_after_a_name_is_a_missing_space_but_letters_are_another_name() {
    let names = ["dog", "dog_2"];
    let m = mentions("@dog's").next().unwrap();
    assert_eq!(
        classify(&m, &names),
        MentionKind::NoSpace {
            name: "dog",
            split: 4
        }
    );
    let m = mentions("@dogs").next().unwrap();
    assert_eq!(classify(&m, &names), MentionKind::Unknown);
    let m = mentions("@dog_2").next().unwrap();
    assert_eq!(classify(&m, &names), MentionKind::Exact("dog_2"));
}

#[test]
fn prompt_diagnostics_carry_spans_and_suggestions() {
    assert_eq!(
        codes("@dog. ", &["dog"]),
        vec![("mention_no_space", Some(0..5))]
    );
    assert_eq!(
        codes("a @dog", &["dog"]),
        vec![("mention_at_end", Some(2..6))]
    );
    let v = validate_bytes(
        &request("@Dog runs ", &["dog"]),
        &ValidateOptions::default(),
    );
    let unknown = v.errors().next().unwrap();
    assert_eq!(unknown.code, "mention_unknown");
    assert_eq!(unknown.suggestion.as_deref(), Some("did you mean @dog?"));
    // A lone @ is not a mention; an email-like token is (the policy tokenises at every @).
    assert!(codes("meet @ noon @dog ", &["dog"]).is_empty());
    assert_eq!(
        codes("@dog mail me@example.com ", &["dog"]),
        vec![("mention_unknown", Some(12..24))]
    );
}

#[test]
fn multibyte_prompts_count_characters_not_bytes() {
    // 2048 two-byte characters: within v5.6's 2048-character bound.
    let prompt = format!("@dog {}", "é".repeat(2043));
    assert!(codes(&prompt, &["dog"]).is_empty());
    let prompt = format!("@dog {}", "é".repeat(2044));
    let d = codes(&prompt, &["dog"]);
    assert_eq!(d[0].0, "prompt_too_long");
    assert_eq!(d[0].1, Some(5 + 2043 * 2..prompt.len()));
}

#[test]
fn fix_inserts_spaces_and_lists_each_change() {
    let fixed = fix_prompt("@dog, and @cat's toy at @room", &["dog", "cat", "room"]);
    assert_eq!(fixed.prompt, "@dog , and @cat 's toy at @room ");
    let listed: Vec<_> = fixed
        .changes
        .iter()
        .map(|c| (c.code, c.before.as_str(), c.after.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("mention_no_space", "@dog,", "@dog ,"),
            ("mention_no_space", "@cat's", "@cat 's"),
            ("mention_at_end", "@room", "@room "),
        ]
    );
    // Nothing to fix: nothing changes, nothing listed; unknown mentions are never guessed.
    let same = fix_prompt("@dog runs, @cta sits ", &["dog", "cat"]);
    assert_eq!(same.prompt, "@dog runs, @cta sits ");
    assert!(same.changes.is_empty());
}

#[test]
fn fix_job_makes_the_seed_example_warning_free() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../spec/examples/mention-no-space.json"
    ))
    .unwrap();
    let mut job = validate_bytes(&bytes, &ValidateOptions::default())
        .job
        .unwrap();
    let changes = fix_job(&mut job);
    assert_eq!(changes.len(), 1);
    let again = validate_bytes(
        serde_json::to_string(&job).unwrap().as_bytes(),
        &ValidateOptions::default(),
    );
    assert!(again.diagnostics.is_empty(), "{:#?}", again.diagnostics);
}

#[test]
fn estimates_follow_the_price_table() {
    let e = estimate(&Model::V5, &Quality::Q720p, 5, false).unwrap();
    assert_eq!((e.credits, e.usd), (60, 0.60));
    assert_eq!(e.confidence, Confidence::Official);
    assert_eq!(e.basis, Basis::Fixed);
    let e = estimate(&Model::V6, &Quality::Q1080p, 10, true).unwrap();
    assert_eq!(e.credits, 230);
    assert_eq!(e.basis, Basis::PerSecond);
    assert_eq!(e.confidence, Confidence::Inferred);
    let e = estimate(&Model::C1, &Quality::Q720p, 3, true).unwrap();
    assert_eq!(e.confidence, Confidence::Unofficial);
    // 6.5 a second for 3 s is 19.5: whole credits, rounded up.
    assert_eq!(e.credits, 20);
    assert!(estimate(&Model::Other("v7".into()), &Quality::Q720p, 5, false).is_none());
    // Audio counts only where the model honours it.
    let job = validate_bytes(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../spec/examples/v45-audio-false.json"
        ))
        .unwrap(),
        &ValidateOptions::default(),
    )
    .job
    .unwrap();
    assert_eq!(estimate_job(&job).unwrap().credits, 60);
}

#[test]
fn job_form_keeps_extras_and_sources() {
    let text = r#"{"image_references":[
        {"type":"subject","image":"pets/Dog.PNG","ref_name":"dog"},
        {"type":"background","image":"https://example.com/r.webp?sig=1","ref_name":"room"}],
        "prompt":"@dog at @room ","model":"v6","duration":3,"quality":"540p",
        "aspect_ratio":"3:2","camera":{"b":1,"a":[2]}}"#;
    let v = validate_bytes(text.as_bytes(), &ValidateOptions::default());
    let codes: Vec<_> = v.diagnostics.iter().map(|d| (d.code, d.severity)).collect();
    assert_eq!(codes, vec![("unknown_field", Severity::Warning)]);
    let mut job = v.job.unwrap();
    assert_eq!(
        job.image_references[0].source,
        ImageSource::Path("pets/Dog.PNG".into())
    );
    assert!(matches!(
        job.image_references[1].source,
        ImageSource::Url(_)
    ));
    let err = job.to_request_json().unwrap_err();
    assert_eq!(err.ref_names, vec!["dog", "room"]);
    job.resolve_images(|s| (s.image() == Some("pets/Dog.PNG")).then_some(u64::MAX))
        .unwrap_err();
    job.resolve_images(|_| Some(7)).unwrap();
    // The body: the documented field order, references as `type, img_id, ref_name`, extra
    // fields last and verbatim.
    let body = job.to_request_json().unwrap();
    assert_eq!(
        body,
        r#"{"image_references":[{"type":"subject","img_id":18446744073709551615,"ref_name":"dog"},{"type":"background","img_id":7,"ref_name":"room"}],"prompt":"@dog at @room ","model":"v6","duration":3,"quality":"540p","aspect_ratio":"3:2","camera":{"a":[2],"b":1}}"#
    );
    // A journaled request reads back into the same job.
    let back: pixfuse_core::Job = serde_json::from_str(&body).unwrap();
    assert_eq!(back, job);
    assert_eq!(back.img_ids().collect::<Vec<_>>(), [u64::MAX, 7]);
}

#[test]
fn image_sources_are_checked_offline() {
    let text = r#"{"image_references":[
        {"type":"subject","image":"http://example.com/d.png","ref_name":"dog"},
        {"type":"subject","image":"cat","ref_name":"cat"},
        {"type":"subject","img_id":1,"ref_name":"owl","colour":"red"}],
        "prompt":"@dog @cat @owl ","model":"v6","duration":3,"quality":"540p","aspect_ratio":"3:2"}"#;
    let v = validate_bytes(text.as_bytes(), &ValidateOptions::default());
    let got: Vec<_> = v
        .diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.code))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/image_references/2/colour", "unknown_field"),
            ("/image_references/0/image", "image_url_not_https"),
            ("/image_references/1/image", "image_extension_not_allowed"),
        ]
    );
    assert_eq!(
        v.diagnostics[1].suggestion.as_deref(),
        Some("use https://example.com/d.png")
    );
    // The nested unknown field is reported, and the job (without it) still parses.
    assert!(v.job.is_some());
}

#[test]
fn unknown_model_can_be_allowed_explicitly() {
    let text = String::from_utf8(request("@dog ", &["dog"]))
        .unwrap()
        .replace("v5.6", "V6");
    let strict = validate_bytes(text.as_bytes(), &ValidateOptions::default());
    assert!(!strict.is_valid());
    assert_eq!(
        strict.errors().next().unwrap().suggestion.as_deref(),
        Some("did you mean \"v6\"?")
    );
    let lax = validate_bytes(
        text.as_bytes(),
        &ValidateOptions::default().allow_unknown_model(true),
    );
    assert!(lax.is_valid());
    assert_eq!(lax.warnings().next().unwrap().code, "unknown_model");
}

#[test]
fn shape_errors_do_not_hide_other_rules() {
    let text = r#"{"image_references":[{"type":"subject","img_id":1,"ref_name":"dog"}],
        "prompt":"@dog, runs","model":"v5","duration":"5","quality":720,"aspect_ratio":"21:9"}"#;
    let v = validate_bytes(text.as_bytes(), &ValidateOptions::default());
    let got: Vec<_> = v
        .diagnostics
        .iter()
        .map(|d| (d.path.as_str(), d.code))
        .collect();
    assert_eq!(
        got,
        vec![
            ("/duration", "wrong_type"),
            ("/quality", "wrong_type"),
            ("/prompt", "mention_no_space"),
            ("/aspect_ratio", "aspect_ratio_not_allowed"),
        ]
    );
    assert!(v.job.is_none());
}
