//! `POST /openapi/v2/media/upload`: a reference video for v6 Omni mode, in multipart field
//! `file`, or a URL in field `file_url` (of a multipart form or a urlencoded body); a file wins
//! over a URL. No vendor page describes it (fusion-api.md §10): the video is judged by core's
//! preflight against the capability table's video rules, refusing what the table calls an error
//! (a file that is no video at all) and storing the rest with what its header says.

use std::io::Cursor;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use pixfuse_core::video::{self, VideoHeader};
use serde_json::json;

use crate::account;
use crate::app::{App, Shared};
use crate::faults::Endpoint;
use crate::offer::{self, BAD_FORMAT, Fields, Offer};
use crate::reply::{Refusal, Reply};
use crate::schema::EMPTY;
use crate::stats::counter;

const FIELDS: Fields = Fields {
    file: "file",
    url: "file_url",
};

/// The largest body the route reads: the largest size bound of the table's video rules (the
/// sources disagree; the lenient one) and room for the multipart envelope.
pub(crate) fn body_limit() -> usize {
    let largest = video::rules()
        .max_bytes
        .iter()
        .map(|l| l.value)
        .max()
        .unwrap_or(0);
    usize::try_from(largest)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20)
}

pub(crate) async fn handle(State(app): State<Shared>, request: Request) -> Response {
    let fault = match app.admit(request.headers(), Endpoint::Upload) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    app.count(counter::MEDIA_UPLOAD_REQUESTS);
    let reply = match offer::read(request, FIELDS).await {
        Ok(Offer {
            file: Some((name, bytes)),
            ..
        }) if !bytes.is_empty() => store(&app, &name, bytes),
        Ok(Offer { url: Some(url), .. }) => fetch(&app, &url).await,
        Ok(_) => Reply::refuse(&Refusal::new(EMPTY, "file")),
        Err(reply) => reply,
    };
    reply.into_response_with(fault)
}

/// A `file_url` upload: fetched like an image URL (the configured [`crate::UrlUploads`] mode;
/// a remote host in placeholder mode gets the sandbox's own sample video), then judged.
async fn fetch(app: &App, url: &str) -> Reply {
    match crate::upload::fetch_url(app, url, "file_url", body_limit() as u64, || {
        Bytes::from_static(crate::media::VIDEO)
    })
    .await
    {
        Ok(bytes) => store(app, url, bytes),
        Err(reply) => reply,
    }
}

/// Judges the video as the table says (errors refuse it) and stores it with its facts. `name`
/// (a file name or the URL) carries the moderation trigger.
fn store(app: &App, name: &str, bytes: Bytes) -> Reply {
    if let Some(word) = &app.config.moderation_trigger
        && name.contains(word.as_str())
    {
        return Reply::moderation_upload();
    }
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| !ext.contains('/'));
    let rules = video::rules();
    let inspection = match video::inspect(
        Cursor::new(&bytes[..]),
        bytes.len() as u64,
        extension,
        &rules,
    ) {
        Ok(inspection) => inspection,
        Err(_) => return Reply::err(BAD_FORMAT),
    };
    let VideoHeader {
        format,
        duration_ms,
        width,
        height,
    } = match inspection.verdict() {
        Ok((header, _warnings)) => header,
        Err(problem) => {
            tracing::debug!(code = problem.code, "media upload refused");
            return Reply::err(BAD_FORMAT);
        }
    };
    let seconds = duration_ms.map(|ms| ms as f64 / 1000.0);
    let base_url = &app.base_url;
    app.write(|tx, _| {
        let id = app.new_id(tx)?;
        account::add_video(tx, id, format.mime(), &bytes, seconds)?;
        Ok(Reply::ok(json!({
            "media_id": id,
            "media_type": account::VIDEO,
            "url": format!("{base_url}/media/upload/{id}.{}", format.extension()),
            "width": width,
            "height": height,
        })))
    })
}
