//! `pixfuse webhook serve`: receives the vendor's signed callbacks into the journal. A thin axum
//! adapter over [`pixfuse::webhook::Receiver`]: it takes the raw body as `Bytes` (verified before
//! any JSON is read), answers `ok` only once the event is durable, and records a heartbeat so
//! waiting `run`, `wait`, `resume` and `batch` processes on the same journal rely on callbacks.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::{Args, Subcommand};
use pixfuse::webhook::{Headers, MAX_BODY_BYTES, ReceiveError, Received, Receiver};
use serde_json::{Value, json};

use super::{Ctx, Failure};
use crate::connect::Settings;
use crate::exit::Exit;
use crate::net_args::NetArgs;

/// Receive the vendor's webhook callbacks.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    #[command(subcommand)]
    pub action: WebhookAction,
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    Serve(ServeArgs),
}

/// Receive signed callbacks until Ctrl-C: each verified one is recorded in the journal before
/// it is answered `ok`, and ends its job there; waiting processes on the journal learn of it
/// within about 100 ms and poll the API only every 60 s meanwhile.
///
/// The secret comes from PIXFUSE_WEBHOOK_SECRET or `webhook_secret` in the config file (never
/// the command line). Answers: 200 `ok`; 401 bad signature or stale timestamp; 409 a replayed
/// nonce; 400 a malformed body; 413 a body over 1 MiB; 503 the journal cannot record it (the
/// vendor retries).
#[derive(Debug, Args)]
#[command(
    after_help = "Point the account's webhook (the vendor's console) at a public https URL \
that forwards to this address: a reverse proxy (nginx, Caddy) or a tunnel (cloudflared, ngrok).

Examples:
  PIXFUSE_WEBHOOK_SECRET=… pixfuse webhook serve --listen 127.0.0.1:8788
  pixfuse webhook serve --download --json      # also fetch each finished video"
)]
pub struct ServeArgs {
    /// Where to listen (the proxy or tunnel forwards the vendor's POSTs here; port 0: any free
    /// port, printed at start).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8788")]
    pub listen: SocketAddr,
    /// Also download each video a callback ends to its job's output, as `pixfuse resume`
    /// would (needs the API key). Jobs a running process drives are left to it.
    #[arg(long)]
    pub download: bool,
}

/// What the handler shares.
struct Shared {
    receiver: Receiver,
    download: bool,
    json: bool,
}

pub fn run(ctx: &Ctx, net: &NetArgs, args: &WebhookArgs) -> Result<Exit, Failure> {
    let WebhookAction::Serve(args) = &args.action;
    let settings = Settings::resolve(net)?;
    let secret = settings.webhook_secret()?;
    // A client (and so a key) only when something needs the API: downloads, or the sandbox's
    // origin, which only the emulator knows.
    let (receiver, backing) = if args.download || settings.sandbox() {
        let session = settings.session()?;
        let receiver = Receiver::for_client(&session.client, secret)?;
        (receiver, Backing::Session(session))
    } else {
        let journal = settings.open_journal()?;
        let receiver = Receiver::new(&journal, settings.origin(), secret)?;
        (receiver, Backing::Runtime(crate::connect::runtime()?))
    };
    let rt = backing.runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .map_err(|e| {
            Failure::usage(format!(
                "cannot listen on {}: {e} (pick another --listen address or port)",
                args.listen
            ))
        })?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        receiver,
        download: args.download,
        json: ctx.json,
    });
    rt.block_on(shared.receiver.heartbeat(&addr.to_string()))?;
    announce(ctx, &shared.receiver, addr, args.download)?;
    let app = axum::Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::clone(&shared));
    let serve = {
        let shared = Arc::clone(&shared);
        async move {
            let beats = async {
                let mut every = tokio::time::interval(pixfuse::webhook::HEARTBEAT_EVERY);
                loop {
                    every.tick().await;
                    if let Err(e) = shared.receiver.heartbeat(&addr.to_string()).await {
                        tracing::warn!(error = %e, "cannot record the receiver's heartbeat");
                    }
                }
            };
            tokio::select! {
                served = axum::serve(listener, app) => served,
                () = beats => Ok(()),
            }
        }
    };
    let served = crate::interrupt::run(rt, serve);
    // However it stopped, waiting processes should poll as before at once.
    let _ = rt.block_on(shared.receiver.stop());
    match served {
        Ok(Ok(())) | Err(_) => Ok(Exit::Success),
        Ok(Err(e)) => Err(Failure {
            exit: Exit::Network,
            message: format!("the webhook receiver stopped: {e}"),
        }),
    }
}

/// What the receiver runs on: a whole session (client, runtime, maybe the sandbox) or a bare
/// runtime when only the journal is needed.
enum Backing {
    Session(crate::connect::Session),
    Runtime(tokio::runtime::Runtime),
}

impl Backing {
    fn runtime(&self) -> &tokio::runtime::Runtime {
        match self {
            Backing::Session(session) => &session.rt,
            Backing::Runtime(rt) => rt,
        }
    }
}

fn announce(
    ctx: &Ctx,
    receiver: &Receiver,
    addr: SocketAddr,
    download: bool,
) -> Result<(), Failure> {
    if ctx.json {
        ctx.print_json(&json!({
            "listening": format!("http://{addr}"),
            "origin": receiver.origin(),
            "journal": receiver.journal_location(),
            "download": download,
        }))?;
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pixfuse webhook receiver listening on {} for {}",
        ctx.style.bold(&format!("http://{addr}")),
        receiver.origin()
    )?;
    writeln!(out, "journal: {}", receiver.journal_location())?;
    writeln!(
        out,
        "Point the account's webhook at a public URL that forwards here. Press Ctrl-C to stop."
    )?;
    out.flush()?;
    Ok(())
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if method != Method::POST {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "webhook callbacks are POSTed\n",
        )
            .into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => {
            let status = rejection.status();
            shared.log(&json!({
                "event": "callback",
                "result": "rejected",
                "http_status": status.as_u16(),
                "reason": format!("the body was not read: {}", rejection.body_text()),
            }));
            return plain(status, "rejected");
        }
    };
    let pairs = headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()));
    let received = shared
        .receiver
        .receive(&Headers::from_pairs(pairs), &body)
        .await;
    match received {
        Ok(received) => {
            shared.log(&outcome(&received));
            if let Received::Recorded {
                job: Some(job),
                moved: true,
                event,
            } = &received
                && shared.download
                && event.status == pixfuse::JobStatus::Succeeded
            {
                download(Arc::clone(&shared), job.id, job.output_path.is_some());
            }
            plain(StatusCode::OK, "ok")
        }
        Err(e) => {
            let status =
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            shared.log(&json!({
                "event": "callback",
                "result": "rejected",
                "http_status": status.as_u16(),
                "reason": e.to_string(),
            }));
            plain(status, rejected_word(&e))
        }
    }
}

/// The answer's body says only which kind of refusal it is: the precise check that failed is
/// logged here, not told to whoever sent the request.
fn rejected_word(e: &ReceiveError) -> &'static str {
    match e {
        ReceiveError::Rejected(e) => match e.rejection() {
            pixfuse::webhook::Rejection::Unauthenticated => "unauthenticated",
            pixfuse::webhook::Rejection::Replayed => "replayed",
            pixfuse::webhook::Rejection::Malformed => "malformed",
            pixfuse::webhook::Rejection::TooLarge => "too large",
            _ => "unavailable",
        },
        _ => "unavailable, retry later",
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

fn outcome(received: &Received) -> Value {
    let event = received.event();
    let (result, moved) = match received {
        Received::Recorded { moved, .. } => ("recorded", *moved),
        _ => ("duplicate", false),
    };
    json!({
        "event": "callback",
        "result": result,
        "http_status": 200,
        "video_id": event.video_id.to_string(),
        "video_status": event.status,
        "job_id": received.job().map(|j| j.id),
        "ended_job": moved,
        "signed_as": event.delivery.signed_as.as_str(),
        "trace_id": event.delivery.trace_id,
    })
}

/// Downloads job `job_id`'s video in the background (the callback is answered meanwhile).
fn download(shared: Arc<Shared>, job_id: i64, has_output: bool) {
    if !has_output {
        shared.log(&json!({
            "event": "download",
            "job_id": job_id,
            "result": "skipped",
            "reason": "the job has no output file (submitted without -o); `pixfuse download` fetches it",
        }));
        return;
    }
    tokio::spawn(async move {
        let line = match shared.receiver.download(job_id, |_| {}).await {
            Ok(done) => json!({
                "event": "download",
                "job_id": job_id,
                "result": "downloaded",
                "output": done.output,
            }),
            Err(e) => json!({
                "event": "download",
                "job_id": job_id,
                "result": "failed",
                "reason": e.to_string(),
            }),
        };
        shared.log(&line);
    });
}

impl Shared {
    /// One line per event: JSON with `--json`, else a sentence.
    fn log(&self, line: &Value) {
        let text = if self.json {
            crate::json_out::stamped(line.clone()).to_string()
        } else {
            human(line)
        };
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }
}

fn human(line: &Value) -> String {
    let field = |name: &str| line[name].as_str().unwrap_or_default().to_owned();
    match (field("event").as_str(), field("result").as_str()) {
        ("callback", "rejected") => format!(
            "callback refused ({}): {}",
            line["http_status"],
            field("reason")
        ),
        ("callback", result) => {
            let job = match line["job_id"].as_i64() {
                Some(id) if line["ended_job"] == true => format!("job {id} ended here"),
                Some(id) => format!("job {id}"),
                None => "not a journaled job".to_owned(),
            };
            format!(
                "callback: video {} {} ({result}; {job})",
                field("video_id"),
                field("video_status")
            )
        }
        (_, "downloaded") => format!("job {}: downloaded to {}", line["job_id"], field("output")),
        (_, result) => format!(
            "job {}: download {result}: {}",
            line["job_id"],
            field("reason")
        ),
    }
}
