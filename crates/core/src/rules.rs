//! The semantic rules of fusion-api.md §2–§4, run on whatever fields could be read. Every
//! number and severity comes from the generated tables ([`CAPABILITIES`]); rules for a field that
//! is missing or has the wrong type are skipped (the shape check already reported it).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::caps::ModelCaps;
use crate::diagnostic::{Diagnostic, escape_pointer_token, ref_path, video_path};
use crate::fields::{Fields, Refs, VideoFields};
use crate::job::{ImageSource, KNOWN_FIELDS, VideoSource, is_https_url};
use crate::mention::{MentionKind, classify, has_space_or_at, mentions, same};
use crate::suggest::{closest, list, list_numbers, nearest, plausible, plural, ratio, truncate};
use crate::{AspectRatio, CAPABILITIES, Model, Quality, RefType, Severity};

/// Which references the prompt mentions: a bitmask, or a vector past 64 references.
enum Marks {
    Bits(u64),
    Many(Vec<bool>),
}

impl Marks {
    fn new(len: usize) -> Self {
        if len <= 64 {
            Marks::Bits(0)
        } else {
            Marks::Many(vec![false; len])
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Marks::Bits(bits) => *bits |= 1 << i,
            Marks::Many(v) => v[i] = true,
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Marks::Bits(bits) => bits & (1 << i) != 0,
            Marks::Many(v) => v[i],
        }
    }
}

/// What validation may let through.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidateOptions {
    /// Treat a model missing from the capability table as a warning (model-specific checks are
    /// skipped) instead of an error: for a model released after this build.
    pub allow_unknown_model: bool,
}

impl ValidateOptions {
    /// Sets [`ValidateOptions::allow_unknown_model`].
    #[must_use]
    pub fn allow_unknown_model(mut self, allow: bool) -> Self {
        self.allow_unknown_model = allow;
        self
    }
}

/// Where a named reference sits: the n-th image or the n-th video.
#[derive(Clone, Copy)]
pub(crate) enum RefAt {
    Image(usize),
    Video(usize),
}

impl RefAt {
    fn path(self, field: Option<&str>) -> String {
        match self {
            RefAt::Image(i) => ref_path(i, field),
            RefAt::Video(i) => video_path(i, field),
        }
    }
}

pub(crate) fn check(fields: &Fields<'_>, opts: &ValidateOptions, out: &mut Vec<Diagnostic>) {
    let caps = fields.model.and_then(|m| check_model(m, opts, out));
    let omni = fields.is_omni();
    if let Some(mode) = fields.reference_mode {
        crate::omni::check_reference_mode(mode, out);
    }
    if let Some(refs) = fields.refs {
        check_ref_count(refs.len(), fields.video_count(), omni, caps, out);
        check_refs(refs, out);
    }
    if let Some(videos) = &fields.videos {
        check_videos(videos, fields.refs, out);
    }
    if let Some(prompt) = fields.prompt {
        check_prompt(prompt, fields.refs, fields.videos.as_deref(), caps, out);
    }
    if let Some(negative) = fields.negative_prompt {
        crate::omni::check_negative_prompt(negative, out);
    }
    if omni {
        crate::omni::check_mode(fields, out);
    } else {
        crate::omni::check_looks_like(fields, out);
    }
    if let Some(caps) = caps {
        // Omni mode has its own duration rule (crate::omni); the model's does not apply there.
        let duration = if omni { None } else { fields.duration };
        check_duration_quality(duration, fields.quality, caps, out);
        if let Some(ratio) = fields.aspect_ratio {
            check_aspect_ratio(ratio, caps, omni, out);
        }
        if let Some(audio) = fields.audio {
            check_audio(audio, caps, out);
        }
    }
    if let Some(seed) = fields.seed {
        check_seed(seed, out);
    }
    check_extra(fields.extra, out);
}

fn check_model<'c>(
    model: &Model,
    opts: &ValidateOptions,
    out: &mut Vec<Diagnostic>,
) -> Option<&'c ModelCaps> {
    if let Some(caps) = CAPABILITIES.model(model) {
        return Some(caps);
    }
    let known = list(CAPABILITIES.models.iter().map(|m| m.model.as_str()));
    let policy = CAPABILITIES.request.unknown_model;
    let (severity, message) = if opts.allow_unknown_model {
        (
            Severity::Warning,
            format!(
                "model \"{model}\" is not in this build's capability table ({known}); it is sent as written, and model-specific checks are skipped"
            ),
        )
    } else {
        (
            policy.severity,
            format!(
                "unknown model \"{model}\"; this build knows {known} (pass --allow-unknown-model to send a newer model anyway)"
            ),
        )
    };
    let mut d = Diagnostic::new(severity, "unknown_model", "/model", message);
    if let Some(best) = closest(
        model.as_str(),
        CAPABILITIES.models.iter().map(|m| m.model.as_str()),
    ) {
        d = d.with_suggestion(format!("did you mean \"{best}\"?"));
    }
    out.push(d);
    None
}

fn check_ref_count(
    count: usize,
    videos: usize,
    omni: bool,
    caps: Option<&ModelCaps>,
    out: &mut Vec<Diagnostic>,
) {
    if count == 0 && omni && videos > 0 {
        // Omni mode may name videos alone.
        return;
    }
    if count == 0 {
        out.push(
            Diagnostic::error(
                "no_images",
                "/image_references",
                "image_references is empty; a Fusion request needs at least one reference image",
            )
            .with_suggestion(
                "add a reference: {\"type\": \"subject\", \"img_id\": …, \"ref_name\": \"dog\"}",
            ),
        );
        return;
    }
    if omni {
        crate::omni::check_image_count(count, out);
        return;
    }
    let Some(caps) = caps else { return };
    let max = caps.max_images;
    if count as u64 > max.value {
        let bigger: Vec<&str> = CAPABILITIES
            .models
            .iter()
            .filter(|m| m.max_images.value >= count as u64)
            .map(|m| m.model.as_str())
            .collect();
        let mut d = Diagnostic::new(
            max.severity,
            "too_many_images",
            "/image_references",
            format!(
                "{} takes at most {} reference images, this request has {count}",
                caps.model, max.value
            ),
        );
        d = d.with_suggestion(if bigger.is_empty() {
            format!("remove {}", plural(count as u64 - max.value, "reference"))
        } else {
            format!(
                "remove {}, or use {}",
                plural(count as u64 - max.value, "reference"),
                list(bigger)
            )
        });
        out.push(d);
    }
}

fn check_refs(refs: Refs<'_>, out: &mut Vec<Diagnostic>) {
    for (i, r) in refs.iter().enumerate() {
        if let Some(type_) = r.type_.filter(|t| !t.is_known()) {
            let mut d = Diagnostic::error(
                "ref_type_unknown",
                ref_path(i, Some("type")),
                format!(
                    "reference type \"{type_}\" is not one of {}",
                    list(RefType::KNOWN.iter().map(|t| format!("\"{t}\"")))
                ),
            );
            if let Some(best) = closest(type_.as_str(), RefType::KNOWN.iter().map(RefType::as_str))
            {
                d = d.with_suggestion(format!("did you mean \"{best}\"?"));
            }
            out.push(d);
        }
        if let Some(image) = r.source.and_then(ImageSource::image) {
            check_image(i, image, out);
        }
        if let Some(name) = r.ref_name {
            let earlier = refs
                .iter()
                .take(i)
                .enumerate()
                .map(|(j, r)| (RefAt::Image(j), r.ref_name));
            check_ref_name(RefAt::Image(i), name, earlier, out);
        }
    }
}

/// The reference videos: where each comes from, and its ref_name (unique across images and
/// videos).
fn check_videos(videos: &[VideoFields<'_>], refs: Option<Refs<'_>>, out: &mut Vec<Diagnostic>) {
    for (i, v) in videos.iter().enumerate() {
        if let Some(video) = v.source.and_then(VideoSource::video) {
            crate::omni::check_video_file(i, video, out);
        }
        if let Some(name) = v.ref_name {
            let images = refs
                .into_iter()
                .flat_map(Refs::iter)
                .enumerate()
                .map(|(j, r)| (RefAt::Image(j), r.ref_name));
            let earlier = videos
                .iter()
                .take(i)
                .enumerate()
                .map(|(j, v)| (RefAt::Video(j), v.ref_name));
            check_ref_name(RefAt::Video(i), name, images.chain(earlier), out);
        }
    }
}

fn check_image(i: usize, image: &str, out: &mut Vec<Diagnostic>) {
    let path = ref_path(i, Some("image"));
    if image.is_empty() {
        out.push(Diagnostic::error(
            "image_source_missing",
            path,
            "image is empty; give a local path or an https URL",
        ));
        return;
    }
    if let Some((scheme, _)) = image.split_once("://")
        && !is_https_url(image)
    {
        let mut d = Diagnostic::error(
            "image_url_not_https",
            path.clone(),
            format!(
                "image URL scheme \"{scheme}\" is not supported; only https URLs (or local paths) are"
            ),
        );
        if scheme.eq_ignore_ascii_case("http") {
            d = d.with_suggestion(format!("use https://{}", &image[scheme.len() + 3..]));
        }
        out.push(d);
    }
    let allowed = CAPABILITIES.upload.extensions;
    let stem = if is_https_url(image) {
        image.split(['?', '#']).next().unwrap_or(image)
    } else {
        image
    };
    let file = stem.rsplit(['/', '\\']).next().unwrap_or(stem);
    let ext = file.rsplit_once('.').map(|(_, e)| e);
    if !ext.is_some_and(|e| allowed.iter().any(|a| a.eq_ignore_ascii_case(e))) {
        let what = match ext {
            Some(e) => format!("extension \".{e}\""),
            None => String::from("no file extension"),
        };
        out.push(
            Diagnostic::error(
                "image_extension_not_allowed",
                path,
                format!(
                    "image \"{image}\" has {what}; the upload accepts {}",
                    list(allowed.iter().map(|e| format!(".{e}")))
                ),
            )
            .with_suggestion("convert the image to png, jpeg or webp"),
        );
    }
}

/// Whether a name can be mentioned at all (non-empty, short enough, no whitespace or `@`).
pub(crate) fn is_mentionable(name: &str) -> bool {
    !name.is_empty()
        && name.len() as u64 <= CAPABILITIES.request.ref_name_max_bytes.value
        && !has_space_or_at(name)
}

fn check_ref_name<'a>(
    at: RefAt,
    name: &str,
    mut earlier: impl Iterator<Item = (RefAt, Option<&'a str>)>,
    out: &mut Vec<Diagnostic>,
) {
    // Built only when something is reported: the clean path allocates nothing here.
    let path = || at.path(Some("ref_name"));
    if name.is_empty() {
        out.push(
            Diagnostic::error(
                "ref_name_empty",
                path(),
                "ref_name is empty; the prompt names each reference as @ref_name",
            )
            .with_suggestion("give it a short name such as \"dog\""),
        );
        return;
    }
    let max = CAPABILITIES.request.ref_name_max_bytes;
    if name.len() as u64 > max.value {
        let short = truncate(name, usize::try_from(max.value).unwrap_or(usize::MAX));
        out.push(
            Diagnostic::new(
                max.severity,
                "ref_name_too_long",
                path(),
                format!(
                    "ref_name \"{name}\" is {} bytes long; at most {} bytes of UTF-8 are allowed",
                    name.len(),
                    max.value
                ),
            )
            .with_suggestion(format!("shorten it, e.g. \"{short}\"")),
        );
    }
    if has_space_or_at(name) {
        let fixed: String = name
            .chars()
            .filter(|c| *c != '@')
            .map(|c| if c.is_whitespace() { '_' } else { c })
            .collect();
        let mut d = Diagnostic::error(
            "ref_name_invalid_char",
            path(),
            format!(
                "ref_name \"{name}\" contains whitespace or @, so the prompt can never mention it as @{name}"
            ),
        );
        if !fixed.is_empty() {
            d = d.with_suggestion(format!("rename it \"{fixed}\""));
        }
        out.push(d);
    }
    if let Some((first, _)) = earlier.find(|(_, n)| n.is_some_and(|n| same(n, name))) {
        out.push(
            Diagnostic::error(
                "ref_name_duplicate",
                path(),
                format!(
                    "ref_name \"{name}\" is already used by {}; names must be unique across images and videos (case-sensitive)",
                    first.path(None)
                ),
            )
            .with_suggestion(format!("rename it, e.g. \"{name}2\"")),
        );
    }
}

fn check_prompt(
    prompt: &str,
    refs: Option<Refs<'_>>,
    videos: Option<&[VideoFields<'_>]>,
    caps: Option<&ModelCaps>,
    out: &mut Vec<Diagnostic>,
) {
    if prompt.is_empty() {
        out.push(
            Diagnostic::error("prompt_empty", "/prompt", "the prompt is empty")
                .with_suggestion("describe the scene, naming each reference as @ref_name"),
        );
        // Every reference is unmentioned, which says nothing new.
        return;
    }
    if let Some(caps) = caps {
        check_prompt_length(prompt, caps, out);
    }
    // Mentions can only be judged when every reference's name could be read. Images come
    // first, then videos: one list of names, mentioned alike.
    let (Some(refs), Some(videos)) = (refs, videos) else {
        return;
    };
    if refs.iter().any(|r| r.ref_name.is_none()) || videos.iter().any(|v| v.ref_name.is_none()) {
        return;
    }
    let images = refs.len();
    let total = images + videos.len();
    let at = |i: usize| {
        if i < images {
            RefAt::Image(i)
        } else {
            RefAt::Video(i - images)
        }
    };
    let name_at = |i: usize| {
        if i < images {
            refs.get(i).ref_name.unwrap_or_default()
        } else {
            videos[i - images].ref_name.unwrap_or_default()
        }
    };
    let mut valid: Vec<&str> = Vec::with_capacity(total);
    valid.extend((0..total).map(name_at).filter(|n| is_mentionable(n)));
    // `classify` hands back the very `&str` of `valid`, one of the ref_names: mark it by
    // identity (a duplicate name is reported at its own path and never as unmentioned).
    let mut mentioned = Marks::new(total);
    let mark = |name: &str, mentioned: &mut Marks| {
        if let Some(i) = (0..total).position(|i| std::ptr::eq(name_at(i).as_ptr(), name.as_ptr())) {
            mentioned.set(i);
        }
    };
    for m in mentions(prompt) {
        match classify(&m, &valid) {
            MentionKind::Bare => {}
            MentionKind::Exact(name) => {
                mark(name, &mut mentioned);
                if m.at_end(prompt) {
                    let policy = CAPABILITIES.request.mention_at_end;
                    out.push(
                        Diagnostic::new(
                            policy.severity,
                            "mention_at_end",
                            "/prompt",
                            format!(
                                "@{name} ends the prompt; the docs ask for a space after each mention, and the server may not see it"
                            ),
                        )
                        .with_suggestion(format!("add a space (or more words) after @{name}"))
                        .with_span(m.span.clone()),
                    );
                }
            }
            MentionKind::NoSpace { name, split } => {
                mark(name, &mut mentioned);
                let rest = &prompt[split..m.span.end];
                out.push(
                    Diagnostic::error(
                        "mention_no_space",
                        "/prompt",
                        format!(
                            "@{name} is followed by \"{rest}\" without a space; the server reads \"@{}\" as the name",
                            m.token
                        ),
                    )
                    .with_suggestion(format!("insert a space after @{name}"))
                    .with_span(m.span.clone()),
                );
            }
            // `@my dog` for a ref_name "my dog": the ref_name error already explains it.
            MentionKind::Unknown
                if (0..total).any(|i| {
                    let n = name_at(i);
                    !is_mentionable(n) && !n.is_empty() && n.starts_with(m.token)
                }) => {}
            MentionKind::Unknown => {
                let mut d = Diagnostic::error(
                    "mention_unknown",
                    "/prompt",
                    format!(
                        "@{} does not match any ref_name ({}); names match exactly, case included",
                        m.token,
                        if valid.is_empty() {
                            String::from("there are none")
                        } else {
                            list(valid.iter())
                        }
                    ),
                )
                .with_span(m.span.clone());
                if let Some(best) = closest(m.token, valid.iter().copied()) {
                    d = d.with_suggestion(format!("did you mean @{best}?"));
                }
                out.push(d);
            }
        }
    }
    let policy = CAPABILITIES.request.unmentioned_ref;
    for i in 0..total {
        let name = name_at(i);
        if !mentioned.get(i) && is_mentionable(name) && !(0..i).any(|j| same(name_at(j), name)) {
            out.push(
                Diagnostic::new(
                    policy.severity,
                    "ref_unmentioned",
                    at(i).path(Some("ref_name")),
                    format!("reference \"{name}\" is never mentioned in the prompt as @{name}"),
                )
                .with_suggestion(format!("mention it, e.g. \"@{name} \"")),
            );
        }
    }
}

fn check_prompt_length(prompt: &str, caps: &ModelCaps, out: &mut Vec<Diagnostic>) {
    // Characters never outnumber bytes: a prompt within the smallest bound in bytes is fine.
    let smallest = caps.prompt_max_chars.iter().map(|l| l.value).min();
    if smallest.is_none_or(|min| prompt.len() as u64 <= min) {
        return;
    }
    let chars = prompt.chars().count() as u64;
    // Only the largest bound exceeded is reported (5001 chars on v6: the error, not also the warning).
    let Some(limit) = caps
        .prompt_max_chars
        .iter()
        .filter(|l| chars > l.value)
        .max_by_key(|l| l.value)
    else {
        return;
    };
    let start = usize::try_from(limit.value)
        .ok()
        .and_then(|n| prompt.char_indices().nth(n))
        .map_or(prompt.len(), |(i, _)| i);
    let tail = if limit.severity == Severity::Warning {
        "; some official tables allow only this many, so the server may cut or refuse it"
    } else {
        ""
    };
    out.push(
        Diagnostic::new(
            limit.severity,
            "prompt_too_long",
            "/prompt",
            format!(
                "the prompt has {chars} characters; {} accepts at most {}{tail}",
                caps.model, limit.value
            ),
        )
        .with_suggestion(format!(
            "shorten it by {}",
            plural(chars - limit.value, "character")
        ))
        .with_span(start..prompt.len()),
    );
}

fn check_duration_quality(
    duration: Option<i128>,
    quality: Option<&Quality>,
    caps: &ModelCaps,
    out: &mut Vec<Diagnostic>,
) {
    let durations = &caps.durations;
    let duration_ok =
        duration.and_then(|d| u32::try_from(d).ok().filter(|d| durations.contains(d)));
    if let Some(d) = duration
        && duration_ok.is_none()
    {
        let mut diag = Diagnostic::new(
            durations.severity,
            "duration_not_allowed",
            "/duration",
            format!(
                "{} makes videos of {} seconds, not {d}",
                caps.model,
                list_numbers(durations.values)
            ),
        );
        if let Some(n) = nearest(d, durations.values) {
            diag = diag.with_suggestion(format!("use {n}"));
        }
        out.push(diag);
    }
    let qualities = &caps.qualities;
    let quality_ok = quality.filter(|q| qualities.contains(q));
    if let Some(q) = quality
        && quality_ok.is_none()
    {
        let mut diag = Diagnostic::new(
            qualities.severity,
            "quality_not_allowed",
            "/quality",
            format!(
                "{} accepts quality {}, not \"{q}\"",
                caps.model,
                list(qualities.values.iter().map(|q| format!("\"{q}\"")))
            ),
        );
        if let Some(best) = closest(q.as_str(), qualities.values.iter().map(Quality::as_str)) {
            diag = diag.with_suggestion(format!("did you mean \"{best}\"?"));
        }
        out.push(diag);
    }
    if let (Some(d), Some(q)) = (duration_ok, quality_ok)
        && let Some(rule) = caps.forbidden_pair(q, d)
    {
        let fine: Vec<u32> = durations
            .values
            .iter()
            .copied()
            .filter(|x| !rule.durations.contains(x))
            .collect();
        let mut diag = Diagnostic::new(
            rule.severity,
            "quality_duration_forbidden",
            "/duration",
            format!("{} cannot make {d} s videos at {q}", caps.model),
        );
        if let Some(n) = nearest(i128::from(d), &fine) {
            diag = diag.with_suggestion(format!("use {n} s at {q}, or a lower quality for {d} s"));
        }
        out.push(diag);
    }
}

fn check_aspect_ratio(
    value: &AspectRatio,
    caps: &ModelCaps,
    omni: bool,
    out: &mut Vec<Diagnostic>,
) {
    let allowed = &caps.aspect_ratios;
    if allowed.contains(value) {
        return;
    }
    if omni && CAPABILITIES.omni.extra_aspect_ratios.contains(value) {
        crate::omni::check_extra_aspect_ratio(value, out);
        return;
    }
    let mut d = Diagnostic::new(
        allowed.severity,
        "aspect_ratio_not_allowed",
        "/aspect_ratio",
        format!(
            "{} accepts aspect ratios {}, not \"{value}\"",
            caps.model,
            list(allowed.values.iter().map(|r| format!("\"{r}\"")))
        ),
    );
    let best = match ratio(value.as_str()) {
        Some(r) => allowed
            .values
            .iter()
            .filter_map(|a| Some((a, ratio(a.as_str())?)))
            .min_by(|x, y| (x.1 / r).ln().abs().total_cmp(&(y.1 / r).ln().abs()))
            .map(|(a, _)| a.as_str()),
        None => closest(
            value.as_str(),
            allowed.values.iter().map(AspectRatio::as_str),
        ),
    };
    if let Some(best) = best {
        d = d.with_suggestion(format!("use \"{best}\" (the closest allowed)"));
    }
    out.push(d);
}

fn check_audio(audio: bool, caps: &ModelCaps, out: &mut Vec<Diagnostic>) {
    let rule = caps.audio_switch;
    if rule.supported {
        return;
    }
    let with_audio = list(
        CAPABILITIES
            .models
            .iter()
            .filter(|m| m.audio_switch.supported)
            .map(|m| m.model.as_str()),
    );
    let (severity, message, suggestion) = if audio {
        (
            rule.when_true,
            format!("{} cannot generate audio", caps.model),
            format!("remove generate_audio_switch, or use {with_audio}"),
        )
    } else {
        (
            rule.when_false,
            format!("generate_audio_switch has no effect on {}", caps.model),
            String::from("remove generate_audio_switch"),
        )
    };
    out.push(
        Diagnostic::new(
            severity,
            "audio_not_supported",
            "/generate_audio_switch",
            message,
        )
        .with_suggestion(suggestion),
    );
}

fn check_seed(seed: i128, out: &mut Vec<Diagnostic>) {
    let max = CAPABILITIES.request.seed_max;
    if seed < 0 || seed > i128::from(max.value) {
        out.push(
            Diagnostic::new(
                max.severity,
                "seed_out_of_range",
                "/seed",
                format!("seed {seed} is outside 0..={}", max.value),
            )
            .with_suggestion(format!(
                "use a seed between 0 and {}, or omit it",
                max.value
            )),
        );
    }
}

fn check_extra(extra: &BTreeMap<String, Value>, out: &mut Vec<Diagnostic>) {
    let policy = CAPABILITIES.request.unknown_field;
    for key in extra.keys() {
        let mut d = Diagnostic::new(
            policy.severity,
            "unknown_field",
            format!("/{}", escape_pointer_token(key)),
            format!(
                "\"{key}\" is not a documented field of the Fusion request; it is sent as written, and the server may ignore or reject it"
            ),
        );
        if let Some(best) = plausible(key, KNOWN_FIELDS.iter().copied()) {
            d = d.with_suggestion(format!("did you mean \"{best}\"?"));
        }
        out.push(d);
    }
}
