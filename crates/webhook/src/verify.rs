//! Checking a callback: headers, timestamp window, signature (constant time), then the body.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::canonical::{self, Canonicalisation};
use crate::error::WebhookError;
use crate::event::{Delivery, WebhookEvent};
use crate::headers::Headers;
use crate::{MAX_BODY_BYTES, TIMESTAMP_WINDOW_SECS};

/// Standard base64; padding is optional on receipt (some senders strip it).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A timestamp of this many or more is in milliseconds (a kit sends those); seconds will not
/// reach it before the year 5138.
const MILLISECONDS_FROM: u64 = 100_000_000_000;

/// Checks one callback over its raw body, before any JSON is trusted, and reads it.
///
/// The order of checks is: the secret is set, the body is at most [`MAX_BODY_BYTES`], the three
/// headers are present once each, the timestamp is within [`TIMESTAMP_WINDOW_SECS`] of `now`
/// (Unix seconds), the signature matches the body under either [`Canonicalisation`] (compared in
/// constant time), and finally the body is a callback. Replays are not this function's to catch:
/// pass the event's nonce to a [`crate::NonceStore`] (or a durable one), and deduplicate events
/// on [`WebhookEvent::dedup_key`].
pub fn verify(
    headers: &Headers<'_>,
    raw_body: &[u8],
    secret: &SecretString,
    now: u64,
) -> Result<WebhookEvent, WebhookError> {
    let key = secret.expose_secret().as_bytes();
    if key.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    if raw_body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::BodyTooLarge {
            size: raw_body.len(),
            limit: MAX_BODY_BYTES,
        });
    }
    let timestamp_text = headers.timestamp()?;
    let nonce = headers.nonce()?;
    let signature = headers.signature()?;
    let timestamp = unix_seconds(timestamp_text);
    if timestamp.abs_diff(now) > TIMESTAMP_WINDOW_SECS {
        return Err(WebhookError::StaleTimestamp {
            timestamp,
            now,
            window: TIMESTAMP_WINDOW_SECS,
        });
    }
    let supplied = BASE64
        .decode(signature)
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or(WebhookError::SignatureEncoding)?;
    let signed_as = canonical::payloads(raw_body)
        .into_iter()
        .find(|(_, payload)| {
            mac(key, timestamp_text, nonce, payload)
                .is_ok_and(|mac| mac.verify_slice(&supplied).is_ok())
        })
        .map(|(canonicalisation, _)| canonicalisation)
        .ok_or(WebhookError::SignatureMismatch)?;
    WebhookEvent::parse(
        raw_body,
        Delivery {
            timestamp,
            nonce: nonce.to_owned(),
            trace_id: headers.trace_id().map(str::to_owned),
            signed_as,
        },
    )
}

/// The `Webhook-Signature` a sender puts on `raw_body` (for tests of a receiver, and for
/// senders): base64 of HMAC-SHA256 over `timestamp \n nonce \n payload`.
pub fn sign(
    canonicalisation: Canonicalisation,
    timestamp: &str,
    nonce: &str,
    raw_body: &[u8],
    secret: &SecretString,
) -> Result<String, WebhookError> {
    let key = secret.expose_secret().as_bytes();
    if key.is_empty() {
        return Err(WebhookError::NoSecret);
    }
    let payload = canonical::payload(canonicalisation, raw_body).ok_or_else(|| {
        WebhookError::Malformed("the form-encoded reading needs a JSON object".into())
    })?;
    Ok(BASE64.encode(
        mac(key, timestamp, nonce, &payload)?
            .finalize()
            .into_bytes(),
    ))
}

fn mac(
    key: &[u8],
    timestamp: &str,
    nonce: &str,
    payload: &str,
) -> Result<Hmac<Sha256>, WebhookError> {
    // HMAC takes keys of every length (a long one is hashed first); the empty key was refused
    // before, so this error never happens, and a verification that met it would fail closed.
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| WebhookError::NoSecret)?;
    for part in [timestamp, "\n", nonce, "\n", payload] {
        mac.update(part.as_bytes());
    }
    Ok(mac)
}

fn unix_seconds(digits: &str) -> u64 {
    // At most 13 digits (checked by `Headers::timestamp`): always fits.
    let value: u64 = digits.parse().unwrap_or(u64::MAX);
    if value >= MILLISECONDS_FROM {
        value / 1000
    } else {
        value
    }
}
