//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls this), in order of speed.

use std::process::Command;

use anyhow::{Result, ensure};

use crate::cargo;

pub fn run() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // rustdoc: broken links and malformed docs fail (core's and codegen's missing_docs and
    // unreachable_pub warnings are already denied by clippy's -D warnings above). Libraries
    // only: the CLI's binary shares the facade's crate name `pixfuse`.
    crate::cargo_env(
        &["doc", "--workspace", "--no-deps", "--lib", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    crate::codegen::run(true)?;
    crate::spec_lint()?;
    crate::layering::run()?;
    if has_nextest() {
        cargo(&[
            "nextest",
            "run",
            "--workspace",
            "--locked",
            "--no-fail-fast",
        ])?;
        cargo(&["test", "--workspace", "--locked", "--doc"])?;
    } else {
        cargo(&["test", "--workspace", "--locked", "--no-fail-fast"])?;
    }
    crate::package_check::run(false)?;
    readme_main_job()?;
    // Last: it builds the binary against an edited spec in the shared target dir, so anything
    // after it would rebuild pixfuse's crates once more.
    crate::spec_probe::run()?;
    println!("xtask ci: all checks passed");
    Ok(())
}

/// The README's first command, as a newcomer runs it: the whole job against the sandbox.
/// (Its own state directory, so CI never touches the user's journal.)
fn readme_main_job() -> Result<()> {
    let dir = crate::root().join("target/readme");
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("dog-in-room.mp4");
    let (out_arg, state_arg) = (
        out.display().to_string(),
        dir.join("state").display().to_string(),
    );
    cargo(&[
        "run",
        "--locked",
        "--quiet",
        "-p",
        "pixfuse-cli",
        "--",
        "run",
        "--sandbox",
        "examples/dog-in-room.json",
        "-o",
        &out_arg,
        "--state-dir",
        &state_arg,
    ])?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    ensure!(
        size > 0,
        "the README's first command left no video at {}",
        out.display()
    );
    ensure!(
        dir.join("dog-in-room.mp4.json").exists(),
        "the README's first command left no sidecar"
    );
    println!("readme: the main job produced a {size}-byte video and its sidecar");
    Ok(())
}

pub fn bench() -> Result<()> {
    cargo(&["bench", "--workspace", "--locked"])?;
    // Issue 7's slot-utilisation figure: M=40 jobs, L=5 slots, T=2 s on the sandbox.
    cargo(&[
        "run",
        "--locked",
        "-p",
        "pixfuse-e2e",
        "--example",
        "batch_bench",
        "--",
        "40",
        "5",
        "2000",
        "fixed",
    ])?;
    // Issue 16's figures need a PostgreSQL server (`.ci/run` starts one for the tests).
    if std::env::var_os("PIXFUSE_TEST_POSTGRES_URL").is_none() {
        println!(
            "bench: shared_bench skipped: PIXFUSE_TEST_POSTGRES_URL is not set (source \
             .ci/postgres.sh && pg_start starts a throw-away server)"
        );
        return Ok(());
    }
    cargo(&[
        "run",
        "--locked",
        "-p",
        "pixfuse-e2e",
        "--example",
        "shared_bench",
        "--",
        "60",
        "3",
        "1000",
        "2000",
    ])
}

fn has_nextest() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
