//! The protocol side: rmcp's tool router over [`Service`]'s calls, the resources, the prompt,
//! and the stdio loop. Every answer leaves through [`PixfuseMcp::answer`], which scrubs the key
//! and shapes it as a tool result (structured content, plus the same JSON as text).

use std::sync::Arc;

use pixfuse::Client;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, GetPromptResult, Implementation, ListResourcesResult, PaginatedRequestParams,
    ProgressNotificationParam, PromptMessage, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, prompt, prompt_handler,
    prompt_router, tool, tool_handler, tool_router,
};
use secrecy::SecretString;
use tokio::task::JoinHandle;

use super::answer::Answer;
use super::budget::Spending;
use super::catalog;
use super::jobs::{Progress, Service};
use super::offline;
use super::params::{
    CheckArgs, DownloadArgs, FusionPromptArgs, GenerateArgs, JobsArgs, ResumeArgs, StatusArgs,
    UploadArgs, UploadVideoArgs, WaitArgs,
};

/// How the server is set up.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct McpOptions {
    /// The most credits this server may spend on new videos.
    pub budget: Option<f64>,
    /// The API key, scrubbed from every answer.
    pub key: Option<SecretString>,
}

impl McpOptions {
    pub fn new(budget: Option<f64>, key: Option<SecretString>) -> Self {
        McpOptions { budget, key }
    }
}

const INSTRUCTIONS: &str = "pixfuse makes PixVerse Fusion videos (several images, named in a \
prompt as @ref_name, into one video). Check a request with validate (offline, free) and its cost \
with estimate before generate. generate is idempotent: the same arguments (or the same \
idempotency_key) return the same job and bill nothing more; new: true makes another, separately \
billed video. wait returns \"generating\" when its timeout_s passes: call wait again, never \
generate again. Errors carry a class (invalid, auth, credits, moderation, generation_failed, \
still_running, concurrency, network, usage, budget) and a next field saying what to do. Video ids \
are strings.";

/// The pixfuse MCP server.
#[derive(Clone)]
pub struct PixfuseMcp {
    service: Arc<Service>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl std::fmt::Debug for PixfuseMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PixfuseMcp")
            .field("origin", &self.service.client.as_ref().map(Client::origin))
            .finish_non_exhaustive()
    }
}

impl PixfuseMcp {
    /// A server whose tools go through `client` (build it without an overall deadline: each
    /// call bounds itself).
    pub fn new(client: Client, options: McpOptions) -> Self {
        Self::with(Ok(client), options)
    }

    /// A server without a client (no API key was found: `reason` says how to give one). The
    /// offline tools work; the others answer with the `auth` class and that fix.
    pub fn without_key(reason: String, options: McpOptions) -> Self {
        Self::with(Err(reason), options)
    }

    fn with(client: Result<Client, String>, options: McpOptions) -> Self {
        PixfuseMcp {
            service: Arc::new(Service {
                client,
                spending: Spending::new(options.budget),
                key: options.key,
            }),
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        }
    }

    /// Serves on standard input and output until the host closes them.
    pub async fn serve_stdio(self) -> Result<(), String> {
        let running = self
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("cannot start the MCP session: {e}"))?;
        running
            .waiting()
            .await
            .map_err(|e| format!("the MCP session ended badly: {e}"))?;
        Ok(())
    }

    fn answer(&self, answer: Answer) -> Result<CallToolResult, McpError> {
        let answer = answer.scrubbed(self.service.key.as_ref());
        Ok(if answer.is_error {
            CallToolResult::structured_error(answer.value)
        } else {
            CallToolResult::structured(answer.value)
        })
    }
}

/// Forwards a call's progress lines as MCP progress notifications, when the caller sent a
/// progress token. Await the handle after the call (its sender dropped) so every notification
/// precedes the result.
fn progress(ctx: &RequestContext<RoleServer>) -> (Progress, Option<JoinHandle<()>>) {
    let Some(token) = ctx.meta.get_progress_token() else {
        return (None, None);
    };
    let (sink, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let peer = ctx.peer.clone();
    let task = tokio::spawn(async move {
        let mut step = 0.0;
        while let Some(line) = lines.recv().await {
            step += 1.0;
            let note = ProgressNotificationParam::new(token.clone(), step).with_message(line);
            if let Err(e) = peer.notify_progress(note).await {
                tracing::debug!(error = %e, "cannot send a progress notification");
            }
        }
    });
    (Some(sink), Some(task))
}

async fn flushed(task: Option<JoinHandle<()>>) {
    if let Some(task) = task {
        let _ = task.await;
    }
}

#[tool_router]
impl PixfuseMcp {
    #[tool(
        description = "What each Fusion model accepts: image count, durations, qualities (and the ones refused at some durations), aspect ratios, audio, prompt length. Offline.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn models(&self) -> Result<CallToolResult, McpError> {
        self.answer(offline::models())
    }

    #[tool(
        description = "Check a Fusion request offline, like a compiler: every problem at once, each with code, severity, path (a JSON pointer), message, suggestion and span (bytes of the prompt). valid is true when nothing blocks sending. Free; nothing is sent.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn validate(
        &self,
        Parameters(args): Parameters<CheckArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(offline::validate(&args))
    }

    #[tool(
        description = "What a valid request will cost: credits, USD and confidence (official, inferred or unofficial). Offline.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn estimate(
        &self,
        Parameters(args): Parameters<CheckArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(offline::estimate(&args))
    }

    #[tool(
        description = "Upload one image (a local path or an https URL) and get its img_id. The same file content is uploaded only once (reused: true).",
        annotations(idempotent_hint = true)
    )]
    async fn upload_image(
        &self,
        Parameters(args): Parameters<UploadArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(self.service.upload_image(args).await)
    }

    #[tool(
        description = "Upload one reference video for v6 Omni mode (a local mp4/mov/webm path or an https URL) and get its media_id, for video_references[].video_media_id. Checked locally first (length, size, dimensions as warnings; a file that is no video is refused before anything is sent). The same content is uploaded only once (reused: true).",
        annotations(idempotent_hint = true)
    )]
    async fn upload_video(
        &self,
        Parameters(args): Parameters<UploadVideoArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(self.service.upload_video(args).await)
    }

    #[tool(
        description = "Credits left on the account (monthly plus package).",
        annotations(read_only_hint = true)
    )]
    async fn balance(&self) -> Result<CallToolResult, McpError> {
        self.answer(self.service.balance().await)
    }

    #[tool(
        description = "Make a video: validate, upload the images, journal the job, submit. Returns job_id, video_id, trace_id and the estimate without waiting (then call wait). Idempotent: the same arguments, or the same idempotency_key, return the same job and bill nothing more; new: true makes a new, separately billed video. Refused with the estimate when it would exceed the server's --budget.",
        annotations(destructive_hint = false, idempotent_hint = true)
    )]
    async fn generate(
        &self,
        Parameters(args): Parameters<GenerateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let (sink, task) = progress(&ctx);
        let answer = self.service.generate(args, sink).await;
        flushed(task).await;
        self.answer(answer)
    }

    #[tool(
        description = "One status poll of a video by its id.",
        annotations(read_only_hint = true)
    )]
    async fn status(
        &self,
        Parameters(args): Parameters<StatusArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(self.service.status(args).await)
    }

    #[tool(
        description = "Wait until a video is ready (status succeeded, with its url), at most timeout_s seconds (default 120), sending progress notifications. If it is still generating then, the answer is status \"generating\" (not an error): call wait again; never generate again.",
        annotations(read_only_hint = true, idempotent_hint = true)
    )]
    async fn wait(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let (sink, task) = progress(&ctx);
        let answer = self.service.wait(args, sink).await;
        flushed(task).await;
        self.answer(answer)
    }

    #[tool(
        description = "Download a finished video to a path (atomically: never a partial file there), with a sidecar <path>.json of the job's details. A cut download is continued by the same call.",
        annotations(idempotent_hint = true)
    )]
    async fn download(
        &self,
        Parameters(args): Parameters<DownloadArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(self.service.download(args).await)
    }

    #[tool(
        description = "Continue a journaled job (by job_id) from wherever it stopped, to its output: an unanswered submit is resent with the same trace id (never billed twice), a submitted job is waited for and downloaded.",
        annotations(idempotent_hint = true)
    )]
    async fn resume(
        &self,
        Parameters(args): Parameters<ResumeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, McpError> {
        let (sink, task) = progress(&ctx);
        let answer = self.service.resume(args, sink).await;
        flushed(task).await;
        self.answer(answer)
    }

    #[tool(
        description = "The journal of jobs, newest first: state, video id, trace id, output, credits, last error, and whether it needs resume.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn jobs(
        &self,
        Parameters(args): Parameters<JobsArgs>,
    ) -> Result<CallToolResult, McpError> {
        self.answer(self.service.jobs(args).await)
    }
}

#[prompt_router]
impl PixfuseMcp {
    /// Make a fusion video from these images: the safe sequence of tool calls.
    #[prompt(name = "fusion_video")]
    async fn fusion_video(
        &self,
        Parameters(args): Parameters<FusionPromptArgs>,
    ) -> Result<GetPromptResult, McpError> {
        let text = catalog::fusion_prompt(&args);
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Make a PixVerse Fusion video from these images"),
        )
    }
}

// The routers built once, in `new` (the macros' default builds them on every request).
#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for PixfuseMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("pixfuse", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let resources = catalog::RESOURCES
            .iter()
            .map(|(uri, name, description, mime)| {
                Resource::new(*uri, *name)
                    .with_description(*description)
                    .with_mime_type(*mime)
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri;
        let Some(text) = catalog::read(&uri) else {
            return Err(McpError::resource_not_found(
                format!("no resource {uri}; list_resources names them"),
                None,
            ));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
    }
}
