//! Rendering progress events on stderr: a spinner on a terminal, plain log lines otherwise,
//! nothing with `-q`. Stdout stays reserved for the result.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pixfuse::{Event, JobStatus};
use pixfuse_core::text::sanitize;

/// Where events go.
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// Last poll status logged, so log mode prints changes (and every tenth poll), not every
    /// poll.
    last_status: Mutex<Option<JobStatus>>,
}

impl Progress {
    /// A spinner when stderr is a terminal, else line logging (unless `quiet`).
    pub fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            quiet,
            last_status: Mutex::new(None),
        }
    }

    /// Shows one event (its text may quote a server: it is sanitised first).
    pub fn event(&self, event: &Event) {
        if self.quiet {
            return;
        }
        let text = || sanitize(&event.to_string()).into_owned();
        match &self.bar {
            Some(bar) => match event {
                // Lasting facts are printed above the spinner; the rest only updates it.
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
                | Event::TakenOver { .. }
                | Event::Superseding { .. }
                | Event::Abandoned { .. }
                | Event::Reuploading { .. }
                | Event::NewTraceId { .. } => bar.println(text()),
                Event::Downloading {
                    received,
                    total: Some(total),
                } => {
                    bar.set_message(format!(
                        "downloading {}/{} KiB",
                        received / 1024,
                        total / 1024
                    ));
                }
                _ => bar.set_message(text()),
            },
            None => {
                if self.worth_a_line(event) {
                    let _ = writeln!(std::io::stderr().lock(), "pixfuse: {}", text());
                }
            }
        }
    }

    /// In log mode: byte counts are noise, and a poll is news only when its status changed.
    fn worth_a_line(&self, event: &Event) -> bool {
        match event {
            Event::Downloading { .. } => false,
            Event::Polled { status, polls, .. } => {
                let mut last = self
                    .last_status
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let changed = last.replace(*status) != Some(*status);
                changed || polls % 10 == 0
            }
            _ => true,
        }
    }

    /// A line that is not an event (a note, a hint).
    pub fn note(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = &*sanitize(text);
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr().lock(), "pixfuse: {text}");
            }
        }
    }

    /// Removes the spinner before the result is printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
