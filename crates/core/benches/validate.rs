//! Validation from bytes vs bare serde_json typed parse of the same bytes into the generated wire
//! type (issue 3: at most 1.5×). Run: `cargo bench -p pixfuse-core --bench validate`.

use divan::{Bencher, black_box};
use pixfuse_core::wire::FusionGenerateRequest;
use pixfuse_core::{ValidateOptions, validate_bytes};

fn main() {
    divan::main();
}

/// Typical requests: the vendor's own example, a small clean one, and a big seven-reference one.
const TYPICAL: &[&str] = &["seed", "c1-one-second", "v6-seven-refs-big-ids"];

fn example(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../../spec/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // One line, as requests arrive on the wire and in `--jsonl`.
    serde_json::to_vec(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap()
}

#[divan::bench(args = TYPICAL)]
fn serde_typed_parse(bencher: Bencher, name: &str) {
    let bytes = example(name);
    bencher
        .counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| serde_json::from_slice::<FusionGenerateRequest>(black_box(&bytes)).unwrap());
}

#[divan::bench(args = TYPICAL)]
fn validate(bencher: Bencher, name: &str) {
    let bytes = example(name);
    let opts = ValidateOptions::default();
    bencher
        .counter(divan::counter::BytesCount::new(bytes.len()))
        .bench(|| validate_bytes(black_box(&bytes), &opts));
}

/// The slow path (a wrong type explained from a `Value` walk), for information: no target.
#[divan::bench(args = ["duration-string", "malformed", "ref-name-rules"])]
fn validate_invalid(bencher: Bencher, name: &str) {
    let path = format!(
        "{}/../../spec/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).unwrap();
    let opts = ValidateOptions::default();
    bencher.bench(|| validate_bytes(black_box(&bytes), &opts));
}

/// The two halves of [`validate`]: the typed parse into a job, and the rules on a parsed job.
#[divan::bench(args = TYPICAL)]
fn parse_job(bencher: Bencher, name: &str) {
    let bytes = example(name);
    bencher.bench(|| serde_json::from_slice::<pixfuse_core::Job>(black_box(&bytes)).unwrap());
}

#[divan::bench(args = TYPICAL)]
fn rules_only(bencher: Bencher, name: &str) {
    let job: pixfuse_core::Job = serde_json::from_slice(&example(name)).unwrap();
    let opts = ValidateOptions::default();
    bencher.bench(|| pixfuse_core::validate_job(black_box(&job), &opts));
}
