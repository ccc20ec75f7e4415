//! What the server offers besides tools: readable resources (the capability table and the
//! catalogue of diagnostic codes) and one prompt template.

use super::params::FusionPromptArgs;

/// The capability table, as JSON.
pub const MODELS_URI: &str = "pixfuse://models";
/// Every diagnostic code `validate` can report, with its meaning.
pub const DIAGNOSTICS_URI: &str = "pixfuse://docs/diagnostics.md";

static DIAGNOSTICS_MD: &str = include_str!("../../../../docs/diagnostics.md");

/// (uri, name, description, mime type) of each resource.
pub const RESOURCES: &[(&str, &str, &str, &str)] = &[
    (
        MODELS_URI,
        "models",
        "What each Fusion model accepts: image count, durations, qualities, aspect ratios, audio, prompt length",
        "application/json",
    ),
    (
        DIAGNOSTICS_URI,
        "diagnostics",
        "Every diagnostic code validate reports, what it means and how to fix it",
        "text/markdown",
    ),
];

/// The text of the resource at `uri`.
pub fn read(uri: &str) -> Option<String> {
    match uri {
        MODELS_URI => Some(crate::cmd::models::table_json().to_string()),
        DIAGNOSTICS_URI => Some(DIAGNOSTICS_MD.to_owned()),
        _ => None,
    }
}

/// The `fusion_video` prompt: the steps that make a video from `args.images` safely.
pub fn fusion_prompt(args: &FusionPromptArgs) -> String {
    let images: Vec<&str> = args
        .images
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let listed = images
        .iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "Make a PixVerse Fusion video with the pixfuse tools.\n\n\
         Idea: {idea}\n\nImages (the last one is the background unless the idea says otherwise):\n{listed}\n\n\
         Steps:\n\
         1. Call `models` and pick a model, duration, quality and aspect ratio it allows.\n\
         2. Write the request: one image_references entry per image (type subject or background, \
         a short ref_name, and `image` set to the path or URL), and a prompt that mentions each \
         reference as @ref_name followed by a space.\n\
         3. Call `validate` and fix every error it reports (each has a JSON pointer and usually a \
         suggestion); call `estimate` and tell the user the cost.\n\
         4. Call `generate` once. Calling it again with the same arguments returns the same job \
         and bills nothing more; only `new: true` makes (and bills) another video.\n\
         5. Call `wait` with the video_id until its status is succeeded (a \"generating\" answer \
         means: call wait again), then `download` it to a path.\n\
         If a call fails, its `class` and `next` fields say whether to fix the request, try \
         later, or stop.",
        idea = args.idea.trim(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_resources_read_and_the_prompt_lists_the_images() {
        for (uri, ..) in RESOURCES {
            assert!(read(uri).is_some_and(|t| !t.is_empty()), "{uri}");
        }
        assert!(read(DIAGNOSTICS_URI).unwrap().contains("unknown_model"));
        assert!(read("pixfuse://nothing").is_none());
        let text = fusion_prompt(&FusionPromptArgs {
            images: "/a/dog.png, /a/park.png".into(),
            idea: "the dog runs".into(),
        });
        assert!(text.contains("- /a/dog.png\n- /a/park.png"), "{text}");
        assert!(text.contains("new: true"), "{text}");
    }
}
