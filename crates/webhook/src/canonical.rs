//! The payload strings the vendor may have signed for one body.
//!
//! Sources disagree (fusion-api.md §9, §11): the vendor guide signs the JSON body "encoded as a
//! URL query string", a production kit signs `encodeURIComponent(raw body)`. Both are built here
//! from the raw bytes. "Encoded as a URL query string" leaves two details to the vendor's
//! stack, so the form reading tries each common answer: keys in body order or sorted (Go's
//! `url.Values` sorts), and `~` and `*` kept or escaped (Go and Python keep `~`; JavaScript's
//! `URLSearchParams` and Java keep `*`; PHP keeps neither). The variants only differ for bodies
//! that need them, and each is still an HMAC under the secret: trying several forges nothing.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode, utf8_percent_encode};
use pixfuse_core::text::URI_COMPONENT;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// Which reading of "the payload" a signature was made over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Canonicalisation {
    /// The vendor guide: the body's top-level fields as `key=value` pairs joined by `&`, each
    /// form-encoded (letters, digits and `-._~` kept, space as `+`, everything else `%XX`, as
    /// Go's `url.QueryEscape` does); string values without their quotes, numbers and booleans as
    /// written, `null` empty, nested values as their JSON text; keys in body order. On receipt
    /// the sorted order and the other stacks' treatment of `~` and `*` are accepted too.
    FormEncoded,
    /// A production kit: the whole raw body through JavaScript's `encodeURIComponent`.
    PercentEncodedBody,
}

impl Canonicalisation {
    /// Stable snake_case name (`form_encoded`, `percent_encoded_body`).
    pub fn as_str(self) -> &'static str {
        match self {
            Canonicalisation::FormEncoded => "form_encoded",
            Canonicalisation::PercentEncodedBody => "percent_encoded_body",
        }
    }
}

impl std::fmt::Display for Canonicalisation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What form encoding keeps besides letters and digits, by stack; the first is what [`sign`]
/// uses.
///
/// [`sign`]: crate::sign
const FORM_FLAVOURS: [&AsciiSet; 3] = [
    // Go's url.QueryEscape, Python's quote_plus.
    &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~'),
    // The WHATWG URL standard (URLSearchParams), Java's URLEncoder.
    &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'*'),
    // PHP's http_build_query.
    &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_'),
];

/// The payloads to try for `raw_body`, in order. The form reading needs a JSON object; a body
/// that is not one still has its percent-encoded reading (so a forged or broken body is refused
/// as unauthenticated, not as malformed).
pub(crate) fn payloads(raw_body: &[u8]) -> Vec<(Canonicalisation, String)> {
    let mut out: Vec<(Canonicalisation, String)> = Vec::with_capacity(3);
    if let Some(in_body_order) = top_level_pairs(raw_body) {
        let mut sorted = in_body_order.clone();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for pairs in [&in_body_order, &sorted] {
            for flavour in FORM_FLAVOURS {
                let payload = form_encode(pairs, flavour);
                if !out.iter().any(|(_, seen)| *seen == payload) {
                    out.push((Canonicalisation::FormEncoded, payload));
                }
            }
        }
    }
    out.push((
        Canonicalisation::PercentEncodedBody,
        percent_encode(raw_body, URI_COMPONENT).to_string(),
    ));
    out
}

/// The payload a sender signs under `canonicalisation` (body order for the form reading), or
/// `None` when the form reading is asked of a body that is not a JSON object.
pub(crate) fn payload(canonicalisation: Canonicalisation, raw_body: &[u8]) -> Option<String> {
    match canonicalisation {
        Canonicalisation::FormEncoded => {
            top_level_pairs(raw_body).map(|pairs| form_encode(&pairs, FORM_FLAVOURS[0]))
        }
        Canonicalisation::PercentEncodedBody => {
            Some(percent_encode(raw_body, URI_COMPONENT).to_string())
        }
    }
}

fn form_encode(pairs: &[(String, String)], keep: &'static AsciiSet) -> String {
    let encode = |text: &str| {
        text.split(' ')
            .map(|part| utf8_percent_encode(part, keep).to_string())
            .collect::<Vec<_>>()
            .join("+")
    };
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The top-level `(key, value text)` pairs of a JSON object, in body order (duplicates kept).
fn top_level_pairs(raw_body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(raw_body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let pairs = de.deserialize_map(PairsVisitor).ok()?;
    de.end().ok()?;
    pairs
        .into_iter()
        .map(|(key, raw)| Some((key, value_text(raw)?)))
        .collect()
}

/// How a value reads in `key=value`: a string without quotes, `null` empty, the rest verbatim.
fn value_text(raw: &RawValue) -> Option<String> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).ok(),
        _ if text == "null" => Some(String::new()),
        _ => Some(text.to_owned()),
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::new();
        while let Some(pair) = map.next_entry::<String, &'de RawValue>()? {
            pairs.push(pair);
        }
        Ok(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reading_keeps_body_order_and_adds_the_sorted_one() {
        let body = br#"{"id":"12","status":1,"url":"https://a.b/c d.mp4?x=1&y=z","size":10.5,"has_audio":true,"credits":null}"#;
        let found = payloads(body);
        assert_eq!(
            found[0],
            (
                Canonicalisation::FormEncoded,
                "id=12&status=1&url=https%3A%2F%2Fa.b%2Fc+d.mp4%3Fx%3D1%26y%3Dz&size=10.5&has_audio=true&credits="
                    .to_owned()
            )
        );
        assert_eq!(
            found[1].1,
            "credits=&has_audio=true&id=12&size=10.5&status=1&url=https%3A%2F%2Fa.b%2Fc+d.mp4%3Fx%3D1%26y%3Dz"
        );
        assert_eq!(found.len(), 3);
        assert_eq!(found[2].0, Canonicalisation::PercentEncodedBody);
        assert!(
            found[2]
                .1
                .starts_with("%7B%22id%22%3A%2212%22%2C%22status%22%3A1%2C")
        );
    }

    #[test]
    fn tilde_and_star_are_tried_kept_and_escaped() {
        let body = br#"{"u":"a~b*c"}"#;
        let forms: Vec<String> = payloads(body)
            .into_iter()
            .filter(|(c, _)| *c == Canonicalisation::FormEncoded)
            .map(|(_, p)| p)
            .collect();
        assert_eq!(forms, ["u=a~b%2Ac", "u=a%7Eb*c", "u=a%7Eb%2Ac"]);
    }

    #[test]
    fn a_sorted_body_is_tried_once_and_a_non_object_only_as_raw() {
        assert_eq!(payloads(br#"{"a":1,"b":"x"}"#).len(), 2);
        let raw = payloads(b"[1,2] (x)!");
        assert_eq!(
            raw,
            [(
                Canonicalisation::PercentEncodedBody,
                "%5B1%2C2%5D%20(x)!".to_owned()
            )]
        );
        assert_eq!(payloads(br#"{"a":1} trailing"#).len(), 1);
    }

    #[test]
    fn escapes_and_unicode_are_read_before_encoding() {
        let body = "{\"p\":\"caf\\u00e9 \\\"x\\\"\",\"n\":{\"k\": [1]}}".as_bytes();
        assert_eq!(
            payload(Canonicalisation::FormEncoded, body).unwrap(),
            "p=caf%C3%A9+%22x%22&n=%7B%22k%22%3A+%5B1%5D%7D"
        );
    }
}
