//! The [`Transport`] handle and its request loop: make an attempt, ask core what a failure
//! means, sleep, send again with the same trace id.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pixfuse_core::endpoint::Endpoint;
use pixfuse_core::retry::{self, Attempted, GiveUpReason, Step};
use pixfuse_core::text::{Redactor, redact_url, sanitize};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder, Url};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use crate::attempt::{Failed, Reading, attempt};
use crate::config::CallNotice;
use crate::config::{AuthStyle, TransportConfig};
use crate::error::{CallInfo, TransportError};

pub(crate) const TRACE_HEADER: &str = "ai-trace-id";
const API_KEY_HEADER: &str = "api-key";

/// The HTTP transport. Cheap to clone (shares the connection pools).
#[derive(Clone)]
pub struct Transport {
    pub(crate) inner: Arc<Inner>,
    /// Every call made through this handle stops by then ([`Transport::with_deadline`]).
    deadline: Option<Instant>,
}

pub(crate) struct Inner {
    pub(crate) config: TransportConfig,
    /// For API requests (they carry the key).
    pub(crate) http: Client,
    /// For result downloads (keyless; redirects followed across hosts, each hop checked).
    pub(crate) downloads: Client,
    pub(crate) base: String,
    auth: (HeaderName, HeaderValue),
    /// Removes the key from anything a server sends back.
    pub(crate) redactor: Redactor,
    /// The last API answer's `Date` header, beside this machine's clock when it arrived.
    pub(crate) server_clock: std::sync::Mutex<Option<ServerClock>>,
}

/// A server's clock as its `Date` header stated it (whole seconds), and this machine's when the
/// answer arrived: how far apart they are (`pixfuse doctor`; webhook timestamps depend on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerClock {
    /// The time the server's `Date` header stated.
    pub server: std::time::SystemTime,
    /// This machine's clock when that answer arrived.
    pub local: std::time::SystemTime,
}

impl ServerClock {
    /// Seconds this machine is ahead of the server (negative: behind). The header has whole
    /// seconds, so a difference under one second is noise.
    pub fn skew_seconds(&self) -> f64 {
        match self.local.duration_since(self.server) {
            Ok(ahead) => ahead.as_secs_f64(),
            Err(behind) => -behind.duration().as_secs_f64(),
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.inner.config)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The loopback rule: plain http only where nobody else can listen in.
pub(crate) fn check_scheme(url: &Url, what: &str) -> Result<(), TransportError> {
    scheme_problem(url, what).map_or(Ok(()), |p| Err(TransportError::Config(p)))
}

fn scheme_problem(url: &Url, what: &str) -> Option<String> {
    let shown = redact_url(url.as_str());
    match url.scheme() {
        "https" => None,
        "http" if is_loopback(url) => None,
        "http" => Some(format!(
            "{what} {shown} uses plain http to a non-loopback host; use https (plain http is only allowed for localhost)"
        )),
        other => Some(format!(
            "{what} {shown} has scheme {other:?}; use an https URL"
        )),
    }
}

/// What is wrong with `base_url` as an API base for `provider` (it does not parse, or its scheme
/// breaks the loopback rule); `None` when it is fine.
pub(crate) fn base_url_problem(base_url: &str, provider: crate::Provider) -> Option<String> {
    match Url::parse(base_url.trim()) {
        Ok(url) => scheme_problem(&url, "base URL"),
        Err(e) => Some(format!(
            "base URL {base_url:?} is not a URL ({e}); use e.g. {}",
            provider.default_base_url()
        )),
    }
}

/// Whether `base_url` names this machine (a URL that does not parse does not).
pub(crate) fn is_loopback_url(base_url: &str) -> bool {
    Url::parse(base_url.trim()).is_ok_and(|url| is_loopback(&url))
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
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(TransportError::Config(problems.join("; ")));
        }
        let base_url = Url::parse(config.base_url.trim()).map_err(|e| {
            TransportError::Config(format!("base URL {:?} is not a URL ({e})", config.base_url))
        })?;
        let key = config.api_key.expose_secret().trim();
        if key.is_empty() {
            return Err(TransportError::Config(
                "the API key is empty; set it to the key from your PixVerse (or relay) account"
                    .into(),
            ));
        }
        let auth = auth_header(config.auth_style, key)?;
        let redactor = Redactor::new(key);
        let http = match &config.http_client {
            Some(client) => client.clone(),
            None => build_client(&config, redirect_policy(&base_url), None)?,
        };
        let downloads = match &config.download_client {
            Some(client) => client.clone(),
            None => build_client(
                &config,
                download_redirect_policy(),
                Some(config.download_read_timeout),
            )?,
        };
        let base = base_url.as_str().trim_end_matches('/').to_owned();
        Ok(Transport {
            inner: Arc::new(Inner {
                config,
                http,
                downloads,
                base,
                auth,
                redactor,
                server_clock: std::sync::Mutex::new(None),
            }),
            deadline: None,
        })
    }

    /// The `Date` of the last API answer, if one came with a valid header.
    pub fn server_clock(&self) -> Option<ServerClock> {
        *self
            .inner
            .server_clock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The configuration this transport runs with.
    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// A handle on the same transport (same connection pools) whose calls all end by
    /// `deadline` (`None`: no deadline): every attempt, retry delay, wait for a concurrency
    /// slot, status poll and download stops in time. A call cut short ends with
    /// [`TransportError::TimedOut`]; a wait with [`crate::WaitOutcome::StillRunning`].
    pub fn with_deadline(&self, deadline: Option<Instant>) -> Transport {
        Transport {
            inner: self.inner.clone(),
            deadline,
        }
    }

    /// The deadline calls made through this handle keep, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// What the deadline leaves from now (`None`: no deadline; zero: it has passed).
    pub fn time_left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// `limit`, shortened to what the deadline leaves.
    pub(crate) fn bounded(&self, limit: Duration) -> Duration {
        self.time_left().map_or(limit, |left| left.min(limit))
    }

    /// Removes the key (in any form) from text a server sent, then anything that could drive
    /// a terminal.
    pub(crate) fn clean(&self, text: &str) -> String {
        sanitize(&self.inner.redactor.redact(text)).into_owned()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    /// Sends one logical call to `path` (`endpoint`'s, parameters filled in), retrying as
    /// core decides, always with `trace_id`.
    /// `build` makes a fresh request per attempt (a streamed upload body cannot be replayed).
    /// Every attempt and every retry delay ends by the deadline.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        endpoint: Endpoint,
        path: &str,
        trace_id: Uuid,
        timeout: Duration,
        build: impl Fn(&Client) -> Result<RequestBuilder, TransportError>,
    ) -> Result<T, TransportError> {
        let policy = self.inner.config.retry;
        let started = Instant::now();
        let mut attempts = 0u32;
        // What the attempts so far ran into, for a call the deadline cuts short.
        let mut reached = false;
        let mut last: Option<String> = None;
        loop {
            if self.time_left().is_some_and(|left| left.is_zero()) {
                return Err(self.timed_out(endpoint, trace_id, attempts, reached, last));
            }
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
            let limit = self.bounded(timeout);
            let request = build(&self.inner.http)?
                .header(TRACE_HEADER, trace_id.to_string())
                .header(self.inner.auth.0.clone(), self.inner.auth.1.clone())
                .timeout(limit);
            let observer = self.inner.config.observer.as_ref();
            // A JSON body can be shown; a form streams and cannot be read back.
            let request_body = observer.and_then(|_| {
                let built = request.try_clone()?.build().ok()?;
                let bytes = built.body()?.as_bytes()?;
                Some(
                    sanitize(&self.inner.redactor.redact(&String::from_utf8_lossy(bytes)))
                        .into_owned(),
                )
            });
            let body_slot = std::sync::Mutex::new(None);
            let read = Reading {
                server_clock: &self.inner.server_clock,
                redactor: &self.inner.redactor,
                idle: self.bounded(self.inner.config.read_timeout),
                body: observer.map(|_| &body_slot),
            };
            let sent = Instant::now();
            // reqwest's own timeout covers an injected client too; this one is the backstop.
            let outcome = match tokio::time::timeout(
                limit + Duration::from_millis(50),
                attempt::<T>(request, &read),
            )
            .instrument(span.clone())
            .await
            {
                Ok(outcome) => outcome,
                Err(_) => Err(Failed::lost("no answer in time")),
            };
            if let Some(observer) = observer {
                let status = match &outcome {
                    Ok((_, status)) => Some(*status),
                    Err(failed) => (failed.status != 0).then_some(failed.status),
                };
                observer(&CallNotice::Attempted {
                    endpoint,
                    path: path.to_owned(),
                    attempt: attempts,
                    status,
                    latency: sent.elapsed(),
                    request_body,
                    response_body: body_slot
                        .into_inner()
                        .unwrap_or_else(|poisoned| poisoned.into_inner()),
                });
            }
            let failed = match outcome {
                Ok((value, _)) => return Ok(value),
                Err(failed) => failed,
            };
            let verdict = retry::classify(&failed.as_failure());
            reached |= failed.may_have_reached_server();
            let step = retry::next_step(
                &policy,
                &verdict,
                &Attempted {
                    attempts,
                    elapsed: started.elapsed(),
                    retry_after: failed.retry_after,
                    jitter: jitter(),
                    time_left: self.time_left(),
                },
            );
            let gave_up = match step {
                Step::RetryAfter(delay) => {
                    if let Some(observer) = &self.inner.config.observer {
                        observer(&CallNotice::Retrying {
                            endpoint,
                            path: path.to_owned(),
                            attempt: attempts + 1,
                            limit: retry::attempt_limit(&policy, &verdict).unwrap_or(attempts + 1),
                            delay,
                            reason: failed.summary(),
                        });
                    }
                    span.in_scope(|| {
                        tracing::warn!(
                            class = verdict.class.as_str(),
                            err_code = failed.err_code,
                            delay_ms = delay.as_millis() as u64,
                            "retrying with the same trace id"
                        )
                    });
                    last = Some(failed.summary());
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Step::GiveUp(GiveUpReason::OutOfTime) => {
                    let last = Some(failed.summary());
                    return Err(self.timed_out(endpoint, trace_id, attempts, reached, last));
                }
                Step::GiveUp(reason) => reason,
            };
            let call = CallInfo {
                endpoint,
                trace_id,
                attempts,
                gave_up,
                server: redact_url(&self.inner.base),
            };
            return Err(failed.into_error(verdict, call));
        }
    }

    fn timed_out(
        &self,
        endpoint: Endpoint,
        trace_id: Uuid,
        attempts: u32,
        reached: bool,
        last: Option<String>,
    ) -> TransportError {
        TransportError::TimedOut {
            what: endpoint.to_string(),
            trace_id: Some(trace_id),
            attempts,
            may_have_reached_server: reached,
            last,
        }
    }
}

/// The auth header, marked sensitive so reqwest and `http` never print its value.
fn auth_header(style: AuthStyle, key: &str) -> Result<(HeaderName, HeaderValue), TransportError> {
    let (name, value) = match style {
        AuthStyle::ApiKeyHeader => (
            HeaderName::from_static(API_KEY_HEADER),
            HeaderValue::from_str(key),
        ),
        AuthStyle::Bearer => (
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {key}")),
        ),
    };
    let mut value = value.map_err(|_| {
        TransportError::Config(
            "the API key contains characters an HTTP header cannot carry (a line break?); copy it again"
                .into(),
        )
    })?;
    value.set_sensitive(true);
    Ok((name, value))
}

fn build_client(
    config: &TransportConfig,
    redirect: reqwest::redirect::Policy,
    read_timeout: Option<Duration>,
) -> Result<Client, TransportError> {
    let mut builder = Client::builder()
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("pixfuse/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect);
    // Not on the API client: reqwest starts this clock when the request is sent, so a large
    // upload would count as silence. API answers get their own idle limit while being read.
    if let Some(t) = read_timeout {
        builder = builder.read_timeout(t);
    }
    builder
        .build()
        .map_err(|e| TransportError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// The redirect policy every HTTP client carrying the API key must use: a request to the API's
/// origin (that of `api_base`) is never redirected to another origin; other requests follow up
/// to 10 redirects; and no hop goes to a URL that breaks the scheme rule (https, or plain http
/// to a loopback host only), checked before connecting to it.
///
/// reqwest strips `Authorization` on cross-host redirects but not the vendor's `API-KEY`
/// header, so a client with reqwest's default policy sends the key to wherever the API (or a
/// relay, or anyone able to answer for it) redirects. A client injected with
/// [`TransportConfig::with_http_client`] must be built with this policy (or
/// `reqwest::redirect::Policy::none()`).
pub fn redirect_policy(api_base: &Url) -> reqwest::redirect::Policy {
    let api_origin = api_base.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if let Some(problem) = scheme_problem(attempt.url(), "redirect to") {
            attempt.error(problem)
        } else if first.as_ref() == Some(&api_origin) && attempt.url().origin() != api_origin {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// The redirect policy of the result-download client: up to 10 redirects across any hosts
/// (download requests carry no key: a relay's `/files/…` may hand over to object storage),
/// each hop checked against the scheme rule before connecting to it. For a client injected
/// with [`TransportConfig::with_download_client`].
pub fn download_redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else if let Some(problem) = scheme_problem(attempt.url(), "redirect to") {
            attempt.error(problem)
        } else {
            attempt.follow()
        }
    })
}

/// A jitter value in [0, 1) for core's schedules.
pub(crate) fn jitter() -> f64 {
    let (bits, _) = Uuid::new_v4().as_u64_pair();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::ServerClock;

    #[test]
    fn skew_is_signed_from_this_machines_side() {
        let server = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ahead = ServerClock {
            server,
            local: server + Duration::from_millis(2500),
        };
        assert_eq!(ahead.skew_seconds(), 2.5);
        let behind = ServerClock {
            server,
            local: server - Duration::from_secs(7),
        };
        assert_eq!(behind.skew_seconds(), -7.0);
    }
}
