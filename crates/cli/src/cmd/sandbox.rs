//! `pixfuse sandbox`: run the local vendor emulator in the foreground.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use pixfuse_core::text::plural;
use pixfuse_sandbox::{
    AuthStyle, FaultConfig, Prices, Sandbox, SandboxConfig, SandboxStats, UrlUploads,
    WebhookConfig, WebhookFaults, WebhookSigning,
};
use secrecy::SecretString;
use serde_json::json;

use super::{Ctx, Failure};
use crate::exit::Exit;

/// Run a local emulator of the PixVerse API (no key, no credits, no network) until Ctrl-C.
///
/// It judges requests as the vendor does (from spec data alone), bills pretend credits,
/// deduplicates by Ai-trace-id, serves a real MP4, and can inject faults deterministically from a
/// seed. Clients written for the vendor run against it unchanged.
#[derive(Debug, Args)]
#[command(
    after_help = "With --state DIR the account, images, jobs and trace ids live in \
DIR/sandbox.sqlite3: a restarted sandbox (or several at once) is the same vendor, and its jobs
keep generating by the wall clock. Without it, everything ends with the process.

Uploads by image_url: loopback URLs are fetched; any other host gets a fixed placeholder image
(--url-uploads placeholder), is fetched for real (fetch), or is refused (refuse, as the vendor's
current upload page says).

With --webhook-url, every job that ends is POSTed there as the vendor does for an account's
webhook: signed with the secret in --webhook-secret-env, no API key, retried after 2 s, 10 s,
30 s, 1 min, 5 min, 15 min, 1 h and 4 h (times --time-scale) until the answer is 200 `ok`.

Examples:
  pixfuse sandbox
  pixfuse sandbox --port 8787 --generation-time 500ms --state ./sandbox-state
  pixfuse sandbox --big-ids --price-scale 1.5
  pixfuse sandbox --fault-seed 7 --fault-429 0.1 --fault-drop 0.05 \\
      --fault-cut 0.2
  PIXFUSE_WEBHOOK_SECRET=… pixfuse sandbox \\
      --webhook-url http://127.0.0.1:8788/ \\
      --webhook-secret-env PIXFUSE_WEBHOOK_SECRET --fault-webhook-duplicate 0.2"
)]
pub struct SandboxArgs {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Keep the emulator's state in this directory (created if needed) instead of memory.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Generation time of a 5 s video at 540p or below; longer videos and higher qualities take
    /// proportionally longer (e.g. 3s, 250ms).
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = humantime::parse_duration)]
    pub generation_time: Duration,
    /// Multiply every simulated time by this factor (0.1: ten times faster).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = crate::net_args::parse_time_scale)]
    pub time_scale: f64,
    /// Ids above 2^53, which no double can hold (a stress test for clients); by default ids
    /// look like the vendor's (about 3 × 10^14).
    #[arg(long)]
    pub big_ids: bool,
    /// What uploads by image_url do: loopback URLs are fetched, other hosts get a placeholder
    /// image or are fetched for real; or every URL upload is refused.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = UrlMode::Placeholder)]
    pub url_uploads: UrlMode,
    /// Charge the spec's prices times this factor (1.5: half as much again as pixfuse
    /// estimates).
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = price_scale)]
    pub price_scale: f64,
    /// Jobs one key may have generating at once (one more gets ErrCode 500044).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub concurrency: u32,
    /// Credits of a new account (an existing --state keeps its balance).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub credits: u64,
    /// How clients must send their key.
    #[arg(long, value_enum, default_value_t = Auth::Either)]
    pub auth: Auth,
    /// Name of an environment variable holding the accepted keys, comma-separated (keys never go
    /// on the command line). Default: the built-in demo key only.
    #[arg(long, value_name = "VAR")]
    pub keys_env: Option<String>,
    /// A prompt containing this word ends in status 7 (an upload whose file name contains it is
    /// refused by moderation).
    #[arg(long, value_name = "WORD", default_value = "sandbox-moderate")]
    pub moderation_word: String,
    /// A prompt containing this word ends in status 8.
    #[arg(long, value_name = "WORD", default_value = "sandbox-fail")]
    pub failure_word: String,
    /// Disable both trigger words.
    #[arg(long)]
    pub no_triggers: bool,
    /// Seed of the fault dice: the same seed and requests give the same faults.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fault_seed: u64,
    /// Probability of HTTP 429 with Retry-After.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_429: f64,
    /// Probability of HTTP 5xx (proxy HTML 502 or a 500 envelope).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_5xx: f64,
    /// Probability that a submit is recorded, then its connection dropped without an answer.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_drop: f64,
    /// Probability of an HTTP 200 whose JSON body is cut in half.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_truncate: f64,
    /// Probability that a video download stops midway.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_cut: f64,
    /// Retry-After of injected 429s, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1)]
    pub retry_after: u32,
    /// POST a signed callback here whenever a job ends (the account's webhook).
    #[arg(long, value_name = "URL", requires = "webhook_secret_env")]
    pub webhook_url: Option<String>,
    /// Name of the environment variable holding the webhook secret (never on the command line).
    #[arg(long, value_name = "VAR", requires = "webhook_url")]
    pub webhook_secret_env: Option<String>,
    /// Which reading of the signed payload to use (receivers should accept both).
    #[arg(long, value_enum, value_name = "HOW", default_value_t = Signing::FormEncoded)]
    pub webhook_signing: Signing,
    /// Probability that a delivered callback is delivered again (fresh nonce and timestamp).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_webhook_duplicate: f64,
    /// Probability that a delivered callback is sent again byte for byte (same nonce).
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_webhook_replay: f64,
    /// Probability that a callback is held back (a first retry's wait) so later ones overtake it.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_webhook_reorder: f64,
    /// Probability that a callback's first delivery has a wrong signature.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_webhook_bad_signature: f64,
    /// Probability that a callback's first delivery is signed with a timestamp 10 min old.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    pub fault_webhook_stale: f64,
}

/// A price factor, 0 or more.
fn price_scale(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 0.0 => Ok(f),
        _ => Err(format!(
            "{s:?} is not a price factor: use a number of 0 or more (1 = the spec's prices)"
        )),
    }
}

/// A probability between 0 and 1.
fn probability(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "{s:?} is not a probability: use a number from 0 to 1 (e.g. 0.05)"
        )),
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum UrlMode {
    /// Loopback fetched, other hosts a placeholder image (nothing leaves the machine).
    Placeholder,
    /// Every URL fetched for real.
    Fetch,
    /// Every URL upload refused (ErrCode 400017), as the vendor's upload page now says.
    Refuse,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Signing {
    /// The vendor guide: the body's fields as a query string (`id=…&status=1&…`).
    FormEncoded,
    /// A production kit: the whole raw body percent-encoded.
    PercentEncodedBody,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Auth {
    /// `API-KEY: <key>` (the vendor's way).
    ApiKey,
    /// `Authorization: Bearer <key>` (the relay's way).
    Bearer,
    /// Either.
    Either,
}

impl SandboxArgs {
    /// The sandbox configuration these flags describe.
    pub fn config(&self) -> Result<SandboxConfig, Failure> {
        let keys = match &self.keys_env {
            None => Vec::new(),
            Some(var) => {
                let value = std::env::var(var).map_err(|_| {
                    Failure::usage(format!(
                        "--keys-env {var}: the environment variable {var} is not set (or not \
                         UTF-8); set it to a comma-separated list of keys"
                    ))
                })?;
                let keys: Vec<SecretString> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(SecretString::from)
                    .collect();
                if keys.is_empty() {
                    return Err(Failure::usage(format!(
                        "--keys-env {var}: {var} holds no key; set it to a comma-separated list"
                    )));
                }
                keys
            }
        };
        let submit_faults = self.fault_429 + self.fault_5xx + self.fault_drop + self.fault_truncate;
        if submit_faults > 1.0 {
            return Err(Failure::usage(format!(
                "--fault-429, --fault-5xx, --fault-drop and --fault-truncate add up to \
                 {submit_faults}; a submit meets at most one fault, so keep their sum at most 1"
            )));
        }
        let trigger = |word: &str| (!self.no_triggers).then(|| word.to_owned());
        let webhook = self.webhook()?;
        Ok(SandboxConfig {
            webhook,
            port: self.port,
            state_dir: self.state.clone(),
            generation_time: self.generation_time,
            time_scale: self.time_scale,
            big_ids: self.big_ids,
            url_uploads: match self.url_uploads {
                UrlMode::Placeholder => UrlUploads::Placeholder,
                UrlMode::Fetch => UrlUploads::Fetch,
                UrlMode::Refuse => UrlUploads::Refuse,
            },
            prices: if self.price_scale == 1.0 {
                Prices::Spec
            } else {
                Prices::Scaled(self.price_scale)
            },
            concurrency_limit: self.concurrency,
            starting_credits: self.credits,
            keys,
            auth_style: match self.auth {
                Auth::ApiKey => AuthStyle::ApiKey,
                Auth::Bearer => AuthStyle::Bearer,
                Auth::Either => AuthStyle::Either,
            },
            faults: FaultConfig {
                seed: self.fault_seed,
                rate_limit: self.fault_429,
                server_error: self.fault_5xx,
                drop_after_submit: self.fault_drop,
                truncated_json: self.fault_truncate,
                cut_download: self.fault_cut,
                retry_after_secs: self.retry_after,
            },
            moderation_trigger: trigger(&self.moderation_word),
            failure_trigger: trigger(&self.failure_word),
        })
    }

    fn webhook(&self) -> Result<Option<WebhookConfig>, Failure> {
        let (Some(url), Some(var)) = (&self.webhook_url, &self.webhook_secret_env) else {
            return Ok(None);
        };
        let secret = std::env::var(var)
            .ok()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--webhook-secret-env {var}: the environment variable {var} is not set, empty \
                     or not UTF-8; set it to the webhook secret"
                ))
            })?;
        Ok(Some(WebhookConfig {
            signing: match self.webhook_signing {
                Signing::FormEncoded => WebhookSigning::FormEncoded,
                Signing::PercentEncodedBody => WebhookSigning::PercentEncodedBody,
            },
            faults: WebhookFaults {
                seed: self.fault_seed,
                duplicate: self.fault_webhook_duplicate,
                replay: self.fault_webhook_replay,
                out_of_order: self.fault_webhook_reorder,
                bad_signature: self.fault_webhook_bad_signature,
                stale_timestamp: self.fault_webhook_stale,
            },
            ..WebhookConfig::new(url.clone(), SecretString::from(secret))
        }))
    }
}

pub fn run(ctx: &Ctx, args: &SandboxArgs) -> Result<Exit, Failure> {
    let config = args.config()?;
    let own_keys = !config.keys.is_empty();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            exit: Exit::Internal,
            message: format!("cannot start the async runtime: {e}"),
        })?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| Failure::usage(e.to_string()))?;
        // The built-in demo key guards nothing and is printed; configured keys never are.
        let key = if own_keys {
            None
        } else {
            Some(sandbox.demo_key_str())
        };
        announce(ctx, &sandbox, key.as_deref())?;
        tokio::signal::ctrl_c().await.map_err(|e| Failure {
            exit: Exit::Internal,
            message: format!("cannot wait for Ctrl-C: {e}"),
        })?;
        let stats = sandbox.stats();
        sandbox.shutdown().await.map_err(|e| Failure {
            exit: Exit::Network,
            message: e.to_string(),
        })?;
        if !ctx.quiet && !ctx.json {
            eprintln!("{}", summary(&stats));
        }
        Ok(Exit::Success)
    })
}

fn announce(
    ctx: &Ctx,
    sandbox: &pixfuse_sandbox::RunningSandbox,
    key: Option<&str>,
) -> Result<(), Failure> {
    let base_url = sandbox.base_url();
    let state = sandbox.state_file();
    let webhook = sandbox.webhook_url();
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let value = json!({
            "base_url": base_url,
            "demo_key": key,
            "origin": sandbox.origin(),
            "state_file": state,
            "webhook_url": webhook,
        });
        crate::json_out::write_line(&mut out, &value)?;
    } else {
        writeln!(
            out,
            "pixfuse sandbox listening on {}",
            ctx.style.bold(base_url)
        )?;
        match key {
            Some(key) => writeln!(out, "demo key: {key}")?,
            None => writeln!(out, "keys: the ones in --keys-env")?,
        }
        // What to paste into another shell to point pixfuse (or any client) at it.
        writeln!(out, "in another shell:")?;
        match key {
            Some(key) => writeln!(
                out,
                "  export {}={base_url} {}={key}",
                pixfuse::BASE_URL_ENV,
                pixfuse::KEY_ENV
            )?,
            None => writeln!(
                out,
                "  export {}={base_url} {}=<one of the keys in --keys-env>",
                pixfuse::BASE_URL_ENV,
                pixfuse::KEY_ENV
            )?,
        }
        match state {
            Some(file) => writeln!(out, "state: {}", file.display())?,
            None => writeln!(
                out,
                "state: in memory (gone when this stops; --state DIR keeps it)"
            )?,
        }
        if let Some(url) = webhook {
            writeln!(out, "webhook: callbacks to {url}")?;
        }
        writeln!(out, "Press Ctrl-C to stop.")?;
    }
    out.flush()?;
    Ok(())
}

fn summary(stats: &SandboxStats) -> String {
    let callbacks = &stats.callbacks;
    let webhook = if callbacks.scheduled > 0 {
        format!(
            ", {} of {} delivered ({} refused, {} given up)",
            callbacks.delivered,
            plural(callbacks.scheduled, "callback"),
            plural(callbacks.refused, "attempt"),
            callbacks.abandoned
        )
    } else {
        String::new()
    };
    format!(
        "sandbox stopped: {} ({} billed, {} deduplicated), {} spent, {}, {}{webhook} (since its \
         state was created)",
        plural(stats.submits_received, "submit"),
        stats.billable_jobs,
        stats.deduplicated_submits,
        plural(stats.credits_spent, "credit"),
        plural(stats.uploads, "upload"),
        plural(stats.downloads_served, "download")
    )
}
