//! Safe mechanical fixes, each one listed: only a missing space after a mention (`@dog,` →
//! `@dog ,`, and a trailing space after a mention that ends the prompt). Nothing else is ever
//! changed, and nothing is changed silently.

use std::ops::Range;

use crate::Job;
use crate::mention::{MentionKind, classify, mentions};
use crate::rules::is_mentionable;

/// One change made by a fix.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The diagnostic code this change resolves.
    pub code: &'static str,
    /// RFC 6901 pointer of the changed field.
    pub path: String,
    /// Byte span in the original prompt of the mention that was fixed.
    pub span: Range<usize>,
    /// What was done, in plain English.
    pub description: String,
    /// The mention before the fix.
    pub before: String,
    /// The mention after the fix.
    pub after: String,
}

/// A fixed prompt and what changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fixed {
    /// The prompt with every safe fix applied.
    pub prompt: String,
    /// What changed, in prompt order.
    pub changes: Vec<Change>,
}

/// Inserts the missing space after each mention of one of `ref_names`.
pub fn fix_prompt(prompt: &str, ref_names: &[&str]) -> Fixed {
    let names: Vec<&str> = ref_names
        .iter()
        .copied()
        .filter(|n| is_mentionable(n))
        .collect();
    let mut inserts = Vec::new();
    let mut changes = Vec::new();
    for m in mentions(prompt) {
        let (name, at, code) = match classify(&m, &names) {
            MentionKind::NoSpace { name, split } => (name, split, "mention_no_space"),
            MentionKind::Exact(name) if m.at_end(prompt) => (name, m.span.end, "mention_at_end"),
            _ => continue,
        };
        let before = &prompt[m.span.clone()];
        let after = format!(
            "{} {}",
            &before[..at - m.span.start],
            &before[at - m.span.start..]
        );
        changes.push(Change {
            code,
            path: String::from("/prompt"),
            span: m.span.clone(),
            description: format!("inserted a space after @{name}"),
            before: before.to_owned(),
            after,
        });
        inserts.push(at);
    }
    let mut fixed = String::with_capacity(prompt.len() + inserts.len());
    let mut last = 0;
    for at in inserts {
        fixed.push_str(&prompt[last..at]);
        fixed.push(' ');
        last = at;
    }
    fixed.push_str(&prompt[last..]);
    Fixed {
        prompt: fixed,
        changes,
    }
}

/// Applies [`fix_prompt`] to a job's prompt in place; returns the changes (empty: untouched).
pub fn fix_job(job: &mut Job) -> Vec<Change> {
    let names: Vec<&str> = job
        .image_references
        .iter()
        .map(|r| r.ref_name.as_str())
        .chain(job.video_references.iter().map(|r| r.ref_name.as_str()))
        .collect();
    let fixed = fix_prompt(&job.prompt, &names);
    if !fixed.changes.is_empty() {
        job.prompt = fixed.prompt;
    }
    fixed.changes
}

/// Why a `--fix` leaves the problem `code` names alone: each reason says which choice is the
/// user's, since only a space after a mention is an edit that cannot change what was meant.
pub fn why_not_fixed(code: &str) -> &'static str {
    match code {
        "mention_unknown" => {
            "which reference was meant is a guess; rename the mention or the ref_name"
        }
        "mention_no_space" | "mention_at_end" => {
            "the mention's name cannot be mentioned as written (see the error on its ref_name)"
        }
        "duration_not_allowed"
        | "quality_not_allowed"
        | "aspect_ratio_not_allowed"
        | "quality_duration_forbidden"
        | "audio_not_supported"
        | "seed_out_of_range" => {
            "another value makes another video (and may cost more); pick an allowed one"
        }
        "unknown_model" => "the model is a choice; pick one `pixfuse models` lists",
        "prompt_too_long" | "prompt_empty" => "only you can write the prompt",
        "ref_unmentioned" => "mentioning or removing the reference changes the video",
        "unknown_field" => "the field may mean something to the server; remove it if it is a typo",
        "json_syntax" | "wrong_type" | "missing_field" | "line_too_long" => {
            "what was meant cannot be known from the file"
        }
        code if code.starts_with("image_") || code.starts_with("ref_") => {
            "the references and their files are yours to change"
        }
        "no_images" | "too_many_images" => "the references are yours to change",
        _ => "not a mechanical edit",
    }
}
