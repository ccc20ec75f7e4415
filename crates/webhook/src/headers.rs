//! The callback's headers, read the way HTTP reads them: names case-insensitive, values bytes.

use crate::error::WebhookError;

pub(crate) const TIMESTAMP: &str = "Webhook-Timestamp";
pub(crate) const NONCE: &str = "Webhook-Nonce";
pub(crate) const SIGNATURE: &str = "Webhook-Signature";
pub(crate) const TRACE_ID: &str = "Ai-Trace-Id";

/// The vendor sends 32 characters; anything longer than this is not a nonce.
const MAX_NONCE_BYTES: usize = 256;
const MAX_TRACE_ID_BYTES: usize = 256;

/// The headers [`crate::verify`] reads, picked out of a request's headers. A header that appears
/// twice is remembered as such: a request with two signatures or two timestamps is refused
/// rather than judged by whichever copy a proxy kept.
#[derive(Clone, Debug, Default)]
pub struct Headers<'a> {
    timestamp: Slot<'a>,
    nonce: Slot<'a>,
    signature: Slot<'a>,
    trace_id: Slot<'a>,
}

#[derive(Clone, Copy, Debug, Default)]
enum Slot<'a> {
    #[default]
    Missing,
    Once(&'a [u8]),
    Repeated,
}

impl<'a> Slot<'a> {
    fn put(&mut self, value: &'a [u8]) {
        *self = match self {
            Slot::Missing => Slot::Once(value),
            _ => Slot::Repeated,
        };
    }
}

impl<'a> Headers<'a> {
    /// Picks the webhook headers out of `(name, value)` pairs; other headers are ignored.
    /// With `http::HeaderMap`: `Headers::from_pairs(map.iter().map(|(n, v)| (n.as_str(), v.as_bytes())))`.
    pub fn from_pairs<I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let mut headers = Headers::default();
        for (name, value) in pairs {
            let slot = if name.eq_ignore_ascii_case(TIMESTAMP) {
                &mut headers.timestamp
            } else if name.eq_ignore_ascii_case(NONCE) {
                &mut headers.nonce
            } else if name.eq_ignore_ascii_case(SIGNATURE) {
                &mut headers.signature
            } else if name.eq_ignore_ascii_case(TRACE_ID) {
                &mut headers.trace_id
            } else {
                continue;
            };
            slot.put(value);
        }
        headers
    }

    /// `Webhook-Timestamp` exactly as sent (it is part of the signed string).
    pub(crate) fn timestamp(&self) -> Result<&'a str, WebhookError> {
        let text = required(self.timestamp, TIMESTAMP)?;
        if text.is_empty() || text.len() > 13 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WebhookError::InvalidHeader {
                name: TIMESTAMP,
                reason: "not a Unix time in whole seconds",
            });
        }
        Ok(text)
    }

    pub(crate) fn nonce(&self) -> Result<&'a str, WebhookError> {
        let nonce = required(self.nonce, NONCE)?;
        if nonce.is_empty() || nonce.len() > MAX_NONCE_BYTES || !visible_ascii(nonce) {
            return Err(WebhookError::InvalidHeader {
                name: NONCE,
                reason: "not 1 to 256 visible ASCII characters",
            });
        }
        Ok(nonce)
    }

    pub(crate) fn signature(&self) -> Result<&'a str, WebhookError> {
        required(self.signature, SIGNATURE).map(str::trim)
    }

    /// `Ai-Trace-Id`, when it is there once and looks like a trace id. It is not signed, so it
    /// only ever labels a log line.
    pub(crate) fn trace_id(&self) -> Option<&'a str> {
        match self.trace_id {
            Slot::Once(value) => std::str::from_utf8(value)
                .ok()
                .filter(|t| !t.is_empty() && t.len() <= MAX_TRACE_ID_BYTES && visible_ascii(t)),
            _ => None,
        }
    }
}

fn required<'a>(slot: Slot<'a>, name: &'static str) -> Result<&'a str, WebhookError> {
    match slot {
        Slot::Missing => Err(WebhookError::MissingHeader(name)),
        Slot::Repeated => Err(WebhookError::RepeatedHeader(name)),
        Slot::Once(value) => std::str::from_utf8(value).map_err(|_| WebhookError::InvalidHeader {
            name,
            reason: "not UTF-8",
        }),
    }
}

fn visible_ascii(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_repeats_are_refused() {
        let h = Headers::from_pairs([
            ("webhook-timestamp", b"1764547200".as_slice()),
            ("WEBHOOK-NONCE", b"abc"),
            ("Webhook-Signature", b" c2ln "),
            ("Webhook-Signature", b"c2ln"),
            ("ai-trace-id", b"t-1"),
        ]);
        assert_eq!(h.timestamp().unwrap(), "1764547200");
        assert_eq!(h.nonce().unwrap(), "abc");
        assert_eq!(
            h.signature().unwrap_err(),
            WebhookError::RepeatedHeader(SIGNATURE)
        );
        assert_eq!(h.trace_id(), Some("t-1"));
    }

    #[test]
    fn malformed_values_name_their_header() {
        let h = Headers::from_pairs([
            ("webhook-timestamp", b"12.5".as_slice()),
            ("webhook-nonce", b"has space"),
            ("ai-trace-id", b"\x01"),
        ]);
        assert!(matches!(
            h.timestamp(),
            Err(WebhookError::InvalidHeader {
                name: TIMESTAMP,
                ..
            })
        ));
        assert!(matches!(
            h.nonce(),
            Err(WebhookError::InvalidHeader { name: NONCE, .. })
        ));
        assert_eq!(h.signature(), Err(WebhookError::MissingHeader(SIGNATURE)));
        assert_eq!(h.trace_id(), None);
    }
}
