//! A job's progress on stderr. On a terminal: one line with one clock, the job's state in
//! words and the time it should still take, lasting facts (a submit, a retry, the saved
//! file) printed above it. Off a terminal: a line for every state change and every retry,
//! nothing repeated. Nothing with `-q`. Stdout stays reserved for the result.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use pixfuse::core::eta::{self, Expected};
use pixfuse::{Event, JobStatus};
use pixfuse_core::text::sanitize;

use crate::calls::{self, Attached, Shown};

/// Where events go.
pub struct Progress {
    inner: Arc<Inner>,
    /// Request lines and retries come here while it draws.
    _attached: Option<Attached>,
}

struct Inner {
    bar: Option<ProgressBar>,
    quiet: bool,
    state: Mutex<State>,
}

/// What the display knows of the job.
#[derive(Default)]
struct State {
    /// How long the generation should take.
    expected: Option<Expected>,
    /// When the generation started (the submit), once known.
    generating_since: Option<Instant>,
    /// Whether the job is between its submit and its result, when the estimate means something.
    waiting: bool,
    /// Log mode: the last status logged and the last line, so nothing is said twice.
    last_status: Option<JobStatus>,
    last_line: Option<String>,
    downloading: bool,
}

impl Progress {
    /// A live line when stderr is a terminal, else line logging (unless `quiet`).
    pub fn new(quiet: bool) -> Self {
        let terminal = !quiet && std::io::stderr().is_terminal();
        let inner = Arc::new(Inner {
            bar: terminal
                .then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
            quiet,
            state: Mutex::new(State::default()),
        });
        if let Some(bar) = &inner.bar {
            // The estimate is drawn from the state, so it counts down between events.
            bar.set_style(style(&inner));
            bar.set_message("starting");
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        let attached = (!quiet).then(|| {
            let shown = Arc::clone(&inner);
            calls::attach(Arc::new(move |what: Shown<'_>| shown.shown(what)))
        });
        Progress {
            inner,
            _attached: attached,
        }
    }

    /// How long the generation should take, for the estimate of the time left.
    pub fn expect(&self, expected: Expected) {
        self.inner.lock().expected = Some(expected);
    }

    /// Shows one event (its text may quote a server: it is sanitised first).
    pub fn event(&self, event: &Event) {
        self.inner.event(event);
    }

    /// A line that is not an event (a note, a hint).
    pub fn note(&self, text: &str) {
        if !self.inner.quiet {
            self.inner.line(text);
        }
    }

    /// Removes the live line before the result is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A line above the live one, or on its own.
    fn line(&self, text: &str) {
        let text = sanitize(text);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "pixfuse: {text}");
            }
        }
    }

    fn shown(&self, what: Shown<'_>) {
        match what {
            Shown::Line(line) => self.line(line),
            Shown::Retry(event) => self.event(event),
        }
    }

    fn event(&self, event: &Event) {
        if self.quiet {
            return;
        }
        self.track(event);
        match &self.bar {
            Some(bar) => {
                if lasting(event) {
                    bar.println(sanitize(&event.to_string()));
                }
                if let Some(state) = state_of(event) {
                    bar.set_message(sanitize(&state).into_owned());
                }
            }
            None => {
                if let Some(line) = self.log_line(event) {
                    let _ = writeln!(std::io::stderr().lock(), "pixfuse: {}", sanitize(&line));
                }
            }
        }
    }

    /// Follows the job's generation clock.
    fn track(&self, event: &Event) {
        let mut state = self.lock();
        match event {
            Event::Submitted { .. } => {
                state.generating_since = Some(Instant::now());
                state.waiting = true;
            }
            Event::Polled {
                elapsed, status, ..
            } => {
                if state.generating_since.is_none() {
                    state.generating_since = Instant::now().checked_sub(*elapsed);
                }
                state.waiting = !status.is_final();
            }
            Event::Ready { .. } | Event::Downloading { .. } | Event::AlreadyDone { .. } => {
                state.waiting = false;
            }
            _ => {}
        }
    }

    /// Log mode: the line an event is worth, if any, never the same twice in a row.
    fn log_line(&self, event: &Event) -> Option<String> {
        let mut state = self.lock();
        let mut line = match event {
            // Bytes are noise; that downloading started is news.
            Event::Downloading { total, .. } => {
                if std::mem::replace(&mut state.downloading, true) {
                    return None;
                }
                match total {
                    Some(total) => format!("downloading ({total} bytes)"),
                    None => "downloading".to_owned(),
                }
            }
            // A poll is news only when the status changed.
            Event::Polled { status, .. } | Event::Callback { status, .. } => {
                if state.last_status.replace(*status) == Some(*status) {
                    return None;
                }
                event.to_string()
            }
            _ => event.to_string(),
        };
        if let (
            Event::Polled {
                elapsed,
                status: JobStatus::Generating,
                ..
            },
            Some(expected),
        ) = (event, state.expected)
        {
            let _ = write!(
                line,
                "; {} ({})",
                eta::remaining(expected.total, *elapsed),
                basis(expected)
            );
        }
        if state.last_line.as_deref() == Some(line.as_str()) {
            return None;
        }
        state.last_line = Some(line.clone());
        Some(line)
    }

    /// The estimate after the state on the live line (`  · about 40 s left`).
    fn estimate(&self) -> Option<String> {
        let state = self.lock();
        let (true, Some(expected), Some(since)) =
            (state.waiting, state.expected, state.generating_since)
        else {
            return None;
        };
        Some(format!(
            "  · {}",
            eta::remaining(expected.total, since.elapsed())
        ))
    }
}

/// What the estimate rests on, for log lines.
fn basis(expected: Expected) -> String {
    match expected.from_jobs {
        0 => format!("usually {}", eta::rough(expected.total)),
        n => format!(
            "{} here took {} at the median",
            pixfuse_core::text::plural(n as u64, "similar job"),
            eta::rough(expected.total)
        ),
    }
}

/// `⠋  12s submitted · about 40 s left`: the one clock is the bar's, from the start.
fn style(inner: &Arc<Inner>) -> ProgressStyle {
    let weak = Arc::downgrade(inner);
    let estimate = move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        if let Some(text) = weak.upgrade().and_then(|inner| inner.estimate()) {
            let _ = w.write_str(&text);
        }
    };
    ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}{estimate}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("estimate", estimate)
}

/// Facts worth keeping on screen once the live line moves on.
fn lasting(event: &Event) -> bool {
    matches!(
        event,
        Event::Warning { .. }
            | Event::Submitted { .. }
            | Event::Downloaded { .. }
            | Event::Uploaded { .. }
            | Event::UploadReused { .. }
            | Event::VideoUploaded { .. }
            | Event::VideoUploadReused { .. }
            | Event::Continuing { .. }
            | Event::AlreadyDone { .. }
            | Event::HeldElsewhere { .. }
            | Event::WaitingForSlot { .. }
            | Event::TakenOver { .. }
            | Event::Superseding { .. }
            | Event::Abandoned { .. }
            | Event::Reuploading { .. }
            | Event::NewTraceId { .. }
            | Event::Retrying { .. }
    )
}

/// The job's state in words, for a live line or a batch row (`uploading dog.png`,
/// `submitted`, `generating`, `downloading 1.2/3.4 MiB`); `None` when the event changes
/// nothing a reader cares about.
pub fn state_of(event: &Event) -> Option<String> {
    Some(match event {
        Event::Uploading { path, .. } => format!(
            "uploading {}",
            path.file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy()
        ),
        Event::Uploaded { path, .. }
        | Event::UploadReused { path, .. }
        | Event::VideoUploaded { path, .. }
        | Event::VideoUploadReused { path, .. } => format!(
            "uploaded {}",
            path.file_name()
                .unwrap_or(path.as_os_str())
                .to_string_lossy()
        ),
        Event::Journaled { .. } => "submitting".to_owned(),
        Event::Submitted { .. } | Event::Continuing { .. } | Event::TakenOver { .. } => {
            "submitted".to_owned()
        }
        Event::Polled { status, .. } | Event::Callback { status, .. } => {
            status.describe().to_owned()
        }
        Event::HeldElsewhere { .. } => "waiting for another pixfuse process".to_owned(),
        Event::WaitingForSlot { in_use, limit, .. } => {
            format!("waiting for an account slot: {in_use} of {limit} in use")
        }
        Event::Ready { .. } => "downloading".to_owned(),
        Event::Downloading {
            received,
            total: Some(total),
        } => format!("downloading {}", fraction(*received, *total)),
        Event::Downloading { .. } => "downloading".to_owned(),
        Event::Downloaded { .. } | Event::SidecarWritten { .. } | Event::AlreadyDone { .. } => {
            "saved".to_owned()
        }
        Event::Retrying { attempt, limit, .. } => match limit {
            Some(limit) => format!("retrying (attempt {attempt} of {limit})"),
            None => format!("retrying (attempt {attempt})"),
        },
        _ => return None,
    })
}

/// `1.2/3.4 MiB`, or `120/480 KiB` for a small video.
fn fraction(received: u64, total: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if total as f64 >= MIB {
        format!("{:.1}/{:.1} MiB", received as f64 / MIB, total as f64 / MIB)
    } else {
        format!("{}/{} KiB", received / 1024, total.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn log_mode() -> Inner {
        Inner {
            bar: None,
            quiet: false,
            state: Mutex::new(State::default()),
        }
    }

    fn polled(status: JobStatus, secs: u64, polls: u32) -> Event {
        Event::Polled {
            video_id: 7,
            status,
            elapsed: Duration::from_secs(secs),
            polls,
        }
    }

    #[test]
    fn off_a_terminal_each_state_is_said_once() {
        let p = log_mode();
        let lines: Vec<String> = [
            polled(JobStatus::Generating, 1, 1),
            polled(JobStatus::Generating, 2, 2),
            polled(JobStatus::Generating, 30, 10),
            Event::Ready {
                video_id: 7,
                url: "https://x/v.mp4".into(),
            },
            Event::Downloading {
                received: 10,
                total: Some(100),
            },
            Event::Downloading {
                received: 100,
                total: Some(100),
            },
            Event::Downloaded {
                path: PathBuf::from("out.mp4"),
                bytes: 100,
            },
        ]
        .iter()
        .filter_map(|e| p.log_line(e))
        .collect();
        assert_eq!(
            lines,
            [
                "video 7: generating after 1.0s (1 poll)",
                "video 7 is ready",
                "downloading (100 bytes)",
                "saved out.mp4 (100 bytes)",
            ]
        );
    }

    #[test]
    fn the_estimate_rides_on_the_status_line() {
        let p = log_mode();
        p.lock().expected = Some(Expected {
            total: Duration::from_secs(45),
            from_jobs: 0,
        });
        assert_eq!(
            p.log_line(&polled(JobStatus::Generating, 3, 1)).as_deref(),
            Some("video 7: generating after 3.0s (1 poll); about 40 s left (usually 45 s)")
        );
        let p = log_mode();
        p.lock().expected = Some(Expected {
            total: Duration::from_secs(20),
            from_jobs: 3,
        });
        assert_eq!(
            p.log_line(&polled(JobStatus::Generating, 19, 4)).as_deref(),
            Some(
                "video 7: generating after 19.0s (4 polls); about 5 s left (3 similar jobs \
                 here took 20 s at the median)"
            )
        );
    }

    #[test]
    fn states_read_as_words() {
        assert_eq!(
            state_of(&Event::Uploading {
                path: PathBuf::from("img/dog.png"),
                bytes: 9
            })
            .as_deref(),
            Some("uploading dog.png")
        );
        assert_eq!(
            state_of(&polled(JobStatus::Generating, 1, 1)).as_deref(),
            Some("generating")
        );
        assert_eq!(
            state_of(&Event::Downloading {
                received: 1024 * 1024,
                total: Some(3 * 1024 * 1024)
            })
            .as_deref(),
            Some("downloading 1.0/3.0 MiB")
        );
        assert_eq!(
            state_of(&Event::Downloading {
                received: 10 * 1024,
                total: Some(48 * 1024)
            })
            .as_deref(),
            Some("downloading 10/48 KiB")
        );
        assert_eq!(
            state_of(&Event::Retrying {
                what: "POST /x".into(),
                attempt: 2,
                limit: Some(5),
                delay: Duration::from_secs(2),
                reason: "connection refused".into(),
            })
            .as_deref(),
            Some("retrying (attempt 2 of 5)")
        );
    }
}
