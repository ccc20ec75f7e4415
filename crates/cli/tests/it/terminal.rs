//! The progress display as a person sees it: `pixfuse --sandbox` run inside a pseudo-terminal,
//! its redraws split into frames. Bounded: the child is killed after [`LIMIT`].

use std::io::Read;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::common::*;

/// The longest a run may take (the sandbox generates a 5 s 540p video in about 3 s).
const LIMIT: Duration = Duration::from_secs(60);

/// The terminal's width.
const COLS: u16 = 100;

/// Runs pixfuse in a 100×30 terminal in `dir`; returns its exit code and all it drew.
fn in_terminal(s: &Scratch, args: &[&str]) -> (u32, String) {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 30,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_pixfuse"));
    cmd.env_clear();
    let home = s.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    cmd.env("HOME", &home);
    cmd.env("XDG_CONFIG_HOME", home.join(".config"));
    cmd.env("TERM", "xterm-256color");
    cmd.env("NO_COLOR", "1");
    cmd.cwd(s.path());
    cmd.arg("--state-dir");
    cmd.arg(s.state());
    for arg in args {
        cmd.arg(arg);
    }
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    // Only the child holds the terminal now: its exit ends the reads.
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Linux answers EIO once the child side is closed: that is the end too.
        while let Ok(n @ 1..) = reader.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut drawn = Vec::new();
    let status = loop {
        while let Ok(chunk) = rx.try_recv() {
            drawn.extend(chunk);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            child.kill().unwrap();
            panic!(
                "pixfuse ran longer than {LIMIT:?} in the terminal; it drew:\n{}",
                String::from_utf8_lossy(&drawn)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // What was written just before the exit.
    while let Ok(chunk) = rx.recv_timeout(Duration::from_millis(500)) {
        drawn.extend(chunk);
    }
    drop(pair.master);
    (
        status.exit_code(),
        String::from_utf8_lossy(&drawn).into_owned(),
    )
}

/// The distinct lines the terminal showed, in order: the text between carriage returns and
/// newlines, with the escape sequences of the redraws removed.
fn frames(drawn: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = drawn.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, then a final byte in @..~.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            // A redraw starts a new line of its own.
            plain.push('\n');
            continue;
        }
        plain.push(if c == '\r' { '\n' } else { c });
    }
    // indicatif pads each row to the width and lets the terminal wrap it.
    let rows = plain.lines().flat_map(|piece| {
        let chars: Vec<char> = piece.chars().collect();
        chars
            .chunks(COLS as usize)
            .map(|row| row.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    let mut seen: Vec<String> = Vec::new();
    for row in rows {
        let line = row.trim_end();
        if line.trim().is_empty() {
            continue;
        }
        if seen.last().map(String::as_str) != Some(line) {
            seen.push(line.to_owned());
        }
    }
    seen
}

/// The seconds of the clock at the start of a live line (`⠁   2s generating`).
fn clock(frame: &str) -> Option<u64> {
    let mut words = frame.split_whitespace();
    let _spinner = words.next()?;
    words.next()?.strip_suffix('s')?.parse().ok()
}

fn job_args(job: &Path) -> Vec<&str> {
    vec![
        "--sandbox",
        "--poll-interval",
        "200ms",
        "run",
        job.to_str().unwrap(),
        "-o",
        "clip.mp4",
    ]
}

#[test]
fn a_single_job_shows_one_clock_its_state_and_the_time_left() {
    let s = Scratch::new();
    let job = write_job(s.path());
    let (code, drawn) = in_terminal(&s, &job_args(&job));
    let frames = frames(&drawn);
    let shown = frames.join("\n");
    assert_eq!(code, 0, "{shown}");
    let live: Vec<&String> = frames.iter().filter(|f| clock(f).is_some()).collect();
    // Several redraws, the clock moving, the state in words with the estimate beside it.
    assert!(live.len() >= 3, "too few frames:\n{shown}");
    let clocks: std::collections::BTreeSet<u64> = live.iter().filter_map(|f| clock(f)).collect();
    assert!(clocks.len() >= 2, "the clock never moved:\n{shown}");
    assert!(
        live.iter()
            .any(|f| f.contains("generating  · about") && f.contains("left")),
        "no estimate beside the state:\n{shown}"
    );
    assert!(
        live.iter().any(|f| f.contains("uploading dog.png")),
        "{shown}"
    );
    // One clock: the live line never carries the poll's own timer.
    assert!(
        live.iter().all(|f| !f.contains(" after ")),
        "a second clock:\n{shown}"
    );
    // Lasting facts stay above the live line; the result follows it.
    assert!(shown.contains("submitted: video id"), "{shown}");
    assert!(shown.contains("done: video"), "{shown}");
}

#[test]
fn a_batch_keeps_a_line_per_finished_job_and_counts_as_the_summary() {
    let s = Scratch::new();
    let batch = write_batch(s.path(), 3, |_, _| {});
    let (code, drawn) = in_terminal(
        &s,
        &[
            "--sandbox",
            "--poll-interval",
            "200ms",
            "batch",
            batch.to_str().unwrap(),
            "--out-dir",
            "out",
            "--concurrency",
            "2",
        ],
    );
    let frames = frames(&drawn);
    let shown = frames.join("\n");
    assert_eq!(code, 0, "{shown}");
    // The overall bar redraws as jobs finish, counting in the summary's words.
    assert!(frames.iter().any(|f| f.contains("] 1/3 1 done")), "{shown}");
    assert!(frames.iter().any(|f| f.contains("] 3/3 3 done")), "{shown}");
    // Rows show states, not raw events.
    assert!(
        frames
            .iter()
            .any(|f| f.contains("take-0") && f.contains("generating")),
        "{shown}"
    );
    assert!(
        !shown.contains("poll)"),
        "a raw poll event on a row:\n{shown}"
    );
    // Each finished job leaves a line: mark, name, time, credits, file.
    for i in 0..3 {
        let row = frames
            .iter()
            .find(|f| f.starts_with(&format!("✓ take-{i:02}  ")))
            .unwrap_or_else(|| panic!("no line for take-{i:02}:\n{shown}"));
        assert!(row.contains(" s  ") && row.contains(" credits  "), "{row}");
        assert!(row.ends_with(&format!("take-{i:02}.mp4")), "{row}");
    }
    assert!(shown.contains("batch summary (3 lines)"), "{shown}");
    assert!(!shown.contains("concurrency now"), "{shown}");
}
