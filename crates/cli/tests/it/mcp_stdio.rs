//! `pixfuse mcp --sandbox` out of process: newline-delimited JSON-RPC on its stdin and stdout
//! (initialize, notifications/initialized, tools/list, tools/call), nothing but protocol
//! messages on stdout (logs go to stderr), and a clean exit when the host closes stdin.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(scratch: &Scratch, args: &[&str]) -> Server {
        let mut cmd = scratch.bare();
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next stdout line, which must be one JSON-RPC message.
    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .expect("no answer within 30 s");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        message
    }

    /// initialize, then notifications/initialized: the initialize response.
    fn initialize(&mut self) -> Value {
        self.send(json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "e2e", "version": "0"}
            }
        }));
        let init = self.response(1);
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        init
    }

    /// The response to request `id` (notifications before it are protocol messages too).
    fn response(&self, id: u64) -> Value {
        loop {
            let message = self.next();
            if message["id"] == id {
                return message;
            }
            assert!(message.get("method").is_some(), "stray message: {message}");
        }
    }
}

#[test]
fn speaks_json_rpc_on_stdout_and_nothing_else() {
    let scratch = Scratch::new();
    let mut server = Server::start(&scratch, &["mcp", "--sandbox"]);
    let init = server.initialize();
    assert_eq!(init["result"]["serverInfo"]["name"], "pixfuse", "{init}");
    assert!(
        init["result"]["capabilities"]["tools"].is_object(),
        "{init}"
    );
    server.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    server.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let list = server.response(2);
    let tools = list["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 12, "{list}");
    assert!(tools.iter().all(|t| t["inputSchema"]["type"] == "object"));

    server.send(json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "validate", "arguments": {"request": {
            "image_references": [{"type": "subject", "img_id": 7, "ref_name": "dog"}],
            "prompt": "@dog runs", "model": "v5", "duration": 5,
            "quality": "540p", "aspect_ratio": "16:9"
        }}}
    }));
    let call = server.response(3);
    assert_eq!(call["result"]["isError"], false, "{call}");
    assert_eq!(call["result"]["structuredContent"]["valid"], true, "{call}");

    server.send(json!({
        "jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "balance", "arguments": {}}
    }));
    let balance = server.response(4);
    assert!(
        balance["result"]["structuredContent"]["total"].is_i64(),
        "{balance}"
    );
    assert!(!balance.to_string().contains(pixfuse_sandbox::DEMO_KEY));

    // The host closes stdin: the server ends cleanly, having written nothing but JSON-RPC.
    drop(server.stdin.take());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not exit after stdin closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    while let Ok(line) = server.lines.try_recv() {
        let message: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(message["jsonrpc"], "2.0");
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(server.child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");
    assert!(stderr.contains("MCP server on stdio"), "{stderr}");
}

#[test]
fn without_a_key_it_still_serves_and_says_how_to_give_one() {
    let scratch = Scratch::new();
    let mut server = Server::start(&scratch, &["mcp"]);
    server.initialize();
    server.send(json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "models", "arguments": {}}
    }));
    let models = server.response(2);
    assert_eq!(models["result"]["isError"], false, "{models}");
    server.send(json!({
        "jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "balance", "arguments": {}}
    }));
    let balance = server.response(3);
    assert_eq!(balance["result"]["isError"], true, "{balance}");
    let refusal = &balance["result"]["structuredContent"];
    assert_eq!(refusal["class"], "auth", "{balance}");
    assert!(
        refusal["next"]
            .as_str()
            .unwrap()
            .contains("PIXFUSE_API_KEY"),
        "{balance}"
    );
}

#[test]
fn options_that_would_break_the_protocol_are_refused() {
    let scratch = Scratch::new();
    let mut cmd = scratch.bare();
    cmd.args(["mcp", "--sandbox", "--api-key-stdin"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("standard input carries the protocol"));
    let mut cmd = scratch.bare();
    cmd.args(["mcp", "--sandbox", "--timeout", "5s"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("timeout_s"), "{}", stderr(&out));
    let mut cmd = scratch.bare();
    cmd.args(["mcp", "--sandbox", "--budget=-1"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--budget must be"),
        "{}",
        stderr(&out)
    );

    let mut cmd = scratch.bare();
    cmd.args(["mcp", "--help"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let help = stdout(&out);
    assert!(
        help.contains(r#"{"command": "pixfuse", "args": ["mcp"]}"#),
        "{help}"
    );
    for tool in [
        "validate",
        "generate",
        "wait",
        "download",
        "resume",
        "upload_image",
        "upload_video",
    ] {
        assert!(help.contains(tool), "{tool} missing from --help");
    }
}
