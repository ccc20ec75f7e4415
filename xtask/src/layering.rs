//! The pure crates stay pure: pixfuse-core (rules and state machines) and pixfuse-webhook (the
//! callback verifier) have no async runtime or HTTP stack among their normal dependencies, and
//! no filesystem, network, environment or clock in their sources.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// (package, sources) of every crate that must stay pure.
const PURE: &[(&str, &str)] = &[
    ("pixfuse-core", "crates/core/src"),
    ("pixfuse-webhook", "crates/webhook/src"),
];
const FORBIDDEN_CRATES: &[&str] = &["tokio", "reqwest", "hyper"];
const FORBIDDEN_CALLS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::env",
    "Instant::now",
    "SystemTime::now",
];

pub fn run() -> Result<()> {
    for (package, sources) in PURE {
        check(package, sources)?;
        println!("layering: {package} is pure");
    }
    Ok(())
}

fn check(package: &str, sources: &str) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}",
        ])
        .current_dir(crate::root())
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let tree = String::from_utf8(out.stdout)?;
    let bad: Vec<&str> = tree
        .lines()
        .filter(|l| FORBIDDEN_CRATES.contains(&l.split_whitespace().next().unwrap_or_default()))
        .collect();
    if !bad.is_empty() {
        bail!("{package}'s normal dependencies include {}", bad.join(", "));
    }
    let mut hits = Vec::new();
    scan(&crate::root().join(sources), &mut hits)?;
    if !hits.is_empty() {
        bail!(
            "{package}'s sources must not touch the filesystem, network, environment or clock:\n{}",
            hits.join("\n")
        );
    }
    Ok(())
}

fn scan(dir: &Path, hits: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            scan(&path, hits)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)?;
            for (n, line) in text.lines().enumerate() {
                if let Some(call) = FORBIDDEN_CALLS.iter().find(|c| line.contains(*c)) {
                    hits.push(format!("  {}:{}: {call}", path.display(), n + 1));
                }
            }
        }
    }
    Ok(())
}
