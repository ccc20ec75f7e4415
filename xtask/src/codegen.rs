//! `cargo xtask codegen [--check]`: the checked-in, rustfmt'ed copy of what build.rs generates,
//! so a spec change arrives as a reviewable diff (rust-analyzer's `cargo codegen` pattern), and
//! the copy of the spec that travels inside the packaged pixfuse-core (`crates/core/spec/`),
//! from which a packaged build generates the same code.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// Where the packaged copy of the spec lives, relative to the workspace root.
pub const PACKAGED_SPEC: &str = "crates/core/spec";

/// Spec files that travel with the package though codegen does not read them.
const PACKAGED_DOCS: &[&str] = &["SOURCES.md"];

pub fn run(check: bool) -> Result<()> {
    let spec_dir = crate::spec_dir();
    let generated = pixfuse_codegen::generate(&spec_dir)?;
    let out_dir = crate::root().join("crates/core/generated");
    std::fs::create_dir_all(&out_dir)?;
    let mut stale = packaged_spec(&spec_dir, &generated.inputs, check)?;
    for file in &generated.files {
        let contents = rustfmt(&file.contents)?;
        let path = out_dir.join(file.name);
        let current = std::fs::read_to_string(&path)
            .unwrap_or_default()
            .replace("\r\n", "\n");
        if current == contents {
            continue;
        }
        if check {
            stale.push(path.display().to_string());
        } else {
            std::fs::write(&path, contents)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("codegen: updated {}", path.display());
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated code or the packaged spec copy is stale: {}\nrun `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
    if check {
        println!("codegen: the generated code and {PACKAGED_SPEC}/ match spec/");
    }
    Ok(())
}

/// Brings `crates/core/spec/` in line with spec/ (every file codegen reads, and the docs);
/// returns what differs in check mode.
fn packaged_spec(spec_dir: &Path, inputs: &[PathBuf], check: bool) -> Result<Vec<String>> {
    let copy_dir = crate::root().join(PACKAGED_SPEC);
    let mut wanted = BTreeSet::new();
    for input in inputs {
        let relative = input
            .strip_prefix(spec_dir)
            .with_context(|| format!("{} is outside spec/", input.display()))?;
        wanted.insert(relative.to_path_buf());
    }
    wanted.extend(PACKAGED_DOCS.iter().map(PathBuf::from));
    let mut stale = Vec::new();
    for relative in &wanted {
        let (from, to) = (spec_dir.join(relative), copy_dir.join(relative));
        let source = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        if std::fs::read(&to).is_ok_and(|copy| copy == source) {
            continue;
        }
        if check {
            stale.push(to.display().to_string());
        } else {
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&to, &source).with_context(|| format!("writing {}", to.display()))?;
            println!("codegen: updated {}", to.display());
        }
    }
    let mut present = Vec::new();
    files_under(&copy_dir, Path::new(""), &mut present)?;
    for relative in present.iter().filter(|p| !wanted.contains(*p)) {
        let path = copy_dir.join(relative);
        if check {
            stale.push(format!("{} (not in spec/)", path.display()));
        } else {
            std::fs::remove_file(&path)?;
            println!("codegen: removed {}", path.display());
        }
    }
    Ok(stale)
}

fn files_under(dir: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join(relative)) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            files_under(dir, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn rustfmt(source: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .context("rustfmt stdin")?
        .write_all(source.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("rustfmt failed on generated code");
    }
    Ok(String::from_utf8(output.stdout)?)
}
