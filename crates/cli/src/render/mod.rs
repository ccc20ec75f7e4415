//! Human output: styles, compiler-like diagnostics, tables.

pub mod diagnostics;
pub mod table;

use std::io::IsTerminal;

/// ANSI styling, on only for a terminal and never with `NO_COLOR` set.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        Style {
            color: std::io::stdout().is_terminal() && no_color_unset(),
        }
    }

    pub fn for_stderr() -> Self {
        Style {
            color: std::io::stderr().is_terminal() && no_color_unset(),
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

/// <https://no-color.org>: any non-empty value disables colour.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
