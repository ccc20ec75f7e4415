//! From command line, environment and config file to a [`pixfuse::Client`]. Precedence: flag,
//! then environment (clap reads the `PIXFUSE_*` variables into the same fields), then the
//! config file's profile, then the built-in default.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pixfuse::{Client, PollPolicy, Provider, RetryPolicy, TransportConfig};
use secrecy::SecretString;

use crate::calls;
use crate::config::Config;
use crate::exit::Exit;
use crate::failure::Failure;
use crate::key::{self, KeyInputs};
use crate::net_args::NetArgs;

/// A `tracing` filter for the library's developer logs (see [`init_logging`]).
pub const LOG_ENV: &str = "PIXFUSE_LOG";

/// Where `pixfuse webhook serve` reads the webhook secret.
pub const WEBHOOK_SECRET_ENV: &str = "PIXFUSE_WEBHOOK_SECRET";

/// Settings after merging flags, env and config.
#[derive(Debug)]
pub struct Settings {
    pub provider: Provider,
    pub base_url: String,
    pub poll: PollPolicy,
    pub retry_base_delay: Option<Duration>,
    pub timeout: Option<Duration>,
    pub state_dir: Option<PathBuf>,
    /// A shared journal instead of SQLite in the state directory.
    pub journal: Option<pixfuse::JournalUrl>,
    /// `--account-slots`: the account's limit, gating every submit through the journal.
    pub account_slots: Option<u32>,
    /// When the command started: `--timeout` counts from here.
    started: Instant,
    config: Config,
    api_key_stdin: bool,
    sandbox: bool,
    sandbox_time_scale: Option<f64>,
}

/// What a networked command works with. Fields drop in order: the client, then the sandbox,
/// then the runtime that drives both.
pub struct Session {
    pub client: Client,
    _sandbox: Option<pixfuse_sandbox::RunningSandbox>,
    pub rt: tokio::runtime::Runtime,
}

impl Session {
    /// The emulator `--sandbox` started, if any.
    pub fn sandbox(&self) -> Option<&pixfuse_sandbox::RunningSandbox> {
        self._sandbox.as_ref()
    }
}

impl Settings {
    /// Merges `net` with the config file it names (or the default one).
    pub fn resolve(net: &NetArgs) -> Result<Settings, Failure> {
        let started = Instant::now();
        let config = Config::load(net.config.as_deref(), net.profile.as_deref())
            .map_err(|e| Failure::usage(e.to_string()))?;
        calls::verbose_line(&describe_config(&config));
        for warning in &config.warnings {
            eprintln!("pixfuse: warning: {warning}");
        }
        let s = &config.settings;
        // Every problem of the configuration at once, not one per run.
        let mut problems = Vec::new();
        let from_env = std::env::var(pixfuse::BASE_URL_ENV).ok();
        if net.sandbox && net.base_url.is_some() && net.base_url != from_env {
            problems.push(
                "--sandbox and --base-url name two different servers; give one (the sandbox \
                 serves on a loopback port of its own)"
                    .to_owned(),
            );
        }
        let provider_name = net
            .provider
            .clone()
            .or_else(|| s.provider.clone())
            .unwrap_or_else(|| Provider::default().as_str().to_owned());
        let provider = Provider::parse(&provider_name).unwrap_or_else(|| {
            problems.push(format!(
                "provider `{provider_name}` is unknown{}; use {}",
                config_origin(&config, net.provider.is_none()),
                Provider::names()
            ));
            Provider::default()
        });
        let base_url = net
            .base_url
            .clone()
            .or_else(|| s.base_url.clone())
            .unwrap_or_else(|| provider.default_base_url().to_owned());
        let poll = match net.poll_interval.or(s.poll_interval) {
            Some(every) => PollPolicy::Fixed(every),
            None => PollPolicy::default(),
        };
        let journal = journal_url(net.journal.as_deref(), s.journal_url.as_ref())?;
        if !net.sandbox {
            let check = TransportConfig::new(provider, SecretString::from(String::new()))
                .with_base_url(&base_url)
                .with_poll(poll);
            problems.extend(check.problems());
        }
        match problems.len() {
            0 => {}
            1 => return Err(Failure::usage(problems.remove(0))),
            n => {
                return Err(Failure::usage(format!(
                    "{} in the configuration:\n  {}",
                    pixfuse_core::text::plural(n as u64, "problem"),
                    problems.join("\n  ")
                )));
            }
        }
        Ok(Settings {
            journal,
            account_slots: net.account_slots.or(s.account_slots),
            provider,
            base_url,
            poll,
            retry_base_delay: net.retry_base_delay.or(s.retry_base_delay),
            timeout: net.timeout.or(s.timeout),
            state_dir: net.state_dir.clone().or_else(|| s.state_dir.clone()),
            started,
            api_key_stdin: net.api_key_stdin,
            sandbox: net.sandbox,
            sandbox_time_scale: net.sandbox_time_scale,
            config,
        })
    }

    /// Where the journal lives: the state directory in effect (flag, env, config, platform
    /// default), or its `sandbox` subdirectory with `--sandbox`, which keeps pretend jobs out of
    /// the real journal (the emulator's own state lives there too). Every command reads and
    /// writes the journal here.
    pub fn journal_dir(&self) -> Result<PathBuf, Failure> {
        let mut dir = self
            .state_dir
            .clone()
            .or_else(pixfuse::state::default_state_dir)
            .ok_or_else(|| {
                Failure::usage("no state directory: pass --state-dir or set PIXFUSE_STATE_DIR")
            })?;
        if self.sandbox {
            dir.push("sandbox");
        }
        Ok(dir)
    }

    /// The journal these settings name: the shared one, else SQLite in [`Self::journal_dir`].
    pub fn open_journal(&self) -> Result<pixfuse::Journal, Failure> {
        let opened = match &self.journal {
            Some(url) => pixfuse::Journal::connect(url),
            None => pixfuse::Journal::open_in(&self.journal_dir()?),
        };
        opened.map_err(|e| pixfuse::Error::from(e).into())
    }

    /// The API key, from stdin, env or config (exit 4 when there is none).
    pub fn api_key(&self) -> Result<SecretString, Failure> {
        let env = |name: &str| std::env::var(name).ok();
        let (secret, source) =
            key::resolve(self.key_inputs(&env), key::read_stdin).map_err(|e| Failure {
                exit: Exit::Auth,
                message: e.to_string(),
            })?;
        tracing::debug!(%source, "API key found");
        Ok(secret)
    }

    fn key_inputs<'a>(&'a self, env: &'a dyn Fn(&str) -> Option<String>) -> KeyInputs<'a> {
        KeyInputs {
            provider: self.provider,
            from_stdin: self.api_key_stdin,
            env,
            config_key: self.config.settings.api_key.as_ref(),
            config_path: self.config.path.clone(),
        }
    }

    /// Where the API key would come from, without reading standard input (`config show`).
    pub fn key_source(&self) -> Result<key::KeySource, key::KeyError> {
        if self.api_key_stdin {
            return Ok(key::KeySource::Stdin);
        }
        let env = |name: &str| std::env::var(name).ok();
        key::resolve(self.key_inputs(&env), || {
            Err(std::io::Error::other("standard input is not read here"))
        })
        .map(|(_, source)| source)
    }

    /// The config file read (if any), its profile and merged settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The webhook secret: env `PIXFUSE_WEBHOOK_SECRET`, else the config file's
    /// `webhook_secret` (never a flag: argv is visible to every user of the machine).
    pub fn webhook_secret(&self) -> Result<SecretString, Failure> {
        if let Some(secret) = std::env::var(WEBHOOK_SECRET_ENV)
            .ok()
            .filter(|s| !s.is_empty())
        {
            return Ok(SecretString::from(secret));
        }
        self.config.settings.webhook_secret.clone().ok_or_else(|| {
            Failure::usage(format!(
                "no webhook secret: set {WEBHOOK_SECRET_ENV} (or `webhook_secret` in the config \
                 file) to the secret the vendor's console shows for the account's webhook"
            ))
        })
    }

    /// The journal's name for the server these settings talk to, without building a client.
    pub fn origin(&self) -> String {
        pixfuse::origin_of(&self.base_url)
    }

    /// Whether `--sandbox` is on.
    pub fn sandbox(&self) -> bool {
        self.sandbox
    }

    /// The config file's cap on what `pixfuse mcp` may spend.
    pub fn mcp_budget(&self) -> Option<f64> {
        self.config.settings.mcp_budget
    }

    /// The retry policy: the defaults, rescaled when `--retry-base-delay` is given so that
    /// every delay (including the wait for a concurrency slot) keeps its proportion.
    pub fn retry_policy(&self) -> RetryPolicy {
        let policy = RetryPolicy::default();
        match self.retry_base_delay {
            Some(base) => policy.with_base_delay(base),
            None => policy,
        }
    }

    /// When `--timeout` runs out for this command (it bounds the whole command: uploads,
    /// submits, waits, downloads).
    pub fn deadline(&self) -> Option<Instant> {
        self.timeout.map(|t| self.started + t)
    }

    /// A client for these settings. `sandbox` overrides the resolved server: its URL, its demo
    /// key, and its origin (stable across processes, unlike its port). Its deadline is
    /// `--timeout`'s.
    fn client_with(
        &self,
        sandbox: Option<&pixfuse_sandbox::RunningSandbox>,
    ) -> Result<Client, Failure> {
        let (base_url, key, origin) = match sandbox {
            Some(s) => (Some(s.base_url()), Some(s.demo_key()), Some(s.origin())),
            None => (None, None, None),
        };
        let key = match key {
            Some(k) => k,
            None => self.api_key()?,
        };
        let state_dir = self.journal_dir()?;
        let transport = TransportConfig::new(self.provider, key)
            .with_base_url(base_url.unwrap_or(&self.base_url))
            .with_retry(self.retry_policy())
            .with_poll(self.poll)
            .with_observer(calls::observer());
        let mut builder = Client::builder().transport(transport).state_dir(state_dir);
        if let Some(url) = &self.journal {
            builder = builder.journal(url.clone());
        }
        if let Some(origin) = origin {
            builder = builder.origin(origin);
        }
        if let Some(slots) = self.account_slots {
            builder = builder.account_slots(slots);
        }
        let client = builder.build().map_err(Failure::from)?;
        calls::verbose_line(&format!(
            "state directory: {}",
            self.journal_dir()?.display()
        ));
        calls::verbose_line(&format!("journal: {}", client.journal().location()));
        Ok(client.with_deadline(self.deadline()))
    }

    /// A runtime and a client for these settings; with `--sandbox`, also the local emulator
    /// the client talks to. Its state lives beside the sandbox journal, so a job submitted by
    /// one `--sandbox` command is still generating (by the wall clock) for the next, and two
    /// commands at once share one emulator.
    pub fn session(&self) -> Result<Session, Failure> {
        let rt = runtime()?;
        if !self.sandbox {
            return Ok(Session {
                client: self.client_with(None)?,
                _sandbox: None,
                rt,
            });
        }
        let config = pixfuse_sandbox::SandboxConfig {
            state_dir: Some(self.journal_dir()?),
            time_scale: self.sandbox_time_scale.unwrap_or(1.0),
            ..pixfuse_sandbox::SandboxConfig::default()
        };
        let sandbox = rt
            .block_on(pixfuse_sandbox::Sandbox::start(config))
            .map_err(|e| Failure {
                exit: Exit::Internal,
                message: format!("cannot start the sandbox: {e}"),
            })?;
        if !crate::calls::level().quiet {
            eprintln!(
                "pixfuse: using a local sandbox at {} (no key, no credits, nothing leaves this machine)",
                sandbox.base_url()
            );
        }
        let client = self.client_with(Some(&sandbox))?;
        Ok(Session {
            client,
            _sandbox: Some(sandbox),
            rt,
        })
    }
}

/// The shared journal: `--journal` (without a password: argv is visible to every user of the
/// machine), else env `PIXFUSE_JOURNAL_URL`, else the config file's `journal_url`.
fn journal_url(
    flag: Option<&str>,
    config: Option<&SecretString>,
) -> Result<Option<pixfuse::JournalUrl>, Failure> {
    use secrecy::ExposeSecret;
    let env = std::env::var(pixfuse::JOURNAL_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (text, from_flag) = match (flag, env, config) {
        (Some(flag), _, _) => (flag.to_owned(), true),
        (None, Some(env), _) => (env, false),
        (None, None, Some(config)) => (config.expose_secret().to_owned(), false),
        (None, None, None) => return Ok(None),
    };
    let url = pixfuse::JournalUrl::parse(&text).map_err(|e| Failure::usage(e.to_string()))?;
    if from_flag && url.has_password() {
        return Err(Failure::usage(format!(
            "--journal {url} carries a password, and the command line is visible to every user \
             of this machine: put the URL in {} or `journal_url` in the config file instead",
            pixfuse::JOURNAL_URL_ENV
        )));
    }
    Ok(Some(url))
}

/// ` (in FILE)` when the value came from the config file, for messages.
fn config_origin(config: &Config, from_file: bool) -> String {
    match (&config.path, from_file) {
        (Some(path), true) => format!(" (in {})", path.display()),
        _ => String::new(),
    }
}

/// A runtime for one command: single-threaded is plenty for one job at a time.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            exit: Exit::Internal,
            message: format!("cannot start the async runtime: {e}"),
        })
}

/// The `-v` line naming the config file in use (or where none was found).
fn describe_config(config: &Config) -> String {
    match (&config.path, &config.profile) {
        (Some(path), Some(profile)) => {
            format!("config file: {} (profile {profile})", path.display())
        }
        (Some(path), None) => format!("config file: {}", path.display()),
        (None, _) => match crate::config::default_config_path() {
            Some(path) => format!("config file: none ({} does not exist)", path.display()),
            None => "config file: none".to_owned(),
        },
    }
}

/// Sets what `-v`/`-q` ask for: `-v` logs each request and names the paths in use, `-vv` adds
/// the bodies ([`crate::calls`]). The library's `tracing` output, meant for developers, is
/// off unless `PIXFUSE_LOG` holds a filter (`PIXFUSE_LOG=pixfuse_transport=debug`); the
/// transport redacts the key in every field, so it never shows it either.
pub fn init_logging(global: &crate::cli::GlobalArgs) {
    calls::set_level(calls::Level {
        verbose: global.verbose,
        quiet: global.quiet,
    });
    let Some(directives) = std::env::var(LOG_ENV).ok().filter(|v| !v.trim().is_empty()) else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::new(directives);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
