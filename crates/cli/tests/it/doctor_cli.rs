//! `pixfuse doctor`: one line a check, exit 0 only when every check passes.

use crate::common;

use std::time::{Duration, SystemTime};

use common::*;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// `check name → (passed, detail)` from `doctor --json`.
fn checks(out: &std::process::Output) -> Vec<(String, bool, String)> {
    json(out)["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["check"].as_str().unwrap().to_owned(),
                c["ok"].as_bool().unwrap(),
                c["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn verdict(list: &[(String, bool, String)], name: &str) -> (bool, String) {
    list.iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, ok, d)| (*ok, d.clone()))
        .unwrap_or_else(|| panic!("no {name} check in {list:?}"))
}

#[test]
fn everything_passes_against_the_sandbox() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(["doctor", "--sandbox"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let text = stdout(&out);
    for name in ["config", "state dir", "journal", "server", "key", "clock"] {
        let line = text
            .lines()
            .find(|l| l[l.find(' ').unwrap() + 1..].starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in {text}"));
        assert!(line.starts_with('✓'), "{line}");
    }
    let mut cmd = s.bare();
    cmd.args(["doctor", "--sandbox", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 0);
    let list = checks(&out);
    assert!(list.iter().all(|(_, ok, _)| *ok), "{list:?}");
    assert!(verdict(&list, "key").1.contains("credits"), "{list:?}");
    assert!(verdict(&list, "clock").1.contains("in step"), "{list:?}");
    assert_eq!(json(&out)["ok"], true);
}

#[test]
fn no_key_fails_with_exit_4_naming_the_config_file() {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(["doctor", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 4);
    let list = checks(&out);
    let (ok, detail) = verdict(&list, "key");
    assert!(!ok);
    assert!(detail.contains(".config/pixfuse/config.toml"), "{detail}");
    assert!(verdict(&list, "config").0 && verdict(&list, "journal").0);
    assert_eq!(json(&out)["ok"], false);
}

#[test]
fn an_unreachable_server_fails_with_exit_10() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = Scratch::new();
    let mut cmd = s.cmd(&format!("http://127.0.0.1:{port}"));
    cmd.arg("doctor");
    let out = exec(cmd);
    assert_exit(&out, 10);
    let text = stdout(&out);
    assert!(text.lines().any(|l| l.starts_with("✗ server")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("✗ key") && l.contains("not verified")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_and_an_odd_server_are_told_apart() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    Mock::given(method("GET"))
        .and(path(BALANCE))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"ErrCode": 400012, "ErrMsg": "Invalid API-KEY", "Resp": {}})),
        )
        .mount(&vendor.server)
        .await;
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["doctor", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 4);
    let list = checks(&out);
    assert!(
        verdict(&list, "server").0,
        "it spoke the envelope: {list:?}"
    );
    let (ok, detail) = verdict(&list, "key");
    assert!(!ok && detail.contains("Invalid API-KEY"), "{detail}");
    assert!(!stdout(&out).contains(KEY));

    let odd = Vendor::start().await;
    Mock::given(method("GET"))
        .and(path(BALANCE))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>hello</html>"))
        .mount(&odd.server)
        .await;
    let mut cmd = s.cmd(&odd.uri());
    cmd.args(["doctor", "--json"]);
    let out = exec(cmd);
    assert_ne!(code(&out), 0);
    let (ok, detail) = verdict(&checks(&out), "server");
    assert!(!ok && detail.contains("not JSON"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_far_from_the_servers_fails() {
    let s = Scratch::new();
    let vendor = Vendor::start().await;
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    Mock::given(method("GET"))
        .and(path(BALANCE))
        .respond_with(
            ok(json!({"account_id": 7, "credit_monthly": 1, "credit_package": 0}))
                .insert_header("Date", later.as_str()),
        )
        .mount(&vendor.server)
        .await;
    let mut cmd = s.cmd(&vendor.uri());
    cmd.args(["doctor", "--json"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    let list = checks(&out);
    assert_eq!(
        verdict(&list, "key"),
        (true, "from $PIXFUSE_API_KEY, accepted: 1 credit".to_owned())
    );
    let (ok, detail) = verdict(&list, "clock");
    assert!(!ok && detail.contains("behind the server"), "{detail}");
}

#[cfg(unix)]
#[test]
fn a_state_dir_others_can_read_fails() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    std::fs::create_dir_all(s.state()).unwrap();
    std::fs::set_permissions(s.state(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = s.bare();
    cmd.args(["doctor", "--sandbox"]);
    let out = exec(cmd);
    assert_exit(&out, 2);
    let text = stdout(&out);
    assert!(text.contains("chmod 700"), "{text}");
}
