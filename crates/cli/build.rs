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
    // changes; a path that does not exist would make cargo run this on every build.
    let mut watched = vec![PathBuf::from("build.rs"), table];
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watched.push(Path::new(&dir).join("HEAD"));
    }
    if let (Some(common), Some(head)) = (
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]),
    ) {
        watched.push(Path::new(&common).join(head));
        watched.push(Path::new(&common).join("packed-refs"));
    }
    for path in watched.iter().filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
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
