//! What a verified callback says: which video ended how, and how it was delivered.

use pixfuse_core::poll::JobStatus;
use serde_json::{Map, Value};

use crate::canonical::Canonicalisation;
use crate::error::WebhookError;

/// A callback that passed [`crate::verify`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The job's `video_id`. The vendor sends it as a string; a number is read exactly too
    /// (never through a float).
    pub video_id: u64,
    /// How the job ended (1 succeeded, 7 moderated, 8 failed, …).
    pub status: JobStatus,
    /// The video, once it succeeded.
    pub url: Option<String>,
    /// As the vendor reports it (its unit is not documented).
    pub size: Option<f64>,
    /// Whether the video has sound.
    pub has_audio: Option<bool>,
    /// What the job cost (0 once a failure is refunded).
    pub credits: Option<u64>,
    /// How this callback arrived.
    pub delivery: Delivery,
}

/// How one callback arrived. A retry may or may not reuse its nonce, so events are deduplicated
/// on [`WebhookEvent::dedup_key`], never on the delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// When the vendor signed it, in Unix seconds.
    pub timestamp: u64,
    /// `Webhook-Nonce`: what a replay repeats.
    pub nonce: String,
    /// `Ai-Trace-Id`, unsigned: a label for logs only.
    pub trace_id: Option<String>,
    /// The reading of the payload the signature matched.
    pub signed_as: Canonicalisation,
}

impl WebhookEvent {
    /// The same job reaching the same status is the same event, whichever delivery said so.
    pub fn dedup_key(&self) -> (u64, JobStatus) {
        (self.video_id, self.status)
    }

    /// Reads a body whose signature has been checked. `id` and `status` are required; the other
    /// fields are informative, so one of an unexpected type is left out rather than refused (a
    /// refusal only makes the vendor retry the same bytes).
    pub(crate) fn parse(raw_body: &[u8], delivery: Delivery) -> Result<Self, WebhookError> {
        let malformed = |why: String| WebhookError::Malformed(why);
        let fields: Map<String, Value> = match serde_json::from_slice(raw_body) {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return Err(malformed("it is not a JSON object".into())),
            Err(e) => return Err(malformed(format!("it is not JSON ({e})"))),
        };
        let video_id = match fields.get("id") {
            None => return Err(malformed("it has no \"id\"".into())),
            Some(id) => {
                integer(id).ok_or_else(|| malformed(format!("\"id\" is {id}, not a video id")))?
            }
        };
        let status = match fields.get("status") {
            None => return Err(malformed("it has no \"status\"".into())),
            Some(status) => integer(status)
                .and_then(|code| i64::try_from(code).ok())
                .map(JobStatus::from_code)
                .ok_or_else(|| malformed(format!("\"status\" is {status}, not a status code")))?,
        };
        Ok(WebhookEvent {
            video_id,
            status,
            url: fields
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| !u.is_empty())
                .map(str::to_owned),
            size: fields.get("size").and_then(Value::as_f64),
            has_audio: fields.get("has_audio").and_then(Value::as_bool),
            credits: fields.get("credits").and_then(integer),
            delivery,
        })
    }
}

/// A non-negative integer written as a JSON integer or as a string of digits.
fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s)
            if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        Delivery {
            timestamp: 1,
            nonce: "n".into(),
            trace_id: None,
            signed_as: Canonicalisation::FormEncoded,
        }
    }

    #[test]
    fn ids_are_strings_or_exact_numbers() {
        let big = br#"{"id":9007199254740993,"status":"1"}"#;
        let event = WebhookEvent::parse(big, delivery()).unwrap();
        assert_eq!(event.video_id, 9_007_199_254_740_993);
        assert_eq!(event.status, JobStatus::Succeeded);
        let text = br#"{"id":"9007199254740993","status":8,"url":"","credits":"0"}"#;
        let event = WebhookEvent::parse(text, delivery()).unwrap();
        assert_eq!(
            (event.video_id, event.status),
            (9_007_199_254_740_993, JobStatus::Failed)
        );
        assert_eq!((event.url, event.credits), (None, Some(0)));
    }

    #[test]
    fn what_is_not_a_callback_says_why() {
        for (body, why) in [
            (&br#"[1]"#[..], "not a JSON object"),
            (b"{", "not JSON"),
            (br#"{"status":1}"#, "no \"id\""),
            (br#"{"id":-3,"status":1}"#, "\"id\" is -3"),
            (br#"{"id":"v12","status":1}"#, "\"id\" is \"v12\""),
            (br#"{"id":1.5,"status":1}"#, "\"id\" is 1.5"),
            (br#"{"id":"12"}"#, "no \"status\""),
            (br#"{"id":"12","status":"done"}"#, "\"status\" is \"done\""),
        ] {
            match WebhookEvent::parse(body, delivery()) {
                Err(WebhookError::Malformed(m)) => assert!(m.contains(why), "{m} lacks {why}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn odd_optional_fields_are_left_out() {
        let body = br#"{"id":"5","status":1,"url":7,"size":"big","has_audio":"yes","credits":-1}"#;
        let event = WebhookEvent::parse(body, delivery()).unwrap();
        assert_eq!(
            (event.url, event.size, event.has_audio, event.credits),
            (None, None, None, None)
        );
    }
}
