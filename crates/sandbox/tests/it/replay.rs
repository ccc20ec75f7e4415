//! Requests as real third-party clients of the vendor send them, replayed byte for byte against
//! the sandbox: every `tests/replay/NN-name.http` in order, each answer checked against its
//! `NN-name.expect.json` and against the response schemas in `spec/responses/`.
//!
//! A fixture is an HTTP/1.1 request (LF line ends, `#` comment lines first; multipart bodies get
//! CRLF). The runner sets `Content-Length` and `Connection: close` and fills in placeholders:
//! `{{HOST}}`, `{{KEY}}`, `{{UUID}}` (fresh each time), `{{TRACE name}}` (the same id for every
//! use of `name`), `{{FILE path}}` (the bytes of a file, relative to the repository root), and
//! `{{NAME}}` for a value an earlier answer captured.
//!
//! Expectations: `status` (HTTP) and `ErrCode`; `equals` (JSON pointer → value);
//! `equals_captured` (pointer → captured name); `ids` (pointers to ids a JavaScript number holds
//! exactly); `serves` (pointer to a URL → the file it must serve); `serves_video` and
//! `serves_image` (pointers to URLs that must serve an MP4 / a PNG); `until` (repeat the request
//! until these pointers have these values); `billable_jobs` (the sandbox's count afterwards);
//! `capture` (name → pointer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pixfuse_core::endpoint;
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Replay {
    sandbox: RunningSandbox,
    vars: HashMap<String, String>,
    traces: HashMap<String, String>,
    fresh: u64,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    body: Value,
}

impl Replay {
    /// The request bytes of fixture `text`, placeholders filled in.
    fn render(&mut self, text: &str) -> Vec<u8> {
        let text: String = text
            .lines()
            .skip_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let head = self.substitute(head);
        let multipart = head.to_ascii_lowercase().contains("multipart/form-data");
        let body = self.substitute(body);
        let body = if multipart {
            body.replace('\n', "\r\n")
        } else {
            body.trim_end_matches('\n').to_owned()
        };
        let body = splice_files(&body);
        let mut request = Vec::new();
        for line in head.lines() {
            request.extend_from_slice(line.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        request.extend_from_slice(b"Connection: close\r\n\r\n");
        request.extend_from_slice(&body);
        request
    }

    fn substitute(&mut self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = start
                + rest[start..]
                    .find("}}")
                    .expect("an unclosed {{ in a fixture");
            let name = &rest[start + 2..end];
            let value = match name.split_once(' ') {
                Some(("TRACE", label)) => {
                    let next = self.traces.len();
                    self.traces
                        .entry(label.to_owned())
                        .or_insert_with(|| format!("7ace0000-0000-4000-8000-{next:012x}"))
                        .clone()
                }
                // Files are spliced in as bytes after the line ends are settled.
                Some(("FILE", _)) => format!("{{{{{name}}}}}"),
                _ if name == "UUID" => {
                    self.fresh += 1;
                    format!("00000000-0000-4000-8000-{:012x}", self.fresh)
                }
                _ => self
                    .vars
                    .get(name)
                    .unwrap_or_else(|| panic!("{{{{{name}}}}} was not captured"))
                    .clone(),
            };
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    async fn send(&self, request: &[u8]) -> Answer {
        let mut stream = tokio::net::TcpStream::connect(self.sandbox.addr())
            .await
            .unwrap();
        stream.write_all(request).await.unwrap();
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
            .await
            .expect("the sandbox answers within 10 s")
            .unwrap();
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        let body = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
        Answer { status, body }
    }
}

/// Replaces each `{{FILE path}}` by the file's bytes.
fn splice_files(body: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("{{FILE ") {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let end = start + rest[start..].find("}}").unwrap();
        let path = root().join(&rest[start + 7..end]);
        out.extend(std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
        rest = &rest[end + 2..];
    }
    out.extend_from_slice(rest.as_bytes());
    out
}

/// The Resp schema of the endpoint a request line names.
fn resp_schema(request_line: &str) -> Option<&'static str> {
    let path = request_line.split(' ').nth(1)?;
    Some(match path {
        p if p == endpoint::UPLOAD.path => "image-upload.resp.schema.json",
        p if p == endpoint::MEDIA_UPLOAD.path => "media-upload.resp.schema.json",
        p if p == endpoint::GENERATE.path => "generate.resp.schema.json",
        p if p.starts_with(endpoint::RESULT_PREFIX) => "video-result.resp.schema.json",
        p if p == endpoint::BALANCE.path => "balance.resp.schema.json",
        _ => return None,
    })
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("spec/responses").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

fn at<'v>(value: &'v Value, pointer: &str) -> &'v Value {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("{pointer} missing in {value}"))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_requests_get_the_vendors_answers() {
    let sandbox = Sandbox::start(SandboxConfig {
        generation_time: Duration::from_millis(50),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let mut replay = Replay {
        vars: HashMap::from([
            ("HOST".to_owned(), sandbox.addr().to_string()),
            ("KEY".to_owned(), sandbox.demo_key_str()),
        ]),
        sandbox,
        traces: HashMap::new(),
        fresh: 0,
        http: reqwest::Client::new(),
    };
    let envelope = schema("envelope.schema.json");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay");
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "http"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 10, "{fixtures:?}");

    for fixture in &fixtures {
        let name = fixture.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(fixture).unwrap();
        let expect: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture.with_extension("expect.json")).unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}.expect.json: {e}"));
        let request_line = text
            .lines()
            .find(|l| !l.starts_with('#'))
            .unwrap()
            .to_owned();

        let request = replay.render(&text);
        let mut answer = replay.send(&request).await;
        if let Some(until) = expect["until"].as_object() {
            for _ in 0..250 {
                if until.iter().all(|(p, v)| answer.body.pointer(p) == Some(v)) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let request = replay.render(&text);
                answer = replay.send(&request).await;
            }
        }
        let body = &answer.body;
        assert_eq!(
            Some(u64::from(answer.status)),
            expect["status"].as_u64(),
            "{name}: {body}"
        );
        assert_eq!(body["ErrCode"], expect["ErrCode"], "{name}: {body}");
        assert!(envelope.is_valid(body), "{name}: not an envelope: {body}");
        if body["ErrCode"] == 0 {
            if let Some(resp) = resp_schema(&request_line) {
                assert!(
                    schema(resp).is_valid(&body["Resp"]),
                    "{name}: Resp is not a {resp}: {body}"
                );
            }
        } else {
            assert!(
                body["Resp"].is_null(),
                "{name}: an error carries Resp null: {body}"
            );
        }
        for (pointer, value) in expect["equals"].as_object().into_iter().flatten() {
            assert_eq!(at(body, pointer), value, "{name}: {pointer} in {body}");
        }
        for (pointer, var) in expect["equals_captured"].as_object().into_iter().flatten() {
            let captured = &replay.vars[var.as_str().unwrap()];
            assert_eq!(&text_of(at(body, pointer)), captured, "{name}: {pointer}");
        }
        for pointer in expect["ids"].as_array().into_iter().flatten() {
            let id = at(body, pointer.as_str().unwrap())
                .as_u64()
                .expect("an integer id");
            assert_eq!(
                id as f64 as u64, id,
                "{name}: id {id} does not survive a JS number"
            );
        }
        for (pointer, file) in expect["serves"].as_object().into_iter().flatten() {
            let url = text_of(at(body, pointer));
            let served = replay
                .http
                .get(&url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let wanted = std::fs::read(root().join(file.as_str().unwrap())).unwrap();
            assert!(
                served.as_ref() == wanted.as_slice(),
                "{name}: {url} is not {file}"
            );
        }
        let is_mp4 = |b: &[u8]| b.get(4..8) == Some(b"ftyp".as_slice());
        let is_png = |b: &[u8]| b.starts_with(b"\x89PNG");
        for (key, is_kind) in [
            ("serves_video", &is_mp4 as &dyn Fn(&[u8]) -> bool),
            ("serves_image", &is_png),
        ] {
            if let Some(pointer) = expect[key].as_str() {
                let url = text_of(at(body, pointer));
                let served = replay.http.get(&url).send().await.unwrap();
                assert_eq!(served.status(), 200, "{name}: {url}");
                assert!(
                    is_kind(&served.bytes().await.unwrap()),
                    "{name}: {url} ({key})"
                );
            }
        }
        if let Some(n) = expect["billable_jobs"].as_u64() {
            assert_eq!(replay.sandbox.stats().billable_jobs, n, "{name}");
        }
        for (var, pointer) in expect["capture"].as_object().into_iter().flatten() {
            let value = text_of(at(body, pointer.as_str().unwrap()));
            replay.vars.insert(var.clone(), value);
        }
    }
}
