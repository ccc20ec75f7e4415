//! Prints whether pixfuse-core, as built from the current spec, accepts a request given as JSON
//! in argv[1] ("valid" or "invalid", then the error codes). Used by `cargo xtask spec-probe`.

use pixfuse_core::{ValidateOptions, validate_bytes};

fn main() {
    let Some(json) = std::env::args().nth(1) else {
        eprintln!("usage: probe '<request json>'");
        std::process::exit(2);
    };
    let validation = validate_bytes(json.as_bytes(), &ValidateOptions::default());
    let errors: Vec<String> = validation
        .errors()
        .map(|d| format!("{} at {}", d.code, d.path))
        .collect();
    let subject = validation.job.as_ref().map_or_else(String::new, |job| {
        format!(" ({} on {})", job.aspect_ratio, job.model)
    });
    if errors.is_empty() {
        println!("valid{subject}");
    } else {
        println!("invalid{subject}: {}", errors.join(", "));
    }
}
