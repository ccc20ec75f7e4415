//! [`Ctx`]: what every command knows about how to speak (`--json`, verbosity, `--sandbox`,
//! styling), shared by the commands and the modules they call.

use crate::cli::GlobalArgs;
use crate::render::Style;

/// What every command knows about how to speak.
pub struct Ctx {
    pub json: bool,
    pub verbose: u8,
    pub quiet: bool,
    /// `--sandbox`: the commands a message suggests need the flag too.
    pub sandbox: bool,
    /// Styling for stdout.
    pub style: Style,
}

impl Ctx {
    pub(crate) fn new(global: &GlobalArgs) -> Self {
        Ctx {
            json: global.json,
            verbose: global.verbose,
            quiet: global.quiet,
            sandbox: global.net.sandbox,
            style: Style::for_stdout(),
        }
    }

    /// `command` (`pixfuse resume 3`) as it must be typed in this session.
    pub fn command(&self, command: &str) -> String {
        match command.strip_prefix("pixfuse ") {
            Some(rest) if self.sandbox && !rest.split_whitespace().any(|w| w == "--sandbox") => {
                format!("pixfuse --sandbox {rest}")
            }
            _ => command.to_owned(),
        }
    }

    /// `message` with every command it quotes (`` `pixfuse resume 3` ``) as it must be typed in
    /// this session.
    pub fn commands_in(&self, message: &str) -> String {
        crate::error_json::commands_in(message, &|c| self.command(c))
    }

    /// Prints the `--json` result object (stamped with its schema, see `json_out.rs`,
    /// which also knows whether a failure still owes one).
    pub fn print_json(&self, value: &serde_json::Value) -> std::io::Result<()> {
        crate::json_out::write_line(&mut std::io::stdout().lock(), value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(sandbox: bool) -> Ctx {
        Ctx {
            json: false,
            verbose: 0,
            quiet: false,
            sandbox,
            style: Style::for_stdout(),
        }
    }

    #[test]
    fn suggested_commands_carry_sandbox_when_the_session_does() {
        let message = "video 7 is still being generated; continue with `pixfuse resume 3`";
        assert_eq!(ctx(false).commands_in(message), message);
        assert_eq!(
            ctx(true).commands_in(message),
            "video 7 is still being generated; continue with `pixfuse --sandbox resume 3`"
        );
        assert_eq!(
            ctx(true).commands_in("`pixfuse --sandbox wait 9` or `x` then `pixfuse jobs`"),
            "`pixfuse --sandbox wait 9` or `x` then `pixfuse --sandbox jobs`"
        );
        assert_eq!(
            ctx(true).command("pixfuse wait 9"),
            "pixfuse --sandbox wait 9"
        );
    }
}
