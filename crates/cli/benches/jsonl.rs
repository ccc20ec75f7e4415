//! `validate --jsonl` throughput on one core (issue 3: at least 300,000 requests per second):
//! the command's own loop, reading lines and writing one JSON result per line, over an in-memory
//! stream of typical requests. Run: `cargo bench -p pixfuse-cli --bench jsonl`.

use std::io::Cursor;

use divan::{Bencher, black_box};
use pixfuse_cli::cmd::validate::validate_lines;
use pixfuse_core::ValidateOptions;

fn main() {
    divan::main();
}

const LINES: usize = 10_000;

/// `LINES` requests cycling through typical examples, one per line.
fn stream(names: &[&str]) -> Vec<u8> {
    let lines: Vec<Vec<u8>> = names
        .iter()
        .map(|name| {
            let path = format!(
                "{}/../../spec/examples/{name}.json",
                env!("CARGO_MANIFEST_DIR")
            );
            let value: serde_json::Value =
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            serde_json::to_vec(&value).unwrap()
        })
        .collect();
    let mut out = Vec::new();
    for i in 0..LINES {
        out.extend_from_slice(&lines[i % lines.len()]);
        out.push(b'\n');
    }
    out
}

fn run(bencher: Bencher, input: Vec<u8>) {
    let opts = ValidateOptions::default();
    let mut output = Vec::with_capacity(input.len() * 2);
    bencher
        .counter(divan::counter::ItemsCount::new(LINES))
        .bench_local(|| {
            output.clear();
            validate_lines(
                Cursor::new(black_box(&input)),
                &mut output,
                &opts,
                pixfuse_cli::cmd::validate::DEFAULT_MAX_LINE_BYTES,
            )
            .map_err(|f| f.message)
            .unwrap();
            black_box(output.len())
        });
}

/// Typical requests: two references each (the vendor's own example, a clean c1 request, one
/// with an unknown field, a job file naming local and https images); half of them carry a
/// warning, which is written out in full.
#[divan::bench(sample_count = 20)]
fn typical(bencher: Bencher) {
    run(
        bencher,
        stream(&["seed", "c1-one-second", "unknown-field", "job-form-images"]),
    );
}

/// The largest valid example (seven references, ids above 2^53), for information.
#[divan::bench(sample_count = 20)]
fn seven_references(bencher: Bencher) {
    run(bencher, stream(&["v6-seven-refs-big-ids"]));
}
