//! Properties: requests built from one model's allowed values are clean; one out-of-range
//! mutation is reported at its path; nothing panics on arbitrary input.

use pixfuse_core::caps::ModelCaps;
use pixfuse_core::{CAPABILITIES, ValidateOptions, validate_bytes};
use proptest::prelude::*;
use serde_json::{Value, json};

/// A request built only from `caps`' allowed values, every reference mentioned.
fn valid_request() -> impl Strategy<Value = (Value, &'static ModelCaps)> {
    (0..CAPABILITIES.models.len()).prop_flat_map(|m| {
        let caps = &CAPABILITIES.models[m];
        let max = caps.max_images.value as usize;
        let pairs: Vec<(u32, &'static str)> = caps
            .durations
            .values
            .iter()
            .flat_map(|d| caps.qualities.values.iter().map(move |q| (*d, q)))
            .filter(|(d, q)| caps.forbidden_pair(q, *d).is_none())
            .map(|(d, q)| (d, q.as_str()))
            .collect();
        (
            prop::collection::btree_set("[a-z][a-z0-9_]{0,12}", 1..=max),
            prop::sample::select(pairs),
            prop::sample::select(caps.aspect_ratios.values),
            prop::option::of(any::<bool>()),
            prop::option::of(0..=CAPABILITIES.request.seed_max.value),
            prop::collection::vec(any::<bool>(), max),
            "[a-z ]{0,40}",
        )
            .prop_map(
                move |(names, (duration, quality), ratio, audio, seed, types, words)| {
                    let refs: Vec<Value> = names
                        .iter()
                        .enumerate()
                        .map(|(i, n)| {
                            json!({
                                "type": if types[i] { "subject" } else { "background" },
                                "img_id": i as u64 * 1_000_000_007,
                                "ref_name": n,
                            })
                        })
                        .collect();
                    let prompt: String =
                        names.iter().map(|n| format!("@{n} ")).collect::<String>() + &words;
                    let mut request = json!({
                        "image_references": refs,
                        "prompt": prompt,
                        "model": caps.model.as_str(),
                        "duration": duration,
                        "quality": quality,
                        "aspect_ratio": ratio.as_str(),
                    });
                    if caps.audio_switch.supported
                        && let Some(audio) = audio
                    {
                        request["generate_audio_switch"] = json!(audio);
                    }
                    if let Some(seed) = seed {
                        request["seed"] = json!(seed);
                    }
                    (request, caps)
                },
            )
    })
}

fn validate(value: &Value) -> pixfuse_core::Validation {
    validate_bytes(
        &serde_json::to_vec(value).unwrap(),
        &ValidateOptions::default(),
    )
}

/// The one mutation: what to change, and the (path, code) it must produce.
#[derive(Debug, Clone)]
enum Mutation {
    Duration(i64),
    AspectRatio(&'static str),
    Seed(i64),
    ExtraRefs,
    RefNameSpace(usize),
    RefType(usize),
    MentionUnknown,
    Quality(&'static str),
    Model(&'static str),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (-5i64..100).prop_map(Mutation::Duration),
        prop::sample::select(vec!["5:4", "2:1", "16:10", "auto", ""])
            .prop_map(Mutation::AspectRatio),
        prop_oneof![(2_147_483_648i64..=i64::from(u32::MAX) + 10), (i64::MIN..0)]
            .prop_map(Mutation::Seed),
        Just(Mutation::ExtraRefs),
        (0usize..8).prop_map(Mutation::RefNameSpace),
        (0usize..8).prop_map(Mutation::RefType),
        Just(Mutation::MentionUnknown),
        prop::sample::select(vec!["480p", "4k", "720", ""]).prop_map(Mutation::Quality),
        prop::sample::select(vec!["v7", "V5", "", "c2"]).prop_map(Mutation::Model),
    ]
}

/// Applies `m`; returns the expected (path, code), or `None` if `m` happens to be allowed.
fn apply(request: &mut Value, caps: &ModelCaps, m: &Mutation) -> Option<(String, &'static str)> {
    let refs = request["image_references"].as_array().unwrap().len();
    match m {
        Mutation::Duration(d) => {
            if u32::try_from(*d).is_ok_and(|d| caps.durations.contains(&d)) {
                return None;
            }
            request["duration"] = json!(d);
            Some(("/duration".into(), "duration_not_allowed"))
        }
        Mutation::AspectRatio(r) => {
            request["aspect_ratio"] = json!(r);
            Some(("/aspect_ratio".into(), "aspect_ratio_not_allowed"))
        }
        Mutation::Seed(s) => {
            request["seed"] = json!(s);
            Some(("/seed".into(), "seed_out_of_range"))
        }
        Mutation::ExtraRefs => {
            let list = request["image_references"].as_array_mut().unwrap();
            for i in refs..=caps.max_images.value as usize {
                list.push(json!({"type": "subject", "img_id": 1, "ref_name": format!("extra{i}")}));
            }
            Some(("/image_references".into(), "too_many_images"))
        }
        Mutation::RefNameSpace(i) => {
            let i = i % refs;
            let name = request["image_references"][i]["ref_name"]
                .as_str()
                .unwrap()
                .to_owned();
            request["image_references"][i]["ref_name"] = json!(format!("{name} x"));
            Some((
                format!("/image_references/{i}/ref_name"),
                "ref_name_invalid_char",
            ))
        }
        Mutation::RefType(i) => {
            let i = i % refs;
            request["image_references"][i]["type"] = json!("object");
            Some((format!("/image_references/{i}/type"), "ref_type_unknown"))
        }
        Mutation::MentionUnknown => {
            let prompt = request["prompt"].as_str().unwrap().to_owned();
            request["prompt"] = json!(format!("{prompt} with @nobody_here around"));
            Some(("/prompt".into(), "mention_unknown"))
        }
        Mutation::Quality(q) => {
            request["quality"] = json!(q);
            Some(("/quality".into(), "quality_not_allowed"))
        }
        Mutation::Model(name) => {
            request["model"] = json!(name);
            Some(("/model".into(), "unknown_model"))
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        prop::sample::select(vec![
            "@dog",
            "@",
            "v5",
            "16:9",
            "subject",
            "a.png",
            "http://x/y.png"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                // Keys validation looks at (top level and inside references), plus one it doesn't.
                prop::sample::select(
                    pixfuse_core::job::KNOWN_FIELDS
                        .iter()
                        .copied()
                        .chain(pixfuse_core::JobReference::FIELDS.iter().copied())
                        .chain(["x"])
                        .collect::<Vec<_>>(),
                )
                .prop_map(str::to_owned),
                inner,
                0..8,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_from_allowed_values_are_clean((request, _caps) in valid_request()) {
        let v = validate(&request);
        prop_assert!(v.diagnostics.is_empty(), "{request:#}\n{:#?}", v.diagnostics);
        let job = v.job.expect("a clean request parses");
        // The request body is what was written.
        let body: Value = serde_json::from_str(&job.to_request_json().unwrap()).unwrap();
        prop_assert_eq!(body, request);
    }

    #[test]
    fn one_mutation_is_reported_at_its_path(
        (mut request, caps) in valid_request(),
        m in mutation(),
    ) {
        let Some((path, code)) = apply(&mut request, caps, &m) else { return Ok(()) };
        let v = validate(&request);
        let errors: Vec<(String, &str)> = v.errors().map(|d| (d.path.clone(), d.code)).collect();
        prop_assert_eq!(errors, vec![(path, code)], "{:?} on {:#}", m, request);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let bytes = serde_json::to_vec(&value).unwrap();
        let v = validate_bytes(&bytes, &ValidateOptions::default());
        if v.is_valid() {
            prop_assert!(v.job.is_some());
        }
        for d in &v.diagnostics {
            prop_assert!(pixfuse_core::diagnostic::CODES.iter().any(|(c, _)| *c == d.code), "{}", d.code);
            prop_assert!(d.path.is_empty() || d.path.starts_with('/'));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let v = validate_bytes(&bytes, &ValidateOptions::default());
        prop_assert!(v.job.is_some() || !v.diagnostics.is_empty());
    }

    #[test]
    fn a_field_replaced_by_anything_never_panics(
        (mut request, _caps) in valid_request(),
        field in prop::sample::select(vec![
            "image_references", "prompt", "model", "duration", "quality", "aspect_ratio",
            "generate_audio_switch", "seed",
        ]),
        value in json_value(),
    ) {
        request[field] = value;
        let v = validate(&request);
        if v.is_valid() {
            prop_assert!(v.job.is_some());
        }
    }
}
