//! `cargo xtask ci`: exactly what CI runs (`.ci/run` calls this), in order of speed.

use std::process::Command;

use anyhow::Result;

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
    crate::codegen::run(true)?;
    crate::spec_lint()?;
    crate::layering::run()?;
    crate::spec_probe::run()?;
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
    println!("xtask ci: all checks passed");
    Ok(())
}

pub fn bench() -> Result<()> {
    cargo(&["bench", "--workspace", "--locked"])
}

fn has_nextest() -> bool {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}
