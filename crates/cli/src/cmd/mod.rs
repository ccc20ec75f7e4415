//! One module per command; each returns the process's [`Exit`].

pub mod account;
pub mod batch;
pub mod completions;
pub mod config;
pub mod doctor;
pub mod estimate;
mod flag_mode;
pub mod help;
pub mod job;
pub mod journal;
pub mod models;
pub mod sandbox;
pub mod validate;
pub mod video;
pub mod webhook;

use std::cell::Cell;
use std::io::Write;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::Exit;
use crate::render::Style;

/// A command that could not do its job, with the exit code that says why.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            exit: Exit::Usage,
            message: message.into(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        // A closed pipe (`pixfuse models | head -1`) is the reader's choice, not a failure.
        let exit = if e.kind() == std::io::ErrorKind::BrokenPipe {
            Exit::Success
        } else {
            Exit::Internal
        };
        Failure {
            exit,
            message: format!("cannot write output: {e}"),
        }
    }
}

/// What every command knows about how to speak.
pub struct Ctx {
    pub json: bool,
    pub verbose: u8,
    pub quiet: bool,
    /// `--sandbox`: the commands a message suggests need the flag too.
    pub sandbox: bool,
    /// Styling for stdout.
    pub style: Style,
    /// Whether a `--json` result object is on stdout already (see [`Ctx::print_json`]).
    printed: Cell<bool>,
}

impl Ctx {
    fn new(global: &GlobalArgs) -> Self {
        Ctx {
            json: global.json,
            verbose: global.verbose,
            quiet: global.quiet,
            sandbox: global.net.sandbox,
            style: Style::for_stdout(),
            printed: Cell::new(false),
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
        let mut parts = message.split('`');
        let mut out = parts.next().unwrap_or_default().to_owned();
        for (i, part) in parts.enumerate() {
            out.push('`');
            // Odd pieces are inside backticks.
            if i % 2 == 0 {
                out.push_str(&self.command(part));
            } else {
                out.push_str(part);
            }
        }
        out
    }

    /// Prints the `--json` result object. Every networked command prints its object through
    /// here, so [`run`] knows whether a failure still owes one.
    pub fn print_json(&self, value: &serde_json::Value) -> std::io::Result<()> {
        self.printed.set(true);
        writeln!(std::io::stdout().lock(), "{value}")
    }
}

pub fn run(cli: Cli) -> Exit {
    let ctx = Ctx::new(&cli.global);
    crate::connect::init_tracing(cli.global.verbose);
    let net = &cli.global.net;
    // Commands that talk to a server promise one `--json` object for every outcome (issue 5);
    // the offline ones print their own `--json` verdicts.
    let networked = !matches!(
        cli.command,
        Command::Validate(_)
            | Command::Models(_)
            | Command::Estimate(_)
            | Command::Sandbox(_)
            | Command::Help(_)
            | Command::Completions(_)
            | Command::Man(_)
    );
    let result = match cli.command {
        Command::Run(args) => job::run(&ctx, net, &args),
        Command::Submit(args) => job::submit(&ctx, net, &args),
        Command::Status(args) => video::status(&ctx, net, &args),
        Command::Wait(args) => video::wait(&ctx, net, &args),
        Command::Download(args) => video::download(&ctx, net, &args),
        Command::Upload(args) => account::upload(&ctx, net, &args),
        Command::Balance(args) => account::balance(&ctx, net, &args),
        Command::Jobs(args) => journal::jobs(&ctx, net, &args),
        Command::Resume(args) => journal::resume(&ctx, net, &args),
        Command::Batch(args) => batch::run(&ctx, net, &args),
        Command::Validate(args) => validate::run(&ctx, &args),
        Command::Models(args) => models::run(&ctx, &args),
        Command::Estimate(args) => estimate::run(&ctx, &args),
        Command::Sandbox(args) => sandbox::run(&ctx, &args),
        Command::Webhook(args) => webhook::run(&ctx, net, &args),
        Command::Help(args) => help::help(&ctx, &args),
        Command::Config(args) => config::run(&ctx, net, &args),
        Command::Doctor(args) => doctor::run(&ctx, net, &args),
        Command::Completions(args) => completions::completions(&args),
        Command::Man(args) => completions::man(&args),
    };
    match result {
        Ok(exit) => exit,
        Err(f) if f.exit == Exit::Success => Exit::Success,
        Err(f) => {
            if ctx.json && networked && !ctx.printed.get() {
                // Failed before any result existed (configuration, job file, key, session).
                let _ = ctx.print_json(&serde_json::json!({
                    "status": "error",
                    "exit_code": f.exit.code(),
                    "error": ctx.commands_in(&f.message),
                }));
            }
            let style = Style::for_stderr();
            // Messages quote servers (ErrMsg, body excerpts): nothing in them drives the terminal.
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {}",
                style.error("error"),
                ctx.commands_in(&pixfuse_core::text::sanitize(&f.message))
            );
            f.exit
        }
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
            printed: Cell::new(false),
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
