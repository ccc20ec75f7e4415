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
mod jobs_view;
pub mod journal;
pub mod models;
pub mod sandbox;
pub mod validate;
pub mod video;
pub mod webhook;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::exit::Exit;
use crate::render::Style;

// What every command takes and returns; they live in modules of their own (the dispatcher only
// dispatches), and are re-exported so each command can say `use super::{Ctx, Failure}`.
pub use crate::ctx::Ctx;
pub use crate::failure::Failure;

pub fn run(cli: Cli) -> Exit {
    let ctx = Ctx::new(&cli.global);
    crate::connect::init_logging(&cli.global);
    let net = &cli.global.net;
    // Every command promises one `--json` object for every outcome (issue 5), except `mcp`,
    // whose stdout is the protocol's, and the generated scripts and pages.
    let owes_json = !matches!(
        cli.command,
        Command::Mcp(_) | Command::Completions(_) | Command::Man(_)
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
        Command::Mcp(args) => crate::mcp::run(&ctx, net, &args),
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
            if ctx.json && owes_json && !crate::json_out::printed() {
                // Failed before any result existed (configuration, job file, key, session).
                let _ = ctx.print_json(&serde_json::json!({
                    "status": "error",
                    "class": crate::error_json::class_of(f.exit),
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
