//! SIGINT and SIGTERM: a command's work stops at once (its future is dropped; every journal
//! write is a transaction, so the journal stays consistent), its claims are given up, and the
//! user learns what is still generating and the exact command that finishes it. Exit 130 for
//! SIGINT, 143 for SIGTERM; a second signal exits at once.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use pixfuse::{Client, Event, JobRecord, JobState};
use serde_json::json;
use tokio::runtime::Runtime;

use crate::ctx::Ctx;
use crate::exit::Exit;
use crate::failure::Failure;

/// The longest the cleanup after a signal may take (the process stops within a second).
const CLEANUP: Duration = Duration::from_millis(500);

/// The signal that stopped a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn exit(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupted",
            Signal::Terminate => "terminated",
        }
    }
}

/// Runs `work` on `rt` until it finishes or SIGINT/SIGTERM arrives. After a signal, a second one
/// exits the process at once (while the caller cleans up).
#[cfg(unix)]
pub fn run<F: Future>(rt: &Runtime, work: F) -> Result<F::Output, Signal> {
    use tokio::signal::unix::{SignalKind, signal};
    rt.block_on(async {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            // No signal handling available: run uninterruptible, as before.
            return Ok(work.await);
        };
        let stopped = tokio::select! {
            out = work => return Ok(out),
            _ = int.recv() => Signal::Interrupt,
            _ = term.recv() => Signal::Terminate,
        };
        tokio::spawn(async move {
            let again = tokio::select! {
                _ = int.recv() => Signal::Interrupt,
                _ = term.recv() => Signal::Terminate,
            };
            std::process::exit(i32::from(again.exit().code()));
        });
        Err(stopped)
    })
}

/// [`run`] where only Ctrl-C exists.
#[cfg(not(unix))]
pub fn run<F: Future>(rt: &Runtime, work: F) -> Result<F::Output, Signal> {
    rt.block_on(async {
        tokio::select! {
            out = work => return Ok(out),
            _ = tokio::signal::ctrl_c() => {}
        };
        tokio::spawn(async {
            let _ = tokio::signal::ctrl_c().await;
            std::process::exit(i32::from(Exit::Interrupted.code()));
        });
        Err(Signal::Interrupt)
    })
}

/// The journal ids a command's events mention, to report on after a signal.
#[derive(Debug, Default)]
pub struct Jobs(Mutex<BTreeSet<i64>>);

impl Jobs {
    /// Notes the job an event is about.
    pub fn note(&self, event: &Event) {
        let id = match event {
            Event::Planned { job_id, .. }
            | Event::Continuing { job_id, .. }
            | Event::HeldElsewhere { job_id, .. }
            | Event::TakenOver { job_id, .. }
            | Event::Journaled { job_id, .. }
            | Event::Submitted { job_id, .. } => *job_id,
            _ => return,
        };
        self.add(id);
    }

    pub fn add(&self, id: i64) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(id);
    }

    /// The newest job noted.
    pub fn last(&self) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .last()
            .copied()
    }

    fn ids(&self) -> Vec<i64> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .copied()
            .collect()
    }
}

/// After `signal` stopped a command: gives up its claims, says what is unfinished and how to
/// finish it, and returns the failure that exits with 130 or 143.
pub fn stopped(ctx: &Ctx, rt: &Runtime, client: &Client, jobs: &Jobs, signal: Signal) -> Failure {
    let ids = jobs.ids();
    let records: Vec<JobRecord> = rt.block_on(async {
        let look = async {
            let _ = client.release_claims().await;
            let mut records = Vec::new();
            for id in ids {
                if let Ok(job) = client.job(id).await {
                    records.push(job);
                }
            }
            records
        };
        tokio::time::timeout(CLEANUP, look)
            .await
            .unwrap_or_default()
    });
    let unfinished: Vec<&JobRecord> = records.iter().filter(|r| r.state.is_unfinished()).collect();
    let command = same_command();
    if ctx.json {
        let jobs: Vec<_> = unfinished
            .iter()
            .map(|r| json!({"job_id": r.id, "state": r.state, "video_id": r.video_id.map(|v| v.to_string())}))
            .collect();
        let _ = ctx.print_json(&json!({
            "status": signal.name(),
            "exit_code": signal.exit().code(),
            "unfinished": jobs,
            "resume_command": command,
        }));
    } else {
        let mut err = std::io::stderr().lock();
        for job in &unfinished {
            let _ = writeln!(err, "pixfuse: job {}: {}", job.id, where_it_stands(job));
        }
    }
    let message = if unfinished.is_empty() {
        format!(
            "{}; nothing is lost: run the same command again to continue: {command}",
            signal.name()
        )
    } else {
        format!(
            "{}; nothing is lost and nothing is billed twice: finish with `{command}` (the same command again){}",
            signal.name(),
            match unfinished.as_slice() {
                [one] => format!(" or `pixfuse resume {}`", one.id),
                _ => String::new(),
            }
        )
    };
    Failure {
        exit: signal.exit(),
        message,
    }
}

fn where_it_stands(job: &JobRecord) -> String {
    match job.state {
        JobState::Planned | JobState::Uploading => "nothing was sent yet".to_owned(),
        JobState::Claimed => {
            "its submit may have reached the server; continuing resends it with the same trace id"
                .to_owned()
        }
        JobState::Submitted | JobState::Generating => format!(
            "still generating on the server (video {})",
            job.video_id.unwrap_or_default()
        ),
        JobState::Succeeded => "the video is ready but not downloaded yet".to_owned(),
        other => other.to_string(),
    }
}

/// The command line that started this process, ready to paste into a shell.
fn same_command() -> String {
    let mut words = vec!["pixfuse".to_owned()];
    words.extend(
        std::env::args_os()
            .skip(1)
            .map(|arg| shell_quote(&arg.to_string_lossy())),
    );
    words.join(" ")
}

fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@,+%".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_a_shell_needs_it() {
        assert_eq!(shell_quote("job.json"), "job.json");
        assert_eq!(shell_quote("--out-dir=out/a"), "--out-dir=out/a");
        assert_eq!(shell_quote("my clip.mp4"), "'my clip.mp4'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
