//! Judging a fusion request as the vendor does, from spec data only: the request schema first
//! ([`crate::schema`]), then the capability table's rules of error severity that a vendor source
//! states. A rule only pixfuse's policy makes (a `ref_name` with a space, a mention that names
//! no reference, an unmentioned reference) is not the vendor's, so the sandbox accepts it.
//! The first rule broken is the answer: one ErrCode, one parameter.
//!
//! Omni mode (`reference_mode: "omni"`, v6 with reference videos) is judged the same way from
//! the table's `omni` section: in that mode its image cap, durations and extra aspect ratios
//! replace the model's, and since every Omni fact is third-party (warnings in the spec), an
//! Omni request the schema accepts is accepted. Whether the videos exist is the submit's
//! question (it needs the store).

use pixfuse_core::caps::{ModelCaps, Severity};
use pixfuse_core::{CAPABILITIES, Model, Quality, ReferenceMode};
use serde_json::Value;

use crate::reply::Refusal;
use crate::schema::{INVALID, check_request, too_long_code};

/// The source tag of rules that are pixfuse's policy, not the vendor's word.
const POLICY: &str = "policy";

/// A request the vendor would accept, with what the sandbox needs of it.
#[derive(Debug)]
pub(crate) struct Fusion {
    pub(crate) model: Model,
    pub(crate) quality: Quality,
    pub(crate) aspect_ratio: String,
    pub(crate) duration: u32,
    pub(crate) audio: bool,
    pub(crate) seed: Option<u32>,
    pub(crate) prompt: String,
    pub(crate) negative_prompt: Option<String>,
    pub(crate) style: Option<String>,
    pub(crate) img_ids: Vec<u64>,
    /// `reference_mode: "omni"`.
    pub(crate) omni: bool,
    /// The reference videos, in order (read in every request, used in Omni mode).
    pub(crate) videos: Vec<VideoRef>,
}

/// Where a reference video comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VideoRef {
    /// An upload's media id.
    Media(u64),
    /// An earlier generation's video id.
    Source(u64),
}

/// The vendor's verdict on a request body.
pub(crate) fn judge(body: &[u8]) -> Result<Fusion, Refusal> {
    let mut request: Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::new(crate::schema::WRONG_TYPE, "body"))?;
    // Only "omni" is evidenced, and no source says how the vendor answers another mode: like an
    // unknown field, the sandbox ignores it (pixfuse warns, `reference_mode_unknown`).
    if request["reference_mode"]
        .as_str()
        .is_some_and(|m| !ReferenceMode::from(m).is_known())
        && let Some(fields) = request.as_object_mut()
    {
        fields.remove("reference_mode");
    }
    check_request(&request)?;
    let fusion = read(&request)?;
    let caps = CAPABILITIES
        .model(&fusion.model)
        .ok_or_else(|| Refusal::new(INVALID, "model"))?;
    check_caps(caps, &fusion, &request)?;
    Ok(fusion)
}

fn refuses(severity: Severity, source: &str) -> bool {
    severity == Severity::Error && source != POLICY
}

fn check_caps(caps: &ModelCaps, f: &Fusion, request: &Value) -> Result<(), Refusal> {
    let refs = request["image_references"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let videos = request["video_references"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let invalid = |param: &str| Err(Refusal::new(INVALID, param));
    let omni = &CAPABILITIES.omni;
    // The vendor's docs: 1..N images. Omni mode may name videos alone.
    let videos_alone = f.omni && !videos.is_empty();
    if refs.is_empty() && !videos_alone {
        return Err(Refusal::new(crate::schema::EMPTY, "image_references"));
    }
    let (max, durations) = if f.omni {
        (&omni.max_images, &omni.durations)
    } else {
        (&caps.max_images, &caps.durations)
    };
    if refuses(max.severity, max.source) && refs.len() as u64 > max.value {
        return invalid("image_references");
    }
    if f.omni {
        let videos_cap = &omni.max_videos;
        if refuses(videos_cap.severity, videos_cap.source) && videos.len() as u64 > videos_cap.value
        {
            return invalid("video_references");
        }
        let negative = &omni.negative_prompt_max_chars;
        let negative_chars = f
            .negative_prompt
            .as_deref()
            .map_or(0, |n| n.chars().count());
        if refuses(negative.severity, negative.source) && negative_chars as u64 > negative.value {
            return Err(Refusal::new(
                too_long_code("negative_prompt"),
                "negative_prompt",
            ));
        }
        if !omni.supports(&f.model) && refuses(omni.models.severity, omni.models.source) {
            return invalid("model");
        }
    }
    if refuses(durations.severity, durations.source) && !durations.contains(&f.duration) {
        return invalid("duration");
    }
    let qualities = &caps.qualities;
    if refuses(qualities.severity, qualities.source) && !qualities.contains(&f.quality) {
        return invalid("quality");
    }
    if !f.omni
        && caps
            .forbidden_pair(&f.quality, f.duration)
            .is_some_and(|pair| refuses(pair.severity, pair.source))
    {
        return invalid("duration");
    }
    let ratios = &caps.aspect_ratios;
    let ratio = pixfuse_core::AspectRatio::from(f.aspect_ratio.as_str());
    let extra = &omni.extra_aspect_ratios;
    if !ratios.contains(&ratio) {
        let omni_extra = f.omni && extra.contains(&ratio);
        if omni_extra && refuses(extra.severity, extra.source)
            || !omni_extra && refuses(ratios.severity, ratios.source)
        {
            return invalid("aspect_ratio");
        }
    }
    let audio = &caps.audio_switch;
    if !audio.supported && f.audio && refuses(audio.when_true, audio.source) {
        return invalid("generate_audio_switch");
    }
    let chars = f.prompt.chars().count() as u64;
    if caps
        .prompt_max_chars
        .iter()
        .any(|limit| refuses(limit.severity, limit.source) && chars > limit.value)
    {
        return Err(Refusal::new(too_long_code("prompt"), "prompt"));
    }
    let rules = &CAPABILITIES.request;
    if let Some(seed) = f.seed
        && refuses(rules.seed_max.severity, rules.seed_max.source)
        && u64::from(seed) > rules.seed_max.value
    {
        return invalid("seed");
    }
    // Images, then videos: one set of names, unique across both and mentioned alike.
    let names: Vec<&str> = refs
        .iter()
        .chain(videos)
        .map(|r| r["ref_name"].as_str().unwrap_or_default())
        .collect();
    let name_limit = &rules.ref_name_max_bytes;
    for (i, name) in names.iter().enumerate() {
        let param = if i < refs.len() {
            format!("image_references[{i}].ref_name")
        } else {
            format!("video_references[{}].ref_name", i - refs.len())
        };
        if refuses(name_limit.severity, name_limit.source) && name.len() as u64 > name_limit.value {
            return invalid(&param);
        }
        // The vendor's docs: ref_name is unique within the request.
        if names[..i].contains(name) {
            return invalid(&param);
        }
    }
    check_mentions(&f.prompt, &names)
}

/// The vendor's docs (the seed): a `@ref_name` in the prompt must be followed by a space. A
/// mention is `@` and the longest reference name that follows it; at the very end of the prompt
/// nothing can follow (the seed's own example ends so), and an `@` followed by no reference name
/// is plain text to the vendor.
fn check_mentions(prompt: &str, names: &[&str]) -> Result<(), Refusal> {
    for (at, _) in prompt.match_indices('@') {
        let rest = &prompt[at + 1..];
        let Some(name) = names
            .iter()
            .filter(|n| !n.is_empty() && rest.starts_with(**n))
            .max_by_key(|n| n.len())
        else {
            continue;
        };
        if rest[name.len()..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace())
        {
            return Err(Refusal::new(INVALID, "prompt"));
        }
    }
    Ok(())
}

/// The fields the sandbox works with; the schema has checked their types already.
fn read(request: &Value) -> Result<Fusion, Refusal> {
    let text = |name: &str| request[name].as_str().map(str::to_owned);
    let img_ids = request["image_references"]
        .as_array()
        .map(|refs| refs.iter().filter_map(|r| r["img_id"].as_u64()).collect())
        .unwrap_or_default();
    let duration = request["duration"]
        .as_u64()
        .and_then(|d| u32::try_from(d).ok())
        .ok_or_else(|| Refusal::new(INVALID, "duration"))?;
    let mut videos = Vec::new();
    for (i, v) in request["video_references"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .enumerate()
    {
        // The schema's oneOf: exactly one of the two ids.
        videos.push(
            match (v["video_media_id"].as_u64(), v["source_video_id"].as_u64()) {
                (Some(id), None) => VideoRef::Media(id),
                (None, Some(id)) => VideoRef::Source(id),
                (None, None) => {
                    return Err(Refusal::new(
                        crate::schema::EMPTY,
                        format!("video_references[{i}].video_media_id"),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(Refusal::new(INVALID, format!("video_references[{i}]")));
                }
            },
        );
    }
    let seed = match &request["seed"] {
        Value::Null => None,
        seed => Some(
            seed.as_u64()
                .and_then(|s| u32::try_from(s).ok())
                .ok_or_else(|| Refusal::new(INVALID, "seed"))?,
        ),
    };
    Ok(Fusion {
        model: Model::from(request["model"].as_str().unwrap_or_default()),
        quality: Quality::from(request["quality"].as_str().unwrap_or_default()),
        aspect_ratio: text("aspect_ratio").unwrap_or_default(),
        duration,
        audio: request["generate_audio_switch"].as_bool().unwrap_or(false),
        seed,
        prompt: text("prompt").unwrap_or_default(),
        negative_prompt: text("negative_prompt"),
        style: text("style"),
        img_ids,
        omni: request["reference_mode"].as_str() == Some(ReferenceMode::Omni.as_str()),
        videos,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(model: &str) -> Value {
        json!({
            "image_references": [
                {"type": "subject", "img_id": 1, "ref_name": "dog"},
                {"type": "background", "img_id": 3, "ref_name": "room"}
            ],
            "prompt": "@dog naps in @room ",
            "model": model,
            "duration": 5,
            "quality": "540p",
            "aspect_ratio": "16:9",
        })
    }

    fn verdict(edit: impl FnOnce(&mut Value)) -> Result<Fusion, (i64, String)> {
        let mut r = request("v5");
        edit(&mut r);
        judge(r.to_string().as_bytes()).map_err(|r| (r.code, r.param))
    }

    fn refused(code: i64, param: &str) -> Result<(), (i64, String)> {
        Err((code, param.to_owned()))
    }

    #[test]
    fn the_capability_table_refuses_what_the_vendor_documents() {
        let v = |edit: fn(&mut Value)| verdict(edit).map(drop);
        assert_eq!(
            v(|r| r["duration"] = json!(10)),
            refused(INVALID, "duration")
        );
        assert_eq!(
            v(|r| r["aspect_ratio"] = json!("21:9")),
            refused(INVALID, "aspect_ratio")
        );
        assert_eq!(
            v(|r| r["generate_audio_switch"] = json!(true)),
            refused(INVALID, "generate_audio_switch")
        );
        assert_eq!(
            v(|r| r["prompt"] = json!("x".repeat(2049))),
            refused(400018, "prompt")
        );
        assert_eq!(
            v(|r| r["image_references"][1]["ref_name"] = json!("dog")),
            refused(INVALID, "image_references[1].ref_name")
        );
        assert_eq!(
            v(|r| r["image_references"][0]["ref_name"] = json!("d".repeat(31))),
            refused(INVALID, "image_references[0].ref_name")
        );
        assert_eq!(
            v(|r| r["prompt"] = json!("@dog, naps in @room ")),
            refused(INVALID, "prompt")
        );
        assert_eq!(
            v(|r| r["image_references"] = json!([])),
            refused(crate::schema::EMPTY, "image_references")
        );
        let mut four = request("v5");
        let extra = four["image_references"][0].clone();
        for name in ["a", "b"] {
            let mut r = extra.clone();
            r["ref_name"] = json!(name);
            four["image_references"].as_array_mut().unwrap().push(r);
        }
        assert_eq!(
            judge(four.to_string().as_bytes())
                .map(drop)
                .map_err(|r| (r.code, r.param)),
            refused(INVALID, "image_references")
        );
    }

    #[test]
    fn pixfuse_policy_is_not_the_vendors_and_passes() {
        // A ref_name with a space (the official MCP client allows it), mentioned with it.
        let spaced = verdict(|r| {
            r["image_references"][0]["ref_name"] = json!("my dog");
            r["prompt"] = json!("@my dog naps in @room");
        });
        assert!(spaced.is_ok(), "{spaced:?}");
        // A mention of no reference, an unmentioned reference, a mention at the very end,
        // `false` audio on a model without audio, an unknown field.
        for prompt in ["@cat naps in @room ", "a dog naps", "@dog naps in @room"] {
            assert!(verdict(|r| r["prompt"] = json!(prompt)).is_ok(), "{prompt}");
        }
        assert!(verdict(|r| r["generate_audio_switch"] = json!(false)).is_ok());
        let v6 = judge(
            json!({
                "image_references": [{"type": "subject", "img_id": 1, "ref_name": "dog"}],
                "prompt": "@dog runs ", "model": "v6", "duration": 7, "quality": "720p",
                "aspect_ratio": "21:9", "generate_audio_switch": true, "seed": 0,
                "style": "anime", "negative_prompt": "blur"
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!((v6.duration, v6.audio, v6.seed), (7, true, Some(0)));
        assert_eq!(v6.style.as_deref(), Some("anime"));
        assert_eq!(v6.negative_prompt.as_deref(), Some("blur"));
        // A prompt between 2049 and 5000 characters on v6 is only a warning in the table.
        let long = verdict(|r| {
            r["model"] = json!("v6");
            r["prompt"] = json!(format!("@dog naps in @room {}", "x".repeat(3000)));
        });
        assert!(long.is_ok(), "{long:?}");
    }

    fn omni(edit: impl FnOnce(&mut Value)) -> Result<Fusion, (i64, String)> {
        let mut r = json!({
            "model": "v6", "prompt": "@subject1 dances like @video1 ", "quality": "720p",
            "duration": 0, "aspect_ratio": "auto", "generate_audio_switch": true, "seed": 42,
            "reference_mode": "omni",
            "image_references": [{"img_id": 1, "ref_name": "subject1", "type": "subject"}],
            "video_references": [{"ref_name": "video1", "video_media_id": 2}]
        });
        edit(&mut r);
        judge(r.to_string().as_bytes()).map_err(|r| (r.code, r.param))
    }

    #[test]
    fn omni_requests_are_judged_by_the_tables_omni_section() {
        let accepted = omni(|_| {}).unwrap();
        assert!(accepted.omni);
        assert_eq!(accepted.videos, [VideoRef::Media(2)]);
        // Third-party limits are warnings in the table: eight images, three videos, a model
        // other than v6, a duration other than 0 — all sent, all accepted.
        let eight: Vec<Value> = (0..8)
            .map(|i| json!({"type": "subject", "img_id": i, "ref_name": format!("p{i}")}))
            .collect();
        assert!(omni(|r| r["image_references"] = json!(eight)).is_ok());
        assert!(
            omni(|r| r["video_references"] = json!([
                {"ref_name": "video1", "video_media_id": 2},
                {"ref_name": "v2", "source_video_id": 3},
                {"ref_name": "v3", "video_media_id": 4},
            ]))
            .is_ok()
        );
        assert!(omni(|r| r["duration"] = json!(5)).is_ok());
        // Videos alone are enough in Omni mode; nothing at all is not.
        let alone = omni(|r| {
            r.as_object_mut().unwrap().remove("image_references");
            r["prompt"] = json!("like @video1 ");
        });
        assert!(alone.is_ok(), "{alone:?}");
        assert_eq!(
            omni(|r| {
                r["image_references"] = json!([]);
                r["video_references"] = json!([]);
            })
            .map(drop),
            refused(crate::schema::EMPTY, "image_references")
        );
        // Names are unique across images and videos, and videos are mentioned like images.
        assert_eq!(
            omni(|r| r["video_references"][0]["ref_name"] = json!("subject1")).map(drop),
            refused(INVALID, "video_references[0].ref_name")
        );
        assert_eq!(
            omni(|r| r["prompt"] = json!("@subject1 dances like @video1, fast")).map(drop),
            refused(INVALID, "prompt")
        );
    }

    #[test]
    fn outside_omni_mode_the_models_rules_stand() {
        let plain = |edit: fn(&mut Value)| {
            omni(|r| {
                r.as_object_mut().unwrap().remove("reference_mode");
                r["duration"] = json!(5);
                r["aspect_ratio"] = json!("16:9");
                edit(r);
            })
            .map(|f| f.omni)
        };
        assert_eq!(plain(|_| {}), Ok(false));
        assert_eq!(
            plain(|r| r["duration"] = json!(0)),
            refused(INVALID, "duration").map(|()| false)
        );
        assert_eq!(
            plain(|r| r["aspect_ratio"] = json!("auto")),
            refused(INVALID, "aspect_ratio").map(|()| false)
        );
        // An unknown mode is ignored: the request is plain.
        assert_eq!(plain(|r| r["reference_mode"] = json!("omini")), Ok(false));
    }

    #[test]
    fn a_longer_name_wins_the_mention() {
        assert!(check_mentions("@dogs run", &["dog", "dogs"]).is_ok());
        assert!(check_mentions("@dog's run", &["dog", "dogs"]).is_err());
        assert!(check_mentions("mail me@example.com", &["dog"]).is_ok());
    }

    #[test]
    fn a_body_that_is_not_json_has_the_wrong_type() {
        let refusal = judge(b"{not json").unwrap_err();
        assert_eq!(refusal.code, crate::schema::WRONG_TYPE);
    }
}

#[cfg(test)]
mod spec_examples {
    use std::path::Path;

    use serde_json::Value;

    use super::judge;

    /// `(name, whether pixfuse calls it valid, the sandbox's refusal)` for every example request
    /// (job forms, which name images or videos by path, are not requests a vendor ever sees).
    fn verdicts() -> Vec<(String, bool, Option<String>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/examples");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".json") || name.ends_with(".expect.json") {
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&body);
            if text.contains("\"image\"") || text.contains("\"video\"") {
                continue;
            }
            let expect: Value =
                serde_json::from_slice(&std::fs::read(path.with_extension("expect.json")).unwrap())
                    .unwrap();
            let sandbox = judge(&body)
                .err()
                .map(|r| format!("{} {}", r.code, r.param));
            out.push((name, expect["valid"] == true, sandbox));
        }
        out.sort();
        out
    }

    #[test]
    fn the_sandbox_accepts_every_example_pixfuse_calls_valid() {
        for (name, valid, sandbox) in verdicts() {
            if valid {
                assert_eq!(
                    sandbox, None,
                    "{name}: pixfuse would send what the vendor refuses"
                );
            }
        }
    }

    #[test]
    fn pixfuse_is_stricter_than_the_vendor_only_where_its_policy_says_so() {
        let lenient: Vec<String> = verdicts()
            .into_iter()
            .filter(|(_, valid, sandbox)| !valid && sandbox.is_none())
            .map(|(name, ..)| name)
            .collect();
        // A mention of no reference (in any case) is an error by pixfuse's policy only.
        assert_eq!(lenient, ["mention-unknown.json", "mention-wrong-case.json"]);
    }
}
