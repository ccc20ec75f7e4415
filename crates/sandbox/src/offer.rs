//! What an upload request offers: a file in one multipart field, or a URL in another field of a
//! multipart form or of an `application/x-www-form-urlencoded` body, in any order. The image
//! and the media upload read their requests alike; only the field names differ.

use axum::extract::{Form, FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use bytes::Bytes;

use crate::reply::{Refusal, Reply};
use crate::schema::WRONG_TYPE;

/// ErrCode of a body larger than the route reads (the upload family's "too large").
pub(crate) const TOO_LARGE: i64 = 500030;
/// ErrCode of a file of a format the route does not take (the image upload's; the media upload
/// borrows it, the nearest the vendor documents).
pub(crate) const BAD_FORMAT: i64 = 500032;

/// The two fields an upload route reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    pub(crate) file: &'static str,
    pub(crate) url: &'static str,
}

/// What a request offers to upload.
#[derive(Debug, Default)]
pub(crate) struct Offer {
    /// `(file name, bytes)` of the file field.
    pub(crate) file: Option<(String, Bytes)>,
    pub(crate) url: Option<String>,
}

/// Reads the offer; a body of another content type offers nothing (the route answers "empty").
pub(crate) async fn read(request: Request, fields: Fields) -> Result<Offer, Reply> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let unreadable = || Reply::refuse(&Refusal::new(WRONG_TYPE, "body"));
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let Form(pairs) = Form::<Vec<(String, String)>>::from_request(request, &())
            .await
            .map_err(|_| unreadable())?;
        let url = pairs
            .into_iter()
            .find(|(name, value)| name == fields.url && !value.trim().is_empty())
            .map(|(_, value)| value.trim().to_owned());
        return Ok(Offer { file: None, url });
    }
    if !content_type.starts_with("multipart/form-data") {
        return Ok(Offer::default());
    }
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|_| unreadable())?;
    let mut offer = Offer::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Reply::err(TOO_LARGE));
            }
            Err(_) => return Err(unreadable()),
        };
        let name = field.name();
        if name == Some(fields.file) && offer.file.is_none() {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(|_| Reply::err(TOO_LARGE))?;
            offer.file = Some((file_name, bytes));
        } else if name == Some(fields.url) && offer.url.is_none() {
            let url = field.text().await.map_err(|_| unreadable())?;
            let url = url.trim();
            if !url.is_empty() {
                offer.url = Some(url.to_owned());
            }
        }
    }
    Ok(offer)
}
