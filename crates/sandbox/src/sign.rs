//! What the sandbox POSTs when a job ends, and how it signs it — written from the documentation
//! alone (fusion-api.md §9), not from pixfuse's verifier: a referee that shared the player's
//! reading of the payload could not catch its mistakes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::account::Job;
use crate::config::WebhookSigning;
use crate::media::VIDEO;

/// What JavaScript's `encodeURIComponent` leaves alone (the production kit's reading).
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// One event: the JSON body as sent, and the same fields as the pairs a server holding them
/// would form-encode.
pub(crate) struct Event {
    pub(crate) body: String,
    pairs: Vec<(&'static str, String)>,
}

/// The event of job `video_id`, which has ended: the fields and order of the documented example
/// (`id` a string), the result endpoint's values.
pub(crate) fn event(base_url: &str, video_id: u64, job: &Job) -> Event {
    let status = job.outcome.status();
    let succeeded = status == 1;
    let url = if succeeded {
        format!("{base_url}/media/video/{video_id}.mp4")
    } else {
        String::new()
    };
    let size = if succeeded { VIDEO.len() } else { 0 };
    let has_audio = job
        .fixed
        .get("has_audio")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let credits = job.credits_at(job.ready_ms);
    let body = format!(
        r#"{{"id":"{video_id}","status":{status},"url":{},"size":{size},"has_audio":{has_audio},"credits":{credits}}}"#,
        serde_json::Value::from(url.as_str())
    );
    let pairs = vec![
        ("id", video_id.to_string()),
        ("status", status.to_string()),
        ("url", url),
        ("size", size.to_string()),
        ("has_audio", has_audio.to_string()),
        ("credits", credits.to_string()),
    ];
    Event { body, pairs }
}

/// `Webhook-Signature`: base64 of HMAC-SHA256 over `timestamp \n nonce \n payload`. With `wrong`,
/// the same signature with its first byte changed (a fault).
pub(crate) fn signature(
    signing: WebhookSigning,
    secret: &SecretString,
    timestamp: &str,
    nonce: &str,
    event: &Event,
    wrong: bool,
) -> String {
    let payload = match signing {
        WebhookSigning::FormEncoded => form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&event.pairs)
            .finish(),
        WebhookSigning::PercentEncodedBody => {
            percent_encode(event.body.as_bytes(), URI_COMPONENT).to_string()
        }
    };
    // HMAC takes keys of every length; the secret was checked non-empty at start.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
    else {
        return String::new();
    };
    mac.update(format!("{timestamp}\n{nonce}\n{payload}").as_bytes());
    let mut digest = mac.finalize().into_bytes().to_vec();
    if wrong && let Some(first) = digest.first_mut() {
        *first ^= 0x5a;
    }
    STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;
    use crate::account::Outcome;

    fn job(outcome: Outcome) -> Job {
        let mut fixed = Map::new();
        fixed.insert("has_audio".into(), true.into());
        Job {
            credits: 45,
            created_ms: 0,
            ready_ms: 10,
            outcome,
            fixed,
        }
    }

    #[test]
    fn the_event_has_the_documented_shape() {
        let ok = event(
            "http://127.0.0.1:9",
            318_000_000_000_007,
            &job(Outcome::Success),
        );
        assert_eq!(
            ok.body,
            format!(
                r#"{{"id":"318000000000007","status":1,"url":"http://127.0.0.1:9/media/video/318000000000007.mp4","size":{},"has_audio":true,"credits":45}}"#,
                VIDEO.len()
            )
        );
        let failed = event("http://h", 5, &job(Outcome::Failed));
        assert_eq!(
            failed.body,
            r#"{"id":"5","status":8,"url":"","size":0,"has_audio":true,"credits":0}"#
        );
    }

    #[test]
    fn both_readings_sign_what_python_and_node_sign() {
        // Python's urllib.parse.urlencode over the pairs, and Node's encodeURIComponent over
        // the body, each under HMAC-SHA256 with "whsec", timestamp 1764547200 and nonce "n0nce".
        let ok = event("http://h", 5, &job(Outcome::Success));
        let secret = SecretString::from("whsec");
        let sign = |how, wrong| signature(how, &secret, "1764547200", "n0nce", &ok, wrong);
        assert_eq!(
            sign(WebhookSigning::FormEncoded, false),
            "FnKrGl4TLQoCzlyLV3nSHXqQXh50zNEYZwdtVwXkDcw="
        );
        assert_eq!(
            sign(WebhookSigning::PercentEncodedBody, false),
            "FvfmgfaVU9Hz4KckvA5Q0gMEncvcML0v4dswJhL4Y5c="
        );
        let wrong = sign(WebhookSigning::FormEncoded, true);
        assert_ne!(wrong, sign(WebhookSigning::FormEncoded, false));
        assert_eq!(wrong.len(), 44);
    }
}
