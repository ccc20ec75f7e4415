//! The media server: finished videos (with `Range`), uploaded images and reference videos, like
//! the vendor's CDN (no key needed).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::app::Shared;
use crate::faults::{Endpoint, Fault};
use crate::range::{self, RangeRequest};
use crate::stats::counter;
use crate::{account, clock};

/// Every finished job's video: a real, playable 3 s H.264 MP4 (see the crate README for how
/// it was made).
pub(crate) static VIDEO: &[u8] = include_bytes!("../assets/sample.mp4");
/// Every finished job's cover (a 320×180 PNG).
static COVER: &[u8] = include_bytes!("../assets/cover.png");
/// What a URL upload of a remote host stores (a 128×128 PNG), unless such URLs are fetched.
pub(crate) static PLACEHOLDER: &[u8] = include_bytes!("../assets/placeholder.png");

/// Whether `file` (`{id}.{ext}`) names a job that has succeeded by now.
fn finished(app: &Shared, file: &str, ext: &str) -> bool {
    let Some(id) = file
        .strip_suffix(ext)
        .and_then(|id| id.strip_suffix('.'))
        .and_then(|id| id.parse::<u64>().ok())
    else {
        return false;
    };
    let now = clock::now_ms();
    matches!(app.store.read(|tx| account::job(tx, id)), Ok(Some(job)) if job.status(now) == 1)
}

pub(crate) async fn video(
    State(app): State<Shared>,
    Path(file): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    if !finished(&app, &file, "mp4") {
        return (StatusCode::NOT_FOUND, "no such video").into_response();
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // A HEAD only asks about the file, and a 416 sends none of it: neither is a download,
    // and neither draws a fault.
    let sends_bytes = method != Method::HEAD
        && range::parse(range, VIDEO.len() as u64) != RangeRequest::Unsatisfiable;
    let fault = if sends_bytes {
        let fault = app.dice.roll(Endpoint::Media);
        app.count_fault(fault);
        app.count(counter::DOWNLOADS_SERVED);
        fault
    } else {
        None
    };
    serve(Bytes::from_static(VIDEO), "video/mp4", range, fault)
}

pub(crate) async fn cover(State(app): State<Shared>, Path(file): Path<String>) -> Response {
    if !finished(&app, &file, "png") {
        return (StatusCode::NOT_FOUND, "no such cover").into_response();
    }
    serve(Bytes::from_static(COVER), "image/png", None, None)
}

pub(crate) async fn image(State(app): State<Shared>, Path(file): Path<String>) -> Response {
    stored(&app, &file, account::IMAGE)
}

/// A reference video uploaded by `POST …/media/upload`.
pub(crate) async fn uploaded_video(
    State(app): State<Shared>,
    Path(file): Path<String>,
) -> Response {
    stored(&app, &file, account::VIDEO)
}

/// Upload `file` (`{id}.{ext}`) of kind `wanted`, as it was stored.
fn stored(app: &Shared, file: &str, wanted: &str) -> Response {
    let id = file.split_once('.').map_or(file, |(id, _)| id);
    let media = match id.parse::<u64>() {
        Ok(id) => app.store.read(|tx| account::media(tx, id)),
        Err(_) => Ok(None),
    };
    match media {
        Ok(Some((kind, content_type, bytes))) if kind == wanted => {
            let mut response = serve(Bytes::from(bytes), "application/octet-stream", None, None);
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        _ => (StatusCode::NOT_FOUND, format!("no such {wanted}")).into_response(),
    }
}

fn serve(
    body: Bytes,
    content_type: &'static str,
    range: Option<&str>,
    fault: Option<Fault>,
) -> Response {
    let len = body.len() as u64;
    let (status, slice, content_range) = match range::parse(range, len) {
        RangeRequest::Whole => (StatusCode::OK, body, None),
        RangeRequest::Partial(r) => {
            let content_range = format!("bytes {}-{}/{len}", r.start, r.end - 1);
            // The range lies within `len`, which is `body.len()`, so the casts are lossless.
            let slice = body.slice(r.start as usize..r.end as usize);
            (StatusCode::PARTIAL_CONTENT, slice, Some(content_range))
        }
        RangeRequest::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response();
        }
    };
    let slice_len = slice.len();
    let body = if fault == Some(Fault::CutDownload) {
        cut_midway(slice)
    } else {
        Body::from(slice)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(slice_len));
    if let Some(content_range) = content_range
        && let Ok(value) = HeaderValue::from_str(&content_range)
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

/// Sends the first half, then fails: hyper closes the connection short of `Content-Length`.
fn cut_midway(slice: Bytes) -> Body {
    use futures_util::StreamExt;
    let half = slice.slice(..slice.len() / 2);
    let first = futures_util::stream::once(async move { Ok::<_, std::io::Error>(half) });
    let then_fail = futures_util::stream::once(async {
        // Pause so hyper flushes the first half: the client must receive part of the body.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox fault: download cut midway",
        ))
    });
    Body::from_stream(first.chain(then_fail))
}

#[cfg(test)]
mod tests {
    use super::VIDEO;

    /// Top-level MP4 boxes: (type, size).
    fn boxes(mut data: &[u8]) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        while data.len() >= 8 {
            let size = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as usize;
            out.push((String::from_utf8_lossy(&data[4..8]).into_owned(), size));
            assert!(size >= 8 && size <= data.len(), "damaged box");
            data = &data[size..];
        }
        out
    }

    #[test]
    fn the_video_is_a_small_streamable_mp4() {
        let kinds: Vec<String> = boxes(VIDEO).into_iter().map(|(kind, _)| kind).collect();
        assert_eq!(kinds.first().map(String::as_str), Some("ftyp"));
        let moov = kinds.iter().position(|k| k == "moov").unwrap();
        let mdat = kinds.iter().position(|k| k == "mdat").unwrap();
        assert!(
            moov < mdat,
            "faststart: players can start before the download ends"
        );
        assert!(VIDEO.len() < 300 * 1024);
    }
}
