//! `POST /openapi/v2/video/fusion/generate`: validated by pixfuse-core, deduplicated by
//! `Ai-trace-id`, limited per key, charged per pixfuse-core's estimate.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use pixfuse_core::{Diagnostic, Job, ValidateOptions, estimate, validate_bytes};
use serde_json::json;
use tokio::time::Instant;

use crate::account::{NewJob, Outcome};
use crate::app::{App, Shared};
use crate::faults::Endpoint;
use crate::reply::Reply;

pub(crate) async fn handle(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, fault) = match app.admit(&headers, Endpoint::Generate) {
        Ok(admitted) => admitted,
        Err(answer) => return *answer,
    };
    let trace_id = headers
        .get("ai-trace-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    submit(&app, key, trace_id, &body).into_response_with(fault)
}

fn submit(app: &App, key: usize, trace_id: Option<String>, body: &[u8]) -> Reply {
    // A re-sent trace id answers with the earlier video before anything else is checked: the
    // retry of a submit whose answer was lost must neither bill again nor hit the limit its
    // own first attempt now occupies.
    if let Some(trace) = &trace_id {
        let mut account = app.account();
        if let Some(video_id) = account.video_for_trace(trace) {
            account.stats.deduplicated_submits += 1;
            let credits = account.job(video_id).map_or(0, |job| job.credits);
            return Reply::ok(json!({ "video_id": video_id, "credits": credits }));
        }
    }

    let validation = validate_bytes(body, &ValidateOptions::default());
    let errors: Vec<&Diagnostic> = validation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    if !errors.is_empty() {
        return Reply::err(err_code(&errors), describe(&errors));
    }
    let Some(job) = validation.job else {
        return Reply::err(400013, "the body is not a fusion request");
    };
    let img_ids = match img_ids(&job) {
        Ok(ids) => ids,
        Err(reply) => return reply,
    };

    let audio = job.generate_audio_switch.unwrap_or(false);
    let credits = estimate(&job.model, &job.quality, job.duration, audio)
        .map_or(0, |e| e.credits.ceil().max(0.0) as u64);
    let outcome = outcome(app, &job.prompt);
    let generation_time = app.config.generation_time_for(job.duration, &job.quality);

    let now = Instant::now();
    let mut account = app.account();
    if let Some(missing) = img_ids.iter().find(|id| account.image(**id).is_none()) {
        return Reply::err(
            400032,
            format!("invalid image id {missing}: upload the image first"),
        );
    }
    let limit = app.config.concurrency_limit as usize;
    if account.running(key, now) >= limit {
        return Reply::err(
            500044,
            format!("concurrent generation limit reached ({limit} jobs); retry when one finishes"),
        );
    }
    if account.credits_left() < credits {
        return Reply::err(
            500090,
            format!(
                "insufficient balance: this job costs {credits} credits, {} left",
                account.credits_left()
            ),
        );
    }
    let video_id = account.add_job(
        NewJob {
            key,
            trace_id,
            prompt: job.prompt,
            seed: job.seed,
            has_audio: audio,
            credits,
            generation_time,
            outcome,
        },
        now,
    );
    Reply::ok(json!({ "video_id": video_id, "credits": credits }))
}

/// The vendor takes only uploaded images: every reference must carry an `img_id`.
fn img_ids(job: &Job) -> Result<Vec<u64>, Reply> {
    job.image_references
        .iter()
        .enumerate()
        .map(|(i, reference)| {
            reference.source.img_id().ok_or_else(|| {
                Reply::err(
                    400011,
                    format!(
                        "image_references[{i}].img_id is empty: reference {:?} names its image by \
                         `image`, which only pixfuse understands; upload it with \
                         POST /openapi/v2/image/upload and send the img_id",
                        reference.ref_name
                    ),
                )
            })
        })
        .collect()
}

fn outcome(app: &App, prompt: &str) -> Outcome {
    let contains = |word: &Option<String>| word.as_deref().is_some_and(|w| prompt.contains(w));
    if contains(&app.config.moderation_trigger) {
        Outcome::Moderated
    } else if contains(&app.config.failure_trigger) {
        Outcome::Failed
    } else {
        Outcome::Success
    }
}

/// The vendor's code for the first error (its codes are coarse; the message has the detail).
fn err_code(errors: &[&Diagnostic]) -> i64 {
    match errors.first().map(|d| d.code) {
        Some(
            "missing_field"
            | "no_images"
            | "prompt_empty"
            | "ref_name_empty"
            | "image_source_missing",
        ) => 400011,
        Some("prompt_too_long") => 400018,
        Some("wrong_type" | "json_syntax") => 400013,
        _ => 400017,
    }
}

/// pixfuse-core's reasons, one per error: `path: message (suggestion)`.
fn describe(errors: &[&Diagnostic]) -> String {
    errors
        .iter()
        .map(|d| {
            let path = if d.path.is_empty() {
                "request"
            } else {
                d.path.as_str()
            };
            match &d.suggestion {
                Some(s) => format!("{path}: {} ({s})", d.message),
                None => format!("{path}: {}", d.message),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}
