//! One module per command; each returns the process's [`Exit`].

pub mod estimate;
pub mod models;
pub mod sandbox;
pub mod validate;

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
    /// Styling for stdout.
    pub style: Style,
}

impl Ctx {
    fn new(global: &GlobalArgs) -> Self {
        Ctx {
            json: global.json,
            verbose: global.verbose,
            quiet: global.quiet,
            style: Style::for_stdout(),
        }
    }
}

pub fn run(cli: Cli) -> Exit {
    let ctx = Ctx::new(&cli.global);
    let result = match cli.command {
        Command::Validate(args) => validate::run(&ctx, &args),
        Command::Models(args) => models::run(&ctx, &args),
        Command::Estimate(args) => estimate::run(&ctx, &args),
        Command::Sandbox(args) => sandbox::run(&ctx, &args),
    };
    match result {
        Ok(exit) => exit,
        Err(f) if f.exit == Exit::Success => Exit::Success,
        Err(f) => {
            let style = Style::for_stderr();
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {}",
                style.error("error"),
                f.message
            );
            f.exit
        }
    }
}
