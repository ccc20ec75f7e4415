//! `cargo xtask codegen [--check]`: the checked-in, rustfmt'ed copy of what build.rs generates,
//! so a spec change arrives as a reviewable diff (rust-analyzer's `cargo codegen` pattern).

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub fn run(check: bool) -> Result<()> {
    let generated = pixfuse_codegen::generate(&crate::spec_dir())?;
    let out_dir = crate::root().join("crates/core/generated");
    std::fs::create_dir_all(&out_dir)?;
    let mut stale = Vec::new();
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
            "generated code is stale: {}\nrun `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
    if check {
        println!("codegen: checked-in copy is fresh");
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
