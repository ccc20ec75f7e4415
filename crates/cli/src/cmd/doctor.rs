//! `pixfuse doctor`: is everything a job needs in order? One line a check, exit 0 only when all
//! pass: the configuration, the key (present, and accepted by a balance call), the server
//! (reachable, answering with the vendor's envelope), the clocks (the server's `Date` header),
//! the journal, and the state directory's permissions.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use pixfuse::{Error, ErrorClass, TransportError};
use serde_json::json;

use crate::cmd::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::failure::exit_for;
use crate::net_args::NetArgs;

/// Check the configuration, the key, the server, the clock, the journal and the state directory.
#[derive(Debug, Args)]
#[command(
    after_help = "One line a check; exit 0 only when every check passes, else the exit code \
of the first that failed (`pixfuse help exit-codes`). It spends nothing: the only request is a \
balance query.

Examples:
  pixfuse doctor
  pixfuse doctor --sandbox          the same against the local emulator
  pixfuse doctor --json             {ok, checks: [{check, ok, detail}]}"
)]
pub struct DoctorArgs {}

/// Webhook timestamps must be within 300 s of the receiver's clock; half a minute's drift is
/// already worth fixing (NTP keeps a clock within well under a second).
const MAX_SKEW: Duration = Duration::from_secs(30);

/// One check's verdict.
struct Check {
    name: &'static str,
    /// `None`: passed; `Some(exit)`: failed, with the exit code that failure means.
    failed: Option<Exit>,
    detail: String,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            failed: None,
            detail: detail.into(),
        }
    }

    fn fail(name: &'static str, exit: Exit, detail: impl Into<String>) -> Self {
        Check {
            name,
            failed: Some(exit),
            detail: detail.into(),
        }
    }
}

pub fn run(ctx: &Ctx, net: &NetArgs, _args: &DoctorArgs) -> Result<Exit, Failure> {
    let checks = checks(net);
    let exit = checks
        .iter()
        .find_map(|c| c.failed)
        .unwrap_or(Exit::Success);
    if ctx.json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| json!({"check": c.name, "ok": c.failed.is_none(), "detail": c.detail}))
            .collect();
        ctx.print_json(
            &json!({"ok": exit == Exit::Success, "exit_code": exit.code(), "checks": list}),
        )?;
        return Ok(exit);
    }
    let mut out = std::io::stdout().lock();
    for c in &checks {
        let mark = match c.failed {
            None => ctx.style.ok("✓"),
            Some(_) => ctx.style.error("✗"),
        };
        let detail = pixfuse_core::text::sanitize(&ctx.commands_in(&c.detail)).into_owned();
        writeln!(out, "{mark} {:<10} {detail}", c.name)?;
    }
    Ok(exit)
}

fn checks(net: &NetArgs) -> Vec<Check> {
    let settings = match Settings::resolve(net) {
        Ok(s) => s,
        Err(f) => return vec![Check::fail("config", f.exit, f.message)],
    };
    let config = settings.config();
    let mut checks = vec![Check::pass(
        "config",
        match (&config.path, &config.profile) {
            (Some(path), Some(profile)) => format!("{} (profile {profile})", path.display()),
            (Some(path), None) => path.display().to_string(),
            (None, _) => {
                "no config file: built-in defaults (`pixfuse config init` writes one)".to_owned()
            }
        },
    )];
    checks.extend(state_dir(&settings));
    checks.extend(journal(&settings));
    checks.extend(server(&settings));
    checks
}

/// The state directory (and with `--sandbox` the sandbox's inside it): private to its owner,
/// and writable.
fn state_dir(settings: &Settings) -> Vec<Check> {
    let journal_dir = match settings.journal_dir() {
        Ok(dir) => dir,
        Err(f) => return vec![Check::fail("state dir", f.exit, f.message)],
    };
    let mut dirs = Vec::new();
    if settings.sandbox()
        && let Some(real) = journal_dir.parent()
    {
        dirs.push(real.to_owned());
    }
    dirs.push(journal_dir);
    dirs.iter().map(|dir| one_dir(dir)).collect()
}

fn one_dir(dir: &std::path::Path) -> Check {
    if !dir.exists() {
        return Check::pass(
            "state dir",
            format!("{} (created, private, by the first job)", dir.display()),
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Check::fail(
                    "state dir",
                    Exit::Usage,
                    format!(
                        "{} is mode {mode:o}: other users can read the journal; run `chmod 700 {}`",
                        dir.display(),
                        dir.display()
                    ),
                );
            }
        }
    }
    let probe = dir.join(format!(".pixfuse-doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Check::pass(
                "state dir",
                format!("{} (private, writable)", dir.display()),
            )
        }
        Err(e) => Check::fail(
            "state dir",
            Exit::Usage,
            format!("{} is not writable: {e}", dir.display()),
        ),
    }
}

/// The journal opens and reads; how many jobs it holds and how many wait for `resume`.
fn journal(settings: &Settings) -> Vec<Check> {
    let Ok(dir) = settings.journal_dir() else {
        return Vec::new();
    };
    let file = dir.join(pixfuse::journal::JOURNAL_FILE);
    if !file.is_file() {
        return vec![Check::pass(
            "journal",
            format!("{} (none yet)", file.display()),
        )];
    }
    let read = || -> Result<(usize, usize), Error> {
        let journal = pixfuse::Journal::open_in(&dir)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
        let jobs = rt.block_on(journal.jobs())?;
        Ok((jobs.len(), jobs.iter().filter(|j| j.needs_resume()).count()))
    };
    match read() {
        Ok((jobs, 0)) => vec![Check::pass(
            "journal",
            format!(
                "{} ({})",
                file.display(),
                pixfuse_core::text::plural(jobs as u64, "job")
            ),
        )],
        Ok((jobs, waiting)) => vec![Check::pass(
            "journal",
            format!(
                "{} ({}, {waiting} unfinished: `pixfuse resume` finishes them)",
                file.display(),
                pixfuse_core::text::plural(jobs as u64, "job")
            ),
        )],
        Err(e) => vec![Check::fail(
            "journal",
            exit_for(&e),
            format!("{}: {e}", file.display()),
        )],
    }
}

/// The server, the key and the clock, from one balance query.
fn server(settings: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    let source = if settings.sandbox() {
        "the sandbox's demo key".to_owned()
    } else {
        match settings.key_source() {
            Ok(source) => format!("from {source}"),
            Err(e) => {
                checks.push(Check::fail("server", Exit::Auth, "not checked: no key"));
                checks.push(Check::fail("key", Exit::Auth, e.to_string()));
                return checks;
            }
        }
    };
    let session = match settings.session() {
        Ok(s) => s,
        Err(f) => {
            checks.push(Check::fail("server", f.exit, f.message));
            return checks;
        }
    };
    let target = if settings.sandbox() {
        "the local sandbox".to_owned()
    } else {
        settings.base_url.clone()
    };
    let started = Instant::now();
    let answer = session.rt.block_on(session.client.balance());
    let took = started.elapsed().as_millis();
    let spoke = format!("{target} answered in {took} ms with the vendor's envelope");
    match answer {
        Ok(balance) => {
            checks.push(Check::pass("server", spoke));
            checks.push(Check::pass(
                "key",
                format!(
                    "{source}, accepted: {}",
                    pixfuse_core::text::plural(balance.total, "credit")
                ),
            ));
        }
        // An envelope with an error: the server is fine, the key (or the account) is not.
        Err(e @ Error::Transport(TransportError::Api { .. })) => {
            checks.push(Check::pass("server", spoke));
            let what = if e.class() == Some(ErrorClass::Auth) {
                "rejected"
            } else {
                "the balance query failed"
            };
            checks.push(Check::fail(
                "key",
                exit_for(&e),
                format!("{source}, {what}: {e}"),
            ));
        }
        Err(e) => {
            checks.push(Check::fail("server", exit_for(&e), e.to_string()));
            checks.push(Check::fail(
                "key",
                exit_for(&e),
                format!("{source}, not verified: no answer"),
            ));
            checks.push(Check::fail("clock", exit_for(&e), "not checked: no answer"));
            return checks;
        }
    }
    checks.push(clock(session.client.server_clock()));
    checks
}

fn clock(reading: Option<pixfuse::ServerClock>) -> Check {
    let Some(reading) = reading else {
        return Check::fail(
            "clock",
            Exit::Network,
            "the server's answer had no Date header",
        );
    };
    let skew = reading.skew_seconds();
    let words = if skew.abs() < 1.0 {
        "in step with the server (within the Date header's 1 s)".to_owned()
    } else if skew > 0.0 {
        format!("{skew:.0} s ahead of the server")
    } else {
        format!("{:.0} s behind the server", -skew)
    };
    if skew.abs() <= MAX_SKEW.as_secs_f64() {
        Check::pass("clock", words)
    } else {
        Check::fail(
            "clock",
            Exit::Usage,
            format!(
                "{words}: webhook timestamps are refused beyond 300 s; sync this machine's clock \
                 (NTP)"
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn reading(local_ahead: i64) -> pixfuse::ServerClock {
        let server = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let local = if local_ahead >= 0 {
            server + Duration::from_secs(local_ahead as u64)
        } else {
            server - Duration::from_secs((-local_ahead) as u64)
        };
        pixfuse::ServerClock { server, local }
    }

    #[test]
    fn the_clock_check_passes_within_the_margin_only() {
        assert!(clock(Some(reading(0))).failed.is_none());
        assert!(clock(Some(reading(-20))).failed.is_none());
        let ahead = clock(Some(reading(400)));
        assert_eq!(ahead.failed, Some(Exit::Usage));
        assert!(ahead.detail.starts_with("400 s ahead"), "{}", ahead.detail);
        let behind = clock(Some(reading(-31)));
        assert!(
            behind.detail.starts_with("31 s behind"),
            "{}",
            behind.detail
        );
        assert!(clock(None).failed.is_some());
    }
}
