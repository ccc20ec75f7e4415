//! One attempt of an API call: send, read the (capped) body, decode the envelope, and on
//! failure keep what core needs to judge it.

use std::time::{Duration, Instant, SystemTime};

use pixfuse_core::retry::{self, Failure, GiveUpReason, TransportFailure};
use reqwest::RequestBuilder;
use reqwest::header::RETRY_AFTER;
use serde::de::DeserializeOwned;

use crate::envelope::{self, Decoded};
use crate::error::{CallInfo, TransportError};

const EXCERPT_CHARS: usize = 200;
/// API answers are small; anything bigger is not an envelope and is cut for the excerpt.
const MAX_API_BODY: usize = 1 << 20;

/// One failed attempt, before core has judged it.
pub(crate) struct Failed {
    pub(crate) status: u16,
    pub(crate) err_code: Option<i64>,
    pub(crate) err_msg: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    network: Option<(TransportFailure, reqwest::Error)>,
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

    pub(crate) fn as_failure(&self) -> Failure<'_> {
        if let Some((kind, _)) = &self.network {
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
        if let Some((failure, source)) = self.network {
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

pub(crate) async fn attempt<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, Failed> {
    let started = Instant::now();
    let span = tracing::Span::current();
    let response = request.send().await.map_err(|e| {
        tracing::debug!(error = %e, "no answer");
        Failed {
            network: Some((network_failure(&e), e)),
            ..Failed::answer(0)
        }
    })?;
    let status = response.status().as_u16();
    span.record("status", status);
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
    let body = read_capped(response).await.map_err(|e| Failed {
        network: Some((network_failure(&e), e)),
        ..Failed::answer(status)
    })?;
    span.record("latency_ms", started.elapsed().as_millis() as u64);
    let mut failed = Failed {
        retry_after,
        ..Failed::answer(status)
    };
    match envelope::decode::<T>(&body) {
        Decoded::Ok(value) if (200..300).contains(&status) => {
            tracing::debug!("ok");
            return Ok(value);
        }
        Decoded::Ok(_) => {}
        Decoded::Err { code, msg } => {
            failed.err_code = Some(code);
            failed.err_msg = msg;
        }
        Decoded::NoEnvelope => {
            failed.odd_body = Some((
                "JSON without ErrCode",
                envelope::excerpt(&body, EXCERPT_CHARS),
            ))
        }
        Decoded::BadResp => {
            failed.odd_body = Some((
                "ErrCode 0 without the expected Resp",
                envelope::excerpt(&body, EXCERPT_CHARS),
            ))
        }
        // An error status with no body at all (a bare 429 or 503) says all it has to say.
        Decoded::NotJson if !(200..300).contains(&status) && body.trim_ascii().is_empty() => {}
        Decoded::NotJson => {
            failed.odd_body = Some(("not JSON", envelope::excerpt(&body, EXCERPT_CHARS)))
        }
        Decoded::Truncated => {
            failed.truncated = true;
            failed.odd_body = Some(("truncated JSON", envelope::excerpt(&body, EXCERPT_CHARS)))
        }
    }
    tracing::debug!(err_code = failed.err_code, "error answer");
    Err(failed)
}

async fn read_capped(mut response: reqwest::Response) -> Result<bytes::Bytes, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|n| n <= MAX_API_BODY as u64)
    {
        return response.bytes().await;
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(1024, |n| n.min(MAX_API_BODY as u64) as usize),
    );
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_API_BODY - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_API_BODY {
            break;
        }
    }
    Ok(body.into())
}
