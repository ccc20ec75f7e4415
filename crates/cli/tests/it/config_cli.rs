//! `pixfuse config path|show|init`, and messages about configuration that name the file.

use crate::common;

use common::*;

fn config_file(s: &Scratch) -> std::path::PathBuf {
    s.path().join("home/.config/pixfuse/config.toml")
}

fn run(s: &Scratch, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = s.bare();
    cmd.envs(env.iter().copied()).args(args);
    exec(cmd)
}

#[test]
fn config_path_prints_the_real_paths() {
    let s = Scratch::new();
    let out = run(&s, &[], &["config", "path"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let file = config_file(&s);
    assert!(
        text.contains(&format!("config file   {} (absent", file.display())),
        "{text}"
    );
    let journal = s.state().join("journal.sqlite3");
    assert!(
        text.contains(&format!("journal       {}", journal.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("upload cache  {}", journal.display())),
        "{text}"
    );
    assert!(
        text.contains(&s.state().join("sandbox").display().to_string()),
        "{text}"
    );

    let v = json(&run(&s, &[], &["config", "path", "--json"]));
    assert_eq!(v["config_file"], file.display().to_string());
    assert_eq!(v["config_file_exists"], false);
    assert_eq!(v["state_dir"], s.state().display().to_string());
    assert_eq!(v["journal"], journal.display().to_string());
    let v = json(&run(&s, &[], &["--sandbox", "config", "path", "--json"]));
    assert_eq!(
        v["journal"],
        s.state()
            .join("sandbox/journal.sqlite3")
            .display()
            .to_string()
    );
}

#[cfg(unix)]
#[test]
fn config_init_writes_a_private_template_once() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let out = run(&s, &[], &["config", "init"]);
    assert_exit(&out, 0);
    let file = config_file(&s);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("# api_key = "), "{text}");
    assert!(
        stderr(&out).contains(&file.display().to_string()),
        "{}",
        stderr(&out)
    );

    std::fs::write(&file, "provider = \"quickrouter\"\n").unwrap();
    let again = run(&s, &[], &["config", "init"]);
    assert_exit(&again, 2);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "provider = \"quickrouter\"\n"
    );

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_exit(&run(&s, &[], &["config", "init", "--force"]), 0);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("# pixfuse configuration")
    );

    // --config FILE is where it goes when given.
    let other = s.path().join("elsewhere/pixfuse.toml");
    let out = run(
        &s,
        &[],
        &[
            "config",
            "init",
            "--json",
            "--config",
            other.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(json(&out)["written"], other.display().to_string());
    assert!(other.is_file());
}

#[cfg(unix)]
#[test]
fn config_show_says_where_each_setting_came_from_and_never_the_key() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scratch::new();
    let file = config_file(&s);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        "profile = \"work\"\ntimeout = \"5m\"\n[profiles.work]\napi_key = \"sk-FILE-SECRET\"\npoll_interval = \"3s\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env = [("PIXFUSE_PROVIDER", "quickrouter")];
    let out = run(
        &s,
        &env,
        &["config", "show", "--json", "--retry-base-delay", "2s"],
    );
    assert_exit(&out, 0);
    assert!(!stdout(&out).contains("FILE-SECRET"), "{}", stdout(&out));
    let v = json(&out);
    let setting = |name: &str| {
        (
            v["settings"][name]["value"].clone(),
            v["settings"][name]["source"].clone(),
        )
    };
    assert_eq!(setting("provider").1, "$PIXFUSE_PROVIDER");
    assert_eq!(setting("provider").0, "quickrouter");
    assert_eq!(setting("base_url").0, "https://api.quickrouter.ai");
    assert_eq!(setting("base_url").1, "default");
    assert_eq!(
        setting("retry_base_delay"),
        ("2s".into(), "--retry-base-delay".into())
    );
    let file_name = file.display().to_string();
    assert_eq!(setting("poll_interval").0, "3s");
    assert_eq!(
        setting("poll_interval").1,
        format!("{file_name} (profile work)")
    );
    assert_eq!(setting("timeout").0, "5m");
    assert_eq!(setting("api_key").0, "set (not shown)");
    assert_eq!(setting("api_key").1, file_name);
    assert_eq!(
        setting("state_dir"),
        (s.state().display().to_string().into(), "--state-dir".into())
    );
    assert_eq!(setting("profile").0, "work");

    // The environment's key wins and is named; the human form says the same.
    let env = [("PIXFUSE_API_KEY", "sk-ENV-SECRET")];
    let out = run(&s, &env, &["config", "show"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(!text.contains("SECRET"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("api_key") && l.contains("($PIXFUSE_API_KEY)")),
        "{text}"
    );
}

#[test]
fn missing_key_and_profile_messages_name_the_config_file() {
    let s = Scratch::new();
    let file = config_file(&s).display().to_string();
    let out = run(&s, &[], &["balance"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("put `api_key = \"…\"` in {file}")),
        "{err}"
    );
    assert!(err.contains("pixfuse config init"), "{err}");
    let out = run(&s, &[], &["--profile", "work", "balance"]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(err.contains(&format!("no config file at {file}")), "{err}");
    // And `config show` says the same about the key.
    let v = json(&run(&s, &[], &["config", "show", "--json"]));
    assert!(v["settings"]["api_key"]["value"].is_null());
    assert!(
        v["settings"]["api_key"]["source"]
            .as_str()
            .unwrap()
            .contains(&file),
        "{v}"
    );
}

#[test]
fn config_show_names_where_clap_found_each_option() {
    let s = Scratch::new();
    let env = [("PIXFUSE_BASE_URL", "http://localhost:9")];
    let line = |out: &std::process::Output, name: &str| -> String {
        let text = stdout(out);
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{text}"))
            .to_owned()
    };
    let out = run(&s, &env, &["config", "show", "--timeout", "5s"]);
    assert_exit(&out, 0);
    assert!(
        line(&out, "base_url").ends_with("($PIXFUSE_BASE_URL)"),
        "{}",
        stdout(&out)
    );
    assert!(
        line(&out, "timeout").ends_with("(--timeout)"),
        "{}",
        stdout(&out)
    );
    assert!(
        line(&out, "provider").ends_with("(default)"),
        "{}",
        stdout(&out)
    );
    // The same value in both: the flag is what counted.
    let out = run(
        &s,
        &env,
        &["--base-url", "http://localhost:9", "config", "show"],
    );
    assert!(
        line(&out, "base_url").ends_with("(--base-url)"),
        "{}",
        stdout(&out)
    );
    let out = run(&s, &env, &["config", "show", "--json"]);
    let v = json(&out);
    assert_eq!(
        v["settings"]["base_url"]["source"], "$PIXFUSE_BASE_URL",
        "{v}"
    );
    assert_eq!(v["settings"]["base_url"]["value"], "http://localhost:9");
}
