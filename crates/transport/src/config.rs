//! Where to send requests, how to authenticate, and how patient to be.

use std::fmt;
use std::time::Duration;

use pixfuse_core::poll::PollPolicy;
use pixfuse_core::retry::RetryPolicy;
use secrecy::SecretString;

/// Who serves the API. Decides the default base URL and how the key is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Provider {
    /// The vendor (the default): `https://app-api.pixverse.ai`, header `API-KEY`.
    #[default]
    Pixverse,
    /// The QuickRouter relay: `https://api.quickrouter.ai`, `Authorization: Bearer`.
    QuickRouter,
    /// The vendor's China service: `https://app-api.pixverseai.cn`, header `API-KEY`, the same
    /// paths.
    PixverseCn,
}

impl Provider {
    /// Every provider, in the order messages list them.
    pub const ALL: [Provider; 3] = [
        Provider::Pixverse,
        Provider::PixverseCn,
        Provider::QuickRouter,
    ];

    /// The provider called `name` (as [`Provider::as_str`] spells it, in any case, surrounding
    /// blanks ignored), as the CLI, the config file and `PIXFUSE_PROVIDER` accept it.
    pub fn parse(name: &str) -> Option<Provider> {
        let name = name.trim();
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    /// The names [`Provider::parse`] accepts, for messages (`pixverse, pixverse-cn or
    /// quickrouter`).
    pub fn names() -> String {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    /// The provider's own environment variable for the key (`PIXVERSE_API_KEY`,
    /// `PIXVERSE_CN_API_KEY`, `QUICKROUTER_API_KEY`); the facade's `PIXFUSE_API_KEY` takes
    /// precedence over it.
    pub fn key_env(self) -> &'static str {
        match self {
            Provider::Pixverse => "PIXVERSE_API_KEY",
            Provider::PixverseCn => "PIXVERSE_CN_API_KEY",
            Provider::QuickRouter => "QUICKROUTER_API_KEY",
        }
    }

    /// The provider's public base URL.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::Pixverse => "https://app-api.pixverse.ai",
            Provider::PixverseCn => "https://app-api.pixverseai.cn",
            Provider::QuickRouter => "https://api.quickrouter.ai",
        }
    }

    /// How the provider expects the key.
    pub fn auth_style(self) -> AuthStyle {
        match self {
            Provider::Pixverse | Provider::PixverseCn => AuthStyle::ApiKeyHeader,
            Provider::QuickRouter => AuthStyle::Bearer,
        }
    }

    /// Stable lower-case name (`pixverse`, `pixverse-cn`, `quickrouter`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Pixverse => "pixverse",
            Provider::PixverseCn => "pixverse-cn",
            Provider::QuickRouter => "quickrouter",
        }
    }
}

/// How the key travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthStyle {
    /// `API-KEY: <key>`.
    ApiKeyHeader,
    /// `Authorization: Bearer <key>`.
    Bearer,
}

impl AuthStyle {
    /// The auth header as it may be shown to a user: name and a redacted value.
    pub fn redacted_header(self) -> (&'static str, &'static str) {
        match self {
            AuthStyle::ApiKeyHeader => ("API-KEY", "[redacted]"),
            AuthStyle::Bearer => ("Authorization", "Bearer [redacted]"),
        }
    }
}

/// Time allowed to open a connection, unless [`TransportConfig::with_connect_timeout`] says.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time allowed for one API request, unless [`TransportConfig::with_request_timeout`] says.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence while an answer (or a download) arrives, unless
/// [`TransportConfig::with_read_timeout`] or [`TransportConfig::with_download_read_timeout`]
/// says.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the transport needs. Build with [`TransportConfig::new`] and the `with_*`
/// setters; [`crate::Transport::new`] checks it.
#[derive(Clone)]
pub struct TransportConfig {
    pub(crate) provider: Provider,
    pub(crate) base_url: String,
    pub(crate) auth_style: AuthStyle,
    pub(crate) api_key: SecretString,
    pub(crate) connect_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) download_read_timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) poll: PollPolicy,
    pub(crate) http_client: Option<reqwest::Client>,
    pub(crate) download_client: Option<reqwest::Client>,
    pub(crate) observer: Option<CallObserver>,
}

/// What the transport reports about each API call as it happens: for progress displays (a
/// retry is visible while it waits) and request logs. Nothing in it carries the key: bodies
/// have it removed, in any form, before they are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallNotice {
    /// One attempt ended: an answer (`status`) or none (`status` is `None`).
    Attempted {
        /// The endpoint called.
        endpoint: pixfuse_core::endpoint::Endpoint,
        /// The path called, the endpoint's with its parameters filled in
        /// (`/openapi/v2/video/result/123`); no query, so nothing secret.
        path: String,
        /// 1 for the first attempt.
        attempt: u32,
        /// The answer's HTTP status, when there was an answer.
        status: Option<u16>,
        /// From sending to the whole answer read (or the failure).
        latency: Duration,
        /// The request's JSON body (`None` for a form or no body).
        request_body: Option<String>,
        /// The start of the answer's body, key removed.
        response_body: Option<String>,
    },
    /// The call is tried again after a pause (same trace id).
    Retrying {
        /// The endpoint called.
        endpoint: pixfuse_core::endpoint::Endpoint,
        /// The path called, parameters filled in (as in [`CallNotice::Attempted`]).
        path: String,
        /// The attempt about to be made (2: the first retry).
        attempt: u32,
        /// Attempts the policy allows for this kind of failure.
        limit: u32,
        /// The pause before it.
        delay: Duration,
        /// What the failed attempt ran into (`connection refused`, `HTTP 503`).
        reason: String,
    },
}

/// Receives [`CallNotice`]s (from the task making the call: keep it quick).
pub type CallObserver = std::sync::Arc<dyn Fn(&CallNotice) + Send + Sync>;

impl TransportConfig {
    /// A configuration for `provider` with its default base URL and auth style.
    pub fn new(provider: Provider, api_key: SecretString) -> Self {
        TransportConfig {
            provider,
            base_url: provider.default_base_url().to_owned(),
            auth_style: provider.auth_style(),
            api_key,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            download_read_timeout: DEFAULT_READ_TIMEOUT,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            http_client: None,
            download_client: None,
            observer: None,
        }
    }

    /// Calls `observer` for every attempt and every retry of every API call.
    pub fn with_observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Another base URL (a relay, the sandbox). `http://` is accepted for loopback hosts only.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// Overrides the provider's auth style.
    pub fn with_auth_style(mut self, style: AuthStyle) -> Self {
        self.auth_style = style;
        self
    }

    /// Time allowed to open a connection (ignored with [`Self::with_http_client`]: configure
    /// your client instead).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for one API request, answer included. Uploads get more when the file is
    /// large (at least 256 KiB/s of allowance).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Longest silence while an API answer is arriving before the attempt counts as lost
    /// (the whole attempt is bounded by [`Self::with_request_timeout`] as well).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Longest silence while downloading (waiting for the answer, or between two bytes of it)
    /// before the connection counts as cut.
    pub fn with_download_read_timeout(mut self, timeout: Duration) -> Self {
        self.download_read_timeout = timeout;
        self
    }

    /// Attempts, delays and the overall deadline for retries.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adaptive or fixed status polling.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = poll;
        self
    }

    /// Uses this client (its connection pool, proxy and TLS settings) for the API requests
    /// instead of building one. Result downloads keep their own client (see
    /// [`Self::with_download_client`]): they carry no key and follow redirects across hosts.
    ///
    /// The client **must** be built with [`crate::redirect_policy`] for this config's base URL
    /// (or with `reqwest::redirect::Policy::none()`): with reqwest's default policy a redirect
    /// from the API to another host carries the `API-KEY` header there, and one to plain
    /// `http://` is followed. pixfuse cannot inspect an existing client's policy, so this is on
    /// the caller. It should also set a connect timeout (pixfuse bounds each attempt and each
    /// silence while reading, but cannot reach into the client's connector).
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use pixfuse_transport::{Provider, TransportConfig, redirect_policy};
    /// let base = Provider::Pixverse.default_base_url();
    /// let http = reqwest::Client::builder()
    ///     .redirect(redirect_policy(&base.parse()?))
    ///     .build()?;
    /// # let _ = http;
    /// # Ok(()) }
    /// ```
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Uses this client for result downloads instead of building one. Download requests never
    /// carry the key, so it may follow redirects across hosts, but it **must** check every hop
    /// against pixfuse's scheme rule: build it with [`crate::download_redirect_policy`] (or
    /// `reqwest::redirect::Policy::none()`, which makes every redirect a failed download).
    pub fn with_download_client(mut self, client: reqwest::Client) -> Self {
        self.download_client = Some(client);
        self
    }

    /// Who serves the API.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The key, for callers that derive an account's identity from it (a digest, never the
    /// key itself in a journal).
    pub fn api_key(&self) -> &SecretString {
        &self.api_key
    }

    /// How the key travels.
    pub fn auth_style(&self) -> AuthStyle {
        self.auth_style
    }

    /// Attempts, delays and the overall deadline for retries.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Adaptive or fixed status polling.
    pub fn poll(&self) -> PollPolicy {
        self.poll
    }

    /// Everything wrong with this configuration, each a sentence, all at once (empty: fine):
    /// a base URL that does not parse or breaks the loopback rule, a fixed poll interval under
    /// [`MIN_REMOTE_POLL_INTERVAL`] towards a server that is not on this machine. The key is
    /// not judged here. [`crate::Transport::new`] refuses a configuration with any.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(crate::client::base_url_problem(
            &self.base_url,
            self.provider,
        ));
        if let PollPolicy::Fixed(every) = self.poll
            && every < MIN_REMOTE_POLL_INTERVAL
            && !crate::client::is_loopback_url(&self.base_url)
        {
            out.push(format!(
                "a poll interval of {} ms is too short for {} (at least {} s: every poll is a \
                 request to a shared server; shorter ones are for a server on this machine)",
                every.as_millis(),
                pixfuse_core::text::redact_url(&self.base_url),
                MIN_REMOTE_POLL_INTERVAL.as_secs()
            ));
        }
        out
    }
}

/// The shortest fixed poll interval towards a server that is not on this machine (loopback
/// servers, such as the sandbox, may be polled faster).
pub const MIN_REMOTE_POLL_INTERVAL: Duration = Duration::from_secs(1);

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("auth_style", &self.auth_style)
            .field("api_key", &"[redacted]")
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("download_read_timeout", &self.download_read_timeout)
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("http_client", &self.http_client.is_some())
            .field("download_client", &self.download_client.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}
