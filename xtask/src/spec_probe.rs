//! Proves the brief's promise that a new model (with its own durations and render factor) or a
//! new aspect ratio is a change under spec/ only: copy spec/, add model `v7` there (request
//! schema, capability row, price), let v5 gain "2:3", build the `pixfuse` binary against the copy
//! through `PIXFUSE_SPEC_DIR`, and check what its commands say: `validate` accepts v7 at its own
//! durations and refuses it at another, `estimate` prices it, `models` lists its durations and
//! render factor, and `run --sandbox` makes a video of it (the sandbox judges it from the same
//! spec and renders it `render_factor` times as long; the probe does not time that). The same
//! holds for v6 Omni mode's numbers: the copy takes three reference videos instead of two, and
//! `validate` and `models` follow it.
//!
//! The build shares the workspace's target dir (a second one would compile every dependency
//! again); only pixfuse's own crates are rebuilt, here and on the next normal build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

const MODEL: &str = "v7";
const DURATIONS: [u32; 2] = [4, 7];
const RENDER_FACTOR: f64 = 1.5;
const CREDITS_PER_SECOND: f64 = 3.0;
/// Omni's video cap in the edited copy (the spec says 2).
const OMNI_VIDEOS: u64 = 3;

pub fn run() -> Result<()> {
    let root = crate::root();
    let work = root.join("target/spec-probe");
    let _ = std::fs::remove_dir_all(&work);
    let spec = work.join("spec");
    copy_dir(&crate::spec_dir(), &spec)?;
    edit_spec(&spec)?;

    let examples = root.join("examples");
    let job = |model: &str, duration: u32, aspect: &str| {
        json!({
            "image_references": [
                {"type": "subject", "image": examples.join("dog.png"), "ref_name": "dog"},
                {"type": "background", "image": examples.join("room.png"), "ref_name": "room"}
            ],
            "prompt": "@dog trots across @room ",
            "model": model,
            "duration": duration,
            "quality": "540p",
            "aspect_ratio": aspect
        })
    };
    let new_model = write(&work, "v7.json", &job(MODEL, DURATIONS[0], "16:9"))?;
    let wrong_duration = write(&work, "v7-5s.json", &job(MODEL, 5, "16:9"))?;
    let new_ratio = write(&work, "v5-2x3.json", &job("v5", 5, "2:3"))?;
    let videos: Vec<Value> = (1..=OMNI_VIDEOS)
        .map(|i| json!({"ref_name": format!("video{i}"), "video_media_id": i}))
        .collect();
    let mentions: Vec<String> = (1..=OMNI_VIDEOS).map(|i| format!("@video{i}")).collect();
    let omni = write(
        &work,
        "omni.json",
        &json!({
            "image_references": [{"type": "subject", "img_id": 1, "ref_name": "dog"}],
            "prompt": format!("@dog dances like {} ", mentions.join(" and ")),
            "model": "v6", "duration": 0, "quality": "540p", "aspect_ratio": "16:9",
            "reference_mode": "omni", "video_references": videos
        }),
    )?;

    let pixfuse = |args: &[&str]| pixfuse(&root, &spec, args);
    let (code, v) = pixfuse(&["validate", "--json", &new_model])?;
    ensure!(code == 0 && v["valid"] == true, "validate {MODEL}: {v}");
    let (code, v) = pixfuse(&["validate", "--json", &wrong_duration])?;
    ensure!(
        code == 3 && v["errors"][0]["code"] == "duration_not_allowed",
        "validate {MODEL} at 5 s should be refused by its own durations: {v}"
    );
    let (code, v) = pixfuse(&["validate", "--json", &new_ratio])?;
    ensure!(code == 0 && v["valid"] == true, "validate v5 at 2:3: {v}");

    let (code, v) = pixfuse(&["validate", "--json", &omni])?;
    ensure!(
        code == 0 && v["valid"] == true && v["warnings"] == json!([]),
        "validate an Omni job with {OMNI_VIDEOS} videos once the table allows them: {v}"
    );

    let (code, v) = pixfuse(&["estimate", "--json", &new_model])?;
    let want = CREDITS_PER_SECOND * f64::from(DURATIONS[0]);
    ensure!(
        code == 0 && v["credits"].as_f64() == Some(want),
        "estimate {MODEL}: want {want} credits, got {v}"
    );

    let (code, v) = pixfuse(&["models", "--json"])?;
    let row = v["models"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["model"] == MODEL))
        .cloned()
        .unwrap_or_default();
    ensure!(
        code == 0 && row["durations"] == json!(DURATIONS) && row["render_factor"] == RENDER_FACTOR,
        "models: want {MODEL} with durations {DURATIONS:?} and render factor {RENDER_FACTOR}, got {row}"
    );

    ensure!(
        v["omni"]["max_videos"]["value"] == OMNI_VIDEOS,
        "models: want Omni's video cap {OMNI_VIDEOS}, got {}",
        v["omni"]
    );

    let out = work.join("v7.mp4");
    let (code, v) = pixfuse(&[
        "run",
        "--sandbox",
        "--json",
        &new_model,
        "-o",
        &out.display().to_string(),
        "--state-dir",
        &work.join("state").display().to_string(),
    ])?;
    let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    ensure!(
        code == 0 && v["status"] == "succeeded" && size > 0,
        "run --sandbox {MODEL}: exit {code}, {v}, video of {size} bytes"
    );

    println!(
        "spec-probe: a spec-only model {MODEL} ({DURATIONS:?} s, render factor {RENDER_FACTOR}) \
         passes validate, estimate ({want} credits), models and a sandbox run ({size}-byte video); \
         v5 accepts 2:3 and Omni {OMNI_VIDEOS} videos once the table says so"
    );
    Ok(())
}

/// The spec-only change: model v7 in the request schema, its capability row (v5's, with its own
/// durations and render factor) and a price; "2:3" for v5; Omni's video cap raised.
fn edit_spec(spec: &Path) -> Result<()> {
    edit(
        &spec.join("fusion-generate.request.schema.json"),
        |schema| {
            let models = schema
                .pointer_mut("/$defs/Model/oneOf")
                .and_then(Value::as_array_mut)
                .context("the request schema has no $defs/Model/oneOf")?;
            ensure!(
                !models.iter().any(|m| m["const"] == MODEL),
                "the spec already knows {MODEL}; pick another probe model"
            );
            models.push(json!({"const": MODEL, "description": "A model only spec-probe knows."}));
            Ok(())
        },
    )?;
    edit(&spec.join("capabilities.json"), |caps| {
        let cap = caps
            .pointer_mut("/omni/max_videos/value")
            .context("capabilities.json has no omni.max_videos")?;
        ensure!(
            cap.as_u64() != Some(OMNI_VIDEOS),
            "Omni already takes {OMNI_VIDEOS} videos; pick another probe value"
        );
        *cap = OMNI_VIDEOS.into();
        let models = caps["models"]
            .as_array_mut()
            .context("capabilities.json has no models")?;
        let v5 = models
            .iter_mut()
            .find(|m| m["model"] == "v5")
            .context("capabilities.json has no v5 row")?;
        let ratios = v5["aspect_ratios"]["values"]
            .as_array_mut()
            .context("v5 has no aspect_ratios.values")?;
        ensure!(
            !ratios.iter().any(|r| r == "2:3"),
            "v5 already allows 2:3; pick another probe value"
        );
        ratios.push("2:3".into());
        let mut row = v5.clone();
        row["model"] = MODEL.into();
        row["durations"]["values"] = json!(DURATIONS);
        row["render_factor"] = RENDER_FACTOR.into();
        models.push(row);
        Ok(())
    })?;
    edit(&spec.join("pricing.json"), |pricing| {
        let source = pricing["sources"]
            .as_object()
            .and_then(|s| s.keys().next().cloned())
            .context("pricing.json has no sources")?;
        pricing["per_second"]
            .as_array_mut()
            .context("pricing.json has no per_second")?
            .push(json!({
                "model": MODEL, "quality": "540p", "audio": false,
                "credits_per_second": CREDITS_PER_SECOND, "confidence": "unofficial", "source": source
            }));
        Ok(())
    })
}

fn edit(path: &Path, change: impl FnOnce(&mut Value) -> Result<()>) -> Result<()> {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path)?)
        .with_context(|| format!("reading {}", path.display()))?;
    change(&mut value)?;
    std::fs::write(path, serde_json::to_string_pretty(&value)?)?;
    Ok(())
}

fn write(dir: &Path, name: &str, value: &Value) -> Result<String> {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value)?)?;
    Ok(path.display().to_string())
}

/// Runs the `pixfuse` binary built from `spec`; its exit code and its JSON output.
fn pixfuse(root: &Path, spec: &Path, args: &[&str]) -> Result<(i32, Value)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out: Output = Command::new(cargo)
        .args(["run", "--locked", "--quiet", "-p", "pixfuse-cli", "--"])
        .args(args)
        .env("PIXFUSE_SPEC_DIR", spec)
        .current_dir(root)
        .output()
        .context("running pixfuse")?;
    let code = out.status.code().unwrap_or(-1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(value) = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
    else {
        bail!(
            "pixfuse {} printed no JSON (exit {code}):\n{stdout}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    Ok((code, value))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
