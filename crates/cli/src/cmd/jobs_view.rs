//! What `pixfuse jobs` and `pixfuse jobs show ID` print: the journal's jobs as a table, one job
//! in full, and their `--json` objects (also the MCP `jobs` tool's).

use std::io::Write;
use std::time::{Duration, UNIX_EPOCH};

use pixfuse::{JobRecord, JobState};
use serde_json::{Value, json};

use crate::cmd::{Ctx, Failure};
use crate::exit::Exit;
use crate::render::table;

/// What a job cost: moderated and failed videos are refunded by the vendor, so 0 whatever the
/// submit answer said.
pub(crate) fn billed(r: &JobRecord) -> Option<i64> {
    match r.state {
        JobState::Moderated | JobState::Failed => Some(0),
        _ => r.credits,
    }
}

/// The model the job asked for: from the request as sent, else the form as claimed.
fn model(r: &JobRecord) -> Option<String> {
    if let Some(job) = r.sent_job() {
        return Some(job.model.as_str().to_owned());
    }
    let form: Value = serde_json::from_str(r.form.as_deref()?).ok()?;
    form["model"].as_str().map(str::to_owned)
}

/// Why the job ended badly or is stuck: the journal's last error, else what the vendor's
/// status says of a moderated or failed video.
fn last_error(r: &JobRecord) -> Option<String> {
    r.last_error.clone().or_else(|| match r.state {
        JobState::Moderated | JobState::Failed => Some(format!(
            "{} (refunded)",
            r.status.map_or(r.state.as_str(), |s| s.describe())
        )),
        _ => None,
    })
}

/// Whether a job was sent to a sandbox (no key, no credits).
fn is_sandbox(r: &JobRecord) -> bool {
    r.origin.starts_with("sandbox:")
}

/// Unix milliseconds as `2026-12-03 08:24:56Z`.
fn utc(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or_default());
    humantime::format_rfc3339_seconds(at)
        .to_string()
        .replacen('T', " ", 1)
}

/// Unix milliseconds as `12-03 08:24Z`: the table's column (`jobs show` has the year and the
/// seconds).
fn short_utc(ms: i64) -> String {
    let full = utc(ms);
    let minutes = full.get(5..16).unwrap_or(&full);
    format!("{minutes}Z")
}

/// One journaled job as `jobs --json` lists it (also the MCP `jobs` tool).
pub(crate) fn job_json(r: &JobRecord) -> Value {
    json!({
        "job_id": r.id,
        "state": r.state,
        "model": model(r),
        "trace_id": r.trace_id,
        "video_id": r.video_id.map(|v| v.to_string()),
        "video_status": r.status,
        "vendor_status": r.status.map(|s| s.code()),
        "origin": r.origin,
        "sandbox": is_sandbox(r),
        "output": r.output_path,
        "credits": billed(r),
        "created_ms": r.created_ms,
        "last_error": last_error(r),
        "needs_resume": r.needs_resume(),
    })
}

/// Everything the journal knows of one job (`jobs show --json`): the listing's keys, then the
/// request as sent and as written, the server, the times and the callbacks received. No key is
/// ever journaled.
fn detail_json(r: &JobRecord, callbacks: &[Value]) -> Value {
    let parsed = |text: &Option<String>| {
        text.as_deref()
            .map(|t| serde_json::from_str::<Value>(t).unwrap_or_else(|_| json!(t)))
    };
    let mut v = job_json(r);
    let extra = json!({
        "provider": r.provider,
        "base_url": r.base_url,
        "identity": r.identity,
        "form": parsed(&r.form),
        "request": parsed(&r.request),
        "request_hash": r.request_hash,
        "url": r.url,
        "seed": r.seed,
        "submitted_ms": r.submitted_ms,
        "finished_ms": r.finished_ms,
        "downloaded_ms": r.downloaded_ms,
        "updated_ms": r.updated_ms,
        "callbacks": callbacks,
    });
    if let (Some(v), Value::Object(extra)) = (v.as_object_mut(), extra) {
        v.extend(extra);
    }
    v
}

/// `pixfuse jobs`: the table (or `--json` list). `sandbox` is whether this is `--sandbox`'s
/// journal; `sandbox_elsewhere` the jobs in the `--sandbox` journal beside an empty real one.
pub fn list(
    ctx: &Ctx,
    list: &[JobRecord],
    sandbox: bool,
    sandbox_elsewhere: usize,
) -> Result<Exit, Failure> {
    if ctx.json {
        let jobs: Vec<_> = list.iter().map(job_json).collect();
        ctx.print_json(&json!({ "jobs": jobs, "sandbox": sandbox }))?;
        return Ok(Exit::Success);
    }
    // Messages, not data: stdout holds only the table, so `pixfuse jobs | wc -l` counts jobs.
    let note = |text: &str| {
        if !ctx.quiet {
            eprintln!("{text}");
        }
    };
    if sandbox {
        note(
            "sandbox jobs (the sandbox keeps a journal of its own; without --sandbox, `pixfuse jobs` lists the real ones)",
        );
    }
    if list.is_empty() {
        match (sandbox, sandbox_elsewhere) {
            (true, _) => note("no sandbox jobs yet"),
            (false, 0) => note("no jobs yet"),
            (false, n) => note(&format!(
                "no jobs yet, only {}: `pixfuse --sandbox jobs` lists {}",
                pixfuse_core::text::plural(n as u64, "sandbox job"),
                if n == 1 { "it" } else { "them" },
            )),
        }
        return Ok(Exit::Success);
    }
    if !sandbox && list.iter().all(is_sandbox) {
        note("every job here was sent to a sandbox: no credits were spent");
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|r| {
            let mark = if r.needs_resume() { " *" } else { "" };
            vec![
                r.id.to_string(),
                short_utc(r.created_ms),
                model(r).unwrap_or_default(),
                format!("{}{mark}", r.state),
                billed(r).map(|c| c.to_string()).unwrap_or_default(),
                r.output_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                last_error(r).unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "job",
        "created",
        "model",
        "state",
        "credits",
        "output",
        "last error",
    ];
    write!(
        std::io::stdout().lock(),
        "{}",
        table::render(&header, &rows)
    )?;
    let waiting = list.iter().filter(|r| r.needs_resume()).count();
    if waiting > 0 {
        note(&ctx.commands_in(&format!(
            "* needs resume ({}): `pixfuse resume`",
            pixfuse_core::text::plural(waiting as u64, "job")
        )));
    }
    Ok(Exit::Success)
}

/// `pixfuse jobs show ID`.
pub fn show(
    ctx: &Ctx,
    r: &JobRecord,
    callbacks: &[pixfuse::journal::CallbackRecord],
) -> Result<Exit, Failure> {
    let callbacks: Vec<Value> = callbacks
        .iter()
        .filter(|c| c.job_id == Some(r.id))
        .map(|c| {
            json!({
                "video_status": c.status,
                "credits": c.credits,
                "deliveries": c.deliveries,
                "signed_as": c.signed_as,
                "trace_id": c.trace_id,
                "received_ms": c.received_ms,
            })
        })
        .collect();
    let detail = detail_json(r, &callbacks);
    if ctx.json {
        ctx.print_json(&detail)?;
        return Ok(Exit::Success);
    }
    let mut out = std::io::stdout().lock();
    let time = |ms: Option<i64>| ms.map(utc);
    let lines: Vec<(&str, Option<String>)> = vec![
        ("job", Some(r.id.to_string())),
        ("state", Some(r.state.to_string())),
        (
            "needs resume",
            Some(if r.needs_resume() { "yes" } else { "no" }.to_owned()),
        ),
        ("model", model(r)),
        ("provider", Some(r.provider.clone())),
        ("server", Some(r.base_url.clone())),
        ("origin", Some(r.origin.clone())),
        ("trace id", Some(r.trace_id.to_string())),
        ("video id", r.video_id.map(|v| v.to_string())),
        ("video status", r.status.map(|s| s.describe().to_owned())),
        ("credits", billed(r).map(|c| c.to_string())),
        ("seed", r.seed.map(|s| s.to_string())),
        (
            "output",
            r.output_path.as_ref().map(|p| p.display().to_string()),
        ),
        ("video url", r.url.clone()),
        ("created", Some(utc(r.created_ms))),
        ("submitted", time(r.submitted_ms)),
        ("finished", time(r.finished_ms)),
        ("downloaded", time(r.downloaded_ms)),
        ("updated", Some(utc(r.updated_ms))),
        ("last error", last_error(r)),
        ("callbacks", Some(callbacks.len().to_string())),
        ("request", r.request.clone().or_else(|| r.form.clone())),
    ];
    for (name, value) in lines {
        if let Some(value) = value {
            let value = pixfuse_core::text::sanitize(&value).into_owned();
            writeln!(out, "{name:<13} {value}")?;
        }
    }
    if r.needs_resume() && !ctx.quiet {
        eprintln!(
            "{}",
            ctx.commands_in(&format!("finish it with `pixfuse resume {}`", r.id))
        );
    }
    Ok(Exit::Success)
}
