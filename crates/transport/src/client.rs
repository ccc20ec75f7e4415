//! The [`Transport`] handle and its request loop: send, read the envelope, ask core what a
//! failure means, sleep, send again with the same trace id.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use pixfuse_core::retry::{self, Attempted, Failure, GiveUpReason, Step, TransportFailure};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Url};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use crate::config::{AuthStyle, TransportConfig};
use crate::envelope::{self, Decoded};
use crate::error::{CallInfo, Endpoint, TransportError};

pub(crate) const TRACE_HEADER: &str = "ai-trace-id";
const API_KEY_HEADER: &str = "api-key";
const EXCERPT_CHARS: usize = 200;
/// API answers are small; anything bigger is not an envelope and is cut for the excerpt.
const MAX_API_BODY: usize = 1 << 20;

/// The HTTP transport. Cheap to clone (shares the connection pool).
#[derive(Clone)]
pub struct Transport {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: TransportConfig,
    pub(crate) http: Client,
    pub(crate) base: String,
    auth: (HeaderName, HeaderValue),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// The loopback rule: plain http only where nobody else can listen in.
pub(crate) fn check_scheme(url: &Url, what: &str) -> Result<(), TransportError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(TransportError::Config(format!(
            "{what} {url} uses plain http to a non-loopback host; use https (plain http is only allowed for localhost)"
        ))),
        other => Err(TransportError::Config(format!(
            "{what} {url} has scheme {other:?}; use an https URL"
        ))),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

impl Transport {
    /// Checks the configuration and builds the client (or adopts the injected one).
    pub fn new(config: TransportConfig) -> Result<Self, TransportError> {
        let base_url = Url::parse(config.base_url.trim()).map_err(|e| {
            TransportError::Config(format!(
                "base URL {:?} is not a URL ({e}); use e.g. {}",
                config.base_url,
                config.provider.default_base_url()
            ))
        })?;
        check_scheme(&base_url, "base URL")?;
        let key = config.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(TransportError::Config(
                "the API key is empty; set it to the key from your PixVerse (or relay) account"
                    .into(),
            ));
        }
        let auth = match config.auth_style {
            AuthStyle::ApiKeyHeader => (
                HeaderName::from_static(API_KEY_HEADER),
                HeaderValue::from_str(key),
            ),
            AuthStyle::Bearer => (
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {key}")),
            ),
        };
        let (name, value) = (auth.0, auth.1.map_err(|_| {
            TransportError::Config(
                "the API key contains characters an HTTP header cannot carry (a line break?); copy it again".into(),
            )
        })?);
        let mut value = value;
        value.set_sensitive(true);
        let http = match &config.http_client {
            Some(client) => client.clone(),
            None => build_client(&config, &base_url)?,
        };
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        Ok(Transport {
            inner: Arc::new(Inner {
                config,
                http,
                base,
                auth: (name, value),
            }),
        })
    }

    /// The configuration this transport runs with.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// Sends one logical call, retrying as core decides, always with `trace_id`.
    /// `build` makes a fresh request per attempt (a streamed upload body cannot be replayed).
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        trace_id: Uuid,
        timeout: Duration,
        build: impl Fn(&Client) -> Result<RequestBuilder, TransportError>,
    ) -> Result<T, TransportError> {
        let policy = self.inner.config.retry;
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let span = tracing::info_span!(
                "pixfuse.http",
                method = endpoint.method,
                path = endpoint.path,
                trace_id = %trace_id,
                attempt = attempts,
                status = tracing::field::Empty,
                latency_ms = tracing::field::Empty,
            );
            let request = build(&self.inner.http)?
                .header(TRACE_HEADER, trace_id.to_string())
                .header(self.inner.auth.0.clone(), self.inner.auth.1.clone())
                .timeout(timeout);
            let outcome = attempt::<T>(request).instrument(span.clone()).await;
            let failed = match outcome {
                Ok(value) => return Ok(value),
                Err(failed) => failed,
            };
            let verdict = retry::classify(&failed.as_failure());
            let step = retry::next_step(
                &policy,
                &verdict,
                &Attempted {
                    attempts,
                    elapsed: started.elapsed(),
                    retry_after: failed.retry_after,
                    jitter: jitter(),
                },
            );
            let gave_up = match step {
                Step::RetryAfter(delay) => {
                    span.in_scope(|| {
                        tracing::warn!(
                            class = verdict.class.as_str(),
                            err_code = failed.err_code,
                            delay_ms = delay.as_millis() as u64,
                            "retrying with the same trace id"
                        )
                    });
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Step::GiveUp(reason) => reason,
            };
            let call = CallInfo {
                endpoint,
                trace_id,
                attempts,
                gave_up,
            };
            let mut failed = failed;
            // A relay that echoes request headers into its message must not leak the key.
            let key = self.inner.config.api_key.expose_secret().trim();
            for text in [
                failed.err_msg.as_mut(),
                failed.odd_body.as_mut().map(|b| &mut b.1),
            ]
            .into_iter()
            .flatten()
            {
                if text.contains(key) {
                    *text = text.replace(key, "[redacted]");
                }
            }
            return Err(failed.into_error(verdict, call));
        }
    }
}

fn build_client(config: &TransportConfig, base: &Url) -> Result<Client, TransportError> {
    let api_origin = base.origin();
    Client::builder()
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("pixfuse/", env!("CARGO_PKG_VERSION")))
        // reqwest strips `Authorization` on cross-host redirects but not `API-KEY`: never
        // follow a redirect away from the API's origin (result downloads carry no key and may
        // be redirected freely).
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            let first = attempt.previous().first().map(Url::origin);
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else if first.as_ref() == Some(&api_origin) && attempt.url().origin() != api_origin {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .build()
        .map_err(|e| TransportError::Config(format!("cannot build the HTTP client: {e}")))
}

/// A jitter value in [0, 1) for core's schedules.
pub(crate) fn jitter() -> f64 {
    let (bits, _) = Uuid::new_v4().as_u64_pair();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// One failed attempt, before core has judged it.
struct Failed {
    status: u16,
    err_code: Option<i64>,
    err_msg: Option<String>,
    retry_after: Option<Duration>,
    network: Option<(TransportFailure, reqwest::Error)>,
    /// A body that is not an envelope: what it was and its start.
    odd_body: Option<(&'static str, String)>,
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
        }
    }

    fn as_failure(&self) -> Failure<'_> {
        if let Some((kind, _)) = &self.network {
            return Failure::Transport(*kind);
        }
        if self.odd_body.is_some() && (200..300).contains(&self.status) {
            return Failure::Transport(TransportFailure::BodyDecode);
        }
        Failure::Answer {
            status: self.status,
            err_code: self.err_code,
            err_msg: self.err_msg.as_deref(),
        }
    }

    fn into_error(self, verdict: retry::Verdict, call: CallInfo) -> TransportError {
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

async fn attempt<T: DeserializeOwned>(request: RequestBuilder) -> Result<T, Failed> {
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
