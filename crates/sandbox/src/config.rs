//! Every knob of the sandbox, with defaults that suit a first demo.

use std::time::Duration;

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
    /// Simulated generation time of a 5 s video at 360p/540p; longer videos and higher
    /// qualities take proportionally longer (see [`SandboxConfig::generation_time_for`]).
    pub generation_time: Duration,
    /// Jobs one key may have generating at once; one more is refused with ErrCode 500044.
    pub concurrency_limit: u32,
    /// Credits on the account at start (half monthly, half package, monthly spent first).
    pub starting_credits: u64,
    /// Accepted keys; empty means [`DEMO_KEY`] only.
    pub keys: Vec<SecretString>,
    pub auth_style: AuthStyle,
    pub faults: FaultConfig,
    /// A prompt containing this word ends in status 7 (moderation failure, refunded).
    /// An upload whose file name contains it is refused by moderation (HTTP 500, 500052).
    pub moderation_trigger: Option<String>,
    /// A prompt containing this word ends in status 8 (generation failed, refunded).
    pub failure_trigger: Option<String>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            port: None,
            generation_time: Duration::from_secs(3),
            concurrency_limit: 5,
            starting_credits: 10_000,
            keys: Vec::new(),
            auth_style: AuthStyle::default(),
            faults: FaultConfig::default(),
            moderation_trigger: Some("sandbox-moderate".to_owned()),
            failure_trigger: Some("sandbox-fail".to_owned()),
        }
    }
}

impl SandboxConfig {
    /// A configuration for tests: free port, 10 ms generations, no faults.
    pub fn for_tests() -> Self {
        Self {
            generation_time: Duration::from_millis(10),
            ..Self::default()
        }
    }

    /// How long a job of `duration` seconds at `quality` takes to generate.
    pub fn generation_time_for(&self, duration: u32, quality: &pixfuse_core::Quality) -> Duration {
        use pixfuse_core::Quality;
        let quality_factor = match quality {
            Quality::Q720p => 1.5,
            Quality::Q1080p => 2.0,
            _ => 1.0,
        };
        let length_factor = f64::from(duration.max(1)) / 5.0;
        self.generation_time.mul_f64(quality_factor * length_factor)
    }

    pub(crate) fn check(&self) -> Result<(), SandboxError> {
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
        self.faults.check()
    }
}
