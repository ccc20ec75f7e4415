//! `cargo xtask package-check`: the published crates package, and a stranger's crate that
//! depends on the packaged pixfuse-core alone validates the seed's example request offline.
//!
//! 1. `cargo package --no-verify` for pixfuse-codegen, pixfuse-core, pixfuse-webhook,
//!    pixfuse-transport and pixfuse (cargo's own verification would compile every dependency again in a second tree;
//!    step 3 verifies core's package by building it, and `--verify` runs cargo's as well).
//! 2. The core and codegen packages are unpacked outside the workspace, next to a throw-away
//!    binary crate that depends on that pixfuse-core (codegen patched in: it is not on
//!    crates.io yet), whose dependency tree must hold no tokio, reqwest or hyper.
//! 3. The binary validates `spec/examples/seed.json` and the example request on the seed page
//!    (`shared/seeds/` beside the checkout, when present), offline; both verdicts must equal
//!    `spec/examples/seed.expect.json`, and the two requests must be the same JSON.
//!
//! It builds in the workspace's target dir, so dependencies already built there are reused.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

const PACKAGES: &[&str] = &[
    "pixfuse-codegen",
    "pixfuse-core",
    "pixfuse-webhook",
    "pixfuse-transport",
    "pixfuse",
];
const FORBIDDEN: &[&str] = &["tokio", "reqwest", "hyper"];

const MAIN_RS: &str = r#"//! Validates each request file named on the command line with the packaged pixfuse-core and
//! prints one verdict per line: {"valid", "errors": [{path, code}], "warnings": [...]}.
use pixfuse_core::{Diagnostic, ValidateOptions, validate_bytes};

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v = validate_bytes(&bytes, &ValidateOptions::default());
        let list = |ds: Vec<&Diagnostic>| -> Vec<serde_json::Value> {
            ds.iter().map(|d| serde_json::json!({"path": d.path, "code": d.code})).collect()
        };
        let verdict = serde_json::json!({
            "valid": v.is_valid(),
            "errors": list(v.errors().collect()),
            "warnings": list(v.warnings().collect()),
        });
        println!("{verdict}");
    }
}
"#;

pub fn run(verify: bool) -> Result<()> {
    let root = crate::root();
    let mut args = vec!["package", "--locked", "--allow-dirty"];
    if !verify {
        args.push("--no-verify");
    }
    for p in PACKAGES {
        args.extend(["-p", p]);
    }
    crate::cargo(&args)?;

    let target = target_dir(&root);
    let work = std::env::temp_dir().join("pixfuse-package-check");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let version = workspace_version(&root)?;
    for name in ["pixfuse-core", "pixfuse-codegen"] {
        let file = target.join(format!("package/{name}-{version}.crate"));
        let status = Command::new("tar")
            .arg("-xzf")
            .arg(&file)
            .arg("-C")
            .arg(&work)
            .status()
            .context("running tar")?;
        ensure!(status.success(), "cannot unpack {}", file.display());
    }
    let app = work.join("app");
    std::fs::create_dir_all(app.join("src"))?;
    let core = work.join(format!("pixfuse-core-{version}"));
    let codegen = work.join(format!("pixfuse-codegen-{version}"));
    std::fs::write(
        app.join("Cargo.toml"),
        format!(
            r#"[package]
name = "package-check"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
pixfuse-core = {{ path = {core:?} }}
serde_json = "1"

# Not on crates.io yet: the packaged codegen stands in for the registry's.
[patch.crates-io]
pixfuse-codegen = {{ path = {codegen:?} }}

[workspace]
"#
        ),
    )?;
    std::fs::write(app.join("src/main.rs"), MAIN_RS)?;
    // The workspace's versions, so an offline resolve finds everything in the local cache.
    std::fs::copy(root.join("Cargo.lock"), app.join("Cargo.lock"))?;

    let tree = app_cargo(
        &app,
        &target,
        &[
            "tree",
            "--offline",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ],
    )?;
    let bad: Vec<&str> = tree
        .lines()
        .filter(|l| FORBIDDEN.contains(&l.split_whitespace().next().unwrap_or_default()))
        .collect();
    ensure!(
        bad.is_empty(),
        "a crate depending on pixfuse-core alone pulls in {}",
        bad.join(", ")
    );

    let seed = root.join("spec/examples/seed.json");
    let mut requests = vec![seed.clone()];
    match seed_page(&root)? {
        Some((page, example)) => {
            let committed: Value = serde_json::from_slice(&std::fs::read(&seed)?)?;
            ensure!(
                example == committed,
                "spec/examples/seed.json differs from the example on {}",
                page.display()
            );
            let path = work.join("seed-page-example.json");
            std::fs::write(&path, serde_json::to_vec_pretty(&example)?)?;
            requests.push(path);
        }
        None => println!("package-check: no shared/seeds beside the checkout; seed.json only"),
    }
    let mut run_args = vec!["run", "--offline", "--quiet", "--"];
    let names: Vec<String> = requests.iter().map(|p| p.display().to_string()).collect();
    run_args.extend(names.iter().map(String::as_str));
    let verdicts = app_cargo(&app, &target, &run_args)?;
    let expect: Value =
        serde_json::from_slice(&std::fs::read(root.join("spec/examples/seed.expect.json"))?)?;
    let lines: Vec<&str> = verdicts.lines().collect();
    ensure!(
        lines.len() == requests.len(),
        "expected {} verdicts, got:\n{verdicts}",
        requests.len()
    );
    for (path, line) in requests.iter().zip(lines) {
        let got: Value = serde_json::from_str(line)?;
        ensure!(
            got == expect,
            "the packaged pixfuse-core judged {} as {got}, spec/examples/seed.expect.json says {expect}",
            path.display()
        );
    }
    println!(
        "package-check: {} packaged; a crate depending on the packaged pixfuse-core alone (no {}) \
         validated {} seed request(s) offline as seed.expect.json says",
        PACKAGES.join(", "),
        FORBIDDEN.join("/"),
        requests.len()
    );
    Ok(())
}

/// The target dir cargo uses for this workspace (`CARGO_TARGET_DIR` or `target/`).
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root.join("target"), |d| root.join(d))
}

fn workspace_version(root: &Path) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let in_package = manifest
        .split("[workspace.package]")
        .nth(1)
        .context("Cargo.toml has no [workspace.package]")?;
    in_package
        .lines()
        .find_map(|l| {
            let value = l.trim().strip_prefix("version")?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_owned())
        })
        .context("[workspace.package] has no version")
}

/// The seed page (`shared/seeds/*` in the nearest ancestor that has one) and the example
/// request on it: the first JSON object that has `image_references`.
fn seed_page(root: &Path) -> Result<Option<(PathBuf, Value)>> {
    let Some(dir) = root
        .ancestors()
        .map(|a| a.join("shared/seeds"))
        .find(|d| d.is_dir())
    else {
        return Ok(None);
    };
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    pages.sort();
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        for (at, _) in text.match_indices('{') {
            let mut stream = serde_json::Deserializer::from_str(&text[at..]).into_iter::<Value>();
            if let Some(Ok(value)) = stream.next()
                && value.get("image_references").is_some()
            {
                return Ok(Some((page, value)));
            }
        }
    }
    bail!("{} has no page with an example request", dir.display())
}

/// Runs cargo in the throw-away crate with the workspace's target dir; its stdout.
fn app_cargo(app: &Path, target: &Path, args: &[&str]) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("$ (package-check) cargo {}", args.join(" "));
    let out = Command::new(cargo)
        .args(args)
        .current_dir(app)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("PIXFUSE_SPEC_DIR")
        .output()
        .context("running cargo for the throw-away crate")?;
    if !out.status.success() {
        bail!(
            "`cargo {}` failed in the throw-away crate:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
