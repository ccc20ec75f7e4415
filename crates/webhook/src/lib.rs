//! Verification of PixVerse's signed webhook callbacks, with no I/O.
//!
//! The vendor POSTs a JSON body with `Webhook-Timestamp`, `Webhook-Nonce` and
//! `Webhook-Signature` headers (fusion-api.md §9). The signature is the base64 HMAC-SHA256, under
//! the account's webhook secret, of `timestamp + "\n" + nonce + "\n" + payload`, where sources
//! disagree on the payload: the vendor guide form-encodes the JSON body (`key=value&…`), a
//! production kit percent-encodes the whole raw body. [`verify`] accepts either
//! ([`Canonicalisation`]), over the raw bytes before any JSON is trusted, compares in constant
//! time, refuses timestamps more than [`TIMESTAMP_WINDOW_SECS`] off, and only then reads the
//! event (`id` as a string or a number). Replays are caught by a nonce store — [`NonceStore`] in
//! memory, or a durable one that keeps each nonce until [`nonce_expiry`].
//!
//! ```
//! use pixfuse_webhook::{Canonicalisation, Headers, sign, verify};
//! use secrecy::SecretString;
//!
//! let secret = SecretString::from("whsec-demo");
//! let body = br#"{"id":"318000000000001","status":1,"url":"https://cdn.example/v.mp4"}"#;
//! let (ts, nonce) = ("1764547200", "0123456789abcdef0123456789abcdef");
//! let signature = sign(Canonicalisation::FormEncoded, ts, nonce, body, &secret).unwrap();
//! let headers = Headers::from_pairs([
//!     ("webhook-timestamp", ts.as_bytes()),
//!     ("webhook-nonce", nonce.as_bytes()),
//!     ("webhook-signature", signature.as_bytes()),
//! ]);
//! let event = verify(&headers, body, &secret, 1_764_547_230).unwrap();
//! assert_eq!((event.video_id, event.status.code()), (318_000_000_000_001, 1));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod canonical;
mod error;
mod event;
mod headers;
mod nonce;
mod verify;

pub use canonical::Canonicalisation;
pub use error::{Rejection, WebhookError};
pub use event::{Delivery, WebhookEvent};
pub use headers::Headers;
pub use nonce::{NonceStore, nonce_expiry};
pub use verify::{sign, verify};

/// A timestamp more than this many seconds from the receiver's clock is refused (either way).
pub const TIMESTAMP_WINDOW_SECS: u64 = 300;

/// The largest body a receiver accepts; a callback is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;
