//! Why a callback was refused. Every variant names the check that failed; none carries the
//! secret, the expected signature or the body.

/// A callback that did not pass, or a receiver that cannot judge one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The receiver was given an empty secret, under which anyone could sign.
    #[error("no webhook secret is configured (an empty secret would let anyone sign a callback)")]
    NoSecret,
    /// A signature header is absent (its name).
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    /// A signature header is there twice (its name).
    #[error("header {0} appears more than once")]
    RepeatedHeader(&'static str),
    /// A signature header cannot be what the vendor sends.
    #[error("header {name} is invalid: {reason}")]
    InvalidHeader {
        /// The header.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The timestamp is outside the window around the receiver's clock (a replay, or a clock
    /// that is off).
    #[error(
        "the timestamp {timestamp} is {} s {} the receiver's clock ({now}); at most {window} s either way is accepted",
        .timestamp.abs_diff(*.now),
        if .timestamp < .now { "behind" } else { "ahead of" }
    )]
    StaleTimestamp {
        /// The callback's time, Unix seconds.
        timestamp: u64,
        /// The receiver's time, Unix seconds.
        now: u64,
        /// The accepted difference, seconds.
        window: u64,
    },
    /// `Webhook-Signature` is not the base64 of 32 bytes.
    #[error("header Webhook-Signature is not the base64 of an HMAC-SHA256")]
    SignatureEncoding,
    /// The signature matches the body under neither canonicalisation: the body was altered, or
    /// it was signed with another secret.
    #[error(
        "the signature does not match the body under the configured secret (tried the form-encoded and the percent-encoded payload)"
    )]
    SignatureMismatch,
    /// This nonce was seen within the window: the same delivery was sent again.
    #[error("nonce {nonce} was already used (a replayed delivery)")]
    ReplayedNonce {
        /// The nonce seen before (not a secret: it travels in the clear).
        nonce: String,
    },
    /// The nonce store is full of nonces still in their window; refusing is safer than
    /// forgetting one.
    #[error("the nonce store is full ({capacity} live nonces); try again later")]
    NonceStoreFull {
        /// How many live nonces it holds.
        capacity: usize,
    },
    /// The body is over [`crate::MAX_BODY_BYTES`].
    #[error("the body is {size} bytes; at most {limit} are accepted")]
    BodyTooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The signature is good but the body is not a callback pixfuse understands.
    #[error("the callback body is malformed: {0}")]
    Malformed(String),
}

/// How a receiver answers each refusal (the HTTP status in brackets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// Not from the vendor, or too old: bad or missing signature headers, a stale timestamp (401).
    Unauthenticated,
    /// Authentic but already handled (409).
    Replayed,
    /// Authentic but not understood (400).
    Malformed,
    /// Over [`crate::MAX_BODY_BYTES`] (413).
    TooLarge,
    /// The receiver cannot judge callbacks now: no secret, or its nonce store is full (503).
    Unavailable,
}

impl WebhookError {
    /// How a receiver answers this refusal.
    pub fn rejection(&self) -> Rejection {
        match self {
            WebhookError::MissingHeader(_)
            | WebhookError::RepeatedHeader(_)
            | WebhookError::InvalidHeader { .. }
            | WebhookError::StaleTimestamp { .. }
            | WebhookError::SignatureEncoding
            | WebhookError::SignatureMismatch => Rejection::Unauthenticated,
            WebhookError::ReplayedNonce { .. } => Rejection::Replayed,
            WebhookError::Malformed(_) => Rejection::Malformed,
            WebhookError::BodyTooLarge { .. } => Rejection::TooLarge,
            WebhookError::NoSecret | WebhookError::NonceStoreFull { .. } => Rejection::Unavailable,
        }
    }
}

impl Rejection {
    /// The HTTP status a receiver answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Rejection::Unauthenticated => 401,
            Rejection::Replayed => 409,
            Rejection::Malformed => 400,
            Rejection::TooLarge => 413,
            Rejection::Unavailable => 503,
        }
    }
}
