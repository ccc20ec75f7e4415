//! Generates pixfuse-core's types and tables from spec/ (or `$PIXFUSE_SPEC_DIR`) into OUT_DIR.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=PIXFUSE_SPEC_DIR");
    let spec_dir = match std::env::var_os("PIXFUSE_SPEC_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec"),
    };
    let out_dir =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for build scripts"));
    let generated = match pixfuse_codegen::generate(&spec_dir) {
        Ok(generated) => generated,
        Err(e) => {
            // Still watch the directory, so fixing the spec triggers a rebuild.
            println!("cargo:rerun-if-changed={}", spec_dir.display());
            eprintln!(
                "pixfuse-core: cannot generate code from {}: {e}",
                spec_dir.display()
            );
            std::process::exit(1);
        }
    };
    for input in &generated.inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    for file in &generated.files {
        let path = out_dir.join(file.name);
        if let Err(e) = std::fs::write(&path, &file.contents) {
            eprintln!("pixfuse-core: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}
