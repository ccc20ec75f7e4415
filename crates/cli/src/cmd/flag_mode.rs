//! A request from flags (`run --ref dog=dog.png --prompt …`) speaks in flags: its values are
//! parsed with messages that name the flag, and offline diagnostics about a field the flags set
//! name the flag instead of a JSON pointer into a file the user never wrote.

use std::path::Path;

use pixfuse::{Diagnostic, Error, Job, JobReference, JobVideoReference};
use serde_json::{Value, json};

/// Each request field a flag sets, and the flag.
const FLAGS: [(&str, &str); 9] = [
    (Job::PROMPT, "--prompt"),
    (Job::MODEL, "--model"),
    (Job::DURATION, "--duration"),
    (Job::QUALITY, "--quality"),
    (Job::ASPECT_RATIO, "--aspect"),
    (Job::SEED, "--seed"),
    (Job::GENERATE_AUDIO_SWITCH, "--audio"),
    (Job::IMAGE_REFERENCES, "--ref"),
    (Job::VIDEO_REFERENCES, "--video-ref"),
];

/// `--duration`: whole seconds.
pub fn parse_seconds(text: &str) -> Result<u32, String> {
    text.trim()
        .parse()
        .map_err(|_| "--duration takes whole seconds, e.g. 5".to_owned())
}

/// `NAME=PATH[:subject|:background]` → a job-form reference; relative paths are made absolute
/// (they are relative to where the command runs, not to a job file). A last `:word` is the
/// type, so a path with a colon in its last part needs the type spelled out.
pub fn parse_ref(spec: &str, cwd: &Path) -> Result<Value, Error> {
    let Some((name, rest)) = spec.split_once('=') else {
        return Err(Error::Config(format!(
            "--ref {spec}: expected NAME=PATH[:subject|:background], e.g. --ref dog=dog.png"
        )));
    };
    let (image, kind) = match rest.rsplit_once(':') {
        Some((path, kind)) if !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphabetic()) => {
            if kind != "subject" && kind != "background" {
                return Err(Error::Config(format!(
                    "--ref {spec}: unknown reference type {kind} (subject or background)"
                )));
            }
            (path, kind)
        }
        _ => (rest, "subject"),
    };
    if name.is_empty() || image.is_empty() {
        return Err(Error::Config(format!(
            "--ref {spec}: both NAME and PATH are needed, e.g. --ref dog=dog.png"
        )));
    }
    let image = if pixfuse_core::job::is_https_url(image) || Path::new(image).is_absolute() {
        image.to_owned()
    } else {
        cwd.join(image).to_string_lossy().into_owned()
    };
    Ok(json!({
        (JobReference::TYPE): kind,
        (JobReference::IMAGE): image,
        (JobReference::REF_NAME): name,
    }))
}

/// `NAME=PATH` → a job-form video reference (v6 Omni); a relative path is made absolute, an
/// https URL kept.
pub fn parse_video_ref(spec: &str, cwd: &Path) -> Result<Value, Error> {
    let parsed = spec
        .split_once('=')
        .filter(|(name, video)| !name.is_empty() && !video.is_empty());
    let Some((name, video)) = parsed else {
        return Err(Error::Config(format!(
            "--video-ref {spec}: expected NAME=PATH (a local mp4/mov/webm or an https URL), e.g. --video-ref video1=dance.mp4"
        )));
    };
    let video = if pixfuse_core::job::is_https_url(video) || Path::new(video).is_absolute() {
        video.to_owned()
    } else {
        cwd.join(video).to_string_lossy().into_owned()
    };
    Ok(json!({
        (JobVideoReference::REF_NAME): name,
        (JobVideoReference::VIDEO): video,
    }))
}

/// Diagnostics of a request built from flags alone, for human eyes: located at the flag (`--ref
/// dog=dog.png` for the reference it added), a missing field as `missing --prompt`. (`--json`
/// keeps the JSON pointers its contract documents.)
pub fn in_flag_terms(
    diagnostics: Vec<Diagnostic>,
    refs: &[String],
    video_refs: &[String],
) -> Vec<Diagnostic> {
    diagnostics
        .into_iter()
        .map(|mut d| {
            let mut segments = d.path.trim_start_matches('/').split('/');
            let field = segments.next().unwrap_or_default();
            let Some((_, flag)) = FLAGS.iter().find(|(f, _)| *f == field) else {
                return d;
            };
            if d.code == "missing_field" && d.path == format!("/{field}") {
                d.message = format!("missing {flag}");
            }
            let index = segments.next().and_then(|i| i.parse::<usize>().ok());
            d.path = match field {
                Job::IMAGE_REFERENCES => index
                    .and_then(|i| refs.get(i))
                    .map(|s| format!("--ref {s}")),
                Job::VIDEO_REFERENCES => index
                    .and_then(|i| video_refs.get(i))
                    .map(|s| format!("--video-ref {s}")),
                _ => None,
            }
            .unwrap_or_else(|| (*flag).to_owned());
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ref_specs() {
        let cwd = Path::new("/work");
        assert_eq!(
            parse_ref("dog=dog.png", cwd).unwrap(),
            json!({"type":"subject","image":"/work/dog.png","ref_name":"dog"})
        );
        assert_eq!(
            parse_ref("park=/p/park.jpg:background", cwd).unwrap(),
            json!({"type":"background","image":"/p/park.jpg","ref_name":"park"})
        );
        assert_eq!(
            parse_ref("cat=https://cdn.example/c.png:subject", cwd).unwrap(),
            json!({"type":"subject","image":"https://cdn.example/c.png","ref_name":"cat"})
        );
        assert_eq!(
            parse_ref("cat=https://cdn.example/c.png", cwd).unwrap()["image"],
            "https://cdn.example/c.png"
        );
        assert!(parse_ref("dog", cwd).is_err());
        assert!(parse_ref("=x.png", cwd).is_err());
        let err = parse_ref("dog=dog.png:Background", cwd)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown reference type Background (subject or background)"),
            "{err}"
        );
    }

    #[test]
    fn durations_are_whole_seconds() {
        assert_eq!(parse_seconds("5"), Ok(5));
        assert_eq!(
            parse_seconds("5s"),
            Err("--duration takes whole seconds, e.g. 5".to_owned())
        );
    }

    #[test]
    fn diagnostics_name_the_flags() {
        let missing = Diagnostic::error(
            "missing_field",
            "/prompt",
            "required field \"prompt\" is missing",
        );
        let bad_ref = Diagnostic::error("ref_name_chars", "/image_references/1/ref_name", "x");
        let whole = Diagnostic::error("x", "", "whole");
        let long = Diagnostic::warning("video_reference_too_long", "/video_references/0", "x");
        let refs = ["a=a.png".to_owned(), "b c=b.png".to_owned()];
        let video_refs = ["v=long.mp4".to_owned()];
        let out = in_flag_terms(vec![missing, bad_ref, whole, long], &refs, &video_refs);
        assert_eq!(
            (out[0].path.as_str(), out[0].message.as_str()),
            ("--prompt", "missing --prompt")
        );
        assert_eq!(out[1].path, "--ref b c=b.png");
        assert_eq!(out[2].path, "");
        assert_eq!(out[3].path, "--video-ref v=long.mp4");
    }

    #[test]
    fn video_ref_specs() {
        let cwd = Path::new("/work");
        assert_eq!(
            parse_video_ref("video1=clips/dance.mp4", cwd).unwrap(),
            json!({"ref_name":"video1","video":"/work/clips/dance.mp4"})
        );
        assert_eq!(
            parse_video_ref("v=https://cdn.example/a.webm", cwd).unwrap()["video"],
            "https://cdn.example/a.webm"
        );
        for bad in ["video1", "=a.mp4", "v="] {
            let err = parse_video_ref(bad, cwd).unwrap_err().to_string();
            assert!(err.contains("expected NAME=PATH"), "{bad}: {err}");
        }
    }
}
