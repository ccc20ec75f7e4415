//! The transport's one error type. Every variant says what happened and what to do about it;
//! none of them can contain the API key (it never leaves the auth header).

use std::path::PathBuf;

use pixfuse_core::ErrorClass;
use pixfuse_core::retry::{GiveUpReason, TransportFailure};
use uuid::Uuid;

/// Which call failed, for messages (`POST /openapi/v2/video/fusion/generate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// What a failed call carries besides its kind: who, which try, and why it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallInfo {
    pub endpoint: Endpoint,
    /// The `Ai-trace-id` of the call (the same on every attempt).
    pub trace_id: Uuid,
    /// Attempts made.
    pub attempts: u32,
    /// Why the transport stopped retrying.
    pub gave_up: GiveUpReason,
}

/// Everything that can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The vendor answered with an error: a non-zero ErrCode (often on HTTP 200) or an HTTP
    /// error status.
    #[error("{}", api_sentence(*.class, *.status, *.err_code, .err_msg.as_deref(), .call))]
    Api {
        class: ErrorClass,
        status: u16,
        err_code: Option<i64>,
        err_msg: Option<String>,
        retryable: bool,
        call: CallInfo,
    },
    /// The answer was not a PixVerse envelope (an HTML page from a proxy, a relay's `{}`).
    #[error("{}", odd_body_sentence(*.class, *.status, .what, .excerpt, .call))]
    UnexpectedBody {
        class: ErrorClass,
        status: u16,
        what: &'static str,
        /// The first few hundred characters of the body.
        excerpt: String,
        retryable: bool,
        call: CallInfo,
    },
    /// No answer: connection refused, timeout, reset.
    #[error("{}", network_sentence(*.failure, .call))]
    Network {
        failure: TransportFailure,
        call: CallInfo,
        #[source]
        source: reqwest::Error,
    },
    /// The configuration cannot work.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// A local image is not acceptable for upload.
    #[error("{path}: {problem}")]
    Image { path: PathBuf, problem: String },
    /// A local file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A download ended with the wrong content.
    #[error("download of {url} failed: {problem}")]
    Download { url: String, problem: String },
}

impl TransportError {
    /// The failure class from core's classifier (`None` for local problems).
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            TransportError::Api { class, .. } | TransportError::UnexpectedBody { class, .. } => {
                Some(*class)
            }
            TransportError::Network { .. } | TransportError::Download { .. } => {
                Some(ErrorClass::Transient)
            }
            TransportError::Image { .. } => Some(ErrorClass::InvalidRequest),
            TransportError::Config(_) | TransportError::Io { .. } => None,
        }
    }

    /// HTTP status of the answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            TransportError::Api { status, .. } | TransportError::UnexpectedBody { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The vendor's ErrCode, when there was one.
    pub fn err_code(&self) -> Option<i64> {
        match self {
            TransportError::Api { err_code, .. } => *err_code,
            _ => None,
        }
    }

    /// The vendor's ErrMsg, when there was one.
    pub fn err_msg(&self) -> Option<&str> {
        match self {
            TransportError::Api { err_msg, .. } => err_msg.as_deref(),
            _ => None,
        }
    }

    /// The trace id of the failed call (for a submit: the one to reuse when trying again).
    pub fn trace_id(&self) -> Option<Uuid> {
        self.call().map(|c| c.trace_id)
    }

    /// Endpoint, trace id, attempts and the reason retries stopped.
    pub fn call(&self) -> Option<&CallInfo> {
        match self {
            TransportError::Api { call, .. }
            | TransportError::UnexpectedBody { call, .. }
            | TransportError::Network { call, .. } => Some(call),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed (the transport already retried
    /// as far as its policy allows).
    pub fn is_retryable(&self) -> bool {
        match self {
            TransportError::Api { retryable, .. }
            | TransportError::UnexpectedBody { retryable, .. } => *retryable,
            TransportError::Network { .. } | TransportError::Download { .. } => true,
            _ => false,
        }
    }

    /// Whether a failed submit may nevertheless have created a job: the request may have
    /// reached the server. Resubmit with the same trace id to find out without paying twice.
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            TransportError::Network { failure, .. } => failure.may_have_reached_server(),
            TransportError::UnexpectedBody { status, .. } => {
                *status >= 500 || (200..300).contains(status)
            }
            // A definite ErrCode is a definite refusal; a bare 5xx is ambiguous.
            TransportError::Api {
                status, err_code, ..
            } => *status >= 500 && err_code.is_none(),
            _ => false,
        }
    }
}

fn after(call: &CallInfo) -> String {
    match (call.gave_up, call.attempts) {
        (GiveUpReason::NotRetryable, _) | (_, 0 | 1) => String::new(),
        (GiveUpReason::AttemptsExhausted, n) => format!(" after {n} attempts"),
        (GiveUpReason::DeadlineReached, n) => {
            format!(" after {n} attempts (retry deadline reached)")
        }
    }
}

fn api_sentence(
    class: ErrorClass,
    status: u16,
    err_code: Option<i64>,
    err_msg: Option<&str>,
    call: &CallInfo,
) -> String {
    let after = after(call);
    if let Some(info) = err_code.and_then(pixfuse_core::errcode::lookup) {
        if class == ErrorClass::Auth && info.class != ErrorClass::Auth {
            return auth_sentence(status, err_code, &after);
        }
        return format!(
            "{} (ErrCode {}){after}: {}",
            info.meaning, info.code, info.hint
        );
    }
    let msg = err_msg.filter(|m| !m.trim().is_empty());
    match (class, err_code) {
        (ErrorClass::Auth, _) => auth_sentence(status, err_code, &after),
        (_, Some(code)) => format!(
            "{} failed with ErrCode {code}{}{after}: this code is not in pixfuse's table; check the message and the vendor's error-code list",
            call.endpoint,
            msg.map(|m| format!(" ({m})")).unwrap_or_default()
        ),
        (ErrorClass::Concurrency, None) => format!(
            "rate limited by the server (HTTP {status}){after}: wait a minute or lower the number of parallel requests"
        ),
        (ErrorClass::Transient, None) => {
            format!("the server failed (HTTP {status}){after}: try again later")
        }
        (ErrorClass::NotFound, None) => format!(
            "{} answered HTTP {status} (not found): check the id and the base URL",
            call.endpoint
        ),
        (_, None) => format!(
            "{} was refused with HTTP {status}{}: check the request and the base URL",
            call.endpoint,
            msg.map(|m| format!(" ({m})")).unwrap_or_default()
        ),
    }
}

fn odd_body_sentence(
    class: ErrorClass,
    status: u16,
    what: &str,
    excerpt: &str,
    call: &CallInfo,
) -> String {
    let after = after(call);
    if class == ErrorClass::Auth {
        return format!(
            "{} (the answer was {what}: {excerpt:?})",
            auth_sentence(status, None, &after)
        );
    }
    let advice = if (200..300).contains(&status) {
        "check that the base URL points at the PixVerse API or a relay that passes its answers through"
    } else {
        "a proxy or the server is failing; try again later, and check the base URL if it persists"
    };
    format!(
        "unexpected answer to {} (HTTP {status}, {what}){after}: {excerpt:?}; {advice}",
        call.endpoint
    )
}

fn auth_sentence(status: u16, err_code: Option<i64>, after: &str) -> String {
    let code = err_code
        .map(|c| format!(", ErrCode {c}"))
        .unwrap_or_default();
    format!(
        "the API key was rejected (HTTP {status}{code}){after}: check the key and that it belongs to the provider you are using (pixverse or quickrouter)"
    )
}

fn network_sentence(failure: TransportFailure, call: &CallInfo) -> String {
    let after = after(call);
    let what = match failure {
        TransportFailure::Connect => "could not connect",
        TransportFailure::TimeoutBeforeSend => "timed out before the request was sent",
        TransportFailure::LostAfterSend => {
            "lost the connection or timed out after sending the request"
        }
        TransportFailure::BodyDecode => "could not read the answer",
        _ => "failed",
    };
    format!(
        "{} {what}{after}: check your network connection and the base URL, then try again",
        call.endpoint
    )
}
