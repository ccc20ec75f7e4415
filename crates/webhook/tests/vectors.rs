//! Signature vectors computed by other code than ours (`vectors.py`: Python's urllib for the
//! vendor guide's reading, Node's `encodeURIComponent` for the production kit's), and every way
//! a callback must be refused.

use pixfuse_core::poll::JobStatus;
use pixfuse_webhook::{
    Canonicalisation, Headers, NonceStore, Rejection, TIMESTAMP_WINDOW_SECS, WebhookError, sign,
    verify,
};
use secrecy::SecretString;

const SECRET: &str = "pixfuse-test-secret-2f9a";
const TS: &str = "1764547200";
const T: u64 = 1_764_547_200;
const NONCE: &str = "Qm9wYXlsb2FkTm9uY2UxMjM0NTY3ODlh";

const GUIDE_BODY: &str = r#"{"id":"318004563312345","status":1,"url":"https://media.example/openapi/output/318004563312345.mp4?auth_key=1764547200-0-0-ab~c&name=dog in room","size":10.5,"has_audio":true,"credits":100}"#;
const GUIDE_SIG: &str = "hPLhuFEipGgl39DCpEaG3mRKrj+UbU7WHOODIaGt8r0=";
/// The same body signed by a JavaScript stack, whose form encoding escapes `~`.
const GUIDE_JS_SIG: &str = "2PZarc/IjqMHqUiYOB199DfXJ30p1hlIVojTqMSN+kc=";
const KIT_BODY: &str = "{\"id\": 318004563312346, \"status\": 8, \"url\": \"\", \"credits\": 0, \"note\": \"café (x)*!'\"}\n";
const KIT_SIG: &str = "p5bSC30vnaKKPTlxEPtz9A4cjFwfAx3AlWjw5NeEkA4=";
const SORTED_BODY: &str = r#"{"status":7,"id":9007199254740993,"credits":0}"#;
const SORTED_SIG: &str = "BgVwKCPfJAJrix5qpBFAmAwPFjkHEyMn3VpUHuRkmrQ=";

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

fn headers<'a>(ts: &'a str, nonce: &'a str, signature: &'a str) -> Headers<'a> {
    Headers::from_pairs([
        ("Webhook-Timestamp", ts.as_bytes()),
        ("Webhook-Nonce", nonce.as_bytes()),
        ("Webhook-Signature", signature.as_bytes()),
        ("Ai-Trace-Id", b"4f1c7c0e-trace".as_slice()),
        ("Content-Type", b"application/json"),
    ])
}

fn check(
    body: &str,
    signature: &str,
    now: u64,
) -> Result<pixfuse_webhook::WebhookEvent, WebhookError> {
    verify(
        &headers(TS, NONCE, signature),
        body.as_bytes(),
        &secret(),
        now,
    )
}

#[test]
fn the_vendor_guides_form_encoded_reading_with_a_string_id() {
    let event = check(GUIDE_BODY, GUIDE_SIG, T + 5).unwrap();
    assert_eq!(event.video_id, 318_004_563_312_345);
    assert_eq!(event.status, JobStatus::Succeeded);
    assert!(event.url.as_deref().unwrap().ends_with("name=dog in room"));
    assert_eq!(
        (event.size, event.has_audio, event.credits),
        (Some(10.5), Some(true), Some(100))
    );
    assert_eq!(event.delivery.signed_as, Canonicalisation::FormEncoded);
    assert_eq!(
        (event.delivery.timestamp, event.delivery.nonce.as_str()),
        (T, NONCE)
    );
    assert_eq!(event.delivery.trace_id.as_deref(), Some("4f1c7c0e-trace"));
}

#[test]
fn the_guides_reading_from_a_stack_that_escapes_tilde() {
    let event = check(GUIDE_BODY, GUIDE_JS_SIG, T).unwrap();
    assert_eq!(event.delivery.signed_as, Canonicalisation::FormEncoded);
    assert_ne!(GUIDE_JS_SIG, GUIDE_SIG);
}

#[test]
fn the_production_kits_percent_encoded_reading_with_a_numeric_id() {
    let event = check(KIT_BODY, KIT_SIG, T).unwrap();
    assert_eq!(
        (event.video_id, event.status),
        (318_004_563_312_346, JobStatus::Failed)
    );
    assert_eq!((event.url, event.credits), (None, Some(0)));
    assert_eq!(
        event.delivery.signed_as,
        Canonicalisation::PercentEncodedBody
    );
}

#[test]
fn form_pairs_sorted_by_key_and_an_id_no_double_holds() {
    let event = check(SORTED_BODY, SORTED_SIG, T).unwrap();
    assert_eq!(
        (event.video_id, event.status),
        (9_007_199_254_740_993, JobStatus::Moderated)
    );
    assert_eq!(event.delivery.signed_as, Canonicalisation::FormEncoded);
}

#[test]
fn our_signer_reproduces_the_vectors() {
    let s = secret();
    let guide = sign(
        Canonicalisation::FormEncoded,
        TS,
        NONCE,
        GUIDE_BODY.as_bytes(),
        &s,
    );
    let kit = sign(
        Canonicalisation::PercentEncodedBody,
        TS,
        NONCE,
        KIT_BODY.as_bytes(),
        &s,
    );
    assert_eq!(
        (guide.unwrap(), kit.unwrap()),
        (GUIDE_SIG.to_owned(), KIT_SIG.to_owned())
    );
}

#[test]
fn a_tampered_body_is_refused() {
    for tampered in [
        GUIDE_BODY.replace("\"status\":1", "\"status\":8"),
        GUIDE_BODY.replace("318004563312345.mp4", "318004563312399.mp4"),
        GUIDE_BODY.replace("\"credits\":100", "\"credits\":100,\"extra\":1"),
        GUIDE_BODY.replace("\"size\":10.5,", ""),
    ] {
        let err = check(&tampered, GUIDE_SIG, T).unwrap_err();
        assert_eq!(err, WebhookError::SignatureMismatch, "{tampered}");
        assert_eq!(err.rejection().http_status(), 401);
    }
    // The kit's reading covers every byte, whitespace included.
    let err = check(&KIT_BODY.replace(": 8", ":  8"), KIT_SIG, T).unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
    // The guide's reading signs the values, not the JSON around them: whitespace and the quoting
    // of a number are not covered (the event read is the same).
    let respaced = check(&GUIDE_BODY.replace(",\"size\"", ", \"size\""), GUIDE_SIG, T).unwrap();
    let requoted = check(
        &GUIDE_BODY.replace("\"status\":1", "\"status\":\"1\""),
        GUIDE_SIG,
        T,
    )
    .unwrap();
    let original = check(GUIDE_BODY, GUIDE_SIG, T).unwrap();
    assert_eq!((respaced, requoted), (original.clone(), original));
}

#[test]
fn a_wrong_secret_is_refused_and_never_echoed() {
    let wrong = SecretString::from("pixfuse-test-secret-2f9b");
    let err = verify(
        &headers(TS, NONCE, GUIDE_SIG),
        GUIDE_BODY.as_bytes(),
        &wrong,
        T,
    )
    .unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
    let shown = format!("{err} {err:?}");
    assert!(
        !shown.contains("2f9b") && !shown.contains(GUIDE_SIG),
        "{shown}"
    );
    // An empty secret would let anyone sign: refused before anything is checked.
    let empty = SecretString::from("");
    let err = verify(
        &headers(TS, NONCE, GUIDE_SIG),
        GUIDE_BODY.as_bytes(),
        &empty,
        T,
    )
    .unwrap_err();
    assert_eq!(
        (err.clone(), err.rejection()),
        (WebhookError::NoSecret, Rejection::Unavailable)
    );
}

#[test]
fn a_stale_timestamp_is_refused_either_way_and_the_edge_is_accepted() {
    assert!(check(GUIDE_BODY, GUIDE_SIG, T + TIMESTAMP_WINDOW_SECS).is_ok());
    assert!(check(GUIDE_BODY, GUIDE_SIG, T - TIMESTAMP_WINDOW_SECS).is_ok());
    let late = check(GUIDE_BODY, GUIDE_SIG, T + TIMESTAMP_WINDOW_SECS + 1).unwrap_err();
    assert_eq!(
        late,
        WebhookError::StaleTimestamp {
            timestamp: T,
            now: T + 301,
            window: 300
        }
    );
    assert!(late.to_string().contains("301 s behind"), "{late}");
    let early = check(GUIDE_BODY, GUIDE_SIG, T - 3600).unwrap_err();
    assert!(early.to_string().contains("3600 s ahead of"), "{early}");
    assert_eq!(early.rejection(), Rejection::Unauthenticated);
}

#[test]
fn the_timestamp_is_signed_as_sent_and_may_be_in_milliseconds() {
    let s = secret();
    let ms = "1764547200123";
    let signature = sign(
        Canonicalisation::FormEncoded,
        ms,
        NONCE,
        GUIDE_BODY.as_bytes(),
        &s,
    )
    .unwrap();
    let event = verify(
        &headers(ms, NONCE, &signature),
        GUIDE_BODY.as_bytes(),
        &s,
        T + 1,
    )
    .unwrap();
    assert_eq!(event.delivery.timestamp, T);
    // The seconds form of the same instant is another signed string.
    let err = verify(
        &headers(TS, NONCE, &signature),
        GUIDE_BODY.as_bytes(),
        &s,
        T,
    )
    .unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
}

#[test]
fn a_replayed_nonce_is_refused_by_the_store() {
    let mut nonces = NonceStore::default();
    let event = check(GUIDE_BODY, GUIDE_SIG, T + 1).unwrap();
    nonces
        .check(&event.delivery.nonce, event.delivery.timestamp, T + 1)
        .unwrap();
    let again = check(GUIDE_BODY, GUIDE_SIG, T + 2).unwrap();
    let err = nonces
        .check(&again.delivery.nonce, again.delivery.timestamp, T + 2)
        .unwrap_err();
    assert_eq!(err.rejection().http_status(), 409);
    // The same event with a fresh nonce is a new delivery; its dedup key says it is the same event.
    let s = secret();
    let nonce = "Zm9yZXZlcnlvdW5nMTIzNDU2Nzg5MGFi";
    let signature = sign(
        Canonicalisation::FormEncoded,
        TS,
        nonce,
        GUIDE_BODY.as_bytes(),
        &s,
    )
    .unwrap();
    let retry = verify(
        &headers(TS, nonce, &signature),
        GUIDE_BODY.as_bytes(),
        &s,
        T + 3,
    )
    .unwrap();
    nonces
        .check(&retry.delivery.nonce, retry.delivery.timestamp, T + 3)
        .unwrap();
    assert_eq!(retry.dedup_key(), event.dedup_key());
}

#[test]
fn the_signature_covers_the_nonce() {
    let other = "Qm9wYXlsb2FkTm9uY2UxMjM0NTY3ODlb";
    let err = verify(
        &headers(TS, other, GUIDE_SIG),
        GUIDE_BODY.as_bytes(),
        &secret(),
        T,
    )
    .unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
}

#[test]
fn headers_and_encodings_that_cannot_be_a_signature() {
    let body = GUIDE_BODY.as_bytes();
    let s = secret();
    let missing = Headers::from_pairs([
        ("Webhook-Timestamp", TS.as_bytes()),
        ("Webhook-Signature", GUIDE_SIG.as_bytes()),
    ]);
    assert_eq!(
        verify(&missing, body, &s, T).unwrap_err(),
        WebhookError::MissingHeader("Webhook-Nonce")
    );
    for bad in ["", "not base64!", "aGVsbG8=", &format!("{GUIDE_SIG}AAAA")] {
        let err = verify(&headers(TS, NONCE, bad), body, &s, T).unwrap_err();
        assert_eq!(err, WebhookError::SignatureEncoding, "{bad:?}");
    }
    // Padding is optional.
    assert!(check(GUIDE_BODY, GUIDE_SIG.trim_end_matches('='), T).is_ok());
    let huge = vec![b' '; pixfuse_webhook::MAX_BODY_BYTES + 1];
    let err = verify(&headers(TS, NONCE, GUIDE_SIG), &huge, &s, T).unwrap_err();
    assert_eq!(err.rejection().http_status(), 413);
}

#[test]
fn an_authentic_body_that_is_not_a_callback_is_malformed() {
    let s = secret();
    let body = br#"{"id":"abc","status":1}"#;
    let signature = sign(Canonicalisation::PercentEncodedBody, TS, NONCE, body, &s).unwrap();
    let err = verify(&headers(TS, NONCE, &signature), body, &s, T).unwrap_err();
    assert_eq!(err.rejection().http_status(), 400);
    // Not even JSON: only the raw reading exists, and an unsigned one is unauthenticated.
    let err = verify(&headers(TS, NONCE, GUIDE_SIG), b"<html>", &s, T).unwrap_err();
    assert_eq!(err, WebhookError::SignatureMismatch);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the body and the reading, a signed callback verifies, and flipping any one
        /// byte of the body makes it fail.
        #[test]
        fn signed_verifies_and_any_flipped_byte_fails(
            id in any::<u64>(),
            url in "[ -~]{0,40}",
            as_string in any::<bool>(),
            kit in any::<bool>(),
            flip in any::<prop::sample::Index>(),
        ) {
            let id_json = if as_string { format!("\"{id}\"") } else { id.to_string() };
            let body = serde_json::json!({ "url": url }).to_string();
            let body = format!("{{\"id\":{id_json},\"status\":1,{}", &body[1..]);
            let how = if kit { Canonicalisation::PercentEncodedBody } else { Canonicalisation::FormEncoded };
            let s = secret();
            let signature = sign(how, TS, NONCE, body.as_bytes(), &s).unwrap();
            let event = verify(&headers(TS, NONCE, &signature), body.as_bytes(), &s, T).unwrap();
            prop_assert_eq!(event.video_id, id);
            let mut bytes = body.into_bytes();
            let at = flip.index(bytes.len());
            bytes[at] ^= 0x01;
            let flipped = verify(&headers(TS, NONCE, &signature), &bytes, &s, T);
            prop_assert!(flipped.is_err());
        }
    }
}
