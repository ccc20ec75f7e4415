//! v6 Omni mode (`reference_mode: "omni"` with `video_references`): its rules, and the hint for a
//! request that looks like Omni without saying so.
//!
//! No vendor page describes Omni; every fact is third-party (fusion-api.md §10), so every rule
//! here takes its severity from [`CAPABILITIES`]`.omni`, where the spec keeps them warnings: a
//! user can always send what the vendor may accept. Reference-video lengths are not in the
//! request: the caller that has probed the files passes them to [`check_video_lengths`].

use crate::diagnostic::{Diagnostic, video_path};
use crate::fields::Fields;
use crate::job::{Job, is_https_url};
use crate::suggest::{closest, list, list_numbers, plural};
use crate::{AspectRatio, CAPABILITIES, ReferenceMode};

/// `reference_mode` with a value the spec does not know (it is sent as written).
pub(crate) fn check_reference_mode(mode: &ReferenceMode, out: &mut Vec<Diagnostic>) {
    if mode.is_known() {
        return;
    }
    let known = ReferenceMode::KNOWN.iter().map(ReferenceMode::as_str);
    let mut d = Diagnostic::new(
        CAPABILITIES.request.unknown_field.severity,
        "reference_mode_unknown",
        "/reference_mode",
        format!(
            "reference_mode \"{mode}\" is not one this build knows ({}); it is sent as written, and the request is checked as a plain one",
            list(known.clone().map(|m| format!("\"{m}\"")))
        ),
    );
    if let Some(best) = closest(mode.as_str(), known) {
        d = d.with_suggestion(format!("did you mean \"{best}\"?"));
    }
    out.push(d);
}

/// Image count in Omni mode (replaces the model's `max_images`).
pub(crate) fn check_image_count(count: usize, out: &mut Vec<Diagnostic>) {
    let max = CAPABILITIES.omni.max_images;
    if count as u64 > max.value {
        out.push(
            Diagnostic::new(
                max.severity,
                "omni_too_many_images",
                "/image_references",
                format!(
                    "Omni mode takes at most {} reference images (third-party sources), this request has {count}",
                    max.value
                ),
            )
            .with_suggestion(format!(
                "remove {}",
                plural(count as u64 - max.value, "reference")
            )),
        );
    }
}

/// The rules of Omni mode itself: model, videos present and within the cap, duration 0.
pub(crate) fn check_mode(fields: &Fields<'_>, out: &mut Vec<Diagnostic>) {
    let omni = &CAPABILITIES.omni;
    if let Some(model) = fields.model
        && !omni.supports(model)
    {
        out.push(
            Diagnostic::new(
                omni.models.severity,
                "omni_model_not_supported",
                "/model",
                format!(
                    "Omni mode (reference videos) is only known on {}, not on \"{model}\"; the server may refuse the request or ignore the videos",
                    list(omni.models.values.iter().map(|m| m.as_str()))
                ),
            )
            .with_suggestion(format!(
                "use model \"{}\"",
                omni.models.values.first().map_or("v6", |m| m.as_str())
            )),
        );
    }
    let videos = fields.video_count();
    if videos == 0 && fields.videos.is_some() {
        out.push(
            Diagnostic::new(
                omni.without_videos.severity,
                "omni_without_videos",
                "/reference_mode",
                "reference_mode is \"omni\" but there are no video_references; clients send Omni only with at least one video, whose length the output follows",
            )
            .with_suggestion(
                "add a video reference ({\"ref_name\": \"video1\", \"video\": \"clip.mp4\"}), or remove reference_mode",
            ),
        );
    }
    let max = omni.max_videos;
    if videos as u64 > max.value {
        out.push(
            Diagnostic::new(
                max.severity,
                "omni_too_many_videos",
                "/video_references",
                format!(
                    "Omni mode takes at most {} reference videos (third-party sources), this request has {videos}",
                    max.value
                ),
            )
            .with_suggestion(format!(
                "remove {}",
                plural(videos as u64 - max.value, "video reference")
            )),
        );
    }
    let durations = &omni.durations;
    if let Some(d) = fields.duration
        && !u32::try_from(d).is_ok_and(|d| durations.contains(&d))
    {
        out.push(
            Diagnostic::new(
                durations.severity,
                "omni_duration_not_zero",
                "/duration",
                format!(
                    "in Omni mode the duration is {} (the output follows the longest reference video), not {d}",
                    list_numbers(durations.values)
                ),
            )
            .with_suggestion(format!(
                "use {}",
                durations.values.first().copied().unwrap_or(0)
            )),
        );
    }
}

/// An Omni-only aspect ratio (`auto`) in Omni mode: allowed, but the sources disagree.
pub(crate) fn check_extra_aspect_ratio(value: &AspectRatio, out: &mut Vec<Diagnostic>) {
    let extra = &CAPABILITIES.omni.extra_aspect_ratios;
    out.push(
        Diagnostic::new(
            extra.severity,
            "omni_aspect_ratio_disputed",
            "/aspect_ratio",
            format!(
                "aspect_ratio \"{value}\" is accepted in Omni mode by most third-party clients, but one rejects it; if the server refuses the request, name a ratio"
            ),
        )
        .with_suggestion("use a fixed ratio such as \"16:9\" if the server refuses \"auto\""),
    );
}

/// A request without `reference_mode: "omni"` that uses an Omni-only feature: say which mode it
/// looks like (the model's own rules, e.g. duration 1..=15, still report the value).
pub(crate) fn check_looks_like(fields: &Fields<'_>, out: &mut Vec<Diagnostic>) {
    let policy = CAPABILITIES.omni.looks_like_omni;
    let models = list(
        CAPABILITIES
            .omni
            .models
            .values
            .iter()
            .map(|m| format!("\"{m}\"")),
    );
    let mut hint = |path: &str, what: String| {
        out.push(
            Diagnostic::new(
                policy.severity,
                "looks_like_omni",
                path,
                format!(
                    "{what} is a feature of Omni mode (reference videos, {models} only): this looks like an Omni request, but \"reference_mode\": \"omni\" is missing"
                ),
            )
            .with_suggestion(format!(
                "add \"reference_mode\": \"omni\" for Omni mode, or drop {what} for a plain request"
            )),
        );
    };
    if fields.video_count() > 0 {
        hint("/video_references", String::from("video_references"));
    }
    if fields.duration == Some(0) && CAPABILITIES.omni.durations.contains(&0) {
        hint("/duration", String::from("duration 0"));
    }
    if let Some(ratio) = fields
        .aspect_ratio
        .filter(|r| CAPABILITIES.omni.extra_aspect_ratios.contains(r))
    {
        hint("/aspect_ratio", format!("aspect_ratio \"{ratio}\""));
    }
}

/// A reference video named by path or URL (the job form): https only, a known container.
pub(crate) fn check_video_file(i: usize, video: &str, out: &mut Vec<Diagnostic>) {
    let path = video_path(i, Some(crate::JobVideoReference::VIDEO));
    if video.is_empty() {
        out.push(Diagnostic::error(
            "video_source_missing",
            path,
            "video is empty; give a local path or an https URL",
        ));
        return;
    }
    if let Some((scheme, _)) = video.split_once("://")
        && !is_https_url(video)
    {
        let mut d = Diagnostic::error(
            "video_url_not_https",
            path.clone(),
            format!(
                "video URL scheme \"{scheme}\" is not supported; only https URLs (or local paths) are"
            ),
        );
        if scheme.eq_ignore_ascii_case("http") {
            d = d.with_suggestion(format!("use https://{}", &video[scheme.len() + 3..]));
        }
        out.push(d);
    }
    let upload = &CAPABILITIES.omni.upload;
    let stem = if is_https_url(video) {
        video.split(['?', '#']).next().unwrap_or(video)
    } else {
        video
    };
    let file = stem.rsplit(['/', '\\']).next().unwrap_or(stem);
    let ext = file.rsplit_once('.').map(|(_, e)| e);
    if !ext.is_some_and(|e| upload.extensions.iter().any(|a| a.eq_ignore_ascii_case(e))) {
        let what = match ext {
            Some(e) => format!("extension \".{e}\""),
            None => String::from("no file extension"),
        };
        out.push(
            Diagnostic::new(
                upload.extension.severity,
                "video_extension_not_allowed",
                path,
                format!(
                    "video \"{video}\" has {what}; the media upload is known to accept {}",
                    list(upload.extensions.iter().map(|e| format!(".{e}")))
                ),
            )
            .with_suggestion("convert the video to mp4"),
        );
    }
}

/// `negative_prompt` longer than the third-party limit.
pub(crate) fn check_negative_prompt(negative: &str, out: &mut Vec<Diagnostic>) {
    let max = CAPABILITIES.omni.negative_prompt_max_chars;
    if negative.len() as u64 <= max.value {
        return;
    }
    let chars = negative.chars().count() as u64;
    if chars > max.value {
        out.push(
            Diagnostic::new(
                max.severity,
                "negative_prompt_too_long",
                "/negative_prompt",
                format!(
                    "the negative prompt has {chars} characters; third-party sources allow at most {}",
                    max.value
                ),
            )
            .with_suggestion(format!(
                "shorten it by {}",
                plural(chars - max.value, "character")
            )),
        );
    }
}

/// The reference videos' lengths against Omni's limits (each, and together), once the caller
/// knows them: `seconds[i]` is the length of `job.video_references[i]` (`None`: unknown, not
/// judged). Core reads no files; the facade probes them (or knows an earlier generation's
/// length) and passes the figures here. Every diagnostic is a warning per the spec.
pub fn check_video_lengths(job: &Job, seconds: &[Option<f64>]) -> Vec<Diagnostic> {
    let omni = &CAPABILITIES.omni;
    let mut out = Vec::new();
    let each = omni.video_max_seconds;
    #[allow(clippy::cast_precision_loss)]
    let (each_max, total_max) = (
        each.value as f64,
        omni.videos_total_max_seconds.value as f64,
    );
    let known = job
        .video_references
        .iter()
        .zip(seconds)
        .enumerate()
        .filter_map(|(i, (r, s))| s.filter(|s| s.is_finite() && *s >= 0.0).map(|s| (i, r, s)));
    let mut total = 0.0;
    for (i, r, s) in known {
        total += s;
        if s > each_max {
            out.push(
                Diagnostic::new(
                    each.severity,
                    "omni_video_too_long",
                    video_path(i, None),
                    format!(
                        "reference video \"{}\" is {s:.1} s long; Omni mode takes videos of at most {} s (third-party sources)",
                        r.ref_name, each.value
                    ),
                )
                .with_suggestion(format!("trim it to {} s or less", each.value)),
            );
        }
    }
    let total_rule = omni.videos_total_max_seconds;
    if job.video_references.len() > 1 && total > total_max {
        out.push(
            Diagnostic::new(
                total_rule.severity,
                "omni_videos_too_long",
                "/video_references",
                format!(
                    "the reference videos last {total:.1} s together; Omni mode takes at most {} s in total (third-party sources)",
                    total_rule.value
                ),
            )
            .with_suggestion(format!(
                "trim them to {} s together, or drop one",
                total_rule.value
            )),
        );
    }
    out
}
