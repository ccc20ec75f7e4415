//! `pixfuse mcp`: the round trip of one `validate` tool call over stdio — the host writes a
//! `tools/call` line to the server's stdin and reads the answer line from its stdout — over
//! 1,000 calls (after 50 to warm up), one at a time, as an agent makes them.
//!
//! cargo bench -p pixfuse-cli --bench mcp_validate -- [CALLS]   (default 1000)
//! Prints p50, p99 and the worst call.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn main() {
    let calls: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let state = std::env::temp_dir().join(format!("pixfuse-mcp-bench-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_pixfuse"))
        .args(["--state-dir"])
        .arg(&state)
        .args(["mcp", "--sandbox"])
        .env_remove("PIXFUSE_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot start pixfuse mcp");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut round_trip = |message: &Value, answer: bool| -> Duration {
        let started = Instant::now();
        writeln!(stdin, "{message}").expect("write");
        stdin.flush().expect("flush");
        if answer {
            line.clear();
            stdout.read_line(&mut line).expect("read");
            assert!(line.contains("\"result\""), "unexpected answer: {line}");
        }
        started.elapsed()
    };
    round_trip(
        &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "0"}}}),
        true,
    );
    round_trip(
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        false,
    );
    // The request of the README's example, with one mistake (a duration v5 does not offer).
    let request = json!({
        "image_references": [
            {"type": "subject", "img_id": 7, "ref_name": "dog"},
            {"type": "background", "img_id": 8, "ref_name": "room"}
        ],
        "prompt": "@dog plays at @room ",
        "model": "v5", "duration": 7, "quality": "540p", "aspect_ratio": "16:9"
    });
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let call = json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
            "params": {"name": "validate", "arguments": {"request": request}}});
        let took = round_trip(&call, true);
        if i >= 50 {
            times.push(took);
        }
    }
    drop(stdin);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&state);
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1)];
    println!(
        "mcp validate round trip over stdio: {calls} calls  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}
