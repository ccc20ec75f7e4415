//! Human output: styles, compiler-like diagnostics, tables.

pub mod diagnostics;
pub mod table;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color`: when to use colour.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    /// On a terminal, unless `NO_COLOR` is set, `CLICOLOR=0` or `TERM=dumb`
    /// (`CLICOLOR_FORCE=1` colours off a terminal too).
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Whether a stream gets colour. `NO_COLOR` beats `CLICOLOR_FORCE`, which beats the rest:
    /// the order of anstream, which colours clap's own help and errors.
    pub fn decide(self, terminal: bool, env: &dyn Fn(&str) -> Option<OsString>) -> bool {
        let value = |name: &str| env(name).filter(|v| !v.is_empty());
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                if value("NO_COLOR").is_some() {
                    false
                } else if value("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
                    true
                } else if value("CLICOLOR").is_some_and(|v| v == "0")
                    || value("TERM").is_some_and(|v| v == "dumb")
                {
                    false
                } else {
                    terminal
                }
            }
        }
    }

    /// clap's own setting for its help and errors.
    pub fn for_clap(self) -> clap::ColorChoice {
        match self {
            ColorWhen::Auto => clap::ColorChoice::Auto,
            ColorWhen::Always => clap::ColorChoice::Always,
            ColorWhen::Never => clap::ColorChoice::Never,
        }
    }

    /// `--color WHEN` / `--color=WHEN` in raw arguments, before clap parses them (so that its
    /// help and errors follow it too); the last one wins, none after `--`.
    pub fn from_args(args: &[OsString]) -> ColorWhen {
        let mut when = ColorWhen::Auto;
        let mut iter = args.iter().map(|a| a.to_str().unwrap_or_default());
        while let Some(arg) = iter.next() {
            let value = match arg {
                "--" => break,
                "--color" => iter.next().unwrap_or_default(),
                _ => match arg.strip_prefix("--color=") {
                    Some(v) => v,
                    None => continue,
                },
            };
            when = match value {
                "always" => ColorWhen::Always,
                "never" => ColorWhen::Never,
                _ => ColorWhen::Auto,
            };
        }
        when
    }
}

/// The process's `--color`, set once at start (see [`set_color`]).
static COLOR: OnceLock<ColorWhen> = OnceLock::new();

/// Records `--color` for every [`Style`] made later.
pub fn set_color(when: ColorWhen) {
    let _ = COLOR.set(when);
}

fn color_for(terminal: bool) -> bool {
    let env = |name: &str| std::env::var_os(name);
    COLOR
        .get()
        .copied()
        .unwrap_or_default()
        .decide(terminal, &env)
}

/// ANSI styling, following `--color` (by default: only a terminal, see [`ColorWhen::Auto`]).
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        Style {
            color: color_for(std::io::stdout().is_terminal()),
        }
    }

    pub fn for_stderr() -> Self {
        Style {
            color: color_for(std::io::stderr().is_terminal()),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn error(self, text: &str) -> String {
        self.paint("1;31", text)
    }

    pub fn warning(self, text: &str) -> String {
        self.paint("1;33", text)
    }

    pub fn ok(self, text: &str) -> String {
        self.paint("1;32", text)
    }

    pub fn accent(self, text: &str) -> String {
        self.paint("1;34", text)
    }

    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<OsString> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn auto_follows_the_terminal_and_the_conventions() {
        let auto = ColorWhen::Auto;
        assert!(auto.decide(true, &env_of(&[])));
        assert!(!auto.decide(false, &env_of(&[])));
        assert!(!auto.decide(true, &env_of(&[("NO_COLOR", "1")])));
        assert!(
            auto.decide(true, &env_of(&[("NO_COLOR", "")])),
            "empty NO_COLOR is unset"
        );
        assert!(!auto.decide(true, &env_of(&[("TERM", "dumb")])));
        assert!(!auto.decide(true, &env_of(&[("CLICOLOR", "0")])));
        assert!(auto.decide(false, &env_of(&[("CLICOLOR_FORCE", "1")])));
        assert!(auto.decide(false, &env_of(&[("CLICOLOR_FORCE", "1"), ("TERM", "dumb")])));
        assert!(!auto.decide(false, &env_of(&[("CLICOLOR_FORCE", "0")])));
        assert!(!auto.decide(true, &env_of(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
    }

    #[test]
    fn always_and_never_ignore_the_environment() {
        let env = env_of(&[("NO_COLOR", "1"), ("TERM", "dumb")]);
        assert!(ColorWhen::Always.decide(false, &env));
        assert!(!ColorWhen::Never.decide(true, &env_of(&[("CLICOLOR_FORCE", "1")])));
    }

    #[test]
    fn the_flag_is_found_before_clap_parses() {
        let args = |list: &[&str]| -> Vec<OsString> { list.iter().map(OsString::from).collect() };
        assert_eq!(
            ColorWhen::from_args(&args(&["pixfuse", "models"])),
            ColorWhen::Auto
        );
        assert_eq!(
            ColorWhen::from_args(&args(&["pixfuse", "--color", "always", "models"])),
            ColorWhen::Always
        );
        assert_eq!(
            ColorWhen::from_args(&args(&["pixfuse", "models", "--color=never"])),
            ColorWhen::Never
        );
        assert_eq!(
            ColorWhen::from_args(&args(&["pixfuse", "run", "--", "--color=never"])),
            ColorWhen::Auto
        );
    }
}
