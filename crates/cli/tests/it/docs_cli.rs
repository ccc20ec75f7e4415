//! Generated documentation and self-description: shell completions, man pages, `--version`,
//! and `--color`.

use crate::common;

use common::*;

fn pixfuse(args: &[&str]) -> std::process::Output {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.args(args);
    exec(cmd)
}

#[test]
fn completions_for_every_shell_name_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        // Scripts outgrow a pipe's buffer: read while it writes (`output`), not after it exits.
        let s = Scratch::new();
        let out = s.bare().args(["completions", shell]).output().unwrap();
        assert_exit(&out, 0);
        let script = stdout(&out);
        for word in [
            "pixfuse",
            "resume",
            "completions",
            "sandbox-time-scale",
            "color",
        ] {
            assert!(script.contains(word), "{shell} lacks {word}");
        }
        assert!(stderr(&out).is_empty(), "{shell}: {}", stderr(&out));
    }
    assert_exit(&pixfuse(&["completions", "tcsh"]), 2);
}

#[test]
fn completions_into_a_closed_pipe_end_quietly() {
    use std::process::Stdio;
    let s = Scratch::new();
    let mut cmd = s.bare();
    let mut child = cmd
        .args(["completions", "fish"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end at once: every write fails with a broken pipe.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[test]
fn man_pages_cover_every_command_and_the_exit_codes() {
    let s = Scratch::new();
    let dir = s.path().join("man");
    let mut cmd = s.bare();
    cmd.args(["man", "--out-dir"]).arg(&dir);
    assert_exit(&exec(cmd), 0);
    let top = std::fs::read_to_string(dir.join("pixfuse.1")).unwrap();
    assert!(
        top.starts_with(".ie") || top.contains(".TH pixfuse"),
        "{top}"
    );
    assert!(top.contains(".SH \"EXIT STATUS\""), "{top}");
    assert!(top.contains("(PixVerse CLI: 7)"), "{top}");
    for page in [
        "pixfuse-run.1",
        "pixfuse-webhook-serve.1",
        "pixfuse-config-init.1",
    ] {
        assert!(dir.join(page).is_file(), "{page} is missing");
    }
    assert!(
        !dir.join("pixfuse-man.1").exists(),
        "the hidden command has no page"
    );
}

#[test]
fn version_names_the_commit_the_build_date_and_the_table_date() {
    let short = pixfuse(&["-V"]);
    assert_exit(&short, 0);
    let line = stdout(&short);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(&format!("pixfuse {} (", env!("CARGO_PKG_VERSION"))),
        "{line}"
    );
    assert!(line.contains(", built "), "{line}");

    let long = stdout(&pixfuse(&["--version"]));
    let field = |name: &str| -> String {
        long.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {long}"))
            .trim()
            .to_owned()
    };
    let is_date = |s: &str| {
        s.len() == 10
            && s.chars().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    c == '-'
                } else {
                    c.is_ascii_digit()
                }
            })
    };
    assert!(is_date(&field("built:")), "{long}");
    let table = field("capability table:");
    let commit = field("commit:");
    // Built from this checkout (as CI's fresh clone is): the commit and the table's date are
    // git's; without git they say `unknown`, which `build.rs` falls back to.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match head {
        Some(head) => {
            assert_eq!(commit, head, "{long}");
            assert!(is_date(&table[..10.min(table.len())]), "{long}");
        }
        None => assert_eq!(commit, "unknown", "{long}"),
    }
    assert!(table.contains("spec/capabilities.json"), "{long}");
    // Subcommands carry the same version.
    assert_eq!(
        stdout(&pixfuse(&["models", "-V"])),
        format!("pixfuse-models {}", &line["pixfuse ".len()..])
    );
}

fn colour_of(env: &[(&str, &str)], args: &[&str]) -> bool {
    let s = Scratch::new();
    let mut cmd = s.bare();
    cmd.env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("TERM");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spec/examples"))
        .args(args)
        .args(["validate", "mention-no-space.json"]);
    let out = exec(cmd);
    assert_exit(&out, 3);
    stderr(&out).contains('\x1b')
}

#[test]
fn colour_follows_the_flag_and_the_conventions() {
    assert!(!colour_of(&[], &[]), "off a terminal: none");
    assert!(colour_of(&[], &["--color", "always"]));
    assert!(colour_of(&[], &["--color=always"]));
    assert!(
        colour_of(&[("NO_COLOR", "1")], &["--color", "always"]),
        "the flag wins"
    );
    assert!(!colour_of(
        &[("CLICOLOR_FORCE", "1")],
        &["--color", "never"]
    ));
    assert!(colour_of(&[("CLICOLOR_FORCE", "1")], &[]));
    assert!(!colour_of(
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
        &[]
    ));
    assert!(!colour_of(&[("TERM", "dumb")], &[]));
    let help = pixfuse(&["--color", "always", "--help"]);
    assert!(
        stdout(&help).contains('\x1b'),
        "clap's help follows --color too"
    );
    let help = pixfuse(&["--color", "never", "--help"]);
    assert!(!stdout(&help).contains('\x1b'));
    assert_exit(&pixfuse(&["--color", "sometimes", "models"]), 2);
}

/// docs/json.md names every class the error renderer can print (one per exit code).
#[test]
fn json_doc_names_every_error_class() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/json.md"),
    )
    .unwrap();
    for row in pixfuse_cli::exit::TABLE.iter().skip(1) {
        let class = pixfuse_cli::error_json::class_of(row.exit);
        assert!(
            doc.contains(&format!("`{class}`")),
            "docs/json.md lacks the class {class}"
        );
    }
}

/// The newest build of `build.rs` (`target/<profile>/build/pixfuse-cli-*/build-script-build`).
fn build_script() -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let build = deps.parent().unwrap().parent().unwrap().join("build");
    std::fs::read_dir(&build)
        .unwrap()
        .filter_map(|e| {
            let path = e.ok()?.path().join("build-script-build");
            let named = path
                .parent()?
                .file_name()?
                .to_str()?
                .starts_with("pixfuse-cli-");
            let made = std::fs::metadata(&path).ok()?.modified().ok()?;
            named.then_some((made, path))
        })
        .max()
        .map(|(_, path)| path)
        .unwrap_or_else(|| panic!("no build script under {}", build.display()))
}

/// Runs the version build script as cargo would for a crate at `top/crates/cli`.
fn run_build_script(top: &std::path::Path, path_env: &str) -> String {
    let manifest = top.join("crates/cli");
    std::fs::create_dir_all(&manifest).unwrap();
    let out = std::process::Command::new(build_script())
        .env_clear()
        .env("PATH", path_env)
        .env("CARGO_MANIFEST_DIR", &manifest)
        .current_dir(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_version_script_needs_no_git_and_watches_a_packed_branch() {
    // No git at all (a packaged crate): `unknown`, and nothing watched that is not there.
    let bare = tempfile::tempdir().unwrap();
    let said = run_build_script(bare.path(), "");
    assert!(
        said.contains("cargo:rustc-env=PIXFUSE_COMMIT=unknown\n"),
        "{said}"
    );
    assert!(!said.contains(".git"), "{said}");

    let Some(path_env) = std::env::var_os("PATH") else {
        return;
    };
    let path_env = path_env.to_string_lossy().into_owned();
    let top = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(top.path())
            .env("PATH", &path_env)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !git(&["init", "-q", "-b", "main"]) {
        return; // No git on this machine: the first case covered it.
    }
    assert!(git(&["commit", "-q", "--allow-empty", "-m", "one"]));
    // As in a fresh clone: the branch only in packed-refs, no loose file.
    assert!(git(&["pack-refs", "--all"]));
    assert!(!top.path().join(".git/refs/heads/main").exists());
    let said = run_build_script(top.path(), &path_env);
    assert!(!said.contains("PIXFUSE_COMMIT=unknown"), "{said}");
    // Paths in the checkout are relative to the crate (a target directory moved to another
    // checkout then watches that one's), and the folder the next commit writes is watched.
    for watched in [
        "../../.git/HEAD",
        "../../.git/refs/heads",
        "../../.git/packed-refs",
    ] {
        assert!(
            said.contains(&format!("cargo:rerun-if-changed={watched}\n")),
            "{watched}:\n{said}"
        );
    }
}
