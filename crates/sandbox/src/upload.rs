//! `POST /openapi/v2/image/upload`: multipart field `image`, checked as the vendor checks it.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use pixfuse_core::{CAPABILITIES, Severity};
use serde_json::json;

use crate::account::Image;
use crate::app::Shared;
use crate::faults::Endpoint;
use crate::reply::Reply;

/// ErrCodes of the 500030–500042 family the sandbox uses.
const TOO_LARGE: i64 = 500030;
const UNREADABLE: i64 = 500031;
const BAD_FORMAT: i64 = 500032;
const BAD_SIZE: i64 = 500033;
const MODERATION: i64 = 500052;

pub(crate) async fn handle(
    State(app): State<Shared>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Response {
    let fault = match app.admit(&headers, Endpoint::Upload) {
        Ok((_, fault)) => fault,
        Err(answer) => return *answer,
    };
    let reply = match read_image(form).await {
        Ok((file_name, bytes)) => store(&app, file_name, bytes),
        Err(reply) => reply,
    };
    reply.into_response_with(fault)
}

async fn read_image(form: Result<Multipart, MultipartRejection>) -> Result<(String, Bytes), Reply> {
    let mut form = form.map_err(|e| {
        Reply::err(
            400013,
            format!("expected a multipart/form-data body with the file in field `image` ({e})"),
        )
    })?;
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                return Err(Reply::err(
                    400013,
                    format!("unreadable multipart body: {e}"),
                ));
            }
        };
        match field.name() {
            Some("image") => {
                let file_name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    Reply::err(TOO_LARGE, format!("image too large or unreadable: {e}"))
                })?;
                return Ok((file_name, bytes));
            }
            Some("image_url") => {
                return Err(Reply::err(
                    400017,
                    "uploads by URL are not supported: send the file itself in field `image`",
                ));
            }
            _ => continue,
        }
    }
    Err(Reply::err(
        400011,
        "parameter `image` is empty: send the file in multipart field `image`",
    ))
}

fn store(app: &Shared, file_name: String, bytes: Bytes) -> Reply {
    let rules = &CAPABILITIES.upload;
    if let Some(word) = &app.config.moderation_trigger
        && file_name.contains(word.as_str())
    {
        return Reply::moderation_upload(MODERATION, "content moderation failed");
    }
    if bytes.len() as u64 > rules.max_bytes.value {
        return Reply::err(
            TOO_LARGE,
            format!(
                "image too large: {} bytes, at most {} allowed",
                bytes.len(),
                rules.max_bytes.value
            ),
        );
    }
    let Some((content_type, extension)) = sniff(&bytes) else {
        return Reply::err(
            BAD_FORMAT,
            "image format not supported: use png, jpeg or webp",
        );
    };
    let Ok(size) = imagesize::blob_size(&bytes) else {
        return Reply::err(UNREADABLE, "image unreadable: its header is damaged");
    };
    let longest = size.width.max(size.height) as u64;
    if let Some(limit) = rules
        .max_side_px
        .iter()
        .find(|l| l.severity == Severity::Error && longest > l.value)
    {
        return Reply::err(
            BAD_SIZE,
            format!(
                "image size not supported: {}x{} px, at most {} px per side",
                size.width, size.height, limit.value
            ),
        );
    }
    let id = app.account().add_image(Image {
        bytes,
        content_type,
    });
    Reply::ok(json!({
        "img_id": id,
        "img_url": format!("{}/media/image/{id}.{extension}", app.base_url),
    }))
}

/// `(content type, extension)` from the magic bytes; the file name is not trusted.
fn sniff(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("image/png", "png"))
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("image/jpeg", "jpg"))
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(("image/webp", "webp"))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::sniff;

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
}
