//! Copies the request schema from spec/ (or `$PIXFUSE_SPEC_DIR`, as pixfuse-core's build does)
//! into OUT_DIR: the sandbox judges requests by it, so both always read the same spec.

use std::path::PathBuf;

const SCHEMA: &str = "fusion-generate.request.schema.json";

fn main() {
    println!("cargo:rerun-if-env-changed=PIXFUSE_SPEC_DIR");
    let spec_dir = match std::env::var_os("PIXFUSE_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
            .join("../../spec"),
    };
    let source = spec_dir.join(SCHEMA);
    println!("cargo:rerun-if-changed={}", source.display());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(e) = std::fs::copy(&source, out_dir.join(SCHEMA)) {
        eprintln!("pixfuse-sandbox: cannot copy {}: {e}", source.display());
        std::process::exit(1);
    }
}
