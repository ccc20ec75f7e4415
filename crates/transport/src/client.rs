//! The [`Transport`] handle and its request loop: make an attempt, ask core what a failure
//! means, sleep, send again with the same trace id.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pixfuse_core::retry::{self, Attempted, Step};
use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
use reqwest::{Client, RequestBuilder, Url};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use crate::attempt::attempt;
use crate::config::{AuthStyle, TransportConfig};
use crate::error::{CallInfo, Endpoint, TransportError};

pub(crate) const TRACE_HEADER: &str = "ai-trace-id";
const API_KEY_HEADER: &str = "api-key";

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
        let auth = auth_header(config.auth_style, key)?;
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
                auth,
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

fn build_client(config: &TransportConfig, base: &Url) -> Result<Client, TransportError> {
    Client::builder()
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .user_agent(concat!("pixfuse/", env!("CARGO_PKG_VERSION")))
        .redirect(redirect_policy(base))
        .build()
        .map_err(|e| TransportError::Config(format!("cannot build the HTTP client: {e}")))
}

/// The redirect policy every HTTP client carrying the API key must use: a request to the API's
/// origin (that of `api_base`) is never redirected to another origin; other requests (result
/// downloads, which carry no key) follow up to 10 redirects.
///
/// reqwest strips `Authorization` on cross-host redirects but not the vendor's `API-KEY`
/// header, so a client with reqwest's default policy sends the key to wherever the API (or a
/// relay, or anyone able to answer for it) redirects. A client injected with
/// [`TransportConfig::with_http_client`] must be built with this policy (or
/// `reqwest::redirect::Policy::none()`, which also stops download redirects).
pub fn redirect_policy(api_base: &Url) -> reqwest::redirect::Policy {
    let api_origin = api_base.origin();
    reqwest::redirect::Policy::custom(move |attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() >= 10 {
            attempt.error("too many redirects")
        } else if first.as_ref() == Some(&api_origin) && attempt.url().origin() != api_origin {
            attempt.stop()
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
