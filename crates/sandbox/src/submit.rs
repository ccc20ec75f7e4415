//! `POST /openapi/v2/video/fusion/generate`: deduplicated by `Ai-trace-id`, judged from spec data
//! ([`crate::judge`]), limited per key, charged from the price table.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value, json};

use pixfuse_core::errcode::{CONCURRENCY_LIMIT, INVALID_IMAGE_ID};
use pixfuse_core::poll::JobStatus;

use crate::account::{self, NewJob, Outcome};
use crate::app::{App, Shared};
use crate::faults::Endpoint;
use crate::judge::{Fusion, VideoRef, judge};
use crate::reply::{Refusal, Reply};
use crate::stats::counter;
use crate::{clock, price, render};

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
    let judged = judge(body);
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
        let fusion = match &judged {
            Ok(fusion) => fusion,
            Err(refusal) => return Ok(Reply::refuse(refusal)),
        };
        for &img_id in &fusion.img_ids {
            if !account::is_image(tx, img_id)? {
                return Ok(Reply::err(INVALID_IMAGE_ID));
            }
        }
        let lengths = match video_lengths(tx, fusion, now)? {
            Ok(lengths) => lengths,
            Err(refusal) => return Ok(Reply::refuse(&refusal)),
        };
        let job = &new_job(app, fusion, &lengths, key, trace_id.clone());
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

/// The lengths in seconds of an Omni request's reference videos, in order (none for a plain
/// request, which does not use them): an upload's as its [`account::VideoMedia`] record says,
/// an earlier generation's as its result reports. A video that does not exist (or a generation
/// that has not succeeded) is an invalid parameter.
fn video_lengths(
    tx: &rusqlite::Connection,
    fusion: &Fusion,
    now: i64,
) -> rusqlite::Result<Result<Vec<f64>, Refusal>> {
    let invalid = |param: String| Ok(Err(Refusal::new(crate::schema::INVALID, param)));
    if !fusion.omni {
        return Ok(Ok(Vec::new()));
    }
    let mut lengths = Vec::with_capacity(fusion.videos.len());
    for (i, video) in fusion.videos.iter().enumerate() {
        match *video {
            VideoRef::Media(id) => match account::video(tx, id)? {
                Some(media) => lengths.push(media.seconds()),
                None => return invalid(format!("video_references[{i}].video_media_id")),
            },
            VideoRef::Source(id) => match account::job(tx, id)? {
                Some(job) if JobStatus::from_code(job.status(now)) == JobStatus::Succeeded => {
                    lengths.push(job.output_seconds())
                }
                _ => return invalid(format!("video_references[{i}].source_video_id")),
            },
        }
    }
    Ok(Ok(lengths))
}

/// How long the output is: a plain request's duration; in Omni mode the longest reference
/// video's length (whole seconds, rounded up), or the render table's typical duration when
/// there is no video to follow.
fn output_seconds(fusion: &Fusion, lengths: &[f64]) -> u32 {
    if !fusion.omni {
        return fusion.duration;
    }
    let longest = lengths.iter().copied().fold(0.0_f64, f64::max);
    if longest > 0.0 {
        // Lengths are finite seconds of a short clip: the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = longest.ceil().min(f64::from(u32::MAX)) as u32;
        whole
    } else {
        pixfuse_core::CAPABILITIES.render.typical_duration
    }
}

/// The job an accepted request becomes: its price, generation time, outcome and the result
/// fields it fixes (a random seed when it sent none). `lengths`: its reference videos' (Omni).
fn new_job(
    app: &App,
    fusion: &Fusion,
    lengths: &[f64],
    key_hash: String,
    trace_id: Option<String>,
) -> NewJob {
    let output = output_seconds(fusion, lengths);
    let credits = if fusion.omni && !lengths.is_empty() {
        price::omni_credits(
            app.config.prices,
            &fusion.model,
            &fusion.quality,
            fusion.audio,
            lengths.iter().sum(),
        )
    } else {
        price::credits(
            app.config.prices,
            &fusion.model,
            &fusion.quality,
            output,
            fusion.audio,
        )
    };
    let generation = app
        .config
        .generation_time_for(&fusion.model, output, &fusion.quality);
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
        fixed: fixed_fields(fusion, seed, output),
    }
}

/// The result fields a job's request decides once and for all; `duration`: the output's
/// length in seconds.
fn fixed_fields(fusion: &Fusion, seed: u64, duration: u32) -> Map<String, Value> {
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
    fixed.insert(account::DURATION.into(), duration.into());
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
    use serde_json::json;

    use super::*;
    use crate::auth::Keys;
    use crate::config::{AuthStyle, Prices, SandboxConfig};
    use crate::store::Store;

    fn app() -> App {
        let store = Store::open(None, 1_000_000, 300_000_000_000_000).unwrap();
        let config = SandboxConfig {
            generation_time: std::time::Duration::from_millis(1),
            ..SandboxConfig::default()
        };
        App::new(
            config,
            Keys::new(Vec::new(), AuthStyle::default()),
            store,
            "http://sandbox".into(),
        )
    }

    /// An uploaded image and an uploaded video of `secs` seconds (`None`: length unknown), as
    /// the upload routes store them.
    fn seed(app: &App, secs: Option<f64>) -> (u64, u64) {
        app.store
            .write(|tx| {
                let img = app.new_id(tx)?;
                account::add_media(tx, img, account::IMAGE, "image/png", b"png")?;
                let video = app.new_id(tx)?;
                account::add_video(tx, video, "video/mp4", b"mp4", secs)?;
                Ok((img, video))
            })
            .unwrap()
    }

    fn omni(img: u64, videos: Value) -> Vec<u8> {
        json!({
            "model": "v6", "prompt": "@subject1 dances like @video1 ", "quality": "720p",
            "duration": 0, "aspect_ratio": "auto", "generate_audio_switch": true, "seed": 42,
            "reference_mode": "omni",
            "image_references": [{"img_id": img, "ref_name": "subject1", "type": "subject"}],
            "video_references": videos,
        })
        .to_string()
        .into_bytes()
    }

    /// Submits; returns the envelope and, when accepted, the job's status answer once done.
    fn run(app: &App, body: &[u8]) -> (Value, Option<Value>) {
        let envelope = submit(
            app,
            "key".into(),
            Some(uuid::Uuid::new_v4().to_string()),
            body,
        )
        .body()
        .clone();
        let Some(id) = envelope["Resp"]["video_id"].as_u64() else {
            return (envelope, None);
        };
        let job = app.store.read(|tx| account::job(tx, id)).unwrap().unwrap();
        let answer = crate::result::answer(&app.base_url, id, &job, job.ready_ms);
        (envelope, Some(answer))
    }

    #[test]
    fn an_omni_submit_follows_its_longest_reference_video() {
        let app = app();
        let (img, short) = seed(&app, Some(4.2));
        let (_, long) = seed(&app, Some(9.5));
        let videos = json!([
            {"ref_name": "video1", "video_media_id": short},
            {"ref_name": "video2", "video_media_id": long},
        ]);
        let (envelope, answer) = run(&app, &omni(img, videos));
        assert_eq!(envelope["ErrCode"], 0, "{envelope}");
        let answer = answer.unwrap();
        assert_eq!(answer["status"], 1);
        // The output follows the longest video (9.5 s → 10 whole seconds), kept internal.
        assert_eq!(length(&app, &answer), 10.0);
        assert!(answer.get("duration").is_none(), "{answer}");
        // Priced per second of reference video: 720p with audio on v6, times the Omni factor.
        let credits = price::omni_credits(
            Prices::Spec,
            &pixfuse_core::Model::V6,
            &pixfuse_core::Quality::Q720p,
            true,
            4.2 + 9.5,
        );
        assert_eq!(envelope["Resp"]["credits"], credits);
        assert_eq!(answer["credits"], credits);
        assert!(credits > 0);
    }

    #[test]
    fn an_earlier_generation_is_a_reference_of_its_own_length() {
        let app = app();
        let (img, video) = seed(&app, None);
        // Unknown length: the render table's typical duration.
        let (_, first) = run(
            &app,
            &omni(
                img,
                json!([{"ref_name": "video1", "video_media_id": video}]),
            ),
        );
        let first = first.unwrap();
        let typical = pixfuse_core::CAPABILITIES.render.typical_duration;
        assert_eq!(length(&app, &first), f64::from(typical));
        // A plain job of 7 s, then an Omni job following it.
        let plain = json!({
            "image_references": [{"type": "subject", "img_id": img, "ref_name": "dog"}],
            "prompt": "@dog runs ", "model": "v6", "duration": 7, "quality": "540p",
            "aspect_ratio": "16:9",
        });
        let (_, earlier) = run(&app, plain.to_string().as_bytes());
        let earlier = earlier.unwrap();
        assert_eq!(length(&app, &earlier), 7.0);
        // A generation is a reference once it has succeeded (a bounded wait: it takes ms).
        let id = earlier["id"].as_u64().unwrap();
        for _ in 0..200 {
            let job = app.store.read(|tx| account::job(tx, id)).unwrap().unwrap();
            if job.status(clock::now_ms()) == 1 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let (envelope, answer) = run(
            &app,
            &omni(
                img,
                json!([{"ref_name": "video1", "source_video_id": earlier["id"]}]),
            ),
        );
        assert_eq!(envelope["ErrCode"], 0, "{envelope}");
        assert_eq!(length(&app, &answer.unwrap()), 7.0);
    }

    /// The stored output length of the job a status answer describes.
    fn length(app: &App, answer: &Value) -> f64 {
        let id = answer["id"].as_u64().unwrap();
        let job = app.store.read(|tx| account::job(tx, id)).unwrap().unwrap();
        job.output_seconds()
    }

    #[test]
    fn a_reference_video_that_does_not_exist_is_an_invalid_parameter() {
        let app = app();
        let (img, video) = seed(&app, Some(3.0));
        for (videos, param) in [
            (
                json!([{"ref_name": "video1", "video_media_id": img}]),
                "video_references[0].video_media_id",
            ),
            (
                json!([{"ref_name": "video1", "source_video_id": video}]),
                "video_references[0].source_video_id",
            ),
        ] {
            let (envelope, answer) = run(&app, &omni(img, videos));
            assert_eq!(envelope["ErrCode"], crate::schema::INVALID, "{envelope}");
            assert!(
                envelope["ErrMsg"].as_str().unwrap().contains(param),
                "{envelope}"
            );
            assert!(answer.is_none());
        }
        // Both ids, or neither: refused by the judge before the store is asked.
        let (both, _) = run(
            &app,
            &omni(
                img,
                json!([{"ref_name": "video1", "video_media_id": video, "source_video_id": 1}]),
            ),
        );
        assert_eq!(both["ErrCode"], crate::schema::INVALID);
        let (neither, _) = run(&app, &omni(img, json!([{"ref_name": "video1"}])));
        assert_eq!(neither["ErrCode"], crate::schema::EMPTY);
    }

    #[test]
    fn the_first_trace_header_counts_whatever_its_spelling() {
        let mut headers = HeaderMap::new();
        assert_eq!(trace_id(&headers), None);
        headers.append("Ai-Trace-Id", HeaderValue::from_static(" t-1 "));
        headers.append("Ai-trace-id", HeaderValue::from_static("t-2"));
        assert_eq!(trace_id(&headers).as_deref(), Some("t-1"));
    }
}
