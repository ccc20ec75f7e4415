//! `GET /openapi/v2/video/result/{video_id}`: status 5 while generating, then 1, 7 or 8, with the
//! fields the vendor reports.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use crate::app::Shared;
use crate::faults::Endpoint;
use crate::media::VIDEO;
use crate::reply::{Refusal, Reply};
use crate::{account, clock};

const NOT_FOUND: i64 = 500008;

pub(crate) async fn handle(
    State(app): State<Shared>,
    Path(video_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let fault = match app.admit(&headers, Endpoint::Result) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    let Ok(video_id) = video_id.trim().parse::<u64>() else {
        return Reply::refuse(&Refusal::new(crate::schema::WRONG_TYPE, "id"))
            .into_response_with(fault);
    };
    let now = clock::now_ms();
    let reply = match app.store.read(|tx| account::job(tx, video_id)) {
        Ok(Some(job)) => Reply::ok(answer(&app.base_url, video_id, &job, now)),
        Ok(None) => Reply::err(NOT_FOUND),
        Err(e) => Reply::server_error(&e),
    };
    reply.into_response_with(fault)
}

pub(crate) fn answer(base_url: &str, video_id: u64, job: &account::Job, now: i64) -> Value {
    let status = job.status(now);
    let done = status == 1;
    let media = |kind: &str, ext: &str| {
        if done {
            format!("{base_url}/media/{kind}/{video_id}.{ext}")
        } else {
            String::new()
        }
    };
    let modified = if status == 5 {
        job.created_ms
    } else {
        job.ready_ms
    };
    let mut resp = job.fixed.clone();
    // The output's length stays the sandbox's own (what later Omni jobs follow): no source
    // shows the vendor's result reporting a length, so the answer does not invent one.
    resp.remove(account::DURATION);
    resp.insert("id".into(), video_id.into());
    resp.insert("status".into(), status.into());
    resp.insert("url".into(), media("video", "mp4").into());
    resp.insert("cover_url".into(), media("cover", "png").into());
    resp.insert("size".into(), if done { VIDEO.len() } else { 0 }.into());
    resp.insert("credits".into(), job.credits_at(now).into());
    resp.insert(
        "create_time".into(),
        clock::vendor_time(job.created_ms).into(),
    );
    resp.insert("modify_time".into(), clock::vendor_time(modified).into());
    Value::Object(resp)
}
