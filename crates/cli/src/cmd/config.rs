//! `pixfuse config path|show|init`: where pixfuse reads and writes, what is in effect and why,
//! and a commented config file to start from.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::cmd::{Ctx, Failure};
use crate::config::{config_file, describe_config_file};
use crate::connect::{Settings, WEBHOOK_SECRET_ENV};
use crate::exit::Exit;
use crate::key::{KeyError, KeySource};
use crate::net_args::NetArgs;

/// The config file, state directory and journal: where they are, what is in effect.
#[derive(Debug, Args)]
#[command(
    after_help = "Precedence: a flag, then its PIXFUSE_* environment variable, then the \
config file's profile, then its top level, then the built-in default.

Examples:
  pixfuse config path                  the config file, state dir and journal
  pixfuse config show                  each setting in effect and its source
  pixfuse config init                  write a commented config file (mode 0600)
  pixfuse --profile relay config show"
)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// The real paths: config file, state directory, journal (which holds the upload cache),
    /// the sandbox's directory.
    Path,
    /// Every setting in effect and where it came from (the key itself is never shown).
    Show,
    /// Write a commented config file (mode 0600) where pixfuse reads it.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(ctx: &Ctx, net: &NetArgs, args: &ConfigArgs) -> Result<Exit, Failure> {
    match &args.action {
        ConfigAction::Path => path(ctx, net),
        ConfigAction::Show => show(ctx, net),
        ConfigAction::Init(init_args) => init(ctx, net, init_args),
    }
}

fn lossy(path: &Path) -> String {
    path.display().to_string()
}

fn path(ctx: &Ctx, net: &NetArgs) -> Result<Exit, Failure> {
    let file = config_file(net.config.as_deref());
    let exists = file.as_deref().is_some_and(Path::is_file);
    let settings = Settings::resolve(net)?;
    // The real state directory (never the `sandbox` one `--sandbox` journals in).
    let state = settings
        .state_dir
        .clone()
        .or_else(pixfuse::state::default_state_dir);
    let journal_dir = settings.journal_dir()?;
    let journal = journal_dir.join(pixfuse::journal::JOURNAL_FILE);
    let sandbox = state.as_ref().map(|s| s.join("sandbox"));
    if ctx.json {
        ctx.print_json(&json!({
            "config_file": file,
            "config_file_exists": exists,
            "state_dir": state,
            "journal": journal,
            "upload_cache": journal,
            "sandbox_dir": sandbox,
        }))?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    let file_note = match (&file, exists) {
        (Some(_), true) => String::new(),
        (Some(_), false) => " (absent: `pixfuse config init` writes it)".to_owned(),
        (None, _) => String::new(),
    };
    let none = || "none (pass --state-dir)".to_owned();
    writeln!(
        out,
        "config file   {}{file_note}",
        describe_config_file(file.as_deref())
    )?;
    writeln!(
        out,
        "state dir     {}",
        state.as_deref().map_or_else(none, lossy)
    )?;
    let journal_note = if settings.sandbox() {
        " (--sandbox's)"
    } else {
        ""
    };
    writeln!(out, "journal       {}{journal_note}", lossy(&journal))?;
    writeln!(
        out,
        "upload cache  {} (a table of the journal)",
        lossy(&journal)
    )?;
    writeln!(
        out,
        "sandbox       {} (--sandbox's journal and emulator state)",
        sandbox.as_deref().map_or_else(none, lossy)
    )?;
    Ok(Exit::Success)
}

/// One setting: its value (`None`: not set) and where it came from (`None`: nowhere).
struct Shown {
    name: &'static str,
    value: Option<String>,
    source: Option<String>,
}

fn show(ctx: &Ctx, net: &NetArgs) -> Result<Exit, Failure> {
    let settings = Settings::resolve(net)?;
    let config = settings.config();
    let file = config
        .path
        .as_deref()
        .map_or_else(|| "the config file".to_owned(), lossy);
    let from_file = || {
        format!(
            "{file}{}",
            config
                .profile
                .as_ref()
                .map_or(String::new(), |p| format!(" (profile {p})"))
        )
    };
    let s = &config.settings;
    // A setting with a flag (and perhaps an environment variable): where clap found it, else
    // the file, else the default.
    let layered = |name: &'static str,
                   id: &str,
                   given: Option<String>,
                   in_file: Option<String>,
                   default: Option<String>| {
        let (value, source) = match (given, in_file) {
            (Some(v), _) => (Some(v), net.sources.of(id).unwrap_or("a flag").to_owned()),
            (None, Some(v)) => (Some(v), from_file()),
            (None, None) => (default, "default".to_owned()),
        };
        Shown {
            name,
            value,
            source: Some(source),
        }
    };
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let mut rows = vec![
        Shown {
            name: "config_file",
            value: config.path.as_deref().map(lossy),
            source: Some(match (&net.config, &config.path) {
                (Some(_), _) => net.sources.of("config").unwrap_or("--config").to_owned(),
                (None, Some(_)) => "default location".to_owned(),
                (None, None) => format!(
                    "{} does not exist; `pixfuse config init` writes it",
                    describe_config_file(config_file(None).as_deref())
                ),
            }),
        },
        Shown {
            name: "profile",
            value: config.profile.clone(),
            source: match (&net.profile, &config.profile) {
                (Some(_), _) => Some(net.sources.of("profile").unwrap_or("--profile").to_owned()),
                (None, Some(_)) => Some(format!("the `profile` key of {file}")),
                (None, None) => None,
            },
        },
        layered(
            "provider",
            "provider",
            net.provider.clone(),
            s.provider.clone(),
            Some(settings.provider.as_str().to_owned()),
        ),
        layered(
            "base_url",
            "base_url",
            net.base_url.clone(),
            s.base_url.clone(),
            Some(settings.base_url.clone()),
        ),
    ];
    let (key_value, key_source) = match settings.key_source() {
        Ok(KeySource::Stdin) => (
            Some("from standard input".to_owned()),
            "--api-key-stdin (not read by `config show`)".to_owned(),
        ),
        Ok(source) => (Some("set (not shown)".to_owned()), source.to_string()),
        Err(KeyError::Empty(source)) => (Some("empty".to_owned()), source.to_string()),
        // The fix, as the commands that need a key would say it.
        Err(e) => {
            let text = e.to_string();
            let fix = text
                .strip_prefix("no API key: ")
                .unwrap_or(&text)
                .to_owned();
            (None, fix)
        }
    };
    rows.push(Shown {
        name: "api_key",
        value: key_value,
        source: Some(key_source),
    });
    let secret_env = std::env::var_os(WEBHOOK_SECRET_ENV).filter(|v| !v.is_empty());
    rows.push(Shown {
        name: "webhook_secret",
        value: (secret_env.is_some() || s.webhook_secret.is_some())
            .then(|| "set (not shown)".to_owned()),
        source: match (&secret_env, &s.webhook_secret) {
            (Some(_), _) => Some(format!("${WEBHOOK_SECRET_ENV}")),
            (None, Some(_)) => Some(from_file()),
            (None, None) => None,
        },
    });
    rows.push(layered(
        "state_dir",
        "state_dir",
        net.state_dir.as_deref().map(lossy),
        s.state_dir.as_deref().map(lossy),
        pixfuse::state::default_state_dir().as_deref().map(lossy),
    ));
    rows.push(layered(
        "poll_interval",
        "poll_interval",
        net.poll_interval.map(human),
        s.poll_interval.map(human),
        Some("adaptive".to_owned()),
    ));
    rows.push(layered(
        "retry_base_delay",
        "retry_base_delay",
        net.retry_base_delay.map(human),
        s.retry_base_delay.map(human),
        Some(human(pixfuse::RetryPolicy::default().backoff.base)),
    ));
    rows.push(layered(
        "timeout",
        "timeout",
        net.timeout.map(human),
        s.timeout.map(human),
        None,
    ));
    rows.push(layered(
        "account_slots",
        "account_slots",
        net.account_slots.map(|n| n.to_string()),
        s.account_slots.map(|n| n.to_string()),
        None,
    ));
    if ctx.json {
        let mut object = serde_json::Map::new();
        for row in &rows {
            object.insert(
                row.name.to_owned(),
                json!({"value": row.value, "source": row.source}),
            );
        }
        ctx.print_json(&json!({"settings": Value::Object(object), "sandbox": settings.sandbox()}))?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    for row in &rows {
        let value = row.value.as_deref().unwrap_or("(not set)");
        match &row.source {
            Some(source) => writeln!(out, "{:<17} {value}  ({source})", row.name)?,
            None => writeln!(out, "{:<17} {value}", row.name)?,
        }
    }
    if settings.sandbox() {
        writeln!(
            out,
            "--sandbox: commands talk to a local emulator with its demo key instead of base_url"
        )?;
    }
    Ok(Exit::Success)
}

/// What `config init` writes: every setting, commented out, with what it does.
pub const TEMPLATE: &str = r#"# pixfuse configuration. `pixfuse config show` prints what is in effect and where each value
# comes from: a flag wins over its PIXFUSE_* environment variable, which wins over this file
# (a profile's table over the top level), which wins over the built-in default.
#
# This file may hold your API key: keep it private (pixfuse wrote it mode 0600 and warns when
# others can read it).

# Who serves the API: "pixverse" (the vendor, the default), "pixverse-cn" (the vendor's China
# service, https://app-api.pixverseai.cn) or "quickrouter" (a relay).
# provider = "pixverse"

# The API key. PIXFUSE_API_KEY (or PIXVERSE_API_KEY / PIXVERSE_CN_API_KEY / QUICKROUTER_API_KEY)
# wins over it.
# api_key = "…"

# Another base URL (a relay, a local emulator); plain http only for localhost.
# base_url = "https://app-api.pixverse.ai"

# Where the job journal lives (default: the platform's data directory for pixfuse).
# state_dir = "/srv/pixfuse"

# Poll at a fixed interval instead of the adaptive schedule; the first retry delay; a bound on
# every command (durations such as "500ms", "5s", "10m").
# poll_interval = "5s"
# retry_base_delay = "1s"
# timeout = "10m"

# The account's concurrency limit, shared through the journal by every pixfuse process: each
# run, submit, resume and wait takes one of these slots first (PIXFUSE_ACCOUNT_SLOTS wins).
# account_slots = 3

# The account's webhook secret, for `pixfuse webhook serve` (PIXFUSE_WEBHOOK_SECRET wins).
# webhook_secret = "…"

# The profile used when neither --profile nor PIXFUSE_PROFILE names one.
# profile = "work"

# Profiles override the settings above, one table each.
# [profiles.work]
# api_key = "…"
#
# [profiles.relay]
# provider = "quickrouter"
# timeout = "30m"
#
# [profiles.cn]
# provider = "pixverse-cn"
"#;

fn init(ctx: &Ctx, net: &NetArgs, args: &InitArgs) -> Result<Exit, Failure> {
    let Some(path) = config_file(net.config.as_deref()) else {
        return Err(Failure::usage(
            "this platform has no config directory: pass --config FILE",
        ));
    };
    if path.exists() && !args.force {
        return Err(Failure::usage(format!(
            "{} exists already; edit it, or `pixfuse config init --force` replaces it",
            path.display()
        )));
    }
    write_private(&path, TEMPLATE)
        .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
    if ctx.json {
        ctx.print_json(&json!({"written": path}))?;
    } else if !ctx.quiet {
        eprintln!(
            "pixfuse: wrote {} (mode 600): uncomment what you need, then `pixfuse config show`",
            path.display()
        );
    }
    Ok(Exit::Success)
}

/// Writes `text` to `path` readable by its owner only, creating the directory.
fn write_private(path: &PathBuf, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    // An existing file keeps its old mode on open: narrow it before the text goes in.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_a_valid_empty_config_and_each_line_parses_uncommented() {
        let c = crate::config::Config::parse(TEMPLATE, Path::new("t.toml"), None).unwrap();
        assert!(c.settings.provider.is_none() && c.profile.is_none());
        let uncommented: String = TEMPLATE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| l.contains(" = ") || l.starts_with('['))
            .map(|l| format!("{l}\n"))
            .collect();
        let c = crate::config::Config::parse(&uncommented, Path::new("t.toml"), None).unwrap();
        assert_eq!(c.profile.as_deref(), Some("work"));
        assert_eq!(
            c.settings.state_dir.as_deref(),
            Some(Path::new("/srv/pixfuse"))
        );
    }
}
