//! Proves the brief's promise that a new aspect ratio (or model, or duration) is a change under
//! spec/ only: copy spec/, let v5 gain "2:3", build pixfuse-core against the copy through
//! `PIXFUSE_SPEC_DIR`, and check that the probe example now accepts a request it refused before.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

const PROBE_REQUEST: &str = r#"{"image_references":[{"type":"subject","img_id":1,"ref_name":"dog"}],
"prompt":"@dog runs ","model":"v5","duration":5,"quality":"540p","aspect_ratio":"2:3"}"#;

pub fn run() -> Result<()> {
    let root = crate::root();
    let work = root.join("target/spec-probe");
    let spec_copy = work.join("spec");
    let _ = std::fs::remove_dir_all(&spec_copy);
    copy_dir(&crate::spec_dir(), &spec_copy)?;

    let caps_path = spec_copy.join("capabilities.json");
    let mut caps: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&caps_path)?)?;
    let v5 = caps["models"]
        .as_array_mut()
        .and_then(|models| models.iter_mut().find(|m| m["model"] == "v5"))
        .context("capabilities.json has no v5 row")?;
    let ratios = v5["aspect_ratios"]["values"]
        .as_array_mut()
        .context("v5 has no aspect_ratios.values")?;
    ensure!(
        !ratios.iter().any(|r| r == "2:3"),
        "v5 already allows 2:3; pick another probe value"
    );
    ratios.push("2:3".into());
    std::fs::write(&caps_path, serde_json::to_string_pretty(&caps)?)?;

    let before = probe(&root, None)?;
    let after = probe(&root, Some(&spec_copy))?;
    println!("spec-probe: v5 + 2:3 with spec/: {before}; with the edited copy: {after}");
    ensure!(
        before.starts_with("invalid"),
        "the real spec should refuse 2:3 on v5, got {before}"
    );
    ensure!(
        after.starts_with("valid"),
        "the edited spec should accept 2:3 on v5, got {after}"
    );
    Ok(())
}

/// Builds and runs core's `probe` example (in its own target dir, so the main build stays warm).
fn probe(root: &Path, spec_dir: Option<&Path>) -> Result<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "run",
        "--quiet",
        "-p",
        "pixfuse-core",
        "--example",
        "probe",
        "--",
        PROBE_REQUEST,
    ])
    .env("CARGO_TARGET_DIR", root.join("target/spec-probe/target"))
    .current_dir(root);
    match spec_dir {
        Some(dir) => cmd.env("PIXFUSE_SPEC_DIR", dir),
        None => cmd.env_remove("PIXFUSE_SPEC_DIR"),
    };
    let out = cmd.output().context("running the probe example")?;
    if !out.status.success() {
        bail!("probe failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
