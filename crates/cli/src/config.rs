//! The config file: `--config FILE`, env `PIXFUSE_CONFIG`, or `pixfuse/config.toml` in the
//! platform's config directory. Top-level settings apply to every profile; `[profiles.NAME]`
//! tables override them, chosen with `--profile NAME` / env `PIXFUSE_PROFILE` or the file's own
//! `profile = "NAME"`.
//!
//! ```toml
//! provider = "pixverse"
//! profile = "work"
//!
//! [profiles.work]
//! api_key = "…"            # keep this file private: chmod 600
//! webhook_secret = "…"     # for `pixfuse webhook serve` (or PIXFUSE_WEBHOOK_SECRET)
//! state_dir = "/srv/pixfuse"
//! mcp_budget = 500         # the most one `pixfuse mcp` process may spend
//!
//! [profiles.relay]
//! provider = "quickrouter"
//! poll_interval = "2s"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// Settings a profile may carry; every field optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub provider: Option<String>,
    pub base_url: Option<String>,
    pub api_key: Option<SecretString>,
    /// The account's webhook secret, for `pixfuse webhook serve`.
    pub webhook_secret: Option<SecretString>,
    pub state_dir: Option<PathBuf>,
    /// A shared journal (`postgres://…`, password allowed here: keep the file private).
    pub journal_url: Option<SecretString>,
    #[serde(default, with = "opt_duration")]
    pub poll_interval: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub retry_base_delay: Option<Duration>,
    #[serde(default, with = "opt_duration")]
    pub timeout: Option<Duration>,
    /// The most credits one `pixfuse mcp` process may spend (`--budget` overrides it).
    pub mcp_budget: Option<f64>,
    /// The account's concurrency limit, gating every submit (`--account-slots`).
    pub account_slots: Option<u32>,
}

impl Settings {
    /// `self` with every field `over` sets replaced.
    fn overlay(mut self, over: Settings) -> Settings {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f; } )* };
        }
        take!(
            provider,
            base_url,
            api_key,
            webhook_secret,
            state_dir,
            journal_url,
            poll_interval,
            retry_base_delay,
            timeout,
            mcp_budget,
            account_slots
        );
        self
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFormat {
    profile: Option<String>,
    #[serde(flatten)]
    base: Settings,
    #[serde(default)]
    profiles: BTreeMap<String, Settings>,
}

/// The settings in effect, and where they came from.
#[derive(Debug, Default)]
pub struct Config {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// The profile applied, if any.
    pub profile: Option<String>,
    pub settings: Settings,
    /// Something the user should hear about (a key in a file others can read).
    pub warnings: Vec<String>,
}

/// Errors reading the config; all are usage errors (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("profile `{name}` is not in {path} (it has: {known})")]
    NoSuchProfile {
        name: String,
        path: PathBuf,
        known: String,
    },
    #[error(
        "profile `{name}` was asked for, but there is no config file at {path} (`pixfuse config \
         init` writes one with a commented profile; or pass --config FILE)"
    )]
    ProfileWithoutFile { name: String, path: String },
}

/// The default config file: `pixfuse/config.toml` in the platform config directory.
pub fn default_config_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pixfuse").map(|d| d.config_dir().join("config.toml"))
}

/// The config file in effect: `explicit` (`--config`, `PIXFUSE_CONFIG`), else the default one
/// (which need not exist).
pub fn config_file(explicit: Option<&Path>) -> Option<PathBuf> {
    explicit.map(Path::to_owned).or_else(default_config_path)
}

/// `path` for a message, or what to pass when the platform has no config directory.
pub fn describe_config_file(path: Option<&Path>) -> String {
    path.map_or_else(
        || "a config file (this platform has no config directory: pass --config FILE)".to_owned(),
        |p| p.display().to_string(),
    )
}

impl Config {
    /// Loads the config. `explicit` is `--config` or `PIXFUSE_CONFIG` (must exist); otherwise the
    /// default file is read when it exists. `profile` is `--profile` / `PIXFUSE_PROFILE`.
    pub fn load(explicit: Option<&Path>, profile: Option<&str>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None => match default_config_path() {
                Some(p) if p.is_file() => p,
                _ => {
                    return match profile {
                        Some(name) => Err(ConfigError::ProfileWithoutFile {
                            name: name.to_owned(),
                            path: describe_config_file(default_config_path().as_deref()),
                        }),
                        None => Ok(Config::default()),
                    };
                }
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let mut config = Self::parse(&text, &path, profile)?;
        let secrets: Vec<&str> = [
            config.settings.api_key.as_ref().map(|_| "an API key"),
            config
                .settings
                .webhook_secret
                .as_ref()
                .map(|_| "a webhook secret"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !secrets.is_empty() {
            config
                .warnings
                .extend(private_file_warning(&path, &secrets.join(" and ")));
        }
        Ok(config)
    }

    /// Parses config text read from `path`.
    pub fn parse(text: &str, path: &Path, profile: Option<&str>) -> Result<Config, ConfigError> {
        let file: FileFormat = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: parse_message(&e, text),
        })?;
        let chosen = profile.map(str::to_owned).or(file.profile);
        let mut settings = file.base;
        if let Some(name) = &chosen {
            let Some(over) = file.profiles.get(name) else {
                let known: Vec<&str> = file.profiles.keys().map(String::as_str).collect();
                return Err(ConfigError::NoSuchProfile {
                    name: name.clone(),
                    path: path.to_owned(),
                    known: if known.is_empty() {
                        "no profiles".to_owned()
                    } else {
                        known.join(", ")
                    },
                });
            };
            settings = settings.overlay(over.clone());
        }
        Ok(Config {
            path: Some(path.to_owned()),
            profile: chosen,
            settings,
            warnings: Vec::new(),
        })
    }
}

#[cfg(unix)]
fn private_file_warning(path: &Path, what: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} holds {what} but other users can read it (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn private_file_warning(_: &Path, _: &str) -> Option<String> {
    None
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else {
            return Ok(None);
        };
        humantime::parse_duration(&text).map(Some).map_err(|e| {
            serde::de::Error::custom(format!(
                "`{text}` is not a duration ({e}); write e.g. \"500ms\", \"5s\", \"10m\""
            ))
        })
    }
}

/// toml's own Display quotes the offending line of the file — which may be `api_key = ...`.
/// Only the message and a position leave this function, never file content.
fn parse_message(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim_end_matches('.');
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    /// A broken line may hold the key: the error must locate it without quoting it.
    #[test]
    fn parse_errors_never_quote_the_file() {
        for text in [
            "api_key = sk-UNQUOTED-SECRET\n",
            "apikey = \"sk-TYPO-SECRET\"\n",
            "[profiles.work]\napi_key = \"sk-NESTED-SECRET\"\nbogus = 1\n",
        ] {
            let err = Config::parse(text, Path::new("c.toml"), None)
                .unwrap_err()
                .to_string();
            assert!(!err.contains("SECRET"), "{err}");
            assert!(err.contains("line "), "{err}");
        }
    }

    const FILE: &str = r#"
provider = "pixverse"
poll_interval = "5s"
profile = "work"

[profiles.work]
api_key = "sk-work"
state_dir = "/srv/pixfuse"
mcp_budget = 250
account_slots = 3

[profiles.relay]
provider = "quickrouter"
base_url = "https://relay.example"
timeout = "10m"
"#;

    #[test]
    fn file_default_profile_overlays_top_level() {
        let c = Config::parse(FILE, Path::new("c.toml"), None).unwrap();
        assert_eq!(c.profile.as_deref(), Some("work"));
        let s = &c.settings;
        assert_eq!(s.provider.as_deref(), Some("pixverse"));
        assert_eq!(s.api_key.as_ref().unwrap().expose_secret(), "sk-work");
        assert_eq!(s.poll_interval, Some(Duration::from_secs(5)));
        assert_eq!(s.state_dir.as_deref(), Some(Path::new("/srv/pixfuse")));
        assert_eq!(s.mcp_budget, Some(250.0));
        assert_eq!(s.account_slots, Some(3));
    }

    #[test]
    fn chosen_profile_wins() {
        let c = Config::parse(FILE, Path::new("c.toml"), Some("relay")).unwrap();
        let s = &c.settings;
        assert_eq!(s.provider.as_deref(), Some("quickrouter"));
        assert_eq!(s.base_url.as_deref(), Some("https://relay.example"));
        assert!(s.api_key.is_none());
        assert_eq!(s.timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn unknown_profile_lists_the_known_ones() {
        let err = Config::parse(FILE, Path::new("c.toml"), Some("nope")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile `nope` is not in c.toml (it has: relay, work)"
        );
    }

    #[test]
    fn typos_and_bad_durations_are_reported() {
        let err = Config::parse("provder = \"x\"", Path::new("c.toml"), None).unwrap_err();
        assert!(err.to_string().contains("provder"), "{err}");
        let err = Config::parse("timeout = \"soon\"", Path::new("c.toml"), None).unwrap_err();
        assert!(err.to_string().contains("not a duration"), "{err}");
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let c = Config::parse(FILE, Path::new("c.toml"), None).unwrap();
        assert!(!format!("{c:?}").contains("sk-work"));
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_file_with_a_key_warns() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FILE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let c = Config::load(Some(&path), None).unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Config::load(Some(&path), None).unwrap().warnings.is_empty());
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/pixfuse.toml")), None).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }));
    }
}
