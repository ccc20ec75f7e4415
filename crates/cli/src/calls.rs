//! What the transport reports about each request ([`CallNotice`]): `-v` logs every attempt
//! (method, path, status, latency, attempt), `-vv` adds the bodies; a retry goes to the
//! progress display when one is attached, else to a line of its own. Everything is printed
//! with `Display` text the transport already stripped of the key and of terminal controls.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pixfuse::{CallNotice, CallObserver, Event};

/// `-v` count and `-q`, for the parts that are not handed a [`crate::Ctx`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Level {
    pub verbose: u8,
    pub quiet: bool,
}

static LEVEL: OnceLock<Level> = OnceLock::new();

/// Sets the level once, at start-up.
pub fn set_level(level: Level) {
    let _ = LEVEL.set(level);
}

/// The level in effect (quiet 0 until [`set_level`]).
pub fn level() -> Level {
    LEVEL.get().copied().unwrap_or_default()
}

/// A `-v` line (`pixfuse: config file: …`), when `-v` is on.
pub fn verbose_line(text: &str) {
    if level().verbose > 0 {
        let _ = writeln!(std::io::stderr().lock(), "pixfuse: {text}");
    }
}

/// What a progress display is asked to show.
pub enum Shown<'a> {
    /// A line to print above it (a request log line).
    Line(&'a str),
    /// A request is retried.
    Retry(&'a Event),
}

/// A progress display drawing on stderr: lines must go through it, or they tear its frame.
pub type Display = Arc<dyn Fn(Shown<'_>) + Send + Sync>;

/// The display drawing now, with its ticket (so only its owner removes it).
static DISPLAY: Mutex<Option<(u64, Display)>> = Mutex::new(None);
static TICKETS: AtomicU64 = AtomicU64::new(1);

/// Sends request lines and retries to `display` until the guard drops (a newer display takes
/// over from an older one).
pub fn attach(display: Display) -> Attached {
    let ticket = TICKETS.fetch_add(1, Ordering::Relaxed);
    *slot() = Some((ticket, display));
    Attached(ticket)
}

/// Keeps a display attached; dropping it returns to plain lines on stderr.
pub struct Attached(u64);

impl Drop for Attached {
    fn drop(&mut self) {
        let mut slot = slot();
        if slot.as_ref().is_some_and(|(ticket, _)| *ticket == self.0) {
            *slot = None;
        }
    }
}

fn slot() -> std::sync::MutexGuard<'static, Option<(u64, Display)>> {
    DISPLAY
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The observer to give the transport.
pub fn observer() -> CallObserver {
    Arc::new(notice)
}

fn notice(notice: &CallNotice) {
    let level = level();
    let display = slot().as_ref().map(|(_, d)| Arc::clone(d));
    if let Some(log) = request_log(notice, level.verbose) {
        for line in log.lines() {
            match &display {
                Some(display) => display(Shown::Line(line)),
                None => {
                    let _ = writeln!(std::io::stderr().lock(), "pixfuse: {line}");
                }
            }
        }
    }
    if let Some(event) = Event::from_call(notice) {
        match &display {
            Some(display) => display(Shown::Retry(&event)),
            None if !level.quiet => {
                let _ = writeln!(std::io::stderr().lock(), "pixfuse: {event}");
            }
            None => {}
        }
    }
}

/// The `-v` log of one attempt (`POST /openapi/v2/image/upload 200 in 12 ms (attempt 1)`),
/// with the bodies below it at `-vv`; `None` below `-v` or for a notice that is no attempt.
pub fn request_log(notice: &CallNotice, verbose: u8) -> Option<String> {
    let CallNotice::Attempted {
        endpoint,
        path,
        attempt,
        status,
        latency,
        request_body,
        response_body,
        ..
    } = notice
    else {
        return None;
    };
    if verbose == 0 {
        return None;
    }
    let answer = match status {
        Some(status) => format!("{status} in {}", millis(*latency)),
        None => format!("no answer after {}", millis(*latency)),
    };
    // The path called (`/openapi/v2/video/result/123`), not the endpoint's template.
    let mut log = format!("{} {path} {answer} (attempt {attempt})", endpoint.method);
    if verbose > 1 {
        match request_body {
            Some(request) => {
                let _ = write!(log, "\n  request body: {request}");
            }
            // A form streams its file and cannot be read back.
            None if endpoint.method == "POST" => {
                let _ = write!(log, "\n  request body: (a multipart form, not shown)");
            }
            None => {}
        }
        if let Some(response) = response_body {
            let _ = write!(log, "\n  response body: {response}");
        }
    }
    Some(log)
}

fn millis(d: Duration) -> String {
    match d.as_millis() {
        ms @ 0..10_000 => format!("{ms} ms"),
        _ => format!("{:.1} s", d.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pixfuse::core::endpoint::GENERATE;

    fn attempted(status: Option<u16>) -> CallNotice {
        CallNotice::Attempted {
            endpoint: GENERATE,
            path: GENERATE.path.to_owned(),
            attempt: 2,
            status,
            latency: Duration::from_millis(143),
            request_body: Some(r#"{"prompt":"@dog runs"}"#.to_owned()),
            response_body: Some(r#"{"ErrCode":0}"#.to_owned()),
        }
    }

    #[test]
    fn v_logs_the_attempt_and_vv_its_bodies() {
        assert_eq!(request_log(&attempted(Some(200)), 0), None);
        assert_eq!(
            request_log(&attempted(Some(200)), 1).as_deref(),
            Some("POST /openapi/v2/video/fusion/generate 200 in 143 ms (attempt 2)")
        );
        assert_eq!(
            request_log(&attempted(None), 2).as_deref(),
            Some(
                "POST /openapi/v2/video/fusion/generate no answer after 143 ms (attempt 2)\n  \
                 request body: {\"prompt\":\"@dog runs\"}\n  response body: {\"ErrCode\":0}"
            )
        );
    }
}
