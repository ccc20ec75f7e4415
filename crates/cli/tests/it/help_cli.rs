//! Discoverability: `pixfuse help` (commands and topics), the exit-code table in every place it
//! is shown, and the README's copy of it.

use crate::common;

use common::*;

fn pixfuse(args: &[&str]) -> std::process::Output {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(args);
    exec(cmd)
}

#[test]
fn help_exit_codes_explains_every_code_and_the_pixverse_mapping() {
    let out = pixfuse(&["help", "exit-codes"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for row in &pixfuse_cli::exit::TABLE {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("{} ", row.exit.code()))),
            "code {} is missing:\n{text}",
            row.exit.code()
        );
    }
    assert!(
        text.replace('\n', " ").contains("7 concurrency limit"),
        "{text}"
    );
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line}");
    }
    insta::assert_snapshot!("help-exit-codes", text);
}

#[test]
fn help_exit_codes_json_is_the_table() {
    let out = pixfuse(&["help", "exit-codes", "--json"]);
    assert_exit(&out, 0);
    let v = json(&out);
    let rows = v["exit_codes"].as_array().unwrap();
    assert_eq!(rows.len(), pixfuse_cli::exit::TABLE.len());
    let concurrency = rows.iter().find(|r| r["code"] == 9).unwrap();
    assert_eq!(concurrency["name"], "concurrency");
    assert_eq!(concurrency["pixverse_cli"], serde_json::json!([7]));
    assert_eq!(v["pixverse_cli"].as_array().unwrap().len(), 8);
}

#[test]
fn the_top_level_help_ends_with_the_exit_codes() {
    for flag in ["--help", "-h"] {
        let out = pixfuse(&[flag]);
        assert_exit(&out, 0);
        let text = stdout(&out);
        assert!(text.contains("pixfuse help exit-codes"), "{text}");
        assert!(text.contains("10 network"), "{text}");
        assert!(text.contains("143 terminated"), "{text}");
    }
}

#[test]
fn help_names_a_command_like_its_own_help() {
    let via_help = pixfuse(&["help", "webhook", "serve"]);
    let direct = pixfuse(&["webhook", "serve", "--help"]);
    assert_exit(&via_help, 0);
    assert_eq!(stdout(&via_help), stdout(&direct));
    let bare = pixfuse(&["help"]);
    assert_exit(&bare, 0);
    assert_eq!(stdout(&bare), stdout(&pixfuse(&["--help"])));
}

#[test]
fn help_for_something_unknown_lists_commands_and_topics() {
    let out = pixfuse(&["help", "frobnicate"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("`frobnicate`"), "{err}");
    assert!(err.contains("exit-codes") && err.contains("run"), "{err}");
    assert!(!err.contains("man,"), "hidden commands stay hidden: {err}");
}

#[test]
fn batch_help_orders_the_codes_from_the_table() {
    let out = pixfuse(&["batch", "--help"]);
    assert_exit(&out, 0);
    let text = stdout(&out).replace("\n  ", " ");
    assert!(
        text.contains("1 internal error > 4 auth > 5 credits > 2 usage > 3 invalid request"),
        "{text}"
    );
    assert!(
        text.contains("7 generation failed > 8 still running"),
        "{text}"
    );
}

/// The README's exit-code table is generated; `PIXFUSE_BLESS=1` rewrites it.
#[test]
fn readme_exit_codes_match_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = "<!-- exit-codes:";
    let end = "<!-- /exit-codes -->";
    let open = readme
        .find(start)
        .expect("the README has the exit-code markers");
    let body_start = open + readme[open..].find("-->\n").unwrap() + 4;
    let close = readme.find(end).unwrap();
    let wanted = pixfuse_cli::exit::markdown();
    if readme[body_start..close] == wanted {
        return;
    }
    if std::env::var_os("PIXFUSE_BLESS").is_some() {
        let updated = format!("{}{wanted}{}", &readme[..body_start], &readme[close..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    panic!(
        "README.md's exit-code table is stale; rerun this test with PIXFUSE_BLESS=1 to rewrite it"
    );
}

#[test]
fn every_positional_of_every_command_is_described() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_positionals() {
            if arg.get_help().is_none() {
                missing.push(format!("{path} <{}>", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&pixfuse_cli::cli::Cli::command(), "pixfuse", &mut missing);
    assert!(missing.is_empty(), "undescribed positionals: {missing:?}");
}

#[test]
fn network_options_appear_only_on_commands_that_use_the_network() {
    for offline in ["models", "validate", "estimate", "sandbox", "completions"] {
        let out = pixfuse(&[offline, "--help"]);
        assert_exit(&out, 0);
        let help = stdout(&out);
        for option in ["--base-url", "--provider", "--poll-interval", "--sandbox "] {
            assert!(
                !help.contains(option),
                "{offline} --help offers {option}:\n{help}"
            );
        }
        assert!(
            help.contains("--json"),
            "{offline}: the output options stay"
        );
    }
    for networked in ["run", "status", "jobs", "batch", "doctor"] {
        let help = stdout(&pixfuse(&[networked, "--help"]));
        assert!(
            help.contains("--base-url"),
            "{networked} --help lacks --base-url"
        );
        assert!(
            help.contains("--sandbox"),
            "{networked} --help lacks --sandbox"
        );
    }
    // Still accepted where given before an offline command, as scripts do.
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(["--sandbox", "models", "--json"]);
    assert_exit(&exec(cmd), 0);
}

/// `pixfuse [COMMAND] --help` at a terminal `columns` wide.
fn help_at(command: Option<&str>, columns: &str) -> String {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.env("COLUMNS", columns);
    cmd.args(command).arg("--help");
    let out = exec(cmd);
    assert_exit(&out, 0);
    stdout(&out)
}

#[test]
fn examples_fit_80_columns_and_never_wrap_inside_a_command() {
    let top = help_at(None, "1000");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() > 10, "{top}");
    for command in std::iter::once(None).chain(commands.iter().map(|c| Some(c.as_str()))) {
        let examples = |text: &str| -> String {
            text.lines()
                .skip_while(|l| !l.starts_with("Example"))
                .take_while(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let wide = examples(&help_at(command, "1000"));
        // Wrapped at 80 columns it is the same text: nothing was too long.
        assert_eq!(examples(&help_at(command, "80")), wide, "{command:?}");
        let lines: Vec<&str> = wide.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            assert!(line.chars().count() <= 80, "{command:?}: {line}");
            // A command continued on the next line says so, and that line is indented.
            if line.ends_with('\\') {
                let next = lines.get(i + 1).copied().unwrap_or_default();
                assert!(next.starts_with("      "), "{command:?}: {line}\n{next}");
            }
        }
    }
}
