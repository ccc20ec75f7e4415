//! Facts for `pixfuse --version`: the commit, the build date, and the date the capability table
//! (spec/capabilities.json, what goes stale as the vendor adds models) last changed. Outside a git
//! checkout (a source package, a tarball) or without git, each falls back to `unknown`: the build
//! never fails for want of them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let git = |args: &[&str]| git(&manifest, args);
    let table = manifest.join("../../spec/capabilities.json");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    // The table's date only when this crate sits in the workspace's checkout beside spec/.
    let table_date = table
        .is_file()
        .then(|| {
            git(&[
                "log",
                "-1",
                "--format=%cs",
                "--",
                "../../spec/capabilities.json",
            ])
        })
        .flatten();
    let unknown = || "unknown".to_owned();
    println!(
        "cargo:rustc-env=PIXFUSE_COMMIT={}",
        commit.unwrap_or_else(unknown)
    );
    println!("cargo:rustc-env=PIXFUSE_BUILD_DATE={}", build_date());
    println!(
        "cargo:rustc-env=PIXFUSE_TABLE_DATE={}",
        table_date.unwrap_or_else(unknown)
    );

    // Run again when HEAD moves (a checkout, or a commit on the current branch) or the table
    // changes. A path that does not exist would make cargo run this on every build, so only
    // existing ones are named.
    let top = manifest.join("../..");
    let mut watched = vec![manifest.join("build.rs"), table];
    // A worktree's `.git` is a file naming its git dir. A target directory copied from another
    // checkout remembers that checkout's git dir; this file, newer than that build, makes
    // cargo look again (and learn this checkout's).
    let dot_git = top.join(".git");
    if dot_git.is_file() {
        watched.push(dot_git);
    }
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watched.push(Path::new(&dir).join("HEAD"));
    }
    if let (Some(common), Some(head)) = (
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]),
    ) {
        let common = PathBuf::from(common);
        // A detached HEAD names no ref: its git dir's HEAD (watched above) is the commit.
        if head.starts_with("refs/") {
            watched.push(ref_to_watch(&common, &common.join(&head)));
        }
        watched.push(common.join("packed-refs"));
    }
    let top = top.canonicalize().ok();
    for path in watched.iter().filter(|p| p.exists()) {
        println!(
            "cargo:rerun-if-changed={}",
            local(top.as_deref(), path).display()
        );
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
}

/// What to watch for the branch `loose` (`<git dir>/refs/heads/NAME`): the file, or, while the
/// ref is only in `packed-refs` (a fresh clone, after `git gc`), the nearest existing folder
/// on its way, where the next commit writes it.
fn ref_to_watch(common: &Path, loose: &Path) -> PathBuf {
    let mut path = loose;
    while !path.exists() && path != common {
        match path.parent() {
            Some(parent) => path = parent,
            None => break,
        }
    }
    path.to_path_buf()
}

/// `path` relative to this crate when it lies in this checkout (cargo resolves such paths
/// against the package, so a target directory moved to another checkout watches that one's
/// files), else as it is.
fn local(top: Option<&Path>, path: &Path) -> PathBuf {
    let inside = top.and_then(|top| {
        let rest = path.canonicalize().ok()?;
        Some(Path::new("../..").join(rest.strip_prefix(top).ok()?))
    });
    inside.unwrap_or_else(|| path.to_path_buf())
}

/// `git ARGS` in `dir`, its trimmed output when it succeeds with some.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// Today (UTC), or `SOURCE_DATE_EPOCH`'s day for a reproducible build, as YYYY-MM-DD.
fn build_date() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs())
        });
    match seconds {
        Some(s) => civil_date(s / 86_400),
        None => "unknown".to_owned(),
    }
}

/// Days since 1970-01-01 → YYYY-MM-DD (Howard Hinnant's civil_from_days).
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
