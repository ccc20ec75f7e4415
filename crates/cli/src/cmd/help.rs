//! `pixfuse help [COMMAND…|TOPIC]`: the help of a command, or a topic such as the exit codes.

use std::io::Write;

use clap::Args;
use serde_json::json;

use crate::cmd::{Ctx, Failure};
use crate::exit::{Exit, TABLE};

/// A help topic beside the commands: its name, one line about it, and its text.
type Topic = (&'static str, &'static str, fn() -> String);

const TOPICS: [Topic; 1] = [(
    "exit-codes",
    "what each exit code means, and the official PixVerse CLI's code for it",
    crate::exit::help_topic,
)];

/// The help of pixfuse, of a command, or of a topic (`pixfuse help exit-codes`).
#[derive(Debug, Args)]
#[command(after_help = topics_help())]
pub struct HelpArgs {
    /// A command (`run`, `webhook serve`) or a topic (below).
    #[arg(value_name = "COMMAND|TOPIC")]
    pub topic: Vec<String>,
}

fn topics_help() -> String {
    let mut out = String::from("Topics:\n");
    for (name, about, _) in TOPICS {
        out.push_str(&format!("  {name:<12}  {about}\n"));
    }
    out.push_str("\nExamples:\n  pixfuse help run\n  pixfuse help exit-codes\n  pixfuse help exit-codes --json      the table as JSON");
    out
}

/// The whole command line, with the names every subcommand's usage line needs.
pub fn command() -> clap::Command {
    let mut cmd = crate::cli::command();
    cmd.build();
    cmd
}

pub fn help(ctx: &Ctx, args: &HelpArgs) -> Result<Exit, Failure> {
    let words: Vec<&str> = args.topic.iter().map(String::as_str).collect();
    if let [word] = words.as_slice()
        && let Some((_, _, text)) = TOPICS.iter().find(|(name, _, _)| name == word)
    {
        if ctx.json && *word == "exit-codes" {
            ctx.print_json(&exit_codes_json())?;
        } else {
            write!(std::io::stdout().lock(), "{}", text())?;
        }
        return Ok(Exit::Success);
    }
    let mut cmd = command();
    let mut found = &mut cmd;
    for word in &words {
        let Some(sub) = found.find_subcommand_mut(word) else {
            return Err(unknown(&words));
        };
        found = sub;
    }
    found.print_long_help()?;
    Ok(Exit::Success)
}

fn unknown(words: &[&str]) -> Failure {
    let commands: Vec<String> = command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect();
    let topics: Vec<&str> = TOPICS.iter().map(|(name, _, _)| *name).collect();
    Failure::usage(format!(
        "no command or help topic `{}`; commands: {}; topics: {}",
        words.join(" "),
        commands.join(", "),
        topics.join(", ")
    ))
}

/// `pixfuse help exit-codes --json`: the table for programs.
fn exit_codes_json() -> serde_json::Value {
    let rows: Vec<serde_json::Value> = TABLE
        .iter()
        .map(|row| {
            json!({
                "code": row.exit.code(),
                "name": row.name,
                "meaning": row.meaning,
                "pixverse_cli": row.pixverse,
            })
        })
        .collect();
    let pixverse: Vec<serde_json::Value> = crate::exit::PIXVERSE_CLI
        .iter()
        .map(|(code, name)| json!({"code": code, "name": name}))
        .collect();
    json!({"exit_codes": rows, "pixverse_cli": pixverse})
}
