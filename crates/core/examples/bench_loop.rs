//! A fixed amount of work for instruction counting (`perf stat -e instructions:u`), which a
//! loaded machine cannot distort the way it distorts wall time:
//! `bench_loop <none|typed|validate|body|body_via_value> <example name> <iterations>`.
//! `none` only reads the example, so its count is the baseline to subtract. `body` serializes
//! the parsed job as the request body (the generated serializer, documented order);
//! `body_via_value` does it the way issue 3 did (into a `serde_json::Value`, then text).

use pixfuse_core::wire::FusionGenerateRequest;
use pixfuse_core::{ValidateOptions, validate_bytes};
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, name, iterations] = args.as_slice() else {
        eprintln!(
            "usage: bench_loop <none|typed|validate|body|body_via_value> <example> <iterations>"
        );
        std::process::exit(2);
    };
    let path = format!(
        "{}/../../spec/examples/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("example");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    let bytes = serde_json::to_vec(&value).expect("json");
    let iterations: u64 = iterations.parse().expect("iterations");
    let opts = ValidateOptions::default();
    let job: pixfuse_core::Job = serde_json::from_slice(&bytes).expect("a job");
    let mut sink = 0usize;
    for _ in 0..iterations {
        sink += match mode.as_str() {
            "none" => black_box(&bytes).len(),
            "typed" => {
                let r: Result<FusionGenerateRequest, _> = serde_json::from_slice(black_box(&bytes));
                usize::from(r.is_ok())
            }
            "validate" => validate_bytes(black_box(&bytes), &opts).diagnostics.len(),
            "body" => black_box(&job).to_request_json().map_or(0, |b| b.len()),
            "body_via_value" => {
                serde_json::to_value(black_box(&job)).map_or(0, |v| v.to_string().len())
            }
            _ => panic!("mode: none, typed, validate, body or body_via_value"),
        };
    }
    println!("{sink}");
}
