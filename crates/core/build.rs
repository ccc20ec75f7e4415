//! Generates pixfuse-core's types and tables from the spec into OUT_DIR.
//!
//! Which spec: `$PIXFUSE_SPEC_DIR` if set (spec-probe's edited copy); else, in a packaged crate
//! (cargo writes `Cargo.toml.orig` into every package), the copy that travels inside it under
//! `spec/`; else the workspace's `spec/`, the source of truth (`cargo xtask codegen --check`
//! keeps the packaged copy identical to it). The crate's own location is read when the script
//! runs, never baked in when it is compiled: a target dir shared between checkouts must not
//! point at another (perhaps deleted) checkout.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=PIXFUSE_SPEC_DIR");
    let Some(manifest_dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        fail("cargo sets CARGO_MANIFEST_DIR for build scripts; run this through cargo");
    };
    let spec_dir = match std::env::var_os("PIXFUSE_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None if manifest_dir.join("Cargo.toml.orig").is_file() => manifest_dir.join("spec"),
        None => manifest_dir.join("../../spec"),
    };
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("cargo sets OUT_DIR for build scripts; run this through cargo");
    };
    let generated = match pixfuse_codegen::generate(&spec_dir) {
        Ok(generated) => generated,
        Err(e) => {
            // Still watch the directory, so fixing the spec triggers a rebuild.
            println!("cargo:rerun-if-changed={}", spec_dir.display());
            fail(&format!(
                "cannot generate code from {}: {e}",
                spec_dir.display()
            ));
        }
    };
    for input in &generated.inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    for file in &generated.files {
        let path = out_dir.join(file.name);
        if let Err(e) = std::fs::write(&path, &file.contents) {
            fail(&format!("cannot write {}: {e}", path.display()));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("pixfuse-core: {message}");
    std::process::exit(1);
}
