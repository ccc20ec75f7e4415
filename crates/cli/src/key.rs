//! Where the API key comes from — never argv, where other users can read it (`ps`) and shells
//! record it. In order: `--api-key-stdin`, env `PIXFUSE_API_KEY`, the provider's own variable
//! (`PIXVERSE_API_KEY` or `QUICKROUTER_API_KEY`), the config file.

use std::io::Read;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

pub use pixfuse::KEY_ENV;
use pixfuse::Provider;

/// Where the key was found (for `-v`; never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    Stdin,
    Env(&'static str),
    ConfigFile(Option<PathBuf>),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Stdin => f.write_str("standard input"),
            KeySource::Env(var) => write!(f, "${var}"),
            KeySource::ConfigFile(Some(p)) => write!(f, "{}", p.display()),
            KeySource::ConfigFile(None) => f.write_str("the config file"),
        }
    }
}

/// Why there is no usable key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error(
        "no API key: set {}, put `api_key = \"…\"` in {config}, or pipe it to --api-key-stdin",
        env_hint(.provider)
    )]
    Missing {
        provider: Provider,
        /// The config file to put it in, as a message names it.
        config: String,
    },
    #[error("the API key from {0} is empty")]
    Empty(KeySource),
    #[error("cannot read the API key from standard input: {0}")]
    Stdin(#[source] std::io::Error),
}

/// The file the config settings are (or would be) read from; `config init` when it is absent.
fn config_hint(loaded: Option<&std::path::Path>) -> String {
    match loaded {
        Some(path) => path.display().to_string(),
        None => {
            let default = crate::config::default_config_path();
            let path = crate::config::describe_config_file(default.as_deref());
            match default {
                Some(_) => format!("{path} (`pixfuse config init` writes it)"),
                None => path,
            }
        }
    }
}

fn env_hint(provider: &Provider) -> String {
    format!("{KEY_ENV} (or {})", provider.key_env())
}

/// Inputs of key resolution, injectable for tests.
pub struct KeyInputs<'a> {
    pub provider: Provider,
    pub from_stdin: bool,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub config_key: Option<&'a SecretString>,
    pub config_path: Option<PathBuf>,
}

/// Finds the key. `read_stdin` is only called with `--api-key-stdin`.
pub fn resolve(
    inputs: KeyInputs<'_>,
    read_stdin: impl FnOnce() -> std::io::Result<String>,
) -> Result<(SecretString, KeySource), KeyError> {
    let found = if inputs.from_stdin {
        let text = read_stdin().map_err(KeyError::Stdin)?;
        Some((SecretString::from(text.trim().to_owned()), KeySource::Stdin))
    } else {
        // The environment's precedence is the library's (`Client::from_env` reads the same).
        pixfuse::key_from_env(inputs.provider, inputs.env)
            .map(|(key, var)| (key, KeySource::Env(var)))
    };
    let (secret, source) = match found {
        Some(found) => found,
        None => match inputs.config_key {
            Some(key) => (
                SecretString::from(key.expose_secret().trim().to_owned()),
                KeySource::ConfigFile(inputs.config_path),
            ),
            None => {
                return Err(KeyError::Missing {
                    provider: inputs.provider,
                    config: config_hint(inputs.config_path.as_deref()),
                });
            }
        },
    };
    if secret.expose_secret().is_empty() {
        return Err(KeyError::Empty(source));
    }
    Ok((secret, source))
}

/// Reads the whole of standard input (the key, maybe with a trailing newline).
pub fn read_stdin() -> std::io::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn inputs<'a>(
        provider: Provider,
        env: &'a dyn Fn(&str) -> Option<String>,
        config_key: Option<&'a SecretString>,
    ) -> KeyInputs<'a> {
        KeyInputs {
            provider,
            from_stdin: false,
            env,
            config_key,
            config_path: None,
        }
    }

    fn no_stdin() -> std::io::Result<String> {
        panic!("stdin must not be read without --api-key-stdin")
    }

    #[test]
    fn generic_env_beats_provider_env_beats_config() {
        let cfg = SecretString::from("cfg");
        let env = env_of(&[("PIXFUSE_API_KEY", "generic"), ("PIXVERSE_API_KEY", "own")]);
        let (k, s) = resolve(inputs(Provider::Pixverse, &env, Some(&cfg)), no_stdin).unwrap();
        assert_eq!((k.expose_secret(), s), ("generic", KeySource::Env(KEY_ENV)));

        let env = env_of(&[("PIXVERSE_API_KEY", "own"), ("QUICKROUTER_API_KEY", "qr")]);
        let (k, _) = resolve(inputs(Provider::Pixverse, &env, Some(&cfg)), no_stdin).unwrap();
        assert_eq!(k.expose_secret(), "own");
        let (k, _) = resolve(inputs(Provider::QuickRouter, &env, Some(&cfg)), no_stdin).unwrap();
        assert_eq!(k.expose_secret(), "qr");

        let env = env_of(&[]);
        let (k, s) = resolve(inputs(Provider::Pixverse, &env, Some(&cfg)), no_stdin).unwrap();
        assert_eq!((k.expose_secret(), s), ("cfg", KeySource::ConfigFile(None)));
    }

    #[test]
    fn stdin_wins_and_is_trimmed() {
        let env = env_of(&[("PIXFUSE_API_KEY", "generic")]);
        let mut i = inputs(Provider::Pixverse, &env, None);
        i.from_stdin = true;
        let (k, s) = resolve(i, || Ok("from-stdin\n".into())).unwrap();
        assert_eq!((k.expose_secret(), s), ("from-stdin", KeySource::Stdin));
    }

    #[test]
    fn missing_and_empty_keys_explain_the_fix() {
        let env = env_of(&[]);
        let err = resolve(inputs(Provider::QuickRouter, &env, None), no_stdin).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("PIXFUSE_API_KEY (or QUICKROUTER_API_KEY)"),
            "{msg}"
        );
        assert!(msg.contains("--api-key-stdin"), "{msg}");
        let mut i = inputs(Provider::Pixverse, &env, None);
        i.config_path = Some(PathBuf::from("/etc/pixfuse.toml"));
        let msg = resolve(i, no_stdin).unwrap_err().to_string();
        assert!(msg.contains("in /etc/pixfuse.toml"), "{msg}");

        let mut i = inputs(Provider::Pixverse, &env, None);
        i.from_stdin = true;
        let err = resolve(i, || Ok("\n".into())).unwrap_err();
        assert_eq!(err.to_string(), "the API key from standard input is empty");
    }
}
