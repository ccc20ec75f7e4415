//! The one JSON form of a failure, for the CLI's `--json` output and the MCP server's tool
//! errors alike (the MCP server adds its `next` field). Its keys are documented in
//! docs/json.md: `status`, `class` (the exit-code table's name), `exit_code`, `error`, the
//! vendor's `err_code`, `err_msg` and `trace_id` where the server sent them, and the `job_id`,
//! `video_id` and `resume_command` of a job the error leaves behind.

use pixfuse::Error;
use pixfuse_core::text::sanitize;
use serde_json::{Value, json};

use crate::exit::Exit;
use crate::failure::exit_for;

/// The stable class of an exit code: the names scripts and agents see.
pub fn class_of(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "ok",
        Exit::Internal => "internal",
        Exit::Usage => "usage",
        Exit::InvalidRequest => "invalid",
        Exit::Auth => "auth",
        Exit::Credits => "credits",
        Exit::Moderation => "moderation",
        Exit::GenerationFailed => "generation_failed",
        Exit::StillRunning => "still_running",
        Exit::Concurrency => "concurrency",
        Exit::Network => "network",
        Exit::Interrupted | Exit::Terminated => "interrupted",
    }
}

/// `error` as a JSON object. `command` rewrites a `pixfuse …` command the way it must be typed
/// in this session (the CLI adds `--sandbox` under `--sandbox`; the MCP server keeps it).
pub fn render(error: &Error, command: &dyn Fn(&str) -> String) -> Value {
    let exit = exit_for(error);
    let mut value = json!({
        "status": "error",
        "class": class_of(exit),
        "exit_code": exit.code(),
        "error": commands_in(&sanitize(&error.to_string()), command),
    });
    if let Some(e) = error.transport() {
        if let Some(code) = e.err_code() {
            value["err_code"] = json!(code);
        }
        if let Some(msg) = e.err_msg().filter(|m| !m.trim().is_empty()) {
            value["err_msg"] = json!(sanitize(msg));
        }
        if let Some(trace) = e.trace_id() {
            value["trace_id"] = json!(trace);
        }
    }
    let resume = match error {
        Error::Invalid { diagnostics } => {
            let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
            let warnings: Vec<_> = diagnostics.iter().filter(|d| !d.is_error()).collect();
            value["errors"] = json!(errors);
            value["warnings"] = json!(warnings);
            None
        }
        Error::StillRunning {
            job_id,
            video_id,
            resume_command,
        } => {
            value["status"] = json!("running");
            value["job_id"] = json!(job_id);
            value["video_id"] = json!(video_id.to_string());
            Some(resume_command.clone())
        }
        Error::TimedOut { job_id, .. } => {
            value["status"] = json!("timed_out");
            job_id.map(|id| {
                value["job_id"] = json!(id);
                format!("pixfuse resume {id}")
            })
        }
        Error::JournalWrite {
            job_id,
            resume_command,
            ..
        } => {
            value["job_id"] = json!(job_id);
            Some(resume_command.clone())
        }
        Error::AlreadyFailed { job_id, .. }
        | Error::OtherServer { job_id, .. }
        | Error::Abandoned { job_id, .. } => {
            value["job_id"] = json!(job_id);
            None
        }
        Error::Generation { video_id, .. } => {
            value["video_id"] = json!(video_id.to_string());
            None
        }
        _ => None,
    };
    if let Some(resume) = resume {
        value["resume_command"] = json!(command(&resume));
    }
    value
}

/// `message` with every command it quotes in backticks passed through `command`.
pub fn commands_in(message: &str, command: &dyn Fn(&str) -> String) -> String {
    let mut parts = message.split('`');
    let mut out = parts.next().unwrap_or_default().to_owned();
    for (i, part) in parts.enumerate() {
        out.push('`');
        // Odd pieces are inside backticks.
        if i % 2 == 0 {
            out.push_str(&command(part));
        } else {
            out.push_str(part);
        }
    }
    out
}
