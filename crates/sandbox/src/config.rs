//! Every knob of the sandbox, with defaults that suit a first demo.

use std::path::PathBuf;
use std::time::Duration;

use pixfuse_core::{Model, Quality};
use secrecy::SecretString;

use crate::SandboxError;

/// The key a fresh sandbox accepts when no keys are configured. It guards nothing: the sandbox
/// only listens on loopback and spends pretend credits.
pub const DEMO_KEY: &str = "pixfuse-sandbox-demo-key";

/// The vendor refunds a job stuck for 2 h; no simulation needs to run longer.
const MAX_GENERATION_TIME: Duration = Duration::from_secs(2 * 3600);

/// How callers must present their key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthStyle {
    /// `API-KEY: <key>`, as the vendor wants it.
    ApiKey,
    /// `Authorization: Bearer <key>`, as the relay wants it.
    Bearer,
    /// Either of the two.
    #[default]
    Either,
}

/// What `POST /openapi/v2/image/upload` does with an `image_url` instead of a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlUploads {
    /// Loopback URLs (`127.0.0.0/8`, `[::1]`, `localhost`) are fetched for real; any other host
    /// gets the committed placeholder image (`assets/placeholder.png`), the same bytes for every
    /// URL, so nothing ever leaves the machine.
    #[default]
    Placeholder,
    /// Every URL is fetched for real, wherever it points.
    Fetch,
    /// URL uploads are refused with ErrCode 400017, as the vendor's current upload page says they
    /// are unsupported.
    Refuse,
}

/// What a job costs at the sandbox.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Prices {
    /// The price table in `spec/pricing.json` (rounded up to whole credits).
    #[default]
    Spec,
    /// The spec's price times this factor, rounded up: a server that charges more (or less)
    /// than pixfuse estimates.
    Scaled(f64),
    /// Every job costs exactly this many credits.
    Flat(u64),
}

/// Deterministic fault injection: every request draws one number from a generator seeded with
/// `seed`, so the same seed and the same sequence of requests give the same faults.
///
/// Probabilities are in `0.0..=1.0`; the ones that apply to one request must not sum above 1.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    pub seed: u64,
    /// HTTP 429 with `Retry-After` (upload, generate, result, balance).
    pub rate_limit: f64,
    /// HTTP 5xx: a proxy's HTML 502 or the vendor's 500 envelope (upload, generate, result,
    /// balance). Nothing is recorded.
    pub server_error: f64,
    /// A submit is recorded (and billed), then the connection is dropped without an answer.
    pub drop_after_submit: f64,
    /// HTTP 200 whose JSON body is cut in half (upload, generate, result, balance); the request
    /// itself took effect.
    pub truncated_json: f64,
    /// A video download stops midway although `Content-Length` promised more.
    pub cut_download: f64,
    /// The `Retry-After` sent with a 429, in whole seconds.
    pub retry_after_secs: u32,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            rate_limit: 0.0,
            server_error: 0.0,
            drop_after_submit: 0.0,
            truncated_json: 0.0,
            cut_download: 0.0,
            retry_after_secs: 1,
        }
    }
}

impl FaultConfig {
    /// No faults at all (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether any fault can happen.
    pub fn is_active(&self) -> bool {
        [
            self.rate_limit,
            self.server_error,
            self.drop_after_submit,
            self.truncated_json,
            self.cut_download,
        ]
        .iter()
        .any(|p| *p > 0.0)
    }

    fn check(&self) -> Result<(), SandboxError> {
        let named = [
            ("rate_limit", self.rate_limit),
            ("server_error", self.server_error),
            ("drop_after_submit", self.drop_after_submit),
            ("truncated_json", self.truncated_json),
            ("cut_download", self.cut_download),
        ];
        for (name, p) in named {
            if !(0.0..=1.0).contains(&p) {
                return Err(SandboxError::InvalidConfig(format!(
                    "fault probability {name} is {p}; use a value between 0 and 1"
                )));
            }
        }
        // A submit can meet every fault except a cut download.
        let submit =
            self.rate_limit + self.server_error + self.drop_after_submit + self.truncated_json;
        if submit > 1.0 {
            return Err(SandboxError::InvalidConfig(format!(
                "fault probabilities for a submit add up to {submit}; keep rate_limit + \
                 server_error + drop_after_submit + truncated_json at most 1"
            )));
        }
        Ok(())
    }
}

/// How the sandbox signs its callbacks: the two readings of the vendor's payload
/// (fusion-api.md §9; receivers should accept both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookSigning {
    /// The vendor guide: the body's fields as a URL query string (`id=…&status=1&…`).
    #[default]
    FormEncoded,
    /// A production kit: the whole raw body percent-encoded (`encodeURIComponent`).
    PercentEncodedBody,
}

/// Faults of callback deliveries, one seeded draw per job when it is submitted (so a seed and
/// a request sequence always give the same faults). Probabilities are in `0.0..=1.0` and must
/// not sum above 1: an event meets at most one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebhookFaults {
    pub seed: u64,
    /// Once delivered, the event is delivered again as a retry would be: a fresh nonce and
    /// timestamp.
    pub duplicate: f64,
    /// Once delivered, the very same request (same nonce, timestamp and signature) is sent again.
    pub replay: f64,
    /// The event is held back as long as a first retry waits (2 s × time scale), so events of
    /// jobs that end meanwhile overtake it.
    pub out_of_order: f64,
    /// The first delivery carries a wrong signature; the retry is signed correctly.
    pub bad_signature: f64,
    /// The first delivery is signed with a timestamp ten minutes old; the retry is current.
    pub stale_timestamp: f64,
}

impl WebhookFaults {
    fn check(&self) -> Result<(), SandboxError> {
        let named = [
            ("duplicate", self.duplicate),
            ("replay", self.replay),
            ("out_of_order", self.out_of_order),
            ("bad_signature", self.bad_signature),
            ("stale_timestamp", self.stale_timestamp),
        ];
        let mut sum = 0.0;
        for (name, p) in named {
            if !(0.0..=1.0).contains(&p) {
                return Err(SandboxError::InvalidConfig(format!(
                    "webhook fault probability {name} is {p}; use a value between 0 and 1"
                )));
            }
            sum += p;
        }
        if sum > 1.0 {
            return Err(SandboxError::InvalidConfig(format!(
                "webhook fault probabilities add up to {sum}; an event meets at most one fault, \
                 so keep their sum at most 1"
            )));
        }
        Ok(())
    }
}

/// The account's webhook, as the vendor's console configures it: every job that ends is
/// POSTed to `url`, signed with `secret`, and retried after 2 s, 10 s, 30 s, 1 min, 5 min,
/// 15 min, 1 h and 4 h (times the time scale) until the answer is HTTP 200 with body `ok`.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// An `http://` or `https://` URL (loopback in tests). Requests carry no API key.
    pub url: String,
    pub secret: SecretString,
    pub signing: WebhookSigning,
    pub faults: WebhookFaults,
}

impl WebhookConfig {
    /// Callbacks to `url` signed with `secret` the vendor guide's way, without faults.
    pub fn new(url: impl Into<String>, secret: SecretString) -> Self {
        Self {
            url: url.into(),
            secret,
            signing: WebhookSigning::default(),
            faults: WebhookFaults::default(),
        }
    }

    fn check(&self) -> Result<(), SandboxError> {
        let url = reqwest::Url::parse(&self.url).map_err(|e| {
            SandboxError::InvalidConfig(format!(
                "the webhook URL {:?} is not a URL ({e}); use e.g. http://127.0.0.1:8788/",
                self.url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SandboxError::InvalidConfig(format!(
                "the webhook URL {} is not http:// or https://",
                self.url
            )));
        }
        if secrecy::ExposeSecret::expose_secret(&self.secret).is_empty() {
            return Err(SandboxError::InvalidConfig(
                "the webhook secret is empty; anyone could sign callbacks with it".to_owned(),
            ));
        }
        self.faults.check()
    }
}

/// Configuration of one sandbox. Build it with struct-update syntax over [`Default`]:
///
/// ```
/// use std::time::Duration;
/// let config = pixfuse_sandbox::SandboxConfig {
///     generation_time: Duration::from_millis(20),
///     ..Default::default()
/// };
/// ```
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Simulated generation time of a 5 s video at 540p or below; longer videos and higher
    /// qualities take proportionally longer (see [`SandboxConfig::generation_time_for`]).
    pub generation_time: Duration,
    /// Multiplies every simulated duration (generation times), so a test or a demo can run the
    /// same schedule faster (`0.1`) or slower (`2.0`).
    pub time_scale: f64,
    /// Jobs one key may have generating at once; one more is refused with ErrCode 500044.
    pub concurrency_limit: u32,
    /// Credits of a new account (half monthly, half package, monthly spent first). The monthly
    /// half is granted again at the start of each calendar month (UTC), as a subscription's is.
    pub starting_credits: u64,
    /// Accepted keys; empty means [`DEMO_KEY`] only.
    pub keys: Vec<SecretString>,
    pub auth_style: AuthStyle,
    pub faults: FaultConfig,
    /// A prompt containing this word ends in status 7 (moderation failure, refunded).
    /// An upload whose file name (or URL) contains it is refused by moderation (HTTP 500, 500052).
    pub moderation_trigger: Option<String>,
    /// A prompt containing this word ends in status 8 (generation failed, refunded).
    pub failure_trigger: Option<String>,
    /// Where the emulator keeps its account, images, jobs and trace ids (`sandbox.sqlite3` in
    /// this directory), so they outlive the process and several processes share one consistent
    /// emulator. `None` keeps everything in memory for the life of the server.
    pub state_dir: Option<PathBuf>,
    /// Ids above 2^53 (and odd), which no f64 can hold: a stress mode that catches clients that
    /// parse ids as floats. Off, ids look like the vendor's (around 3 × 10^14).
    pub big_ids: bool,
    /// What an upload by `image_url` does.
    pub url_uploads: UrlUploads,
    /// What jobs cost.
    pub prices: Prices,
    /// The account's webhook: `None` sends no callbacks (clients poll).
    pub webhook: Option<WebhookConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: None,
            generation_time: Duration::from_secs(3),
            time_scale: 1.0,
            concurrency_limit: 5,
            starting_credits: 10_000,
            keys: Vec::new(),
            auth_style: AuthStyle::default(),
            faults: FaultConfig::default(),
            moderation_trigger: Some("sandbox-moderate".to_owned()),
            failure_trigger: Some("sandbox-fail".to_owned()),
            state_dir: None,
            big_ids: false,
            url_uploads: UrlUploads::default(),
            prices: Prices::default(),
            webhook: None,
        }
    }
}

impl SandboxConfig {
    /// A configuration for pixfuse's own tests: free port, 10 ms generations, no faults, in
    /// memory, and ids above 2^53 so that any id that goes through an f64 fails the test.
    pub fn for_tests() -> Self {
        Self {
            generation_time: Duration::from_millis(10),
            big_ids: true,
            ..Self::default()
        }
    }

    /// How long a job of `duration` seconds of `model` at `quality` takes to generate.
    pub fn generation_time_for(&self, model: &Model, duration: u32, quality: &Quality) -> Duration {
        let length_factor = f64::from(duration.max(1)) / 5.0;
        let factor = crate::render::render_factor(model, quality) * length_factor;
        self.generation_time
            .mul_f64(factor * self.time_scale)
            .min(MAX_GENERATION_TIME)
    }

    pub(crate) fn check(&self) -> Result<(), SandboxError> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0 && self.time_scale <= 1000.0) {
            return Err(SandboxError::InvalidConfig(format!(
                "time_scale is {}; use a number above 0 and at most 1000 (1 = real time)",
                self.time_scale
            )));
        }
        match self.prices {
            Prices::Scaled(f) if !(f.is_finite() && f >= 0.0) => {
                return Err(SandboxError::InvalidConfig(format!(
                    "the price factor is {f}; use a number of 0 or more (1 = the spec's prices)"
                )));
            }
            _ => {}
        }
        if self.generation_time > MAX_GENERATION_TIME {
            return Err(SandboxError::InvalidConfig(format!(
                "generation_time is {:?}; the sandbox simulates at most {} hours",
                self.generation_time,
                MAX_GENERATION_TIME.as_secs() / 3600
            )));
        }
        if self.concurrency_limit == 0 {
            return Err(SandboxError::InvalidConfig(
                "concurrency_limit is 0, so no job could ever run; use 1 or more".to_owned(),
            ));
        }
        for word in [&self.moderation_trigger, &self.failure_trigger]
            .into_iter()
            .flatten()
        {
            if word.trim().is_empty() {
                return Err(SandboxError::InvalidConfig(
                    "a trigger word is empty, so every prompt would match it; use None to \
                     disable the trigger"
                        .to_owned(),
                ));
            }
        }
        if let Some(webhook) = &self.webhook {
            webhook.check()?;
        }
        self.faults.check()
    }
}
