//! Prints whether pixfuse-core, as built from the current spec, accepts the model × aspect ratio
//! of a request given as JSON in argv[1]. Used by `cargo xtask spec-probe`.

use pixfuse_core::CAPABILITIES;
use pixfuse_core::wire::FusionGenerateRequest;

fn main() {
    let Some(json) = std::env::args().nth(1) else {
        eprintln!("usage: probe '<request json>'");
        std::process::exit(2);
    };
    let request: FusionGenerateRequest = match serde_json::from_str(&json) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("probe: not a request: {e}");
            std::process::exit(2);
        }
    };
    let accepted = CAPABILITIES
        .model(&request.model)
        .is_some_and(|caps| caps.aspect_ratios.contains(&request.aspect_ratio));
    println!(
        "{} ({} on {})",
        if accepted { "valid" } else { "invalid" },
        request.aspect_ratio,
        request.model
    );
}
