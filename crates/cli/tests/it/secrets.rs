//! The key never appears in stdout, in stderr even at -vv, in the journal or in the sidecar.

use crate::common;

use std::path::Path;

use common::*;
use serde_json::json;
use wiremock::ResponseTemplate;
use wiremock::matchers::{method, path};

fn assert_no_key(what: &str, bytes: &[u8]) {
    let needle = KEY.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "the API key leaked into {what}"
    );
}

fn scan_dir(dir: &Path) -> usize {
    let mut files = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            files += scan_dir(&p);
        } else {
            assert_no_key(&p.display().to_string(), &std::fs::read(&p).unwrap());
            files += 1;
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_never_leaks_at_vv() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    vendor.mount_happy(5).await;
    let job = write_job(s.path());
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args([
        "-vv",
        "run",
        job.to_str().unwrap(),
        "-o",
        "out.mp4",
        "--json",
    ]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    assert!(!stderr(&out).is_empty(), "-vv logs something");
    assert_no_key("stdout", &out.stdout);
    assert_no_key("stderr", &out.stderr);
    assert_no_key(
        "the sidecar",
        &std::fs::read(s.path().join("out.mp4.json")).unwrap(),
    );
    assert!(scan_dir(&s.state()) >= 1, "the journal exists");
    // The key did go to the server, so the scan above looked for the right string.
    let sent = &vendor.requests(GENERATE).await[0];
    assert_eq!(sent.headers.get("api-key").unwrap().to_str().unwrap(), KEY);

    // Failures at -vv too: a rejected key, and a server error with retries.
    wiremock::Mock::given(method("GET"))
        .and(path(BALANCE))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"ErrCode": 400012, "ErrMsg": "Invalid API-KEY", "Resp": {}})),
        )
        .mount(&vendor.server)
        .await;
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["-vv", "balance", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 4);
    assert_no_key("stdout", &out.stdout);
    assert_no_key("stderr", &out.stderr);
    scan_dir(&s.state());
}
