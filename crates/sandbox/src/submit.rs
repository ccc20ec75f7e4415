//! `POST /openapi/v2/video/fusion/generate`: deduplicated by `Ai-trace-id`, judged from spec data
//! ([`crate::judge`]), limited per key, charged from the price table.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::account::{self, NewJob, Outcome};
use crate::app::{App, Shared};
use crate::faults::Endpoint;
use crate::judge::{Fusion, judge};
use crate::reply::Reply;
use crate::stats::counter;
use crate::{clock, price, render};

const INVALID_IMAGE_ID: i64 = 400032;
const CONCURRENCY_LIMIT: i64 = 500044;
const INSUFFICIENT_BALANCE: i64 = 500090;

pub(crate) async fn handle(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (key, fault) = match app.admit(&headers, Endpoint::Generate) {
        Ok(admitted) => admitted,
        Err(answer) => return *answer,
    };
    let reply = submit(&app, key, trace_id(&headers), &body);
    if let Some(webhook) = &app.webhook {
        webhook.wake();
    }
    reply.into_response_with(fault)
}

/// The trace id as the vendor reads it: header names are case-insensitive (`Ai-trace-id`,
/// `Ai-Trace-Id`), and of several trace headers the first one counts, as `Header.Get` has it.
fn trace_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("ai-trace-id")
        .iter()
        .next()
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

fn submit(app: &App, key: String, trace_id: Option<String>, body: &[u8]) -> Reply {
    let job = judge(body).map(|fusion| {
        let job = new_job(app, &fusion, key, trace_id.clone());
        (fusion.img_ids, job)
    });
    let limit = u64::from(app.config.concurrency_limit);
    // One transaction from the trace id to the charge: two processes cannot both bill one trace
    // id, take the last slot or spend the last credits.
    app.write(|tx, now| {
        // A re-sent trace id answers with the earlier video before anything else is checked:
        // the retry of a submit whose answer was lost must neither bill again nor hit the limit
        // its own first attempt now occupies.
        if let Some(trace) = &trace_id
            && let Some((video_id, credits)) = account::video_for_trace(tx, trace)?
        {
            crate::store::bump(tx, counter::DEDUPLICATED_SUBMITS, 1)?;
            return Ok(Reply::ok(
                json!({ "video_id": video_id, "credits": credits }),
            ));
        }
        let (img_ids, job) = match &job {
            Ok(accepted) => accepted,
            Err(refusal) => return Ok(Reply::refuse(refusal)),
        };
        for &img_id in img_ids {
            if !account::is_image(tx, img_id)? {
                return Ok(Reply::err(INVALID_IMAGE_ID));
            }
        }
        let running = account::running(tx, &job.key_hash, now)?;
        if running >= limit {
            crate::store::bump(tx, counter::CONCURRENCY_REFUSALS, 1)?;
            return Ok(Reply::err(CONCURRENCY_LIMIT));
        }
        if account::credits_left(tx)? < job.credits {
            return Ok(Reply::err(INSUFFICIENT_BALANCE));
        }
        let video_id = app.new_id(tx)?;
        account::add_job(tx, video_id, job, now)?;
        let generating = i64::try_from(running + 1).unwrap_or(i64::MAX);
        crate::store::raise(tx, counter::PEAK_GENERATING, generating)?;
        if let Some(webhook) = &app.webhook {
            webhook.book(tx, video_id, now.saturating_add(job.generation_ms))?;
        }
        Ok(Reply::ok(
            json!({ "video_id": video_id, "credits": job.credits }),
        ))
    })
}

/// The job an accepted request becomes: its price, generation time, outcome and the result
/// fields it fixes (a random seed when it sent none).
fn new_job(app: &App, fusion: &Fusion, key_hash: String, trace_id: Option<String>) -> NewJob {
    let credits = price::credits(
        app.config.prices,
        &fusion.model,
        &fusion.quality,
        fusion.duration,
        fusion.audio,
    );
    let generation =
        app.config
            .generation_time_for(&fusion.model, fusion.duration, &fusion.quality);
    let seed_max = pixfuse_core::CAPABILITIES.request.seed_max.value;
    let seed = fusion
        .seed
        .map_or_else(|| app.random(0..=seed_max), u64::from);
    NewJob {
        key_hash,
        trace_id,
        credits,
        generation_ms: clock::ms(generation),
        outcome: outcome(app, &fusion.prompt),
        fixed: fixed_fields(fusion, seed),
    }
}

/// The result fields a job's request decides once and for all.
fn fixed_fields(fusion: &Fusion, seed: u64) -> Map<String, Value> {
    let (width, height) =
        render::dimensions(&fusion.quality, &fusion.aspect_ratio).unwrap_or_default();
    let mut fixed = Map::new();
    fixed.insert("prompt".into(), fusion.prompt.clone().into());
    if let Some(negative) = &fusion.negative_prompt {
        fixed.insert("negative_prompt".into(), negative.clone().into());
    }
    if let Some(style) = &fusion.style {
        fixed.insert("style".into(), style.clone().into());
    }
    fixed.insert("seed".into(), seed.into());
    fixed.insert("outputWidth".into(), width.into());
    fixed.insert("outputHeight".into(), height.into());
    fixed.insert(
        "resolution_ratio".into(),
        render::short_side(&fusion.quality)
            .unwrap_or_default()
            .into(),
    );
    fixed.insert("has_audio".into(), fusion.audio.into());
    fixed
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_first_trace_header_counts_whatever_its_spelling() {
        let mut headers = HeaderMap::new();
        assert_eq!(trace_id(&headers), None);
        headers.append("Ai-Trace-Id", HeaderValue::from_static(" t-1 "));
        headers.append("Ai-trace-id", HeaderValue::from_static("t-2"));
        assert_eq!(trace_id(&headers).as_deref(), Some("t-1"));
    }
}
