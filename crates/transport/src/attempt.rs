//! One attempt of an API call: send, read the (capped) body, decode the envelope, and on
//! failure keep what core needs to judge it.

use std::time::{Duration, Instant, SystemTime};

use pixfuse_core::retry::{self, Failure, GiveUpReason, TransportFailure};
use pixfuse_core::text::{Redactor, sanitize};
use reqwest::RequestBuilder;
use reqwest::header::RETRY_AFTER;
use serde::de::DeserializeOwned;

use crate::envelope::{self, Decoded};
use crate::error::{CallInfo, TransportError};

/// How an attempt reads its answer.
pub(crate) struct Reading<'a> {
    /// Applied to the whole body before anything is cut from it.
    pub(crate) redactor: &'a Redactor,
    /// Longest silence while the body arrives.
    pub(crate) idle: Duration,
    /// Where the answer's `Date` header goes.
    pub(crate) server_clock: &'a std::sync::Mutex<Option<crate::client::ServerClock>>,
    /// Where the answer's body goes (key removed, cut to an excerpt) when a
    /// [`crate::CallObserver`] wants it.
    pub(crate) body: Option<&'a std::sync::Mutex<Option<String>>>,
}

const EXCERPT_CHARS: usize = 200;
/// How much of a body a request log shows (`-vv`): API answers are a few hundred bytes.
const LOGGED_BODY_CHARS: usize = 4000;
/// API answers are small; anything bigger is not an envelope and is cut for the excerpt.
const MAX_API_BODY: usize = 1 << 20;

/// One failed attempt, before core has judged it.
pub(crate) struct Failed {
    pub(crate) status: u16,
    pub(crate) err_code: Option<i64>,
    pub(crate) err_msg: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    /// No usable answer: what kind of failure, and reqwest's error when it had one.
    network: Option<(TransportFailure, Option<reqwest::Error>, String)>,
    /// A body that is not an envelope: what it was and its start.
    pub(crate) odd_body: Option<(&'static str, String)>,
    /// The body was JSON cut short, not a different kind of answer.
    truncated: bool,
}

impl Failed {
    fn answer(status: u16) -> Self {
        Failed {
            status,
            err_code: None,
            err_msg: None,
            retry_after: None,
            network: None,
            odd_body: None,
            truncated: false,
        }
    }

    /// A timeout or a silence once the request was on its way.
    pub(crate) fn lost(why: &str) -> Self {
        Failed {
            network: Some((TransportFailure::LostAfterSend, None, why.to_owned())),
            ..Failed::answer(0)
        }
    }

    fn network(status: u16, e: reqwest::Error) -> Self {
        // Its URL is the API's (already in the message as the endpoint) and could carry
        // credentials in a base URL's userinfo: keep it out.
        let e = e.without_url();
        tracing::debug!(error = %e, "no answer");
        Failed {
            network: Some((network_failure(&e), Some(e), String::new())),
            ..Failed::answer(status)
        }
    }

    pub(crate) fn may_have_reached_server(&self) -> bool {
        match self.as_failure() {
            Failure::Transport(t) => t.may_have_reached_server(),
            Failure::Answer { .. } => true,
        }
    }

    /// A short account of what happened, for a call the deadline cut short.
    pub(crate) fn summary(&self) -> String {
        if let Some((failure, source, why)) = &self.network {
            return match (source, why.is_empty()) {
                (_, false) => why.clone(),
                (Some(e), true) => e.to_string(),
                (None, true) => format!("{failure:?}"),
            };
        }
        let mut text = format!("HTTP {}", self.status);
        if let Some(code) = self.err_code {
            text.push_str(&format!(", ErrCode {code}"));
        }
        if let Some(msg) = self.err_msg.as_deref().filter(|m| !m.trim().is_empty()) {
            text.push_str(&format!(" ({msg})"));
        }
        if let Some((what, excerpt)) = &self.odd_body {
            text.push_str(&format!(", {what}: {excerpt:?}"));
        }
        text
    }

    pub(crate) fn as_failure(&self) -> Failure<'_> {
        if let Some((kind, _, _)) = &self.network {
            return Failure::Transport(*kind);
        }
        if self.odd_body.is_some() && (200..300).contains(&self.status) {
            let kind = if self.truncated {
                TransportFailure::TruncatedBody
            } else {
                TransportFailure::BodyDecode
            };
            return Failure::Transport(kind);
        }
        Failure::Answer {
            status: self.status,
            err_code: self.err_code,
            err_msg: self.err_msg.as_deref(),
        }
    }

    pub(crate) fn into_error(self, verdict: retry::Verdict, call: CallInfo) -> TransportError {
        // Boxed: the call's details would make every `Result<_, TransportError>` large.
        let call = Box::new(call);
        if let Some((failure, source, _)) = self.network {
            return TransportError::Network {
                failure,
                call,
                source,
            };
        }
        match self.odd_body {
            Some((what, excerpt)) if self.err_code.is_none() => TransportError::UnexpectedBody {
                class: verdict.class,
                status: self.status,
                what,
                excerpt,
                retryable: verdict.is_retryable() && call.gave_up != GiveUpReason::NotRetryable,
                call,
            },
            _ => TransportError::Api {
                class: verdict.class,
                status: self.status,
                err_code: self.err_code,
                err_msg: self.err_msg,
                retryable: verdict.is_retryable() && call.gave_up != GiveUpReason::NotRetryable,
                call,
            },
        }
    }
}

pub(crate) fn network_failure(e: &reqwest::Error) -> TransportFailure {
    if e.is_connect() {
        if e.is_timeout() {
            TransportFailure::TimeoutBeforeSend
        } else {
            TransportFailure::Connect
        }
    } else if e.is_builder() {
        // Nothing was sent. (Our URLs are checked up front, so this should not happen.)
        TransportFailure::Connect
    } else {
        // A timeout or a reset once connected: the request may have been received.
        TransportFailure::LostAfterSend
    }
}

/// One attempt: the decoded answer and its HTTP status, or what went wrong.
pub(crate) async fn attempt<T: DeserializeOwned>(
    request: RequestBuilder,
    read: &Reading<'_>,
) -> Result<(T, u16), Failed> {
    let started = Instant::now();
    let span = tracing::Span::current();
    let response = request.send().await.map_err(|e| Failed::network(0, e))?;
    let status = response.status().as_u16();
    span.record("status", status);
    if let Some(server) = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
    {
        let clock = crate::client::ServerClock {
            server,
            local: SystemTime::now(),
        };
        *read
            .server_clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(clock);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
    let body = match read_capped(response, read.idle).await {
        Ok(body) => body,
        Err(Cut::Reqwest(e)) => return Err(Failed::network(status, e)),
        Err(Cut::Silent) => {
            return Err(Failed::lost(&format!(
                "the answer stopped arriving (no data for {} s)",
                read.idle.as_secs_f64()
            )));
        }
    };
    span.record("latency_ms", started.elapsed().as_millis() as u64);
    if let Some(slot) = read.body {
        let clean = sanitize(&read.redactor.redact(&String::from_utf8_lossy(&body))).into_owned();
        *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(envelope::excerpt(clean.as_bytes(), LOGGED_BODY_CHARS));
    }
    let mut failed = Failed {
        retry_after,
        ..Failed::answer(status)
    };
    // The key goes before anything is cut from the body: a cut can leave a fragment that no
    // longer matches.
    let excerpt = |body: &[u8]| {
        let clean = sanitize(&read.redactor.redact(&String::from_utf8_lossy(body))).into_owned();
        envelope::excerpt(clean.as_bytes(), EXCERPT_CHARS)
    };
    let clean = |text: &str| sanitize(&read.redactor.redact(text)).into_owned();
    match envelope::decode::<T>(&body, &clean) {
        Decoded::Ok(value) if (200..300).contains(&status) => {
            tracing::debug!("ok");
            return Ok((value, status));
        }
        Decoded::Ok(_) => {}
        Decoded::Err { code, msg } => {
            failed.err_code = Some(code);
            failed.err_msg = msg.map(|m| sanitize(&read.redactor.redact(&m)).into_owned());
        }
        Decoded::NoEnvelope => failed.odd_body = Some(("JSON without ErrCode", excerpt(&body))),
        Decoded::BadResp(problem) => {
            tracing::debug!(%problem, "unusable Resp");
            failed.odd_body = Some(("ErrCode 0 without the expected Resp", excerpt(&body)))
        }
        // An error status with no body at all (a bare 429 or 503) says all it has to say.
        Decoded::NotJson if !(200..300).contains(&status) && body.trim_ascii().is_empty() => {}
        Decoded::NotJson => failed.odd_body = Some(("not JSON", excerpt(&body))),
        Decoded::Truncated => {
            failed.truncated = true;
            failed.odd_body = Some(("truncated JSON", excerpt(&body)))
        }
    }
    tracing::debug!(err_code = failed.err_code, "error answer");
    Err(failed)
}

/// Why reading an answer's body stopped early.
enum Cut {
    Reqwest(reqwest::Error),
    /// Nothing arrived for the idle limit.
    Silent,
}

/// The body, at most [`MAX_API_BODY`] bytes of it, with a limit on each silence.
async fn read_capped(mut response: reqwest::Response, idle: Duration) -> Result<bytes::Bytes, Cut> {
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(1024, |n| n.min(MAX_API_BODY as u64) as usize),
    );
    loop {
        let chunk = match tokio::time::timeout(idle, response.chunk()).await {
            Err(_) => return Err(Cut::Silent),
            Ok(Err(e)) => return Err(Cut::Reqwest(e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => chunk,
        };
        let room = MAX_API_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_API_BODY {
            break;
        }
    }
    Ok(body.into())
}
