//! `cargo xtask <task>`: the project's own tooling. Keep dependencies few: this compiles before
//! every task runs.

mod ci;
mod codegen;
mod layering;
mod package_check;
mod spec_probe;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  codegen [--check]   write (or check) the reviewable copy of what core's build.rs generates
  spec-lint           fail on spec mistakes and typify hazards
  spec-probe          prove that editing spec/ alone adds a model (validate, estimate, models,
                      a sandbox run) and an aspect ratio
  layering            pixfuse-core's dependencies and sources stay pure
  package-check [--verify]
                      package the published crates (--verify: with cargo's own verification
                      build); a crate outside the workspace that depends on the packaged
                      pixfuse-core alone (no tokio, no reqwest) validates the seed request
  ci                  everything CI runs: fmt, clippy, rustdoc, codegen --check, spec-lint, layering,
                      every test in the workspace, package-check, the README's first command,
                      spec-probe
  bench               run the benchmarks whose figures BENCHMARKS.md records
  man [DIR]           write the man pages (pixfuse.1, pixfuse-run.1, …) into DIR
                      [default: target/man]
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    match args.first().map(String::as_str) {
        Some("codegen") => codegen::run(flag("--check")),
        Some("spec-lint") => spec_lint(),
        Some("spec-probe") => spec_probe::run(),
        Some("layering") => layering::run(),
        Some("package-check") => package_check::run(flag("--verify")),
        Some("ci") => ci::run(),
        Some("bench") => ci::bench(),
        Some("man") => man(args.get(1).map(String::as_str)),
        Some("-h" | "--help" | "help") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown task {other:?}\n\n{USAGE}"),
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub fn spec_dir() -> PathBuf {
    root().join("spec")
}

fn spec_lint() -> Result<()> {
    let problems = pixfuse_codegen::lint(&spec_dir());
    if problems.is_empty() {
        println!("spec-lint: spec/ is clean");
        return Ok(());
    }
    for p in &problems {
        eprintln!("spec-lint: {p}");
    }
    bail!("{} problem(s) in spec/", problems.len())
}

/// `cargo xtask man [DIR]`: the binary writes its own pages (clap_mangen over its command line),
/// so xtask needs no dependency on the CLI.
fn man(dir: Option<&str>) -> Result<()> {
    let dir = dir.map_or_else(|| root().join("target/man"), PathBuf::from);
    let dir = dir.to_string_lossy();
    cargo(&[
        "run",
        "--quiet",
        "-p",
        "pixfuse-cli",
        "--",
        "man",
        "--out-dir",
        &dir,
    ])
}

/// Runs `cargo` with `args` from the workspace root, failing on a non-zero exit.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_env(args, &[])
}

/// [`cargo`] with extra environment variables.
pub fn cargo_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    eprintln!("$ {}cargo {}", shown.concat(), args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
