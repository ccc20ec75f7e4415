//! The `pixfuse` command-line tool as a library: `main.rs` only calls [`run`]. Commands live in
//! [`cmd`], one module each; exit codes in [`exit`].

mod calls;
pub mod cli;
pub mod cmd;
mod config;
mod connect;
mod ctx;
pub mod error_json;
pub mod exit;
mod failure;
mod input;
mod interrupt;
mod json_out;
mod key;
pub mod mcp;
pub mod net_args;
mod progress;
pub mod render;
mod stdout_video;
mod values;
mod version;

use clap::FromArgMatches;

/// Parses the command line, runs the command, and returns the process's exit status.
pub fn run() -> std::process::ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let color = render::ColorWhen::from_args(&args);
    render::set_color(color);
    // clap prints its own errors and exits with 2 (usage), or 0 for --help and --version.
    let mut command = cli::command().color(color.for_clap());
    let json = args.iter().any(|a| a == "--json");
    let parsed = command
        .clone()
        .try_get_matches_from(args)
        .and_then(|mut matches| {
            let sources = net_args::Sources::from_matches(&command, &matches);
            let mut cli = cli::Cli::from_arg_matches_mut(&mut matches)?;
            cli.global.net.sources = sources;
            Ok(cli)
        });
    match parsed {
        Ok(cli) => cmd::run(cli).into(),
        Err(e) => usage_error(e.format(&mut command), json),
    }
}

/// A command line clap refused. With `--json` a script reads the refusal as JSON on stdout,
/// as every other failure (clap's own text still goes to stderr); `--help` and `--version`
/// are clap's as ever.
fn usage_error(e: clap::Error, json: bool) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    let shown = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !shown {
        // clap's message up to the usage lines, without its "error: " prefix, on one line (the
        // missing arguments follow its first line).
        let text = e.render().to_string();
        let message: Vec<&str> = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let message = message.join(" ");
        let message = message.strip_prefix("error: ").unwrap_or(&message);
        let exit = exit::Exit::Usage;
        let value = serde_json::json!({
            "status": "error",
            "class": error_json::class_of(exit),
            "exit_code": exit.code(),
            "error": message,
        });
        let _ = json_out::write_line(&mut std::io::stdout().lock(), &value);
    }
    e.exit()
}
