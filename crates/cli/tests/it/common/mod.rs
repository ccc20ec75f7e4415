//! Running the `pixfuse` binary against the mock vendor, hermetically: no inherited pixfuse
//! environment, a private HOME, a temporary state directory, tiny poll and retry intervals.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub use pixfuse_e2e::*;

/// Every variable that could leak in from the developer's shell.
const CLEARED: &[&str] = &[
    "PIXFUSE_API_KEY",
    "PIXVERSE_API_KEY",
    "QUICKROUTER_API_KEY",
    "PIXFUSE_PROVIDER",
    "PIXFUSE_BASE_URL",
    "PIXFUSE_STATE_DIR",
    "PIXFUSE_CONFIG",
    "PIXFUSE_PROFILE",
    "PIXFUSE_WEBHOOK_SECRET",
    "PIXFUSE_JOURNAL_URL",
    "PIXFUSE_ACCOUNT_SLOTS",
    "RUST_LOG",
    // Tables fit COLUMNS when it is set.
    "COLUMNS",
];

/// A scratch directory with a state dir and a HOME.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// `pixfuse` with the key in the environment and the vendor's base URL.
    pub fn cmd(&self, vendor_uri: &str) -> std::process::Command {
        let mut cmd = self.bare();
        cmd.env("PIXFUSE_API_KEY", KEY)
            .arg("--base-url")
            .arg(vendor_uri)
            .arg("--poll-interval")
            .arg("10ms")
            .arg("--retry-base-delay")
            .arg("1ms");
        cmd
    }

    /// `pixfuse` with no key and no base URL.
    pub fn bare(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pixfuse"));
        for var in CLEARED {
            cmd.env_remove(var);
        }
        let home = self.dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        cmd.env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .arg("--state-dir")
            .arg(self.state());
        cmd
    }
}

/// Runs to completion, killing the child if it outlives `limit`.
pub fn run(mut cmd: std::process::Command, limit: Duration) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "pixfuse ran longer than {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs with a 30 s limit.
pub fn exec(cmd: std::process::Command) -> Output {
    run(cmd, Duration::from_secs(30))
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The single JSON object on stdout.
pub fn json(out: &Output) -> serde_json::Value {
    let text = stdout(out);
    assert_eq!(
        text.trim().lines().count(),
        1,
        "expected one JSON line on stdout, got:\n{text}\nstderr:\n{}",
        stderr(out)
    );
    serde_json::from_str(text.trim()).unwrap()
}

/// Asserts the exit code, showing the output when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, expected: i32) {
    assert_eq!(
        code(out),
        expected,
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}
