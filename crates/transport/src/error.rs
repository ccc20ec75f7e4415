//! The transport's one error type. Every variant says what happened and what to do about it.
//! None of them can contain the API key: it never leaves the auth header, and text a server
//! sends back (`ErrMsg`, body excerpts) has it removed, in any form, before it is kept — and
//! control characters with it. URLs in messages never show a query string.

use std::path::PathBuf;

use pixfuse_core::ErrorClass;
use pixfuse_core::endpoint::Endpoint;
use pixfuse_core::retry::{GiveUpReason, TransportFailure};
use uuid::Uuid;

/// What a failed call carries besides its kind: who, which try, and why it stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallInfo {
    /// The endpoint called.
    pub endpoint: Endpoint,
    /// The `Ai-trace-id` of the call (the same on every attempt).
    pub trace_id: Uuid,
    /// Attempts made.
    pub attempts: u32,
    /// Why the transport stopped retrying.
    pub gave_up: GiveUpReason,
    /// The base URL called (no query string), so messages name the server.
    pub server: String,
}

/// Everything that can go wrong in the transport.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The vendor answered with an error: a non-zero ErrCode (often on HTTP 200) or an HTTP
    /// error status.
    #[error("{}", api_sentence(*.class, *.status, *.err_code, .err_msg.as_deref(), .call))]
    Api {
        /// What kind of failure core's classifier makes of it.
        class: ErrorClass,
        /// The HTTP status.
        status: u16,
        /// The envelope's non-zero `ErrCode`, when the body had one.
        err_code: Option<i64>,
        /// The envelope's `ErrMsg` (key and control characters removed).
        err_msg: Option<String>,
        /// Whether trying again later may help.
        retryable: bool,
        /// Endpoint, trace id, attempts and why retries stopped.
        call: Box<CallInfo>,
    },
    /// The answer was not a PixVerse envelope (an HTML page from a proxy, a relay's `{}`).
    #[error("{}", odd_body_sentence(*.class, *.status, .what, .excerpt, .call))]
    UnexpectedBody {
        /// What kind of failure core's classifier makes of it.
        class: ErrorClass,
        /// The HTTP status.
        status: u16,
        /// What the body was instead (`not JSON`, …).
        what: &'static str,
        /// The first few hundred characters of the body.
        excerpt: String,
        /// Whether trying again later may help.
        retryable: bool,
        /// Endpoint, trace id, attempts and why retries stopped.
        call: Box<CallInfo>,
    },
    /// No answer: connection refused, timeout, reset.
    #[error("{}", network_sentence(*.failure, .call))]
    Network {
        /// How the last attempt failed below HTTP.
        failure: TransportFailure,
        /// Endpoint, trace id, attempts and why retries stopped.
        call: Box<CallInfo>,
        /// reqwest's error (without its URL), when the failure came from reqwest.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The deadline of the transport handle ([`crate::Transport::with_deadline`]) passed
    /// before the call (or download) finished, or before it could start.
    #[error("{}", timed_out_sentence(.what, *.attempts, .last.as_deref(), *.may_have_reached_server, *.trace_id))]
    TimedOut {
        /// The call (`POST /openapi/v2/video/fusion/generate`) or download (`download of …`).
        what: String,
        /// The call's trace id (none for downloads).
        trace_id: Option<Uuid>,
        /// Attempts (or download connections) made.
        attempts: u32,
        /// Whether a request went out that the server may have acted on.
        may_have_reached_server: bool,
        /// What the last attempt ran into, if one failed before time ran out.
        last: Option<String>,
    },
    /// The configuration cannot work.
    #[error("invalid transport configuration: {0}")]
    Config(String),
    /// A local image is not acceptable for upload.
    #[error("{path}: {problem}")]
    Image {
        /// The image.
        path: PathBuf,
        /// What is wrong with it, and the limit it breaks.
        problem: String,
    },
    /// A local file is not a video at all (or names none): refused before any upload.
    #[error("{path}: {problem}")]
    Video {
        /// The file (or URL).
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// A local file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done (`cannot read`, `cannot write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A download ended with the wrong content.
    #[error("download of {url} failed: {problem}")]
    Download {
        /// The download URL, without its query string.
        url: String,
        /// What was wrong with what arrived.
        problem: String,
    },
}

impl TransportError {
    /// The failure class from core's classifier (`None` for local problems).
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            TransportError::Api { class, .. } | TransportError::UnexpectedBody { class, .. } => {
                Some(*class)
            }
            TransportError::Network { .. }
            | TransportError::Download { .. }
            | TransportError::TimedOut { .. } => Some(ErrorClass::Transient),
            TransportError::Image { .. } | TransportError::Video { .. } => {
                Some(ErrorClass::InvalidRequest)
            }
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
        match self {
            TransportError::TimedOut { trace_id, .. } => *trace_id,
            _ => self.call().map(|c| c.trace_id),
        }
    }

    /// Whether the deadline cut the call short (rather than the server or network failing).
    pub fn is_timed_out(&self) -> bool {
        matches!(self, TransportError::TimedOut { .. })
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
            TransportError::Network { .. }
            | TransportError::Download { .. }
            | TransportError::TimedOut { .. } => true,
            _ => false,
        }
    }

    /// Whether a failed submit may nevertheless have created a job: the request may have
    /// reached the server. Resubmit with the same trace id to find out without paying twice.
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            TransportError::Network { failure, .. } => failure.may_have_reached_server(),
            TransportError::TimedOut {
                may_have_reached_server,
                ..
            } => *may_have_reached_server,
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
        (GiveUpReason::OutOfTime, n) => format!(" after {n} attempts (out of time)"),
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
        let said = err_msg
            .filter(|m| adds_to(m, info.meaning))
            .map(|m| format!(" (the server said: {m:?})"))
            .unwrap_or_default();
        return format!(
            "{} (ErrCode {}){after}: {}{said}",
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
        (ErrorClass::NotFound, None) if status == 404 => format!(
            "{} at {} answered HTTP 404 (not found): {}, and the id",
            call.endpoint,
            call.server,
            prefix_advice(call)
        ),
        (ErrorClass::NotFound, None) => format!(
            "{} at {} answered HTTP {status} (not found): check the id and the base URL",
            call.endpoint, call.server
        ),
        (_, None) => format!(
            "{} was refused with HTTP {status}{}: check the request and the base URL",
            call.endpoint,
            msg.map(|m| format!(" ({m})")).unwrap_or_default()
        ),
    }
}

/// Whether the server's message says more than pixfuse's own words for the code: some word of
/// it (of three letters or more) is not among ours, allowing for endings (`param` is covered
/// by `parameter`, `concurrency` by `concurrent`). "success" and empty messages say nothing.
fn adds_to(server: &str, ours: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_lowercase)
            .collect()
    };
    let ours = words(ours);
    let covered = |w: &String| {
        ours.iter().any(|o| {
            let common = w.chars().zip(o.chars()).take_while(|(a, b)| a == b).count();
            common >= w.chars().count().min(o.chars().count()).min(6)
        })
    };
    let said = words(server);
    !said.is_empty() && said != ["success"] && !said.iter().all(covered)
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
    if status == 404 {
        return format!(
            "{} at {} answered HTTP 404 (not found, {what}){after}: {}",
            call.endpoint,
            call.server,
            prefix_advice(call)
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

/// A 404 on an API path mostly means the base URL's path is off (a relay's prefix missing or
/// doubled): the advice shows the URL the request went to.
fn prefix_advice(call: &CallInfo) -> String {
    format!(
        "check the base URL's path prefix (the request went to {}{}; the API's paths start \
         with /openapi/ right under the base URL)",
        call.server.trim_end_matches('/'),
        call.endpoint.path
    )
}

fn auth_sentence(status: u16, err_code: Option<i64>, after: &str) -> String {
    let code = err_code
        .map(|c| format!(", ErrCode {c}"))
        .unwrap_or_default();
    format!(
        "the API key was rejected (HTTP {status}{code}){after}: check the key and that it belongs to the provider you are using ({})",
        crate::Provider::names()
    )
}

fn network_sentence(failure: TransportFailure, call: &CallInfo) -> String {
    let after = after(call);
    let what = match failure {
        TransportFailure::Connect => "could not connect",
        TransportFailure::TimeoutBeforeSend => "timed out before the request was sent",
        TransportFailure::LostAfterSend => {
            "got no answer (timeout or dropped connection) once the request was sent"
        }
        TransportFailure::BodyDecode => "could not read the answer",
        TransportFailure::TruncatedBody => "got an answer cut short",
        _ => "failed",
    };
    let advice = if failure.may_have_reached_server() && call.endpoint.method == "POST" {
        format!(
            "the server may have received it; retry with the same trace id {} so an existing job is returned instead of billed again",
            call.trace_id
        )
    } else {
        "check your network connection and the base URL, then try again".to_owned()
    };
    format!(
        "{} at {} {what}{after}: {advice}",
        call.endpoint, call.server
    )
}

fn timed_out_sentence(
    what: &str,
    attempts: u32,
    last: Option<&str>,
    reached: bool,
    trace_id: Option<Uuid>,
) -> String {
    let tries = match attempts {
        0 => " before it could start".to_owned(),
        1 => String::new(),
        n => format!(" after {n} attempts"),
    };
    let last = last
        .map(|l| format!(" (last problem: {l})"))
        .unwrap_or_default();
    let advice = match trace_id {
        Some(trace) if reached && what.starts_with("POST") => format!(
            "; the server may have received it: send it again with the same trace id {trace} so an existing job is returned instead of billed again"
        ),
        _ => String::new(),
    };
    format!("time ran out for {what}{tries}{last}{advice}")
}
