//! `pixfuse mcp` in process: an rmcp client drives the server's tools over a duplex pipe,
//! against the sandbox — the tools and their schemas, validation, an idempotent generate that
//! bills once, wait, download (byte-identical), a wait that times out resumably, the budget
//! guard, errors as tool results, the resources and the prompt.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use pixfuse_cli::mcp::{McpOptions, PixfuseMcp};
use pixfuse_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, ProgressNotificationParam,
    ReadResourceRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};

/// The video every finished sandbox job serves.
static SANDBOX_VIDEO: &[u8] = include_bytes!("../../../sandbox/assets/sample.mp4");

struct Harness<H: ClientHandler = ()> {
    sandbox: RunningSandbox,
    client: RunningService<RoleClient, H>,
    dir: tempfile::TempDir,
}

async fn harness(config: SandboxConfig, budget: Option<f64>) -> Harness {
    harness_with(config, budget, ()).await
}

/// A client that keeps the progress notifications it receives.
#[derive(Clone, Default)]
struct Recorder {
    notes: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.notes.lock().unwrap().push(params);
    }
}

async fn harness_with<H: ClientHandler>(
    config: SandboxConfig,
    budget: Option<f64>,
    handler: H,
) -> Harness<H> {
    let sandbox = Sandbox::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = sandbox_client(
        &sandbox,
        &dir.path().join("state"),
        Duration::from_millis(10),
    );
    let server = PixfuseMcp::new(
        client.with_deadline(None),
        McpOptions::new(budget, Some(sandbox.demo_key())),
    );
    let (server_end, client_end) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_end).await {
            let _ = running.waiting().await;
        }
    });
    let client = handler.serve(client_end).await.unwrap();
    Harness {
        sandbox,
        client,
        dir,
    }
}

impl<H: ClientHandler> Harness<H> {
    /// Calls `tool`: (structured answer, is_error).
    async fn call(&self, tool: &'static str, args: Value) -> (Value, bool) {
        let params = CallToolRequestParams::new(tool)
            .with_arguments(args.as_object().cloned().unwrap_or_default());
        self.call_with(params).await
    }

    async fn call_with(&self, params: CallToolRequestParams) -> (Value, bool) {
        let result = tokio::time::timeout(Duration::from_secs(60), self.client.call_tool(params))
            .await
            .expect("a tool call took over a minute")
            .unwrap();
        let value = result.structured_content.clone().unwrap_or(Value::Null);
        // Whatever the tool, the key never comes back.
        assert!(
            !format!("{result:?}").contains(pixfuse_sandbox::DEMO_KEY),
            "{result:?}"
        );
        (value, result.is_error == Some(true))
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tool_is_listed_with_its_schema_and_the_resources_and_prompt_read() {
    let h = harness(SandboxConfig::for_tests(), None).await;
    let tools = h.client.list_all_tools().await.unwrap();
    let names: BTreeSet<String> = tools.iter().map(|t| t.name.to_string()).collect();
    let expected: BTreeSet<String> = [
        "models",
        "validate",
        "estimate",
        "upload_image",
        "upload_video",
        "balance",
        "generate",
        "status",
        "wait",
        "download",
        "resume",
        "jobs",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, expected);
    let schema = |name: &str| -> Value {
        let tool = tools.iter().find(|t| t.name == name).unwrap();
        assert!(tool.description.as_deref().is_some_and(|d| d.len() > 20));
        Value::Object((*tool.input_schema).clone())
    };
    let generate = schema("generate");
    for field in [
        "request",
        "job_file",
        "output",
        "idempotency_key",
        "new",
        "timeout_s",
    ] {
        assert!(
            generate["properties"].get(field).is_some(),
            "generate has no {field}: {generate}"
        );
    }
    let wait = schema("wait");
    assert!(
        wait["properties"]["video_id"]
            .to_string()
            .contains("string"),
        "{wait}"
    );
    assert!(schema("download")["required"].to_string().contains("path"));

    let resources = h.client.list_all_resources().await.unwrap();
    assert_eq!(resources.len(), 2);
    let diagnostics = h
        .client
        .read_resource(ReadResourceRequestParams::new(
            "pixfuse://docs/diagnostics.md",
        ))
        .await
        .unwrap();
    assert!(format!("{diagnostics:?}").contains("unknown_model"));
    let mut args = serde_json::Map::new();
    args.insert("images".into(), json!("/a/dog.png, /a/park.png"));
    args.insert("idea".into(), json!("the dog runs in the park"));
    let prompt = h
        .client
        .get_prompt(GetPromptRequestParams::new("fusion_video").with_arguments(args))
        .await
        .unwrap();
    assert!(format!("{prompt:?}").contains("/a/park.png"));

    let (models, is_error) = h.call("models", json!({})).await;
    assert!(!is_error);
    assert!(models["models"].as_array().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_returns_every_diagnostic_of_a_bad_request() {
    let h = harness(SandboxConfig::for_tests(), None).await;
    let bad = json!({
        "image_references": [{"type": "subject", "img_id": 7, "ref_name": "dog"}],
        "prompt": "@dgo runs",
        "model": "v5",
        "duration": "5",
        "quality": "540p",
        "aspect_ratio": "16:9",
    });
    let (report, is_error) = h.call("validate", json!({ "request": bad })).await;
    assert!(!is_error, "{report}");
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().unwrap();
    assert!(!errors.is_empty(), "{report}");
    for d in errors {
        for field in ["code", "severity", "path", "message"] {
            assert!(d.get(field).is_some(), "{field} missing in {d}");
        }
    }
    assert!(errors.iter().any(|d| d["path"] == "/duration"), "{report}");
    // An unknown mention is located in the prompt and a fix is suggested.
    let all: Vec<&Value> = errors
        .iter()
        .chain(report["warnings"].as_array().unwrap())
        .collect();
    assert!(
        all.iter()
            .any(|d| d.get("span").is_some() && d.get("suggestion").is_some()),
        "{report}"
    );

    // generate refuses it before anything is sent, with the same diagnostics.
    let (refusal, is_error) = h.call("generate", json!({ "request": bad })).await;
    assert!(is_error);
    assert_eq!(refusal["class"], "invalid");
    assert!(refusal["errors"].as_array().is_some_and(|e| !e.is_empty()));
    assert_eq!(h.sandbox.stats().submits_received, 0);

    // Tool errors, not protocol errors, for arguments that make no sense.
    let (neither, is_error) = h.call("estimate", json!({})).await;
    assert!(is_error);
    assert_eq!(neither["class"], "usage");
    let (bad_id, is_error) = h.call("status", json!({"video_id": "12x"})).await;
    assert!(is_error);
    assert_eq!(bad_id["class"], "usage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_wait_download_bills_once_and_gives_the_video_byte_for_byte() {
    let h = harness(SandboxConfig::for_tests(), None).await;
    let job = write_job(h.dir.path());
    let args = json!({ "job_file": job.to_string_lossy() });

    let (estimate, _) = h.call("estimate", args.clone()).await;
    assert_eq!(estimate["credits"], 45.0);
    let (first, is_error) = h.call("generate", args.clone()).await;
    assert!(!is_error, "{first}");
    assert_eq!(first["status"], "submitted");
    assert_eq!(first["new_video"], true);
    // Whole credits, typed as integers beside `credits`.
    assert_eq!(first["estimate"]["credits"], json!(45), "{first}");
    let video_id = first["video_id"].as_str().unwrap().to_owned();
    // The sandbox's ids exceed 2^53: only a string carries them whole.
    assert!(video_id.parse::<u64>().unwrap() > 1 << 53);

    // The same call again: the same job, nothing billed.
    let (again, is_error) = h.call("generate", args.clone()).await;
    assert!(!is_error, "{again}");
    assert_eq!(again["job_id"], first["job_id"]);
    assert_eq!(again["video_id"], first["video_id"]);
    assert_eq!(again["trace_id"], first["trace_id"]);
    assert_eq!(again["new_video"], false);
    assert_eq!(h.sandbox.stats().billable_jobs, 1);

    let (ready, is_error) = h
        .call("wait", json!({ "video_id": video_id, "timeout_s": 30 }))
        .await;
    assert!(!is_error, "{ready}");
    assert_eq!(ready["video_status"], "succeeded");
    let out = h.path("clip.mp4");
    let (done, is_error) = h
        .call("download", json!({ "video_id": video_id, "path": out }))
        .await;
    assert!(!is_error, "{done}");
    assert_eq!(done["output"], out.as_str());
    assert_eq!(std::fs::read(&out).unwrap(), SANDBOX_VIDEO);
    let sidecar: Value =
        serde_json::from_slice(&std::fs::read(format!("{out}.json")).unwrap()).unwrap();
    assert_eq!(sidecar["trace_id"], first["trace_id"]);

    // An idempotency key names the job whatever else changes.
    let keyed = json!({ "job_file": job.to_string_lossy(), "idempotency_key": "agent-call-7" });
    let (k1, _) = h.call("generate", keyed).await;
    let mut changed = json!({
        "request": serde_json::from_slice::<Value>(&std::fs::read(&job).unwrap()).unwrap(),
        "idempotency_key": "agent-call-7",
    });
    changed["request"]["prompt"] = json!("@dog sleeps in @park ");
    changed["request"]["image_references"][0]["image"] = json!(h.path("dog.png"));
    changed["request"]["image_references"][1]["image"] = json!(h.path("park.png"));
    let (k2, is_error) = h.call("generate", changed).await;
    assert!(!is_error, "{k2}");
    assert_eq!(k2["job_id"], k1["job_id"]);
    assert_ne!(k1["job_id"], first["job_id"]);
    assert_eq!(h.sandbox.stats().billable_jobs, 2);

    let (jobs, _) = h.call("jobs", json!({})).await;
    assert_eq!(jobs["total"], 2);
    let (balance, is_error) = h.call("balance", json!({})).await;
    assert!(!is_error, "{balance}");
    assert!(balance["total"].as_i64().is_some());
    let (upload, is_error) = h
        .call("upload_image", json!({ "image": h.path("dog.png") }))
        .await;
    assert!(!is_error, "{upload}");
    assert_eq!(upload["reused"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_that_times_out_says_call_again_and_resume_finishes_the_job() {
    // A minute-long generation: the wait gives up long before.
    let config = SandboxConfig {
        generation_time: Duration::from_secs(60),
        ..SandboxConfig::for_tests()
    };
    let h = harness(config, None).await;
    let job = write_job(h.dir.path());
    let (first, is_error) = h
        .call("generate", json!({ "job_file": job.to_string_lossy() }))
        .await;
    assert!(!is_error, "{first}");
    let (pending, is_error) = h
        .call("wait", json!({ "job_id": first["job_id"], "timeout_s": 1 }))
        .await;
    assert!(!is_error, "a timeout must not read as a failure: {pending}");
    assert_eq!(pending["status"], "running");
    assert_eq!(pending["video_status"], "generating");
    assert_eq!(pending["video_id"], first["video_id"]);
    assert_eq!(pending["job_id"], first["job_id"]);
    assert!(
        pending["next"]
            .as_str()
            .unwrap()
            .contains("call wait again")
    );
    let (pending, is_error) = h
        .call(
            "resume",
            json!({ "job_id": first["job_id"], "timeout_s": 1 }),
        )
        .await;
    assert!(!is_error, "{pending}");
    assert_eq!(pending["status"], "running");
    assert_eq!(pending["video_status"], "generating");
    assert_eq!(h.sandbox.stats().billable_jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_refuses_a_video_that_does_not_fit_before_anything_is_sent() {
    let h = harness(SandboxConfig::for_tests(), Some(50.0)).await;
    let job = write_job(h.dir.path());
    let (first, is_error) = h
        .call("generate", json!({ "job_file": job.to_string_lossy() }))
        .await;
    assert!(!is_error, "{first}");
    assert_eq!(first["budget"]["remaining"], json!(5), "{first}");
    // The same call is the same job: the guard lets it through.
    let (again, is_error) = h
        .call("generate", json!({ "job_file": job.to_string_lossy() }))
        .await;
    assert!(!is_error, "{again}");
    // A new video does not fit.
    let (refused, is_error) = h
        .call(
            "generate",
            json!({ "job_file": job.to_string_lossy(), "new": true }),
        )
        .await;
    assert!(is_error);
    assert_eq!(refused["class"], "budget");
    assert_eq!(refused["estimate"]["credits"], json!(45), "{refused}");
    assert_eq!(h.sandbox.stats().billable_jobs, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_sends_progress_notifications_to_a_caller_that_asks() {
    let config = SandboxConfig {
        generation_time: Duration::from_millis(300),
        ..SandboxConfig::for_tests()
    };
    let recorder = Recorder::default();
    let h = harness_with(config, None, recorder.clone()).await;
    let job = write_job(h.dir.path());
    let (first, _) = h
        .call("generate", json!({ "job_file": job.to_string_lossy() }))
        .await;
    // rmcp's client puts a progress token on every request it sends.
    let params = CallToolRequestParams::new("wait").with_arguments(
        json!({ "video_id": first["video_id"], "timeout_s": 30 })
            .as_object()
            .cloned()
            .unwrap(),
    );
    let (ready, is_error) = h.call_with(params).await;
    assert!(!is_error, "{ready}");
    assert_eq!(ready["video_status"], "succeeded");
    let started = std::time::Instant::now();
    while recorder.notes.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let notes = recorder.notes.lock().unwrap().clone();
    assert!(!notes.is_empty(), "no progress notification");
    assert!(
        notes.iter().any(|n| n
            .message
            .as_deref()
            .is_some_and(|m| m.contains("generating"))),
        "{notes:?}"
    );
    // generate's notes, then wait's (each under its request's token), progress rising in each.
    let wait_token = notes.last().unwrap().progress_token.clone();
    let waits: Vec<_> = notes
        .iter()
        .filter(|n| n.progress_token == wait_token)
        .collect();
    assert!(
        waits
            .iter()
            .any(|n| n.message.as_deref().is_some_and(|m| m.contains("polls")))
    );
    assert!(waits.windows(2).all(|w| w[0].progress < w[1].progress));
    assert!(notes.iter().any(|n| {
        n.message
            .as_deref()
            .is_some_and(|m| m.contains("submitted"))
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_refusal_comes_back_as_a_tool_error_with_its_class_errcode_and_trace_id() {
    let config = SandboxConfig {
        starting_credits: 10,
        ..SandboxConfig::for_tests()
    };
    let h = harness(config, None).await;
    let job = write_job(h.dir.path());
    let (refused, is_error) = h
        .call("generate", json!({ "job_file": job.to_string_lossy() }))
        .await;
    assert!(is_error, "{refused}");
    assert_eq!(refused["class"], "credits", "{refused}");
    assert!(refused["err_code"].is_i64(), "{refused}");
    assert!(refused["err_msg"].is_string(), "{refused}");
    assert!(refused["trace_id"].is_string(), "{refused}");
    assert!(refused["next"].as_str().unwrap().contains("credits"));
    assert_eq!(h.sandbox.stats().billable_jobs, 0);
}

fn video_fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/video")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omni_videos_upload_once_and_a_job_names_them_by_local_path() {
    let h = harness(SandboxConfig::for_tests(), None).await;
    std::fs::copy(video_fixture("clip-2s.mp4"), h.dir.path().join("dance.mp4")).unwrap();
    std::fs::copy(
        video_fixture("not-a-video.mp4"),
        h.dir.path().join("notes.mp4"),
    )
    .unwrap();
    std::fs::write(h.dir.path().join("dog.png"), tiny_png(3)).unwrap();

    // The same object as `upload --video --json` gives.
    let (up, is_error) = h
        .call("upload_video", json!({ "video": h.path("dance.mp4") }))
        .await;
    assert!(!is_error, "{up}");
    assert_eq!(up["reused"], false);
    assert_eq!(up["format"], "mp4", "{up}");
    assert_eq!(up["duration_ms"], 2000, "{up}");
    let media_id = up["media_id"].as_str().unwrap().to_owned();
    assert!(media_id.parse::<u64>().is_ok());
    assert_eq!(h.sandbox.stats().video_uploads, 1);

    // A text file named .mp4: a tool error through the shared renderer, nothing sent.
    let (refused, is_error) = h
        .call("upload_video", json!({ "video": h.path("notes.mp4") }))
        .await;
    assert!(is_error, "{refused}");
    assert!(refused.to_string().contains("not a video"), "{refused}");
    assert_eq!(h.sandbox.stats().media_upload_requests, 1);

    // An Omni job naming the video by its local path (relative to the job file): resolved
    // like `run`, through the journal's cache, so the video is not sent again.
    let job = json!({
        "model": "v6", "prompt": "@dog dances like @video1 ", "quality": "540p",
        "duration": 0, "aspect_ratio": "16:9", "reference_mode": "omni",
        "image_references": [{"type": "subject", "image": "dog.png", "ref_name": "dog"}],
        "video_references": [{"ref_name": "video1", "video": "dance.mp4"}],
    });
    let file = h.dir.path().join("omni.json");
    std::fs::write(&file, job.to_string()).unwrap();
    let args = json!({ "job_file": file.to_string_lossy() });
    let (checked, is_error) = h.call("validate", args.clone()).await;
    assert!(!is_error, "{checked}");
    let (first, is_error) = h.call("generate", args).await;
    assert!(!is_error, "{first}");
    assert_eq!(first["status"], "submitted", "{first}");
    assert_eq!(h.sandbox.stats().video_uploads, 1);
    assert_eq!(h.sandbox.stats().billable_jobs, 1);
    let (done, is_error) = h
        .call(
            "wait",
            json!({ "video_id": first["video_id"], "timeout_s": 30 }),
        )
        .await;
    assert!(!is_error, "{done}");
}
