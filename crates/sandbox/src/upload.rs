//! `POST /openapi/v2/image/upload`: "either image or image_url is required". A file in multipart
//! field `image`, or a URL in field `image_url` of a multipart form or of an
//! `application/x-www-form-urlencoded` body, in any order; a file wins over a URL. The image is
//! then checked as the vendor checks it.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use pixfuse_core::{CAPABILITIES, Severity};
use serde_json::json;

use crate::account::{self, IMAGE};
use crate::app::{App, Shared};
use crate::config::UrlUploads;
use crate::faults::Endpoint;
use crate::media::PLACEHOLDER;
use crate::offer::{self, BAD_FORMAT, Fields, Offer, TOO_LARGE};
use crate::reply::{Refusal, Reply};
use crate::schema::{EMPTY, INVALID};

/// ErrCodes of the 500030–500042 family the sandbox uses.
const UNREADABLE: i64 = 500031;
const BAD_SIZE: i64 = 500033;
const UPLOAD_FAILED: i64 = 500041;

const FIELDS: Fields = Fields {
    file: "image",
    url: "image_url",
};

/// How long fetching an `image_url` may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn handle(State(app): State<Shared>, request: Request) -> Response {
    let fault = match app.admit(request.headers(), Endpoint::Upload) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    let reply = match offer::read(request, FIELDS).await {
        Ok(Offer {
            file: Some((name, bytes)),
            ..
        }) if !bytes.is_empty() => store(&app, &name, bytes),
        Ok(Offer { url: Some(url), .. }) => match fetch(&app, &url).await {
            Ok(bytes) => store(&app, &url, bytes),
            Err(reply) => reply,
        },
        Ok(_) => Reply::refuse(&Refusal::new(EMPTY, "image")),
        Err(reply) => reply,
    };
    reply.into_response_with(fault)
}

/// The bytes behind an `image_url`, as [`UrlUploads`] says to get them.
async fn fetch(app: &App, url: &str) -> Result<Bytes, Reply> {
    let limit = CAPABILITIES.upload.max_bytes.value;
    fetch_url(app, url, "image_url", limit, || {
        Bytes::from_static(PLACEHOLDER)
    })
    .await
}

/// The bytes behind a URL given in form field `field`, as [`UrlUploads`] says to get them: at
/// most `limit` bytes, or `placeholder()` for a remote host in placeholder mode.
pub(crate) async fn fetch_url(
    app: &App,
    url: &str,
    field: &str,
    limit: u64,
    placeholder: impl FnOnce() -> Bytes,
) -> Result<Bytes, Reply> {
    let refuse = || Reply::refuse(&Refusal::new(INVALID, field));
    let mode = app.config.url_uploads;
    if mode == UrlUploads::Refuse {
        return Err(refuse());
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| refuse())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refuse());
    }
    if mode == UrlUploads::Placeholder && !is_loopback(&parsed) {
        return Ok(placeholder());
    }
    let failed = |error: &dyn std::fmt::Display| {
        tracing::debug!(%url, %error, "{field} fetch failed");
        Reply::err(UPLOAD_FAILED)
    };
    let mut response = app.http.get(parsed).send().await.map_err(|e| failed(&e))?;
    if !response.status().is_success() {
        return Err(failed(&response.status()));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(&e))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > limit {
            return Err(Reply::err(TOO_LARGE));
        }
    }
    Ok(Bytes::from(bytes))
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The client that fetches URLs. Redirects are followed (at most 5), but in placeholder mode only
/// to loopback: a local server cannot send the sandbox off the machine.
pub(crate) fn url_client(mode: UrlUploads) -> reqwest::Client {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 5
            || (mode == UrlUploads::Placeholder && !is_loopback(attempt.url()))
        {
            attempt.stop()
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(policy)
        .build()
        .unwrap_or_default()
}

/// Judges the image as the vendor does and stores it. `name` (a file name or the URL) carries
/// the moderation trigger.
fn store(app: &App, name: &str, bytes: Bytes) -> Reply {
    let rules = &CAPABILITIES.upload;
    if let Some(word) = &app.config.moderation_trigger
        && name.contains(word.as_str())
    {
        return Reply::moderation_upload();
    }
    if bytes.len() as u64 > rules.max_bytes.value {
        return Reply::err(TOO_LARGE);
    }
    let Some((content_type, extension)) = sniff(&bytes) else {
        return Reply::err(BAD_FORMAT);
    };
    let Ok(size) = imagesize::blob_size(&bytes) else {
        return Reply::err(UNREADABLE);
    };
    let longest = size.width.max(size.height) as u64;
    if rules
        .max_side_px
        .iter()
        .any(|l| l.severity == Severity::Error && longest > l.value)
    {
        return Reply::err(BAD_SIZE);
    }
    let base_url = &app.base_url;
    app.write(|tx, _| {
        let id = app.new_id(tx)?;
        account::add_media(tx, id, IMAGE, content_type, &bytes)?;
        Ok(Reply::ok(json!({
            "img_id": id,
            "img_url": format!("{base_url}/media/image/{id}.{extension}"),
        })))
    })
}

/// `(content type, extension)` from the magic bytes (core's sniffing, as pixfuse's own
/// preflight does); the file name is not trusted.
fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    pixfuse_core::image::ImageFormat::sniff(bytes).map(|f| (f.mime(), f.extension()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_the_three_formats_by_their_magic() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(("image/png", "png")));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(("image/jpeg", "jpg"))
        );
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(("image/webp", "webp")));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn loopback_hosts_are_the_only_local_ones() {
        let local = |u: &str| is_loopback(&reqwest::Url::parse(u).unwrap());
        assert!(local("http://127.0.0.1:9/a.png"));
        assert!(local("http://127.8.9.10/a.png"));
        assert!(local("http://[::1]:80/a.png"));
        assert!(local("http://LOCALHOST/a.png"));
        assert!(!local("https://cdn.example.com/a.png"));
        assert!(!local("http://10.0.0.1/a.png"));
        assert!(!local("http://localhost.example.com/a.png"));
    }

    #[test]
    fn the_placeholder_is_a_real_image() {
        let size = imagesize::blob_size(PLACEHOLDER).unwrap();
        assert_eq!((size.width, size.height), (128, 128));
        assert_eq!(sniff(PLACEHOLDER), Some(("image/png", "png")));
    }
}
