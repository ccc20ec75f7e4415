//! `pixfuse sandbox` runs in the foreground, announces itself and honours its flags.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the sandbox process even when an assertion fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Running, serde_json::Value) {
    let child = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args(["sandbox", "--json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let announced: serde_json::Value = serde_json::from_str(&line).unwrap();
    (running, announced)
}

/// A minimal HTTP/1.1 GET (the CLI's tests carry no HTTP client): (status line, body).
fn get(base_url: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let addr = base_url.strip_prefix("http://").unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

#[test]
fn announces_its_url_and_demo_key_and_serves_the_api() {
    let (_running, announced) = start(&["--credits", "123"]);
    let base_url = announced["base_url"].as_str().unwrap();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{announced}");
    let key = announced["demo_key"].as_str().unwrap();
    assert_eq!(key, pixfuse_sandbox::DEMO_KEY);

    let (status, body) = get(base_url, pixfuse_e2e::BALANCE, &[("API-KEY", key)]);
    assert!(status.contains(" 200 "), "{status}");
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    let resp = &envelope["Resp"];
    let total = resp["credit_monthly"].as_u64().unwrap() + resp["credit_package"].as_u64().unwrap();
    assert_eq!(total, 123);

    let (status, _) = get(base_url, pixfuse_e2e::BALANCE, &[("API-KEY", "wrong")]);
    assert!(status.contains(" 401 "), "{status}");
}

#[test]
fn keys_come_from_the_named_environment_variable_and_are_not_printed() {
    let child = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args([
            "sandbox",
            "--json",
            "--auth",
            "bearer",
            "--keys-env",
            "SANDBOX_TEST_KEYS",
        ])
        .env("SANDBOX_TEST_KEYS", "alpha, beta")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(announced["demo_key"].is_null(), "{announced}");
    assert!(!line.contains("alpha") && !line.contains("beta"));
    let base_url = announced["base_url"].as_str().unwrap();

    let balance = pixfuse_e2e::BALANCE;
    assert!(
        get(base_url, balance, &[("Authorization", "Bearer beta")])
            .0
            .contains(" 200 ")
    );
    assert!(
        get(base_url, balance, &[("API-KEY", "beta")])
            .0
            .contains(" 401 ")
    );
}

#[test]
fn a_missing_keys_variable_is_a_usage_error() {
    Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args(["sandbox", "--keys-env", "PIXFUSE_SURELY_UNSET_VARIABLE"])
        .env_remove("PIXFUSE_SURELY_UNSET_VARIABLE")
        .output()
        .map(|output| {
            assert_eq!(output.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("PIXFUSE_SURELY_UNSET_VARIABLE"), "{stderr}");
        })
        .unwrap();
}

#[test]
fn an_invalid_fault_probability_is_a_usage_error() {
    let output = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args(["sandbox", "--fault-429", "2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--fault-429"), "{stderr}");

    // Each is a probability, but a submit can meet only one fault: together at most 1.
    let output = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args(["sandbox", "--fault-429", "0.6", "--fault-drop", "0.6"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("add up to"), "{stderr}");
}

#[test]
fn with_state_a_restarted_sandbox_is_the_same_vendor() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("emulator");
    let state_arg = state.to_str().unwrap();
    let origin = {
        let (_running, announced) = start(&["--state", state_arg, "--credits", "500"]);
        let file = announced["state_file"].as_str().unwrap();
        assert!(file.ends_with("sandbox.sqlite3"), "{announced}");
        announced["origin"].as_str().unwrap().to_owned()
    };
    assert!(origin.starts_with("sandbox:"), "{origin}");
    let (_running, announced) = start(&["--state", state_arg, "--credits", "9"]);
    assert_eq!(announced["origin"], origin.as_str());
    let base_url = announced["base_url"].as_str().unwrap();
    let key = announced["demo_key"].as_str().unwrap();
    let (_, body) = get(base_url, pixfuse_e2e::BALANCE, &[("API-KEY", key)]);
    let resp = &serde_json::from_str::<serde_json::Value>(&body).unwrap()["Resp"];
    let total = resp["credit_monthly"].as_u64().unwrap() + resp["credit_package"].as_u64().unwrap();
    assert_eq!(total, 500, "the account outlived the first process");

    // Without --state, every start is a new vendor.
    let (_a, first) = start(&[]);
    let (_b, second) = start(&[]);
    assert_ne!(first["origin"], second["origin"]);
    assert!(first["state_file"].is_null());
}

#[test]
fn the_webhook_secret_comes_from_the_named_variable_and_is_not_printed() {
    let child = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
        .args([
            "sandbox",
            "--json",
            "--webhook-url",
            "http://127.0.0.1:9/hook",
        ])
        .args(["--webhook-secret-env", "SANDBOX_TEST_WEBHOOK_SECRET"])
        .env("SANDBOX_TEST_WEBHOOK_SECRET", "sekrit-value-42")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut line = String::new();
    BufReader::new(running.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let announced: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(announced["webhook_url"], "http://127.0.0.1:9/hook");
    assert!(!line.contains("sekrit"), "{line}");

    // A URL without a secret, or a secret variable that is not set: usage errors (exit 2).
    for args in [
        &["--webhook-url", "http://127.0.0.1:9/"][..],
        &[
            "--webhook-url",
            "http://127.0.0.1:9/",
            "--webhook-secret-env",
            "PIXFUSE_SURELY_UNSET_VARIABLE",
        ],
        &[
            "--webhook-url",
            "127.0.0.1:9",
            "--webhook-secret-env",
            "SANDBOX_TEST_WEBHOOK_SECRET",
        ],
    ] {
        let output = Command::new(assert_cmd::cargo::cargo_bin!("pixfuse"))
            .arg("sandbox")
            .args(args)
            .env("SANDBOX_TEST_WEBHOOK_SECRET", "sekrit-value-42")
            .env_remove("PIXFUSE_SURELY_UNSET_VARIABLE")
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("webhook"), "{stderr}");
        assert!(!stderr.contains("sekrit"), "{stderr}");
    }
}
